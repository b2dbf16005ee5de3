//! `cargo xtask bench backup`: ox-backup against mysqldump and
//! mydumper/myloader on the same data, in one run.
//!
//! Starts a source (binary log on) and a target server (2 GB buffer pools)
//! and measures two shapes of data: the sysbench-shaped table (`--rows`,
//! default 4M, schema `sbtest`) and many small tables (`MANY_TABLES` tables
//! of `MANY_ROWS` rows with a secondary index, schema `many`: the common
//! schema). For each it times, with the same thread count (2) where the
//! tool has one:
//! - `mariadb-dump --single-transaction` into one SQL file, and its restore
//!   through the `mariadb` client;
//! - `mydumper -t N -r 250000 -c` (gzip) and `myloader -t N`;
//! - `ox-backup backup --threads N` (zstd level 3) and `ox-backup restore
//!   --threads N`, then `ox-backup verify` (restore into a throwaway server
//!   and checksum comparison).
//!
//! Each restore goes into the target after the previous copy is dropped,
//! and is checked by row count. Prints wall times, stored sizes, the
//! ratios, and ox-backup's restore profile (busy seconds per kind of
//! work, from its JSON report). Installs Debian's mydumper and mariadb-client when missing. Not
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

/// Tables and rows per table of the many-small-tables shape.
const MANY_TABLES: u64 = 500;
const MANY_ROWS: u64 = 1000;

fn reset(target: &Sandbox, db: &str) -> Result<()> {
    target.connect()?.run(
        "dropping the previous copy",
        &format!("DROP DATABASE IF EXISTS {db}"),
    )?;
    Ok(())
}

/// Rows in every base table of `db` on `target`.
fn rows(target: &Sandbox, db: &str) -> Result<u64> {
    let mut c = target.connect()?;
    let tables: Vec<String> = c.rows(
        "listing restored tables",
        &format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_TYPE = 'BASE TABLE'"
        ),
    )?;
    let mut n = 0;
    for t in tables {
        let r: Option<u64> = c
            .query_first(format!("SELECT COUNT(*) FROM {db}.{t}"))
            .context("counting restored rows")?;
        n += r.unwrap_or(0);
    }
    Ok(n)
}

/// Creates the many-small-tables schema on `s`.
fn load_many(s: &Sandbox) -> Result<()> {
    let mut c = s.connect()?;
    c.run("binlog off", "SET SESSION sql_log_bin = 0")?;
    c.run("creating the schema", "CREATE DATABASE many")?;
    for i in 0..MANY_TABLES {
        c.run(
            "creating a small table",
            &format!(
                "CREATE TABLE many.t{i} (id INT PRIMARY KEY, a VARCHAR(64) NOT NULL, b INT NOT NULL, KEY by_b (b))"
            ),
        )?;
        c.run(
            "filling a small table",
            &format!(
                "INSERT INTO many.t{i} SELECT seq, MD5(seq), seq % 97 FROM many.seq_1_to_{MANY_ROWS}"
            ),
        )?;
    }
    Ok(())
}

/// One shape's figures.
struct Times {
    md: (Duration, Duration, u64),
    my: (Duration, Duration, u64),
    ox: (Duration, Duration, u64),
    verify: Duration,
    profile: String,
}

/// Runs the three tools on schema `db` of `source` (`expect` rows), each
/// restored into `target`.
fn compare(w: &Path, source: &Sandbox, target: &Sandbox, db: &str, expect: u64) -> Result<Times> {
    let ox = super::release_tool("ox-backup")?;
    let threads = THREADS.to_string();
    let (sp, tp) = (source.port(), target.port());
    let check = |tool: &str| -> Result<()> {
        let got = rows(target, db)?;
        if got != expect {
            bail!("the {tool} restore of {db} has {got} rows, not {expect}");
        }
        Ok(())
    };

    // mysqldump
    let dump = w.join(format!("{db}.sql"));
    let md_b = shell(
        "mariadb-dump --single-transaction",
        &format!(
            "mariadb-dump --no-defaults -h127.0.0.1 -P{sp} -uroot --single-transaction --databases {db} > {}",
            dump.display()
        ),
    )?;
    let md_size = dir_size(&dump);
    reset(target, db)?;
    let md_r = shell(
        "mariadb < dump.sql",
        &format!(
            "mariadb --no-defaults -h127.0.0.1 -P{tp} -uroot < {}",
            dump.display()
        ),
    )?;
    check("mysqldump")?;

    // mydumper / myloader
    let mdir = w.join(format!("mydumper-{db}"));
    let my_b = run(
        "mydumper",
        Command::new("mydumper")
            .args(["-h", "127.0.0.1", "-P", &sp.to_string(), "-u", "root"])
            .args(["-t", &threads, "-B", db, "-r", "250000", "-c", "-o"])
            .arg(&mdir),
    )?;
    let my_size = dir_size(&mdir);
    reset(target, db)?;
    let my_r = run(
        "myloader",
        Command::new("myloader")
            .args(["-h", "127.0.0.1", "-P", &tp.to_string(), "-u", "root"])
            .args(["-t", &threads, "-d"])
            .arg(&mdir),
    )?;
    check("myloader")?;

    // ox-backup
    let repo = w.join(format!("repo-{db}"));
    let src = format!("h=127.0.0.1,P={sp},u=root");
    let dst = format!("h=127.0.0.1,P={tp},u=root");
    let ox_b = run(
        "ox-backup backup",
        Command::new(&ox)
            .args(["backup", &src, "--threads", &threads, "--databases", db])
            .args(["--no-users", "--repo"])
            .arg(&repo),
    )?;
    let ox_size = dir_size(&repo.join("backups"));
    reset(target, db)?;
    let (ox_r, out) = super::timed(
        "ox-backup restore",
        Command::new(&ox)
            .args(["restore", &dst, "--threads", &threads, "--format", "json"])
            .arg("--repo")
            .arg(&repo),
    )?;
    eprintln!("  {:.1}s", ox_r.as_secs_f64());
    check("ox-backup")?;
    let doc: serde_json::Value =
        serde_json::from_str(&out).context("reading ox-backup restore's JSON")?;
    let p = &doc["profile"];
    let f = |k: &str| p[k].as_f64().unwrap_or(0.0);
    let profile = format!(
        "create {:.1}, read+check {:.1}, LOAD DATA {:.1}, indexes {:.1}, objects {:.1} (busy seconds summed over {THREADS} connections)",
        f("create_secs"),
        f("read_secs"),
        f("load_secs"),
        f("index_secs"),
        f("objects_secs")
    );
    let verify = run(
        "ox-backup verify",
        Command::new(&ox)
            .args([
                "verify",
                "--threads",
                &threads,
                "--verify-buffer-pool",
                "2G",
            ])
            .arg("--repo")
            .arg(&repo),
    )?;
    Ok(Times {
        md: (md_b, md_r, md_size),
        my: (my_b, my_r, my_size),
        ox: (ox_b, ox_r, ox_size),
        verify,
        profile,
    })
}

fn print(what: &str, t: &Times) {
    let mb = |b: u64| b as f64 / 1_048_576.0;
    let s = |d: Duration| d.as_secs_f64();
    println!("\n{what}, {THREADS} threads (mariadb-dump: 1)\n");
    println!("| tool | backup s | restore s | stored MiB | verify s |");
    println!("|---|---|---|---|---|");
    println!(
        "| mariadb-dump + mariadb | {:.1} | {:.1} | {:.0} (SQL, uncompressed) | - |",
        s(t.md.0),
        s(t.md.1),
        mb(t.md.2)
    );
    println!(
        "| mydumper/myloader -c | {:.1} | {:.1} | {:.0} (gzip) | - |",
        s(t.my.0),
        s(t.my.1),
        mb(t.my.2)
    );
    println!(
        "| ox-backup | {:.1} | {:.1} | {:.0} (zstd 3) | {:.1} |",
        s(t.ox.0),
        s(t.ox.1),
        mb(t.ox.2),
        s(t.verify)
    );
    println!(
        "\nbackup: mydumper / ox = {:.2}; restore: myloader / ox = {:.2}, mariadb client / ox = {:.2} (target >= 2.0 for both)",
        s(t.my.0) / s(t.ox.0),
        s(t.my.1) / s(t.ox.1),
        s(t.md.1) / s(t.ox.1)
    );
    println!("ox-backup restore profile: {}", t.profile);
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
    let source = super::bench_server(1, true)?;
    let target = super::bench_server(2, false)?;
    eprintln!(
        "source on port {}, target on port {}; loading {} rows, then {MANY_TABLES} tables of {MANY_ROWS} rows",
        source.port(),
        target.port(),
        args.rows
    );
    load(&source, args.rows)?;
    load_many(&source)?;
    let work = std::env::temp_dir().join(format!("oxkit-bench-backup-{}", std::process::id()));
    std::fs::create_dir_all(&work).context("temp dir")?;
    let big = compare(&work, &source, &target, "sbtest", args.rows)?;
    reset(&target, "sbtest")?;
    let many = compare(&work, &source, &target, "many", MANY_TABLES * MANY_ROWS)?;
    print(&format!("{} rows in one table", args.rows), &big);
    print(&format!("{MANY_TABLES} tables of {MANY_ROWS} rows"), &many);
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
