//! Proving a backup restorable, whatever its method: the report every
//! verification makes ([`logical::verify`](crate::logical::verify) and
//! [`physical::verify`](crate::physical::verify) restore into a throwaway
//! server and compare), and recording its verdict and restore time in the
//! manifest. A verification stopped by a signal records no verdict (see
//! [`record`]).

use crate::manifest::{HistoryEntry, Manifest, Verdict, Verification};
use crate::repo::Repo;
use anyhow::Result;
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

impl VerifyReport {
    /// A report on set `m`: failed until the verification passes.
    pub fn new(m: &Manifest) -> VerifyReport {
        VerifyReport {
            backup: m.id.clone(),
            status: Verdict::Failed,
            restore_secs: 0.0,
            duration_secs: 0.0,
            message: String::new(),
            tables: Vec::new(),
        }
    }

    /// Ends the verification of `m` started at `t0`: an error `outcome`
    /// is its message, and the verdict is recorded in the manifest (none
    /// after a signal, see [`record`]).
    pub fn conclude(
        mut self,
        ctx: &Context,
        repo: &Repo,
        m: &Manifest,
        t0: Instant,
        outcome: Result<()>,
    ) -> Result<VerifyReport> {
        self.duration_secs = t0.elapsed().as_secs_f64();
        if let Err(e) = &outcome {
            self.message = format!("{e:#}");
        }
        record(repo, m, &self, interrupted(ctx, &outcome))?;
        Ok(self)
    }
}

/// Stops a verification's throwaway server (still running when the run
/// failed or was interrupted) and records the outcome, both inside one
/// critical section: after Ctrl-C the entry cuts connections and exits
/// within seconds, and a server's clean shutdown can take longer on a
/// busy host, which would end the process before the interruption was
/// recorded (the previous verdict must stand, with a history line).
pub fn teardown_and_conclude(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    t0: Instant,
    report: VerifyReport,
    server: Option<oxkit::sandbox::Sandbox>,
    outcome: Result<()>,
) -> Result<VerifyReport> {
    let _held = ctx.cancel.critical_section();
    drop(server);
    report.conclude(ctx, repo, m, t0, outcome)
}

/// True when a verification ended early because of a signal: its error
/// (a cancelled step, or the sandbox or a connection torn down by the same
/// Ctrl-C) says nothing about the backup.
fn interrupted<T>(ctx: &Context, outcome: &Result<T>) -> bool {
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
    if interrupted {
        let h = HistoryEntry::now(
            "verify-interrupted",
            false,
            report.duration_secs,
            "sandbox".into(),
            format!(
                "interrupted by a signal after {:.1}s: no verdict, the previous verification stands",
                report.duration_secs
            ),
        );
        repo.update_manifest(&m.id, |m| m.history.push(h))?;
        return Err(anyhow::Error::new(Cancelled)
            .context(format!("verify of {}: no verdict recorded", m.id)));
    }
    let h = HistoryEntry::now(
        "verify",
        report.status == Verdict::Passed,
        report.restore_secs,
        "sandbox".into(),
        report.message.clone(),
    );
    let v = Verification {
        status: report.status,
        at: h.at.clone(),
        at_unix: h.at_unix,
        restore_secs: report.restore_secs,
        duration_secs: report.duration_secs,
        message: report.message.clone(),
    };
    repo.update_manifest(&m.id, |m| {
        m.verification = Some(v);
        m.history.push(h);
    })?;
    Ok(())
}
