//! ox-table-sync against real servers: every kind of drift on one replica
//! of two fixed through the primary while a writer runs (ox-table-checksum
//! and pt-table-checksum agree afterwards, the primary's rows unchanged,
//! cascade children kept), direct mode between unrelated servers with
//! --execute and with --print replayed through the mariadb client, and
//! tables without a key.

use oxkit_harness::{exec, server_slot, Tool, Topology};
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

const TABLES: &[&str] = &["main", "ci", "binkey", "comp", "parent", "child"];

fn setup_sql() -> &'static str {
    "CREATE DATABASE app; USE app; \
     CREATE TABLE app.main (id INT PRIMARY KEY, s VARCHAR(64) CHARACTER SET utf8mb4 NULL, \
       b BLOB NULL, n INT NOT NULL); \
     INSERT INTO app.main SELECT seq * 2 - 1, CONCAT('ñandú-', seq, ' 🐬'), \
       CONCAT(REPEAT('x', 2000), seq), seq FROM seq_1_to_3000; \
     CREATE TABLE app.ci (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, \
       v VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NULL); \
     INSERT INTO app.ci SELECT CONCAT('key', seq), CONCAT('café', seq) FROM seq_1_to_500; \
     CREATE TABLE app.binkey (k VARBINARY(20) PRIMARY KEY, v INT); \
     INSERT INTO app.binkey SELECT UNHEX(SHA1(seq)), seq FROM seq_1_to_500; \
     INSERT INTO app.binkey VALUES (X'00', 0), (X'5C27', 1); \
     CREATE TABLE app.comp (a VARCHAR(10) CHARACTER SET utf8mb4, b INT, c DATETIME(6), v INT NULL, \
       PRIMARY KEY (a, b, c)); \
     INSERT INTO app.comp SELECT CONCAT('é', seq % 7), seq % 13, \
       '2024-02-29 23:59:59.123456' + INTERVAL seq SECOND, seq FROM seq_1_to_900; \
     CREATE TABLE app.parent (id INT PRIMARY KEY, v INT); \
     INSERT INTO app.parent SELECT seq, seq FROM seq_1_to_200; \
     CREATE TABLE app.child (id INT PRIMARY KEY, pid INT NOT NULL, \
       FOREIGN KEY (pid) REFERENCES app.parent (id) ON DELETE CASCADE); \
     INSERT INTO app.child SELECT seq, 1 + seq % 200 FROM seq_1_to_1000;"
}

/// One drift of every kind, on the target side only.
const DRIFT: &str = "UPDATE app.main SET n = n + 1 WHERE id = 501; \
     DELETE FROM app.main WHERE id = 801; \
     INSERT INTO app.main VALUES (1000, 'new', NULL, 0); \
     INSERT INTO app.main VALUES (99999, 'above', NULL, 0); \
     INSERT INTO app.main VALUES (-5, 'below', NULL, 0); \
     UPDATE app.main SET s = NULL WHERE id = 301; \
     UPDATE app.main SET b = CONCAT(b, 'z') WHERE id = 401; \
     UPDATE app.ci SET k = 'KEY7' WHERE k = 'key7'; \
     UPDATE app.ci SET k = 'kéy9' WHERE k = 'key9'; \
     UPDATE app.ci SET v = 'cafe8' WHERE k = 'key8'; \
     DELETE FROM app.ci WHERE k = 'key10'; \
     DELETE FROM app.binkey WHERE k = X'00'; \
     UPDATE app.binkey SET v = -1 WHERE k = X'5C27'; \
     INSERT INTO app.binkey VALUES (X'FF2C', 7); \
     UPDATE app.comp SET v = NULL WHERE a = 'é1' AND b = 1; \
     DELETE FROM app.comp WHERE a = 'é3' AND b = 3; \
     UPDATE app.parent SET v = v + 100 WHERE id IN (3, 4); \
     DELETE FROM app.parent WHERE id = 5;";

fn dsn(port: u16) -> String {
    format!("h=127.0.0.1,P={port},u=root")
}

/// `CHECKSUM TABLE ... EXTENDED` of the test tables.
fn sums(c: &mut oxkit::conn::Conn, tables: &[&str]) -> Vec<(String, Option<u64>)> {
    let list: Vec<String> = tables.iter().map(|t| format!("app.{t}")).collect();
    c.rows(
        "checksum",
        &format!("CHECKSUM TABLE {} EXTENDED", list.join(", ")),
    )
    .expect("checksum table")
}

fn count(c: &mut oxkit::conn::Conn, sql: &str) -> u64 {
    let n: Option<u64> = c.row("count", sql).expect("count");
    n.unwrap_or(0)
}

fn table<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["db"] == "app" && t["table"] == name))
        .unwrap_or_else(|| panic!("app.{name} missing from {doc:#}"))
}

fn kinds(doc: &Value, name: &str) -> (i64, i64, i64) {
    let t = table(doc, name);
    let n = |k: &str| t[k].as_i64().unwrap_or(-1);
    (n("insert"), n("update"), n("delete"))
}

#[test]
fn fixes_every_kind_of_drift_through_the_primary_under_writes() {
    let t = Topology::start(2).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(&mut p, setup_sql()).expect("setup");
    exec(
        &mut p,
        "CREATE TABLE app.busy (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(20)); \
         INSERT INTO app.busy (v, s) SELECT seq, 'x' FROM seq_1_to_2000",
    )
    .expect("busy");
    t.sync().expect("sync");
    t.drift(0, DRIFT).expect("drift");
    t.drift(0, "UPDATE app.busy SET v = -v WHERE id <= 5")
        .expect("drift busy");
    let before = sums(&mut p, TABLES);
    let r0 = t.replicas[0].port();

    // The checksum records the differing chunks.
    Tool::new("ox-table-checksum")
        .args([
            &dsn(t.primary.port()),
            "--method",
            "replicate",
            "--chunk-size",
            "300",
            "--chunk-time",
            "0",
            "--databases",
            "app",
            "--max-lag",
            "30",
        ])
        .run()
        .expect("checksum")
        .expect_code(16);

    // A writer on the primary, on rows the drift did not touch.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes) = (stop.clone(), writes.clone());
        let mut w = t.primary_conn().expect("writer");
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                let sql = format!(
                    "INSERT INTO app.busy (v, s) VALUES ({i}, 'w'); \
                     UPDATE app.busy SET v = v + 1 WHERE id = {}",
                    100 + i % 1800
                );
                exec(&mut w, &sql).expect("write");
                writes.fetch_add(1, Ordering::SeqCst);
                // Steady, not flat out: unpaced on a loaded 2-core machine,
                // the writer outran a MySQL replica's applier (7,000
                // transactions a second against its 3,000) and the sync
                // waited on --max-lag for minutes.
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };

    // Dry run first: counts, nothing written.
    let dry = Tool::new("ox-table-sync")
        .args([
            "--replicate",
            "percona.checksums",
            "--sync-to-master",
            &dsn(r0),
            "--dry-run",
            "--format",
            "json",
            "--max-lag",
            "30",
        ])
        .run()
        .expect("dry run");
    dry.expect_code(16);
    let doc = dry.json();
    assert_eq!(kinds(&doc, "main"), (1, 3, 3), "{doc:#}");
    assert_eq!(kinds(&doc, "ci"), (1, 3, 0), "{doc:#}");
    assert_eq!(kinds(&doc, "binkey"), (1, 1, 1), "{doc:#}");
    assert_eq!(kinds(&doc, "parent"), (1, 2, 0), "{doc:#}");
    assert_eq!(kinds(&doc, "child"), (5, 0, 0), "{doc:#}");
    assert_eq!(kinds(&doc, "comp"), (10, 10, 0), "{doc:#}");
    assert!(table(&doc, "main")["left"].is_null());

    let run = Tool::new("ox-table-sync")
        .args([
            "--replicate",
            "percona.checksums",
            "--sync-to-master",
            &dsn(r0),
            "--execute",
            "--check-child-tables",
            "--format",
            "json",
            "--max-lag",
            "30",
        ])
        .run()
        .expect("sync");
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(doc["mode"], "replication", "{doc:#}");
    for name in TABLES {
        assert_eq!(table(&doc, name)["left"], 0, "{doc:#}");
        assert_eq!(table(&doc, name)["fixed_on"], "source", "{doc:#}");
    }
    assert!(
        run.stderr.contains("app.parent has child tables"),
        "{}",
        run.stderr
    );

    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer thread");
    assert!(writes.load(Ordering::SeqCst) > 0);
    t.sync().expect("sync after fix");

    // The primary's rows are unchanged; the replica has them all again.
    assert_eq!(sums(&mut p, TABLES), before);
    let mut r = t.replica_conn(0).expect("replica");
    assert_eq!(sums(&mut r, TABLES), before);
    assert_eq!(count(&mut r, "SELECT COUNT(*) FROM app.child"), 1000);
    let busy = |c: &mut oxkit::conn::Conn| sums(c, &["busy"]);
    assert_eq!(busy(&mut r), busy(&mut p));

    // Both checksum tools agree that nothing differs on any replica.
    Tool::new("ox-table-checksum")
        .args([
            &dsn(t.primary.port()),
            "--method",
            "snapshot",
            "--databases",
            "app",
        ])
        .run()
        .expect("checksum after")
        .expect_code(0);
    let pt = oxkit_harness::pt("pt-table-checksum")
        .args([
            &dsn(t.primary.port()),
            "--no-check-binlog-format",
            "--replicate",
            "percona.pt_checksums",
            "--databases",
            "app",
            "--recursion-method",
            "hosts",
        ])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("pt-table-checksum (Debian package percona-toolkit) must be installed");
    assert_eq!(
        pt.status.code(),
        Some(0),
        "pt-table-checksum found differences:\n{}\n{}",
        String::from_utf8_lossy(&pt.stdout),
        String::from_utf8_lossy(&pt.stderr)
    );

    // Without a checksum table: --sync-to-master compares whole tables.
    t.drift(
        0,
        "UPDATE app.main SET n = 0 WHERE id = 5; DELETE FROM app.ci WHERE k = 'key1'",
    )
    .expect("drift again");
    let print = Tool::new("ox-table-sync")
        .args([
            "--sync-to-master",
            &dsn(r0),
            "--print",
            "--tables",
            "main,ci",
        ])
        .run()
        .expect("print");
    print.expect_code(16);
    assert!(
        print
            .stdout
            .contains("SET SESSION binlog_format = 'STATEMENT';")
            && print.stdout.contains("WHERE `id` = 5;")
            && print.stdout.contains("ON DUPLICATE KEY UPDATE")
            && !print.stdout.contains("REPLACE"),
        "{}",
        print.stdout
    );
    Tool::new("ox-table-sync")
        .args([
            "--sync-to-master",
            &dsn(r0),
            "--execute",
            "--tables",
            "main,ci",
        ])
        .run()
        .expect("sync to master")
        .expect_code(0);
    t.sync().expect("sync");
    assert_eq!(sums(&mut r, TABLES), before);
    let mut r1 = t.replica_conn(1).expect("replica 1");
    assert_eq!(sums(&mut r1, TABLES), before);
}

#[test]
fn direct_mode_makes_an_unrelated_server_identical() {
    let _slot = server_slot().expect("slot");
    let a = oxkit::sandbox::Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .start()
        .expect("source");
    let b = oxkit::sandbox::Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .start()
        .expect("target");
    let mut ca = a.connect().expect("a");
    let mut cb = b.connect().expect("b");
    let nokey = "CREATE TABLE app.nokey (a INT, s VARCHAR(10)); \
                 INSERT INTO app.nokey SELECT seq % 10, 'dup' FROM seq_1_to_300;";
    // TIMESTAMP values and strings with a backslash and a quote: their
    // meaning depends on the session's time_zone and sql_mode (issue 21).
    let ts = "CREATE TABLE app.ts (id INT PRIMARY KEY, created TIMESTAMP(6) NULL, s VARCHAR(20)); \
              INSERT INTO app.ts SELECT seq, '2024-03-31 01:30:00.5' + INTERVAL seq HOUR, \
                'a\\\\b''c' FROM seq_1_to_50;";
    for c in [&mut ca, &mut cb] {
        exec(c, setup_sql()).expect("setup");
        exec(c, nokey).expect("nokey");
        exec(c, ts).expect("ts");
    }
    let all: Vec<&str> = TABLES.iter().copied().chain(["nokey", "ts"]).collect();
    let want = sums(&mut ca, &all);
    let drift = |c: &mut oxkit::conn::Conn| {
        exec(c, "SET SESSION foreign_key_checks = 1").expect("fk");
        exec(c, DRIFT).expect("drift");
        exec(
            c,
            "DELETE FROM app.nokey WHERE a = 3 LIMIT 4; \
             INSERT INTO app.nokey VALUES (11, 'x'), (11, 'x'), (1, 'dup')",
        )
        .expect("drift nokey");
        exec(
            c,
            "UPDATE app.ts SET created = created + INTERVAL 1 SECOND, s = 'x' WHERE id = 7; \
             DELETE FROM app.ts WHERE id = 9",
        )
        .expect("drift ts");
    };
    drift(&mut cb);
    assert_ne!(sums(&mut cb, &all), want);

    // Without --allow-no-key the keyless table is skipped (64) and the
    // rest reported as different (16).
    let dry = Tool::new("ox-table-sync")
        .args([&a.dsn(), &b.dsn(), "--dry-run", "--format", "json"])
        .run()
        .expect("dry run");
    dry.expect_code(80);
    let doc = dry.json();
    assert_eq!(doc["mode"], "direct");
    assert!(
        table(&doc, "nokey")["skip_reason"]
            .as_str()
            .is_some_and(|s| s.contains("--allow-no-key")),
        "{doc:#}"
    );
    assert_eq!(kinds(&doc, "main"), (1, 3, 3), "{doc:#}");

    // --print, replayed with the mariadb client, makes the target
    // identical, also when the server replaying it runs in another time
    // zone and with NO_BACKSLASH_ESCAPES: the script carries the settings
    // its values were read with.
    exec(
        &mut cb,
        "SET GLOBAL time_zone = '+03:00'; \
         SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')",
    )
    .expect("non-UTC target");
    let print = Tool::new("ox-table-sync")
        .args([&a.dsn(), &b.dsn(), "--print", "--allow-no-key"])
        .run()
        .expect("print");
    print.expect_code(16);
    assert!(!print.stdout.contains("REPLACE"), "{}", print.stdout);
    assert!(print.stdout.contains("LIMIT 2;"), "{}", print.stdout);
    let out = Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h127.0.0.1",
            &format!("-P{}", b.port()),
            "-uroot",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut i) = child.stdin.take() {
                i.write_all(print.stdout.as_bytes())?;
            }
            Ok(child)
        })
        .map_err(anyhow::Error::from)
        .and_then(|child| oxkit_harness::wait_child(child, std::time::Duration::from_secs(120)))
        .expect("mariadb client");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        print.stdout.contains("time_zone='+00:00'"),
        "{}",
        print.stdout
    );
    assert_eq!(sums(&mut cb, &all), want);
    assert_eq!(count(&mut cb, "SELECT COUNT(*) FROM app.child"), 1000);

    // --execute does the same.
    drift(&mut cb);
    let run = Tool::new("ox-table-sync")
        .args([
            &a.dsn(),
            &b.dsn(),
            "--execute",
            "--allow-no-key",
            "--format",
            "json",
        ])
        .run()
        .expect("execute");
    run.expect_code(0);
    let doc = run.json();
    assert_eq!(table(&doc, "nokey")["fixed_on"], "target", "{doc:#}");
    assert_eq!(kinds(&doc, "nokey"), (4, 0, 3), "{doc:#}");
    assert_eq!(sums(&mut cb, &all), want);
    assert_eq!(count(&mut cb, "SELECT COUNT(*) FROM app.child"), 1000);
    assert_eq!(sums(&mut ca, &all), want, "the source was not touched");

    // Nothing left: a second run finds nothing.
    Tool::new("ox-table-sync")
        .args([&a.dsn(), &b.dsn(), "--dry-run", "--allow-no-key"])
        .run()
        .expect("again")
        .expect_code(0);
}

#[test]
fn usage_errors() {
    Tool::new("ox-table-sync")
        .args(["h=x", "h=y"])
        .run()
        .expect("run")
        .expect_code(1);
    let r = Tool::new("ox-table-sync")
        .args(["h=x", "--execute"])
        .run()
        .expect("run");
    r.expect_code(1);
    assert!(r.stderr.contains("two DSNs"), "{}", r.stderr);
}

/// Issue 14: on an idle replica already at its source's position,
/// `--sync-to-master` waited for a `START SLAVE UNTIL` that never stopped
/// (for --replica-timeout, 600 s). It must finish in seconds and repair the
/// row, idle and with a writer on the primary, and so must the checksum's
/// snapshot method, which opens snapshots the same way.
#[test]
fn replica_already_at_the_source_position_is_synced_in_seconds() {
    use std::time::{Duration, Instant};
    let t = Topology::start(1).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE x; USE x; CREATE TABLE x.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO x.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000; \
         CREATE TABLE x.w (id INT AUTO_INCREMENT PRIMARY KEY, v INT)",
    )
    .expect("setup");
    t.sync().expect("sync");
    let replica = dsn(t.replicas[0].port());
    // Build the tools first: the time limits below are the tools' own.
    oxkit_harness::tool_path("ox-table-sync").expect("build");
    let mut sync_to_master = |what: &str| {
        t.drift(0, "INSERT INTO x.t VALUES (999999001, 'extra')")
            .expect("drift");
        let start = Instant::now();
        let r = Tool::new("ox-table-sync")
            .args([
                "--sync-to-master",
                &replica,
                "--databases",
                "x",
                "--tables",
                "t",
                "--execute",
                "--replica-timeout",
                "60",
            ])
            .timeout(Duration::from_secs(120))
            .run()
            .expect("sync");
        r.expect_code(0);
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what}: took {:?}\n{}",
            start.elapsed(),
            r.stderr
        );
        t.sync().expect("sync");
        let mut rc = t.replica_conn(0).expect("replica");
        let n: Option<u64> = rc
            .row("count", "SELECT COUNT(*) FROM x.t WHERE id = 999999001")
            .expect("count");
        assert_eq!(n, Some(0), "{what}: the extra row is gone");
        let a: Vec<(String, Option<u64>)> =
            p.rows("sum", "CHECKSUM TABLE x.t EXTENDED").expect("sum");
        let b: Vec<(String, Option<u64>)> =
            rc.rows("sum", "CHECKSUM TABLE x.t EXTENDED").expect("sum");
        assert_eq!(a, b, "{what}");
    };
    sync_to_master("idle");

    let start = Instant::now();
    let r = Tool::new("ox-table-checksum")
        .args([
            &dsn(t.primary.port()),
            "--method",
            "snapshot",
            "--databases",
            "x",
            "--replica-timeout",
            "60",
        ])
        .timeout(Duration::from_secs(120))
        .run()
        .expect("checksum");
    r.expect_code(0);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "checksum --method snapshot on an idle replica took {:?}\n{}",
        start.elapsed(),
        r.stderr
    );

    // The same with a writer on the primary (another table).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let port = t.primary.port();
        std::thread::spawn(move || {
            let spec = oxkit::dsn::parse_dsn(&dsn(port)).expect("dsn");
            let mut c = oxkit::conn::connect(&spec, &Default::default()).expect("writer");
            while !stop.load(Ordering::SeqCst) {
                let _ = c.run("write", "INSERT INTO x.w (v) VALUES (1)");
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    sync_to_master("busy");
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
}

/// Issue 21's ox-table-sync bugs on one primary + replica: an interrupted
/// `--execute` reports only what it committed (the replica's own row count
/// is the judge) and exits 4 in its JSON too; a stopped replica is exit
/// 128; `--sync-to-master` takes the replica from `--host/--port/--user`;
/// a filter that matches nothing says so.
#[test]
fn interrupted_fix_reports_what_it_did_and_stopped_replica_is_128() {
    use std::time::{Duration, Instant};
    let t = Topology::start(1).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE x; USE x; CREATE TABLE x.t (id INT PRIMARY KEY, v VARCHAR(20)); \
         INSERT INTO x.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_20000",
    )
    .expect("setup");
    t.sync().expect("sync");
    t.drift(0, "DELETE FROM x.t").expect("drift");
    let port = t.replicas[0].port().to_string();
    oxkit_harness::tool_path("ox-table-sync").expect("build");

    // A filter that matches nothing is not a silent success.
    let r = Tool::new("ox-table-sync")
        .args(["--sync-to-master", "--host", "127.0.0.1", "--port", &port])
        .args(["--user", "root", "--databases", "typo", "--dry-run"])
        .run()
        .expect("typo");
    r.expect_code(0);
    assert!(
        r.stderr.contains("no table matches --databases typo"),
        "{}",
        r.stderr
    );

    // The replica from the connection options alone: 20000 rows missing.
    let r = Tool::new("ox-table-sync")
        .args(["--sync-to-master", "--host", "127.0.0.1", "--port", &port])
        .args(["--user", "root", "--databases", "x", "--dry-run"])
        .args(["--format", "json"])
        .run()
        .expect("dry run");
    r.expect_code(16);
    assert_eq!(r.json()["tables"][0]["insert"], 20000, "{}", r.stdout);

    // Ctrl-C while fixing, one small batch at a time.
    let bin = oxkit_harness::tool_path("ox-table-sync").expect("bin");
    let home = tempfile::tempdir().expect("home");
    let child = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .args(["--sync-to-master", &dsn(t.replicas[0].port())])
        .args(["--databases", "x", "--execute", "--batch-size", "5"])
        .args(["--format", "json", "--max-lag", "60"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut rc = t.replica_conn(0).expect("replica");
    let start = Instant::now();
    loop {
        let n = count(&mut rc, "SELECT COUNT(*) FROM x.t");
        if n >= 500 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "no fix seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    oxkit_harness::signal(child.id(), "-INT");
    let out = oxkit_harness::wait_child(child, Duration::from_secs(120)).expect("stopped");
    assert_eq!(out.status.code(), Some(4));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["exit_status"], 4, "{doc:#}");
    let tr = &doc["tables"][0];
    assert_eq!(tr["interrupted"], true, "{doc:#}");
    assert_eq!(tr["insert"], 20000, "{doc:#}");
    let fixed = tr["fixed"].as_u64().expect("fixed");
    t.sync().expect("sync");
    let have = count(&mut rc, "SELECT COUNT(*) FROM x.t");
    assert_eq!(fixed, have, "the report says what reached the replica");
    assert!(have < 20000, "the run was interrupted part-way: {have}");

    // A replica whose replication is stopped: exit 128.
    exec(&mut rc, "STOP SLAVE").expect("stop");
    let r = Tool::new("ox-table-sync")
        .args(["--sync-to-master", &dsn(t.replicas[0].port())])
        .args(["--databases", "x", "--dry-run"])
        .run()
        .expect("stopped replica");
    r.expect_code(128);
    assert!(
        r.stderr.contains("replication is not running"),
        "{}",
        r.stderr
    );
    exec(&mut rc, "START SLAVE").expect("start");
}
