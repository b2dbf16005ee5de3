//! ox-backup physical mode against real MariaDB 10.11 servers.
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
//! - `--method physical` refuses clearly until the copy is built.

use ox_backup::physical::io::DirectFile;
use ox_backup::physical::{prepare, redo};
use oxkit::conn::Conn;
use oxkit::sandbox::Sandbox;
use oxkit_harness::{exec, server_slot, Tool};
use std::path::Path;

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
    let _slot = server_slot().expect("slot");
    let s = busy_server();
    let mut c = s.connect().expect("connect");
    let flushed = status(&mut c, "Innodb_lsn_flushed");
    let (st, bytes) = read_log(&s.datadir().join("ib_logfile0"));
    let current = status(&mut c, "Innodb_lsn_current");
    assert!(!st.header.encrypted);
    assert!(
        st.header.creator.starts_with("MariaDB 10.11"),
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

#[test]
fn method_physical_refuses_clearly() {
    let r = Tool::new("ox-backup")
        .args([
            "backup",
            "h=127.0.0.1,P=1,u=root",
            "--repo",
            "/nonexistent/oxk-phys-repo",
            "--method",
            "physical",
        ])
        .run()
        .expect("run");
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("physical"), "{r:?}");
    assert!(r.stderr.contains("not built yet"), "{r:?}");
}
