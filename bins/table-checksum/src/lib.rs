//! `ox-table-checksum`: find data drift between a primary and its replicas
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::Exit;

/// find data drift between a primary and its replicas
#[derive(Parser, Debug)]
#[command(
    name = "ox-table-checksum",
    version,
    about = "find data drift between a primary and its replicas",
    long_about = "Checksums tables chunk by chunk on a primary and its replicas (through replication, or in matching snapshots) and reports the chunks that differ. Compatible with pt-table-checksum's checksum table and exit codes."
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
        message: "ox-table-checksum is not built yet (tracked in issue 4)".to_string(),
    }
    .into())
}
