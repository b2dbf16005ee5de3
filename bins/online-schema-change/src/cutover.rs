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

use crate::state::Names;
use anyhow::Result;
use oxkit::conn::{cell_text, Conn, ErrorKind};
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
    format!(
        "RENAME TABLE {}{} TO {}, {} TO {}",
        n.q(&n.table),
        wait_clause(server, lock_wait),
        n.q(&n.old),
        n.q(&n.shadow),
        n.q(&n.table)
    )
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
