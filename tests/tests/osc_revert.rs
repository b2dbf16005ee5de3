//! ox-online-schema-change --keep-old-table / --revert / --drop-old-table
//! against real servers: a writer records every acknowledged write while
//! the table is altered with the original kept in sync, written to after
//! the swap, the keeping run stopped (writes go on), swapped back with
//! --revert, and written to again; the original then holds every
//! acknowledged write and equals the replica. Refusals: ALTERs that cannot
//! be mapped back, --revert with nothing kept, a live keeping run, a new
//! run on a table whose original is kept; --drop-old-table ends keeping.

#![allow(
    clippy::print_stderr,
    reason = "figures a developer reads with --nocapture"
)]

use oxkit::conn::Conn;
use oxkit_harness::osc::{
    checksum_table, create_table, finish, leftovers, model_of, model_rows, rows, start_writer, Row,
    TOOL,
};
use oxkit_harness::{exec, single, RunResult, Tool, Topology};
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEED: &str = "CREATE DATABASE IF NOT EXISTS app; USE app; \
    CREATE TABLE app.t (id INT NOT NULL PRIMARY KEY, k INT NOT NULL, \
      s VARCHAR(100) CHARACTER SET latin1 NULL, e ENUM('a','b','c') NOT NULL DEFAULT 'a', \
      UNIQUE KEY u_s (s)) ENGINE=InnoDB; \
    INSERT INTO app.t SELECT seq, seq * 7 % 1000, IF(seq % 10 = 0, NULL, CONCAT('row-', seq, ' caf\u{e9}')), \
      ELT(1 + seq % 3, 'a', 'b', 'c') FROM seq_1_to_3000";

fn dsn(port: u16) -> String {
    format!("h=127.0.0.1,P={port},u=root,D=app,t=t")
}

fn phase(c: &mut Conn) -> Option<String> {
    c.row("phase", "SELECT phase FROM app.`_t_osc` WHERE id = 1")
        .ok()
        .flatten()
}

/// Waits until the checkpoint says `kept` (the swap is done and the
/// keeping run applies the new table's changes).
fn wait_kept(c: &mut Conn, child: &mut Child) {
    let start = Instant::now();
    while phase(c).as_deref() != Some("kept") {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("the tool exited ({status}) before keeping the original: {err}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "phase kept not reached"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The keeping run in the background.
fn keep(port: u16, alter: &str) -> Child {
    let d = dsn(port);
    oxkit_harness::spawn_tool(
        TOOL,
        &[
            &d,
            "--alter",
            alter,
            "--execute",
            "--keep-old-table",
            "--format",
            "json",
            "--chunk-size",
            "500",
            "--sleep-ratio",
            "0",
        ],
    )
}

fn tool(args: &[&str]) -> RunResult {
    Tool::new(TOOL).args(args).run().expect("run")
}

#[test]
fn revert_swaps_back_without_losing_a_write() {
    let t = Topology::start(1).expect("topology");
    let mut c = t.primary_conn().expect("conn");
    exec(&mut c, SEED).expect("seed");
    let port = t.primary.port();
    let d = dsn(port);
    let original = create_table(&mut c, "t");
    let model = Arc::new(Mutex::new(model_of(&mut c, "t")));
    let started = Instant::now();
    let writer = start_writer(t.primary_conn().expect("writer"), model.clone(), 1);

    // Forward, keeping the original.
    let mut keeper = keep(port, "ADD COLUMN z INT NULL DEFAULT 7, ADD INDEX k_idx (k)");
    wait_kept(&mut c, &mut keeper);
    let swapped = started.elapsed();
    assert!(
        create_table(&mut c, "t").contains("`z`"),
        "the ALTER is not in"
    );
    // Writes to the new table, kept in the original.
    std::thread::sleep(Duration::from_millis(1500));
    // While it keeps, a --revert is refused (exit 2: the run lock).
    let r = tool(&[&d, "--revert", "--execute"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("another ox-online-schema-change"),
        "{}",
        r.stderr
    );
    // Stopped: the state stays; the writer writes on.
    oxkit_harness::signal(keeper.id(), "-TERM");
    let r = finish(keeper);
    r.expect_code(4);
    assert!(r.stderr.contains("--revert swaps it back"), "{}", r.stderr);
    assert_eq!(r.json()["old_table"], "app._t_old", "{}", r.stdout);
    assert_eq!(phase(&mut c).as_deref(), Some("kept"));
    std::thread::sleep(Duration::from_millis(1000));

    // Back, under the writer.
    let t0 = Instant::now();
    let r = tool(&[
        &d,
        "--revert",
        "--execute",
        "--no-drop-old-table",
        "--format",
        "json",
    ]);
    r.expect_code(0);
    let reverted = t0.elapsed();
    let doc = r.json();
    assert_eq!(doc["action"], "revert", "{doc:#}");
    assert_eq!(doc["old_table"], "app._t_rev", "{doc:#}");
    std::thread::sleep(Duration::from_millis(1000));
    let (acked, retried) = writer.stop();
    assert!(acked > 300, "the writer hardly wrote: {acked}");

    assert_eq!(
        create_table(&mut c, "t"),
        original,
        "the original is not back"
    );
    let expected = model_rows(&model.lock().expect("model"));
    let got = rows(&mut c, "t");
    if got != expected {
        // Which writes, and whether the altered table (set aside) had them.
        let aside = rows(&mut c, "_t_rev");
        let diff = |a: &[Row], b: &[Row]| -> Vec<String> {
            let b: BTreeMap<i64, &Row> = b.iter().map(|r| (r.0, r)).collect();
            a.iter()
                .filter(|r| b.get(&r.0) != Some(r))
                .map(|r| format!("{r:?} (there: {:?})", b.get(&r.0)))
                .take(10)
                .collect()
        };
        panic!(
            "the original misses acknowledged writes ({} rows, {} in the record)\nrecorded, not in the original: {:#?}\nin the original, not recorded: {:#?}\nthe altered table set aside: {:#?}",
            got.len(),
            expected.len(),
            diff(&expected, &got),
            diff(&got, &expected),
            diff(&expected, &aside),
        );
    }
    assert_eq!(leftovers(&mut c), vec!["_t_rev".to_string()]);
    exec(&mut c, "DROP TABLE app._t_rev").expect("drop the altered table");
    t.sync().expect("sync");
    let mut rc = t.replica_conn(0).expect("replica");
    assert_eq!(
        checksum_table(&mut c, "t"),
        checksum_table(&mut rc, "t"),
        "replica"
    );
    eprintln!(
        "revert: {acked} writes acknowledged ({retried} retried); swapped after {:.1}s, --revert took {:.2}s (swap back {}s, {} keys caught up)",
        swapped.as_secs_f64(),
        reverted.as_secs_f64(),
        doc["cut_over_seconds"],
        doc["binlog_keys_applied"]
    );
}

#[test]
fn revert_refusals_and_drop_old_table() {
    let s = single().expect("server");
    let mut c = s.connect().expect("conn");
    exec(&mut c, SEED).expect("seed");
    let d = dsn(s.port());
    let original = create_table(&mut c, "t");

    // Nothing kept.
    let r = tool(&[&d, "--revert", "--execute"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("nothing is kept for app.t"),
        "{}",
        r.stderr
    );
    let r = tool(&[&d, "--drop-old-table", "--execute"]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("nothing is kept for app.t"),
        "{}",
        r.stderr
    );

    // ALTERs that cannot be mapped back: refused before anything changes.
    for (alter, why) in [
        ("DROP COLUMN e", "drops column e"),
        ("MODIFY k BIGINT NOT NULL", "column k changes from"),
        ("DROP INDEX u_s", "unique key u_s is not a unique key"),
    ] {
        let r = tool(&[&d, "--alter", alter, "--execute", "--keep-old-table"]);
        r.expect_code(1);
        assert!(
            r.stderr.contains("cannot be reverted") && r.stderr.contains(why),
            "{alter}: {}",
            r.stderr
        );
        assert_eq!(create_table(&mut c, "t"), original, "{alter}");
        assert_eq!(leftovers(&mut c), Vec::<String>::new(), "{alter}");
    }
    let r = tool(&[
        &d,
        "--alter",
        "ADD INDEX k_idx (k)",
        "--execute",
        "--keep-old-table",
        "--method",
        "triggers",
    ]);
    r.expect_code(1);
    assert!(
        r.stderr.contains("needs binary log capture"),
        "{}",
        r.stderr
    );

    // Kept, then ended with --drop-old-table; meanwhile a new run on the
    // table is refused.
    let mut keeper = keep(s.port(), "ADD INDEX k_idx (k)");
    wait_kept(&mut c, &mut keeper);
    oxkit_harness::signal(keeper.id(), "-INT");
    finish(keeper).expect_code(4);
    let r = tool(&[&d, "--alter", "ADD COLUMN y INT", "--execute"]);
    r.expect_code(1);
    assert!(r.stderr.contains("is kept for --revert"), "{}", r.stderr);
    let r = tool(&[&d, "--drop-old-table", "--dry-run"]);
    r.expect_code(0);
    assert_eq!(phase(&mut c).as_deref(), Some("kept"));
    let r = tool(&[&d, "--drop-old-table", "--execute", "--format", "json"]);
    r.expect_code(0);
    assert_eq!(r.json()["action"], "drop_old_table", "{}", r.stdout);
    assert_eq!(leftovers(&mut c), Vec::<String>::new());
    assert!(create_table(&mut c, "t").contains("KEY `k_idx` (`k`)"));
    let r = tool(&[&d, "--revert", "--execute"]);
    r.expect_code(1);
}
