//! `check`: is the newest verified set young enough? For monitoring.

use crate::catalog;
use crate::cli::Config;
use crate::repo::Repo;
use anyhow::Result;
use oxkit::report::emit;
use oxkit::Exit;

/// Runs `check`: exit 1 when the newest verified set is older than
/// `max_age` seconds (or there is none).
pub fn run(cfg: &Config, max_age: u64) -> Result<Exit> {
    let repo = Repo::open(&cfg.repo, false)?;
    let r = catalog::check(&repo, max_age)?;
    emit(cfg.format, &r, |w| writeln!(w, "{}", r.message))?;
    Ok(if r.ok { Exit::OK } else { Exit::ERROR })
}
