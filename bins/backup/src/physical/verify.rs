//! Verifying a physical set: restore it into a throwaway directory, let a
//! stock server recover it, start it again, run `CHECK TABLE` on every
//! table and compare every InnoDB table's row count and checksum with
//! those read at the backup point.

use crate::manifest::{Manifest, Verdict};
use crate::verify::VerifyReport;
use anyhow::{Context as _, Result};

/// Restores a physical set into a throwaway directory, lets a stock server
/// recover it, starts it again and runs `CHECK TABLE` on every table, and
/// recomputes every InnoDB table's row count and checksum and compares them
/// with those read at the backup point, and records the verdict in the
/// manifest.
pub fn verify(
    ctx: &oxkit::entry::Context,
    repo: &crate::repo::Repo,
    m: &Manifest,
    key: Option<&crate::crypt::Key>,
    buffer_pool: &str,
) -> Result<VerifyReport> {
    let t0 = std::time::Instant::now();
    let mut report = VerifyReport::new(m);
    let mut server = None;
    let outcome = (|| -> Result<String> {
        let tmp = tempfile::Builder::new()
            .prefix("oxk-phys-verify")
            .tempdir_in(std::env::temp_dir())
            .context("creating the verify directory")?;
        // Private (0700) and the sandbox user's, so the unprivileged server
        // can reach the restored datadir inside and no one else can.
        oxkit::sandbox::give_dir_to_server(tmp.path())?;
        let dir = tmp.path().join("data");
        ctx.cancel.check()?;
        let r = super::prepare::restore_to_dir(repo, m, key, &dir, buffer_pool)?;
        report.restore_secs = r.duration_secs;
        // The steps below do not watch the flag themselves: check between
        // them, so Ctrl-C ends the run (with no verdict) soon.
        ctx.cancel.check()?;
        let clone = super::clone::is_clone_set(m);
        let mut b = oxkit::sandbox::Sandbox::builder()
            .from_datadir(&dir)
            .arg(format!("--innodb-buffer-pool-size={buffer_pool}"));
        if clone {
            // A MySQL set: its own server version, and its own accounts,
            // whose passwords we do not know.
            b = b.install(m.server.install()?).arg("--skip-grant-tables");
        }
        let sb: &mut oxkit::sandbox::Sandbox = server.insert(b.start()?);
        let mut c = sb.connect()?;
        let tables: Vec<(String, String)> = c.rows(
            "listing tables",
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys')",
        )?;
        let mut bad = Vec::new();
        for (db, t) in &tables {
            ctx.cancel.check()?;
            let rows: Vec<mysql::Row> = c.rows(
                "checking a table",
                &format!("CHECK TABLE {}", oxkit::sql::quote_table(db, t)),
            )?;
            for row in rows {
                let kind = oxkit::conn::cell_text(&row, 2).unwrap_or_default();
                let text = oxkit::conn::cell_text(&row, 3).unwrap_or_default();
                if kind.eq_ignore_ascii_case("error")
                    || (kind.eq_ignore_ascii_case("status") && !text.eq_ignore_ascii_case("OK"))
                {
                    bad.push(format!("{db}.{t}: {text}"));
                }
            }
        }
        ctx.cancel.check()?;
        let checks = super::snapshot::compare(&mut c, &m.tables)?;
        drop(c);
        if let Some(sb) = server.take() {
            sb.stop()?;
        }
        let differ: Vec<String> = checks
            .iter()
            .filter(|t| !t.ok)
            .map(|t| {
                format!(
                    "{}.{}: {} rows, checksum {} (backup recorded {} rows, checksum {})",
                    t.db,
                    t.table,
                    t.rows_restored,
                    t.checksum_restored,
                    t.rows_expected,
                    t.checksum_expected
                )
            })
            .collect();
        report.tables = checks;
        if !bad.is_empty() {
            anyhow::bail!(
                "CHECK TABLE failed on the restored copy: {}",
                bad.join("; ")
            );
        }
        if !differ.is_empty() {
            anyhow::bail!(
                "the restored copy differs from the backup point: {}",
                differ.join("; ")
            );
        }
        let restored = if clone {
            format!("restored the clone ({:.2}s)", r.duration_secs)
        } else {
            format!(
                "restored and recovered to LSN {} (prepare {:.2}s, {} XA rolled back)",
                r.end_lsn, r.prepare_secs, r.xa_rolled_back
            )
        };
        Ok(format!(
            "{restored}; CHECK TABLE passed on {} tables; \
             {} InnoDB tables match the row counts and checksums recorded at the backup point",
            tables.len(),
            m.tables.len()
        ))
    })();
    let outcome = outcome.map(|msg| {
        report.status = Verdict::Passed;
        report.message = msg;
    });
    crate::verify::teardown_and_conclude(ctx, repo, m, t0, report, server, outcome)
}
