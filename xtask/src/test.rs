//! `cargo xtask test`: the one command that runs every check, on a fresh
//! Debian/Ubuntu machine as in CI.
//!
//! Installs the MariaDB server when `mariadbd` is missing (apt-get, as root
//! or through sudo) and Garage when `garage` is missing (cargo install; the
//! object-storage tests' S3 cluster), then runs `cargo fmt --check`, `cargo clippy
//! --all-targets -D warnings` and `cargo test --workspace`. Tests that start
//! servers append to a log named by `OXKIT_SERVER_TEST_LOG`; when no server
//! test ran the command fails, so a missing server can never pass silently.

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
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
fn run_counting(cmd: &mut Command, limit: std::time::Duration, prefix: &str) -> Result<(u64, u64)> {
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
            println!("{prefix}{line}");
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

/// The Garage version the object-storage tests run (a real three-node S3
/// cluster; see `tests/src/garage.rs`).
pub const GARAGE_VERSION: &str = "2.5.0";

/// Makes sure a `garage` binary is on `PATH` or in `~/.cargo/bin`,
/// building it from crates.io when missing (`cargo install garage
/// --locked`: about 12 minutes on 2 cores, once per machine).
pub fn ensure_garage() -> Result<()> {
    let in_cargo_bin = std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".cargo/bin/garage"))
        .filter(|p| p.is_file());
    if oxkit::sandbox::find_program(&["garage"]).is_some() || in_cargo_bin.is_some() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing garage {GARAGE_VERSION} (cargo install garage --locked; \
         about 12 minutes on 2 cores, once)"
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).args([
        "install",
        "garage",
        "--version",
        GARAGE_VERSION,
        "--locked",
        "--quiet",
    ]))
}

/// One flavour's run: its name, its passed and failed counts, the log of
/// the servers its tests started and the log of its not-applicable tests.
type FlavourRun = (String, Result<(u64, u64)>, PathBuf, PathBuf);

/// The whole suite: fmt, clippy, then every test, the server tests once
/// per server of the matrix (`OXKIT_SERVERS`, default all; see
/// [`crate::roots`]). The host's flavour runs the whole workspace; the
/// others run the harness crate, where every real-server test lives. The
/// flavours run side by side (the harness's machine-wide slots bound how
/// many servers run at once), each line of output tagged with its name.
pub fn test(root: &Path, extra: &[String]) -> Result<()> {
    let flavours = crate::roots::selected()?;
    ensure_mariadb()?;
    ensure_garage()?;
    let mut envs = Vec::new();
    for f in &flavours {
        envs.push((f, f.provision()?));
    }
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
    // One build before the runs start, so they do not queue on cargo's
    // build lock one behind the other.
    run(Command::new(&cargo).current_dir(root).args([
        "test",
        "--workspace",
        "--no-run",
        "--quiet",
    ]))?;
    std::fs::create_dir_all(root.join("target"))?;
    // The suite takes about 20 minutes on 2 cores with three servers; well
    // past that means a hang, reported long before CI's own limit.
    let limit = std::env::var("OXKIT_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50 * 60);
    let results: Vec<FlavourRun> = std::thread::scope(|s| {
        let handles: Vec<_> = envs
            .iter()
            .enumerate()
            .map(|(i, (f, env))| {
                let name = f.name.to_string();
                let log = root.join(format!("target/server-tests-{name}.log"));
                let skips = root.join(format!("target/skipped-{name}.log"));
                let cargo = cargo.clone();
                s.spawn(move || {
                    let _ = std::fs::write(&log, "");
                    let _ = std::fs::write(&skips, "");
                    let mut cmd = Command::new(&cargo);
                    // Every test binary runs even after one fails, so a
                    // red run lists all that failed, on every server.
                    cmd.current_dir(root).args(["test", "--no-fail-fast"]);
                    if i == 0 {
                        cmd.arg("--workspace");
                    } else {
                        cmd.args(["-p", "oxkit-harness"]);
                    }
                    cmd.args(extra)
                        .env("OXKIT_SERVER_TEST_LOG", &log)
                        .env("OXKIT_SKIP_LOG", &skips)
                        .env_remove(oxkit::sandbox::MARIADBD_ENV)
                        .env_remove(oxkit::sandbox::MYSQLD_ENV)
                        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())));
                    let r = run_counting(
                        &mut cmd,
                        std::time::Duration::from_secs(limit),
                        &format!("[{name}] "),
                    );
                    (name, r, log, skips)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a test runner thread panicked"))
            })
            .collect()
    });
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut errors = Vec::new();
    for (name, r, log, skips) in &results {
        let started = std::fs::read_to_string(log).unwrap_or_default();
        let n = started.lines().count();
        let skipped = std::fs::read_to_string(skips).unwrap_or_default();
        for line in skipped.lines() {
            println!("[{name}] does not apply: {line}");
        }
        match r {
            Ok((p, f)) => {
                passed += p;
                failed += f;
                println!(
                    "[{name}] summary: {p} passed, {f} failed, {} not applicable, {n} test servers started",
                    skipped.lines().count()
                );
                if n == 0 {
                    errors.push(format!(
                        "{name}: no test started a server: the server tests did not run"
                    ));
                }
            }
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    // The packages, installed as a user installs them (after the server
    // tests, which need no release build; skipped when they failed or
    // when extra cargo arguments narrowed the run).
    if errors.is_empty() && extra.is_empty() {
        let t = std::time::Instant::now();
        match crate::package_test::package_test(false, crate::package_test::SUITES) {
            Ok(()) => {
                passed += 1;
                println!("package-test: passed in {:.0?}", t.elapsed());
            }
            Err(e) => {
                failed += 1;
                errors.push(format!("package test: {e:#}"));
            }
        }
    }
    // One closing line for the whole matrix (cargo prints one per test
    // binary, the last often a doc-test run of 0).
    println!("summary: {passed} passed, {failed} failed");
    if !errors.is_empty() {
        bail!("{}", errors.join("\n"));
    }
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
