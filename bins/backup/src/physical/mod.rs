//! The physical method: a hot copy of a MariaDB 10.8+ data directory
//! (InnoDB files plus the redo written during the copy), prepared by a
//! throwaway stock server's own crash recovery.
//!
//! [`redo`] knows the redo log format.

pub mod io;
pub mod prepare;
pub mod redo;

use anyhow::Result;
use clap::ValueEnum;
use oxkit::entry::usage_error;

/// The backup method (`--method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Rows through SQL in a consistent snapshot (any MySQL or MariaDB)
    Logical,
    /// A hot copy of the InnoDB files of a local MariaDB 10.8+ server
    Physical,
}

/// Refuses what is not built: the physical copy itself is not wired yet
/// (the redo reader and the prepare-time log rewrite are), so
/// `--method physical` fails before anything is touched rather than
/// produce a half backup.
pub fn check_method(method: Method, taking_backup: bool) -> Result<()> {
    if method == Method::Physical && taking_backup {
        return Err(usage_error(
            "--method physical is not built yet (the redo reader and the prepare-time log \
             rewrite exist; the BACKUP STAGE copy does not): use --method logical",
        ));
    }
    Ok(())
}
