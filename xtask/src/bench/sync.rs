//! `cargo xtask bench table-sync`: ox-table-sync against pt-table-sync on
//! the same drift, in one run.
//!
//! Starts a primary and a replica, loads the same sysbench-shaped table on
//! both (`--rows`, default 4M; each server loads its own copy with
//! `sql_log_bin=0`, in parallel), then makes 1000 scattered differences
//! without binary logging: 400 rows changed on the replica, 300 deleted on
//! the replica (missing there) and 300 deleted on the primary (extra on the
//! replica). pt-table-checksum records the differing chunks in
//! `percona.checksums`; then both tools sync the replica from that table
//! through the primary (`--replicate percona.checksums --sync-to-master
//! ... --execute`), ox-table-sync first, then the same drift is made again
//! and pt-table-sync runs. Each run is checked (the replica equals the
//! primary afterwards) and measured: wall time and InnoDB rows read on both
//! servers (`Innodb_rows_read`). Not a test: numbers depend on the machine.

use super::Args;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::conn::Conn;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{loaded_pair, replicate};

/// The 1000 drifted ids: (changed on the replica, missing on the replica,
/// extra on the replica).
fn drift_ids(rows: u64) -> (Vec<u64>, Vec<u64>, Vec<u64>) {
    let (mut upd, mut del, mut extra) = (Vec::new(), Vec::new(), Vec::new());
    let stride = (rows / 1000).max(1);
    for i in 0..1000u64 {
        let id = 1 + i * stride + (i * 7919) % stride;
        match i % 10 {
            0..=3 => upd.push(id),
            4..=6 => del.push(id),
            _ => extra.push(id),
        }
    }
    (upd, del, extra)
}

fn list(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Makes the drift on the replica (the primary's extra-row deletes are
/// done once, before the checksum). Rows the primary lacks come back from
/// a saved copy.
fn drift_replica(r: &mut Conn, upd: &[u64], del: &[u64], first: bool) -> Result<()> {
    r.run("binlog off", "SET SESSION sql_log_bin = 0")?;
    if first {
        r.run(
            "saving rows",
            "CREATE DATABASE benchsave; CREATE TABLE benchsave.extra LIKE sbtest.sbtest1",
        )?;
    } else {
        r.run(
            "restoring extra rows",
            "INSERT INTO sbtest.sbtest1 SELECT * FROM benchsave.extra",
        )?;
    }
    r.run(
        "drifting",
        &format!(
            "UPDATE sbtest.sbtest1 SET k = k + 1 WHERE id IN ({}); \
             DELETE FROM sbtest.sbtest1 WHERE id IN ({})",
            list(upd),
            list(del)
        ),
    )?;
    Ok(())
}

/// Rows the storage engines returned (MariaDB `Rows_read`, MySQL
/// `Innodb_rows_read`).
fn rows_read(c: &mut Conn) -> Result<u64> {
    let r: Vec<(String, u64)> =
        c.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Rows_read', 'Innodb_rows_read')")?;
    Ok(r.into_iter().map(|x| x.1).max().unwrap_or(0))
}

fn table_sum(c: &mut Conn) -> Result<u64> {
    let r: Option<(String, Option<u64>)> =
        c.query_first("CHECKSUM TABLE sbtest.sbtest1 EXTENDED")?;
    Ok(r.and_then(|x| x.1).unwrap_or(0))
}

fn wait_replica(p: &mut Conn, r: &mut Conn) -> Result<()> {
    let pos: Option<String> = p.query_first("SELECT @@gtid_binlog_pos")?;
    let pos = pos.unwrap_or_default();
    let ok: Option<i64> = r.exec_first("SELECT MASTER_GTID_WAIT(?, 600)", (pos,))?;
    if ok != Some(0) {
        bail!("the replica did not catch up");
    }
    Ok(())
}

/// Runs one sync tool; returns wall time, rows read on both servers, output.
fn measure(
    what: &str,
    cmd: &mut Command,
    p: &mut Conn,
    r: &mut Conn,
) -> Result<(Duration, u64, String)> {
    let before = rows_read(p)? + rows_read(r)?;
    eprintln!("+ {what}");
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    let t = start.elapsed();
    let after = rows_read(p)? + rows_read(r)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // pt-table-sync exits 2 when it found and synced differences.
    if !matches!(out.status.code(), Some(0) | Some(2)) {
        bail!("{what} failed ({}):\n{text}", out.status);
    }
    wait_replica(p, r)?;
    let (sp, sr) = (table_sum(p)?, table_sum(r)?);
    if sp != sr {
        bail!("{what} left the replica different from the primary:\n{text}");
    }
    Ok((t, after.saturating_sub(before), text))
}

/// Runs the table-sync benchmark.
pub fn run(args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    if oxkit::sandbox::find_program(&["pt-table-sync"]).is_none() {
        crate::test::apt_install(&["percona-toolkit"])?;
    }
    let ox = super::release_tool("ox-table-sync")?;

    let (primary, replica) = loaded_pair(args.rows)?;
    let (upd, del, extra) = drift_ids(args.rows);
    let mut p = primary.connect()?;
    let mut r = replica.connect()?;
    r.run("binlog off", "SET SESSION sql_log_bin = 0")?;
    drift_replica(&mut r, &upd, &del, true)?;
    r.run(
        "saving extra rows",
        &format!(
            "INSERT INTO benchsave.extra SELECT * FROM sbtest.sbtest1 WHERE id IN ({})",
            list(&extra)
        ),
    )?;
    p.run(
        "primary-only deletes",
        &format!(
            "SET SESSION sql_log_bin = 0; DELETE FROM sbtest.sbtest1 WHERE id IN ({}); SET SESSION sql_log_bin = 1",
            list(&extra)
        ),
    )?;
    replicate(&primary, &replica)?;

    let dsn_p = format!("h=127.0.0.1,P={},u=root", primary.port());
    let dsn_r = format!("h=127.0.0.1,P={},u=root", replica.port());
    eprintln!("+ pt-table-checksum (records the differing chunks)");
    let ck_start = Instant::now();
    let ck = Command::new("pt-table-checksum")
        .args([
            &dsn_p,
            "--databases",
            "sbtest",
            "--recursion-method",
            "hosts",
            "--no-check-binlog-format",
        ])
        .env("HOME", std::env::temp_dir())
        .output()?;
    let ck_text = String::from_utf8_lossy(&ck.stdout).into_owned();
    eprintln!(
        "pt-table-checksum: {:.1}s, exit {:?}\n{ck_text}",
        ck_start.elapsed().as_secs_f64(),
        ck.status.code()
    );
    wait_replica(&mut p, &mut r)?;
    let chunks: Option<(u64, u64, Option<f64>)> = r.query_first(
        "SELECT COUNT(*), SUM(master_crc <> this_crc OR master_cnt <> this_cnt), AVG(master_cnt) \
         FROM percona.checksums WHERE db = 'sbtest'",
    )?;
    let (n_chunks, n_diff, avg) = chunks.unwrap_or((0, 0, None));
    eprintln!(
        "checksum table: {n_chunks} chunks, {n_diff} differ, {:.0} rows per chunk",
        avg.unwrap_or(0.0)
    );
    let before_sum = table_sum(&mut p)?;

    let (ox_t, ox_rows, ox_out) = measure(
        "ox-table-sync --replicate percona.checksums --sync-to-master --execute",
        Command::new(&ox).args([
            "--replicate",
            "percona.checksums",
            "--sync-to-master",
            &dsn_r,
            "--execute",
        ]),
        &mut p,
        &mut r,
    )?;
    if table_sum(&mut p)? != before_sum {
        bail!("ox-table-sync changed the primary's rows");
    }
    drift_replica(&mut r, &upd, &del, false)?;
    let (pt_t, pt_rows, pt_out) = measure(
        "pt-table-sync --replicate percona.checksums --sync-to-master --execute",
        Command::new("pt-table-sync")
            .args([
                "--replicate",
                "percona.checksums",
                "--sync-to-master",
                &dsn_r,
                "--execute",
                "--verbose",
            ])
            .env("HOME", std::env::temp_dir()),
        &mut p,
        &mut r,
    )?;
    println!("\nox-table-sync:\n{ox_out}\npt-table-sync:\n{pt_out}");
    let s = |d: Duration| d.as_secs_f64();
    println!(
        "rows: {} (primary + 1 replica); 1000 differences on the replica: {} changed, {} missing, {} extra",
        args.rows,
        upd.len(),
        del.len(),
        extra.len()
    );
    println!(
        "checksum table (pt-table-checksum): {n_chunks} chunks, {n_diff} differ, {:.0} rows per chunk",
        avg.unwrap_or(0.0)
    );
    println!(
        "ox-table-sync: {:.2}s, {} rows read (both servers)",
        s(ox_t),
        ox_rows
    );
    println!(
        "pt-table-sync 3.x: {:.2}s, {} rows read (both servers)",
        s(pt_t),
        pt_rows
    );
    println!(
        "ratio pt / ox: {:.2}x wall time, {:.2}x rows read   [target >= 5x]",
        s(pt_t) / s(ox_t).max(1e-9),
        pt_rows as f64 / (ox_rows.max(1)) as f64
    );
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    Ok(())
}
