//! `expire`: retention.

use crate::catalog;
use crate::cli::{Config, ExpireArgs};
use crate::repo::Repo;
use anyhow::Result;
use oxkit::report::{emit, Table};
use oxkit::Exit;

/// Runs `expire`.
pub fn run(cfg: &Config, a: &ExpireArgs) -> Result<Exit> {
    let repo = Repo::open(&cfg.repo, false)?;
    let d = catalog::expire(&repo, a.keep_last, a.keep_days, a.dry_run)?;
    emit(cfg.format, &d, |w| {
        let mut t = Table::new(["backup", "decision", "reason"]);
        for x in &d {
            let what = match (x.keep, a.dry_run) {
                (true, _) => "keep",
                (false, true) => "would delete",
                (false, false) => "deleted",
            };
            t.row([x.id.clone(), what.to_string(), x.reason.clone()]);
        }
        write!(w, "{t}")
    })?;
    Ok(Exit::OK)
}
