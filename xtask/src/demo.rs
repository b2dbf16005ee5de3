//! `cargo xtask demo`: the main job on a throwaway local topology.
//!
//! Starts a primary and a replica (sandboxes on 127.0.0.1), loads sample
//! data, shows what the shared layer sees (server identity, replication
//! threads, lag, GTID positions), creates drift on the replica the way it
//! happens in real life (a write with `sql_log_bin=0`), then runs every
//! `ox-*` tool against the primary: the checksum finds the drift, the sync
//! repairs it through the primary, a second checksum is clean; ox-backup
//! takes a verified backup, lists it and restores it into a fresh server,
//! then (when a `garage` binary is there) backs up into a three-node Garage
//! cluster on 127.0.0.1 and lists the bucket.
//! Tools whose issue has not landed say so.

use anyhow::{Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::server::Server;
use oxkit::topology::{replica_status, source_position};
use oxkit_harness::{exec, Topology};
use std::path::Path;
use std::process::Command;

const SAMPLE: &str = "
CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE shop.customers (
  id INT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(64) NOT NULL,
  city VARCHAR(32) NULL,
  created DATETIME(6) NOT NULL
) ENGINE=InnoDB;
CREATE TABLE shop.orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  note TEXT NULL,
  KEY k_customer (customer_id),
  CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES shop.customers (id)
) ENGINE=InnoDB;
CREATE TABLE shop.events (at DATETIME NOT NULL, what VARCHAR(100)) ENGINE=InnoDB;
INSERT INTO shop.customers
  SELECT seq, CONCAT('customer ', seq, IF(seq % 7 = 0, ' — Zoë 🐬', '')),
         ELT(1 + seq % 4, 'Lisboa', 'Zürich', NULL, 'Kraków'),
         TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq MINUTE
  FROM seq_1_to_20000;
INSERT INTO shop.orders (customer_id, amount, note)
  SELECT 1 + seq % 20000, (seq % 1000) / 7, IF(seq % 3 = 0, NULL, REPEAT('x', seq % 50))
  FROM seq_1_to_100000;
INSERT INTO shop.events SELECT TIMESTAMP'2024-06-01 00:00:00' + INTERVAL seq SECOND, 'login' FROM seq_1_to_5000;
";

/// Runs `ox-backup ARGS` from `bin` and shows the command, its exit
/// status and what it printed.
fn ox_backup(bin: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(bin.join("ox-backup"))
        .args(args)
        .output()
        .context("running ox-backup")?;
    println!(
        "$ ox-backup {}   # exit {}",
        args.join(" "),
        out.status.code().unwrap_or(-1)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    print!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

fn section(title: &str) {
    println!("\n== {title}");
}

/// Runs the demo; with `keep`, leaves the servers up until Enter is pressed.
/// The demo runs in a process whose environment names the server (the
/// sandbox and the tools read it): when `server` is not what this process
/// has, it provisions it and runs itself again with that environment.
pub fn demo(root: &Path, keep: bool, server: &str) -> Result<()> {
    crate::test::ensure_mariadb()?;
    let mut args = vec!["demo".to_string(), "--server".into(), server.into()];
    if keep {
        args.push("--keep".into());
    }
    if crate::roots::rerun_for(server, &args)? {
        return Ok(());
    }
    oxkit_harness::build_tools()?;
    section("starting a primary and a replica on 127.0.0.1");
    let t = Topology::start(1)?;
    println!(
        "primary  port {}  (datadir {})",
        t.primary.port(),
        t.primary.datadir().display()
    );
    println!(
        "replica  port {}  (datadir {})",
        t.replicas[0].port(),
        t.replicas[0].datadir().display()
    );

    section("loading sample data: shop.customers 20k rows, shop.orders 100k rows (FK), shop.events 5k rows (no key)");
    let mut p = t.primary_conn()?;
    let started = std::time::Instant::now();
    exec(&mut p, SAMPLE)?;
    t.sync()?;
    println!(
        "loaded and replicated in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    section("what oxkit sees");
    let ps = Server::detect(&mut p)?;
    let pos = source_position(&mut p, &ps)?;
    println!(
        "primary: {} (server_id {}), binlog {}:{} format {}, GTID {}",
        ps.describe(),
        ps.server_id,
        pos.file,
        pos.position,
        ps.binlog_format,
        pos.gtid
    );
    let mut r = t.replica_conn(0)?;
    let rs = Server::detect(&mut r)?;
    for st in replica_status(&mut r, &rs)? {
        println!(
            "replica: {} (server_id {}), source {}:{}, io {} sql {}, lag {}s, applied GTID {}",
            rs.describe(),
            rs.server_id,
            st.source_host,
            st.source_port,
            st.io_running,
            if st.sql_running { "Yes" } else { "No" },
            st.seconds_behind
                .map(|s| s.to_string())
                .unwrap_or_else(|| "?".into()),
            st.gtid_applied.unwrap_or_default()
        );
    }

    section("creating drift on the replica (writes with sql_log_bin=0, as a mistaken write would)");
    t.drift(
        0,
        "UPDATE shop.customers SET city = 'Nowhere' WHERE id IN (17, 4242, 19999)",
    )?;
    t.drift(0, "DELETE FROM shop.orders WHERE id = 777")?;
    for (name, c) in [("primary", &mut p), ("replica", &mut r)] {
        let n: Option<u64> = c.query_first("SELECT COUNT(*) FROM shop.orders")?;
        let cities: Option<u64> =
            c.query_first("SELECT COUNT(*) FROM shop.customers WHERE city = 'Nowhere'")?;
        println!(
            "{name}: shop.orders {} rows, customers in 'Nowhere': {}",
            n.unwrap_or(0),
            cities.unwrap_or(0)
        );
    }

    section("running the tools against the primary");
    let dsn = t.primary.dsn();
    let bin = root.join("target/debug");
    let runs: &[(&str, &[&str])] = &[
        ("ox-summary", &[]),
        ("ox-table-checksum", &[]),
        ("ox-table-checksum", &["--method", "snapshot"]),
        (
            "ox-table-sync",
            &["--replicate", "percona.checksums", "--dry-run"],
        ),
        (
            "ox-table-sync",
            &["--replicate", "percona.checksums", "--execute"],
        ),
        ("ox-table-checksum", &[]),
        (
            "ox-online-schema-change",
            &["--alter", "ADD INDEX k_amount (amount)", "--dry-run"],
        ),
        (
            "ox-online-schema-change",
            &["--alter", "ADD INDEX k_amount (amount)", "--execute"],
        ),
    ];
    for (tool, extra) in runs {
        // The schema change names its table in the DSN, as pt-osc does.
        let dsn = if *tool == "ox-online-schema-change" {
            format!("{dsn},D=shop,t=orders")
        } else {
            dsn.clone()
        };
        let out = Command::new(bin.join(tool))
            .arg(&dsn)
            .args(*extra)
            .output()
            .with_context(|| format!("running {tool}"))?;
        println!(
            "$ {tool} {dsn} {}   # exit {}",
            extra.join(" "),
            out.status.code().unwrap_or(-1)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
        print!("{}", String::from_utf8_lossy(&out.stderr));
    }

    section("ox-backup: a verified backup, the catalogue, and a restore into a fresh server");
    let repo = std::env::temp_dir().join(format!("oxkit-demo-repo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&repo);
    let fresh = oxkit::sandbox::Sandbox::builder().tcp(true).start()?;
    let repo_s = repo.display().to_string();
    let fresh_dsn = fresh.dsn();
    let steps: [Vec<&str>; 3] = [
        vec!["backup", &dsn, "--repo", &repo_s, "--verify"],
        vec!["list", "--repo", &repo_s],
        vec!["restore", &fresh_dsn, "--repo", &repo_s],
    ];
    for args in &steps {
        ox_backup(&bin, args)?;
    }
    {
        let mut f = fresh.connect()?;
        let n: Option<u64> = f.query_first("SELECT COUNT(*) FROM shop.orders")?;
        println!(
            "restored server (port {}): shop.orders {} rows",
            fresh.port(),
            n.unwrap_or(0)
        );
    }
    drop(fresh);
    let _ = std::fs::remove_dir_all(&repo);

    if oxkit_harness::garage::binary().is_some() {
        section("ox-backup off the host: a three-node Garage cluster (S3) on 127.0.0.1");
        let g = oxkit_harness::garage::Garage::start()?;
        let scratch = std::env::temp_dir().join(format!("oxkit-demo-s3-{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let s3 = g.repo_args("demo/db1", &scratch)?;
        let s3: Vec<&str> = s3.iter().map(String::as_str).collect();
        let steps: [Vec<&str>; 2] = [vec!["backup", &dsn, "--verify"], vec!["list"]];
        for args in &steps {
            let mut all = args.clone();
            all.extend(&s3);
            ox_backup(&bin, &all)?;
        }
        drop(g);
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        println!(
            "(no garage binary: the object-storage part of the demo is left out; \
             `cargo xtask test` installs it)"
        );
    }

    if keep {
        section("servers are up; press Enter to stop them");
        println!(
            "primary: mysql -h127.0.0.1 -P{} -uroot    replica: mysql -h127.0.0.1 -P{} -uroot",
            t.primary.port(),
            t.replicas[0].port()
        );
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    section("stopping the servers and removing their directories");
    drop((p, r));
    drop(t);
    println!("done");
    Ok(())
}
