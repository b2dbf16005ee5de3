//! ox-backup physical mode against real MariaDB servers (10.11, 11.8; on MySQL
//! the method is refused in one line, and the rest does not apply):
//!
//! - the redo reader walks a live server's `ib_logfile0` (small, so it has
//!   wrapped many times) from its checkpoint to exactly the LSN the server
//!   reports as written;
//! - the prepare step's log rewrite is recovered by a stock server: a
//!   server is killed with SIGKILL, its redo from the checkpoint is laid out
//!   in a fresh `ib_logfile0` of another size and first LSN (every
//!   termination byte rewritten for the new lap), and a new server started on
//!   that directory recovers the committed data exactly;
//! - a flipped byte in the copied redo makes the rewrite fail loudly;
//! - faults: the tool stalled while a writer laps the redo log aborts
//!   with a clear message; `kill -9` of the tool leaves the server working
//!   and DDL free; a damaged stored set fails verify; a corrupted page in
//!   the source fails the backup and leaves no set;
//! - a physical backup taken under a concurrent writer (InnoDB and Aria),
//!   restored and prepared, then rolled forward with the source's binary
//!   log from the recorded position, equals the source; verify passes;
//!   `BLOCK_COMMIT` is held under a second.
//! - DDL issued during a throttled backup waits, then succeeds, and is not
//!   in the backup; a MyISAM table written throughout restores consistent
//!   with the recorded position; the manifest's per-table checksum equals
//!   the restored copy's and verify compares it; SIGINT mid-copy exits 4,
//!   releases the stages and leaves no set;
//! - XA transactions prepared across the backup point are rolled back by
//!   the restore and re-prepared by the physical point-in-time replay
//!   (`restore DSN --until-gtid`), which then lands on the source; the
//!   restore into an empty directory owned by another user (as root)
//!   gives every file to that user.
//! - issue 21: a killed backup's set is `abandoned` and expired; the
//!   repository's folders and files and a restored datadir are private
//!   (0700/0600); a physical verify stopped by SIGINT exits 4 and keeps
//!   the previous verdict.

#![allow(
    clippy::print_stderr,
    reason = "figures and notes a developer reads with --nocapture"
)]

use ox_backup::physical::io::DirectFile;
use ox_backup::physical::{prepare, redo};
use oxkit::conn::Conn;
use oxkit::sandbox::Sandbox;
use oxkit_harness::{
    exec, flavour, not_on, server_slot, signal, signal_quiet, single, Tmpfs, Tool,
};
use std::path::Path;

/// Why the MariaDB tests of this file do not apply to MySQL: they read
/// MariaDB 10.8+'s redo format and drive `BACKUP STAGE`; MySQL's physical
/// method is the server's clone, tested by the `mysql_clone_*` tests.
const MYSQL_PHYSICAL: &str =
    "MariaDB's redo copier and BACKUP STAGE; MySQL's physical method (the clone plugin) is \
     tested by the mysql_clone_* tests";

/// Why the clone tests do not apply to MariaDB.
const MARIADB_CLONE: &str =
    "the clone plugin is MySQL's; MariaDB's physical method is tested by the other tests of this file";

/// `CHECKSUM TABLE` and `COUNT(*)` of every table of schema `t`.
fn schema_sums(c: &mut Conn) -> Vec<(String, u64, u64)> {
    let names: Vec<String> = c
        .rows(
            "tables",
            "SELECT CONCAT('t.', TABLE_NAME) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = 't' AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
        )
        .expect("tables");
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    table_sums(c, &names)
}

/// A MySQL server with the binary log, GTIDs and the clone plugin, and a
/// schema `t` with a foreign key, a generated column, utf8mb4 text and a
/// table without a primary key; `rows` rows in `t.a`.
fn clone_source(rows: u32) -> Sandbox {
    let src = Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .server_id(1)
        .start()
        .expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        &format!(
            "INSTALL PLUGIN clone SONAME 'mysql_clone.so'; \
             SET SESSION cte_max_recursion_depth = 10000000; CREATE DATABASE t; \
             CREATE TABLE t.a (id INT PRIMARY KEY AUTO_INCREMENT, \
               v VARCHAR(400) CHARACTER SET utf8mb4, g INT AS (CHAR_LENGTH(v)) STORED, KEY (g)) ENGINE=InnoDB; \
             CREATE TABLE t.child (id INT PRIMARY KEY AUTO_INCREMENT, a_id INT NOT NULL, \
               note VARCHAR(20), FOREIGN KEY (a_id) REFERENCES t.a (id)) ENGINE=InnoDB; \
             CREATE TABLE t.nopk (x INT, y VARCHAR(10)) ENGINE=InnoDB; \
             INSERT INTO t.a (v) WITH RECURSIVE s(n) AS \
               (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) \
               SELECT CONCAT('\u{e9}', REPEAT('x', 300)) FROM s; \
             INSERT INTO t.nopk VALUES (1, NULL), (1, NULL), (2, 'b')"
        ),
    )
    .expect("schema");
    src
}

/// A writer of `t.a`, `t.child` and `t.nopk` until the flag is set; counts
/// its commits.
fn clone_writer(
    src: &Sandbox,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    rows: u64,
) -> std::thread::JoinHandle<Result<(), String>> {
    use std::sync::atomic::Ordering;
    let mut w = src.connect().expect("writer");
    std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop.load(Ordering::SeqCst) {
            i += 1;
            let at = 1 + (i * 7919) % rows;
            exec(
                &mut w,
                &format!(
                    "START TRANSACTION; \
                     INSERT INTO t.child (a_id, note) VALUES ({at}, 'n{i}'); \
                     UPDATE t.a SET v = LEFT(CONCAT('{i}', v), 300) WHERE id BETWEEN {at} AND {at} + 50; \
                     INSERT INTO t.nopk VALUES ({i}, NULL); COMMIT"
                ),
            )
            .map_err(|e| format!("writer transaction {i}: {e:#}"))?;
            writes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    })
}

/// Restores the newest set of `rp` into `target` and starts a server of
/// the test's flavour on it (binary log and TCP on, server id `id`).
fn restore_and_start(rp: &str, target: &Path, id: u32) -> Sandbox {
    let t = target.display().to_string();
    tool(&["restore", "--repo", rp, "--to-datadir", &t]).expect_code(0);
    Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .server_id(id)
        .install(flavour().clone())
        .from_datadir(target)
        .start()
        .expect("start the restored copy")
}

/// No clone staging copy is left in `dir`.
#[track_caller]
fn no_staging_copy(dir: &Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .expect("staging dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".oxk-clone-"))
        .collect();
    assert!(left.is_empty(), "staging copies left: {left:?}");
}

fn wait_writes(writes: &std::sync::atomic::AtomicU64, more: u64) {
    let from = writes.load(std::sync::atomic::Ordering::SeqCst);
    let t = std::time::Instant::now();
    while writes.load(std::sync::atomic::Ordering::SeqCst) < from + more {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "the writer did not commit {more} transactions in 60s"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The Done-when test of the MySQL physical method: a backup taken under a
/// concurrent writer, verified, restored to a datadir and started as a
/// replica from the backup's GTID set, ends equal to the source
/// (`CHECKSUM TABLE` on every table); the staging copy is gone; a flipped
/// byte in the stored set fails verify.
#[test]
fn mysql_clone_backup_under_load_restores_and_replicates_on() {
    if not_on(&["mariadb"], MARIADB_CLONE) {
        return;
    }
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let _slot = server_slot().expect("slot");
    let rows = 40_000;
    let src = clone_source(rows);
    let mut c = src.connect().expect("connect");
    let (dir, rp) = repo_dir("oxkclone");
    let stage = dir.path().display().to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = clone_writer(&src, stop.clone(), writes.clone(), rows.into());
    wait_writes(&writes, 20);
    let dsn = src.dsn();
    let b = tool(&[
        "backup",
        &dsn,
        "--repo",
        &rp,
        "--method",
        "physical",
        "--staging-dir",
        &stage,
        "--format",
        "json",
    ]);
    b.expect_code(0);
    let m = b.json();
    let id = m["backup"]["id"].as_str().expect("id").to_string();
    let gtid = m["backup"]["position"]["gtid"]
        .as_str()
        .unwrap_or_else(|| panic!("no GTID set recorded: {}\n{}", b.stdout, b.stderr))
        .to_string();
    assert!(
        m["backup"]["tables"].as_array().map_or(0, Vec::len) >= 3,
        "{}",
        b.stdout
    );
    // The writer goes on after the backup point: replication brings it.
    wait_writes(&writes, 20);
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer").expect("writer transactions");
    no_staging_copy(dir.path());

    let v = tool(&["verify", "--repo", &rp, "--format", "json"]);
    v.expect_code(0);
    assert_eq!(v.json()["status"], "passed", "{}", v.stdout);

    let rep = restore_and_start(&rp, &dir.path().join("restored"), 2);
    let mut rc = rep.connect().expect("connect to the restored copy");
    let restored: Option<String> = rc
        .row("gtid", "SELECT @@GLOBAL.gtid_executed")
        .expect("gtid");
    let squash = |s: &str| s.replace(['\n', ' '], "");
    assert_eq!(squash(&restored.expect("gtid")), squash(&gtid));
    exec(
        &mut rc,
        &format!(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={}, \
             SOURCE_USER='root', SOURCE_PASSWORD='', SOURCE_AUTO_POSITION=1, \
             SOURCE_CONNECT_RETRY=1, GET_SOURCE_PUBLIC_KEY=1; START REPLICA",
            src.port()
        ),
    )
    .expect("replicate from the source");
    let server = oxkit::server::Server::detect(&mut c).expect("detect");
    let pos = server.gtid_position(&mut c).expect("source position");
    assert!(
        server
            .wait_for_gtid(&mut rc, &pos, std::time::Duration::from_secs(120))
            .expect("wait"),
        "the restored copy did not replicate up to {pos}"
    );
    assert_eq!(schema_sums(&mut rc), schema_sums(&mut c));
    drop(rc);
    rep.stop().expect("stop the replica");

    // Point-in-time: a second restore, rolled forward from the backup's
    // binary log position to the source's GTID set of now; a write after
    // that is not replayed.
    assert!(
        m["backup"]["position"]["binlog_file"].is_string(),
        "no binary log position: {}",
        m["backup"]["position"]
    );
    let until: Option<String> = c
        .row("gtid", "SELECT @@GLOBAL.gtid_executed")
        .expect("gtid");
    let until = squash(&until.expect("gtid"));
    let want = schema_sums(&mut c);
    exec(&mut c, "INSERT INTO t.nopk VALUES (-1, 'too late')").expect("later");
    tool(&["binlog", &dsn, "--repo", &rp]).expect_code(0);
    let pit = restore_and_start(&rp, &dir.path().join("pitr"), 3);
    tool(&[
        "restore",
        &pit.dsn(),
        "--repo",
        &rp,
        "--backup",
        &id,
        "--until-gtid",
        &until,
    ])
    .expect_code(0);
    let mut pc = pit.connect().expect("connect");
    assert_eq!(schema_sums(&mut pc), want);
    drop(pc);
    pit.stop().expect("stop");

    // A flipped byte in the stored set fails verify.
    let set = Path::new(&rp).join("backups").join(&id);
    let big = std::fs::read_dir(set.join("files").join("t"))
        .expect("stored files")
        .flatten()
        .max_by_key(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .expect("a stored file")
        .path();
    let mut bytes = std::fs::read(&big).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&big, &bytes).expect("write");
    let v = tool(&["verify", "--repo", &rp, "--backup", &id, "--format", "json"]);
    assert_ne!(v.code, 0, "{v:?}");
    assert_eq!(v.json()["status"], "failed", "{}", v.stdout);
}

/// What is refused before anything is written: no clone plugin, a table of
/// another engine (the clone would copy it empty), a staging directory the
/// server's OS user cannot reach; each in one line, leaving no set.
#[test]
fn mysql_clone_refusals_leave_no_set() {
    if not_on(&["mariadb"], MARIADB_CLONE) {
        return;
    }
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    let (dir, repo) = repo_dir("oxkclonerefuse");
    let stage = dir.path().display().to_string();
    let dsn = s.dsn();
    let physical = |extra: &[&str]| {
        let mut a = vec!["backup", &dsn, "--repo", &repo, "--method", "physical"];
        a.extend_from_slice(extra);
        tool(&a)
    };
    let r = physical(&["--staging-dir", &stage]);
    assert_eq!(r.code, 255, "{r:?}");
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("INSTALL PLUGIN clone"), "{}", r.stderr);

    exec(
        &mut c,
        "INSTALL PLUGIN clone SONAME 'mysql_clone.so'; CREATE DATABASE t; \
         CREATE TABLE t.m (i INT) ENGINE=MyISAM; INSERT INTO t.m VALUES (1)",
    )
    .expect("plugin and a MyISAM table");
    let r = physical(&["--staging-dir", &stage]);
    assert_eq!(r.code, 255, "{r:?}");
    assert!(
        r.stderr.contains("t.m (MyISAM)") && r.stderr.contains("--method logical"),
        "{}",
        r.stderr
    );
    exec(&mut c, "DROP TABLE t.m").expect("drop");
    // An account without BACKUP_ADMIN.
    exec(
        &mut c,
        "CREATE USER 'nob'@'127.0.0.1'; GRANT SELECT, RELOAD, REPLICATION CLIENT ON *.* TO 'nob'@'127.0.0.1'",
    )
    .expect("user");
    let nob = format!("h=127.0.0.1,P={},u=nob", s.port());
    let r = tool(&[
        "backup",
        &nob,
        "--repo",
        &repo,
        "--method",
        "physical",
        "--staging-dir",
        &stage,
    ]);
    assert_eq!(r.code, 255, "{r:?}");
    assert!(r.stderr.contains("BACKUP_ADMIN"), "{}", r.stderr);
    // Too little room for the server's copy: refused before the clone.
    if oxkit::sandbox::is_root() {
        let small = Tmpfs::mount(&dir.path().join("small"), "16M");
        oxkit::sandbox::give_dir_to_server(&small.0).expect("give the tmpfs to the server");
        let r = physical(&["--staging-dir", &small.0.display().to_string()]);
        assert_eq!(r.code, 255, "{r:?}");
        assert!(r.stderr.contains("not enough space"), "{}", r.stderr);
    }
    // The repository itself is root's and private: the server cannot
    // write its copy there.
    if oxkit::sandbox::is_root() {
        let r = physical(&[]);
        assert_eq!(r.code, 255, "{r:?}");
        assert!(r.stderr.contains("--staging-dir"), "{}", r.stderr);
    }
    let sets = Path::new(&repo).join("backups");
    assert!(
        std::fs::read_dir(&sets).map_or(true, |mut d| d.next().is_none()),
        "a set was left in {}",
        sets.display()
    );
}

/// Ctrl-C during the clone exits 4: the server's clone is killed, the
/// staging copy removed, no set counted. `kill -9` of the tool: the server
/// finishes or ends the clone by itself, DDL is free, no set is counted,
/// and the next backup removes the dead run's staging copy and succeeds.
/// The server killed mid-clone: the tool fails at once and cleans up.
#[test]
fn mysql_clone_interrupted_by_sigint_or_kill_leaves_no_set() {
    if not_on(&["mariadb"], MARIADB_CLONE) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let src = clone_source(300_000);
    let mut c = src.connect().expect("connect");
    let (dir, rp) = repo_dir("oxkcloneint");
    let stage = dir.path().display().to_string();
    let dsn = src.dsn();
    let args = [
        "backup",
        &dsn,
        "--repo",
        &rp,
        "--method",
        "physical",
        "--staging-dir",
        &stage,
    ];
    let in_progress = |c: &mut Conn| -> bool {
        let s: Option<String> = c
            .row(
                "clone state",
                "SELECT STATE FROM performance_schema.clone_status",
            )
            .expect("clone_status");
        s.as_deref() == Some("In Progress")
    };
    let wait_clone = |c: &mut Conn, child: &mut std::process::Child| {
        let t = std::time::Instant::now();
        while !in_progress(c) {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("the backup ended ({st}) before its clone started");
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(60),
                "no clone started within 60s"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let complete = |rp: &str| -> usize {
        let l = tool(&["list", "--repo", rp, "--format", "json"]).json();
        l.as_array()
            .map_or(0, |a| a.iter().filter(|s| s["state"] == "complete").count())
    };

    // 1. SIGINT mid-clone.
    let mut child = spawn_backup(&args);
    wait_clone(&mut c, &mut child);
    signal(child.id(), "-INT");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(120)).expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        !in_progress(&mut c),
        "the clone still runs after the tool ended"
    );
    no_staging_copy(dir.path());
    assert_eq!(complete(&rp), 0, "an interrupted backup was counted");
    ddl_is_free(&mut c, "after_sigint");

    // 2. kill -9 mid-clone.
    let mut child = spawn_backup(&args);
    wait_clone(&mut c, &mut child);
    signal(child.id(), "-9");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(60)).expect("wait");
    assert_eq!(out.status.code(), None, "the tool finished before the kill");
    let t = std::time::Instant::now();
    while in_progress(&mut c) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(120),
            "the server's clone still runs 120s after its client was killed: {:?}",
            processlist(&mut c)
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    ddl_is_free(&mut c, "after_kill");
    assert_eq!(complete(&rp), 0, "a killed backup was counted");

    // 3. The next backup sweeps the dead run's copy and completes.
    let r = tool(&args);
    r.expect_code(0);
    assert!(r.stderr.contains("did not finish"), "{}", r.stderr);
    no_staging_copy(dir.path());
    assert_eq!(complete(&rp), 1);
    // Its big table was checksummed in key ranges on several connections;
    // verify recomputes it whole.
    let v = tool(&["verify", "--repo", &rp, "--format", "json"]);
    v.expect_code(0);
    assert_eq!(v.json()["status"], "passed", "{}", v.stdout);

    // 4. The server dies mid-clone: the tool fails at once, naming it, and
    // removes the copy; nothing is counted.
    let mut child = spawn_backup(&args);
    wait_clone(&mut c, &mut child);
    signal(src.pid().expect("server pid"), "-9");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(120)).expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("clone"), "{err}");
    assert_eq!(complete(&rp), 1, "a backup of a dead server was counted");
    no_staging_copy(dir.path());
}

fn status(c: &mut Conn, name: &str) -> u64 {
    let row: Option<(String, String)> = c
        .row("status", &format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .expect("status");
    row.and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("status {name}"))
}

fn sums(c: &mut Conn) -> (u64, u64) {
    let cnt: Option<u64> = c.row("count", "SELECT COUNT(*) FROM t.a").expect("count");
    let sum: Option<(String, u64)> = c
        .row("checksum", "CHECKSUM TABLE t.a EXTENDED")
        .expect("checksum");
    (cnt.expect("count"), sum.expect("checksum").1)
}

/// A server with a 4 MiB redo log and a table written through several laps.
fn busy_server() -> Sandbox {
    let s = Sandbox::builder()
        .arg("--innodb-log-file-size=4M")
        .start()
        .expect("start");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE t; CREATE TABLE t.a (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200)) ENGINE=InnoDB",
    )
    .expect("schema");
    for i in 0..6 {
        exec(
            &mut c,
            &format!(
                "INSERT INTO t.a (v) SELECT REPEAT('x', 150) FROM t.seq_1_to_5000; \
                 UPDATE t.a SET v = LEFT(CONCAT('{i}', v), 150) WHERE id % 2 = {}",
                i % 2
            ),
        )
        .expect("write");
    }
    s
}

/// A scratch directory under /tmp (short paths for the sandboxes' sockets)
/// and the repository path inside it.
fn repo_dir(prefix: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("tmp");
    // Run as root, the restores' and tests' servers run as the sandbox
    // user: it must reach the datadirs restored in here.
    oxkit::sandbox::give_dir_to_server(dir.path()).expect("give to the sandbox user");
    let rp = dir.path().join("r").display().to_string();
    (dir, rp)
}

fn read_log(path: &Path) -> (redo::LogState, Vec<u8>) {
    let mut f = DirectFile::open(path).expect("open log");
    let st = redo::read_state(&mut f).expect("state");
    let cap = st.geometry.capacity() as usize;
    let bytes = redo::read_lsn_range(&st.geometry, st.checkpoint.lsn, cap, |o, b| f.read_at(o, b))
        .expect("read");
    (st, bytes)
}

#[test]
fn redo_walk_on_live_server_reaches_written_lsn() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let s = busy_server();
    let mut c = s.connect().expect("connect");
    let flushed = status(&mut c, "Innodb_lsn_flushed");
    let (st, bytes) = read_log(&s.datadir().join("ib_logfile0"));
    let current = status(&mut c, "Innodb_lsn_current");
    assert!(!st.header.encrypted);
    assert!(
        st.header.creator.starts_with(&format!(
            "MariaDB {}.{}",
            flavour().version.major,
            flavour().version.minor
        )),
        "{:?}",
        st.header
    );
    let w = redo::walk(&bytes, st.checkpoint.lsn, &st.geometry);
    let end = st.checkpoint.lsn + w.len as u64;
    assert!(w.mtrs > 100, "{w:?}");
    assert!(
        end >= flushed && end <= current,
        "walk ended at {end}, flushed {flushed}, current {current}"
    );
    // The log wrapped: the walked range lies beyond the first lap.
    assert!(end - st.header.first_lsn > st.geometry.capacity() * 3);
    assert!(w.checkpoints.contains(&st.checkpoint.lsn), "{w:?} {st:?}");
}

#[test]
fn relaid_redo_is_recovered_by_a_stock_server_and_damage_fails() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let s = busy_server();
    let mut c = s.connect().expect("connect");
    let want = sums(&mut c);
    let pid = s.pid().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    drop(c);
    std::thread::sleep(std::time::Duration::from_millis(300));

    let copy = tempfile::Builder::new()
        .prefix("oxk-phys")
        .tempdir_in("/tmp")
        .expect("tmp");
    oxkit::sandbox::give_dir_to_server(copy.path()).expect("give to the sandbox user");
    let data = copy.path().join("data");
    let st = std::process::Command::new("cp")
        .args([
            "-a",
            &s.datadir().display().to_string(),
            &data.display().to_string(),
        ])
        .status()
        .expect("cp");
    assert!(st.success());
    drop(s);

    let (st, bytes) = read_log(&data.join("ib_logfile0"));
    let w = redo::walk(&bytes, st.checkpoint.lsn, &st.geometry);
    assert!(w.len > 0);
    let copied = &bytes[..w.len];

    let mut damaged = copied.to_vec();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    let e = prepare::build_log(&damaged, st.checkpoint, &st.geometry, "ox-backup")
        .expect_err("a flipped byte must fail");
    assert!(e.to_string().contains("damaged"), "{e:#}");

    let img = prepare::build_log(copied, st.checkpoint, &st.geometry, "ox-backup").expect("build");
    assert_ne!(img.len() as u64, st.geometry.file_size);
    std::fs::write(data.join("ib_logfile0"), &img).expect("write log");

    let r = Sandbox::builder()
        .from_datadir(&data)
        .start()
        .expect("recover");
    let log = r.error_log_tail(400);
    assert!(
        log.contains(&format!(
            "Starting crash recovery from checkpoint LSN={}",
            st.checkpoint.lsn
        )),
        "{log}"
    );
    let mut c = r.connect().expect("connect");
    assert_eq!(sums(&mut c), want);
    let now = status(&mut c, "Innodb_lsn_current");
    assert!(now >= st.checkpoint.lsn + w.len as u64);
    drop(c);
    r.stop().expect("stop");
}

fn tool(args: &[&str]) -> oxkit_harness::RunResult {
    Tool::new("ox-backup")
        .args(args.iter().copied())
        .run()
        .expect("run ox-backup")
}

/// `CHECKSUM TABLE` of the non-InnoDB tables: the busy Aria `t.m` and
/// the MyISAM `t.s`, written about every 1.3 s (idle long enough to be
/// read ahead of `BLOCK_COMMIT`, written often enough to change after).
fn aria_sum(c: &mut Conn) -> Vec<(String, u64)> {
    c.rows("checksum", "CHECKSUM TABLE t.m, t.s EXTENDED")
        .expect("checksum")
}

#[test]
fn physical_backup_under_load_restores_and_replays_to_the_source() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let _slot = server_slot().expect("slot");
    let src = Sandbox::builder()
        .tcp(true)
        .binlog(true)
        // Small enough to wrap during the copy on a slow machine, big
        // enough that a fast one's writer (21 MiB/s of redo seen in CI)
        // leaves the copier seconds of slack.
        .arg("--innodb-log-file-size=64M")
        .start()
        .expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE t; \
         CREATE TABLE t.a (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200)) ENGINE=InnoDB; \
         CREATE TABLE t.m (id INT PRIMARY KEY AUTO_INCREMENT, x INT) ENGINE=Aria; \
         CREATE TABLE t.s (id INT PRIMARY KEY AUTO_INCREMENT, x INT) ENGINE=MyISAM; \
         INSERT INTO t.a (v) SELECT REPEAT('x', 150) FROM t.seq_1_to_40000",
    )
    .expect("schema");
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let stop = stop.clone();
        let writes = writes.clone();
        let mut w = src.connect().expect("writer");
        std::thread::spawn(move || {
            let mut i = 0u64;
            let mut slow = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                if slow.elapsed() > std::time::Duration::from_millis(1300) {
                    exec(&mut w, &format!("INSERT INTO t.s (x) VALUES ({i})")).expect("myisam");
                    slow = std::time::Instant::now();
                }
                exec(
                    &mut w,
                    &format!(
                        "INSERT INTO t.a (v) VALUES (REPEAT('w', {})); \
                         UPDATE t.a SET v = LEFT(CONCAT('{i}', v), 150) WHERE id BETWEEN {} AND {}",
                        i % 150,
                        (i * 37) % 40000,
                        (i * 37) % 40000 + 20
                    ),
                )
                .expect("write");
                if i.is_multiple_of(10) {
                    exec(&mut w, &format!("INSERT INTO t.m (x) VALUES ({i})")).expect("aria");
                }
                writes.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let t = std::time::Instant::now();
    while writes.load(Ordering::SeqCst) < 20 {
        assert!(
            !writer.is_finished() && t.elapsed() < std::time::Duration::from_secs(120),
            "the writer did not get going"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (repo, rp) = repo_dir("oxk-phys-repo");
    let dsn = src.dsn();
    let r = tool(&[
        "backup", &dsn, "--repo", &rp, "--method", "physical", "--format", "json",
    ]);
    r.expect_code(0);
    let during = writes.load(Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    let j = r.json();
    let m = &j["backup"];
    assert_eq!(m["method"], "physical", "{j}");
    let lock_ms = m["position"]["lock_ms"].as_u64().expect("lock_ms");
    // Most of the block is the server's own acquisition (it waits for the
    // commits in flight and their fsyncs): 35-260 ms here on an idle
    // machine, once 1067 ms on a CI machine running three servers' suites.
    // The tool's part (position, snapshots, the changed non-InnoDB files,
    // the end LSN) is a few milliseconds.
    assert!(lock_ms < 3000, "BLOCK_COMMIT held {lock_ms} ms");
    let file = m["position"]["binlog_file"]
        .as_str()
        .expect("binlog file")
        .to_string();
    let pos = m["position"]["binlog_pos"].as_u64().expect("binlog pos");
    let redo_raw = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "redo.log")
        .and_then(|f| f["raw_size"].as_u64())
        .expect("redo");
    assert!(
        m["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f["path"] == "files/ib_buffer_pool"),
        "no buffer pool page list: {}",
        m["warnings"]
    );
    eprintln!("backup: {during} writes before it ended, redo copied {redo_raw} bytes, BLOCK_COMMIT {lock_ms} ms");
    let want = sums(&mut c);
    let want_m = aria_sum(&mut c);

    let target = repo.path().join("restored");
    let r = tool(&[
        "restore",
        "--repo",
        &rp,
        "--to-datadir",
        &target.display().to_string(),
        "--format",
        "json",
    ]);
    r.expect_code(0);
    let restored = Sandbox::builder()
        .from_datadir(&target)
        .start()
        .expect("start restored");
    // Roll the restored copy forward with the source's binary log from the
    // recorded position: it must land exactly on the source.
    let binlog = src.datadir().join(&file);
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mariadb-binlog --start-position={pos} '{}' | mariadb --no-defaults -uroot --socket='{}'",
            binlog.display(),
            restored.socket().display()
        ))
        .output()
        .expect("replay");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let mut rc = restored.connect().expect("connect restored");
    assert_eq!(sums(&mut rc), want);
    assert_eq!(aria_sum(&mut rc), want_m);
    drop(rc);
    restored.stop().expect("stop");

    let v = tool(&["verify", "--repo", &rp, "--format", "json"]);
    v.expect_code(0);
    assert_eq!(v.json()["status"], "passed", "{}", v.stdout);
}

/// A heavy writer on `t.a` until the flag is set.
fn heavy_writer(
    s: &Sandbox,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Result<u64, String>> {
    let mut w = s.connect().expect("writer");
    std::thread::spawn(move || {
        exec(
            &mut w,
            "SET SESSION lock_wait_timeout = 30, innodb_lock_wait_timeout = 30",
        )
        .map_err(|e| format!("{e:#}"))?;
        let mut i = 0u64;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            i += 1;
            exec(
                &mut w,
                &format!(
                    "UPDATE t.a SET v = LEFT(CONCAT('{i}', v), 150) WHERE id BETWEEN {} AND {}",
                    (i * 997) % 30000,
                    (i * 997) % 30000 + 2000
                ),
            )
            .map_err(|e| format!("writer statement {i}: {e:#}"))?;
        }
        Ok(i)
    })
}

/// Spawns `ox-backup` (hermetic, as the harness does) and returns the child.
fn spawn_backup(args: &[&str]) -> std::process::Child {
    oxkit_harness::spawn_tool("ox-backup", args)
}

/// What the server's sessions are doing (for a failing test's message).
fn processlist(c: &mut Conn) -> Vec<(u64, String, Option<String>, Option<String>)> {
    c.rows(
        "processlist",
        "SELECT ID, COMMAND, STATE, LEFT(INFO, 120) FROM information_schema.PROCESSLIST",
    )
    .unwrap_or_default()
}

/// DDL goes through quickly: no backup stage is left held.
fn ddl_is_free(c: &mut Conn, name: &str) {
    exec(
        c,
        &format!("SET SESSION lock_wait_timeout = 10; CREATE TABLE t.{name} (i INT) ENGINE=InnoDB"),
    )
    .expect("DDL after the backup");
}

#[test]
fn faults_overwrite_kill_corrupt_page_and_damaged_set_fail_cleanly() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let _slot = server_slot().expect("slot");
    let src = busy_server(); // 4 MiB redo log
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "INSERT INTO t.a (v) SELECT REPEAT('y', 150) FROM t.seq_1_to_30000",
    )
    .expect("more rows");
    let (repo, rp) = repo_dir("oxk-phys-faults");
    let dsn = src.dsn();
    let slow = [
        "backup",
        &dsn,
        "--repo",
        &rp,
        "--method",
        "physical",
        "--threads",
        "1",
        "--max-rate",
        "1M",
    ];

    // 1. The tool stalls (SIGSTOP) while a writer laps the 4 MiB log: the
    // copier notices the overwrite and aborts cleanly.
    // The writer starts once the copy runs: the preflight samples the redo
    // rate for a second and refuses a log the server laps within a second.
    let stop = Arc::new(AtomicBool::new(false));
    let mut child = spawn_backup(&slow);
    wait_for_copy(repo.path(), &mut child);
    let w = heavy_writer(&src, stop.clone());
    std::thread::sleep(std::time::Duration::from_millis(300));
    signal(child.id(), "-STOP");
    let lsn0 = status(&mut c, "Innodb_lsn_current");
    let t = std::time::Instant::now();
    while status(&mut c, "Innodb_lsn_current") < lsn0 + (12 << 20) {
        if w.is_finished() || t.elapsed() > std::time::Duration::from_secs(180) {
            signal(child.id(), "-CONT");
            let _ = signal_quiet(child.id(), "-9");
            stop.store(true, Ordering::SeqCst);
            let lsn = status(&mut c, "Innodb_lsn_current");
            let ended = w.join();
            panic!(
                "the writer did not move the LSN 12 MiB in {:?} (from {lsn0} to {lsn}); writer: {ended:?}; \
                 processlist: {:?}",
                t.elapsed(),
                processlist(&mut c)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    signal(child.id(), "-CONT");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(300)).expect("wait");
    stop.store(true, Ordering::SeqCst);
    w.join().expect("writer").expect("writer statements");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(255), "{err}");
    assert!(err.contains("redo log was overwritten"), "{err}");
    ddl_is_free(&mut c, "after_overwrite");

    // 2. kill -9 mid-copy: the server carries on, the stages are released.
    let mut child = spawn_backup(&slow);
    wait_for_copy(repo.path(), &mut child);
    signal(child.id(), "-9");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(60)).expect("wait");
    assert_eq!(
        out.status.code(),
        None,
        "the tool finished before the kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ddl_is_free(&mut c, "after_kill");
    // Its set is told from a live run's (the lock died with the tool) and
    // expired at once.
    let l = tool(&["list", "--repo", &rp, "--format", "json"]).json();
    let states: Vec<&str> = l
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["abandoned"], "{l}");
    tool(&["expire", "--repo", &rp, "--keep-days", "0"]).expect_code(0);
    let left = std::fs::read_dir(repo.path().join("r").join("backups"))
        .expect("sets")
        .count();
    assert_eq!(left, 0, "the abandoned set is still there");

    // 3. A damaged byte in a stored set: verify fails loudly.
    let good = tool(&[
        "backup", &dsn, "--repo", &rp, "--method", "physical", "--format", "json",
    ]);
    good.expect_code(0);
    let id = good.json()["backup"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let redo = repo
        .path()
        .join("r")
        .join("backups")
        .join(&id)
        .join("redo.log");
    let mut bytes = std::fs::read(&redo).expect("read redo");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&redo, &bytes).expect("write redo");
    let v = tool(&["verify", "--repo", &rp, "--backup", &id, "--format", "json"]);
    assert_ne!(v.code, 0, "{v:?}");
    assert_eq!(v.json()["status"], "failed", "{}", v.stdout);

    // 4. A corrupted page in the source: the backup fails and leaves no set.
    exec(
        &mut c,
        "CREATE TABLE t.c (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; \
         INSERT INTO t.c SELECT seq, REPEAT('c', 150) FROM t.seq_1_to_3000; \
         FLUSH TABLES t.c FOR EXPORT; UNLOCK TABLES",
    )
    .expect("table c");
    let ibd = src.datadir().join("t").join("c.ibd");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&ibd)
        .expect("open ibd");
    use std::os::unix::fs::FileExt;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, 3 * 16384 + 200).expect("read");
    b[0] ^= 0xff;
    f.write_all_at(&b, 3 * 16384 + 200).expect("write");
    f.sync_all().expect("sync");
    let before = std::fs::read_dir(repo.path().join("r").join("backups"))
        .expect("sets")
        .count();
    let bad = tool(&["backup", &dsn, "--repo", &rp, "--method", "physical"]);
    assert_eq!(bad.code, 255, "{bad:?}");
    assert!(bad.stderr.contains("fails its checksum"), "{bad:?}");
    let after = std::fs::read_dir(repo.path().join("r").join("backups"))
        .expect("sets")
        .count();
    assert_eq!(before, after, "a failed backup left a set behind");
    ddl_is_free(&mut c, "after_corrupt");
}

/// Waits (bounded) until a backup spawned into the repository under `root`
/// is copying: its redo copier's spool file exists, so the stages are held.
fn wait_for_copy(root: &Path, child: &mut std::process::Child) {
    let t = std::time::Instant::now();
    loop {
        let spool = std::fs::read_dir(root.join("r").join("backups"))
            .map(|rd| rd.flatten().any(|e| e.path().join("redo.spool").exists()))
            .unwrap_or(false);
        if spool {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the backup ended ({st}) before it started copying");
        }
        if t.elapsed() > std::time::Duration::from_secs(60) {
            let _ = signal_quiet(child.id(), "-9");
            panic!("the backup did not start copying within 60s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `COUNT(*)` and `CHECKSUM TABLE .. EXTENDED` of each table.
fn table_sums(c: &mut Conn, tables: &[&str]) -> Vec<(String, u64, u64)> {
    tables
        .iter()
        .map(|t| {
            let cnt: Option<u64> = c
                .row("count", &format!("SELECT COUNT(*) FROM {t}"))
                .expect("count");
            let sum: Option<(String, Option<u64>)> = c
                .row("checksum", &format!("CHECKSUM TABLE {t} EXTENDED"))
                .expect("checksum");
            (
                t.to_string(),
                cnt.expect("count"),
                sum.expect("checksum")
                    .1
                    .unwrap_or_else(|| panic!("{t} is missing")),
            )
        })
        .collect()
}

fn table_exists(c: &mut Conn, db: &str, t: &str) -> bool {
    let n: Option<u64> = c
        .row(
            "exists",
            &format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME = '{t}'"
            ),
        )
        .expect("exists");
    n == Some(1)
}

/// Replays the source's binary log `file` from `pos` into `target`.
fn replay_binlog(src: &Sandbox, file: &str, pos: u64, target: &Sandbox) {
    let binlog = src.datadir().join(file);
    let replay = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mariadb-binlog --start-position={pos} '{}' | mariadb --no-defaults -uroot --socket='{}'",
            binlog.display(),
            target.socket().display()
        ))
        .output()
        .expect("replay");
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
}

/// (a) DDL issued while a throttled backup copies waits for the backup and
/// then succeeds, and is not in the backup (it lies after the point);
/// (c) a MyISAM table written all through the backup restores consistent
/// with the recorded binary log position (restore + replay = source);
/// verify compares the per-table checksums read at the backup point (the
/// manifest's value equals the restored copy's before the replay);
/// (d) SIGINT mid-copy: exit 4 (caught signal), the stages are released
/// (DDL passes at once) and no set is left in the repository.
#[test]
fn ddl_myisam_writes_and_sigint_during_a_throttled_backup() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    let _slot = server_slot().expect("slot");
    let src = Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .start()
        .expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE t; \
         CREATE TABLE t.a (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200)) ENGINE=InnoDB; \
         CREATE TABLE t.my (id INT PRIMARY KEY AUTO_INCREMENT, x INT, KEY (x)) ENGINE=MyISAM; \
         INSERT INTO t.a (v) SELECT REPEAT('x', 150) FROM t.seq_1_to_20000",
    )
    .expect("schema");
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes) = (stop.clone(), writes.clone());
        let mut w = src.connect().expect("writer");
        std::thread::spawn(move || -> Result<u64, String> {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                exec(
                    &mut w,
                    &format!(
                        "INSERT INTO t.a (v) VALUES (REPEAT('w', {})); \
                         INSERT INTO t.my (x) VALUES ({i}); UPDATE t.my SET x = x + 1 WHERE id = {}",
                        i % 150,
                        i / 2 + 1
                    ),
                )
                .map_err(|e| format!("writer statement {i}: {e:#}"))?;
                writes.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(i)
        })
    };
    let (repo, rp) = repo_dir("oxk-phys-ddl");
    let dsn = src.dsn();
    let slow = [
        "backup",
        &dsn,
        "--repo",
        &rp,
        "--method",
        "physical",
        "--threads",
        "1",
        "--max-rate",
        "2M",
        "--format",
        "json",
    ];
    let mut child = spawn_backup(&slow);
    wait_for_copy(repo.path(), &mut child);
    // DDL while the backup holds BLOCK_DDL: it must wait, then succeed.
    let ddl = {
        let mut d = src.connect().expect("ddl");
        std::thread::spawn(move || -> Result<Duration, String> {
            let t = Instant::now();
            exec(
                &mut d,
                "SET SESSION lock_wait_timeout = 240; \
                 CREATE TABLE t.new (i INT PRIMARY KEY) ENGINE=InnoDB; \
                 INSERT INTO t.new VALUES (1), (2); \
                 ALTER TABLE t.a ADD COLUMN extra INT NOT NULL DEFAULT 7",
            )
            .map_err(|e| format!("{e:#}"))?;
            Ok(t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let waiting = !ddl.is_finished();
    let backup_running = child.try_wait().expect("try_wait").is_none();
    let out = oxkit_harness::wait_child(child, Duration::from_secs(300)).expect("wait");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        backup_running,
        "the throttled backup ended too soon to test DDL: {err}"
    );
    assert!(waiting, "DDL went through while the backup held BLOCK_DDL");
    let t = Instant::now();
    while !ddl.is_finished() {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "DDL still blocked 120s after the backup ended: {:?}",
            processlist(&mut c)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let waited = ddl
        .join()
        .expect("ddl thread")
        .expect("DDL after the backup");
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let n = writer.join().expect("writer").expect("writer statements");
    assert!(n > 20, "only {n} writes");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let m = &j["backup"];
    let file = m["position"]["binlog_file"]
        .as_str()
        .expect("file")
        .to_string();
    let pos = m["position"]["binlog_pos"].as_u64().expect("pos");
    let id = m["id"].as_str().expect("id").to_string();
    // Per-table checksums at the backup point: InnoDB tables only, t.new
    // (created after the point) absent.
    let recorded: Vec<(String, String, u64, String)> = m["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .map(|t| {
            (
                t["db"].as_str().expect("db").to_string(),
                t["name"].as_str().expect("name").to_string(),
                t["rows"].as_u64().expect("rows"),
                t["checksum"].as_str().expect("checksum").to_string(),
            )
        })
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!((recorded[0].0.as_str(), recorded[0].1.as_str()), ("t", "a"));
    let want = table_sums(&mut c, &["t.a", "t.my", "t.new"]);

    let target = repo.path().join("restored");
    tool(&[
        "restore",
        "--repo",
        &rp,
        "--to-datadir",
        &target.display().to_string(),
    ])
    .expect_code(0);
    let restored = Sandbox::builder()
        .from_datadir(&target)
        .start()
        .expect("start restored");
    let mut rc = restored.connect().expect("connect restored");
    assert!(
        !table_exists(&mut rc, "t", "new"),
        "DDL after the point is in the backup"
    );
    let cols: Option<u64> = rc
        .row(
            "columns",
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 't' AND TABLE_NAME = 'a'",
        )
        .expect("columns");
    assert_eq!(cols, Some(2), "the ALTER after the point is in the backup");
    // The manifest's checksum is the one the restored copy gives (the same
    // oxkit checksum verify recomputes).
    let table = oxkit::schema::load_table_without_children(&mut rc, "t", "a").expect("table");
    let q = oxkit::checksum::TableChecksum::new(
        &table,
        oxkit::checksum::Function::Sha1,
        &oxkit::checksum::RowOptions::default(),
    );
    let (cnt, crc): (u64, String) = rc
        .row("checksum", &q.query("", "1=1"))
        .expect("q")
        .expect("row");
    assert_eq!((cnt, crc), (recorded[0].2, recorded[0].3.clone()));
    replay_binlog(&src, &file, pos, &restored);
    assert_eq!(table_sums(&mut rc, &["t.a", "t.my", "t.new"]), want);
    drop(rc);
    restored.stop().expect("stop");

    let v = tool(&["verify", "--repo", &rp, "--backup", &id, "--format", "json"]);
    v.expect_code(0);
    let vj = v.json();
    assert_eq!(vj["status"], "passed", "{}", v.stdout);
    assert_eq!(vj["tables"][0]["ok"], true, "{}", v.stdout);
    assert!(vj["restore_secs"].as_f64().expect("restore_secs") > 0.0);

    // (d) SIGINT mid-copy.
    let mut child = spawn_backup(&slow);
    wait_for_copy(repo.path(), &mut child);
    signal(child.id(), "-INT");
    let out = oxkit_harness::wait_child(child, Duration::from_secs(60)).expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("stopped"), "{err}");
    ddl_is_free(&mut c, "after_sigint");
    let sets: Vec<String> = std::fs::read_dir(repo.path().join("r").join("backups"))
        .expect("sets")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(sets, vec![id], "an interrupted backup left a set behind");
}

/// (b) XA transactions prepared before the backup point and still prepared
/// at it. MariaDB 10.11 binlogs `XA START .. XA END; XA PREPARE` as one
/// group when the XA PREPARE runs, and `XA COMMIT`/`XA ROLLBACK` later as
/// their own group. The backup records the prepared xids (XA RECOVER under
/// BLOCK_COMMIT) and where their prepare groups are; the restore rolls
/// them back (the backup point holds only committed data); a point-in-time
/// replay (`restore DSN --until-gtid` on a server started on the restored
/// datadir) first replays those prepare groups, so the `XA COMMIT` and
/// `XA ROLLBACK` after the position apply as on the source.
#[test]
fn xa_prepared_across_the_backup_point_then_pitr_replay_to_a_gtid() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let src = Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .start()
        .expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE t; \
         CREATE TABLE t.a (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200)) ENGINE=InnoDB; \
         INSERT INTO t.a (v) SELECT REPEAT('x', 100) FROM t.seq_1_to_3000",
    )
    .expect("schema");
    let mut x1 = src.connect().expect("x1");
    let mut x2 = src.connect().expect("x2");
    exec(
        &mut x1,
        "XA START 'x1'; INSERT INTO t.a (v) VALUES ('xa one'); \
         UPDATE t.a SET v = 'by x1' WHERE id = 10; XA END 'x1'; XA PREPARE 'x1'",
    )
    .expect("x1");
    exec(
        &mut x2,
        "XA START 'x2', 'b2', 7; INSERT INTO t.a (v) VALUES ('xa two'); \
         XA END 'x2', 'b2', 7; XA PREPARE 'x2', 'b2', 7",
    )
    .expect("x2");
    exec(&mut c, "UPDATE t.a SET v = 'plain' WHERE id = 20").expect("plain");
    let (repo, rp) = repo_dir("oxk-phys-xa");
    let dsn = src.dsn();
    let r = tool(&[
        "backup", &dsn, "--repo", &rp, "--method", "physical", "--format", "json",
    ]);
    r.expect_code(0);
    let j = r.json();
    let xa = j["backup"]["position"]["xa_prepared"]
        .as_array()
        .expect("xa_prepared")
        .clone();
    assert_eq!(xa.len(), 2, "{}", j["backup"]["position"]);
    assert!(xa.iter().all(|x| x["binlog_file"].is_string()), "{xa:?}");
    let id = j["backup"]["id"].as_str().expect("id").to_string();
    // After the point: x1 commits, x2 rolls back, more writes; the target
    // GTID is the last of them; writes after it must not be replayed.
    exec(&mut x1, "XA COMMIT 'x1'").expect("commit x1");
    exec(&mut x2, "XA ROLLBACK 'x2', 'b2', 7").expect("rollback x2");
    exec(
        &mut c,
        "INSERT INTO t.a (v) VALUES ('after'); DELETE FROM t.a WHERE id = 5",
    )
    .expect("after");
    let gtid: Option<String> = c.row("gtid", "SELECT @@gtid_binlog_pos").expect("gtid");
    let gtid = gtid.expect("gtid");
    let want = table_sums(&mut c, &["t.a"]);
    exec(&mut c, "INSERT INTO t.a (v) VALUES ('too late')").expect("later");
    tool(&["binlog", &dsn, "--repo", &rp]).expect_code(0);

    // The restore goes into an existing empty directory owned by another
    // user; run as root, the tool gives every restored file to that owner.
    let target = repo.path().join("restored");
    std::fs::create_dir(&target).expect("mkdir");
    let as_root = {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(&target).expect("stat").uid() == 0
    };
    if as_root {
        std::os::unix::fs::chown(&target, Some(65534), Some(65534)).expect("chown");
    } else {
        eprintln!("not root: the restore keeps the running user as owner (not checked)");
    }
    let bad = tool(&["restore", "--repo", &rp, "--owner", "root"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    let r = tool(&[
        "restore",
        "--repo",
        &rp,
        "--backup",
        &id,
        "--to-datadir",
        &target.display().to_string(),
        "--format",
        "json",
    ]);
    r.expect_code(0);
    assert_eq!(r.json()["xa_rolled_back"], 2, "{}", r.stdout);
    if as_root {
        use std::os::unix::fs::MetadataExt as _;
        let mut stack = vec![target.clone()];
        let mut n = 0;
        while let Some(p) = stack.pop() {
            let md = std::fs::symlink_metadata(&p).expect("stat");
            assert_eq!((md.uid(), md.gid()), (65534, 65534), "{}", p.display());
            n += 1;
            if md.is_dir() {
                stack.extend(
                    std::fs::read_dir(&p)
                        .expect("ls")
                        .flatten()
                        .map(|e| e.path()),
                );
            }
        }
        assert!(n > 10, "{n} files");
    }
    let restored = Sandbox::builder()
        .from_datadir(&target)
        .start()
        .expect("start restored");
    let mut rc = restored.connect().expect("connect restored");
    let prepared: Vec<mysql::Row> = rc.rows("xa", "XA RECOVER").expect("xa recover");
    assert!(
        prepared.is_empty(),
        "the restore left XA transactions prepared"
    );
    let one: Option<u64> = rc
        .row("x1 rows", "SELECT COUNT(*) FROM t.a WHERE v LIKE 'xa %'")
        .expect("x1");
    assert_eq!(one, Some(0), "a prepared XA is in the restored copy");
    // A physical set refuses a plain restore into a server, with the flow.
    let plain = tool(&["restore", &restored.dsn(), "--repo", &rp, "--backup", &id]);
    assert_eq!(plain.code, 255, "{plain:?}");
    assert!(plain.stderr.contains("--until-gtid"), "{plain:?}");
    let rr = tool(&[
        "restore",
        &restored.dsn(),
        "--repo",
        &rp,
        "--backup",
        &id,
        "--until-gtid",
        &gtid,
        "--format",
        "json",
    ]);
    rr.expect_code(0);
    assert_eq!(rr.json()["xa_reprepared"], 2, "{}", rr.stdout);
    assert_eq!(table_sums(&mut rc, &["t.a"]), want);
    let prepared: Vec<mysql::Row> = rc.rows("xa", "XA RECOVER").expect("xa recover");
    assert!(
        prepared.is_empty(),
        "XA transactions left prepared after the replay"
    );
    drop(rc);
    restored.stop().expect("stop");
    exec(&mut x1, "SELECT 1").expect("x1 alive");
}

/// Every directory under `dir` is 0700 and every file 0600.
fn modes_are_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    for e in std::fs::read_dir(dir).expect("read dir") {
        let e = e.expect("entry");
        let mode = e.metadata().expect("meta").permissions().mode() & 0o777;
        if e.file_type().expect("type").is_dir() {
            assert_eq!(mode, 0o700, "{}", e.path().display());
            modes_are_private(&e.path());
        } else {
            assert_eq!(mode, 0o600, "{}", e.path().display());
        }
    }
}

/// Issue 21: a physical repository's folders were 0755 and a restored
/// datadir world-readable (password hashes in mysql/global_priv): both
/// are private now, like a server's own datadir.
#[test]
fn physical_sets_and_restored_datadirs_are_private() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let src = Sandbox::builder().start().expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE p; CREATE TABLE p.t (id INT PRIMARY KEY) ENGINE=InnoDB; \
         INSERT INTO p.t VALUES (1), (2)",
    )
    .expect("setup");
    let (repo, rp) = repo_dir("oxk-phys-private");
    tool(&["backup", &src.dsn(), "--repo", &rp, "--method", "physical"]).expect_code(0);
    modes_are_private(&repo.path().join("r"));
    let target = repo.path().join("restored");
    tool(&[
        "restore",
        "--repo",
        &rp,
        "--to-datadir",
        &target.display().to_string(),
    ])
    .expect_code(0);
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&target)
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
    assert!(target.join("mysql").join("global_priv.MAD").exists());
    modes_are_private(&target);
    let restored = Sandbox::builder()
        .from_datadir(&target)
        .start()
        .expect("start restored");
    let mut rc = restored.connect().expect("connect restored");
    let n: Option<u64> = rc.row("count", "SELECT COUNT(*) FROM p.t").expect("count");
    assert_eq!(n, Some(2));
}

/// Issue 21: Ctrl-C during the verify of a physical set recorded it as
/// `failed`. Stopped by SIGINT, verify exits 4 and the set keeps its
/// previous verdict.
#[test]
fn physical_verify_interrupted_records_no_verdict() {
    if not_on(&["mysql"], MYSQL_PHYSICAL) {
        return;
    }
    let _slot = server_slot().expect("slot");
    let src = Sandbox::builder().start().expect("start");
    let mut c = src.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE p; USE p; CREATE TABLE p.t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB; \
         INSERT INTO p.t SELECT seq, REPEAT('v', 150) FROM seq_1_to_20000",
    )
    .expect("setup");
    let (repo, rp) = repo_dir("oxk-phys-verify-int");
    let r = tool(&[
        "backup",
        &src.dsn(),
        "--repo",
        &rp,
        "--method",
        "physical",
        "--verify",
        "--format",
        "json",
    ]);
    r.expect_code(0);
    let id = r.json()["backup"]["id"].as_str().expect("id").to_string();
    let manifest = repo
        .path()
        .join("r")
        .join("backups")
        .join(&id)
        .join("manifest.json");
    let read = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&manifest).expect("manifest")).expect("json")
    };
    let before = read()["verification"].clone();
    assert_eq!(before["status"], "passed", "{before}");
    let mut child = spawn_backup(&["verify", "--repo", &rp]);
    // While its throwaway server runs: the verify is under way, no verdict yet.
    oxkit_harness::wait_for_child_process(&mut child, std::time::Duration::from_secs(120))
        .expect("verify started its server");
    signal(child.id(), "-INT");
    let out = oxkit_harness::wait_child(child, std::time::Duration::from_secs(300)).expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    let m = read();
    assert_eq!(m["verification"], before, "{err}");
    assert_eq!(
        m["history"]
            .as_array()
            .and_then(|h| h.last())
            .expect("history")["action"],
        "verify-interrupted"
    );
}
