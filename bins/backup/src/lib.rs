//! `ox-backup`: take, catalogue, encrypt, verify and restore backups
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::Exit;

/// take, catalogue, encrypt, verify and restore backups
#[derive(Parser, Debug)]
#[command(
    name = "ox-backup",
    version,
    about = "take, catalogue, encrypt, verify and restore backups",
    long_about = "Takes consistent hot backups into a repository, catalogues them, encrypts them, proves each one restorable by restoring it into a throwaway server and comparing checksums, restores fast, and rolls forward through binary logs to a point in time."
)]
pub struct Args {
    /// Servers to work on: Percona-style DSNs (h=host,P=port,u=user) or mysql:// URLs
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The clap definition of the command line (also used for the man page).
pub fn command() -> clap::Command {
    Args::command()
}

/// Runs the tool.
pub fn run(matches: &clap::ArgMatches, _ctx: &Context) -> anyhow::Result<Exit> {
    let _args = Args::from_arg_matches(matches)?;
    Err(oxkit::entry::ExitError {
        exit: Exit::ERROR,
        message: "ox-backup is not built yet (tracked in issue 7)".to_string(),
    }
    .into())
}
