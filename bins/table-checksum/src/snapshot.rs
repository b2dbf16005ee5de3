//! The snapshot method: the primary and every replica read in consistent
//! snapshots at the same replication position, with no writes anywhere.
//!
//! For one worker's set of connections, under the throttle's "quiet" lock
//! (so throttle checks never see the stop):
//! 1. stop replication on every replica (each is now at or behind the
//!    primary);
//! 2. open a consistent snapshot on the primary and read its position
//!    (MariaDB: `binlog_snapshot_file/position` of the snapshot itself,
//!    turned into a GTID with `BINLOG_GTID_POS`, no lock; MySQL: a brief
//!    `FLUSH TABLES WITH READ LOCK` around the snapshot);
//! 3. let each replica run exactly to that position (`START SLAVE UNTIL
//!    master_gtid_pos`, MySQL `SQL_AFTER_GTIDS`) and check it stopped there;
//! 4. open a consistent snapshot on each replica;
//! 5. restart replication, always, also on error and cancellation.
//!
//! Replication pauses only from step 1 to step 5.

use crate::engine::Shared;
use anyhow::{bail, Context as _, Result};
use oxkit::conn::Conn;
use oxkit::server::{GtidStyle, Server};
use oxkit::sql::quote_str;
use oxkit::topology::replica_status;
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

/// True when position `have` includes everything in `want` (MariaDB).
pub fn covers(have: &str, want: &str) -> bool {
    let h = gtid_map(have);
    gtid_map(want)
        .iter()
        .all(|(d, n)| h.get(d).is_some_and(|m| m >= n))
}

/// Opens a consistent snapshot on `conn` (ending any open one) and returns
/// its position as a GTID set.
fn primary_snapshot(conn: &mut Conn, server: &Server) -> Result<String> {
    conn.run("ending the previous snapshot", "COMMIT")?;
    match server.caps.gtid_style {
        GtidStyle::MariaDB => {
            conn.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            )?;
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
            let (file, pos) = (get("Binlog_snapshot_file"), get("Binlog_snapshot_position"));
            if file.is_empty() {
                bail!(
                    "{}: the binary log is off, so replicas cannot be brought to the snapshot's position",
                    conn.label()
                );
            }
            let sql = format!(
                "SELECT BINLOG_GTID_POS({}, {})",
                quote_str(&file),
                pos.parse::<u64>().unwrap_or(0)
            );
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

fn until_sql(server: &Server, gtid: &str) -> String {
    match server.caps.gtid_style {
        GtidStyle::MariaDB => format!("START SLAVE UNTIL master_gtid_pos = {}", quote_str(gtid)),
        GtidStyle::MySQL => format!(
            "{} SQL_THREAD UNTIL SQL_AFTER_GTIDS = {}",
            server.start_replica_sql(),
            quote_str(gtid)
        ),
    }
}

fn stop_sql(server: &Server) -> String {
    match server.caps.gtid_style {
        // MariaDB accepts UNTIL master_gtid_pos only with both threads stopped.
        GtidStyle::MariaDB => server.stop_replica_sql().to_string(),
        GtidStyle::MySQL => format!("{} SQL_THREAD", server.stop_replica_sql()),
    }
}

/// Waits until the replica behind `conn` stopped at `gtid`.
fn wait_stopped_at(
    conn: &mut Conn,
    server: &Server,
    gtid: &str,
    limit: Duration,
    shared: &Shared,
) -> Result<()> {
    let start = Instant::now();
    loop {
        shared.ctx.cancel.check()?;
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
            let pos = server.gtid_position(conn)?;
            let reached = match server.caps.gtid_style {
                GtidStyle::MariaDB => {
                    let slave: Option<Option<String>> =
                        conn.row("reading gtid_slave_pos", "SELECT @@GLOBAL.gtid_slave_pos")?;
                    covers(&slave.flatten().unwrap_or_default(), gtid)
                }
                GtidStyle::MySQL => true,
            };
            if !reached {
                bail!(
                    "{} stopped at {pos} before reaching the snapshot position {gtid}",
                    conn.label()
                );
            }
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!(
                "{} did not reach the primary's position {gtid} within {}s (--replica-timeout)",
                conn.label(),
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Brings `primary` and `replicas` (one worker's connections, in order of
/// `shared.replicas`) into snapshots at the same position. Returns
/// `Ok(None)` when a replica's replication is not running (the caller waits
/// through the throttle and tries again), else the position.
pub fn open(shared: &Shared, primary: &mut Conn, replicas: &mut [Conn]) -> Result<Option<String>> {
    let quiet = shared.throttle.quiet();
    let _quiet = quiet
        .lock()
        .map_err(|_| anyhow::anyhow!("replication lock poisoned"))?;
    let mut controls = shared
        .controls
        .lock()
        .map_err(|_| anyhow::anyhow!("replica control connections poisoned"))?;
    for (c, r) in controls.iter_mut().zip(&shared.replicas) {
        let st = replica_status(c, &r.server)?;
        if st.first().is_none_or(|s| s.is_stopped()) {
            return Ok(None);
        }
    }
    let mut stopped = Vec::new();
    let result = (|| -> Result<String> {
        for (i, (c, r)) in controls.iter_mut().zip(&shared.replicas).enumerate() {
            c.run("stopping replication", &stop_sql(&r.server))?;
            stopped.push(i);
        }
        let gtid = primary_snapshot(primary, &shared.primary_server)?;
        for (c, r) in controls.iter_mut().zip(&shared.replicas) {
            c.run(
                "running replication to the snapshot position",
                &until_sql(&r.server, &gtid),
            )?;
        }
        for (c, r) in controls.iter_mut().zip(&shared.replicas) {
            wait_stopped_at(c, &r.server, &gtid, shared.cfg.replica_timeout, shared)?;
        }
        for rc in replicas.iter_mut() {
            rc.run("ending the previous snapshot", "COMMIT")?;
            rc.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            )?;
        }
        Ok(gtid)
    })();
    let mut restart_err = None;
    for i in stopped {
        let r = &shared.replicas[i];
        // Stop first: after a cancel or an error while the replica was
        // still running towards the UNTIL position, a plain START would be
        // a no-op and the replica would stop there for good.
        let restart = format!("{}; {}", stop_sql(&r.server), r.server.start_replica_sql());
        if let Err(e) = controls[i].run("restarting replication", &restart) {
            restart_err = Some(anyhow::anyhow!(
                "could not restart replication on {} ({e}); run {} there",
                r.label,
                r.server.start_replica_sql()
            ));
        }
    }
    if let Some(e) = restart_err {
        return Err(e);
    }
    result.map(Some)
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
        assert!(covers("0-2-12", "0-1-10"));
        assert!(covers("", ""));
    }
}
