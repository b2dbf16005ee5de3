//! Issue 22, recovery time first: `restore --first` makes the tables asked
//! for, and the tables they reference by foreign key, complete (rows,
//! indexes, foreign keys, triggers) and queryable before the rest of the
//! restore has begun; the final result equals the source; a pattern that
//! matches nothing is a usage error that creates nothing; and tables left
//! out with `--ignore-tables` are restored later into the same server.

use oxkit::conn::Conn;
use oxkit::sandbox::Sandbox;
use oxkit_harness::{exec, single, RunResult, Tool};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn ox(args: &[&str]) -> RunResult {
    Tool::new("ox-backup")
        .args(args.iter().copied())
        .run()
        .expect("run ox-backup")
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn count(c: &mut Conn, sql: &str) -> u64 {
    let n: Option<u64> = c.row("count", sql).expect("count");
    n.unwrap_or(0)
}

/// `CHECKSUM TABLE` and row count of every table of `shop`.
fn sums(c: &mut Conn) -> Vec<(String, Option<u64>, u64)> {
    ["customers", "orders", "big", "notes"]
        .iter()
        .map(|t| {
            let r: Vec<(String, Option<u64>)> = c
                .rows("checksum", &format!("CHECKSUM TABLE shop.{t} EXTENDED"))
                .expect("checksum");
            let n = count(c, &format!("SELECT COUNT(*) FROM shop.{t}"));
            (r[0].0.clone(), r[0].1, n)
        })
        .collect()
}

const SCHEMA: &str = "CREATE DATABASE shop; USE shop;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, KEY by_name (name));
CREATE TABLE orders (id INT PRIMARY KEY, customer INT NOT NULL, total DECIMAL(9,2) NOT NULL,
  placed DATETIME NULL, KEY by_total (total),
  CONSTRAINT to_customer FOREIGN KEY (customer) REFERENCES customers (id));
CREATE TRIGGER orders_placed BEFORE INSERT ON orders FOR EACH ROW SET NEW.placed = COALESCE(NEW.placed, '2026-01-01 00:00:00');
CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL, pad CHAR(120) NOT NULL, KEY by_k (k));
CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(100));
INSERT INTO customers SELECT seq, CONCAT('customer ', seq) FROM seq_1_to_20000;
INSERT INTO orders (id, customer, total) SELECT seq, 1 + seq % 20000, seq / 100 FROM seq_1_to_30000;
INSERT INTO big SELECT seq, seq % 1000, REPEAT('x', 120) FROM seq_1_to_400000;
INSERT INTO notes SELECT seq, CONCAT('note ', seq) FROM seq_1_to_50;";

/// What a poll of the target saw: the first tables complete, then
/// (read after them) whether `big` was complete (its index, added after
/// its last row, exists).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    first_complete: bool,
    big_complete: bool,
}

fn look(c: &mut Conn) -> Seen {
    let tables = |c: &mut Conn, name: &str| {
        count(
            c,
            &format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = '{name}'"
            ),
        )
    };
    let first_complete = tables(c, "orders") == 1
        && tables(c, "customers") == 1
        && count(c, "SELECT COUNT(*) FROM shop.customers") == 20000
        && count(c, "SELECT COUNT(*) FROM shop.orders") == 30000
        && count(
            c,
            "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'shop' \
             AND INDEX_NAME IN ('by_total', 'by_name')",
        ) == 2
        && count(
            c,
            "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = 'shop' AND CONSTRAINT_NAME = 'to_customer'",
        ) == 1
        && count(
            c,
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop' \
             AND TRIGGER_NAME = 'orders_placed'",
        ) == 1;
    let big_complete = count(
        c,
        "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'shop' \
         AND TABLE_NAME = 'big' AND INDEX_NAME = 'by_k'",
    ) == 1;
    Seen {
        first_complete,
        big_complete,
    }
}

#[test]
fn first_tables_and_their_parents_are_usable_before_the_rest() {
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(&mut c, SCHEMA).expect("setup");
    let dir = tempfile::tempdir().expect("tmp");
    let repo = dir.path().join("repo");
    ox(&[
        "backup",
        &s.dsn(),
        "--repo",
        &p(&repo),
        "--databases",
        "shop",
        "--chunk-rows",
        "5000",
    ])
    .expect_code(0);
    let source = sums(&mut c);

    // A pattern that matches nothing: a usage error, nothing created.
    let target = Sandbox::start().expect("target");
    let r = ox(&[
        "restore",
        &target.dsn(),
        "--repo",
        &p(&repo),
        "--first",
        "shop.nosuch*",
    ]);
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("--first shop.nosuch*: no table of the restore matches it"),
        "{}",
        r.stderr
    );
    let mut t = target.connect().expect("connect");
    assert_eq!(
        count(
            &mut t,
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'"
        ),
        0,
        "a refused restore creates nothing"
    );

    // The restore, watched from another session every few milliseconds.
    let done = AtomicBool::new(false);
    let (r, seen) = std::thread::scope(|sc| {
        let run = sc.spawn(|| {
            let r = ox(&[
                "restore",
                &target.dsn(),
                "--repo",
                &p(&repo),
                "--threads",
                "2",
                "--first",
                "shop.ord*",
                "--format",
                "json",
            ]);
            done.store(true, Ordering::SeqCst);
            r
        });
        let mut seen = Vec::new();
        let start = Instant::now();
        while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(300) {
            let s = look(&mut t);
            if seen.last() != Some(&s) {
                seen.push(s);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        (run.join().expect("restore thread"), seen)
    });
    r.expect_code(0);
    let doc = r.json();
    assert_eq!(
        doc["first_tables"],
        serde_json::json!(["shop.customers", "shop.orders"]),
        "orders and its foreign-key parent: {}",
        r.stdout
    );
    let first = doc["first_usable_secs"]
        .as_f64()
        .expect("first_usable_secs");
    let all = doc["duration_secs"].as_f64().expect("duration_secs");
    assert!(first < all, "first {first} s, all {all} s");
    assert!(
        r.stderr
            .contains("(shop.customers, shop.orders) are restored and usable after"),
        "{}",
        r.stderr
    );
    for phase in ["create_secs", "read_secs", "load_secs", "index_secs"] {
        assert!(
            doc["profile"][phase].as_f64().is_some(),
            "{phase}: {}",
            r.stdout
        );
    }
    // The first tables were seen complete while big was not yet (read
    // after them), and big was never complete before them.
    assert!(
        seen.iter().any(|s| s.first_complete && !s.big_complete),
        "the first tables were never seen complete before big: {seen:?}"
    );
    assert!(
        !seen.iter().any(|s| s.big_complete && !s.first_complete),
        "big was complete before the first tables: {seen:?}"
    );
    assert_eq!(sums(&mut t), source, "the whole restore equals the source");
    // The trigger is on the restored table and fires.
    exec(
        &mut t,
        "INSERT INTO shop.orders (id, customer, total) VALUES (99999, 1, 1)",
    )
    .expect("insert");
    assert_eq!(
        count(
            &mut t,
            "SELECT COUNT(*) FROM shop.orders WHERE id = 99999 AND placed IS NOT NULL"
        ),
        1
    );

    // Tables left out now and restored later into the same server.
    let later = Sandbox::start().expect("target");
    ox(&[
        "restore",
        &later.dsn(),
        "--repo",
        &p(&repo),
        "--ignore-tables",
        "shop.big",
    ])
    .expect_code(0);
    let mut l = later.connect().expect("connect");
    assert_eq!(
        count(
            &mut l,
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'big'"
        ),
        0
    );
    ox(&[
        "restore",
        &later.dsn(),
        "--repo",
        &p(&repo),
        "--tables",
        "shop.big",
    ])
    .expect_code(0);
    assert_eq!(
        sums(&mut l),
        source,
        "restored in two parts, equal to the source"
    );
}
