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
//!    master_gtid_pos`, MySQL `SQL_AFTER_GTIDS`) and check it stopped there
//!    (a replica already there is left stopped: an UNTIL it has reached
//!    would never stop);
//! 4. open a consistent snapshot on each replica;
//! 5. restart replication, always, also on error and cancellation.
//!
//! Replication pauses only from step 1 to step 5. The SQL of each step is
//! in [`oxkit::snapshot`], shared with ox-table-sync.

use crate::engine::Shared;
use anyhow::Result;
use oxkit::conn::Conn;
use oxkit::snapshot::{
    restart_sql, source_snapshot, start_until, stop_sql, wait_stopped_at, Until,
};
use oxkit::topology::replica_status;

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
    // Until the restarts below, replication is stopped and only these
    // control connections restart it: the signal handling must not cut them.
    let _critical = shared.ctx.cancel.critical_section();
    let mut stopped = Vec::new();
    let result = (|| -> Result<String> {
        for (i, (c, r)) in controls.iter_mut().zip(&shared.replicas).enumerate() {
            c.run("stopping replication", &stop_sql(&r.server))?;
            stopped.push(i);
        }
        let gtid = source_snapshot(primary, &shared.primary_server)?;
        // All replicas run towards the position at once; a replica already
        // there stays stopped (an UNTIL it has reached would never stop).
        let mut started = Vec::new();
        for (c, r) in controls.iter_mut().zip(&shared.replicas) {
            started.push(start_until(c, &r.server, &gtid)? == Until::Started);
        }
        for ((c, r), _) in controls
            .iter_mut()
            .zip(&shared.replicas)
            .zip(&started)
            .filter(|(_, s)| **s)
        {
            wait_stopped_at(
                c,
                &r.server,
                &gtid,
                shared.cfg.replica_timeout,
                &shared.ctx.cancel,
            )?;
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
        if let Err(e) = controls[i].run("restarting replication", &restart_sql(&r.server)) {
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
