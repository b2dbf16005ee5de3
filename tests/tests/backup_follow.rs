//! `ox-backup binlog --follow` against real servers (issue 15): a
//! continuous binary-log archive.
//!
//! A writer commits one row per transaction and records each
//! acknowledgement's GTID and time. The primary is killed with SIGKILL
//! while the archive follows it: a restore of the last backup rolled
//! forward to the archive's last GTID holds exactly the rows up to that
//! GTID (it lands exactly), and the rows lost are only those acknowledged
//! in the last seconds before the kill (the figure is printed). The server
//! is then started again on the same port: the follower reconnects by
//! itself, archives what follows, and a restore rolled forward to its new
//! last GTID equals the primary (`CHECKSUM TABLE`). `check
//! --max-archive-lag` reports the archive current while it follows and
//! critical once it stops; a second follower is refused; a restore to a
//! GTID, or a time, past the archive's end fails before anything is
//! restored.

#![allow(
    clippy::print_stderr,
    reason = "figures a developer reads with --nocapture"
)]

use oxkit::conn::Conn;
use oxkit::sandbox::Sandbox;
use oxkit_harness::{exec, flavour, single, spawn_tool, table_sums, wait_child, RunResult, Tool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn backup(args: &[&str]) -> RunResult {
    Tool::new("ox-backup")
        .args(args.iter().copied())
        .run()
        .expect("run ox-backup")
}

/// An acknowledged write: its row id, GTID and when the commit returned.
type Ack = (u64, String, Instant);

/// Inserts one row per transaction from `first` until `stop` or an error
/// (the server went away), recording each acknowledgement.
fn writer(
    mut c: Conn,
    first: u64,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut id = first;
        while !stop.load(Ordering::SeqCst) {
            if exec(&mut c, &format!("INSERT INTO f.t VALUES ({id}, 'w{id}')")).is_err() {
                return;
            }
            let Ok(g) = oxkit_harness::last_gtid(&mut c) else {
                return;
            };
            acks.lock().expect("acks").push((id, g, Instant::now()));
            id += 1;
            std::thread::sleep(Duration::from_millis(15));
        }
    })
}

/// The archive's last whole transaction, as its index says.
fn archived_gtid(repo: &std::path::Path) -> Option<String> {
    let d = std::fs::read_dir(repo.join("binlogs"))
        .ok()?
        .flatten()
        .next()?;
    let text = std::fs::read_to_string(d.path().join("index.json")).ok()?;
    let j: serde_json::Value = serde_json::from_str(&text).ok()?;
    j["current"]["last_gtid"].as_str().map(str::to_string)
}

fn ids(c: &mut Conn) -> (u64, u64) {
    let r: Option<(u64, Option<u64>)> = c
        .row("ids", "SELECT COUNT(*), MAX(id) FROM f.t")
        .expect("ids");
    let (n, max) = r.expect("row");
    (n, max.unwrap_or(0))
}

#[test]
fn follow_survives_a_crash_and_rolls_a_restore_forward_to_its_last_gtid() {
    let mut s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE f; CREATE TABLE f.t (id BIGINT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO f.t VALUES (1, 'base'), (2, 'base'), (3, 'base')",
    )
    .expect("schema");
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path().join("repo");
    let rp = repo.display().to_string();
    backup(&["backup", &s.dsn(), "--repo", &rp]).expect_code(0);
    let dsn = s.dsn();
    let follow_args = [
        "binlog",
        &dsn,
        "--repo",
        &rp,
        "--follow",
        "--segment-seconds",
        "1",
        "--reconnect-for",
        "2m",
        "--format",
        "json",
    ];
    let follower = spawn_tool("ox-backup", &follow_args);

    let acks = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let w = writer(s.connect().expect("writer"), 10, stop.clone(), acks.clone());
    std::thread::sleep(Duration::from_secs(5));
    let chk = backup(&[
        "check",
        "--repo",
        &rp,
        "--max-archive-lag",
        "30s",
        "--format",
        "json",
    ]);
    let j = chk.json();
    assert_eq!(j["archives"][0]["ok"], true, "{}", chk.stdout);
    // One follower per server and repository.
    let second = backup(&follow_args);
    assert_eq!(second.code, 255, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("another `binlog --follow` is archiving server"),
        "{}",
        second.stderr
    );

    // The crash.
    drop(c);
    s.server.crash();
    let killed_at = Instant::now();
    w.join().expect("writer");
    std::thread::sleep(Duration::from_secs(3));
    let at_crash = archived_gtid(&repo).expect("an archived GTID");
    let before: Vec<Ack> = acks.lock().expect("acks").clone();
    let k = before
        .iter()
        .position(|a| a.1 == at_crash)
        .unwrap_or_else(|| panic!("the archive's last GTID {at_crash} is no acknowledged write"));
    let lost = &before[k + 1..];
    let window = lost.first().map_or(Duration::ZERO, |a| killed_at - a.2);
    eprintln!(
        "kill -9: {} writes acknowledged, archived through {} ({at_crash}); lost {} acknowledged in the last {:.2} s before the kill",
        before.len(),
        before[k].0,
        lost.len(),
        window.as_secs_f64()
    );
    assert!(
        window < Duration::from_secs(4),
        "lost {} writes over {:?}",
        lost.len(),
        window
    );

    // A restore rolled forward to that GTID lands exactly on it.
    let t1 = Sandbox::start().expect("t1");
    backup(&[
        "restore",
        &t1.dsn(),
        "--repo",
        &rp,
        "--until-gtid",
        &at_crash,
    ])
    .expect_code(0);
    let mut c1 = t1.connect().expect("c1");
    assert_eq!(
        ids(&mut c1),
        (3 + k as u64 + 1, before[k].0),
        "rows up to {at_crash}"
    );
    drop(c1);
    drop(t1);

    // The server comes back on the same port; the follower resumes.
    s.server.restart().expect("restart");
    let mut c = s.connect().expect("reconnect");
    let stop2 = Arc::new(AtomicBool::new(false));
    let first = before.last().map_or(10, |a| a.0 + 1000);
    let acks2 = Arc::new(Mutex::new(Vec::new()));
    let w2 = writer(
        s.connect().expect("writer 2"),
        first,
        stop2.clone(),
        acks2.clone(),
    );
    std::thread::sleep(Duration::from_secs(3));
    stop2.store(true, Ordering::SeqCst);
    w2.join().expect("writer 2");
    let last = acks2
        .lock()
        .expect("acks")
        .last()
        .cloned()
        .expect("writes after the restart");
    let t0 = Instant::now();
    while archived_gtid(&repo).as_deref() != Some(last.1.as_str()) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the follower did not archive {} after the restart (at {:?})",
            last.1,
            archived_gtid(&repo)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    oxkit_harness::signal(follower.id(), "-INT");
    let out = wait_child(follower, Duration::from_secs(60)).expect("follower ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Stopped by a signal: exit 4, like every tool, with its report.
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("reconnected"), "{stderr}");
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(rep["last_gtid"], last.1.as_str(), "{rep}");

    let t2 = Sandbox::start().expect("t2");
    backup(&["restore", &t2.dsn(), "--repo", &rp, "--until-gtid", &last.1]).expect_code(0);
    let mut c2 = t2.connect().expect("c2");
    assert_eq!(table_sums(&mut c2, &["f"]), table_sums(&mut c, &["f"]));

    // Stopped: the archive falls behind; a target past its end is refused.
    std::thread::sleep(Duration::from_secs(3));
    let chk = backup(&[
        "check",
        "--repo",
        &rp,
        "--max-archive-lag",
        "1s",
        "--format",
        "json",
    ]);
    assert_eq!(chk.code, 1, "{}", chk.stdout);
    assert_eq!(chk.json()["archives"][0]["ok"], false, "{}", chk.stdout);
    if !flavour().is_mysql() {
        let (d, rest) = last.1.split_once('-').expect("d-s-n");
        let (sid, n) = rest.split_once('-').expect("s-n");
        let past = format!("{d}-{sid}-{}", n.parse::<u64>().expect("n") + 5);
        let t3 = Sandbox::start().expect("t3");
        let r = backup(&["restore", &t3.dsn(), "--repo", &rp, "--until-gtid", &past]);
        assert_eq!(r.code, 255, "{}", r.stderr);
        assert!(
            r.stderr.contains("past the end of the archive"),
            "{}",
            r.stderr
        );
    }
    // The follower stopped mid-log: a time after it was last current too.
    let t4 = Sandbox::start().expect("t4");
    let r = backup(&[
        "restore",
        &t4.dsn(),
        "--repo",
        &rp,
        "--until",
        "2099-01-01 00:00:00",
    ]);
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(r.stderr.contains("was last current"), "{}", r.stderr);
    let mut c4 = t4.connect().expect("t4");
    let n: Option<u64> = c4
        .row(
            "schemas",
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'f'",
        )
        .expect("schemas");
    assert_eq!(n, Some(0), "nothing restored");
}

/// `expire` removes the archived logs older than every kept backup's
/// position and keeps the rest: the kept backup still rolls forward to the
/// end of the archive.
#[test]
fn expire_removes_only_the_logs_no_kept_backup_needs() {
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE f; CREATE TABLE f.t (id BIGINT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO f.t VALUES (1, 'a'); FLUSH BINARY LOGS; INSERT INTO f.t VALUES (2, 'a')",
    )
    .expect("schema");
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path().join("repo");
    let rp = repo.display().to_string();
    backup(&["backup", &s.dsn(), "--repo", &rp]).expect_code(0);
    exec(&mut c, "INSERT INTO f.t VALUES (3, 'b'); FLUSH BINARY LOGS; INSERT INTO f.t VALUES (4, 'b'); FLUSH BINARY LOGS").expect("b");
    std::thread::sleep(Duration::from_millis(1100));
    let newer = backup(&["backup", &s.dsn(), "--repo", &rp, "--format", "json"]);
    newer.expect_code(0);
    let from = newer.json()["backup"]["position"]["binlog_file"]
        .as_str()
        .expect("binlog file")
        .to_string();
    exec(&mut c, "INSERT INTO f.t VALUES (5, 'c')").expect("c");
    let gtid = oxkit_harness::last_gtid(&mut c).expect("gtid");
    backup(&["binlog", &s.dsn(), "--repo", &rp]).expect_code(0);
    let logs = |repo: &std::path::Path| -> Vec<String> {
        let d = std::fs::read_dir(repo.join("binlogs"))
            .expect("binlogs")
            .flatten()
            .next()
            .expect("a server");
        let j: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.path().join("index.json")).expect("index"),
        )
        .expect("json");
        j["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["name"].as_str().expect("name").to_string())
            .collect()
    };
    let before = logs(&repo);
    assert!(before.iter().any(|l| *l < from), "{before:?} from {from}");

    let e = backup(&[
        "expire",
        "--repo",
        &rp,
        "--keep-last",
        "1",
        "--format",
        "json",
    ]);
    e.expect_code(0);
    let after = logs(&repo);
    assert!(
        after.iter().all(|l| *l >= from),
        "{after:?} from {from}: {}",
        e.stdout
    );
    assert_eq!(
        after,
        before
            .iter()
            .filter(|l| **l >= from)
            .cloned()
            .collect::<Vec<_>>()
    );
    let decisions = e.json();
    let removed: Vec<&str> = decisions
        .as_array()
        .expect("decisions")
        .iter()
        .filter_map(|d| d["id"].as_str().filter(|i| i.starts_with("binlogs/")))
        .collect::<Vec<_>>();
    assert_eq!(removed.len(), before.len() - after.len(), "{}", e.stdout);

    // The kept backup still rolls forward to the end of the archive.
    let t = Sandbox::start().expect("target");
    backup(&["restore", &t.dsn(), "--repo", &rp, "--until-gtid", &gtid]).expect_code(0);
    let mut ct = t.connect().expect("target");
    assert_eq!(table_sums(&mut ct, &["f"]), table_sums(&mut c, &["f"]));
}
