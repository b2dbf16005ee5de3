//! ox-summary against a real primary and replica, an unreachable server,
//! and a committed sample set rendered to committed golden output.
//!
//! Golden files: `OXKIT_BLESS=1 cargo test -p oxkit-harness --test summary`
//! rewrites `tests/data/summary-samples/expected.{txt,json}` from the
//! committed samples (review the diff before committing it).

use mysql::prelude::Queryable;
use oxkit_harness::{exec, RunResult, Tool, Topology};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn summary(args: &[&str]) -> RunResult {
    Tool::new("ox-summary")
        .args(args)
        .run()
        .unwrap_or_else(|e| panic!("running ox-summary: {e:#}"))
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/summary-samples")
}

/// Every key path of a JSON document: `a.b`, `a.list[].c` (arrays of
/// objects are walked element by element).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// The JSON keys the man page documents (`\fBkey\fR: meaning` paragraphs).
fn documented_keys() -> BTreeSet<String> {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/man1/ox-summary.1"),
    )
    .expect("man page");
    page.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("\\fB")?;
            let (key, tail) = rest.split_once("\\fR")?;
            let ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
            (ok && tail.starts_with(':')).then(|| key.to_string())
        })
        .collect()
}

fn schema_figures(c: &mut oxkit::conn::Conn) -> Vec<(String, u64, u64, u64, u64)> {
    c.query(
        "SELECT TABLE_SCHEMA, COUNT(*), CAST(SUM(TABLE_ROWS) AS UNSIGNED), \
         CAST(SUM(DATA_LENGTH) AS UNSIGNED), CAST(SUM(INDEX_LENGTH) AS UNSIGNED) \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ('app', 'shop') \
         AND TABLE_TYPE = 'BASE TABLE' GROUP BY TABLE_SCHEMA ORDER BY TABLE_SCHEMA",
    )
    .expect("information_schema")
}

fn note_ids(j: &Value) -> Vec<String> {
    j["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn primary_and_replica() {
    let t = Topology::start(1).expect("topology");
    let mut p = t.primary_conn().expect("primary");
    exec(
        &mut p,
        "CREATE DATABASE app; USE app; \
         CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(100), KEY (v)); \
         INSERT INTO app.t SELECT seq, REPEAT('x', 60) FROM seq_1_to_5000; \
         CREATE TABLE app.small (id INT PRIMARY KEY); INSERT INTO app.small VALUES (1), (2), (3); \
         CREATE DATABASE shop; CREATE TABLE shop.o (id INT PRIMARY KEY, note TEXT); \
         INSERT INTO shop.o SELECT seq, REPEAT('y', 300) FROM seq_1_to_2000; \
         ANALYZE TABLE app.t, app.small, shop.o",
    )
    .expect("load");
    // A plugin loaded from a library, which the summary lists.
    let mysql = oxkit_harness::flavour().is_mysql();
    let (install, plugin) = if mysql {
        (
            "INSTALL PLUGIN ddl_rewriter SONAME 'ddl_rewriter.so'",
            "ddl_rewriter",
        )
    } else {
        ("INSTALL SONAME 'metadata_lock_info'", "METADATA_LOCK_INFO")
    };
    // MariaDB 11.8's root has only mariadb-server-core, which ships no
    // plugin libraries.
    let plugins = !oxkit_harness::not_on(
        &["mariadb-11.8"],
        "its plugin check: the MariaDB 11.8 root (mariadb-server-core) has no plugin libraries",
    );
    if plugins {
        exec(&mut p, install).expect("plugin");
    }
    t.sync().expect("sync");
    // An open transaction (a locking read: no row changes, so no stats
    // recalculation moves the schema figures under the test).
    let mut holder = t.primary_conn().expect("holder");
    exec(&mut holder, "BEGIN; SELECT * FROM app.small FOR UPDATE").expect("trx");
    let holder_id: Option<u64> = holder.query_first("SELECT CONNECTION_ID()").expect("id");

    let version: Option<String> = p.query_first("SELECT VERSION()").expect("version");
    let gtid: Option<String> = p
        .query_first(oxkit_harness::sql("SELECT @@gtid_binlog_pos"))
        .expect("gtid");
    let gtid = gtid.unwrap_or_default();
    let before = schema_figures(&mut p);

    // --- the primary, JSON, instant (--sleep 0)
    let dsn = t.primary.dsn();
    let r = summary(&["--format", "json", "--sleep", "0", &dsn]);
    r.expect_code(0);
    let pj = r.json();
    // No query of the summary is refused or warns on this server (MySQL
    // 9.7 once refused its plugin query and warned about
    // information_schema.PROCESSLIST).
    assert_eq!(
        pj["errors"].as_array().map(Vec::len),
        Some(0),
        "{}",
        pj["errors"]
    );
    let after = schema_figures(&mut p);
    assert_eq!(pj["server"]["info"]["version"].as_str(), version.as_deref());
    let flavor = if oxkit_harness::flavour().is_mysql() {
        "MySQL"
    } else {
        "MariaDB"
    };
    assert_eq!(pj["server"]["info"]["flavor"], flavor);
    assert_eq!(pj["server"]["info"]["port"], t.primary.port());
    let schemas = pj["server"]["schemas"].as_array().expect("schemas");
    assert_eq!(before.len(), 2);
    for (i, (name, tables, rows, data, index)) in before.iter().enumerate() {
        let s = schemas
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "schema {name} missing: {schemas:?}; errors {}",
                    pj["errors"]
                )
            });
        let within = |key: &str, a: u64, b: u64| {
            let v = s[key].as_u64().expect("number");
            assert!(
                a.min(b) <= v && v <= a.max(b),
                "{name}.{key} = {v}, information_schema says {a} then {b}"
            );
        };
        within("tables", *tables, after[i].1);
        within("rows", *rows, after[i].2);
        within("data_bytes", *data, after[i].3);
        within("index_bytes", *index, after[i].4);
    }
    assert!(before[0].2 >= 4000, "app rows estimate {:?}", before[0]);
    let rep = &pj["server"]["replication"];
    assert_eq!(rep["role"], "source");
    assert_eq!(rep["gtid_position"].as_str(), Some(gtid.as_str()));
    let replicas = rep["replicas"].as_array().expect("replicas");
    assert!(
        replicas
            .iter()
            .any(|x| x["port"] == t.replicas[0].port() && x["server_id"] == 2),
        "the replica is listed: {replicas:?}"
    );
    assert!(rep["binlog_dump_threads"].as_u64() >= Some(1));
    let trx = pj["server"]["processlist"]["longest_transactions"]
        .as_array()
        .expect("transactions");
    assert!(
        trx.iter().any(|x| x["thread_id"].as_u64() == holder_id),
        "open transaction of thread {holder_id:?} listed: {trx:?}"
    );
    assert!(
        pj["server"]["plugins"]
            .as_array()
            .expect("plugins")
            .iter()
            .any(|x| x["name"] == plugin)
            || !plugins
    );
    // 127.0.0.1 is this host: the host half is there, with the server's
    // own process found by its port.
    let dbs = pj["system"]["db_processes"]
        .as_array()
        .expect("db processes");
    if !oxkit_harness::not_on(
        &["mariadb-11.8", "mysql"],
        "its check of the host's db_processes: a server from a Debian root runs under that \
         root's loader (process name ld-linux-x86-64), which is no mysqld or mariadbd process",
    ) {
        assert!(
            dbs.iter()
                .any(|d| d["port"] == t.primary.port() && d["command"] == "mariadbd"),
            "{dbs:?}"
        );
    }
    let notes = note_ids(&pj);
    // The sandboxes run innodb_flush_log_at_trx_commit=2 and root has no
    // password: both are findings on a primary.
    assert!(
        notes.contains(&"flush-log-at-trx-commit".to_string()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"accounts-without-password".to_string()),
        "{notes:?}"
    );
    assert_eq!(pj["server_unreachable"], false);

    // --- the replica, JSON, with a sampling interval
    let rdsn = t.replicas[0].dsn();
    let r = summary(&["--format", "json", "--sleep", "1", &rdsn]);
    r.expect_code(0);
    let rj = r.json();
    let rr = &rj["server"]["replication"];
    assert_eq!(rr["role"], "replica");
    let ch = &rr["channels"][0];
    assert_eq!(ch["source_host"], "127.0.0.1");
    assert_eq!(ch["source_port"], t.primary.port());
    assert_eq!(ch["io_running"], "Yes");
    assert_eq!(ch["sql_running"], "Yes");
    // Known (a stopped thread makes it null) and small: the replica has
    // applied everything, but MySQL counts from the last event's timestamp
    // and a loaded machine can show a second or two.
    assert!(
        ch["seconds_behind"].as_u64().is_some_and(|s| s <= 2),
        "{ch}"
    );
    assert_eq!(ch["gtid_applied"].as_str(), Some(gtid.as_str()));
    assert_eq!(rj["server"]["status"]["basis"], "interval");
    assert!(rj["server"]["status"]["interval_seconds"].as_f64() >= Some(0.9));

    // --- every documented key is printed, and every printed key documented
    let mut seen = BTreeSet::new();
    key_paths(&pj, "", &mut seen);
    key_paths(&rj, "", &mut seen);
    let documented = documented_keys();
    assert!(
        documented.len() > 200,
        "man page keys: {}",
        documented.len()
    );
    let undocumented: Vec<&String> = seen.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "printed, not in the man page: {undocumented:?}"
    );
    // Host arrays can be empty on some machines (no NUMA in sysfs, say):
    // their element keys are excused only then.
    let empty_host_array = |k: &str| {
        k.split_once("[]").is_some_and(|(arr, _)| {
            arr.starts_with("system.")
                && arr
                    .split('.')
                    .try_fold(&pj, |v, part| v.get(part))
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
        })
    };
    let missing: Vec<&String> = documented
        .difference(&seen)
        .filter(|k| !empty_host_array(k))
        .filter(|k| plugins || !k.starts_with("server.plugins[]"))
        .collect();
    assert!(missing.is_empty(), "documented, never printed: {missing:?}");

    // --- text on the replica shows its source, GTID and lag
    let r = summary(&["--sleep", "0", "--no-system", &rdsn]);
    r.expect_code(0);
    for want in [
        "# Replication".to_string(),
        format!("Source | 127.0.0.1:{}", t.primary.port()),
        format!("GTID applied | {gtid}"),
        "Lag | 0 s".to_string(),
        "Role | replica".to_string(),
    ] {
        assert!(r.stdout.contains(&want), "{want:?} not in:\n{}", r.stdout);
    }
    assert!(!r.stdout.contains("# Host"), "{}", r.stdout);

    // --- a stopped replica is a note, with its state as evidence
    let mut rc = t.replica_conn(0).expect("replica");
    exec(&mut rc, "STOP SLAVE SQL_THREAD").expect("stop");
    let r = summary(&[
        "--format",
        "json",
        "--sleep",
        "0",
        "--sections",
        "replication,notes",
        &rdsn,
    ]);
    exec(&mut rc, "START SLAVE SQL_THREAD").expect("start");
    r.expect_code(0);
    let sj = r.json();
    assert_eq!(
        sj["sections"],
        serde_json::json!(["replication", "notes"]),
        "{sj}"
    );
    assert!(sj["server"].get("info").is_none());
    let stopped = sj["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .find(|n| n["id"] == "replica-stopped")
        .unwrap_or_else(|| panic!("no replica-stopped note: {sj}"));
    assert!(
        stopped["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("SQL thread No")),
        "{stopped}"
    );

    // --- samples saved live render the same report again
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf8");
    let live = summary(&["--sleep", "0", "--save-samples", d, &dsn]);
    live.expect_code(0);
    let replay = summary(&["--read-samples", d]);
    replay.expect_code(0);
    assert_eq!(live.stdout, replay.stdout);
    let replay_json = summary(&["--read-samples", d, "--format", "json"]);
    assert_eq!(
        replay_json.json()["server"]["info"]["version"].as_str(),
        version.as_deref()
    );
    drop(holder);
}

#[test]
fn unreachable_server_still_summarises_the_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let port = port.to_string();
    let r = summary(&[
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "-u",
        "root",
        "--sleep",
        "0",
        "--connect-timeout",
        "2",
    ]);
    r.expect_code(1);
    for want in [
        "# Host",
        "# Memory",
        "# Notes",
        "server-unreachable",
        "# Errors",
    ] {
        assert!(r.stdout.contains(want), "{want} not in:\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains(&format!("127.0.0.1:{port}")),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("unreachable"), "{}", r.stderr);

    let r = summary(&[
        "-h",
        "127.0.0.1",
        "-P",
        &port,
        "--sleep",
        "0",
        "--format",
        "json",
    ]);
    r.expect_code(1);
    let j = r.json();
    assert_eq!(j["server_unreachable"], true);
    assert!(j["server"].is_null());
    assert!(j["system"]["memory"]["total_bytes"].as_u64() > Some(0));
    assert_eq!(
        note_ids(&j).first().map(String::as_str),
        Some("server-unreachable")
    );

    // The host alone is a clean run.
    summary(&["--no-server", "--sleep", "0"]).expect_code(0);
}

#[test]
fn committed_samples_render_golden_output() {
    let dir = data_dir();
    let d = dir.to_str().expect("utf8");
    for (file, args) in [
        ("expected.txt", vec!["--read-samples", d]),
        (
            "expected.json",
            vec!["--read-samples", d, "--format", "json"],
        ),
    ] {
        let r = summary(&args);
        r.expect_code(0);
        let path = dir.join(file);
        if std::env::var("OXKIT_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &r.stdout).expect("bless");
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (OXKIT_BLESS=1 writes it)", path.display()));
        assert!(
            r.stdout == want,
            "{} differs from the rendering of the committed samples:\n{}",
            path.display(),
            r.stdout
        );
    }
    // Sections chosen at render time from the same samples.
    let r = summary(&["--read-samples", d, "--sections", "cpu,replication"]);
    r.expect_code(0);
    assert!(r.stdout.contains("# Processor") && r.stdout.contains("# Replication"));
    assert!(!r.stdout.contains("# Memory") && !r.stdout.contains("# Notes"));
}
