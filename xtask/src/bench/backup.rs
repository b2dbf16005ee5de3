//! `cargo xtask bench backup`: ox-backup against mysqldump and
//! mydumper/myloader on the same data, in one run.
//!
//! Starts a source (binary log on) and a target server (2 GB buffer pools),
//! loads the sysbench-shaped table on the source (`--rows`, default 4M) and
//! times, with the same thread count (2) where the
//! tool has one:
//! - `mariadb-dump --single-transaction` into one SQL file, and its restore
//!   through the `mariadb` client;
//! - `mydumper -t N -r 250000 -c` (gzip) and `myloader -t N`;
//! - `ox-backup backup --threads N` (zstd level 3) and `ox-backup restore
//!   --threads N`, then `ox-backup verify` (restore into a throwaway server
//!   and checksum comparison).
//!
//! Each restore goes into the target after the previous copy is dropped,
//! and is checked by row count. Prints wall times, stored sizes and the
//! ratios. Installs Debian's mydumper and mariadb-client when missing. Not
//! a test: numbers depend on the machine.

use super::{load, Args};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::Sandbox;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Threads for every tool that has them (the benchmark machine has 2 cores).
const THREADS: usize = 2;

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.filter_map(|e| e.ok())
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                dir_size(&e.path())
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

fn run(what: &str, cmd: &mut Command) -> Result<Duration> {
    let (t, _) = super::timed(what, cmd)?;
    eprintln!("  {:.1}s", t.as_secs_f64());
    Ok(t)
}

fn shell(what: &str, script: &str) -> Result<Duration> {
    run(what, Command::new("sh").args(["-c", script]))
}

fn reset(target: &Sandbox) -> Result<()> {
    target.connect()?.run(
        "dropping the previous copy",
        "DROP DATABASE IF EXISTS sbtest",
    )?;
    Ok(())
}

fn rows(target: &Sandbox) -> Result<u64> {
    let n: Option<u64> = target
        .connect()?
        .query_first("SELECT COUNT(*) FROM sbtest.sbtest1")
        .context("counting restored rows")?;
    Ok(n.unwrap_or(0))
}

/// Runs the backup benchmark.
pub fn run_bench(args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    if oxkit::sandbox::find_program(&["mydumper"]).is_none()
        || oxkit::sandbox::find_program(&["myloader"]).is_none()
    {
        crate::test::apt_install(&["mydumper"])?;
    }
    if oxkit::sandbox::find_program(&["mariadb-dump"]).is_none() {
        crate::test::apt_install(&["mariadb-client"])?;
    }
    let ox = super::release_tool("ox-backup")?;
    let threads = THREADS.to_string();
    let server = |id: u32, binlog: bool| {
        Sandbox::builder()
            .tcp(true)
            .server_id(id)
            .binlog(binlog)
            .arg("--innodb-buffer-pool-size=2G")
            .arg("--innodb-log-file-size=512M")
            .start()
    };
    let source = server(1, true)?;
    let target = server(2, false)?;
    eprintln!(
        "source on port {}, target on port {}; loading {} rows",
        source.port(),
        target.port(),
        args.rows
    );
    load(&source, args.rows)?;
    let work = std::env::temp_dir().join(format!("oxkit-bench-backup-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("temp dir")?;
    let w = work.as_path();
    let (sp, tp) = (source.port(), target.port());

    // mysqldump
    let dump = w.join("dump.sql");
    let md_b = shell(
        "mariadb-dump --single-transaction",
        &format!(
            "mariadb-dump --no-defaults -h127.0.0.1 -P{sp} -uroot --single-transaction --databases sbtest > {}",
            dump.display()
        ),
    )?;
    let md_size = dir_size(&dump);
    reset(&target)?;
    let md_r = shell(
        "mariadb < dump.sql",
        &format!(
            "mariadb --no-defaults -h127.0.0.1 -P{tp} -uroot < {}",
            dump.display()
        ),
    )?;
    if rows(&target)? != args.rows {
        bail!("the mysqldump restore lost rows");
    }

    // mydumper / myloader
    let mdir = w.join("mydumper");
    let my_b = run(
        "mydumper",
        Command::new("mydumper")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &sp.to_string(),
                "-u",
                "root",
                "-t",
                &threads,
                "-B",
                "sbtest",
                "-r",
                "250000",
                "-c",
                "-o",
            ])
            .arg(&mdir),
    )?;
    let my_size = dir_size(&mdir);
    reset(&target)?;
    let my_r = run(
        "myloader",
        Command::new("myloader")
            .args([
                "-h",
                "127.0.0.1",
                "-P",
                &tp.to_string(),
                "-u",
                "root",
                "-t",
                &threads,
                "-d",
            ])
            .arg(&mdir),
    )?;
    if rows(&target)? != args.rows {
        bail!("the myloader restore lost rows");
    }

    // ox-backup
    let repo = w.join("repo");
    let src = format!("h=127.0.0.1,P={sp},u=root");
    let dst = format!("h=127.0.0.1,P={tp},u=root");
    let ox_b = run(
        "ox-backup backup",
        Command::new(&ox)
            .args([
                "backup",
                &src,
                "--threads",
                &threads,
                "--databases",
                "sbtest",
                "--no-users",
                "--repo",
            ])
            .arg(&repo),
    )?;
    let ox_size = dir_size(&repo.join("backups"));
    reset(&target)?;
    let ox_r = run(
        "ox-backup restore",
        Command::new(&ox)
            .args(["restore", &dst, "--threads", &threads, "--repo"])
            .arg(&repo),
    )?;
    if rows(&target)? != args.rows {
        bail!("the ox-backup restore lost rows");
    }
    let ox_v = run(
        "ox-backup verify",
        Command::new(&ox)
            .args([
                "verify",
                "--threads",
                &threads,
                "--verify-buffer-pool",
                "2G",
                "--repo",
            ])
            .arg(&repo),
    )?;

    let mb = |b: u64| b as f64 / 1_048_576.0;
    let s = |d: Duration| d.as_secs_f64();
    println!(
        "{} rows, {} threads (mariadb-dump: 1)\n",
        args.rows, THREADS
    );
    println!("| tool | backup s | restore s | stored MiB | verify s |");
    println!("|---|---|---|---|---|");
    println!(
        "| mariadb-dump + mariadb | {:.1} | {:.1} | {:.0} (SQL, uncompressed) | - |",
        s(md_b),
        s(md_r),
        mb(md_size)
    );
    println!(
        "| mydumper/myloader -c | {:.1} | {:.1} | {:.0} (gzip) | - |",
        s(my_b),
        s(my_r),
        mb(my_size)
    );
    println!(
        "| ox-backup | {:.1} | {:.1} | {:.0} (zstd 3) | {:.1} |",
        s(ox_b),
        s(ox_r),
        mb(ox_size),
        s(ox_v)
    );
    println!(
        "\nbackup: mydumper / ox = {:.2}; restore: myloader / ox = {:.2} (target >= 1.5), mysqldump restore / ox = {:.2}",
        s(my_b) / s(ox_b),
        s(my_r) / s(ox_r),
        s(md_r) / s(ox_r)
    );
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
