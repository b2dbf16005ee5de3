//! `list`: every set in the repository, oldest first.

use crate::catalog;
use crate::cli::Config;
use crate::repo::Repo;
use anyhow::Result;
use oxkit::report::{emit, human_bytes, Table};
use oxkit::Exit;

/// Runs `list`.
pub fn run(cfg: &Config) -> Result<Exit> {
    let repo = Repo::open(&cfg.repo, false)?;
    let list = catalog::list(&repo)?;
    emit(cfg.format, &list, |w| {
        let mut t = Table::new([
            "backup",
            "state",
            "age",
            "size",
            "duration",
            "tables",
            "verified",
            "restore",
            "encrypted",
        ]);
        for e in &list {
            t.row([
                e.id.clone(),
                e.state.to_string(),
                e.age_secs.map(catalog::human_age).unwrap_or_default(),
                e.stored_bytes.map(human_bytes).unwrap_or_default(),
                e.duration_secs
                    .map(|d| format!("{d:.1}s"))
                    .unwrap_or_default(),
                e.tables.map(|n| n.to_string()).unwrap_or_default(),
                e.verification.clone(),
                match (e.restore_secs, &e.restore_estimated_from) {
                    (Some(d), None) => format!("{d:.1}s"),
                    (Some(d), Some(_)) => format!("~{d:.1}s (est.)"),
                    (None, _) => String::new(),
                },
                if e.encrypted { "yes" } else { "no" }.to_string(),
            ]);
        }
        write!(w, "{t}")
    })?;
    Ok(Exit::OK)
}
