//! `cargo xtask bench online-schema-change`: ox-online-schema-change
//! against pt-online-schema-change and the server's own online ALTER, on
//! the same table, in one run.
//!
//! Starts a primary and a replica (2 GB buffer pools), loads the same
//! sysbench-shaped table on both (`--rows`, default 4M; each server loads
//! its own copy with `sql_log_bin=0`), starts replication, and times one
//! full rebuild (`ENGINE=InnoDB`, which every method can do: the native
//! ALTER in place, both tools by copying) three ways on an idle server:
//! - native `ALTER TABLE ... ENGINE=InnoDB, ALGORITHM=INPLACE, LOCK=NONE`;
//! - `pt-online-schema-change --alter ENGINE=InnoDB --execute` (defaults);
//! - `ox-online-schema-change --alter ENGINE=InnoDB --execute` (defaults:
//!   binary log capture, `--threads 2`, `--pace adaptive`; and with
//!   `--sleep-ratio 0`, never paced; under load also with `--method
//!   triggers`).
//!
//! For each it prints the wall time on the primary and how much longer the
//! replica needed to apply it (a native ALTER replicates as one statement
//! that starts on the replica only after the primary finished). The data
//! is checksummed on both servers at the end (CHECKSUM TABLE), so a wrong
//! copy fails the benchmark.
//!
//! Then the same three changes run again while sysbench `oltp_read_write`
//! (4 threads, [`super::sysbench`]) runs on the table at half the
//! capacity measured just before, and the application's tps, p99 latency
//! and client errors during each change are printed next to a load-only
//! window of the same run. Not a test: numbers depend on the machine.

use super::sysbench::{capacity, Load, Options, Stats};
use super::{loaded_pair, replicate, Args};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::Sandbox;
use oxkit::server::Server;
use std::process::Command;
use std::time::{Duration, Instant};

const ALTER: &str = "ENGINE=InnoDB";

/// Waits until `replica` has applied everything `primary` wrote so far;
/// returns how long that took.
fn catch_up(primary: &Sandbox, replica: &Sandbox) -> Result<Duration> {
    let start = Instant::now();
    let mut p = primary.connect()?;
    let server = Server::detect(&mut p)?;
    let pos: Option<String> = p.query_first("SELECT @@gtid_binlog_pos")?;
    let mut r = replica.connect()?;
    if !server.wait_for_gtid(&mut r, &pos.unwrap_or_default(), Duration::from_secs(3600))? {
        bail!("the replica did not catch up within an hour");
    }
    Ok(start.elapsed())
}

fn checksum(s: &Sandbox) -> Result<u64> {
    let mut c = s.connect()?;
    let r: Option<(String, Option<u64>)> =
        c.query_first("CHECKSUM TABLE sbtest.sbtest1 EXTENDED")?;
    r.and_then(|r| r.1).context("no checksum")
}

fn timed(what: &str, cmd: &mut Command) -> Result<Duration> {
    super::timed(what, cmd).map(|(t, _)| t)
}

/// Runs ox-online-schema-change with `--format json` and prints where its
/// time went (copy, checksum, swap), which the wall time alone hides.
fn ox_timed(what: &str, ox: &std::path::Path, args: &[&str]) -> Result<Duration> {
    let (t, stdout, stderr) =
        super::timed_with_stderr(what, Command::new(ox).args(args).args(["--format", "json"]))?;
    // What the pacing and the swap said (why a round yielded, a retried lock).
    for line in stderr
        .lines()
        .filter(|l| l.contains("pacing:") || l.contains("not granted"))
    {
        eprintln!("    {line}");
    }
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
    let f = |k: &str| j[k].as_f64().unwrap_or(f64::NAN);
    eprintln!(
        "    method {}, copy {:.1}s ({} chunks in {} rounds, yielded after {}), checksum {:.1}s ({} chunks, {} compared under \
         locks, {} copied again), swap {:.2}s ({} attempts), {} binlog changes, {} keys applied \
         ({} one by one)",
        j["method"].as_str().unwrap_or("?"),
        f("copy_seconds"),
        j["chunks"],
        j["rounds"],
        j["rounds_yielded"],
        f("checksum_seconds"),
        j["checksum_chunks"],
        j["exact_compares"],
        j["chunks_recopied"],
        f("cut_over_seconds"),
        j["cut_over_attempts"],
        j["binlog_changes"],
        j["binlog_keys_applied"],
        j["binlog_keys_waited"]
    );
    Ok(t)
}

/// One measured method: name, primary wall time, replica catch-up after it.
struct Measured {
    name: String,
    wall: Duration,
    replica_extra: Duration,
}

/// Runs the online-schema-change benchmark.
pub fn run(args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    if oxkit::sandbox::find_program(&["pt-online-schema-change"]).is_none() {
        crate::test::apt_install(&["percona-toolkit"])?;
    }
    let ox = super::release_tool("ox-online-schema-change")?;

    let (primary, replica) = loaded_pair(args.rows)?;
    replicate(&primary, &replica)?;
    catch_up(&primary, &replica)?;
    let before = checksum(&primary)?;
    let host = format!("h=127.0.0.1,P={},u=root", primary.port());
    let dsn = format!("{host},D=sbtest,t=sbtest1");

    let mut results = Vec::new();
    let mut measure = |name: &str, f: &mut dyn FnMut() -> Result<Duration>| -> Result<()> {
        let wall = f()?;
        let replica_extra = catch_up(&primary, &replica)?;
        eprintln!(
            "  {name}: {:.1}s, replica done {:.1}s later",
            wall.as_secs_f64(),
            replica_extra.as_secs_f64()
        );
        results.push(Measured {
            name: name.to_string(),
            wall,
            replica_extra,
        });
        Ok(())
    };

    measure("native ALTER INPLACE, LOCK=NONE", &mut || {
        let mut c = primary.connect()?;
        let start = Instant::now();
        c.run(
            "native ALTER",
            &format!("ALTER TABLE sbtest.sbtest1 {ALTER}, ALGORITHM=INPLACE, LOCK=NONE"),
        )?;
        Ok(start.elapsed())
    })?;
    measure("pt-online-schema-change", &mut || {
        timed(
            "pt-online-schema-change",
            Command::new("pt-online-schema-change").args([
                "--alter",
                ALTER,
                "--execute",
                "--no-version-check",
                &dsn,
            ]),
        )
    })?;
    measure("ox-online-schema-change", &mut || {
        ox_timed(
            "ox-online-schema-change",
            &ox,
            &[&dsn, "--alter", ALTER, "--execute"],
        )
    })?;
    measure("ox-online-schema-change --sleep-ratio 0", &mut || {
        ox_timed(
            "ox-online-schema-change --sleep-ratio 0",
            &ox,
            &[&dsn, "--alter", ALTER, "--execute", "--sleep-ratio", "0"],
        )
    })?;

    let (after_p, after_r) = (checksum(&primary)?, checksum(&replica)?);
    if after_p != before || after_r != before {
        bail!("the data changed: checksum before {before}, after: primary {after_p}, replica {after_r}");
    }

    println!(
        "\nonline schema change, idle server, {} rows, ALTER TABLE sbtest1 {ALTER}",
        args.rows
    );
    println!(
        "{:<42} {:>10} {:>22}",
        "method", "primary", "replica done later"
    );
    for m in &results {
        println!(
            "{:<42} {:>9.1}s {:>21.1}s",
            m.name,
            m.wall.as_secs_f64(),
            m.replica_extra.as_secs_f64()
        );
    }
    let get = |n: &str| {
        results
            .iter()
            .find(|m| m.name == n)
            .map(|m| m.wall.as_secs_f64())
            .unwrap_or(f64::NAN)
    };
    println!(
        "ratio ox / pt-osc: {:.2}x (defaults: adaptive pacing), {:.2}x (--sleep-ratio 0)   [target <= 1.0x]",
        get("ox-online-schema-change") / get("pt-online-schema-change"),
        get("ox-online-schema-change --sleep-ratio 0") / get("pt-online-schema-change")
    );
    println!("checksums equal before and after, primary and replica: {before}");

    oltp(args, &primary, &replica, &dsn, &ox, &results)?;
    let (after_p, after_r) = (checksum(&primary)?, checksum(&replica)?);
    if after_p != after_r {
        bail!("after the OLTP part the replica differs: primary {after_p}, replica {after_r}");
    }
    println!("after the OLTP part the primary and the replica hold the same rows: {after_p}");
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    Ok(())
}

/// The same change while sysbench `oltp_read_write` runs on the table at
/// half the server's capacity: what the application sees during each
/// method, against the load alone.
fn oltp(
    args: &Args,
    primary: &Sandbox,
    replica: &Sandbox,
    dsn: &str,
    ox: &std::path::Path,
    idle: &[Measured],
) -> Result<()> {
    super::sysbench::ensure_installed()?;
    let opts = Options::read_write(args.rows);
    let cap = capacity(primary, "sbtest", &opts, 12)?;
    let mut half = opts.clone();
    half.rate = (cap / 2.0).round().max(1.0) as u32;
    catch_up(primary, replica)?;
    eprintln!(
        "capacity {cap:.0} tps; the load runs at --rate={}",
        half.rate
    );

    // The load alone.
    let mut base = half.clone();
    base.seconds = 30;
    let run = Load::start(primary, "sbtest", &base)?;
    let started = Instant::now();
    let fin = run.finish()?;
    let alone = fin.window(
        started + Duration::from_secs(3),
        started + Duration::from_secs(30),
    );
    catch_up(primary, replica)?;

    type Op<'a> = (&'a str, Box<dyn Fn() -> Result<()> + 'a>);
    let ops: Vec<Op> = vec![
        (
            "native ALTER INPLACE, LOCK=NONE",
            Box::new(|| {
                let mut c = primary.connect()?;
                c.run(
                    "native ALTER",
                    &format!("ALTER TABLE sbtest.sbtest1 {ALTER}, ALGORITHM=INPLACE, LOCK=NONE"),
                )?;
                Ok(())
            }),
        ),
        (
            "pt-online-schema-change",
            Box::new(|| {
                timed(
                    "pt-online-schema-change (under load)",
                    Command::new("pt-online-schema-change").args([
                        "--alter",
                        ALTER,
                        "--execute",
                        "--no-version-check",
                        dsn,
                    ]),
                )
                .map(|_| ())
            }),
        ),
        (
            "ox-online-schema-change",
            Box::new(|| {
                ox_timed(
                    "ox-online-schema-change (under load)",
                    ox,
                    &[dsn, "--alter", ALTER, "--execute"],
                )
                .map(|_| ())
            }),
        ),
        (
            "ox-online-schema-change --method triggers",
            Box::new(|| {
                ox_timed(
                    "ox-online-schema-change --method triggers (under load)",
                    ox,
                    &[dsn, "--alter", ALTER, "--execute", "--method", "triggers"],
                )
                .map(|_| ())
            }),
        ),
    ];
    let mut rows: Vec<(String, f64, Stats, String)> = Vec::new();
    for (name, op) in &ops {
        let idle_secs = idle
            .iter()
            .find(|m| m.name == *name)
            .map(|m| m.wall.as_secs_f64())
            .unwrap_or(60.0);
        let mut o = half.clone();
        // Long enough to cover the change even if the load slows it 3x.
        o.seconds = ((idle_secs * 3.0) as u32 + 15).clamp(40, 600);
        let load = Load::start(primary, "sbtest", &o)?;
        let load_start = Instant::now();
        std::thread::sleep(Duration::from_secs(5));
        let log_from = super::error_log_len(primary);
        let t0 = Instant::now();
        op()?;
        let t1 = Instant::now();
        for d in super::deadlocks_since(primary, log_from) {
            eprintln!("    deadlock: {d}");
        }
        let fin = load.finish()?;
        let end = t1.min(load_start + Duration::from_secs(u64::from(o.seconds)));
        let during = fin.window(t0, end);
        let kinds = fin.error_kinds(t0, end);
        eprintln!(
            "  {name} under load: {:.1}s; {}{}",
            (t1 - t0).as_secs_f64(),
            during.line(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!("; errors: {kinds}")
            }
        );
        rows.push((name.to_string(), (t1 - t0).as_secs_f64(), during, kinds));
        catch_up(primary, replica)?;
    }

    println!(
        "\nunder sysbench oltp_read_write at --rate={} (capacity {cap:.0} tps), {} threads",
        half.rate, opts.threads
    );
    println!(
        "{:<34} {:>8} {:>8} {:>6} {:>12} {:>12} {:>7}",
        "", "time", "tps", "tps %", "p99 median", "p99 worst", "errors"
    );
    let line = |name: &str, time: Option<f64>, s: &Stats| {
        println!(
            "{:<34} {:>8} {:>8.1} {:>5.0}% {:>10.1}ms {:>10.1}ms {:>7}",
            name,
            time.map(|t| format!("{t:.1}s"))
                .unwrap_or_else(|| "-".into()),
            s.tps,
            100.0 * s.tps / alone.tps.max(1e-9),
            s.p99_ms_median,
            s.p99_ms_max,
            s.errors.round()
        );
    };
    line("load only", None, &alone);
    for (name, t, s, _) in &rows {
        line(name, Some(*t), s);
    }
    for (name, _, _, kinds) in rows.iter().filter(|r| !r.3.is_empty()) {
        println!("error numbers sysbench logged during {name} (its debug log names fewer errors than its err/s counts): {kinds}");
    }
    println!("target: ox tps during the change >= 80% of load only, no errors, time <= pt-online-schema-change");
    Ok(())
}
