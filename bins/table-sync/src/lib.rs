//! `ox-table-sync`: repair data drift safely, through replication where possible
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::Exit;

/// repair data drift safely, through replication where possible
#[derive(Parser, Debug)]
#[command(
    name = "ox-table-sync",
    version,
    about = "repair data drift safely, through replication where possible",
    long_about = "Finds the rows that differ between two servers, or the chunks a checksum recorded, and fixes them with INSERT, UPDATE and DELETE by key, on the source so the fix replicates. Dry run first; nothing is written without --execute."
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
        message: "ox-table-sync is not built yet (tracked in issue 5)".to_string(),
    }
    .into())
}
