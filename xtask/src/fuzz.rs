//! `cargo xtask fuzz-drift`: the differential drift fuzzer's long run
//! (issue 14). It runs the `fuzz_drift` test of the harness crate with
//! `OXKIT_FUZZ_CASES` and `OXKIT_FUZZ_SEED`; the short run (seeds 1–50)
//! is part of `cargo test`, so of `cargo xtask test`. Without `--seed`
//! the regression seeds run first, then seeds 1..=N.

use anyhow::Result;
use std::path::Path;
use std::process::Command;

/// Options of `cargo xtask fuzz-drift`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Random cases to run
    #[arg(long, default_value_t = 500)]
    cases: u64,
    /// First seed (cases run seeds S, S+1, ...); a failing case prints its
    /// seed, and `--seed S --cases 1` reproduces it
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs the fuzzer test with the requested budget.
pub fn run(root: &Path, args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "test",
            "-p",
            "oxkit-harness",
            "--test",
            "fuzz_drift",
            "--",
            "--nocapture",
        ])
        .env("OXKIT_FUZZ_CASES", args.cases.to_string());
    if let Some(s) = args.seed {
        cmd.env("OXKIT_FUZZ_SEED", s.to_string());
    }
    crate::test::run(&mut cmd)
}
