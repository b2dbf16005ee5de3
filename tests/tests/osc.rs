//! ox-online-schema-change against real servers: the instant path; copy
//! changes (add index, INT→BIGINT, charset conversion, ENUM reorder, add
//! column with default) under a concurrent writer doing inserts, updates,
//! primary-key updates and deletes, compared at a quiesced point during
//! --postpone-cut-over and against the writer's record of acknowledged
//! writes, with the replica identical at the end; guards (tables with
//! triggers: tests/osc_triggers.rs); SIGINT cleanup;
//! SIGKILL then --resume; a long transaction at cut-over; foreign keys in
//! both directions; the binary log applier waiting alone for a row a
//! prepared XA transaction holds; --threads (parallel copy, SIGKILL and
//! --resume of a parallel copy); no application transaction made a
//! deadlock victim by the swap; adaptive pacing.

#![allow(
    clippy::print_stderr,
    reason = "figures a developer reads with --nocapture"
)]

use oxkit::conn::Conn;
use oxkit_harness::osc::{
    checksum_table, create_table, finish, leftovers, model_of, model_rows, rows, start_writer,
    Model, Row, Writer, TOOL,
};
use oxkit_harness::{exec, single, Tool, Topology};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn dsn(port: u16, table: &str) -> String {
    format!("h=127.0.0.1,P={port},u=root,D=app,t={table}")
}

/// Starts the tool in the background, hermetic like `Tool`.
fn spawn(args: &[&str]) -> Child {
    oxkit_harness::spawn_tool(TOOL, args)
}

fn phase(c: &mut Conn, table: &str) -> Option<(String, u32)> {
    c.row(
        "phase",
        &format!("SELECT phase, chunk FROM app.`_{table}_osc` WHERE id = 1"),
    )
    .ok()
    .flatten()
}

/// Waits until the checkpoint says `want` (and at least `chunk` chunks).
fn wait_phase(c: &mut Conn, table: &str, want: &str, chunk: u32, child: &mut Child) {
    let start = Instant::now();
    loop {
        if let Some((p, n)) = phase(c, table) {
            if p == want && n >= chunk {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the tool exited ({status}) before reaching phase {want}: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "phase {want} not reached"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An integer type as `SHOW CREATE TABLE` spells it: MariaDB with its
/// display width, MySQL (8.0.19+) without.
fn int_type(t: &str) -> String {
    if oxkit_harness::flavour().is_mysql() {
        return t.to_string();
    }
    match t {
        "int" => "int(11)".into(),
        "bigint" => "bigint(20)".into(),
        other => panic!("no display width known for {other}"),
    }
}

fn count(c: &mut Conn, sql: &str) -> u64 {
    let n: Option<u64> = c.row("count", sql).expect("count");
    n.unwrap_or(0)
}

const SEED: &str = "CREATE DATABASE IF NOT EXISTS app; USE app; \
    CREATE TABLE app.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, \
      s VARCHAR(100) CHARACTER SET latin1 NULL, e ENUM('a','b','c') NOT NULL DEFAULT 'a') ENGINE=InnoDB; \
    INSERT INTO app.t SELECT seq, seq * 7 % 1000, IF(seq % 10 = 0, NULL, CONCAT('row-', seq, ' caf\u{e9}')), \
      ELT(1 + seq % 3, 'a', 'b', 'c') FROM seq_1_to_3000";

/// One server holding the [`SEED`] tables, and a connection to it.
fn seeded_single() -> (oxkit_harness::Single, Conn) {
    let s = single().expect("server");
    let mut c = s.connect().expect("conn");
    exec(&mut c, SEED).expect("seed");
    (s, c)
}

/// One copy change under a writer: postponed swap, quiesced comparison,
/// release, final comparison with the writer's record.
fn copy_change(
    t: &Topology,
    model: &Arc<Mutex<Model>>,
    seed: u64,
    alter: &str,
    extra: &[&str],
) -> Value {
    let port = t.primary.port();
    let mut c = t.primary_conn().expect("conn");
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("postpone");
    std::fs::write(&flag, "").expect("flag");
    let writer = start_writer(t.primary_conn().expect("writer"), model.clone(), seed);
    std::thread::sleep(Duration::from_millis(200));
    let d = dsn(port, "t");
    let flag_s = flag.to_string_lossy().to_string();
    let mut args = vec![
        d.as_str(),
        "--alter",
        alter,
        "--execute",
        "--format",
        "json",
        "--chunk-size",
        "300",
        "--chunk-time",
        "0",
        "--sleep-ratio",
        "1",
        "--max-lag",
        "30",
        "--postpone-cut-over",
        &flag_s,
    ];
    args.extend_from_slice(extra);
    if !extra.contains(&"--method") {
        args.extend_from_slice(&["--method", "triggers"]);
    }
    let mut child = spawn(&args);
    wait_phase(&mut c, "t", "postponed", 0, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    let (acked, retried) = writer.stop();
    assert!(acked > 50, "the writer hardly wrote: {acked}");
    // Quiesced: the original, the shadow and the writer's record agree.
    let orig = rows(&mut c, "t");
    // Binary log capture applies the last writes a moment later.
    let until = Instant::now() + Duration::from_secs(15);
    let mut shadow = rows(&mut c, "_t_new");
    while shadow != orig && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
        shadow = rows(&mut c, "_t_new");
    }
    let expected = model_rows(&model.lock().expect("model"));
    assert_eq!(orig.len(), expected.len(), "{alter}: original vs record");
    assert!(
        orig == expected,
        "{alter}: the original differs from the writer's record"
    );
    assert!(
        shadow == orig,
        "{alter}: the shadow differs from the original at the quiesced point"
    );
    std::fs::remove_file(&flag).expect("release");
    let r = finish(child);
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["plan"], "copy", "{doc:#}");
    assert!(doc["rows_copied"].as_u64().unwrap_or(0) > 0, "{doc:#}");
    let after = rows(&mut c, "t");
    assert!(
        after == expected,
        "{alter}: the new table differs from the writer's record"
    );
    assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{alter}");
    eprintln!(
        "{alter}: {acked} writes acknowledged, {retried} retried, {} chunks copied again; copy {}s, checksum {}s, total {}s",
        doc["chunks_recopied"], doc["copy_seconds"], doc["checksum_seconds"], doc["total_seconds"]
    );
    doc
}

#[test]
fn copy_changes_under_a_writer_stay_exact_and_replicate() {
    let t = Topology::start(1).expect("topology");
    let mut c = t.primary_conn().expect("conn");
    exec(&mut c, SEED).expect("seed");
    let port = t.primary.port();
    let d = dsn(port, "t");

    // Dry run: a plan, nothing changed.
    let before = create_table(&mut c, "t");
    let r = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "ADD INDEX k_idx (k)",
            "--dry-run",
            "--format",
            "json",
        ])
        .run()
        .expect("dry run");
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["plan"], "copy", "{doc:#}");
    assert_eq!(doc["executed"], false);
    assert_eq!(create_table(&mut c, "t"), before);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());

    // The instant path: no copy, the column is there.
    let r = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "ADD COLUMN z INT NULL",
            "--execute",
            "--format",
            "json",
        ])
        .run()
        .expect("instant");
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["plan"], "instant", "{doc:#}");
    assert_eq!(doc["rows_copied"], 0);
    assert!(create_table(&mut c, "t").contains(&format!("`z` {} DEFAULT NULL", int_type("int"))));
    Tool::new(TOOL)
        .args([&d, "--alter", "DROP COLUMN z", "--execute", "--force-copy"])
        .run()
        .expect("drop z")
        .expect_code(0);

    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));
    copy_change(&t, &model, 1, "ADD INDEX k_idx (k)", &[]);
    assert!(create_table(&mut c, "t").contains("KEY `k_idx` (`k`)"));
    copy_change(&t, &model, 2, "MODIFY k BIGINT NOT NULL", &[]);
    assert!(create_table(&mut c, "t").contains(&format!("`k` {} NOT NULL", int_type("bigint"))));
    let doc = copy_change(
        &t,
        &model,
        3,
        "CONVERT TO CHARACTER SET utf8mb4",
        &["--force-copy"],
    );
    assert!(
        doc["changed_columns"].to_string().contains("utf8mb4"),
        "{doc:#}"
    );
    assert!(!create_table(&mut c, "t").contains("latin1"));
    copy_change(
        &t,
        &model,
        4,
        "MODIFY e ENUM('c','b','a') NOT NULL DEFAULT 'a'",
        &[],
    );
    assert!(create_table(&mut c, "t").contains("enum('c','b','a')"));
    copy_change(
        &t,
        &model,
        5,
        "ADD COLUMN d INT NOT NULL DEFAULT 7",
        &["--force-copy"],
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.t WHERE d <> 7"), 0);

    // The replica ends identical to the primary.
    t.sync().expect("sync");
    let mut r = t.replica_conn(0).expect("replica");
    assert_eq!(create_table(&mut r, "t"), create_table(&mut c, "t"));
    assert!(rows(&mut r, "t") == rows(&mut c, "t"), "replica differs");
    assert_eq!(
        checksum_table(&mut r, "t"),
        checksum_table(&mut c, "t"),
        "CHECKSUM TABLE: the replica differs"
    );
    assert_eq!(leftovers(&mut r), Vec::<String>::new());

    // A replica whose replication is stopped: with
    // --fail-on-stopped-replication the run stops (exit 128) and cleans up;
    // the table is as it was. (The SQL thread only: a replica whose IO
    // thread stopped unregisters from its source and is not found.)
    let before = create_table(&mut c, "t");
    exec(&mut r, "STOP SLAVE SQL_THREAD").expect("stop replica");
    let res = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "MODIFY k INT NOT NULL",
            "--execute",
            "--fail-on-stopped-replication",
        ])
        .run()
        .expect("run");
    exec(&mut r, "START SLAVE SQL_THREAD").expect("start replica");
    res.expect_code(128);
    assert!(res.stderr.contains("is stopped"), "{}", res.stderr);
    assert_eq!(create_table(&mut c, "t"), before);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

#[test]
fn guards_refuse_with_reasons_and_change_nothing() {
    let (s, mut c) = seeded_single();
    exec(
        &mut c,
        "CREATE TABLE app.nokey (a INT, b INT); INSERT INTO app.nokey VALUES (1, 1); \
         CREATE TABLE app.dup (id INT PRIMARY KEY, v INT); INSERT INTO app.dup VALUES (1, 5), (2, 5), (3, 6)",
    )
    .expect("tables");
    let port = s.port();
    let cases: &[(&str, &str, &str)] = &[
        ("nokey", "ADD INDEX (a)", "no primary key"),
        ("dup", "ADD UNIQUE KEY uv (v)", "duplicate values"),
        ("t", "DROP COLUMN nope", "rejects the ALTER"),
        ("missing", "ADD INDEX (a)", "does not exist"),
    ];
    for (table, alter, why) in cases {
        let before = create_table(&mut c, "t");
        let r = Tool::new(TOOL)
            .args([&dsn(port, table), "--alter", alter, "--execute"])
            .run()
            .expect("run");
        assert_ne!(r.code, 0, "{table} {alter}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{table} {alter}: {}", r.stderr);
        assert_eq!(create_table(&mut c, "t"), before);
        assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{table} {alter}");
    }
    // Narrowing that truncates: refused during the copy, cleaned up.
    let sums = rows(&mut c, "t");
    let r = Tool::new(TOOL)
        .args([
            &dsn(port, "t"),
            "--alter",
            "MODIFY s VARCHAR(5) CHARACTER SET latin1",
            "--execute",
        ])
        .run()
        .expect("run");
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("--allow-data-loss"), "{}", r.stderr);
    assert!(rows(&mut c, "t") == sums);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
    // Explicitly allowed: the duplicate is dropped.
    Tool::new(TOOL)
        .args([
            &dsn(port, "dup"),
            "--alter",
            "ADD UNIQUE KEY uv (v)",
            "--execute",
            "--allow-data-loss",
        ])
        .run()
        .expect("run")
        .expect_code(0);
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.dup"), 2);
    // Issue 21: --alter text that would run a second statement, even under
    // --dry-run, is refused before anything runs.
    for mode in ["--dry-run", "--execute"] {
        let r = Tool::new(TOOL)
            .args([
                &dsn(port, "t"),
                "--alter",
                "ADD COLUMN x INT; CREATE TABLE app.injected (i int) #",
                mode,
            ])
            .run()
            .expect("run");
        r.expect_code(1);
        assert!(r.stderr.contains("';'"), "{}", r.stderr);
        assert_eq!(
            count(
                &mut c,
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'injected'"
            ),
            0,
            "{mode}: the injected statement ran"
        );
    }
    // Usage errors: neither or both of --dry-run/--execute, no table.
    for args in [
        vec![dsn(port, "t"), "--alter".into(), "ADD INDEX (k)".into()],
        vec![
            format!("h=127.0.0.1,P={port},u=root,D=app"),
            "--alter".into(),
            "ADD INDEX (k)".into(),
            "--dry-run".into(),
        ],
    ] {
        let r = Tool::new(TOOL).args(&args).run().expect("run");
        r.expect_code(1);
    }
}

#[test]
fn sigint_cleans_up_and_sigkill_resumes_exactly() {
    sigint_and_sigkill("triggers");
}

#[test]
fn binlog_sigint_cleans_up_and_sigkill_resumes_exactly() {
    sigint_and_sigkill("binlog");
}

fn sigint_and_sigkill(method: &str) {
    let (s, mut c) = seeded_single();
    exec(&mut c, "INSERT INTO app.t SELECT seq, seq % 1000, CONCAT('more-', seq), 'a' FROM seq_3001_to_12000").expect("more rows");
    let d = dsn(s.port(), "t");
    let before = create_table(&mut c, "t");
    let before_rows = rows(&mut c, "t");
    let slow = [
        d.as_str(),
        "--alter",
        "MODIFY k BIGINT NOT NULL",
        "--execute",
        "--format",
        "json",
        "--chunk-size",
        "200",
        "--chunk-time",
        "0",
        "--sleep-ratio",
        "100",
        "--pace",
        "always",
        "--method",
        method,
    ];

    // SIGINT mid-copy: exit 4, original untouched, nothing left behind.
    let mut child = spawn(&slow);
    wait_phase(&mut c, "t", "copying", 3, &mut child);
    oxkit_harness::signal(child.id(), "-INT");
    let r = finish(child);
    r.expect_code(4);
    assert_eq!(create_table(&mut c, "t"), before);
    assert!(rows(&mut c, "t") == before_rows);
    assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{}", r.stderr);

    // SIGKILL mid-copy under a writer, then --resume.
    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));
    let writer = start_writer(s.connect().expect("writer"), model.clone(), 7);
    let mut child = spawn(&slow);
    wait_phase(&mut c, "t", "copying", 5, &mut child);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let (_, chunk) = phase(&mut c, "t").expect("checkpoint left");
    assert!(chunk >= 5);
    // Without --resume the leftovers are refused.
    let r = Tool::new(TOOL)
        .args([&d, "--alter", "MODIFY k BIGINT NOT NULL", "--execute"])
        .run()
        .expect("run");
    r.expect_code(1);
    assert!(r.stderr.contains("--resume"), "{}", r.stderr);
    let r = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "MODIFY k BIGINT NOT NULL",
            "--execute",
            "--resume",
            "--format",
            "json",
            "--chunk-size",
            "500",
            "--sleep-ratio",
            "0.2",
        ])
        .run()
        .expect("resume");
    assert!(r.stderr.is_empty() || !r.stderr.contains("panicked"));
    let (acked, _) = writer.stop();
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["resumed"], true, "{doc:#}");
    assert_eq!(doc["method"], method, "{doc:#}");
    assert!(acked > 20);
    let rows_copied = doc["rows_copied"].as_u64().unwrap_or(0);
    assert!(rows_copied >= 1000, "{doc:#}");
    assert!(create_table(&mut c, "t").contains(&format!("`k` {} NOT NULL", int_type("bigint"))));
    let expected = model_rows(&model.lock().expect("model"));
    let got = rows(&mut c, "t");
    if got != expected {
        let e: BTreeMap<i64, Row> = expected.iter().map(|r| (r.0, r.clone())).collect();
        let g: BTreeMap<i64, Row> = got.iter().map(|r| (r.0, r.clone())).collect();
        let diff: Vec<String> = e
            .keys()
            .chain(g.keys())
            .filter(|k| e.get(k) != g.get(k))
            .take(10)
            .map(|k| format!("{k}: expected {:?}, got {:?}", e.get(k), g.get(k)))
            .collect();
        panic!(
            "the resumed copy differs from the writer's record: {diff:#?}\n{}",
            r.stderr
        );
    }
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

/// The largest number of statements copying into `app._t_new` at once
/// that a poller on `c` saw until `stop`, sampling the process list.
fn watch_copy_statements(mut c: Conn, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut most = 0;
        while !stop.load(Ordering::SeqCst) {
            let n = count(
                &mut c,
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT IGNORE INTO `app`.`\\_t\\_new`%FORCE INDEX%'",
            );
            most = most.max(n);
            std::thread::sleep(Duration::from_millis(1));
        }
        most
    })
}

/// The first rows of the model that differ from `got`, for a message.
fn model_diff(expected: &[Row], got: &[Row]) -> Vec<String> {
    let e: BTreeMap<i64, Row> = expected.iter().map(|r| (r.0, r.clone())).collect();
    let g: BTreeMap<i64, Row> = got.iter().map(|r| (r.0, r.clone())).collect();
    e.keys()
        .chain(g.keys())
        .filter(|k| e.get(k) != g.get(k))
        .take(10)
        .map(|k| format!("{k}: expected {:?}, got {:?}", e.get(k), g.get(k)))
        .collect()
}

/// `--threads`: chunks copied on several sessions at once, under a writer,
/// with trigger capture and with binary log capture; a SIGKILL in the
/// middle of a parallel copy, then `--resume` with another thread count.
/// Every acknowledged write is in the new table, and the replica equals
/// the primary by CHECKSUM TABLE.
#[test]
fn parallel_copy_under_a_writer_is_exact_and_resumes_after_a_kill() {
    // Built before the writers start, so they write while the tool runs.
    oxkit_harness::tool_path(TOOL).expect("build");
    let t = Topology::start(1).expect("topology");
    let mut c = t.primary_conn().expect("conn");
    let port = t.primary.port();
    exec(&mut c, SEED).expect("seed");
    exec(&mut c, "INSERT INTO app.t SELECT seq, seq % 1000, CONCAT('more-', seq), 'b' FROM seq_3001_to_24000").expect("more rows");
    let d = dsn(port, "t");
    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));

    // A whole run per method, three sessions copying.
    for (seed, method, alter) in [
        (31, "triggers", "MODIFY k BIGINT NOT NULL"),
        (32, "binlog", "MODIFY k INT NOT NULL"),
    ] {
        let writer = start_writer(t.primary_conn().expect("writer"), model.clone(), seed);
        let stop = Arc::new(AtomicBool::new(false));
        let poller = watch_copy_statements(t.primary_conn().expect("poller"), stop.clone());
        let r = Tool::new(TOOL)
            .args([
                d.as_str(),
                "--alter",
                alter,
                "--execute",
                "--force-copy",
                "--format",
                "json",
                "--method",
                method,
                "--threads",
                "3",
                "--chunk-size",
                "1000",
                "--chunk-time",
                "0",
                "--sleep-ratio",
                "0.5",
            ])
            .run()
            .expect("run");
        stop.store(true, Ordering::SeqCst);
        let most = poller.join().expect("poller");
        let (acked, _) = writer.stop();
        r.expect_code(0);
        let doc = r.json();
        assert_eq!(doc["method"], method, "{doc:#}");
        assert!(acked > 20, "{method}: the writer hardly wrote: {acked}");
        assert!(
            most >= 2,
            "{method}: never saw two copy statements at once (at most {most})"
        );
        let expected = model_rows(&model.lock().expect("model"));
        let got = rows(&mut c, "t");
        assert!(
            got == expected,
            "{method}: the new table differs from the writer's record: {:#?}",
            model_diff(&expected, &got)
        );
        assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{method}");
        eprintln!(
            "{method} --threads 3: {acked} writes, up to {most} copy statements at once, {} chunks, {} copied again; copy {}s, checksum {}s, swap {}s in {} attempt(s), total {}s",
            doc["chunks"], doc["chunks_recopied"], doc["copy_seconds"], doc["checksum_seconds"],
            doc["cut_over_seconds"], doc["cut_over_attempts"], doc["total_seconds"]
        );
    }

    // SIGKILL in the middle of a parallel copy under a writer: the
    // checkpoint holds whole rounds; --resume with two sessions finishes.
    let writer = start_writer(t.primary_conn().expect("writer"), model.clone(), 33);
    let slow = [
        d.as_str(),
        "--alter",
        "MODIFY k BIGINT NOT NULL",
        "--execute",
        "--method",
        "binlog",
        "--threads",
        "3",
        "--chunk-size",
        "300",
        "--chunk-time",
        "0",
        "--sleep-ratio",
        "50",
        "--pace",
        "always",
    ];
    let mut child = spawn(&slow);
    wait_phase(&mut c, "t", "copying", 6, &mut child);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let (_, chunk) = phase(&mut c, "t").expect("checkpoint left");
    assert!(
        chunk >= 6 && chunk % 3 == 0,
        "the checkpoint is not at the end of a round of 3: chunk {chunk}"
    );
    let r = Tool::new(TOOL)
        .args([
            d.as_str(),
            "--alter",
            "MODIFY k BIGINT NOT NULL",
            "--execute",
            "--resume",
            "--format",
            "json",
            "--threads",
            "2",
            "--chunk-size",
            "500",
            "--sleep-ratio",
            "0.2",
        ])
        .run()
        .expect("resume");
    let (acked, _) = writer.stop();
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["resumed"], true, "{doc:#}");
    assert_eq!(doc["method"], "binlog", "{doc:#}");
    assert!(acked > 20, "the writer hardly wrote: {acked}");
    assert!(create_table(&mut c, "t").contains(&format!("`k` {} NOT NULL", int_type("bigint"))));
    let expected = model_rows(&model.lock().expect("model"));
    let got = rows(&mut c, "t");
    assert!(
        got == expected,
        "the resumed parallel copy differs from the writer's record: {:#?}\n{}",
        model_diff(&expected, &got),
        r.stderr
    );
    assert_eq!(leftovers(&mut c), Vec::<String>::new());

    t.sync().expect("sync");
    let mut rc = t.replica_conn(0).expect("replica");
    assert_eq!(create_table(&mut rc, "t"), create_table(&mut c, "t"));
    assert_eq!(
        checksum_table(&mut rc, "t"),
        checksum_table(&mut c, "t"),
        "CHECKSUM TABLE: the replica differs"
    );
    assert!(rows(&mut rc, "t") == rows(&mut c, "t"), "replica differs");
    assert_eq!(leftovers(&mut rc), Vec::<String>::new());
}

/// Transactions that read the table and then write it, one after
/// another with short pauses, on `c`, until `stop`: (transactions
/// committed, every error seen). Such a transaction holds the table's
/// metadata lock for reading and then asks for it for writing, which is
/// what made it a deadlock victim of a queued swap.
fn read_then_write(
    mut c: Conn,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(u64, Vec<String>)> {
    std::thread::spawn(move || {
        let (mut done, mut errors) = (0u64, Vec::new());
        let mut i = 0i64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            let id = 1 + i % 2000;
            let r = (|| -> Result<(), oxkit::conn::DbError> {
                c.run("app", "START TRANSACTION")?;
                let _: Option<i64> =
                    c.row("app", &format!("SELECT k FROM app.t WHERE id = {id}"))?;
                std::thread::sleep(Duration::from_millis(150));
                c.run(
                    "app",
                    &format!("UPDATE app.t SET k = k + 1 WHERE id = {}", id + 1),
                )?;
                c.run("app", "COMMIT")
            })();
            match r {
                Ok(()) => done += 1,
                Err(e) => {
                    let _ = c.run("app", "ROLLBACK");
                    errors.push(e.to_string());
                }
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        (done, errors)
    })
}

/// The swap never makes an application transaction a metadata lock
/// deadlock victim: a transaction that read the table and then writes it
/// while the swap's LOCK TABLES or RENAME was queued for the table got
/// error 1213 (the bench's client errors under sysbench). The swap now
/// asks for the lock only when it is free (MariaDB: without queueing;
/// MySQL: after performance_schema shows no holder), and gets it in a
/// pause between the transactions.
#[test]
fn the_swap_never_makes_an_application_transaction_a_deadlock_victim() {
    let (s, mut c) = seeded_single();
    let d = dsn(s.port(), "t");
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("postpone");
    let flag_s = flag.to_string_lossy().to_string();
    for (method, alter) in [
        ("binlog", "ADD INDEX k_idx (k)"),
        ("triggers", "DROP INDEX k_idx"),
    ] {
        std::fs::write(&flag, "").expect("flag");
        let mut child = spawn(&[
            d.as_str(),
            "--alter",
            alter,
            "--execute",
            "--format",
            "json",
            "--force-copy",
            "--method",
            method,
            "--cut-over-lock-wait",
            "1",
            "--cut-over-timeout",
            "60",
            "--postpone-cut-over",
            &flag_s,
        ]);
        wait_phase(&mut c, "t", "postponed", 0, &mut child);
        let stop = Arc::new(AtomicBool::new(false));
        let app = read_then_write(s.connect().expect("app"), stop.clone());
        std::thread::sleep(Duration::from_millis(500));
        std::fs::remove_file(&flag).expect("release");
        let r = finish(child);
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::SeqCst);
        let (done, errors) = app.join().expect("app thread");
        r.expect_code(0);
        let doc = r.json();
        assert_eq!(doc["method"], method, "{doc:#}");
        assert!(done >= 5, "{method}: the application hardly ran: {done}");
        assert!(
            errors.is_empty(),
            "{method}: the application got errors during the swap: {errors:#?}\n{}",
            r.stderr
        );
        eprintln!(
            "{method}: {done} read-then-write transactions, no error; swap {}s in {} attempt(s)",
            doc["cut_over_seconds"], doc["cut_over_attempts"]
        );
        assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{method}");
    }
}

/// `--pace adaptive` (the default) copies flat out on an idle server, even
/// with a large --sleep-ratio, and yields while the application suffers:
/// sessions running statements (here six `SELECT SLEEP`) raise
/// Threads_running above its level at rest, and the copy sleeps until they
/// are gone, saying both on stderr.
#[test]
fn adaptive_pacing_yields_only_while_the_application_suffers() {
    let (s, mut c) = seeded_single();
    exec(&mut c, "INSERT INTO app.t SELECT seq, seq % 1000, CONCAT('more-', seq), 'a' FROM seq_3001_to_30000").expect("more rows");
    let d = dsn(s.port(), "t");
    let args = |alter: &'static str| {
        vec![
            d.clone(),
            "--alter".into(),
            alter.into(),
            "--execute".into(),
            "--force-copy".into(),
            "--format".into(),
            "json".into(),
            "--chunk-size".into(),
            "100".into(),
            "--chunk-time".into(),
            "0".into(),
            "--sleep-ratio".into(),
            "20".into(),
        ]
    };
    // Idle: no round yields (always pacing would sleep 20x the copy).
    let r = Tool::new(TOOL)
        .args(args("ADD INDEX k_idx (k)"))
        .run()
        .expect("run");
    r.expect_code(0);
    let doc = r.json();
    let (rounds, yielded) = (
        doc["rounds"].as_u64().unwrap_or(0),
        doc["rounds_yielded"].as_u64().unwrap_or(u64::MAX),
    );
    // Idle but for other tests on the machine: few rounds, if any, yield.
    assert!(
        rounds >= 100 && yielded * 4 < rounds,
        "{doc:#}\n{}",
        r.stderr
    );
    eprintln!(
        "idle, --sleep-ratio 20, adaptive: copy {}s, {} chunks in {rounds} rounds, yielded after {yielded}",
        doc["copy_seconds"], doc["chunks"]
    );

    // Busy for a while during the copy.
    let a: Vec<String> = args("DROP INDEX k_idx");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut child = spawn(&a);
    wait_phase(&mut c, "t", "copying", 4, &mut child);
    let sleepers: Vec<_> = (0..6)
        .map(|_| {
            let mut conn = s.connect().expect("sleeper");
            std::thread::spawn(move || {
                let _: Option<i64> = conn.row("sleeper", "SELECT SLEEP(3)").expect("sleep");
            })
        })
        .collect();
    for t in sleepers {
        t.join().expect("sleeper");
    }
    let r = finish(child);
    r.expect_code(0);
    let doc = r.json();
    assert!(doc["rounds_yielded"].as_u64().unwrap_or(0) >= 1, "{doc:#}");
    eprintln!(
        "busy for 3 s: copy {}s, {} rounds, yielded after {}",
        doc["copy_seconds"], doc["rounds"], doc["rounds_yielded"]
    );
    assert!(
        r.stderr
            .contains("pacing: the application suffers (Threads_running"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("pacing: the application is back"),
        "{}",
        r.stderr
    );
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

#[test]
fn cut_over_waits_in_bounded_steps_behind_a_long_transaction() {
    cut_over_behind_a_long_transaction("triggers");
}

#[test]
fn binlog_cut_over_waits_in_bounded_steps_behind_a_long_transaction() {
    cut_over_behind_a_long_transaction("binlog");
}

fn cut_over_behind_a_long_transaction(method: &str) {
    let (s, mut c) = seeded_single();
    let d = dsn(s.port(), "t");
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("postpone");
    let flag_s = flag.to_string_lossy().to_string();

    for give_up in [false, true] {
        std::fs::write(&flag, "").expect("flag");
        let before = create_table(&mut c, "t");
        let mut args = vec![
            d.as_str(),
            "--alter",
            "ADD INDEX k_idx (k)",
            "--execute",
            "--format",
            "json",
            "--cut-over-lock-wait",
            "1",
            "--postpone-cut-over",
            &flag_s,
            "--method",
            method,
        ];
        if give_up {
            args.extend_from_slice(&["--cut-over-timeout", "4"]);
        }
        let mut child = spawn(&args);
        wait_phase(&mut c, "t", "postponed", 0, &mut child);
        // A transaction that read the table holds its metadata lock.
        let mut long = s.connect().expect("long");
        exec(&mut long, "START TRANSACTION; SELECT COUNT(*) FROM app.t").expect("long trx");
        // The application keeps querying; measure its worst latency.
        let stop = Arc::new(AtomicBool::new(false));
        let worst = Arc::new(AtomicU64::new(0));
        let app = {
            let (stop, worst) = (stop.clone(), worst.clone());
            let mut a = s.connect().expect("app");
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let t = Instant::now();
                    let _: Option<u64> = a
                        .row(
                            "app",
                            "SELECT COUNT(*) FROM app.t WHERE id BETWEEN 10 AND 20",
                        )
                        .expect("app query");
                    worst.fetch_max(t.elapsed().as_millis() as u64, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        std::fs::remove_file(&flag).expect("release");
        std::thread::sleep(Duration::from_secs(if give_up { 8 } else { 4 }));
        exec(&mut long, "COMMIT").expect("commit");
        let r = finish(child);
        stop.store(true, Ordering::SeqCst);
        app.join().expect("app thread");
        let worst = worst.load(Ordering::SeqCst);
        assert!(worst < 2500, "an application query waited {worst} ms");
        if give_up {
            r.expect_code(1);
            assert!(r.stderr.contains("gave up"), "{}", r.stderr);
            assert!(r.stderr.contains("in a transaction since"), "{}", r.stderr);
            assert_eq!(create_table(&mut c, "t"), before);
            assert_eq!(leftovers(&mut c), Vec::<String>::new());
        } else {
            r.expect_code(0);
            let doc = r.json();
            assert!(
                doc["cut_over_attempts"].as_u64().unwrap_or(0) >= 2,
                "{doc:#}"
            );
            assert!(create_table(&mut c, "t").contains("KEY `k_idx`"));
            assert!(r.stderr.contains("lock not granted"), "{}", r.stderr);
            assert_eq!(doc["method"], method, "{doc:#}");
            exec(&mut c, "ALTER TABLE app.t DROP INDEX k_idx").expect("reset");
        }
    }
}

#[test]
fn foreign_keys_in_both_directions_stay_enforced() {
    let s = single().expect("server");
    let mut c = s.connect().expect("conn");
    exec(
        &mut c,
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.p (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB; \
         INSERT INTO app.p SELECT seq, seq FROM seq_1_to_500; \
         CREATE TABLE app.c (id INT PRIMARY KEY, pid INT NOT NULL, v INT NOT NULL, \
           CONSTRAINT fk_c_p FOREIGN KEY (pid) REFERENCES app.p (id) ON DELETE CASCADE) ENGINE=InnoDB; \
         INSERT INTO app.c SELECT seq, 1 + seq % 500, seq FROM seq_1_to_2000",
    )
    .expect("tables");
    let port = s.port();
    let fk_target = |c: &mut Conn| -> Vec<(String, String)> {
        c.rows(
            "fks",
            "SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = 'app' ORDER BY CONSTRAINT_NAME",
        )
        .expect("fks")
    };

    // The parent: the child's constraint follows to the new table.
    let r = Tool::new(TOOL)
        .args([
            &dsn(port, "p"),
            "--alter",
            "MODIFY v BIGINT NOT NULL",
            "--execute",
            "--format",
            "json",
        ])
        .run()
        .expect("parent");
    r.expect_code(0);
    assert!(
        r.json()["children"].to_string().contains("app.c"),
        "{}",
        r.stdout
    );
    assert_eq!(
        fk_target(&mut c),
        vec![("_fk_c_p".to_string(), "p".to_string())]
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.c"), 2000);
    assert!(c
        .run("orphan", "INSERT INTO app.c VALUES (5000, 99999, 1)")
        .is_err());
    exec(&mut c, "DELETE FROM app.p WHERE id = 1").expect("delete parent");
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.c"), 1996);

    // The child: its own constraint is kept (renamed) and enforced.
    let r = Tool::new(TOOL)
        .args([
            &dsn(port, "c"),
            "--alter",
            "MODIFY v BIGINT NOT NULL",
            "--execute",
        ])
        .run()
        .expect("child");
    r.expect_code(0);
    assert_eq!(
        fk_target(&mut c),
        vec![("fk_c_p".to_string(), "p".to_string())]
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.c"), 1996);
    assert!(c
        .run("orphan", "INSERT INTO app.c VALUES (5000, 99999, 1)")
        .is_err());
    exec(&mut c, "DELETE FROM app.p WHERE id = 2").expect("delete parent");
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app.c"), 1992);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

fn tcp_spec(port: u16) -> oxkit::dsn::ConnSpec {
    oxkit::dsn::ConnSpec {
        host: Some("127.0.0.1".into()),
        port: Some(port),
        user: Some("root".into()),
        ..Default::default()
    }
}

#[test]
fn binlog_reader_hands_out_one_tables_row_images() {
    use oxkit::binlog::{master_position, usable, Change, Item, Reader};
    use oxkit::server::Server;
    let (s, mut c) = seeded_single();
    exec(&mut c, "CREATE TABLE app.other (id INT PRIMARY KEY)").expect("other");
    let server = Server::detect(&mut c).expect("server");
    assert_eq!(usable(&mut c, &server).expect("usable"), None);
    let from = master_position(&mut c, &server).expect("position");
    let opts = oxkit::conn::ConnectOptions::default();
    let mut reader =
        Reader::start(&tcp_spec(s.port()), &opts, &server, "app", "t", from).expect("reader");
    exec(
        &mut c,
        "INSERT INTO app.t VALUES (5001, 1, 'x', 'b'); INSERT INTO app.other VALUES (1); \
         UPDATE app.t SET id = 5002, s = NULL WHERE id = 5001; \
         START TRANSACTION; DELETE FROM app.t WHERE id IN (5002, 1); COMMIT",
    )
    .expect("changes");
    let target = master_position(&mut c, &server).expect("position");
    reader
        .wait_received(&target, Instant::now() + Duration::from_secs(30))
        .expect("caught up");
    let mut changes = Vec::new();
    let mut commits = 0;
    while let Some(item) = reader.next(Duration::ZERO).expect("item") {
        match item {
            Item::Rows(v) => changes.extend(v),
            Item::Commit(p) => {
                assert!(p <= target, "{p} > {target}");
                commits += 1;
            }
        }
    }
    use mysql::Value;
    let ins = vec![
        Value::Int(5001),
        Value::Int(1),
        Value::Bytes(b"x".to_vec()),
        Value::Int(2),
    ];
    assert_eq!(changes.len(), 4, "{changes:?}");
    assert_eq!(changes[0], Change::Insert(ins.clone()));
    match &changes[1] {
        Change::Update(b, a) => {
            assert_eq!(b, &ins);
            assert_eq!(a[0], Value::Int(5002));
            assert_eq!(a[2], Value::NULL);
        }
        other => panic!("not an update: {other:?}"),
    }
    assert!(matches!(&changes[2], Change::Delete(r) if r[0] == Value::Int(1)));
    assert!(commits >= 4, "{commits} commits");
    reader.stop();

    // A purged or unknown log is refused clearly.
    let gone = oxkit::binlog::Position {
        file: "mysql-bin.999999".into(),
        pos: 4,
    };
    let e = Reader::start(&tcp_spec(s.port()), &opts, &server, "app", "t", gone)
        .err()
        .expect("refused");
    assert!(
        format!("{e:#}").contains("no longer on the server"),
        "{e:#}"
    );

    // Statement format is refused with the reason.
    exec(&mut c, "SET GLOBAL binlog_format = 'STATEMENT'").expect("statement");
    let why = usable(&mut c, &server).expect("usable");
    exec(&mut c, "SET GLOBAL binlog_format = 'ROW'").expect("row");
    assert!(why.unwrap_or_default().contains("not ROW"));
}

#[test]
fn binlog_capture_copies_under_a_writer_exactly_and_replicates() {
    let t = Topology::start(1).expect("topology");
    let mut c = t.primary_conn().expect("conn");
    exec(&mut c, SEED).expect("seed");
    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));
    let binlog = ["--method", "binlog"];
    let doc = copy_change(&t, &model, 11, "ADD INDEX k_idx (k)", &binlog);
    assert_eq!(doc["method"], "binlog", "{doc:#}");
    assert!(doc["binlog_changes"].as_u64().unwrap_or(0) > 0, "{doc:#}");
    assert!(create_table(&mut c, "t").contains("KEY `k_idx` (`k`)"));
    // ENUM members reordered and a charset converted: the captured rows go
    // through the same conversion as the copy.
    copy_change(
        &t,
        &model,
        12,
        "MODIFY e ENUM('c','b','a') NOT NULL DEFAULT 'a', CONVERT TO CHARACTER SET utf8mb4",
        &binlog,
    );
    assert!(create_table(&mut c, "t").contains("enum('c','b','a')"));
    assert!(!create_table(&mut c, "t").contains("latin1"));
    t.sync().expect("sync");
    let mut r = t.replica_conn(0).expect("replica");
    assert_eq!(create_table(&mut r, "t"), create_table(&mut c, "t"));
    assert!(rows(&mut r, "t") == rows(&mut c, "t"), "replica differs");
    assert_eq!(
        checksum_table(&mut r, "t"),
        checksum_table(&mut c, "t"),
        "CHECKSUM TABLE: the replica differs"
    );
    assert_eq!(leftovers(&mut r), Vec::<String>::new());
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

#[test]
fn binlog_method_refused_without_row_format_and_default_falls_back() {
    let (s, mut c) = seeded_single();
    let d = dsn(s.port(), "t");
    let before = create_table(&mut c, "t");
    exec(&mut c, "SET GLOBAL binlog_format = 'STATEMENT'").expect("statement");
    let r = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "ADD INDEX k_idx (k)",
            "--execute",
            "--method",
            "binlog",
        ])
        .run()
        .expect("run");
    // Without --method: triggers, with a note saying why.
    let fallback = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "ADD INDEX k_idx (k)",
            "--dry-run",
            "--format",
            "json",
        ])
        .run()
        .expect("run");
    exec(&mut c, "SET GLOBAL binlog_format = 'ROW'").expect("row");
    r.expect_code(1);
    assert!(r.stderr.contains("not ROW"), "{}", r.stderr);
    fallback.expect_code(0);
    let doc = fallback.json();
    assert_eq!(doc["method"], "triggers", "{doc:#}");
    assert!(
        doc["method_note"].to_string().contains("not ROW"),
        "{doc:#}"
    );
    assert_eq!(
        fallback
            .stderr
            .lines()
            .filter(|l| l.contains("note:"))
            .count(),
        1,
        "{}",
        fallback.stderr
    );
    // MySQL's compressed transactions are not read: refused with the
    // reason (MariaDB has no such setting).
    if oxkit_harness::flavour().is_mysql() {
        exec(&mut c, "SET GLOBAL binlog_transaction_compression = ON").expect("compress");
        let r = Tool::new(TOOL)
            .args([
                &d,
                "--alter",
                "ADD INDEX k_idx (k)",
                "--execute",
                "--method",
                "binlog",
            ])
            .run()
            .expect("run");
        exec(&mut c, "SET GLOBAL binlog_transaction_compression = OFF").expect("uncompress");
        r.expect_code(1);
        assert!(
            r.stderr.contains("binlog_transaction_compression"),
            "{}",
            r.stderr
        );
    }
    // With ROW format the default is the binary log.
    let doc = Tool::new(TOOL)
        .args([
            &d,
            "--alter",
            "ADD INDEX k_idx (k)",
            "--dry-run",
            "--format",
            "json",
        ])
        .run()
        .expect("run")
        .json();
    assert_eq!(doc["method"], "binlog", "{doc:#}");
    assert_eq!(create_table(&mut c, "t"), before);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

#[test]
fn binlog_swaps_under_a_writer_lose_no_write() {
    // The writer keeps writing through each swap: writes that queue while
    // the table is locked must land in the new table, none in the old.
    let (s, mut c) = seeded_single();
    let d = dsn(s.port(), "t");
    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));
    let writers: Vec<Writer> = (0..2)
        .map(|i| start_writer(s.connect().expect("writer"), model.clone(), 21 + i))
        .collect();
    for (i, alter) in ["ADD INDEX k_idx (k)", "DROP INDEX k_idx"]
        .iter()
        .cycle()
        .take(4)
        .enumerate()
    {
        let r = Tool::new(TOOL)
            .args([
                &d,
                "--alter",
                alter,
                "--execute",
                "--force-copy",
                "--method",
                "binlog",
                "--format",
                "json",
                "--sleep-ratio",
                "0",
            ])
            .run()
            .expect("run");
        r.expect_code(0);
        assert_eq!(r.json()["method"], "binlog", "swap {i}: {}", r.stdout);
    }
    let mut acked = 0;
    for w in writers {
        acked += w.stop().0;
    }
    assert!(acked > 100, "the writers hardly wrote: {acked}");
    let expected = model_rows(&model.lock().expect("model"));
    assert!(rows(&mut c, "t") == expected, "a write was lost in a swap");
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
}

/// The binary log applier takes the share locks it can get without waiting
/// (`SKIP LOCKED`) and applies a key whose row another transaction holds on
/// its own, waiting for that one row only: an XA transaction prepared on a
/// row (its change already in the binary log, its lock still held) makes the
/// applier wait for it alone, and the row it then reads is the committed one.
#[test]
fn binlog_apply_waits_alone_for_a_row_held_by_a_prepared_xa() {
    let (s, mut c) = seeded_single();
    exec(&mut c, "DROP TABLE IF EXISTS app.xa_t; CREATE TABLE app.xa_t LIKE app.t; INSERT INTO app.xa_t SELECT * FROM app.t")
        .expect("table");
    let d = dsn(s.port(), "xa_t");
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("postpone");
    std::fs::write(&flag, "").expect("flag");
    let flag_s = flag.to_string_lossy().to_string();
    let mut child = spawn(&[
        &d,
        "--alter",
        "ADD INDEX k_idx (k)",
        "--execute",
        "--format",
        "json",
        "--method",
        "binlog",
        "--postpone-cut-over",
        &flag_s,
    ]);
    wait_phase(&mut c, "xa_t", "postponed", 0, &mut child);
    let mut x = s.connect().expect("xa session");
    exec(
        &mut x,
        "XA START 'osc1'; UPDATE app.xa_t SET k = k + 1000 WHERE id = 5; \
         DELETE FROM app.xa_t WHERE id = 6; XA END 'osc1'; XA PREPARE 'osc1'",
    )
    .expect("xa prepare");
    // Another writer's rows are applied meanwhile (they share no row).
    exec(
        &mut c,
        "UPDATE app.xa_t SET k = k + 1 WHERE id BETWEEN 100 AND 120",
    )
    .expect("update");
    std::thread::sleep(Duration::from_millis(1500));
    exec(&mut x, "XA COMMIT 'osc1'").expect("xa commit");
    let want = rows(&mut c, "xa_t");
    std::fs::remove_file(&flag).expect("release");
    let r = finish(child);
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(doc["method"], "binlog", "{doc:#}");
    assert!(
        doc["binlog_keys_waited"].as_u64().unwrap_or(0) >= 2,
        "the prepared rows were not applied one by one: {doc:#}"
    );
    assert!(create_table(&mut c, "xa_t").contains("KEY `k_idx`"));
    assert!(rows(&mut c, "xa_t") == want, "the changed table differs");
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
    exec(&mut c, "DROP TABLE app.xa_t").expect("drop");
}

/// Issue 21: a second run on a table whose run is alive (here postponed
/// before its swap) is refused with exit 2, also as `--resume` (which
/// attached to the live run, and its Ctrl-C dropped the live run's
/// shadow) and as a dry run; the live run is untouched and finishes.
#[test]
fn a_second_run_on_a_live_table_is_refused_with_exit_2() {
    let (s, mut c) = seeded_single();
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("postpone");
    std::fs::write(&flag, "").expect("flag");
    let d = dsn(s.port(), "t");
    let flag_s = flag.to_string_lossy().to_string();
    let alter = "MODIFY k BIGINT NOT NULL";
    let mut live = spawn(&[
        &d,
        "--alter",
        alter,
        "--execute",
        "--postpone-cut-over",
        &flag_s,
    ]);
    wait_phase(&mut c, "t", "postponed", 0, &mut live);
    for extra in [
        vec!["--execute"],
        vec!["--execute", "--resume"],
        vec!["--dry-run"],
    ] {
        let mut args = vec![d.as_str(), "--alter", alter];
        args.extend(extra.iter().copied());
        let r = Tool::new(TOOL).args(&args).run().expect("second run");
        r.expect_code(2);
        assert!(
            r.stderr.contains("another ox-online-schema-change"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(
        phase(&mut c, "t").map(|p| p.0).as_deref(),
        Some("postponed")
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM app._t_new"), 3000);
    std::fs::remove_file(&flag).expect("release");
    finish(live).expect_code(0);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
    assert!(create_table(&mut c, "t").contains("bigint"));
}
