//! Proving a backup restorable: restore it into a throwaway server
//! (`oxkit::sandbox`), recompute every table's row count and checksum
//! there with the same `oxkit::checksum` expression the backup used inside
//! its snapshot (chunk by chunk over the recorded key ranges, in parallel,
//! folded as the backup folded them), compare, and record the verdict and
//! the restore time in the manifest. A verification stopped by a signal
//! records no verdict (see [`record`]).

use crate::manifest::{self, HistoryEntry, Manifest, Verdict, Verification};
use crate::repo::Repo;
use crate::restore::{self, RestoreOptions};
use anyhow::Result;
use oxkit::checksum::{Function, RowOptions, TableChecksum};
use oxkit::conn::ConnectOptions;
use oxkit::entry::{Cancelled, Context};
use serde::Serialize;
use std::time::Instant;

/// One table's comparison.
#[derive(Clone, Debug, Serialize)]
pub struct TableCheck {
    /// Schema.
    pub db: String,
    /// Table.
    pub table: String,
    /// Rows recorded at backup time.
    pub rows_expected: u64,
    /// Rows found after the restore.
    pub rows_restored: u64,
    /// Checksum recorded at backup time.
    pub checksum_expected: String,
    /// Checksum after the restore.
    pub checksum_restored: String,
    /// Equal.
    pub ok: bool,
}

/// The verdict of one verification.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// The set.
    pub backup: String,
    /// `passed` or `failed`.
    pub status: Verdict,
    /// Seconds the restore took.
    pub restore_secs: f64,
    /// Seconds the whole verification took.
    pub duration_secs: f64,
    /// What went wrong, if anything.
    pub message: String,
    /// Per table.
    pub tables: Vec<TableCheck>,
}

/// Verifies set `m` and records the verdict in its manifest.
pub fn verify(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    opts: &RestoreOptions,
    buffer_pool: &str,
) -> Result<VerifyReport> {
    let t0 = Instant::now();
    let mut report = VerifyReport {
        backup: m.id.clone(),
        status: Verdict::Failed,
        restore_secs: 0.0,
        duration_secs: 0.0,
        message: String::new(),
        tables: Vec::new(),
    };
    let outcome = (|| -> Result<()> {
        let sb = oxkit::sandbox::Sandbox::builder()
            .install(m.server.install()?)
            .arg(format!("--innodb-buffer-pool-size={buffer_pool}"))
            .start()?;
        let spec = sb.socket_spec();
        let copts = ConnectOptions::default();
        let mut ropts = opts.clone();
        ropts.filter = oxkit::filter::TableFilter::default();
        ropts.no_binlog = false;
        ropts.warm_up = false;
        let r = restore::restore(ctx, repo, m, &spec, &copts, &ropts)?;
        report.restore_secs = r.duration_secs;
        // Every chunk's range is checksummed again on the restored server,
        // on --threads connections at once, and folded like at backup time.
        let mut c = sb.connect()?;
        // The hash the backup recorded with: its server and this one are
        // the same flavour and major version.
        let hash = Function::Sha1.on(&oxkit::server::Server::detect(&mut c)?);
        let mut jobs = Vec::new();
        for (ti, t) in m.tables.iter().enumerate() {
            let table = oxkit::schema::load_table_without_children(&mut c, &t.db, &t.name)?;
            let q = TableChecksum::new(&table, hash, &RowOptions::default());
            let ranged = !t.chunks.is_empty() && t.chunks.iter().all(|ch| ch.range.is_some());
            if ranged {
                for ch in &t.chunks {
                    jobs.push((
                        ti,
                        q.query(
                            ch.force_index.as_deref().unwrap_or(""),
                            ch.range.as_deref().unwrap_or("1=1"),
                        ),
                    ));
                }
            } else {
                jobs.push((ti, q.query("", "1=1")));
            }
        }
        let queue = std::sync::Mutex::new(std::collections::VecDeque::from(jobs));
        let threads = opts.threads.max(1);
        let mut conns = Vec::new();
        for _ in 0..threads {
            conns.push(sb.connect()?);
        }
        let results: Vec<Result<Vec<(usize, u64, String)>>> = std::thread::scope(|s| {
            let hs: Vec<_> = conns
                .iter_mut()
                .map(|cn| {
                    let queue = &queue;
                    let cancel = &ctx.cancel;
                    s.spawn(move || -> Result<Vec<(usize, u64, String)>> {
                        let mut out = Vec::new();
                        loop {
                            cancel.check()?;
                            let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                            let Some((ti, sql)) = job else { break };
                            let (cnt, crc): (u64, String) = cn
                                .row("checksumming the restored data", &sql)?
                                .unwrap_or((0, "0".into()));
                            out.push((ti, cnt, crc));
                        }
                        Ok(out)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a checksum worker panicked")))
                })
                .collect()
        });
        let mut sums: Vec<(u64, String)> = vec![(0, "0".to_string()); m.tables.len()];
        for r in results {
            for (ti, cnt, crc) in r? {
                let t = &m.tables[ti];
                sums[ti].0 += cnt;
                sums[ti].1 = crate::logical::fold(t.unique_rows, &sums[ti].1, &crc)?;
            }
        }
        drop(conns);
        let mut bad = Vec::new();
        for (t, (cnt, crc)) in m.tables.iter().zip(sums) {
            let ok = cnt == t.rows && crc == t.checksum;
            if !ok {
                bad.push(format!(
                    "{}.{}: {} rows, checksum {} (backup recorded {} rows, checksum {})",
                    t.db, t.name, cnt, crc, t.rows, t.checksum
                ));
            }
            report.tables.push(TableCheck {
                db: t.db.clone(),
                table: t.name.clone(),
                rows_expected: t.rows,
                rows_restored: cnt,
                checksum_expected: t.checksum.clone(),
                checksum_restored: crc,
                ok,
            });
        }
        drop(c);
        sb.stop()?;
        if bad.is_empty() {
            report.status = Verdict::Passed;
            report.message = format!("{} tables match", m.tables.len());
        } else {
            report.message = format!("restored data differs: {}", bad.join("; "));
        }
        Ok(())
    })();
    if let Err(e) = &outcome {
        report.message = format!("{e:#}");
    }
    report.duration_secs = t0.elapsed().as_secs_f64();
    record(repo, m, &report, interrupted(ctx, &outcome))?;
    Ok(report)
}

/// True when a verification ended early because of a signal: its error
/// (a cancelled step, or the sandbox or a connection torn down by the same
/// Ctrl-C) says nothing about the backup.
pub fn interrupted<T>(ctx: &Context, outcome: &Result<T>) -> bool {
    match outcome {
        Ok(_) => false,
        Err(e) => ctx.cancel.is_cancelled() || e.downcast_ref::<Cancelled>().is_some(),
    }
}

/// Records the verdict of a verification in the manifest of `m`, or, for
/// an `interrupted` one, only a `verify-interrupted` history line and then
/// `Err(Cancelled)` (exit 4): the previous verdict stands, so Ctrl-C never
/// turns a good backup into a failed one that `expire` deletes and `check`
/// skips.
pub fn record(repo: &Repo, m: &Manifest, report: &VerifyReport, interrupted: bool) -> Result<()> {
    let now = manifest::now_unix();
    if interrupted {
        let h = HistoryEntry {
            action: "verify-interrupted".into(),
            at: manifest::utc(now),
            at_unix: now,
            ok: false,
            duration_secs: report.duration_secs,
            target: "sandbox".into(),
            message: format!(
                "interrupted by a signal after {:.1}s: no verdict, the previous verification stands",
                report.duration_secs
            ),
        };
        repo.update_manifest(&m.id, |m| m.history.push(h))?;
        return Err(anyhow::Error::new(Cancelled)
            .context(format!("verify of {}: no verdict recorded", m.id)));
    }
    let v = Verification {
        status: report.status,
        at: manifest::utc(now),
        at_unix: now,
        restore_secs: report.restore_secs,
        duration_secs: report.duration_secs,
        message: report.message.clone(),
    };
    let h = HistoryEntry {
        action: "verify".into(),
        at: v.at.clone(),
        at_unix: now,
        ok: report.status == Verdict::Passed,
        duration_secs: report.restore_secs,
        target: "sandbox".into(),
        message: report.message.clone(),
    };
    repo.update_manifest(&m.id, |m| {
        m.verification = Some(v);
        m.history.push(h);
    })?;
    Ok(())
}
