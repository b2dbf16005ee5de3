//! DDL on the live table with bounded metadata-lock waits: the instant
//! ALTER, trigger creation, the swap, and re-pointing child foreign keys.
//!
//! Never queued where the application could deadlock with it. An
//! application transaction that read the table holds its metadata lock
//! (SHARED_READ) until it ends; when it then writes the table it asks for
//! SHARED_WRITE. If a DDL or `LOCK TABLES ... WRITE` of ours is queued for
//! the table in between, that request waits behind ours while ours waits
//! for the transaction: a deadlock, and the server's metadata lock
//! deadlock detector rolls back the waiter with the lighter lock, which is
//! always the application's (DML weighs less than DDL). That was the
//! bench's two client errors per run under sysbench `oltp_read_write`
//! (point and range SELECTs, then UPDATEs, in one transaction), seen as
//! error 1213 in the application while the swap's lock was queued. So the
//! tool asks for the table's metadata lock only in a way that cannot
//! queue ([`Ask`]): on MariaDB with `lock_wait_timeout = 0`, which fails at
//! once instead of queueing, asked again every few milliseconds until it
//! is granted (at an instant when no transaction holds the table) or an
//! attempt's `--cut-over-lock-wait` seconds are over; on MySQL, whose
//! `lock_wait_timeout` is at least 1 second, only once
//! `performance_schema.metadata_locks` shows no other session holding a
//! transaction's lock on the tables, then queued (a transaction that
//! begins between that look and the request can still be chosen; the
//! window is a round trip). Once our lock is granted no application
//! transaction holds the table, so what queues behind it (the
//! application's statements, the MariaDB swap's RENAME) waits without a
//! cycle. Each attempt is said on stderr with the sessions holding the
//! table, and attempts are retried until `--cut-over-timeout`.
//!
//! The swap is a single `RENAME TABLE t TO _t_old, _t_new TO t`: atomic,
//! and with trigger capture the shadow is exactly in sync at that instant
//! (every write to the original wrote the shadow in the same transaction),
//! so no write lock or catch-up phase is needed. Statements that queued on
//! `t` during the rename open the new table when they get their turn.
//!
//! With binary log capture writes stop while the capture catches up: on
//! MySQL 8.0.13+ by one session that renames under `LOCK TABLES`
//! ([`lock_rename_swap`]), on MariaDB, which refuses that, by two
//! sessions ([`binlog_swap`]).

use crate::capture::Capture;
use crate::names::Names;
use crate::triggers;
use anyhow::Result;
use oxkit::conn::{self, cell_text, Conn, ConnectOptions, ErrorKind};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{Cancel, ExitError};
use oxkit::schema::ForeignKey;
use oxkit::server::Server;
use oxkit::sql::{quote_ident, quote_idents};
use oxkit::Exit;
use std::time::{Duration, Instant};

/// How a DDL asks for metadata locks (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// `lock_wait_timeout = 0`, asked again every few milliseconds: never
    /// queued (MariaDB).
    NoWait,
    /// Asked once `performance_schema.metadata_locks` shows no other
    /// session holding a transaction's lock on the tables, then queued for
    /// the rest of the attempt (MySQL).
    WhenFree,
}

impl Ask {
    /// The way `server` allows.
    pub fn of(server: &Server) -> Ask {
        if server.caps.mdl_nowait {
            Ask::NoWait
        } else {
            Ask::WhenFree
        }
    }
}

/// Limits of one bounded DDL.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// Seconds one attempt may take to get the lock.
    pub lock_wait: u32,
    /// When to give up.
    pub deadline: Instant,
    /// How the lock is asked for.
    pub ask: Ask,
}

/// Time between two asks that were refused at once.
const NOWAIT_STEP: Duration = Duration::from_millis(2);

/// Whether no other session holds a transaction's metadata lock on any
/// of `tables` (schema, table), by `performance_schema.metadata_locks`.
/// Without that table (performance_schema off) it cannot tell: true.
fn mdl_free(conn: &mut Conn, tables: &[(&str, &str)]) -> bool {
    if tables.is_empty() {
        return true;
    }
    let list: Vec<String> = tables
        .iter()
        .map(|(d, t)| {
            format!(
                "({}, {})",
                oxkit::sql::quote_str(d),
                oxkit::sql::quote_str(t)
            )
        })
        .collect();
    let held: Option<u64> = conn
        .row(
            "reading metadata locks",
            &format!(
                "SELECT COUNT(*) FROM performance_schema.metadata_locks \
                 WHERE OBJECT_TYPE = 'TABLE' AND LOCK_STATUS = 'GRANTED' \
                   AND LOCK_DURATION = 'TRANSACTION' AND (OBJECT_SCHEMA, OBJECT_NAME) IN ({}) \
                   AND OWNER_THREAD_ID <> (SELECT THREAD_ID FROM performance_schema.threads \
                                           WHERE PROCESSLIST_ID = CONNECTION_ID())",
                list.join(", ")
            ),
        )
        .ok()
        .flatten();
    held.unwrap_or(0) == 0
}

/// One attempt of at most `lock_wait` seconds to run `sql`, which takes
/// the metadata locks of `tables`, asked for as `ask` says: `Ok(true)` it
/// ran, `Ok(false)` the attempt's time passed (nothing of ours is queued
/// any more). A lock error other than a wait or a deadlock, or any other
/// error, fails.
pub fn attempt(
    conn: &mut Conn,
    cancel: &Cancel,
    ask: Ask,
    lock_wait: u32,
    tables: &[(&str, &str)],
    what: &str,
    sql: &str,
) -> Result<bool> {
    let until = Instant::now() + Duration::from_secs(u64::from(lock_wait.max(1)));
    let refused =
        |e: &conn::DbError| matches!(e.kind, ErrorKind::LockWaitTimeout | ErrorKind::Deadlock);
    match ask {
        Ask::NoWait => {
            conn.run("session setup", "SET SESSION lock_wait_timeout = 0")?;
            let r = (|| loop {
                match conn.run(what, sql) {
                    Ok(()) => return Ok(true),
                    Err(e) if refused(&e) => {}
                    Err(e) => return Err(anyhow::Error::from(e)),
                }
                if Instant::now() >= until {
                    return Ok(false);
                }
                cancel.check()?;
                std::thread::sleep(NOWAIT_STEP);
            })();
            // The session's later statements (the checkpoint, cleanup)
            // wait as before, bounded.
            conn.run(
                "session setup",
                &format!("SET SESSION lock_wait_timeout = {}", lock_wait.max(1)),
            )?;
            r
        }
        Ask::WhenFree => {
            while !mdl_free(conn, tables) {
                if Instant::now() >= until {
                    return Ok(false);
                }
                cancel.check()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            let left = until
                .saturating_duration_since(Instant::now())
                .as_secs()
                .max(1);
            conn.run(
                "session setup",
                &format!("SET SESSION lock_wait_timeout = {left}"),
            )?;
            match conn.run(what, sql) {
                Ok(()) => Ok(true),
                Err(e) if refused(&e) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// Sessions with open transactions, oldest first: the usual holders of a
/// metadata lock a DDL waits for.
pub fn blockers(conn: &mut Conn) -> String {
    let rows: Vec<mysql::Row> = conn
        .rows(
            "listing open transactions",
            "SELECT p.ID, p.USER, p.HOST, p.TIME, t.trx_started, LEFT(COALESCE(p.INFO, ''), 80) \
             FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p \
               ON p.ID = t.trx_mysql_thread_id \
             WHERE p.ID <> CONNECTION_ID() ORDER BY t.trx_started LIMIT 5",
        )
        .unwrap_or_default();
    if rows.is_empty() {
        return "no open transactions found (a LOCK TABLES or a long query may hold it)"
            .to_string();
    }
    rows.iter()
        .map(|r| {
            let c = |i| cell_text(r, i).unwrap_or_default();
            let q = c(5);
            format!(
                "session {} ({}@{}) in a transaction since {}{}",
                c(0),
                c(1),
                c(2),
                c(4),
                if q.is_empty() {
                    String::new()
                } else {
                    format!(", running: {q}")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Runs `sql` (which takes the metadata locks of `tables`) in bounded
/// attempts ([`attempt`]) until it runs, retrying until the deadline.
/// Returns the number of attempts.
pub fn bounded(
    conn: &mut Conn,
    cancel: &Cancel,
    bound: Bound,
    tables: &[(&str, &str)],
    what: &str,
    sql: &str,
) -> Result<u32> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let start = Instant::now();
        if attempt(conn, cancel, bound.ask, bound.lock_wait, tables, what, sql)? {
            return Ok(attempts);
        }
        let who = blockers(conn);
        if Instant::now() >= bound.deadline {
            return Err(ExitError {
                exit: Exit::ERROR,
                message: format!(
                    "{what}: gave up after {attempts} attempts (--cut-over-timeout); the table's metadata lock is held: {who}"
                ),
            }
            .into());
        }
        log::warn!(
            "{what}: metadata lock not granted within {}s (attempt {attempts}, waited {:.1}s); holders: {who}; retrying",
            bound.lock_wait,
            start.elapsed().as_secs_f64()
        );
        // Let queued application statements through before the next
        // attempt (MySQL's last ask queues).
        let pause = Duration::from_millis(500)
            .min(bound.deadline.saturating_duration_since(Instant::now()));
        let until = Instant::now() + pause;
        while Instant::now() < until {
            cancel.check()?;
            std::thread::sleep(Duration::from_millis(50));
        }
        cancel.check()?;
    }
}

/// The atomic swap.
pub fn swap_sql(n: &Names) -> String {
    rename_sql(n, &n.old)
}

/// `RENAME TABLE t TO aside, shadow TO t`: every swap's statement.
fn rename_sql(n: &Names, aside: &str) -> String {
    format!(
        "RENAME TABLE {} TO {}, {} TO {}",
        n.q(&n.table),
        n.q(aside),
        n.q(&n.shadow),
        n.q(&n.table)
    )
}

/// The comment that marks the cut-over sentry table (the cleanup drops a
/// table of that name only when it carries it).
pub const SENTRY_COMMENT: &str = "ox-online-schema-change cut-over sentry";

/// What the binary log swap needs besides the capture.
pub struct SwapCtx<'a> {
    /// Where to connect the two cut-over sessions.
    pub spec: &'a ConnSpec,
    /// Connection options.
    pub opts: &'a ConnectOptions,
    /// Names.
    pub n: &'a Names,
    /// Lock waits and the deadline.
    pub bound: Bound,
    /// How long writes may stay stopped while the capture catches up.
    pub catch_up: Duration,
}

/// The swap with binary log capture on MySQL 8.0.13+, which lets a session
/// rename the tables it holds under `LOCK TABLES ... WRITE`: one session
///
/// 1. `LOCK TABLES t WRITE, _t_new WRITE` (waits at most
///    `--cut-over-lock-wait`): writes to `t` stop, and every transaction
///    that wrote it has committed (a transaction keeps its metadata lock
///    until it ends), so its changes are in the binary log;
/// 2. reads the binary log position and applies every change up to it (at
///    most `catch_up`);
/// 3. `RENAME TABLE t TO _t_old, _t_new TO t`, then `UNLOCK TABLES`.
///
/// The application's statements that queued on `t` meanwhile wait for the
/// metadata lock of the *name* `t`; when they get it they open the table
/// that has the name then, the new one. If step 1 or 2 fails the session
/// unlocks without renaming (the original stays, the attempt is retried
/// until the deadline); if the session dies its locks go with it. No
/// sentry table: nothing of this swap is ever dropped. Returns the
/// attempts.
pub fn lock_rename_swap(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    capture: &mut Capture,
) -> Result<u32> {
    let n = sw.n;
    if n.exists(conn, "looking for name clashes", &n.old)? {
        return Err(crate::plan::refuse(format!(
            "{}.{} exists; the swap renames the original to that name (drop it if an earlier run left it)",
            n.db, n.old
        )));
    }
    until_swapped(conn, cancel, sw, capture, lock_rename_attempt)
}

/// Runs `attempt` (one swap attempt: `Ok(true)` swapped) until it swaps,
/// applying the captured changes between attempts, until the deadline.
/// Returns the attempts.
fn until_swapped(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    capture: &mut Capture,
    attempt: impl Fn(&mut Conn, &Cancel, &SwapCtx<'_>, &mut Capture) -> Result<bool>,
) -> Result<u32> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        cancel.check()?;
        if attempts > 1 {
            capture.apply(conn, cancel)?;
        }
        if attempt(conn, cancel, sw, capture)? {
            return Ok(attempts);
        }
        if Instant::now() >= sw.bound.deadline {
            return Err(gave_up(conn, attempts));
        }
        pause_before_retry(cancel)?;
    }
}

/// The error of a swap that ran out of `--cut-over-timeout`, naming who
/// holds the table's metadata lock.
fn gave_up(conn: &mut Conn, attempts: u32) -> anyhow::Error {
    let who = blockers(conn);
    ExitError {
        exit: Exit::ERROR,
        message: format!(
            "swapping the tables: gave up after {attempts} attempts (--cut-over-timeout); the table's metadata lock is held: {who}"
        ),
    }
    .into()
}

/// Half a second between swap attempts, cut short by Ctrl-C.
fn pause_before_retry(cancel: &Cancel) -> Result<()> {
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        cancel.check()?;
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Opens the swap's locking session and takes write locks on `tables`
/// with it (`LOCK TABLES`, one [`attempt`] of `--cut-over-lock-wait`):
/// `None`, after saying who holds them (read on `conn`), when they are not
/// granted in time (the caller retries).
fn lock_for_swap(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    tables: &[&str],
) -> Result<Option<Conn>> {
    let lock_wait = sw.bound.lock_wait;
    let mut a = conn::connect(sw.spec, sw.opts)?;
    crate::copy::classic_locking_reads(&mut a);
    let locks: Vec<String> = tables
        .iter()
        .map(|t| format!("{} WRITE", sw.n.q(t)))
        .collect();
    let watched: Vec<(&str, &str)> = tables.iter().map(|t| (sw.n.db.as_str(), *t)).collect();
    if attempt(
        &mut a,
        cancel,
        sw.bound.ask,
        lock_wait,
        &watched,
        "locking the table for the swap",
        &format!("LOCK TABLES {}", locks.join(", ")),
    )? {
        Ok(Some(a))
    } else {
        log::warn!(
            "swapping the tables: write lock not granted within {lock_wait}s; holders: {}; retrying",
            blockers(conn)
        );
        Ok(None)
    }
}

/// Says how long the application's writes waited for the swap.
fn log_swapped(stopped: Duration) {
    log::info!(
        "swapped; writes were stopped for {:.2}s",
        stopped.as_secs_f64()
    );
}

/// One attempt of [`lock_rename_swap`]: `Ok(true)` swapped, `Ok(false)`
/// not (retry).
fn lock_rename_attempt(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    capture: &mut Capture,
) -> Result<bool> {
    let n = sw.n;
    let Some(mut a) = lock_for_swap(conn, cancel, sw, &[&n.table, &n.shadow])? else {
        return Ok(false);
    };
    // Writes are stopped from here until UNLOCK TABLES.
    let stopped = Instant::now();
    if let Err(e) = capture.catch_up(&mut a, cancel, true, Instant::now() + sw.catch_up) {
        let _ = a.run("unlocking", "UNLOCK TABLES");
        log::warn!("swapping the tables: {e:#}; the original is kept; retrying");
        return Ok(false);
    }
    // The user's triggers follow the data (see crate::triggers); not cut
    // short by Ctrl-C until they are on one table or the other.
    let _critical = cancel.critical_section();
    let moved = match triggers::move_to_shadow(&mut a, n, &n.shadow)? {
        Ok(m) => m,
        Err(e) => {
            let _ = a.run("unlocking", "UNLOCK TABLES");
            log::warn!("swapping the tables: {e:#}; the original is kept; retrying");
            return Ok(false);
        }
    };
    let renamed = a.run("swapping the tables", &rename_sql(n, &n.old));
    // A server error means the (atomic) RENAME did nothing: the triggers go
    // back while writes are still stopped.
    let mut back = moved.is_empty();
    if let Err(e) = &renamed {
        if e.kind != ErrorKind::LostConnection {
            triggers::put_back(&mut a, n, &moved)?;
            back = true;
        }
    }
    let _ = a.run("unlocking", "UNLOCK TABLES");
    let blocked = stopped.elapsed();
    drop(a);
    match renamed {
        Ok(()) => {
            log_swapped(blocked);
            Ok(true)
        }
        Err(e) => {
            // A RENAME is atomic: either both names moved or neither. A
            // lost connection leaves the outcome unknown: the tables say.
            if n.exists(conn, "reading the swap's outcome", &n.old)?
                && !n.exists(conn, "reading the swap's outcome", &n.shadow)?
            {
                log::warn!("swapping the tables: {e}; the rename was done");
                return Ok(true);
            }
            if !back {
                escaped_put_back(conn, n, &moved)?;
            }
            log::warn!(
                "swapping the tables: the rename failed ({e}); the original is kept; retrying"
            );
            Ok(false)
        }
    }
}

/// Puts the user's triggers back on the original after the locking
/// session was lost with them on the shadow: writes ran on the original
/// without them meanwhile, which is said.
fn escaped_put_back(conn: &mut Conn, n: &Names, moved: &[oxkit::schema::Trigger]) -> Result<()> {
    log::error!(
        "the swap's locking session was lost while the triggers of {}.{} were on the new table: writes between then and now ran without them",
        n.db,
        n.table
    );
    triggers::put_back(conn, n, moved)
}

/// The swap with binary log capture (MariaDB): writes stop, the capture
/// catches up, and the tables are swapped, with the application's writes
/// that queued meanwhile landing in the new table. MariaDB rejects RENAME
/// under LOCK TABLES, so two sessions do it:
///
/// 0. the shadow is renamed `t_osc_new`, and a sentry table `t_osc_del` is
///    created. Both names start with the table's, so they sort after it:
///    a RENAME takes its metadata locks in name order, and the rename of
///    step 3 must queue on `t` *first*. With `_t_new` and `_t_del` it
///    would wait on those (held by A) without having asked for `t`, and
///    application statements already waiting for `t` would be let in
///    before it when A unlocks, writing to the old table after the
///    catch-up (seen in testing: an update lost);
/// 1. (nothing else changes until then; the application keeps writing)
/// 2. session A: `LOCK TABLES t WRITE, t_osc_new WRITE, t_osc_del WRITE`
///    (waits at most `--cut-over-lock-wait`); writes to `t` stop;
/// 3. session B: `RENAME TABLE t TO t_osc_del, t_osc_new TO t`: it queues
///    for the metadata lock of `t` behind A, and is served before the
///    application's statements waiting for `t` (a pending exclusive lock
///    goes first); A waits until B is seen waiting;
/// 4. A reads the binary log position and applies every change up to it
///    (at most `catch_up`);
/// 5. A drops the sentry and unlocks: B's rename runs, and the queued
///    statements open the new table.
///
/// If anything in 3-4 fails, A unlocks *without* dropping the sentry: B's
/// rename then fails (`t_osc_del` exists) and the original stays in place;
/// if A's session dies its locks go with it and the same holds. Each
/// attempt is retried until the deadline. Returns the attempts.
pub fn binlog_swap(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    capture: &mut Capture,
) -> Result<u32> {
    let orig = sw.n;
    for t in [&orig.swap_shadow, &orig.del] {
        if orig.exists(conn, "looking for name clashes", t)? {
            return Err(crate::plan::refuse(format!(
                "{}.{t} exists; the binary log swap needs that name (drop it if an earlier run left it)",
                orig.db
            )));
        }
    }
    bounded(
        conn,
        cancel,
        sw.bound,
        &[(&orig.db, &orig.shadow)],
        "renaming the shadow table for the swap",
        &format!(
            "RENAME TABLE {} TO {}",
            orig.q(&orig.shadow),
            orig.q(&orig.swap_shadow)
        ),
    )?;
    let mut renamed = orig.clone();
    renamed.shadow = orig.swap_shadow.clone();
    capture.retarget(&renamed.shadow);
    let sw_renamed = SwapCtx { n: &renamed, ..*sw };
    let r = until_swapped(conn, cancel, &sw_renamed, capture, swap_attempt);
    if r.is_err() {
        // A failed attempt keeps the sentry (so its rename fails): it goes
        // now.
        let _ = conn.run(
            "dropping the cut-over sentry",
            &format!("DROP TABLE IF EXISTS {}", orig.q(&orig.del)),
        );
        capture.retarget(&orig.shadow);
        // The shadow gets its name back, so the cleanup finds it (the
        // cleanup never drops t_osc_new: that name may be a user's table).
        let _ = conn.run(
            "renaming the shadow table back",
            &format!(
                "RENAME TABLE {} TO {}",
                orig.q(&orig.swap_shadow),
                orig.q(&orig.shadow)
            ),
        );
    }
    r
}

/// The user's triggers could be neither moved nor put back (fatal).
#[derive(Debug)]
struct Misplaced(String);

impl std::fmt::Display for Misplaced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misplaced {}

/// One attempt: `Ok(true)` swapped, `Ok(false)` not (retry).
fn swap_attempt(
    conn: &mut Conn,
    cancel: &Cancel,
    sw: &SwapCtx<'_>,
    capture: &mut Capture,
) -> Result<bool> {
    let n = sw.n;
    let lock_wait = sw.bound.lock_wait;
    conn.run(
        "creating the cut-over sentry",
        &format!(
            "CREATE TABLE IF NOT EXISTS {} (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT={}",
            n.q(&n.del),
            oxkit::sql::quote_str(SENTRY_COMMENT)
        ),
    )?;
    let mut b = conn::connect(sw.spec, sw.opts)?;
    let b_wait = u64::from(lock_wait) + sw.catch_up.as_secs() + 10;
    b.run(
        "session setup",
        &format!("SET SESSION lock_wait_timeout = {b_wait}"),
    )?;
    let b_id = b.connection_id();
    let Some(mut a) = lock_for_swap(conn, cancel, sw, &[&n.table, &n.shadow, &n.del])? else {
        return Ok(false);
    };
    let rename = rename_sql(n, &n.del);
    let mut moved = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let renamer = std::thread::spawn(move || {
        let r = b.run("swapping the tables", &rename);
        let _ = tx.send(r);
    });
    // Writes are stopped from here until UNLOCK TABLES.
    let stopped = Instant::now();
    let ready = (|| -> Result<()> {
        // Writes are stopped while this waits: bounded like the catch-up.
        let until = Instant::now() + sw.catch_up;
        loop {
            let state: Option<Option<String>> = conn.row(
                "watching the swap",
                &format!("SELECT STATE FROM information_schema.PROCESSLIST WHERE ID = {b_id}"),
            )?;
            if state.flatten().is_some_and(|s| s.contains("metadata lock")) {
                break;
            }
            if Instant::now() >= until {
                anyhow::bail!("the rename session was not seen waiting for the table");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        capture.catch_up(&mut a, cancel, true, Instant::now() + sw.catch_up)?;
        // The user's triggers follow the data (see crate::triggers); on
        // failure they are back on the original already.
        moved = triggers::move_to_shadow(&mut a, n, &n.shadow)
            .map_err(|e| Misplaced(format!("{e:#}")))??;
        Ok(())
    })();
    if let Err(e) = &ready {
        if let Some(m) = e.downcast_ref::<Misplaced>() {
            // The triggers are neither here nor there: no retry.
            let _ = a.run("unlocking", "UNLOCK TABLES");
            return Err(anyhow::anyhow!("{}", m.0));
        }
    }
    // Not cut short by Ctrl-C until the triggers are on one table or the
    // other.
    let _critical = cancel.critical_section();
    let released = match &ready {
        Ok(()) => a
            .run(
                "releasing the swap",
                &format!("DROP TABLE {}; UNLOCK TABLES", n.q(&n.del)),
            )
            .map_err(anyhow::Error::from),
        Err(_) => Ok(()),
    };
    // Released or not, while A lives and holds the locks (the sentry's
    // DROP failed: the rename will fail) the triggers go back now, before
    // any write.
    let mut back = moved.is_empty();
    if released.is_err() && a.run("checking the locking session", "DO 1").is_ok() {
        if let Err(e) = triggers::put_back(&mut a, n, &moved) {
            let _ = a.run("unlocking", "UNLOCK TABLES");
            return Err(e);
        }
        back = true;
    }
    // On any failure the sentry stays: the rename fails and the original
    // keeps its name.
    let _ = a.run("unlocking", "UNLOCK TABLES");
    let blocked = stopped.elapsed();
    let renamed = match rx.recv_timeout(Duration::from_secs(b_wait + 5)) {
        Ok(r) => r,
        Err(_) => {
            // The renamer is stuck: kill its statement (its session ends
            // with the thread).
            let _ = conn.run("stopping the rename", &format!("KILL {b_id}"));
            let _ = rx.recv_timeout(Duration::from_secs(10));
            let _ = renamer.join();
            if !back {
                escaped_put_back(conn, n, &moved)?;
            }
            anyhow::bail!(
                "swapping the tables: the rename did not finish; the original table is kept"
            );
        }
    };
    let _ = renamer.join();
    drop(a);
    if renamed.is_err() && !back {
        escaped_put_back(conn, n, &moved)?;
    }
    match (ready, released, renamed) {
        (Ok(()), Ok(()), Ok(())) => {
            log_swapped(blocked);
            Ok(true)
        }
        (Err(e), _, _) | (_, Err(e), _) => {
            log::warn!("swapping the tables: {e:#}; the original is kept; retrying");
            Ok(false)
        }
        (_, _, Err(e)) => {
            log::warn!("swapping the tables: the rename failed ({e}); retrying");
            Ok(false)
        }
    }
}

/// The instant ALTER on the real table.
pub fn instant_sql(n: &Names, alter: &str) -> String {
    format!("ALTER TABLE {} {alter}, ALGORITHM=INSTANT", n.q(&n.table))
}

/// Re-points a child's foreign key at the (new) table: drop the
/// constraint that followed the old table through the rename and add one
/// under the toggled name, referencing the table by name. With
/// `foreign_key_checks` off the server neither rebuilds the child nor
/// checks its rows (they referenced the same rows a moment ago).
pub fn rebuild_fk_sql(fk: &ForeignKey, n: &Names, parent_col: impl Fn(&str) -> String) -> String {
    let parents: Vec<String> = fk.parent_columns.iter().map(|c| parent_col(c)).collect();
    format!(
        "ALTER TABLE {} DROP FOREIGN KEY {}, ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
        oxkit::sql::quote_table(&fk.db, &fk.table),
        quote_ident(&fk.name),
        quote_ident(&crate::plan::toggle_fk_name(&fk.name)),
        quote_idents(&fk.columns),
        n.q(&n.table),
        quote_idents(&parents),
        rule(&fk.on_delete),
        rule(&fk.on_update)
    )
}

fn rule(r: &str) -> &'static str {
    match r.to_ascii_uppercase().as_str() {
        "CASCADE" => "CASCADE",
        "SET NULL" => "SET NULL",
        "NO ACTION" => "NO ACTION",
        "SET DEFAULT" => "SET DEFAULT",
        _ => "RESTRICT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_and_fk_sql() {
        let s = Server::from_identity("10.11.6-MariaDB", "mariadb.org binary distribution");
        assert_eq!(Ask::of(&s), Ask::NoWait);
        let n = Names::new("d", "t").expect("names");
        assert_eq!(
            swap_sql(&n),
            "RENAME TABLE `d`.`t` TO `d`.`_t_old`, `d`.`_t_new` TO `d`.`t`"
        );
        let fk = ForeignKey {
            name: "fk".into(),
            db: "d".into(),
            table: "c".into(),
            columns: vec!["pid".into()],
            parent_db: "d".into(),
            parent_table: "_t_old".into(),
            parent_columns: vec!["id".into()],
            on_update: "RESTRICT".into(),
            on_delete: "CASCADE".into(),
        };
        assert_eq!(
            rebuild_fk_sql(&fk, &n, |c| c.to_string()),
            "ALTER TABLE `d`.`c` DROP FOREIGN KEY `fk`, ADD CONSTRAINT `_fk` FOREIGN KEY (`pid`) REFERENCES `d`.`t` (`id`) ON DELETE CASCADE ON UPDATE RESTRICT"
        );
        let my = Server::from_identity("8.0.36", "MySQL Community Server - GPL");
        assert_eq!(Ask::of(&my), Ask::WhenFree);
        assert_eq!(
            instant_sql(&n, "ADD COLUMN x INT"),
            "ALTER TABLE `d`.`t` ADD COLUMN x INT, ALGORITHM=INSTANT"
        );
    }
}
