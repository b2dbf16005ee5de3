//! `cargo xtask`: the project's development tasks, written in Rust so they
//! run the same everywhere `cargo` does (no make, no shell scripts).
//!
//! Each task lives in its own module with a `clap::Args` struct and a
//! `run` function; this file only dispatches. To add a task, add a module
//! and one variant to [`Task`].

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool: what it prints is its report"
)]

mod bench;
mod changelog;
mod completions;
mod copyright;
mod deb;
mod demo;
mod dist;
mod fuzz;
mod generated;
mod man;
mod package_test;
mod roots;
mod rpm;
mod test;
mod tools;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The xtask command line: one subcommand per task.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", about = "oxkit development tasks", version)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// The tasks `cargo xtask` knows.
#[derive(Subcommand, Debug)]
enum Task {
    /// Render the man pages into man/man1 (or check them with --check)
    Man(man::Args),
    /// Render shell completions into packaging/completions (or check them)
    Completions(completions::Args),
    /// Build release binaries, the package staging tree, the .deb and the .rpm
    Dist(dist::Args),
    /// Build the packages, lint them, and install, upgrade, remove and purge
    /// the .deb in Debian bookworm and trixie roots
    PackageTest(package_test::Args),
    /// Run every check: install MariaDB if missing, fmt, clippy, all tests
    Test(TestArgs),
    /// Start a throwaway primary + replica with sample data and run the tools
    Demo(DemoArgs),
    /// Run a benchmark against the tool users would otherwise use (see bench/)
    Bench(bench::Args),
    /// Run the differential drift fuzzer's long run (short run: part of `test`)
    FuzzDrift(fuzz::Args),
    /// Build (when missing) the roots of the servers the host lacks, and print where each server is
    Roots(RootsArgs),
}

/// Options of `cargo xtask roots`.
#[derive(clap::Args, Debug)]
struct RootsArgs {
    /// The servers (default: `OXKIT_SERVERS`, else all)
    server: Vec<String>,
}

/// Options of `cargo xtask test`.
#[derive(clap::Args, Debug)]
struct TestArgs {
    /// Extra arguments passed to `cargo test` (after `--workspace`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    cargo_test_args: Vec<String>,
}

/// Options of `cargo xtask demo`.
#[derive(clap::Args, Debug)]
struct DemoArgs {
    /// Leave the servers running until Enter is pressed
    #[arg(long)]
    keep: bool,
    /// The server to run it on: mariadb-10.11 (the host's package),
    /// mariadb-11.8 or mysql-9.7 (built into /var/cache/oxkit/roots on
    /// first use)
    #[arg(long, default_value = "mariadb-10.11")]
    server: String,
}

/// Runs the task and turns its error into one line on stderr and exit 1,
/// so CI logs show the whole context chain.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.task {
        Task::Man(args) => man::run(args),
        Task::Completions(args) => completions::run(args),
        Task::Dist(args) => dist::run(args),
        Task::PackageTest(args) => package_test::run_args(args),
        Task::Test(args) => {
            workspace_root().and_then(|root| test::test(&root, &args.cargo_test_args))
        }
        Task::Bench(args) => bench::run(args),
        Task::Roots(args) => roots::provision_and_show(&args.server),
        Task::FuzzDrift(args) => workspace_root().and_then(|root| fuzz::run(&root, args)),
        Task::Demo(args) => {
            workspace_root().and_then(|root| demo::demo(&root, args.keep, &args.server))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of `xtask/`), so tasks work from any
/// current directory and tests can find the committed generated files.
pub fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("xtask's manifest directory has no parent")
}

/// The workspace version (`[workspace.package] version`), used for the man
/// pages, the package name and the staging directory.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
