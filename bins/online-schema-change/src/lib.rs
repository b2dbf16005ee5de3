//! `ox-online-schema-change`: ALTER huge tables without blocking them
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::Exit;

/// ALTER huge tables without blocking them
#[derive(Parser, Debug)]
#[command(
    name = "ox-online-schema-change",
    version,
    about = "ALTER huge tables without blocking them",
    long_about = "Applies an ALTER TABLE online: instantly when the server can, otherwise by copying into a shadow table while replaying concurrent changes, throttled on replica lag and load, verified by checksum, and swapped in atomically."
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
        message: "ox-online-schema-change is not built yet (tracked in issue 6)".to_string(),
    }
    .into())
}
