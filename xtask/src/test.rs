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
fn run_counting(cmd: &mut Command, limit: std::time::Duration) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    eprintln!("+ {cmd:?}");
    // Its own process group, so a run past `limit` can be ended whole
    // (cargo, the test binaries and the servers they started) and report
    // which tests hung instead of stalling CI until its own hard limit.
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let done = Arc::new(AtomicBool::new(false));
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (done, timed_out, pgid) = (done.clone(), timed_out.clone(), child.id());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while !done.load(Ordering::SeqCst) {
                if start.elapsed() > limit {
                    timed_out.store(true, Ordering::SeqCst);
                    eprintln!(
                        "xtask: the tests ran past {}s (OXKIT_TEST_TIMEOUT_SECS); ending process group {pgid}; \
                         the tests cargo reported as running for over 60 seconds are the ones that hung",
                        limit.as_secs()
                    );
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &format!("-{pgid}")])
                        .status();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        })
    };
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
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    if timed_out.load(Ordering::SeqCst) {
        println!("summary: {passed} passed, {failed} failed, then timed out");
        bail!("{cmd:?} did not finish within {}s", limit.as_secs());
    }
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
    // The suite takes about 10 minutes on 2 cores; well past that means a
    // hang, reported long before CI's own limit.
    let limit = std::env::var("OXKIT_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(45 * 60);
    let (passed, failed) = run_counting(&mut cmd, std::time::Duration::from_secs(limit))?;
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
