//! Consistent reads at one replication position on a source and its
//! replica, with no writes anywhere.
//!
//! [`open_pair`] stops replication on the replica (it is now at or behind
//! the source), opens a consistent snapshot on the source and reads its
//! exact position (MariaDB: `binlog_snapshot_file/position` of the snapshot
//! itself turned into a GTID with `BINLOG_GTID_POS`, no lock; MySQL: a brief
//! `FLUSH TABLES WITH READ LOCK` around the snapshot), lets the replica run
//! exactly to that position (`START SLAVE UNTIL master_gtid_pos`, MySQL
//! `SQL_AFTER_GTIDS`), opens a snapshot there and restarts replication,
//! always, also on error and cancellation. Replication pauses only while
//! the replica catches up to the snapshot position.
//!
//! ox-table-checksum's snapshot method does the same for many replicas at
//! once with these same pieces.

use crate::conn::Conn;
use crate::entry::Cancel;
use crate::server::{GtidStyle, Server};
use crate::sql::quote_str;
use crate::topology::replica_status;
use anyhow::{bail, Context as _, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `domain-server-seq` lists as domain → seq (MariaDB).
fn gtid_map(s: &str) -> BTreeMap<u32, u64> {
    s.split(',')
        .filter_map(|g| {
            let mut it = g.trim().split('-');
            let d = it.next()?.parse().ok()?;
            let _server = it.next()?;
            let n = it.next()?.parse().ok()?;
            Some((d, n))
        })
        .collect()
}

/// True when MariaDB GTID position `have` includes everything in `want`.
pub fn covers(have: &str, want: &str) -> bool {
    let h = gtid_map(have);
    gtid_map(want)
        .iter()
        .all(|(d, n)| h.get(d).is_some_and(|m| m >= n))
}

/// MariaDB: the binary log file and position of the consistent snapshot open
/// in `conn`'s transaction (`Binlog_snapshot_file/position`; the file is
/// empty when the binary log is off).
pub fn binlog_snapshot_position(conn: &mut Conn) -> Result<(String, Option<u64>)> {
    let rows: Vec<(String, String)> = conn.rows(
        "reading the snapshot's binlog position",
        "SHOW SESSION STATUS LIKE 'binlog_snapshot_%'",
    )?;
    let get = |k: &str| {
        rows.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok((
        get("Binlog_snapshot_file"),
        get("Binlog_snapshot_position").parse().ok(),
    ))
}

/// Opens a consistent snapshot on `conn` (ending any open transaction) and
/// returns its position as a GTID set.
pub fn source_snapshot(conn: &mut Conn, server: &Server) -> Result<String> {
    conn.run("ending the previous snapshot", "COMMIT")?;
    match server.caps.gtid_style {
        GtidStyle::MariaDB => {
            conn.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            )?;
            let (file, pos) = binlog_snapshot_position(conn)?;
            let pos = pos.unwrap_or(0);
            if file.is_empty() {
                bail!(
                    "{}: the binary log is off, so a replica cannot be brought to the snapshot's position",
                    conn.label()
                );
            }
            let sql = format!("SELECT BINLOG_GTID_POS({}, {pos})", quote_str(&file));
            let g: Option<Option<String>> = conn.row("converting the position to a GTID", &sql)?;
            g.flatten().with_context(|| {
                format!("{}: no GTID for binlog position {file}:{pos}", conn.label())
            })
        }
        GtidStyle::MySQL => {
            conn.run(
                "locking briefly to open a snapshot",
                "FLUSH TABLES WITH READ LOCK",
            )?;
            let r = (|| -> Result<String> {
                conn.run(
                    "opening a consistent snapshot",
                    "START TRANSACTION WITH CONSISTENT SNAPSHOT",
                )?;
                Ok(server.gtid_position(conn)?)
            })();
            conn.run("unlocking", "UNLOCK TABLES")?;
            r
        }
    }
}

/// The statement that runs replication up to `gtid` and stops there.
pub fn until_sql(server: &Server, gtid: &str) -> String {
    match server.caps.gtid_style {
        GtidStyle::MariaDB => format!("START SLAVE UNTIL master_gtid_pos = {}", quote_str(gtid)),
        GtidStyle::MySQL => format!(
            "{} SQL_THREAD UNTIL SQL_AFTER_GTIDS = {}",
            server.start_replica_sql(),
            quote_str(gtid)
        ),
    }
}

/// The statement that stops what [`until_sql`] restarts.
pub fn stop_sql(server: &Server) -> String {
    match server.caps.gtid_style {
        // MariaDB accepts UNTIL master_gtid_pos only with both threads stopped.
        GtidStyle::MariaDB => server.stop_replica_sql().to_string(),
        GtidStyle::MySQL => format!("{} SQL_THREAD", server.stop_replica_sql()),
    }
}

/// Restarts replication after [`stop_sql`] or [`until_sql`]: stop first,
/// because a replica interrupted while still running towards an UNTIL
/// position would ignore a plain START and stop there for good.
pub fn restart_sql(server: &Server) -> String {
    format!("{}; {}", stop_sql(server), server.start_replica_sql())
}

/// Waits until the replica behind `conn` stopped at `gtid`.
pub fn wait_stopped_at(
    conn: &mut Conn,
    server: &Server,
    gtid: &str,
    limit: Duration,
    cancel: &Cancel,
) -> Result<()> {
    let start = Instant::now();
    loop {
        cancel.check()?;
        let st = replica_status(conn, server)?;
        let s = st
            .first()
            .with_context(|| format!("{} is no longer a replica", conn.label()))?;
        if !s.last_sql_error.is_empty() {
            bail!(
                "replication on {} failed: {}",
                conn.label(),
                s.last_sql_error
            );
        }
        if !s.sql_running {
            let reached = match server.caps.gtid_style {
                GtidStyle::MariaDB => {
                    let slave: Option<Option<String>> =
                        conn.row("reading gtid_slave_pos", "SELECT @@GLOBAL.gtid_slave_pos")?;
                    covers(&slave.flatten().unwrap_or_default(), gtid)
                }
                GtidStyle::MySQL => true,
            };
            if !reached {
                let pos = server.gtid_position(conn)?;
                bail!(
                    "{} stopped at {pos} before reaching the snapshot position {gtid}",
                    conn.label()
                );
            }
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!(
                "{} did not reach the source's position {gtid} within {}s",
                conn.label(),
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Opens snapshots at the same position on `source` (a read connection)
/// and `replica_read`, using `replica_control` to stop and restart
/// replication. Fails, without touching replication, when the replica's
/// threads are not running. Returns the position.
#[allow(clippy::too_many_arguments)]
pub fn open_pair(
    source: &mut Conn,
    source_server: &Server,
    replica_control: &mut Conn,
    replica_server: &Server,
    replica_read: &mut Conn,
    limit: Duration,
    cancel: &Cancel,
) -> Result<String> {
    let st = replica_status(replica_control, replica_server)?;
    if st.first().is_none_or(|s| s.is_stopped()) {
        bail!(
            "replication is not running on {}; start it first",
            replica_control.label()
        );
    }
    // From here until the restart below, replication is stopped and only
    // `replica_control` restarts it: the signal handling must not cut it.
    let _critical = cancel.critical_section();
    replica_control.run("stopping replication", &stop_sql(replica_server))?;
    let result = (|| -> Result<String> {
        let gtid = source_snapshot(source, source_server)?;
        replica_control.run(
            "running replication to the snapshot position",
            &until_sql(replica_server, &gtid),
        )?;
        wait_stopped_at(replica_control, replica_server, &gtid, limit, cancel)?;
        replica_read.run("ending the previous snapshot", "COMMIT")?;
        replica_read.run(
            "opening a consistent snapshot",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT",
        )?;
        Ok(gtid)
    })();
    if let Err(e) = replica_control.run("restarting replication", &restart_sql(replica_server)) {
        bail!(
            "could not restart replication on {} ({e}); run {} there",
            replica_control.label(),
            replica_server.start_replica_sql()
        );
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_coverage() {
        assert!(covers("0-1-10", "0-1-10"));
        assert!(covers("0-1-11,1-5-3", "0-1-10"));
        assert!(!covers("0-1-9", "0-1-10"));
        assert!(!covers("0-1-10", "0-1-10,2-1-1"));
        assert!(covers("", ""));
    }
}
