//! `cargo xtask bench backup-physical [--server mysql-9.7]`: ox-backup's
//! physical method against what a user of that server has without
//! XtraBackup, on the same data in one run.
//!
//! One source (binary log and GTIDs on, 1 GB buffer pool) is loaded with
//! the sysbench-shaped table (`--rows`, default 4M). While a probe commits
//! single-row updates in a loop (its longest commit is what each method
//! makes the application wait), each method backs the source up, and its
//! copy is restored:
//! - on MySQL: `ox-backup backup --method physical` (the clone, recovered
//!   and checksummed, stored compressed) and `restore --to-datadir`, then a
//!   server started on it; `CLONE LOCAL DATA DIRECTORY` into a directory,
//!   copied back with `cp -a` and a server started on it (its first start
//!   applies the cloned redo); `mysqldump --single-transaction` from the
//!   same Debian root, loaded with the root's `mysql` client into a fresh
//!   server;
//! - on MariaDB: ox-backup's own physical method beside `mariadb-backup
//!   --backup`, `--prepare` + `--copy-back` (installed when missing) and
//!   `mariadb-dump --single-transaction`.
//!
//! Every restore is checked by row count. Prints wall times, the longest
//! commit, stored sizes, ratios, and ox-backup's phases. Not a test:
//! numbers depend on the machine.

use super::{timed, Args};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::{Install, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: usize = 2;

/// A writer committing one-row updates as fast as it can; the longest
/// commit since the last [`Probe::take`] is what a backup made it wait.
struct Probe {
    stop: Arc<AtomicBool>,
    longest_us: Arc<AtomicU64>,
    /// Commits over 300 ms since the last take: when they ended and how
    /// long they took (where in a backup the application waited).
    slow: Arc<std::sync::Mutex<Vec<(Instant, f64)>>>,
    handle: Option<std::thread::JoinHandle<Result<u64>>>,
}

impl Probe {
    fn start(s: &Sandbox, rows: u64) -> Result<Probe> {
        let mut c = s.connect()?;
        let stop = Arc::new(AtomicBool::new(false));
        let longest_us = Arc::new(AtomicU64::new(0));
        let slow = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (st, lg, sl) = (stop.clone(), longest_us.clone(), slow.clone());
        let handle = std::thread::spawn(move || -> Result<u64> {
            let mut i = 0u64;
            while !st.load(Ordering::SeqCst) {
                i += 1;
                let t = Instant::now();
                c.run(
                    "probe commit",
                    &format!(
                        "UPDATE sbtest.sbtest1 SET k = k + 1 WHERE id = {}",
                        1 + (i * 7919) % rows.max(1)
                    ),
                )?;
                let took = t.elapsed();
                lg.fetch_max(took.as_micros() as u64, Ordering::SeqCst);
                if took > Duration::from_millis(300) {
                    if let Ok(mut v) = sl.lock() {
                        v.push((Instant::now(), took.as_secs_f64() * 1000.0));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(i)
        });
        Ok(Probe {
            stop,
            longest_us,
            slow,
            handle: Some(handle),
        })
    }

    /// The longest commit (ms) since the last call.
    fn take(&self) -> f64 {
        if let Ok(mut v) = self.slow.lock() {
            v.clear();
        }
        self.longest_us.swap(0, Ordering::SeqCst) as f64 / 1000.0
    }

    /// The commits over 300 ms since the last take, as seconds after
    /// `from` and milliseconds taken.
    fn slow_since(&self, from: Instant) -> Vec<String> {
        self.slow.lock().map_or_else(
            |_| Vec::new(),
            |v| {
                v.iter()
                    .map(|(at, ms)| {
                        format!(
                            "{:.0} ms ending at {:.1}s",
                            ms,
                            at.duration_since(from).as_secs_f64()
                        )
                    })
                    .collect()
            },
        )
    }

    fn finish(mut self) -> Result<u64> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            _ => bail!("the commit probe panicked"),
        }
    }
}

/// One method's figures.
struct Row {
    name: String,
    backup: f64,
    stall_ms: f64,
    stored: u64,
    restore: f64,
}

fn dir_size(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !md.is_dir() {
        return md.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// The rows of `sbtest.sbtest1` on `s`.
pub(super) fn count(s: &Sandbox) -> Result<u64> {
    let n: Option<u64> = s
        .connect()?
        .query_first("SELECT COUNT(*) FROM sbtest.sbtest1")
        .context("counting restored rows")?;
    Ok(n.unwrap_or(0))
}

/// Starts a server on a restored datadir and checks its row count; the
/// seconds until it answered.
pub(super) fn start_on(install: &Install, dir: &Path, want: u64) -> Result<f64> {
    let t = Instant::now();
    let sb = Sandbox::builder()
        .install(install.clone())
        .from_datadir(dir)
        .arg("--innodb-buffer-pool-size=1G")
        .start()?;
    let secs = t.elapsed().as_secs_f64();
    let n = count(&sb)?;
    sb.stop()?;
    if n != want {
        bail!("{}: {n} rows restored, {want} expected", dir.display());
    }
    Ok(secs)
}

/// Runs the benchmark on `--server`.
pub fn run_bench(args: &Args) -> Result<()> {
    let mut again = vec![
        "bench".to_string(),
        "backup-physical".into(),
        "--rows".into(),
        args.rows.to_string(),
        "--server".into(),
        args.server.clone(),
    ];
    if args.keep {
        again.push("--keep".into());
    }
    crate::test::ensure_mariadb()?;
    if crate::roots::rerun_for(&args.server, &again)? {
        return Ok(());
    }
    let ox = super::release_tool("ox-backup")?;
    let install = Install::find(None, None)?;
    let source = Sandbox::builder()
        .install(install.clone())
        .tcp(true)
        .server_id(1)
        .binlog(true)
        .arg("--innodb-buffer-pool-size=1G")
        .start()?;
    eprintln!(
        "{} source on port {}; loading {} rows",
        install.name(),
        source.port(),
        args.rows
    );
    let t = Instant::now();
    super::load(&source, args.rows)?;
    eprintln!("loaded in {:.1}s", t.elapsed().as_secs_f64());
    let work = std::env::temp_dir().join(format!("oxkit-bench-phys-{}", std::process::id()));
    crate::test::run(Command::new("mkdir").arg("-p").arg(&work))?;
    oxkit::sandbox::give_dir_to_server(&work)?;
    let probe = Probe::start(&source, args.rows)?;
    let rows = if install.is_mysql() {
        mysql_methods(&ox, &install, &source, &work, args.rows, &probe)
    } else {
        mariadb_methods(&ox, &install, &source, &work, args.rows, &probe)
    };
    let commits = probe.finish()?;
    if args.keep {
        eprintln!("work directory {} kept; press Enter to end", work.display());
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    let _ = std::fs::remove_dir_all(&work);
    let rows = rows?;
    print_rows(&install, args.rows, commits, &rows);
    Ok(())
}

fn print_rows(install: &Install, n: u64, commits: u64, rows: &[Row]) {
    println!(
        "\nbackup-physical on {} ({n} rows, {THREADS} threads; the probe committed {commits} updates):",
        install.name()
    );
    println!("| method | backup | longest commit during it | stored | restore (ready to serve) |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.1}s | {:.0} ms | {} | {:.1}s |",
            r.name,
            r.backup,
            r.stall_ms,
            oxkit::report::human_bytes(r.stored),
            r.restore
        );
    }
    if let Some(ox) = rows.first() {
        for other in &rows[1..] {
            println!(
                "ox-backup / {}: backup {:.2}x, restore {:.2}x (below 1 is faster)",
                other.name,
                ox.backup / other.backup.max(0.001),
                ox.restore / other.restore.max(0.001)
            );
        }
    }
}

/// ox-backup's backup and restore, and the phases its manifest records.
fn ox_method(
    ox: &Path,
    source: &Sandbox,
    install: &Install,
    work: &Path,
    n: u64,
    probe: &Probe,
    staging: bool,
) -> Result<Row> {
    let repo = work.join("repo");
    let dsn = source.dsn();
    let mut cmd = Command::new(ox);
    cmd.args(["backup", &dsn, "--repo"])
        .arg(&repo)
        .args(["--method", "physical", "--threads", &THREADS.to_string()])
        .args(["--format", "json"]);
    if staging {
        cmd.arg("--staging-dir").arg(work);
    }
    probe.take();
    let began = Instant::now();
    let (t, out) = timed("ox-backup backup --method physical", &mut cmd)?;
    let slow = probe.slow_since(began);
    if !slow.is_empty() {
        eprintln!("  slow commits during it: {}", slow.join(", "));
    }
    let stall = probe.take();
    let j: serde_json::Value = serde_json::from_str(&out).context("ox-backup's JSON")?;
    if let Some(phases) = j["backup"]["phases"].as_array() {
        let p: Vec<String> = phases
            .iter()
            .map(|p| {
                format!(
                    "{} {:.1}s",
                    p["phase"].as_str().unwrap_or("?"),
                    p["secs"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        eprintln!("  ox-backup phases: {}", p.join(", "));
    }
    let stored = dir_size(&repo);
    let target = work.join("ox-restored");
    let (r, _) = timed(
        "ox-backup restore --to-datadir",
        Command::new(ox)
            .args(["restore", "--repo"])
            .arg(&repo)
            .arg("--to-datadir")
            .arg(&target),
    )?;
    let start = start_on(install, &target, n)?;
    eprintln!("  restore {:.1}s + start {start:.1}s", r.as_secs_f64());
    std::fs::remove_dir_all(&target).ok();
    std::fs::remove_dir_all(&repo).ok();
    Ok(Row {
        name: "ox-backup --method physical".into(),
        backup: t.as_secs_f64(),
        stall_ms: stall,
        stored,
        restore: r.as_secs_f64() + start,
    })
}

fn mysql_methods(
    ox: &Path,
    install: &Install,
    source: &Sandbox,
    work: &Path,
    n: u64,
    probe: &Probe,
) -> Result<Vec<Row>> {
    source.connect()?.run(
        "installing the clone plugin",
        "INSTALL PLUGIN clone SONAME 'mysql_clone.so'",
    )?;
    let mut rows = vec![ox_method(ox, source, install, work, n, probe, true)?];

    // CLONE LOCAL DATA DIRECTORY, copied back and started.
    let clone = work.join("clone");
    let mut c = source.connect()?;
    probe.take();
    let t = Instant::now();
    eprintln!("+ CLONE LOCAL DATA DIRECTORY");
    c.run(
        "cloning",
        &format!(
            "CLONE LOCAL DATA DIRECTORY = {}",
            oxkit::sql::quote_str(&clone.display().to_string())
        ),
    )?;
    let backup = t.elapsed().as_secs_f64();
    let stall = probe.take();
    let stored = dir_size(&clone);
    let back = work.join("clone-restored");
    let (cp, _) = timed(
        "cp -a (the clone back into a datadir)",
        Command::new("cp").arg("-a").arg(&clone).arg(&back),
    )?;
    let start = start_on(install, &back, n)?;
    rows.push(Row {
        name: "CLONE LOCAL DATA DIRECTORY".into(),
        backup,
        stall_ms: stall,
        stored,
        restore: cp.as_secs_f64() + start,
    });
    std::fs::remove_dir_all(&clone).ok();
    std::fs::remove_dir_all(&back).ok();

    // mysqldump --single-transaction, loaded into a fresh server.
    let dumper = install
        .client(&["mysqldump"])
        .context("no mysqldump beside mysqld")?;
    let client = install
        .client(&["mysql"])
        .context("no mysql client beside mysqld")?;
    let dump = work.join("dump.sql");
    let mut cmd = install.command(&dumper);
    cmd.args([
        "--no-defaults",
        "-h127.0.0.1",
        "-uroot",
        "--single-transaction",
    ])
    .arg(format!("-P{}", source.port()))
    .args(["--set-gtid-purged=OFF", "--databases", "sbtest"])
    .stdout(std::fs::File::create(&dump).context("dump file")?);
    probe.take();
    let (t, _) = timed("mysqldump --single-transaction", &mut cmd)?;
    let stall = probe.take();
    let stored = dir_size(&dump);
    let target = Sandbox::builder()
        .install(install.clone())
        .tcp(true)
        .arg("--innodb-buffer-pool-size=1G")
        .start()?;
    let mut cmd = install.command(&client);
    cmd.args(["--no-defaults", "-h127.0.0.1", "-uroot"])
        .arg(format!("-P{}", target.port()));
    let r = load_file(&mut cmd, &dump, "mysql < dump.sql")?;
    let got = count(&target)?;
    if got != n {
        bail!("mysqldump restore: {got} rows, {n} expected");
    }
    rows.push(Row {
        name: "mysqldump --single-transaction".into(),
        backup: t.as_secs_f64(),
        stall_ms: stall,
        stored,
        restore: r,
    });
    Ok(rows)
}

/// Runs `cmd` with `file` as its stdin; its wall time.
fn load_file(cmd: &mut Command, file: &Path, what: &str) -> Result<f64> {
    eprintln!("+ {what}");
    let t = Instant::now();
    let out = cmd
        .stdin(std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?)
        .stdout(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(t.elapsed().as_secs_f64())
}

fn mariadb_methods(
    ox: &Path,
    install: &Install,
    source: &Sandbox,
    work: &Path,
    n: u64,
    probe: &Probe,
) -> Result<Vec<Row>> {
    let mut rows = vec![ox_method(ox, source, install, work, n, probe, false)?];
    if oxkit::sandbox::find_program(&["mariadb-backup"]).is_none() {
        crate::test::apt_install(&["mariadb-backup"])?;
    }
    let target: PathBuf = work.join("mb");
    probe.take();
    let (b, _) = timed(
        "mariadb-backup --backup",
        Command::new("mariadb-backup")
            .args(["--no-defaults", "--backup", "-uroot"])
            .arg(format!("--socket={}", source.socket().display()))
            .arg(format!("--parallel={THREADS}"))
            .arg(format!("--target-dir={}", target.display())),
    )?;
    let stall = probe.take();
    let stored = dir_size(&target);
    let (p, _) = timed(
        "mariadb-backup --prepare",
        Command::new("mariadb-backup")
            .args(["--no-defaults", "--prepare"])
            .arg(format!("--target-dir={}", target.display())),
    )?;
    let back = work.join("mb-restored");
    let (cb, _) = timed(
        "mariadb-backup --copy-back",
        Command::new("mariadb-backup")
            .args(["--no-defaults", "--copy-back"])
            .arg(format!("--target-dir={}", target.display()))
            .arg(format!("--datadir={}", back.display())),
    )?;
    let start = start_on(install, &back, n)?;
    rows.push(Row {
        name: "mariadb-backup".into(),
        backup: b.as_secs_f64(),
        stall_ms: stall,
        stored,
        restore: p.as_secs_f64() + cb.as_secs_f64() + start,
    });
    Ok(rows)
}
