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
//! A replica already at the position (an idle one) is not sent an UNTIL:
//! MariaDB keeps the SQL thread running after `START SLAVE UNTIL` a
//! position it has already reached, and a wait for the stop would never
//! end. Every wait here is bounded by the caller's limit, says on stderr
//! what it waits for once it takes more than two seconds, and its timeout
//! names the position and the replica's state.
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

/// Where a replica's applied position stands against a source position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It still has to apply part of the position.
    Behind,
    /// It has applied exactly the position (in every domain the position
    /// names, MariaDB; the whole set, MySQL).
    At,
    /// It has applied more than the position in a domain the position
    /// names: it holds transactions the source's snapshot does not.
    Past,
}

/// Compares MariaDB GTID position `have` (a replica's `gtid_slave_pos`)
/// with `want`, domain by domain over the domains of `want`.
pub fn standing(have: &str, want: &str) -> Standing {
    let h = gtid_map(have);
    let mut behind = false;
    for (d, n) in gtid_map(want) {
        match h.get(&d) {
            Some(m) if *m > n => return Standing::Past,
            Some(m) if *m == n => {}
            _ => behind = true,
        }
    }
    if behind {
        Standing::Behind
    } else {
        Standing::At
    }
}

/// The replica's applied position and where it stands against `gtid`.
fn applied(conn: &mut Conn, server: &Server, gtid: &str) -> Result<(String, Standing)> {
    match server.caps.gtid_style {
        GtidStyle::MariaDB => {
            let pos: Option<Option<String>> =
                conn.row("reading gtid_slave_pos", "SELECT @@GLOBAL.gtid_slave_pos")?;
            let pos: String = pos
                .flatten()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let st = standing(&pos, gtid);
            Ok((pos, st))
        }
        GtidStyle::MySQL => {
            let pos = server.gtid_position(conn)?;
            let sql = format!(
                "SELECT GTID_SUBSET({}, {})",
                quote_str(gtid),
                quote_str(&pos)
            );
            let sub: Option<Option<i64>> = conn.row("comparing GTID sets", &sql)?;
            // A MySQL replica cannot have applied more of its source's
            // transactions than the source had when replication stopped,
            // which is before the snapshot: covered means at.
            let st = if sub.flatten() == Some(1) {
                Standing::At
            } else {
                Standing::Behind
            };
            Ok((pos, st))
        }
    }
}

/// What [`start_until`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// The replica had already applied exactly the position: replication
    /// stays stopped and nothing needs waiting for.
    AlreadyThere,
    /// Replication runs towards the position; [`wait_stopped_at`] next.
    Started,
}

/// With replication stopped on the replica behind `conn`, lets it run to
/// the source position `gtid` and stop there. A replica already at `gtid`
/// is left stopped: `START SLAVE UNTIL` a position already reached keeps
/// MariaDB's SQL thread running with no stop to wait for. A replica past
/// `gtid` is an error naming both positions (it holds transactions the
/// source's snapshot does not, so no snapshot pair can be equal).
pub fn start_until(conn: &mut Conn, server: &Server, gtid: &str) -> Result<Until> {
    let (pos, st) = applied(conn, server, gtid)?;
    match st {
        Standing::At => Ok(Until::AlreadyThere),
        Standing::Past => bail!(
            "{} has applied {pos}, past the source's snapshot position {gtid}: \
             it holds transactions the source does not have",
            conn.label()
        ),
        Standing::Behind => {
            conn.run(
                "running replication to the snapshot position",
                &until_sql(server, gtid),
            )?;
            Ok(Until::Started)
        }
    }
}

/// Seconds between the "waiting for" lines a long wait prints on stderr.
const WAIT_NOTICE_EVERY: Duration = Duration::from_secs(10);

/// Waits until the replica behind `conn`, started towards `gtid` by
/// [`start_until`], stopped there. Bounded by `limit`; past two seconds it
/// says on stderr what it waits for, every ten seconds, and a timeout names
/// the position and the replica's threads and applied position. A replica
/// found exactly at `gtid` with its SQL thread still running (an UNTIL that
/// was reached without stopping) is stopped here: UNTIL keeps it from
/// applying anything past the position.
pub fn wait_stopped_at(
    conn: &mut Conn,
    server: &Server,
    gtid: &str,
    limit: Duration,
    cancel: &Cancel,
) -> Result<()> {
    let start = Instant::now();
    let mut next_notice = Duration::from_secs(2);
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
        let (pos, standing) = applied(conn, server, gtid)?;
        if s.sql_running && standing == Standing::At {
            conn.run(
                "stopping replication at the snapshot position",
                &stop_sql(server),
            )?;
            continue;
        }
        if !s.sql_running {
            return match standing {
                Standing::At => Ok(()),
                Standing::Behind => bail!(
                    "{} stopped at {pos} before reaching the snapshot position {gtid}",
                    conn.label()
                ),
                Standing::Past => bail!(
                    "{} stopped at {pos}, past the snapshot position {gtid}",
                    conn.label()
                ),
            };
        }
        let waited = start.elapsed();
        if waited > limit {
            bail!(
                "{} did not reach the source's position {gtid} within {}s \
                 (--replica-timeout): it has applied {pos}; {}",
                conn.label(),
                limit.as_secs(),
                s.describe()
            );
        }
        if waited >= next_notice {
            log::warn!(
                "waiting for {} to reach GTID {gtid} (applied {pos}; {}s of {}s)",
                conn.label(),
                waited.as_secs(),
                limit.as_secs()
            );
            next_notice = waited + WAIT_NOTICE_EVERY;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs the stopped replica behind `conn` to `gtid` and waits until it
/// stopped there ([`start_until`], then [`wait_stopped_at`] unless it was
/// already there).
pub fn run_to(
    conn: &mut Conn,
    server: &Server,
    gtid: &str,
    limit: Duration,
    cancel: &Cancel,
) -> Result<()> {
    if start_until(conn, server, gtid)? == Until::Started {
        wait_stopped_at(conn, server, gtid, limit, cancel)?;
    }
    Ok(())
}

/// The connections [`open_pair`] works with.
pub struct Pair<'a> {
    /// A read connection to the source.
    pub source: &'a mut Conn,
    /// What the source is.
    pub source_server: &'a Server,
    /// Stops and restarts the replica's replication.
    pub replica_control: &'a mut Conn,
    /// What the replica is.
    pub replica_server: &'a Server,
    /// The replica's read connection.
    pub replica_read: &'a mut Conn,
}

/// Opens snapshots at the same position on `source` (a read connection)
/// and `replica_read`, using `replica_control` to stop and restart
/// replication. Fails (exit 128, replication stopped), without touching replication, when the replica's
/// threads are not running. Returns the position.
pub fn open_pair(pair: Pair<'_>, limit: Duration, cancel: &Cancel) -> Result<String> {
    let Pair {
        source,
        source_server,
        replica_control,
        replica_server,
        replica_read,
    } = pair;
    let st = replica_status(replica_control, replica_server)?;
    if st.first().is_none_or(|s| s.is_stopped()) {
        return Err(crate::entry::ExitError {
            exit: crate::Exit::REPLICATION_STOPPED,
            message: format!(
                "replication is not running on {}; start it first",
                replica_control.label()
            ),
        }
        .into());
    }
    // From here until the restart below, replication is stopped and only
    // `replica_control` restarts it: the signal handling must not cut it.
    let _critical = cancel.critical_section();
    replica_control.run("stopping replication", &stop_sql(replica_server))?;
    let result = (|| -> Result<String> {
        let gtid = source_snapshot(source, source_server)?;
        run_to(replica_control, replica_server, &gtid, limit, cancel)?;
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

    /// A replica exactly at the position is `At` (no UNTIL is started for
    /// it: MariaDB would never stop); other domains of the replica don't
    /// matter; a higher sequence number is `Past`.
    #[test]
    fn standing_against_a_position() {
        assert_eq!(standing("0-1-10", "0-1-10"), Standing::At);
        assert_eq!(standing("0-1-10,5-9-3", "0-1-10"), Standing::At);
        assert_eq!(standing("0-1-9", "0-1-10"), Standing::Behind);
        assert_eq!(standing("", "0-1-10"), Standing::Behind);
        assert_eq!(standing("0-1-10", "0-1-10,1-2-4"), Standing::Behind);
        assert_eq!(standing("0-1-11", "0-1-10"), Standing::Past);
        assert_eq!(standing("0-1-11,1-2-1", "0-1-10,1-2-4"), Standing::Past);
    }
}
