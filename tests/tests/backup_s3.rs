//! ox-backup with its repository in a real object store: a three-node
//! Garage cluster (replication factor 3) on 127.0.0.1 that the harness
//! starts ([`oxkit_harness::garage`]). A backup taken under a concurrent
//! writer into the bucket restores to a server equal (by `CHECKSUM TABLE`)
//! to a replica stopped at the backup's GTID; `verify` and `list` work from
//! the bucket; an encrypted set needs its key; `expire` removes a set's
//! objects; a Garage node killed in the middle of a backup and of a restore
//! does not change the result.

use oxkit::sandbox::Sandbox;
use oxkit_harness::garage::Garage;
use oxkit_harness::{exec, single, table_sums, RunResult, Tool, Topology};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn ox(repo: &[String], args: &[&str]) -> RunResult {
    Tool::new("ox-backup")
        .args(args.iter().copied())
        .args(repo.iter().map(String::as_str))
        .run()
        .expect("run ox-backup")
}

fn ids(list: &serde_json::Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or("").to_string(),
                e["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn object_store_backup_under_writes_restores_verifies_and_expires() {
    let g = Garage::start().expect("garage cluster");
    let scratch = tempfile::tempdir().expect("tmp");
    let repo = g.repo_args("prod/db1", scratch.path()).expect("repo");
    let topo = Topology::start(1).expect("topology");
    let mut c = topo.primary_conn().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE bank; USE bank; \
         CREATE TABLE bank.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL); \
         INSERT INTO bank.accounts SELECT seq, 1000 FROM seq_1_to_200; \
         CREATE TABLE bank.ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT, dst INT, amount INT); \
         CREATE TABLE bank.big (id INT PRIMARY KEY, v INT NOT NULL, pad VARCHAR(200)); \
         INSERT INTO bank.big SELECT seq, 0, REPEAT(MD5(seq), 6) FROM seq_1_to_60000;",
    )
    .expect("setup");
    topo.sync().expect("sync");

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let writer = {
        let mut c = topo.primary_conn().expect("connect");
        let (stop, commits) = (stop.clone(), commits.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 7;
                let (a, b) = (1 + i % 200, 1 + (i * 13) % 200);
                let sql = format!(
                    "START TRANSACTION; \
                     UPDATE bank.accounts SET balance = balance - 5 WHERE id = {a}; \
                     UPDATE bank.accounts SET balance = balance + 5 WHERE id = {b}; \
                     INSERT INTO bank.ledger (src, dst, amount) VALUES ({a}, {b}, 5); \
                     UPDATE bank.big SET v = v + 1 WHERE id = {}; COMMIT",
                    1 + (i * 31) % 60000
                );
                if c.run("write", &sql).is_ok() {
                    commits.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut rc = topo.replica_conn(0).expect("replica");
    let server = oxkit::server::Server::detect(&mut rc).expect("detect");
    rc.run("stop", &oxkit::snapshot::stop_sql(&server))
        .expect("stop");
    let before = commits.load(Ordering::SeqCst);
    let r = ox(
        &repo,
        &[
            "backup",
            &topo.primary.dsn(),
            "--threads",
            "3",
            "--chunk-rows",
            "5000",
            "--format",
            "json",
        ],
    );
    let during = commits.load(Ordering::SeqCst) - before;
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    r.expect_code(0);
    assert!(
        during > 5,
        "the writer ran during the backup ({during} commits)"
    );
    let m = r.json();
    let plain_id = m["backup"]["id"].as_str().expect("id").to_string();
    let gtid = m["backup"]["position"]["gtid"]
        .as_str()
        .expect("gtid")
        .to_string();
    oxkit::snapshot::start_until(&mut rc, &server, &gtid).expect("until");
    oxkit::snapshot::wait_stopped_at(
        &mut rc,
        &server,
        &gtid,
        Duration::from_secs(60),
        &oxkit::entry::Cancel::new(),
    )
    .expect("replica stops at the backup's position");

    // Restore from the bucket: equal to the replica at the backup's GTID.
    let target = Sandbox::start().expect("target");
    ox(&repo, &["restore", &target.dsn(), "--threads", "3"]).expect_code(0);
    let mut t = target.connect().expect("connect");
    let want = table_sums(&mut rc, &["bank"]);
    assert_eq!(want.len(), 3);
    assert_eq!(table_sums(&mut t, &["bank"]), want);
    drop(t);
    drop(target);
    rc.run("restart replica", &oxkit::snapshot::restart_sql(&server))
        .expect("restart replica");

    // Verify from the bucket records its verdict there.
    ox(&repo, &["verify"]).expect_code(0);
    let l = ox(&repo, &["list", "--format", "json"]).json();
    assert_eq!(ids(&l), [(plain_id.clone(), "complete".to_string())]);
    assert_eq!(l[0]["verification"], "passed", "{l}");

    // An encrypted set in the same repository: no plaintext needed to
    // list it, its key needed to restore it.
    std::fs::write(scratch.path().join("key"), "a passphrase for the bucket").expect("key");
    let key = scratch.path().join("key").display().to_string();
    let r = ox(
        &repo,
        &[
            "backup",
            &topo.primary.dsn(),
            "--encrypt-key-file",
            &key,
            "--format",
            "json",
        ],
    );
    r.expect_code(0);
    let enc_id = r.json()["backup"]["id"].as_str().expect("id").to_string();
    let target = Sandbox::start().expect("target");
    let no_key = ox(&repo, &["restore", &target.dsn()]);
    assert_ne!(no_key.code, 0, "an encrypted set restored without its key");
    assert!(no_key.stderr.contains("encrypt"), "{}", no_key.stderr);
    ox(
        &repo,
        &["restore", &target.dsn(), "--encrypt-key-file", &key],
    )
    .expect_code(0);
    let mut t = target.connect().expect("connect");
    let mut pc = topo.primary_conn().expect("connect");
    assert_eq!(
        table_sums(&mut t, &["bank"]),
        table_sums(&mut pc, &["bank"])
    );
    drop(t);
    drop(target);
    ox(&repo, &["verify", "--encrypt-key-file", &key]).expect_code(0);

    // Expire keeps the newest (verified) set and removes every object of
    // the other: nothing of it is left to list, not even as unfinished.
    let e = ox(&repo, &["expire", "--keep-last", "1", "--format", "json"]);
    e.expect_code(0);
    let l = ox(&repo, &["list", "--format", "json"]).json();
    assert_eq!(ids(&l), [(enc_id, "complete".to_string())], "{e:?}");
    let gone = ox(
        &repo,
        &["restore", &topo.primary.dsn(), "--backup", &plain_id],
    );
    assert_ne!(gone.code, 0);
    assert!(
        gone.stderr.contains("no complete backup"),
        "{}",
        gone.stderr
    );
}

#[test]
fn a_garage_node_killed_mid_backup_and_mid_restore_changes_nothing() {
    let mut g = Garage::start().expect("garage cluster");
    let scratch = tempfile::tempdir().expect("tmp");
    let repo = g.repo_args("node-loss", scratch.path()).expect("repo");
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE big; USE big; CREATE TABLE big.t (id INT PRIMARY KEY, b VARBINARY(200)); \
         INSERT INTO big.t SELECT seq, RANDOM_BYTES(200) FROM seq_1_to_60000;",
    )
    .expect("setup");
    let want = table_sums(&mut c, &["big"]);

    // Backup: one thread at 1 MB/s (about 12 s), node 1 killed after 2 s.
    let mut args: Vec<String> = [
        "backup",
        &s.dsn(),
        "--threads",
        "1",
        "--chunk-rows",
        "2000",
        "--max-rate",
        "1M",
        "--format",
        "json",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(repo.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = oxkit_harness::spawn_tool("ox-backup", &args);
    std::thread::sleep(Duration::from_secs(2));
    g.kill(1).expect("kill node 1");
    let out = oxkit_harness::wait_child(child, Duration::from_secs(180)).expect("backup ends");
    assert!(
        out.status.success(),
        "backup with a node down: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    g.restart(1).expect("restart node 1");

    // Restore with node 2 killed as it starts.
    let target = Sandbox::start().expect("target");
    let tdsn = target.dsn();
    let mut args: Vec<&str> = vec!["restore", &tdsn, "--threads", "2"];
    args.extend(repo.iter().map(String::as_str));
    let child = oxkit_harness::spawn_tool("ox-backup", &args);
    std::thread::sleep(Duration::from_millis(300));
    g.kill(2).expect("kill node 2");
    let out = oxkit_harness::wait_child(child, Duration::from_secs(180)).expect("restore ends");
    assert!(
        out.status.success(),
        "restore with a node down: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut t = target.connect().expect("connect");
    assert_eq!(table_sums(&mut t, &["big"]), want);
    ox(&repo, &["verify"]).expect_code(0);
}

#[test]
fn binary_logs_in_the_bucket_roll_a_restore_forward_to_a_gtid() {
    let g = Garage::start().expect("garage cluster");
    let scratch = tempfile::tempdir().expect("tmp");
    let repo = g.repo_args("pitr", scratch.path()).expect("repo");
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE pitr; USE pitr; CREATE TABLE pitr.t (id INT PRIMARY KEY, phase VARCHAR(10)); \
         INSERT INTO pitr.t SELECT seq, 'base' FROM seq_1_to_100;",
    )
    .expect("setup");
    ox(&repo, &["backup", &s.dsn()]).expect_code(0);
    exec(
        &mut c,
        "INSERT INTO pitr.t SELECT 100 + seq, 'a' FROM seq_1_to_50;",
    )
    .expect("a");
    let until = oxkit_harness::last_gtid(&mut c).expect("gtid");
    exec(
        &mut c,
        "INSERT INTO pitr.t SELECT 200 + seq, 'b' FROM seq_1_to_50;",
    )
    .expect("b");
    let r = ox(&repo, &["binlog", &s.dsn(), "--format", "json"]);
    r.expect_code(0);
    assert!(
        r.json()["dir"]
            .as_str()
            .is_some_and(|d| d.starts_with("s3://")),
        "{}",
        r.stdout
    );

    let t = Sandbox::start().expect("target");
    ox(&repo, &["restore", &t.dsn(), "--until-gtid", &until]).expect_code(0);
    let mut tc = t.connect().expect("connect");
    let n: Option<u64> = tc
        .row("count", "SELECT COUNT(*) FROM pitr.t")
        .expect("count");
    assert_eq!(
        n,
        Some(150),
        "the backup's 100 rows and the 50 up to the GTID"
    );
    let b: Option<u64> = tc
        .row("count", "SELECT COUNT(*) FROM pitr.t WHERE phase = 'b'")
        .expect("count");
    assert_eq!(b, Some(0), "nothing after the GTID");

    // The archive kept by `binlog --follow` in the bucket: it goes on from
    // where `binlog` left it, and a restore rolls forward to its last GTID.
    let dsn = s.dsn();
    let mut args = vec![
        "binlog",
        &dsn,
        "--follow",
        "--segment-seconds",
        "1",
        "--format",
        "json",
    ];
    args.extend(repo.iter().map(String::as_str));
    let follower = oxkit_harness::spawn_tool("ox-backup", &args);
    for i in 0..20 {
        exec(
            &mut c,
            &format!("INSERT INTO pitr.t VALUES ({}, 'c')", 300 + i),
        )
        .expect("c");
    }
    let last = oxkit_harness::last_gtid(&mut c).expect("gtid");
    let t0 = std::time::Instant::now();
    loop {
        let chk = ox(
            &repo,
            &["check", "--max-archive-lag", "1h", "--format", "json"],
        );
        let j = chk.json();
        if j["archives"][0]["lag_secs"]
            .as_u64()
            .is_some_and(|l| l < 3600)
            && t0.elapsed() > std::time::Duration::from_secs(4)
        {
            break;
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(90),
            "the follower never reported the archive current: {}",
            chk.stdout
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    oxkit_harness::signal(follower.id(), "-INT");
    let out =
        oxkit_harness::wait_child(follower, std::time::Duration::from_secs(60)).expect("follower");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report");
    assert_eq!(rep["last_gtid"], last.as_str(), "{rep}");
    let t2 = Sandbox::start().expect("target 2");
    ox(&repo, &["restore", &t2.dsn(), "--until-gtid", &last]).expect_code(0);
    let mut tc2 = t2.connect().expect("connect");
    let n: Option<u64> = tc2
        .row("count", "SELECT COUNT(*) FROM pitr.t")
        .expect("count");
    assert_eq!(n, Some(220), "everything up to the archive's last GTID");
}

#[test]
fn physical_set_in_the_bucket_verifies() {
    let g = Garage::start().expect("garage cluster");
    let scratch = tempfile::tempdir().expect("tmp");
    let repo = g.repo_args("physical", scratch.path()).expect("repo");
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    let mysql = oxkit_harness::flavour().is_mysql();
    if mysql {
        exec(&mut c, "INSTALL PLUGIN clone SONAME 'mysql_clone.so'").expect("clone plugin");
    }
    exec(
        &mut c,
        "CREATE DATABASE phys; USE phys; CREATE TABLE phys.t (id INT PRIMARY KEY, b VARBINARY(200)); \
         INSERT INTO phys.t SELECT seq, RANDOM_BYTES(200) FROM seq_1_to_20000;",
    )
    .expect("setup");
    let stage = scratch.path().join("stage");
    std::fs::create_dir(&stage).expect("stage");
    let stage = stage.display().to_string();
    let dsn = s.dsn();
    let mut args = vec!["backup", &dsn, "--method", "physical"];
    if mysql {
        // The clone is written to a local directory first: without one
        // the backup is refused before anything is written.
        let r = ox(&repo, &args);
        assert_ne!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("--staging-dir"), "{}", r.stderr);
        args.extend(["--staging-dir", &stage]);
    }
    ox(&repo, &args).expect_code(0);
    ox(&repo, &["verify"]).expect_code(0);
    let l = ox(&repo, &["list", "--format", "json"]).json();
    assert_eq!(l[0]["method"], "physical", "{l}");
    assert_eq!(l[0]["verification"], "passed", "{l}");
}

#[test]
fn object_store_bad_input_fails_fast_and_clearly() {
    let g = Garage::start().expect("garage cluster");
    let scratch = tempfile::tempdir().expect("tmp");
    let good = g.repo_args("bad-input", scratch.path()).expect("repo");
    let with = |i: usize, v: &str| {
        let mut a = good.clone();
        a[i] = v.to_string();
        a
    };
    // The tools are built (when stale) by the first run: not what is timed.
    oxkit_harness::build_tools().expect("build");
    let timed = |args: &[String], what: &str| {
        let t = std::time::Instant::now();
        let r = ox(args, &["list"]);
        let took = t.elapsed();
        assert_ne!(r.code, 0, "{what}: {}", r.stdout);
        assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
        assert!(
            took < Duration::from_secs(45),
            "{what} took {took:?}: {}",
            r.stderr
        );
        r.stderr
    };
    // A wrong secret: refused by the store, said at once.
    let bad = scratch.path().join("bad-credentials");
    std::fs::write(
        &bad,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            g.key_id,
            "0".repeat(64)
        ),
    )
    .expect("write");
    let e = timed(&with(7, &bad.display().to_string()), "wrong secret");
    assert!(e.contains("403") || e.contains("Forbidden"), "{e}");
    // No credentials anywhere.
    let e = timed(
        &with(7, &scratch.path().join("none").display().to_string()),
        "missing credentials file",
    );
    assert!(e.contains("S3 credentials file"), "{e}");
    let mut none = good.clone();
    none.truncate(6);
    let e = timed(&none, "no credentials");
    assert!(e.contains("no S3 credentials"), "{e}");
    // A bucket that does not exist.
    let e = timed(&with(1, "s3://no-such-bucket/x"), "missing bucket");
    assert!(e.contains("no-such-bucket"), "{e}");
    // Nothing listening at the endpoint.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let e = timed(
        &with(3, &format!("http://127.0.0.1:{closed}")),
        "closed port",
    );
    assert!(e.contains("did not answer") || e.contains("onnect"), "{e}");
    // An empty prefix of a good bucket is no repository yet.
    let e = timed(&good, "not a repository");
    assert!(e.contains("not an ox-backup repository"), "{e}");
    // --s3-* options with a directory repository: a usage error.
    let r = ox(
        &[
            "--repo".into(),
            scratch.path().display().to_string(),
            "--s3-region".into(),
            "x".into(),
        ],
        &["list"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("applies to an s3:// repository"),
        "{}",
        r.stderr
    );
}
