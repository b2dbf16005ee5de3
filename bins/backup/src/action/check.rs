//! `check`: is the newest verified set young enough, and each followed
//! binary-log archive current enough? For monitoring.

use crate::catalog;
use crate::cli::Config;
use crate::repo::Repo;
use anyhow::Result;
use oxkit::report::emit;
use oxkit::Exit;

/// Runs `check`: exit 1 when the newest verified set is older than
/// `max_age` seconds (or there is none), or a followed binary-log archive
/// is further behind than `max_archive_lag`.
pub fn run(cfg: &Config, max_age: u64, max_archive_lag: Option<u64>) -> Result<Exit> {
    let repo = Repo::open(&cfg.repo, false)?;
    let r = catalog::check(&repo, max_age, max_archive_lag)?;
    emit(cfg.format, &r, |w| writeln!(w, "{}", r.message))?;
    Ok(if r.ok { Exit::OK } else { Exit::ERROR })
}
