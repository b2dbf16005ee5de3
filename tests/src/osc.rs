//! What the ox-online-schema-change tests share: the `app.t` table's rows
//! as text, the writer that changes it one acknowledged autocommit
//! statement at a time while recording each write in a [`Model`], and the
//! checks for leftovers.

use oxkit::conn::Conn;
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::RunResult;

/// The tool's binary name.
pub const TOOL: &str = "ox-online-schema-change";

/// One row of `app.<table>` on the columns every version has: id, k, s
/// (as utf8mb4 text), e (as text).
pub type Row = (i64, i64, Option<String>, String);

/// The rows of `app.<table>`, by id.
pub fn rows(c: &mut Conn, table: &str) -> Vec<Row> {
    c.rows(
        "rows",
        &format!(
            "SELECT id, k, CONVERT(s USING utf8mb4), CONCAT(e, '') FROM app.`{table}` ORDER BY id"
        ),
    )
    .expect("rows")
}

/// Tables and triggers of a run left in schema `app` (none after a
/// finished or cleaned-up run).
pub fn leftovers(c: &mut Conn) -> Vec<String> {
    let mut v: Vec<String> = c
        .rows(
            "leftovers",
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND (TABLE_NAME LIKE '\\_%' OR TABLE_NAME LIKE '%\\_osc\\_%')",
        )
        .expect("tables");
    let t: Vec<String> = c
        .rows(
            "triggers",
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app' AND TRIGGER_NAME LIKE 'osc\\_%'",
        )
        .expect("triggers");
    v.extend(t);
    v
}

/// `SHOW CREATE TABLE app.<table>`'s text ("" when there is no table).
pub fn create_table(c: &mut Conn, table: &str) -> String {
    let r: Option<(String, String)> = c
        .row("show create", &format!("SHOW CREATE TABLE app.`{table}`"))
        .expect("show create");
    r.map(|r| r.1).unwrap_or_default()
}

/// The server's own `CHECKSUM TABLE app.<table>`.
pub fn checksum_table(c: &mut Conn, table: &str) -> u64 {
    let r: Option<(String, Option<u64>)> = c
        .row("checksum", &format!("CHECKSUM TABLE app.`{table}`"))
        .expect("checksum table");
    r.and_then(|r| r.1).expect("the table's checksum")
}

/// Waits for a tool started with [`crate::spawn_tool`] and collects what
/// it printed.
pub fn finish(child: Child) -> RunResult {
    let out = child.wait_with_output().expect("wait");
    RunResult {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The writer's record: what the table must hold, by key, after every
/// acknowledged write.
pub type Model = BTreeMap<i64, (i64, Option<String>, String)>;

/// The record of what `app.<table>` holds now.
pub fn model_of(c: &mut Conn, table: &str) -> Model {
    rows(c, table)
        .into_iter()
        .map(|(id, k, s, e)| (id, (k, s, e)))
        .collect()
}

/// The record as rows, comparable with [`rows`].
pub fn model_rows(m: &Model) -> Vec<Row> {
    m.iter()
        .map(|(id, (k, s, e))| (*id, *k, s.clone(), e.clone()))
        .collect()
}

/// A change to the record, applied once the write is acknowledged.
type Apply = Box<dyn FnOnce(&mut Model)>;

/// A running writer; [`Writer::stop`] ends it.
pub struct Writer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<(u64, u64)>,
}

/// Inserts, updates (key and non-key) and deletes on app.t through the
/// columns every version of the table has, one autocommit statement at a
/// time, recording each acknowledged write in `model`. The values written
/// to `s` are distinct, so a unique key on it holds. Ends with
/// (acknowledged writes, retried errors); other errors panic.
pub fn start_writer(mut c: Conn, model: Arc<Mutex<Model>>, seed: u64) -> Writer {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let handle = std::thread::spawn(move || {
        let (mut acked, mut retried) = (0u64, 0u64);
        let mut r = seed;
        let mut next_id = 1_000_000 + (seed as i64) * 100_000;
        while !s2.load(Ordering::SeqCst) {
            r = r
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x = (r >> 33) as usize;
            let mut m = model.lock().expect("model");
            let pick = if m.is_empty() {
                None
            } else {
                m.keys().nth(x % m.len()).copied()
            };
            let (sql, apply): (String, Apply) = match (x % 10, pick) {
                (0..=2, _) | (_, None) => {
                    next_id += 1;
                    let id = next_id;
                    let k = (x % 1000) as i64;
                    (
                        format!("INSERT INTO app.t (id, k, s, e) VALUES ({id}, {k}, 'w{id} \u{e9}', 'b')"),
                        Box::new(move |m: &mut Model| {
                            m.insert(id, (k, Some(format!("w{id} \u{e9}")), "b".into()));
                        }),
                    )
                }
                (3..=5, Some(id)) => (
                    format!(
                        "UPDATE app.t SET k = k + 1, s = CONCAT('u', id, '-{x}'), e = 'c' WHERE id = {id}"
                    ),
                    Box::new(move |m: &mut Model| {
                        if let Some(v) = m.get_mut(&id) {
                            v.0 += 1;
                            v.1 = Some(format!("u{id}-{x}"));
                            v.2 = "c".into();
                        }
                    }),
                ),
                (6..=7, Some(id)) => {
                    next_id += 1;
                    let new = next_id;
                    (
                        format!("UPDATE app.t SET id = {new} WHERE id = {id}"),
                        Box::new(move |m: &mut Model| {
                            if let Some(v) = m.remove(&id) {
                                m.insert(new, v);
                            }
                        }),
                    )
                }
                (_, Some(id)) => (
                    format!("DELETE FROM app.t WHERE id = {id}"),
                    Box::new(move |m: &mut Model| {
                        m.remove(&id);
                    }),
                ),
            };
            match c.run("write", &sql) {
                Ok(()) => {
                    apply(&mut m);
                    acked += 1;
                }
                Err(e) if e.kind.is_retryable() => retried += 1,
                Err(e) => panic!("writer: {sql}: {e}"),
            }
            drop(m);
            std::thread::sleep(Duration::from_millis(1));
        }
        (acked, retried)
    });
    Writer { stop, handle }
}

impl Writer {
    /// Stops the writer: (acknowledged writes, retried errors).
    pub fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("writer panicked")
    }
}
