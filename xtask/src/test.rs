//! `cargo xtask test`: the one command that runs every check, on a fresh
//! Debian/Ubuntu machine as in CI.
//!
//! Installs the MariaDB server when `mariadbd` is missing (apt-get, as root
//! or through sudo), then runs `cargo fmt --check`, `cargo clippy
//! --all-targets -D warnings` and `cargo test --workspace`. Tests that start
//! servers append to a log named by `OXKIT_SERVER_TEST_LOG`; when no server
//! test ran the command fails, so a missing server can never pass silently.

use anyhow::{bail, Context as _, Result};
use std::path::Path;
use std::process::Command;

/// Runs a command, failing with its name when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Installs Debian packages with apt-get, as root or through sudo.
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let prefix: Vec<&str> = if oxkit::sandbox::is_root() {
        vec![]
    } else {
        vec!["sudo", "-n"]
    };
    let apt = |args: &[&str]| {
        let mut all = prefix.clone();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut c = Command::new(all[0]);
        c.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-q"]))?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(&mut apt(&args))
}

/// The number before `word` in the body of a `test result:` line
/// (`ok. 57 passed; 0 failed; ...`).
fn count_in(rest: &str, word: &str) -> u64 {
    rest.split(';')
        .find_map(|p| {
            p.trim()
                .strip_suffix(word)
                .and_then(|n| n.split_whitespace().last())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Runs `cargo test`, echoing its output, and adds up the `test result:`
/// lines. Fails when the command fails.
fn run_counting(cmd: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    eprintln!("+ {cmd:?}");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let (mut passed, mut failed) = (0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                passed += count_in(rest, "passed");
                failed += count_in(rest, "failed");
            }
        }
    }
    let status = child.wait()?;
    if !status.success() {
        println!("summary: {passed} passed, {failed} failed");
        bail!("{cmd:?} failed: {status}");
    }
    Ok((passed, failed))
}

/// Makes sure what the server tests need is there, installing what is
/// missing: the MariaDB server and client, the openssl command (the TLS
/// test makes its own CA with it), and Percona Toolkit (the checksum test
/// checks that pt-table-sync reads the checksum table ox-table-checksum
/// writes).
pub fn ensure_mariadb() -> Result<()> {
    let have_server = oxkit::sandbox::find_program(&["mariadbd", "mysqld"]).is_some()
        && oxkit::sandbox::find_program(&["mariadb-install-db", "mysql_install_db"]).is_some();
    let have_openssl = oxkit::sandbox::find_program(&["openssl"]).is_some();
    let mut missing = Vec::new();
    // ox-backup's point-in-time tests run the mariadb and mariadb-binlog
    // clients.
    let have_clients = oxkit::sandbox::find_program(&["mariadb"]).is_some()
        && oxkit::sandbox::find_program(&["mariadb-binlog"]).is_some();
    if !have_server || !have_clients {
        missing.extend(["mariadb-server", "mariadb-client"]);
    }
    if !have_openssl {
        missing.push("openssl");
    }
    if oxkit::sandbox::find_program(&["pt-table-sync"]).is_none() {
        missing.push("percona-toolkit");
    }
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    apt_install(&missing)?;
    if oxkit::sandbox::find_program(&["mariadbd", "mysqld"]).is_none() {
        bail!("mariadb-server was installed but no mariadbd was found");
    }
    Ok(())
}

/// The whole suite.
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    ensure_mariadb()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(&cargo)
        .current_dir(root)
        .args(["fmt", "--all", "--", "--check"]))?;
    run(Command::new(&cargo).current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]))?;
    let log = root.join("target/server-tests.log");
    std::fs::create_dir_all(root.join("target"))?;
    std::fs::write(&log, "")?;
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root)
        .args(["test", "--workspace"])
        .args(extra)
        .env("OXKIT_SERVER_TEST_LOG", &log);
    let (passed, failed) = run_counting(&mut cmd)?;
    let started = std::fs::read_to_string(&log).unwrap_or_default();
    let n = started.lines().count();
    if n == 0 {
        bail!("no test started a MariaDB server: the server tests did not run");
    }
    eprintln!("xtask: {n} test servers started by the suite");
    // One closing line for the whole workspace (cargo prints one per test
    // binary, the last often a doc-test run of 0).
    println!("summary: {passed} passed, {failed} failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The closing-line arithmetic on cargo's real format.
    #[test]
    fn counts_cargo_result_lines() {
        let line = "test result: ok. 57 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s";
        let rest = line.strip_prefix("test result: ").unwrap_or_default();
        assert_eq!(super::count_in(rest, "passed"), 57);
        assert_eq!(super::count_in(rest, "failed"), 2);
    }
}
