//! DDL on the live table with bounded metadata-lock waits: the instant
//! ALTER, trigger creation, the swap, and re-pointing child foreign keys.
//!
//! A DDL statement that waits for a metadata lock makes every later
//! statement on the table queue behind it, so each attempt waits at most
//! `--cut-over-lock-wait` seconds (`WAIT n` on MariaDB, and
//! `lock_wait_timeout` for everything, which is what MySQL has), then lets
//! the application run for a moment and tries again, until
//! `--cut-over-timeout`. On each timeout the sessions with open
//! transactions (the likely holders) are named.
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
use oxkit::server::{Flavor, Server};
use oxkit::sql::{quote_ident, quote_idents};
use oxkit::Exit;
use std::time::{Duration, Instant};

/// Limits of one bounded DDL.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// Seconds one attempt may wait for the lock.
    pub lock_wait: u32,
    /// When to give up.
    pub deadline: Instant,
}

/// ` WAIT n` on MariaDB, nothing elsewhere.
pub fn wait_clause(server: &Server, secs: u32) -> String {
    if server.flavor == Flavor::MariaDB {
        format!(" WAIT {secs}")
    } else {
        String::new()
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

/// Runs `sql` until it gets its metadata locks within one bounded wait,
/// retrying until the deadline. Returns the number of attempts.
pub fn bounded(
    conn: &mut Conn,
    cancel: &Cancel,
    bound: Bound,
    what: &str,
    sql: &str,
) -> Result<u32> {
    conn.run(
        "session setup",
        &format!("SET SESSION lock_wait_timeout = {}", bound.lock_wait),
    )?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let start = Instant::now();
        match conn.run(what, sql) {
            Ok(()) => return Ok(attempts),
            Err(e) if matches!(e.kind, ErrorKind::LockWaitTimeout | ErrorKind::Deadlock) => {
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
                // Let the queued application statements through before the
                // next attempt.
                let pause = Duration::from_millis(500)
                    .min(bound.deadline.saturating_duration_since(Instant::now()));
                let until = Instant::now() + pause;
                while Instant::now() < until {
                    cancel.check()?;
                    std::thread::sleep(Duration::from_millis(50));
                }
                cancel.check()?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The atomic swap.
pub fn swap_sql(server: &Server, n: &Names, lock_wait: u32) -> String {
    rename_sql(n, &wait_clause(server, lock_wait), &n.old)
}

/// `RENAME TABLE t{wait} TO aside, shadow TO t`: every swap's statement.
fn rename_sql(n: &Names, wait: &str, aside: &str) -> String {
    format!(
        "RENAME TABLE {}{wait} TO {}, {} TO {}",
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
/// with it (`LOCK TABLES`, waiting at most `--cut-over-lock-wait`):
/// `None`, after saying who holds them (read on `conn`), when they are not
/// granted in time (the caller retries).
fn lock_for_swap(conn: &mut Conn, sw: &SwapCtx<'_>, tables: &[&str]) -> Result<Option<Conn>> {
    let lock_wait = sw.bound.lock_wait;
    let mut a = conn::connect(sw.spec, sw.opts)?;
    crate::copy::classic_locking_reads(&mut a);
    a.run(
        "session setup",
        &format!("SET SESSION lock_wait_timeout = {lock_wait}"),
    )?;
    let locks: Vec<String> = tables
        .iter()
        .map(|t| format!("{} WRITE", sw.n.q(t)))
        .collect();
    match a.run(
        "locking the table for the swap",
        &format!("LOCK TABLES {}", locks.join(", ")),
    ) {
        Ok(()) => Ok(Some(a)),
        Err(e) if matches!(e.kind, ErrorKind::LockWaitTimeout | ErrorKind::Deadlock) => {
            log::warn!(
                "swapping the tables: write lock not granted within {lock_wait}s; holders: {}; retrying",
                blockers(conn)
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
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
    let Some(mut a) = lock_for_swap(conn, sw, &[&n.table, &n.shadow])? else {
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
    let renamed = a.run("swapping the tables", &rename_sql(n, "", &n.old));
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
    let Some(mut a) = lock_for_swap(conn, sw, &[&n.table, &n.shadow, &n.del])? else {
        return Ok(false);
    };
    let rename = rename_sql(n, "", &n.del);
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
pub fn instant_sql(server: &Server, n: &Names, alter: &str, lock_wait: u32) -> String {
    format!(
        "ALTER TABLE {}{} {alter}, ALGORITHM=INSTANT",
        n.q(&n.table),
        wait_clause(server, lock_wait)
    )
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
        let n = Names::new("d", "t").expect("names");
        assert_eq!(
            swap_sql(&s, &n, 2),
            "RENAME TABLE `d`.`t` WAIT 2 TO `d`.`_t_old`, `d`.`_t_new` TO `d`.`t`"
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
        assert!(!instant_sql(&my, &n, "ADD COLUMN x INT", 1).contains("WAIT"));
    }
}
