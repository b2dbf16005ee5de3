//! ox-table-checksum against a real primary and replicas: drift of every
//! kind found in the right table, chunk and replica by both methods, no
//! false positives under concurrent writes, awkward tables, resume after a
//! kill, pt-table-sync reading our checksum table, index verification, and
//! the failure cases.

use mysql::prelude::Queryable;
use oxkit_harness::{exec, server_slot, tool_path, Tool, Topology};
use serde_json::Value;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CASES: &[&str] = &[
    "c_update",
    "c_delete",
    "c_insert_in",
    "c_insert_out",
    "c_insert_below",
    "c_null",
    "c_utf8",
    "c_blob",
    "c_twin",
];

/// Case tables: odd ids 1..1999 (gaps for inserted rows), a utf8mb4 string,
/// a 3000-byte blob. `c_twin` has identical strings so one edit applied to
/// two rows changes both rows' bytes at the same offsets.
fn setup_sql() -> String {
    let mut sql = String::from("CREATE DATABASE app; CREATE DATABASE odd; USE app;");
    for t in CASES {
        sql.push_str(&format!(
            "CREATE TABLE app.{t} (id INT PRIMARY KEY, s VARCHAR(64) CHARACTER SET utf8mb4 NULL, \
             b BLOB NULL, n INT NOT NULL); \
             INSERT INTO app.{t} SELECT seq * 2 - 1, {s}, CONCAT(REPEAT('x', 3000), seq), seq % 1000 \
             FROM seq_1_to_1000;",
            s = if *t == "c_twin" {
                "'abcdef'".to_string()
            } else {
                "CONCAT('ñandú-', seq, ' 🐬')".to_string()
            }
        ));
    }
    sql.push_str(
        "UPDATE app.c_null SET s = NULL WHERE id = 301; \
         CREATE TABLE app.busy (id INT AUTO_INCREMENT PRIMARY KEY, v INT, s VARCHAR(20)); \
         INSERT INTO app.busy (v, s) SELECT seq, 'x' FROM seq_1_to_2000; \
         CREATE TABLE odd.composite (a VARCHAR(10) CHARACTER SET utf8mb4, b INT, c DATETIME(6), \
           v FLOAT, PRIMARY KEY (a, b, c)); \
         INSERT INTO odd.composite SELECT CONCAT('é', seq % 7), seq % 13, \
           '2024-02-29 23:59:59.123456' + INTERVAL seq SECOND, seq / 3 FROM seq_1_to_900; \
         CREATE TABLE odd.binkey (k VARBINARY(20) PRIMARY KEY, v JSON); \
         INSERT INTO odd.binkey SELECT UNHEX(SHA1(seq)), JSON_OBJECT('n', seq, 's', 'ü') FROM seq_1_to_700; \
         INSERT INTO odd.binkey VALUES (X'00', '[]'), (X'FF2C27', NULL); \
         CREATE TABLE odd.utf8key (k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY, \
           e ENUM('x', 'y', 'z')); \
         INSERT INTO odd.utf8key SELECT CONCAT('🐬', seq, 'ñ,'), ELT(1 + seq % 3, 'x', 'y', 'z') FROM seq_1_to_600; \
         CREATE TABLE odd.nopk (a INT, b VARCHAR(10)); \
         INSERT INTO odd.nopk SELECT seq % 10, 'dup' FROM seq_1_to_500; \
         CREATE TABLE odd.gen (id INT PRIMARY KEY, a INT, g INT AS (a * 2) VIRTUAL, \
           s INT AS (a + 1) STORED, KEY (g)); \
         INSERT INTO odd.gen (id, a) SELECT seq, seq FROM seq_1_to_500; \
         CREATE TABLE odd.nullable_unique (u INT NULL, v INT, UNIQUE KEY (u)); \
         INSERT INTO odd.nullable_unique SELECT IF(seq % 5 = 0, NULL, seq), seq FROM seq_1_to_600; \
         CREATE TABLE odd.mixed (id INT PRIMARY KEY, l VARCHAR(10) CHARACTER SET latin1, \
           u VARCHAR(10) CHARACTER SET utf8mb4, g VARCHAR(10) CHARACTER SET greek); \
         INSERT INTO odd.mixed SELECT seq, 'café', 'ß🐬', 'αβγ' FROM seq_1_to_300; \
         CREATE TABLE odd.numbers (id BIGINT UNSIGNED PRIMARY KEY, d DOUBLE, f FLOAT, m DECIMAL(20,6), \
           t TIMESTAMP(3) NULL, y YEAR, bt BIT(5), tm TIME(2)); \
         INSERT INTO odd.numbers SELECT 18446744073709551615 - seq, seq / 7, seq / 9, seq * 1.5, \
           FROM_UNIXTIME(1700000000 + seq), 2000 + seq % 50, seq % 32, SEC_TO_TIME(seq * 37) FROM seq_1_to_600;",
    );
    sql
}

/// The drift on replica 0, one kind per table.
const DRIFT: &str = "UPDATE app.c_update SET n = n + 1 WHERE id = 501; \
     DELETE FROM app.c_delete WHERE id = 801; \
     INSERT INTO app.c_insert_in VALUES (1000, 'new', NULL, 0); \
     INSERT INTO app.c_insert_out VALUES (5000, 'new', NULL, 0); \
     INSERT INTO app.c_insert_below VALUES (-5, 'new', NULL, 0); \
     UPDATE app.c_null SET s = '' WHERE id = 301; \
     UPDATE app.c_utf8 SET s = 'ñandu-151 🐬' WHERE id = 301; \
     UPDATE app.c_blob SET b = INSERT(b, 1500, 1, 'y') WHERE id = 401; \
     UPDATE app.c_twin SET s = 'abXdef' WHERE id IN (101, 103)";

/// The key each case table's drift is at.
fn drift_key(table: &str) -> i64 {
    match table {
        "c_update" => 501,
        "c_delete" => 801,
        "c_insert_in" => 1000,
        "c_insert_out" => 5000,
        "c_insert_below" => -5,
        "c_null" | "c_utf8" => 301,
        "c_blob" => 401,
        _ => 101,
    }
}

fn dsn(port: u16) -> String {
    format!("h=127.0.0.1,P={port},u=root")
}

fn table<'a>(doc: &'a Value, db: &str, name: &str) -> &'a Value {
    doc["tables"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["db"] == db && t["table"] == name))
        .unwrap_or_else(|| panic!("{db}.{name} missing from {doc:#}"))
}

fn bound(v: &Value) -> Option<i64> {
    v.as_str()
        .and_then(|s| s.split(',').next_back()?.parse().ok())
}

fn checksum(t: &Topology, extra: &[&str]) -> oxkit_harness::RunResult {
    let mut args = vec![
        dsn(t.primary.port()),
        "--format".into(),
        "json".into(),
        "--chunk-size".into(),
        "200".into(),
        "--chunk-time".into(),
        "0".into(),
        "--max-lag".into(),
        "30".into(),
        "--ignore-databases".into(),
        "percona".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Tool::new("ox-table-checksum")
        .args(args)
        .run()
        .expect("run")
}

/// Inserts, updates and deletes on the primary until stopped.
fn writer(port: u16, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let spec = oxkit::dsn::parse_target(&dsn(port)).expect("dsn");
        let mut c = oxkit::conn::connect(&spec, &Default::default()).expect("writer connect");
        let mut i: u64 = 0;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            let sql = match i % 3 {
                0 => format!("INSERT INTO app.busy (v, s) VALUES ({i}, 'w')"),
                1 => format!(
                    "UPDATE app.busy SET v = v + 1, s = 'u{i}' WHERE id = {}",
                    1 + i * 7 % 2000
                ),
                _ => format!("DELETE FROM app.busy WHERE id = {}", 1 + i * 13 % 3000),
            };
            c.query_drop(&sql).expect("writer");
            done.fetch_add(1, Ordering::SeqCst);
        }
    })
}

#[test]
fn drift_found_by_both_methods_without_false_positives() {
    let t = Topology::start(2).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(&mut p, &setup_sql()).expect("setup");
    // MariaDB 11.8 runs Percona Toolkit 3.7 (3.2 cannot work with 11.8's
    // defaults), which reads only the source_* columns 3.6 renamed the
    // master_* ones to: as after a user's own pt 3.7 run, the table exists
    // with those names, and ox-table-checksum keeps them.
    if oxkit_harness::flavour().name() == "mariadb-11.8" {
        let rt = oxkit::checksum::ReplicateTable {
            db: "percona".into(),
            table: "checksums".into(),
            source_crc: "source_crc",
            source_cnt: "source_cnt",
        };
        exec(&mut p, &rt.create_sql()).expect("pt 3.7 table");
    }
    t.sync().expect("sync");
    let r0 = t.replicas[0].port().to_string();

    // No drift, with a writer busy on the primary the whole time: exit 0.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let w = writer(t.primary.port(), stop.clone(), writes.clone());
    for method in ["snapshot", "replicate"] {
        let before = writes.load(Ordering::SeqCst);
        let r = checksum(&t, &["--method", method]);
        r.expect_code(0);
        let doc = r.json();
        assert_eq!(doc["method"], method);
        assert_eq!(doc["replicas"].as_array().map(Vec::len), Some(2), "{doc:#}");
        for tb in doc["tables"].as_array().expect("tables") {
            assert_eq!(tb["diffs"], 0, "{method}: {tb:#}");
            assert_eq!(tb["errors"], 0, "{method}: {tb:#}");
            assert!(tb["skip_reason"].is_null(), "{method}: {tb:#}");
        }
        // Every awkward table was read, in several chunks where keyed.
        assert_eq!(table(&doc, "odd", "numbers")["rows"], 600);
        assert_eq!(table(&doc, "odd", "nopk")["rows"], 500);
        assert!(table(&doc, "odd", "composite")["chunks"].as_u64() > Some(4));
        assert!(
            writes.load(Ordering::SeqCst) > before + 20,
            "the writer must run during the {method} checksum"
        );
    }
    stop.store(true, Ordering::SeqCst);
    w.join().expect("writer");
    t.sync().expect("sync");

    t.drift(0, DRIFT).expect("drift");
    for method in ["snapshot", "replicate"] {
        let r = checksum(&t, &["--method", method]);
        r.expect_code(16);
        let doc = r.json();
        for case in CASES {
            let tb = table(&doc, "app", case);
            let chunks = tb["diff_chunks"].as_array().expect("diff chunks");
            assert_eq!(tb["diffs"], 1, "{method} {case}: {tb:#}");
            assert_eq!(
                chunks.len(),
                1,
                "{method} {case}: only replica 0 differs: {tb:#}"
            );
            let d = &chunks[0];
            assert!(
                d["host"]
                    .as_str()
                    .is_some_and(|h| h.ends_with(&format!(":{r0}"))),
                "{method} {case}: {d:#}"
            );
            let k = drift_key(case);
            let (lo, hi) = (bound(&d["lower_boundary"]), bound(&d["upper_boundary"]));
            assert!(
                lo.is_none_or(|lo| lo <= k) && hi.is_none_or(|hi| k <= hi),
                "{method} {case}: key {k} not in {d:#}"
            );
            let expect_rows = match *case {
                "c_delete" => -1,
                "c_insert_in" | "c_insert_out" | "c_insert_below" => 1,
                _ => 0,
            };
            assert_eq!(
                d["replica_rows"].as_i64().unwrap_or(0) - d["primary_rows"].as_i64().unwrap_or(0),
                expect_rows,
                "{method} {case}: {d:#}"
            );
        }
        // Rows outside the primary's key range land in the open chunks.
        let out = &table(&doc, "app", "c_insert_out")["diff_chunks"][0];
        assert!(out["upper_boundary"].is_null(), "{out:#}");
        let below = &table(&doc, "app", "c_insert_below")["diff_chunks"][0];
        assert!(below["lower_boundary"].is_null(), "{below:#}");
        for tb in doc["tables"].as_array().expect("tables") {
            if tb["db"] == "odd" || tb["table"] == "busy" {
                assert_eq!(tb["diffs"], 0, "{tb:#}");
            }
        }
    }

    // Percona's CRC32 misses the same same-length edit of two rows.
    let r = checksum(
        &t,
        &[
            "--method",
            "snapshot",
            "--function",
            "crc32",
            "--tables",
            "app.c_twin,app.c_update",
        ],
    );
    r.expect_code(16);
    let doc = r.json();
    assert_eq!(
        table(&doc, "app", "c_twin")["diffs"],
        0,
        "crc32 cancels: {doc:#}"
    );
    assert_eq!(table(&doc, "app", "c_update")["diffs"], 1);

    // pt-table-sync reads the checksum table the replicate method wrote.
    let r = checksum(
        &t,
        &[
            "--method",
            "replicate",
            "--tables",
            "app.c_update,app.c_delete,odd.composite",
        ],
    );
    r.expect_code(16);
    let out = oxkit_harness::pt("pt-table-sync")
        .args([
            "--replicate",
            "percona.checksums",
            "--print",
            "--sync-to-master",
            &format!("h=127.0.0.1,P={r0},u=root"),
        ])
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("pt-table-sync (Debian package percona-toolkit) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("`app`.`c_update`") && text.contains("'501'"),
        "pt-table-sync did not fix c_update:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("`app`.`c_delete`") && text.contains("'801'"),
        "{text}"
    );
    assert!(!text.contains("`odd`"), "{text}");
}

#[test]
fn resume_finishes_only_the_remaining_chunks() {
    let t = Topology::start(1).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE big; USE big; CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(40)); \
         INSERT INTO big.t SELECT seq, MD5(seq) FROM seq_1_to_40000",
    )
    .expect("load");
    t.sync().expect("sync");
    let args = |resume: bool| {
        let mut a = vec![
            dsn(t.primary.port()),
            "--method".into(),
            "replicate".into(),
            "--chunk-size".into(),
            "100".into(),
            "--chunk-time".into(),
            "0".into(),
            "--threads".into(),
            "1".into(),
            "--databases".into(),
            "big".into(),
            "--format".into(),
            "json".into(),
        ];
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let tool = tool_path("ox-table-checksum").expect("tool");
    let home = tempfile::tempdir().expect("home");
    let mut child = Command::new(&tool)
        .args(args(false))
        .env("HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < Duration::from_secs(60) {
        let n: Option<u64> = p
            .query_first(oxkit_harness::sql(
                "SELECT COUNT(*) FROM percona.checksums WHERE master_crc IS NOT NULL",
            ))
            .unwrap_or(None);
        done = n.unwrap_or(0);
        if done >= 30 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    assert!(done >= 30, "the run did not get going");
    // Mark what the killed run finished; a resumed run must not redo it.
    exec(
        &mut p,
        "SET SESSION sql_log_bin = 0; \
         UPDATE percona.checksums SET chunk_time = -1 WHERE master_crc IS NOT NULL",
    )
    .expect("mark");
    let marked: Option<u64> = p
        .query_first("SELECT COUNT(*) FROM percona.checksums WHERE chunk_time = -1")
        .expect("count");
    let total_chunks_at_least = 40000 / 100;
    assert!(
        marked < Some(total_chunks_at_least),
        "killed too late: {marked:?}"
    );

    let r = Tool::new("ox-table-checksum")
        .args(args(true))
        .run()
        .expect("resume");
    r.expect_code(0);
    assert_eq!(table(&r.json(), "big", "t")["rows"], 40000);
    let kept: Option<u64> = p
        .query_first("SELECT COUNT(*) FROM percona.checksums WHERE chunk_time = -1")
        .expect("count");
    assert_eq!(kept, marked, "finished chunks were redone");
    let (sum, pending): (Option<u64>, Option<u64>) = p
        .query_first(oxkit_harness::sql(
            "SELECT SUM(master_cnt), SUM(master_crc IS NULL) FROM percona.checksums WHERE db = 'big'",
        ))
        .expect("totals")
        .unwrap_or((None, None));
    assert_eq!(sum, Some(40000));
    assert_eq!(pending, Some(0));

    // Ctrl-C in the middle of a snapshot run (snapshots reopened before
    // every chunk, so replication is stopped and restarted all the time):
    // exit 4, and the replica replicates again.
    let child = Command::new(&tool)
        .args([
            &dsn(t.primary.port()),
            "--method",
            "snapshot",
            "--snapshot-refresh",
            "0",
            "--chunk-size",
            "50",
            "--chunk-time",
            "0",
            "--databases",
            "big",
        ])
        .env("HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    oxkit_harness::signal(child.id(), "-INT");
    let out = oxkit_harness::wait_child(child, Duration::from_secs(120)).expect("wait");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rc = t.replica_conn(0).expect("replica");
    let rs = oxkit::server::Server::detect(&mut rc).expect("detect");
    let st = oxkit::topology::replica_status(&mut rc, &rs).expect("status");
    assert!(st[0].sql_running, "{:?}", st[0]);
    assert!(
        matches!(
            st[0].io_running.as_str(),
            "Yes" | "Connecting" | "Preparing"
        ),
        "{:?}",
        st[0]
    );
    exec(&mut p, "INSERT INTO big.t VALUES (40001, 'after')").expect("write");
    t.sync()
        .expect("replication works after the interrupted run");
}

#[test]
fn stopped_replica_skips_and_bad_input() {
    let t = Topology::start(1).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE app; USE app; CREATE TABLE app.t (id INT PRIMARY KEY, v INT); \
         INSERT INTO app.t SELECT seq, seq FROM seq_1_to_300; \
         CREATE TABLE app.heap (a INT, b INT); INSERT INTO app.heap SELECT seq, seq FROM seq_1_to_300",
    )
    .expect("load");
    t.sync().expect("sync");
    let primary = dsn(t.primary.port());

    // A table with no index above --max-unkeyed-rows is skipped: flag 64.
    let r = Tool::new("ox-table-checksum")
        .args([
            &primary,
            "--max-unkeyed-rows",
            "100",
            "--format",
            "json",
            "--databases",
            "app",
        ])
        .run()
        .expect("run");
    r.expect_code(64);
    let doc = r.json();
    assert!(table(&doc, "app", "heap")["skip_reason"]
        .as_str()
        .is_some_and(|s| s.contains("no usable index")));
    assert_eq!(table(&doc, "app", "t")["rows"], 300);

    // Integer keys are cut by arithmetic; a dense region after a sparse one
    // must not make a giant chunk (the optimizer's estimate shrinks it).
    exec(
        &mut p,
        "CREATE TABLE app.jump (id BIGINT PRIMARY KEY, v INT); \
         INSERT INTO app.jump SELECT seq * 1000000, seq FROM seq_1_to_1000; \
         INSERT INTO app.jump SELECT 2000000000 + seq, seq FROM seq_1_to_60000",
    )
    .expect("jump");
    t.sync().expect("sync");
    let r = Tool::new("ox-table-checksum")
        .args([
            &primary,
            "--method",
            "replicate",
            "--chunk-size",
            "1000",
            "--chunk-time",
            "0",
            "--tables",
            "app.jump",
            "--format",
            "json",
        ])
        .run()
        .expect("run");
    r.expect_code(0);
    assert_eq!(table(&r.json(), "app", "jump")["rows"], 61000);
    let biggest: Option<u64> = p
        .query_first(oxkit_harness::sql(
            "SELECT MAX(master_cnt) FROM percona.checksums WHERE tbl = 'jump'",
        ))
        .expect("max");
    assert!(biggest <= Some(10_000), "a chunk of {biggest:?} rows");

    // A bad --where is an error on the table, not a silent success.
    let r = Tool::new("ox-table-checksum")
        .args([
            &primary,
            "--where",
            "no_such_column > 1",
            "--tables",
            "app.t",
        ])
        .run()
        .expect("run");
    assert_eq!(r.code & 1, 1, "{r:?}");
    assert!(r.stderr.contains("no_such_column"), "{}", r.stderr);

    // Wrong password: a clear error, non-zero.
    let r = Tool::new("ox-table-checksum")
        .args([&format!("{primary},p=wrong")])
        .run()
        .expect("run");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Access denied"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong"), "password leaked: {}", r.stderr);

    // Replication stopped: flag 128 with --fail-on-stopped-replication, for
    // both methods; the replica is left as it was (stopped).
    let mut rc = t.replica_conn(0).expect("replica");
    rc.query_drop(oxkit_harness::sql("STOP SLAVE SQL_THREAD"))
        .expect("stop");
    for method in ["snapshot", "replicate"] {
        let r = Tool::new("ox-table-checksum")
            .args([
                &primary,
                "--method",
                method,
                "--fail-on-stopped-replication",
                "--tables",
                "app.t",
            ])
            .run()
            .expect("run");
        r.expect_code(128);
        assert!(r.stderr.contains("stopped"), "{}", r.stderr);
    }
    let rs = oxkit::server::Server::detect(&mut rc).expect("detect");
    let st = oxkit::topology::replica_status(&mut rc, &rs).expect("status");
    assert!(
        !st[0].sql_running,
        "the tool must not restart what the operator stopped"
    );
    rc.query_drop(oxkit_harness::sql("START SLAVE SQL_THREAD"))
        .expect("start");
}

/// CRC-32C (Castagnoli), the page checksum of MariaDB's full_crc32 format.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn verify_indexes_finds_a_corrupt_secondary_index() {
    let _slot = server_slot().expect("slot");
    // MariaDB's full_crc32 pages (its default) or MySQL's crc32 ones.
    let mysql = oxkit_harness::flavour().is_mysql();
    let builder = || {
        let b = oxkit::sandbox::Sandbox::builder().tcp(true).binlog(true);
        if mysql {
            b
        } else {
            b.arg("--innodb-checksum-algorithm=full_crc32")
        }
    };
    let s = builder().start().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.healthy (id INT PRIMARY KEY, v VARCHAR(20), KEY (v)); \
         INSERT INTO app.healthy SELECT seq, CONCAT('h', LPAD(seq, 4, '0')) FROM seq_1_to_100; \
         CREATE TABLE app.broken (id INT PRIMARY KEY, v VARCHAR(20), KEY by_v (v)); \
         INSERT INTO app.broken SELECT seq, CONCAT('v', LPAD(seq, 4, '0')) FROM seq_1_to_100",
    )
    .expect("load");
    let healthy = Tool::new("ox-table-checksum")
        .args([
            &s.dsn(),
            "--verify-indexes",
            "--format",
            "json",
            "--databases",
            "app",
        ])
        .run()
        .expect("run");
    healthy.expect_code(8); // no replicas, nothing else
    let datadir = s.datadir().to_path_buf();
    drop(c);
    let kept = s.stop_and_keep().expect("stop");

    // A small table's index roots follow its header pages in creation
    // order, the clustered index first (page 3 on MariaDB, 4 on MySQL,
    // whose page 3 holds the dictionary): the last early page holding
    // v0100 is the secondary index's root. Change the last value there,
    // v0100 → w0100 (still the largest, so the page stays ordered), and fix
    // the page checksum.
    let ibd = datadir.join("app").join("broken.ibd");
    let mut file = std::fs::read(&ibd).expect("read ibd");
    let page = 16384;
    let has = |p: &[u8]| p.windows(5).any(|w| w == b"v0100");
    let n = (3..(file.len() / page).min(8))
        .rfind(|n| has(&file[n * page..(n + 1) * page]))
        .expect("v0100 in an index page");
    let p4 = &mut file[n * page..(n + 1) * page];
    let at = p4
        .windows(5)
        .position(|w| w == b"v0100")
        .expect("v0100 in the secondary index page");
    p4[at] = b'w';
    if mysql {
        // crc32: CRC-32C of the header after its checksum field up to the
        // flush LSN, XOR that of the body up to the trailer; stored in the
        // header's first field and the trailer's first four bytes.
        let sum = crc32c(&p4[4..26]) ^ crc32c(&p4[38..page - 8]);
        p4[..4].copy_from_slice(&sum.to_be_bytes());
        p4[page - 8..page - 4].copy_from_slice(&sum.to_be_bytes());
    } else {
        let sum = crc32c(&p4[..page - 4]);
        p4[page - 4..].copy_from_slice(&sum.to_be_bytes());
    }
    std::fs::write(&ibd, &file).expect("write ibd");

    let s = builder().from_datadir(&datadir).start().expect("restart");
    let r = Tool::new("ox-table-checksum")
        .args([
            &s.dsn(),
            "--verify-indexes",
            "--format",
            "json",
            "--databases",
            "app",
        ])
        .run()
        .expect("run");
    r.expect_code(8 | 16);
    let doc = r.json();
    let checks = table(&doc, "app", "broken")["index_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        checks
            .iter()
            .any(|c| c["index"] == "by_v" && c["ok"] == false),
        "{doc:#}"
    );
    let ok = table(&doc, "app", "healthy")["index_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !ok.is_empty() && ok.iter().all(|c| c["ok"] == true),
        "{doc:#}"
    );
    assert!(r.stderr.contains("by_v"), "{}", r.stderr);
    drop(s);
    let _ = std::fs::remove_dir_all(kept);
}
