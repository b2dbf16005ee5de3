//! `ox-summary`: the host and the server at a glance
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::Exit;

/// the host and the server at a glance
#[derive(Parser, Debug)]
#[command(
    name = "ox-summary",
    version,
    about = "the host and the server at a glance",
    long_about = "Summarises the database host (CPU, memory, disks, kernel settings) and the MySQL or MariaDB server on it (version, replication, InnoDB, binary log, schemas, accounts), with notes that point at problems. Replaces pt-summary and pt-mysql-summary."
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
        message: "ox-summary is not built yet (tracked in issue 3)".to_string(),
    }
    .into())
}
