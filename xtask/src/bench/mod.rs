//! `cargo xtask bench WHICH`: each tool against the tool users would
//! otherwise use, on the same data in the same run, printing the ratio.
//! This module holds what the benchmarks share (the sysbench-shaped load,
//! a loaded primary and replica, timing, release builds, deadlock logs);
//! each benchmark is one submodule.

mod backup;
mod backup_physical;
mod backup_remote;
mod checksum;
mod osc;
mod sync;
pub mod sysbench;

use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::Sandbox;
use std::process::Command;
use std::time::{Duration, Instant};

/// Options of `cargo xtask bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which benchmark: table-checksum
    pub which: String,
    /// Rows in the benchmark table
    #[arg(long, default_value_t = 4_000_000)]
    pub rows: u64,
    /// Keep the servers running at the end until Enter is pressed
    #[arg(long)]
    pub keep: bool,
    /// The server to run on (backup-physical): mariadb-10.11, mariadb-11.8
    /// or mysql-9.7
    #[arg(long, default_value = "mariadb-10.11")]
    pub server: String,
}

/// Loads the sysbench-shaped table with `rows` rows on `s` without binary
/// logging (each server of a benchmark loads its own identical copy) and
/// warms the buffer pool.
pub fn load(s: &Sandbox, rows: u64) -> Result<()> {
    let mut c = s.connect()?;
    c.run("binlog off", "SET SESSION sql_log_bin = 0")?;
    c.run("creating the schema", "CREATE DATABASE sbtest")?;
    fill(&mut c, "sbtest", "sbtest1", rows)?;
    // Warm the buffer pool: both tools then read from memory alike.
    let _: Option<(u64, u64)> = c
        .query_first("SELECT COUNT(*), SUM(LENGTH(c) + LENGTH(pad)) FROM sbtest.sbtest1")
        .context("warming")?;
    Ok(())
}

/// Creates `db`.`table` in sysbench's shape and fills it with `rows` rows
/// (the same rows on every server for the same arguments).
pub fn fill(c: &mut oxkit::conn::Conn, db: &str, table: &str, rows: u64) -> Result<()> {
    let t = oxkit::sql::quote_table(db, table);
    // The sequence tables (seq_1_to_N) live in the current schema; MySQL
    // has none: a recursive CTE counts there instead.
    c.run(
        "choosing the schema",
        &format!("USE {}", oxkit::sql::quote_ident(db)),
    )?;
    let mysql = oxkit::server::Server::detect(c)?.flavor != oxkit::server::Flavor::MariaDB;
    c.run(
        "creating the table",
        &format!(
            "CREATE TABLE {t} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0, \
             c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k)) ENGINE=InnoDB"
        ),
    )?;
    let step = 500_000u64;
    let mut from = 1;
    while from <= rows {
        let to = (from + step - 1).min(rows);
        let (with, source) = if mysql {
            c.run(
                "allowing the counting CTE",
                &format!("SET SESSION cte_max_recursion_depth = {}", step + 1),
            )?;
            (
                format!(
                    "WITH RECURSIVE seq_rows (seq) AS (SELECT {from} UNION ALL \
                     SELECT seq + 1 FROM seq_rows WHERE seq < {to}) "
                ),
                "seq_rows".to_string(),
            )
        } else {
            (String::new(), format!("seq_{from}_to_{to}"))
        };
        c.run(
            "loading rows",
            &format!(
                "INSERT INTO {t} (id, k, c, pad) {with}\
                 SELECT seq, seq * 7919 % {rows}, \
                 CONCAT_WS('-', LPAD(seq * 13 % 99999999999, 11, '0'), LPAD(seq * 17 % 99999999999, 11, '0'), \
                   LPAD(seq * 19 % 99999999999, 11, '0'), LPAD(seq * 23 % 99999999999, 11, '0'), \
                   LPAD(seq * 29 % 99999999999, 11, '0'), LPAD(seq * 31 % 99999999999, 11, '0'), \
                   LPAD(seq * 37 % 99999999999, 11, '0'), LPAD(seq * 41 % 99999999999, 11, '0'), \
                   LPAD(seq * 43 % 99999999999, 11, '0'), LPAD(seq * 47 % 99999999999, 11, '0')), \
                 CONCAT_WS('-', LPAD(seq * 53 % 99999999999, 11, '0'), LPAD(seq * 59 % 99999999999, 11, '0'), \
                   LPAD(seq * 61 % 99999999999, 11, '0'), LPAD(seq * 67 % 99999999999, 11, '0'), \
                   LPAD(seq * 71 % 99999999999, 11, '0')) \
                 FROM {source}"
            ),
        )?;
        from = to + 1;
    }
    Ok(())
}

/// Starts a primary and a replica-to-be (2 GB buffer pools) and loads
/// `rows` identical rows on both at once (see [`load`]). Replication is not
/// started: see [`replicate`].
pub fn loaded_pair(rows: u64) -> Result<(Sandbox, Sandbox)> {
    let server = |id: u32| {
        Sandbox::builder()
            .tcp(true)
            .server_id(id)
            .binlog(true)
            .arg("--innodb-buffer-pool-size=2G")
            .arg("--innodb-log-file-size=512M")
            // Every deadlock in the error log, so a bench can say which
            // statements a client error came from.
            .arg("--innodb-print-all-deadlocks=ON")
            .start()
    };
    let primary = server(1)?;
    let replica = server(2)?;
    eprintln!(
        "primary on port {}, replica on port {}; loading {rows} rows on each",
        primary.port(),
        replica.port(),
    );
    let load_start = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let a = s.spawn(|| load(&primary, rows));
        let b = s.spawn(|| load(&replica, rows));
        a.join().map_err(|_| anyhow::anyhow!("load panicked"))??;
        b.join().map_err(|_| anyhow::anyhow!("load panicked"))??;
        Ok(())
    })?;
    eprintln!("loaded in {:.1}s", load_start.elapsed().as_secs_f64());
    Ok((primary, replica))
}

/// Makes `replica` replicate from `primary` by GTID and gives it a moment
/// to connect.
pub fn replicate(primary: &Sandbox, replica: &Sandbox) -> Result<()> {
    replica.connect()?.run(
        "starting replication",
        &format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
             MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE",
            primary.port()
        ),
    )?;
    std::thread::sleep(Duration::from_secs(2));
    Ok(())
}

/// A backup benchmark's server on 127.0.0.1: server id `id`, the binary
/// log on or off, 2 GB buffer pool and a 512 MB redo log.
pub fn bench_server(id: u32, binlog: bool) -> Result<Sandbox> {
    Sandbox::builder()
        .tcp(true)
        .server_id(id)
        .binlog(binlog)
        .arg("--innodb-buffer-pool-size=2G")
        .arg("--innodb-log-file-size=512M")
        .start()
}

/// Runs `cmd` (stdin closed), failing with what it printed when it exits
/// non-zero; its wall time and stdout. Every benchmark times its commands
/// here.
pub fn timed(what: &str, cmd: &mut Command) -> Result<(Duration, String)> {
    timed_with_stderr(what, cmd).map(|(t, out, _)| (t, out))
}

/// [`timed`], also returning what the command wrote on stderr.
pub fn timed_with_stderr(what: &str, cmd: &mut Command) -> Result<(Duration, String, String)> {
    eprintln!("+ {what}");
    let start = Instant::now();
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    let t = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // For the checksum tools 16 would mean differences: the servers are
    // identical, so only 0 is right.
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((t, text, String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// Builds `tool` (package and binary of the same name) in release mode and
/// returns the binary's path: every benchmark times the optimised build.
pub fn release_tool(tool: &str) -> Result<std::path::PathBuf> {
    crate::test::run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())).args([
            "build",
            "--release",
            "-p",
            tool,
        ]),
    )?;
    Ok(crate::workspace_root()?.join("target/release").join(tool))
}

/// Runs `cargo xtask bench`.
pub fn run(args: &Args) -> Result<()> {
    match args.which.as_str() {
        "table-checksum" => checksum::table_checksum(args),
        "table-sync" => sync::run(args),
        "online-schema-change" => osc::run(args),
        "backup" => backup::run_bench(args),
        "backup-physical" => backup_physical::run_bench(args),
        "backup-remote" => backup_remote::run_bench(args),
        "oltp" => sysbench::bench(args),
        other => bail!(
            "unknown benchmark {other:?} (known: table-checksum, table-sync, online-schema-change, backup, backup-physical, backup-remote, oltp)"
        ),
    }
}

/// Size of `s`'s error log now: where [`deadlocks_since`] starts reading.
pub fn error_log_len(s: &Sandbox) -> u64 {
    std::fs::metadata(s.dir().join("error.log"))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// The deadlocks InnoDB logged (`innodb_print_all_deadlocks`) after byte
/// `from` of `s`'s error log, one line each: the two statements (cut to 90
/// characters) and which one InnoDB rolled back.
pub fn deadlocks_since(s: &Sandbox, from: u64) -> Vec<String> {
    let text = std::fs::read(s.dir().join("error.log")).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(from as usize).min(text.len())..]).into_owned();
    let mut out = Vec::new();
    for dump in text.split("Transactions deadlock detected").skip(1) {
        let lines: Vec<&str> = dump.lines().collect();
        // The statement is the line after each "... thread id N, ... query id"
        // line (MariaDB writes "MariaDB thread id", MySQL "MySQL thread id").
        let stmts: Vec<String> = lines
            .windows(2)
            .filter(|w| w[0].contains(" thread id ") && w[0].contains("query id"))
            .map(|w| w[1].chars().take(90).collect())
            .collect();
        let victim = lines
            .iter()
            .find_map(|l| {
                l.find("WE ROLL BACK TRANSACTION ")
                    .map(|i| &l[i + "WE ROLL BACK TRANSACTION ".len()..])
            })
            .unwrap_or("?");
        out.push(format!("{} | rolled back {victim}", stmts.join(" | vs | ")));
    }
    out
}
