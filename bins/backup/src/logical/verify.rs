//! Verifying a logical set: restore it into a throwaway server of the
//! backup's flavour and major version (`oxkit::sandbox`), recompute every
//! table's row count and checksum there with the same `oxkit::checksum`
//! expression the backup used inside its snapshot (chunk by chunk over the
//! recorded key ranges, on `--threads` connections, folded as the backup
//! folded them), and compare.

use super::dump::fold;
use super::restore::RestoreOptions;
use crate::manifest::{Manifest, Verdict};
use crate::repo::Repo;
use crate::verify::{TableCheck, VerifyReport};
use anyhow::Result;
use oxkit::checksum::{Function, RowOptions, TableChecksum};
use oxkit::conn::ConnectOptions;
use oxkit::entry::Context;
use std::time::Instant;

/// Verifies logical set `m` and records the verdict in its manifest.
pub fn verify(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    opts: &RestoreOptions,
    buffer_pool: &str,
) -> Result<VerifyReport> {
    let t0 = Instant::now();
    let mut report = VerifyReport::new(m);
    let mut server = None;
    let outcome = (|| -> Result<()> {
        let sb: &mut oxkit::sandbox::Sandbox = server.insert(
            oxkit::sandbox::Sandbox::builder()
                .install(m.server.install()?)
                .arg(format!("--innodb-buffer-pool-size={buffer_pool}"))
                .start()?,
        );
        let spec = sb.socket_spec();
        let copts = ConnectOptions::default();
        let mut ropts = opts.clone();
        ropts.filter = oxkit::filter::TableFilter::default();
        ropts.no_binlog = false;
        ropts.warm_up = false;
        let r = super::restore::restore(ctx, repo, m, &spec, &copts, &ropts)?;
        report.restore_secs = r.duration_secs;
        // Every chunk's range is checksummed again on the restored server,
        // on --threads connections at once, and folded like at backup time.
        let mut c = sb.connect()?;
        // The hash the backup recorded with: its server and this one are
        // the same flavour and major version.
        let hash = Function::Sha1.on(&oxkit::server::Server::detect(&mut c)?);
        let mut jobs = Vec::new();
        let names: Vec<(String, String)> = m
            .tables
            .iter()
            .map(|t| (t.db.clone(), t.name.clone()))
            .collect();
        let defs = oxkit::schema::load_named(&mut c, &names)?;
        for (ti, (t, table)) in m.tables.iter().zip(&defs).enumerate() {
            let q = TableChecksum::new(table, hash, &RowOptions::default());
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
        let mut conns = (0..opts.threads.max(1))
            .map(|_| sb.connect())
            .collect::<Result<Vec<_>>>()?;
        let results = crate::pool::each(&mut conns, jobs, &ctx.cancel, &|cn, (ti, sql)| {
            let (cnt, crc): (u64, String) = cn
                .row("checksumming the restored data", &sql)?
                .unwrap_or((0, "0".into()));
            Ok((ti, cnt, crc))
        })?;
        let mut sums: Vec<(u64, String)> = vec![(0, "0".to_string()); m.tables.len()];
        for (ti, cnt, crc) in results {
            let t = &m.tables[ti];
            sums[ti].0 += cnt;
            sums[ti].1 = fold(t.unique_rows, &sums[ti].1, &crc)?;
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
        if let Some(sb) = server.take() {
            sb.stop()?;
        }
        if bad.is_empty() {
            report.status = Verdict::Passed;
            report.message = format!("{} tables match", m.tables.len());
        } else {
            report.message = format!("restored data differs: {}", bad.join("; "));
        }
        Ok(())
    })();
    crate::verify::teardown_and_conclude(ctx, repo, m, t0, report, server, outcome)
}
