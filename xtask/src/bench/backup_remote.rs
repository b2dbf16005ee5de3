//! `cargo xtask bench backup-remote`: ox-backup into an object store
//! against ox-backup into a local directory and against what a MariaDB
//! user pipes today (`mariadb-backup --backup --stream=xbstream | rclone
//! rcat`), on the same data in one run.
//!
//! Starts a three-node Garage cluster on 127.0.0.1 (replication factor 3,
//! the harness's [`oxkit_harness::garage`]) and a source server loaded
//! with the sysbench-shaped table (`--rows`, default 4M). Then, each timed
//! and each restore checked by row count:
//! - ox-backup logical (`--threads 2`) into a directory and into the
//!   bucket, each restored into a running server (`restore --threads 2`);
//! - ox-backup physical into a directory and into the bucket, each
//!   restored with `restore --to-datadir` and a server started on it;
//! - `mariadb-backup --backup --stream=xbstream --parallel=2 | rclone rcat`
//!   into the same bucket, restored with `rclone cat | mbstream -x`,
//!   `mariadb-backup --prepare` and a server started on it.
//!
//! ox-backup's peak memory (maximum resident set, from GNU time) is
//! printed for every run. Installs Debian's mariadb-backup, rclone and
//! time when missing. Not a test: numbers depend on the machine.

use super::backup_physical::{count, start_on};
use super::Args;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::sandbox::Install;
use oxkit_harness::garage::{Garage, REGION};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const THREADS: &str = "2";

/// Runs `cmd` under GNU time: wall seconds and peak memory (MiB).
fn measured(what: &str, cmd: &[String], env: &[(String, String)]) -> Result<(f64, f64, String)> {
    eprintln!("+ {what}");
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M"])
        .args(cmd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // rclone 1.60's S3 client fails on a CA bundle named in the
        // environment ("unsupported transport"); the store is plain http.
        .env_remove("AWS_CA_BUNDLE")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("{what} failed ({}): {err}", out.status);
    }
    let kb: f64 = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    eprintln!("  {secs:.1}s, peak {:.0} MiB", kb / 1024.0);
    Ok((
        secs,
        kb / 1024.0,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn sh(what: &str, script: &str, env: &[(String, String)]) -> Result<f64> {
    let (t, _, _) = measured(what, &["bash".into(), "-c".into(), script.into()], env)?;
    Ok(t)
}

struct Row {
    name: String,
    backup: f64,
    backup_mib: f64,
    restore: f64,
    restore_mib: f64,
    stored_mib: f64,
}

/// Runs the benchmark.
pub fn run_bench(args: &Args) -> Result<()> {
    crate::test::ensure_mariadb()?;
    crate::test::ensure_garage()?;
    let mut missing = Vec::new();
    if oxkit::sandbox::find_program(&["mariadb-backup"]).is_none() {
        missing.push("mariadb-backup");
    }
    if oxkit::sandbox::find_program(&["rclone"]).is_none() {
        missing.push("rclone");
    }
    if !Path::new("/usr/bin/time").exists() {
        missing.push("time");
    }
    if !missing.is_empty() {
        crate::test::apt_install(&missing)?;
    }
    let ox = super::release_tool("ox-backup")?.display().to_string();
    let g = Garage::start()?;
    let install = Install::find(None, None)?;
    let source = super::bench_server(1, true)?;
    let target = super::bench_server(2, false)?;
    eprintln!(
        "garage S3 on {}, source on port {}, target on port {}; loading {} rows",
        g.endpoint(0),
        source.port(),
        target.port(),
        args.rows
    );
    super::load(&source, args.rows)?;
    let work = std::env::temp_dir().join(format!("oxkit-bench-remote-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let src = format!("h=127.0.0.1,P={},u=root", source.port());
    let dst = format!("h=127.0.0.1,P={},u=root", target.port());
    let mut rows = Vec::new();

    for method in ["logical", "physical"] {
        for remote in [false, true] {
            let name = format!(
                "ox-backup {method} to {}",
                if remote { "Garage" } else { "a directory" }
            );
            let repo: Vec<String> = if remote {
                g.repo_args(&format!("ox-{method}"), &work)?
            } else {
                vec![
                    "--repo".into(),
                    work.join(format!("repo-{method}")).display().to_string(),
                ]
            };
            let mut cmd: Vec<String> = [ox.as_str(), "backup", &src, "--threads", THREADS]
                .iter()
                .map(|s| s.to_string())
                .collect();
            cmd.extend([
                "--method".into(),
                method.into(),
                "--format".into(),
                "json".into(),
            ]);
            if method == "logical" {
                cmd.extend(["--databases".into(), "sbtest".into(), "--no-users".into()]);
            }
            cmd.extend(repo.iter().cloned());
            let (b, bm, out) = measured(&format!("{name}: backup"), &cmd, &[])?;
            let j: serde_json::Value = serde_json::from_str(&out).context("ox-backup's JSON")?;
            let stored = j["backup"]["stored_bytes"].as_f64().unwrap_or(0.0) / 1_048_576.0;
            let (r, rm) = if method == "logical" {
                target
                    .connect()?
                    .query_drop("DROP DATABASE IF EXISTS sbtest")?;
                let mut cmd: Vec<String> = [ox.as_str(), "restore", &dst, "--threads", THREADS]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                cmd.extend(repo.iter().cloned());
                let (r, rm, _) = measured(&format!("{name}: restore"), &cmd, &[])?;
                if count(&target)? != args.rows {
                    bail!("{name}: the restore has the wrong row count");
                }
                (r, rm)
            } else {
                let dir = work.join(format!("datadir-{remote}"));
                let mut cmd: Vec<String> = vec![ox.clone(), "restore".into()];
                cmd.extend(repo.iter().cloned());
                cmd.extend(["--to-datadir".into(), dir.display().to_string()]);
                let (r, rm, _) = measured(&format!("{name}: restore --to-datadir"), &cmd, &[])?;
                let start = start_on(&install, &dir, args.rows)?;
                std::fs::remove_dir_all(&dir).ok();
                (r + start, rm)
            };
            rows.push(Row {
                name,
                backup: b,
                backup_mib: bm,
                restore: r,
                restore_mib: rm,
                stored_mib: stored,
            });
        }
    }

    // mariadb-backup streamed through rclone into the same bucket.
    let env: Vec<(String, String)> = [
        ("RCLONE_CONFIG_G_TYPE", "s3".to_string()),
        ("RCLONE_CONFIG_G_PROVIDER", "Other".into()),
        ("RCLONE_CONFIG_G_ENDPOINT", g.endpoint(0)),
        ("RCLONE_CONFIG_G_REGION", REGION.into()),
        ("RCLONE_CONFIG_G_ACCESS_KEY_ID", g.key_id.clone()),
        ("RCLONE_CONFIG_G_SECRET_ACCESS_KEY", g.secret.clone()),
        ("RCLONE_CONFIG_G_FORCE_PATH_STYLE", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let obj = format!("g:{}/mariadb-backup/full.xbstream", g.bucket);
    let tmp = work.join("mb-tmp");
    std::fs::create_dir_all(&tmp)?;
    let b = sh(
        "mariadb-backup --backup --stream=xbstream | rclone rcat",
        &format!(
            "set -o pipefail; mariadb-backup --no-defaults --backup -uroot --socket={} \
             --parallel={THREADS} --stream=xbstream --target-dir={} 2>{}/mb.log | rclone rcat {obj}",
            source.socket().display(),
            tmp.display(),
            work.display()
        ),
        &env,
    )?;
    let size = Command::new("rclone")
        .args(["size", "--json", &obj])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|j| j["bytes"].as_f64())
        .unwrap_or(0.0);
    let back = work.join("mb-restored");
    std::fs::create_dir_all(&back)?;
    let fetch = sh(
        "rclone cat | mbstream -x",
        &format!("rclone cat {obj} | mbstream -x -C {}", back.display()),
        &env,
    )?;
    let prep = sh(
        "mariadb-backup --prepare",
        &format!(
            "mariadb-backup --no-defaults --prepare --target-dir={} 2>{}/mb-prepare.log",
            back.display(),
            work.display()
        ),
        &[],
    )?;
    let start = start_on(&install, &back, args.rows)?;
    rows.push(Row {
        name: "mariadb-backup --stream, rclone rcat (uncompressed)".into(),
        backup: b,
        backup_mib: 0.0,
        restore: fetch + prep + start,
        restore_mib: 0.0,
        stored_mib: size / 1_048_576.0,
    });

    let data_mib = {
        let mut c = source.connect()?;
        let n: Option<u64> = c.query_first(
            "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 'sbtest'",
        )?;
        n.unwrap_or(0) as f64 / 1_048_576.0
    };
    println!(
        "\n{} rows ({data_mib:.0} MiB of InnoDB data), {THREADS} threads, Garage: 3 nodes on 127.0.0.1, replication factor 3\n",
        args.rows
    );
    println!("| run | backup s | MB/s | peak MiB | restore s | peak MiB | stored MiB |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        let mem = |m: f64| {
            if m > 0.0 {
                format!("{m:.0}")
            } else {
                "-".into()
            }
        };
        println!(
            "| {} | {:.1} | {:.0} | {} | {:.1} | {} | {:.0} |",
            r.name,
            r.backup,
            data_mib / r.backup,
            mem(r.backup_mib),
            r.restore,
            mem(r.restore_mib),
            r.stored_mib
        );
    }
    let by = |n: &str| rows.iter().find(|r| r.name == n);
    for m in ["logical", "physical"] {
        if let (Some(l), Some(s)) = (
            by(&format!("ox-backup {m} to a directory")),
            by(&format!("ox-backup {m} to Garage")),
        ) {
            println!(
                "\n{m}: Garage / directory: backup {:.2}x, restore {:.2}x (target <= 1.2)",
                s.backup / l.backup,
                s.restore / l.restore
            );
        }
    }
    if let (Some(ox), Some(mb)) = (
        by("ox-backup physical to Garage"),
        rows.last().filter(|r| r.name.starts_with("mariadb-backup")),
    ) {
        println!(
            "mariadb-backup + rclone / ox-backup physical to Garage: backup {:.2}x, restore {:.2}x (target > 1.0)",
            mb.backup / ox.backup,
            mb.restore / ox.restore
        );
    }
    if let (Some(ox), Some(mb)) = (
        by("ox-backup logical to Garage"),
        rows.last().filter(|r| r.name.starts_with("mariadb-backup")),
    ) {
        println!(
            "mariadb-backup + rclone / ox-backup logical to Garage: backup {:.2}x, restore {:.2}x",
            mb.backup / ox.backup,
            mb.restore / ox.restore
        );
    }
    if args.keep {
        eprintln!("servers kept running; press Enter to stop them");
        let _ = std::io::stdin().read_line(&mut String::new());
    }
    drop(g);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
