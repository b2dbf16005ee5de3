//! The consistent point of a logical backup: one binary log position that
//! every worker's snapshot sits at.
//!
//! A control connection blocks commits for an instant (MariaDB `BACKUP
//! STAGE START` + `BACKUP STAGE BLOCK_COMMIT`; elsewhere `FLUSH TABLES WITH
//! READ LOCK`, on MySQL 8+ after `LOCK INSTANCE FOR BACKUP`, which keeps
//! DDL out until the dump ends), every worker opens `START TRANSACTION WITH
//! CONSISTENT SNAPSHOT`, the control connection reads the GTID position and
//! binary log coordinates, and the block is released. On MariaDB each
//! worker's `binlog_snapshot_file/position` is checked against that point,
//! so a snapshot that slipped is an error, not a silent inconsistency.

use crate::manifest::Position;
use anyhow::{bail, Result};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::server::{GtidStyle, Server};
use std::time::Instant;

/// How commits are blocked while the point is read.
enum Block {
    /// MariaDB's `BACKUP STAGE BLOCK_COMMIT`: only commits wait.
    Stage,
    /// `FLUSH TABLES WITH READ LOCK`.
    ReadLock,
}

impl Block {
    /// Recorded in the manifest (`position.lock`).
    fn name(&self) -> &'static str {
        match self {
            Block::Stage => "BACKUP STAGE BLOCK_COMMIT",
            Block::ReadLock => "FLUSH TABLES WITH READ LOCK",
        }
    }

    fn release_sql(&self) -> &'static str {
        match self {
            Block::Stage => "BACKUP STAGE END",
            Block::ReadLock => "UNLOCK TABLES",
        }
    }
}

/// The point fixed.
pub struct Point {
    /// Its position, the block used and how long it was held.
    pub position: Position,
    /// `LOCK INSTANCE FOR BACKUP` is held on the control connection: DDL
    /// waits until [`Point::release`].
    instance_locked: bool,
}

impl Point {
    /// Lets DDL run again, once the dump is over.
    pub fn release(&self, control: &mut Conn) -> Result<()> {
        if self.instance_locked {
            control.run("letting DDL run again", "UNLOCK INSTANCE")?;
        }
        Ok(())
    }
}

/// `threads` sessions on `spec` ready to open their snapshots.
pub fn workers(spec: &ConnSpec, copts: &ConnectOptions, threads: usize) -> Result<Vec<Conn>> {
    (0..threads.max(1))
        .map(|_| {
            let mut c = conn::connect(spec, copts)?;
            c.run(
                "setting up a backup session",
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            )?;
            Ok(c)
        })
        .collect()
}

/// Blocks commits on `control`, opens a consistent snapshot on every
/// worker, reads the position, releases the block, and checks the
/// workers' snapshots against it where the server can tell. What the
/// server refused on the way (and a binary log that is off) goes to
/// `warn`.
pub fn fix(
    control: &mut Conn,
    server: &Server,
    workers: &mut [Conn],
    warn: &mut Vec<String>,
) -> Result<Point> {
    let lock_start = Instant::now();
    let (block, instance_locked) = block_commits(control, server, warn)?;
    let point = (|| -> Result<Position> {
        for w in workers.iter_mut() {
            w.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            )?;
        }
        Position::read(control, server, block.name())
    })();
    let unlock = control.run("releasing the commit block", block.release_sql());
    let mut position = point?;
    unlock?;
    position.lock_ms = lock_start.elapsed().as_millis() as u64;
    if !server.log_bin {
        warn.push(
            "the binary log is off: this backup has no position to roll forward from (no point-in-time recovery)"
                .into(),
        );
    } else if server.caps.gtid_style == GtidStyle::MariaDB {
        for w in workers.iter_mut() {
            let (f, p) = oxkit::snapshot::binlog_snapshot_position(w)?;
            if Some(&f) != position.binlog_file.as_ref() || p != position.binlog_pos {
                bail!(
                    "a worker's snapshot is not at the backup's position ({f}:{p:?}, expected {:?}:{:?}); retry",
                    position.binlog_file,
                    position.binlog_pos
                );
            }
        }
    }
    Ok(Point {
        position,
        instance_locked,
    })
}

/// Takes the commit block: `BACKUP STAGE BLOCK_COMMIT` where the server
/// has it and allows it, else `FLUSH TABLES WITH READ LOCK`, after `LOCK
/// INSTANCE FOR BACKUP` where there is one (returned: whether it is held).
fn block_commits(
    control: &mut Conn,
    server: &Server,
    warn: &mut Vec<String>,
) -> Result<(Block, bool)> {
    if server.caps.backup_stage {
        // BACKUP STAGE BLOCK_COMMIT blocks only commits (not running
        // queries, as FTWRL's table flush does); fall back to FTWRL when
        // the server refuses it.
        match control.run(
            "blocking commits for an instant",
            "BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT",
        ) {
            Ok(()) => return Ok((Block::Stage, false)),
            Err(e) => {
                let _ = control.run("ending the backup stage", "BACKUP STAGE END");
                warn.push(format!(
                    "BACKUP STAGE unavailable ({e}); used FLUSH TABLES WITH READ LOCK"
                ));
            }
        }
    }
    let mut instance_locked = false;
    if server.caps.lock_instance_for_backup {
        // MySQL 8+: DDL waits until the backup ends (DML goes on), as
        // MariaDB's BACKUP STAGE BLOCK_DDL. Taken before the commit
        // block, so a running DDL delays only the backup. Without
        // BACKUP_ADMIN the DDL check at the end still fails a backup
        // that DDL changed.
        if let Err(e) = control.run("blocking DDL for the backup", "LOCK INSTANCE FOR BACKUP") {
            warn.push(format!(
                "LOCK INSTANCE FOR BACKUP refused ({e}; it needs BACKUP_ADMIN): DDL during the \
                 dump is not blocked, only detected (it fails the backup)"
            ));
        } else {
            instance_locked = true;
        }
    }
    control.run("locking for an instant", "FLUSH TABLES WITH READ LOCK")?;
    Ok((Block::ReadLock, instance_locked))
}
