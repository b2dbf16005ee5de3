//! `cargo xtask bench table-checksum`: ox-table-checksum against
//! pt-table-checksum and a floor, on the same data and replica, in one run.
//!
//! Starts a primary and a replica (2 GB buffer pools, 127.0.0.1), loads the
//! same sysbench-shaped table on both (`--rows`, default 4M; loaded on each
//! server with `sql_log_bin=0`, so the servers start identical without
//! replicating millions of rows), warms both buffer pools, then times:
//! - the floor: one plain full-table checksum query (the default row hash,
//!   no chunking) run on the primary and the replica at the same time;
//! - `ox-table-checksum` with its defaults (replicate method, sha1-crc32), and
//!   with `--method snapshot`;
//! - `pt-table-checksum` 3.x with its defaults (replicate, CRC32);
//! - both tools' defaults on two ordinary schemas loaded beside it: `four`
//!   (4 tables of 100k rows) and `many` (1000 tables of 1000 rows), where
//!   per-table setup costs more than hashing.
//!
//! Prints wall times and the ratios pt/ox and ox/floor. Installs Debian's
//! percona-toolkit when pt-table-checksum is missing. Not a test: numbers
//! depend on the machine.

use super::{fill, loaded_pair, release_tool, replicate, timed, Args};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::Sandbox;
use std::process::Command;
use std::time::{Duration, Instant};

/// The two ordinary schemas of issue 14, beside the one large table:
/// `four` (4 tables of 100k rows) and `many` (1000 tables of 1000 rows),
/// loaded on `s` without binary logging and warmed.
fn load_small_schemas(s: &Sandbox) -> Result<()> {
    let mut c = s.connect()?;
    c.run("binlog off", "SET SESSION sql_log_bin = 0")?;
    c.run(
        "creating the schemas",
        "CREATE DATABASE four; CREATE DATABASE many",
    )?;
    for i in 1..=4 {
        fill(&mut c, "four", &format!("sbtest{i}"), 100_000)?;
    }
    for i in 1..=1000 {
        fill(&mut c, "many", &format!("t{i:04}"), 1000)?;
    }
    for db in ["four", "many"] {
        let tables: Vec<String> = c.query(format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}'"
        ))?;
        for t in tables {
            let _: Option<u64> = c.query_first(format!(
                "SELECT SUM(LENGTH(c)) FROM {}",
                oxkit::sql::quote_table(db, &t)
            ))?;
        }
    }
    Ok(())
}

/// Runs the table-checksum benchmark.
pub fn table_checksum(args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    if oxkit::sandbox::find_program(&["pt-table-checksum"]).is_none() {
        crate::test::apt_install(&["percona-toolkit"])?;
    }
    let ox = release_tool("ox-table-checksum")?;

    let (primary, replica) = loaded_pair(args.rows)?;
    let small_start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let a = s.spawn(|| load_small_schemas(&primary));
        let b = s.spawn(|| load_small_schemas(&replica));
        a.join().map_err(|_| anyhow::anyhow!("load panicked"))??;
        b.join().map_err(|_| anyhow::anyhow!("load panicked"))??;
        Ok(())
    })?;
    eprintln!(
        "4 x 100k and 1000 x 1000 rows loaded in {:.1}s",
        small_start.elapsed().as_secs_f64()
    );
    replicate(&primary, &replica)?;

    // The floor: the default row hash over the whole table, no chunking,
    // on both servers at once.
    let table = {
        let mut c = primary.connect()?;
        oxkit::schema::load_table(&mut c, "sbtest", "sbtest1")?
    };
    let q = oxkit::checksum::TableChecksum::new(
        &table,
        oxkit::checksum::Function::Sha1Crc32,
        &Default::default(),
    )
    .query("", "1=1");
    let floor_start = Instant::now();
    let sums = std::thread::scope(|s| -> Result<Vec<(u64, String)>> {
        let hs: Vec<_> = [&primary, &replica]
            .into_iter()
            .map(|srv| {
                let q = &q;
                s.spawn(move || -> Result<(u64, String)> {
                    let mut c = srv.connect()?;
                    let r: Option<(u64, String)> = c.query_first(q)?;
                    r.context("no result")
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("floor panicked"))?)
            .collect()
    })?;
    let floor = floor_start.elapsed();
    if sums[0] != sums[1] {
        bail!("the servers differ before the benchmark: {sums:?}");
    }

    let hash_costs = hash_costs(&primary, &table)?;

    let dsn = format!("h=127.0.0.1,P={},u=root", primary.port());
    let pt = |db: &str| -> Result<(Duration, String)> {
        timed(
            &format!("pt-table-checksum (defaults) --databases {db}"),
            Command::new("pt-table-checksum")
                .args([
                    &dsn,
                    "--databases",
                    db,
                    "--replicate",
                    "percona.pt_checksums",
                    "--recursion-method",
                    "hosts",
                    // The sandboxes log in ROW format; pt only warns about
                    // replicas that re-log in ROW format for their own replicas.
                    "--no-check-binlog-format",
                ])
                .env("HOME", std::env::temp_dir()),
        )
    };
    // The ordinary schemas first: many small tables is the common case.
    let mut small = Vec::new();
    for (db, what) in [
        ("four", "4 tables x 100k rows"),
        ("many", "1000 tables x 1000 rows"),
    ] {
        let (o, _) = timed(
            &format!("ox-table-checksum (defaults) --databases {db}"),
            Command::new(&ox).args([&dsn, "--databases", db]),
        )?;
        let (p, _) = pt(db)?;
        small.push((what, o, p));
    }
    let (ox_t, ox_out) = timed(
        "ox-table-checksum (defaults)",
        Command::new(&ox).args([&dsn, "--databases", "sbtest"]),
    )?;
    let (ox_one_t, _) = timed(
        "ox-table-checksum --threads 1",
        Command::new(&ox).args([&dsn, "--databases", "sbtest", "--threads", "1"]),
    )?;
    let (ox_snap_t, _) = timed(
        "ox-table-checksum --method snapshot",
        Command::new(&ox).args([&dsn, "--databases", "sbtest", "--method", "snapshot"]),
    )?;
    eprintln!(
        "floor {:.2}s, ox {:.2}s, ox snapshot {:.2}s",
        floor.as_secs_f64(),
        ox_t.as_secs_f64(),
        ox_snap_t.as_secs_f64()
    );
    let (pt_t, pt_out) = pt("sbtest")?;
    println!("\nox-table-checksum:\n{ox_out}\npt-table-checksum:\n{pt_out}");
    let s = |d: Duration| d.as_secs_f64();
    println!("rows: {} (primary + 1 replica, same data)", args.rows);
    println!(
        "floor (one full-table default-hash checksum query per server, in parallel): {:.2}s",
        s(floor)
    );
    println!(
        "ox-table-checksum (replicate, sha1-crc32):  {:.2}s",
        s(ox_t)
    );
    println!(
        "ox-table-checksum (replicate, sha1-crc32, --threads 1):  {:.2}s",
        s(ox_one_t)
    );
    println!(
        "ox-table-checksum (snapshot, sha1-crc32):   {:.2}s",
        s(ox_snap_t)
    );
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!("pt-table-checksum 3.x (replicate, crc32): {:.2}s", s(pt_t));
    println!(
        "ratio pt / ox: {:.2}x (replicate), {:.2}x (snapshot)   [target >= 1.5x]",
        s(pt_t) / s(ox_t),
        s(pt_t) / s(ox_snap_t)
    );
    println!(
        "ratio ox / floor: {:.2}x (replicate), {:.2}x (snapshot)   [target <= 1.3x]",
        s(ox_t) / s(floor),
        s(ox_snap_t) / s(floor)
    );
    println!("\nwhat the row hash costs on the server (one query, one core, whole table):");
    for (name, secs) in &hash_costs {
        println!(
            "  {name:<28} {secs:>6.2}s  {:>5.2}M rows/s",
            args.rows as f64 / secs / 1e6
        );
    }
    println!("\nordinary schemas, defaults of both tools (primary + 1 replica):");
    let mut all = small.clone();
    all.push(("1 table x {rows} rows", ox_t, pt_t));
    for (what, o, p) in all {
        let ratio = s(p) / s(o);
        println!(
            "  {:<26} ox {:>7.2}s  pt {:>7.2}s  pt/ox {:.2}x  [target >= 1.5x: {}]",
            what.replace("{rows}", &args.rows.to_string()),
            s(o),
            s(p),
            ratio,
            if ratio >= 1.5 { "hit" } else { "miss" }
        );
    }
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    Ok(())
}

/// Times one full-table aggregate per row hash on `s` (one query runs on
/// one core): the rows alone, then each function of oxkit::checksum.
fn hash_costs(s: &Sandbox, table: &oxkit::schema::Table) -> Result<Vec<(String, f64)>> {
    use oxkit::checksum::{Function, TableChecksum};
    let mut c = s.connect()?;
    let mut out = Vec::new();
    let mut time = |name: String, sql: String| -> Result<()> {
        let start = Instant::now();
        let _: Option<mysql::Row> = c.query_first(&sql).with_context(|| name.clone())?;
        out.push((name, start.elapsed().as_secs_f64()));
        Ok(())
    };
    let t = oxkit::sql::quote_table(&table.db, &table.name);
    time(
        "rows only (COUNT(*))".into(),
        format!("SELECT COUNT(*) FROM {t}"),
    )?;
    for f in [
        Function::Crc32,
        Function::Sha1Crc32,
        Function::Sha1,
        Function::Md5,
        Function::Sha2,
    ] {
        let q = TableChecksum::new(table, f, &Default::default()).query("", "1=1");
        let name = serde_json::to_value(f)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        time(name, q)?;
    }
    Ok(out)
}
