//! Change capture from the binary log (`--method binlog`): no triggers on
//! the table.
//!
//! The [`oxkit::binlog::Reader`] starts at the position read before the
//! shadow table is created, so every change committed after that point is
//! seen. The binary log is used as a list of changed keys, collapsed per
//! key (a key changed a hundred times is applied once; an update that
//! moves a row marks both its old and its new key). Applying a set of keys
//! makes the shadow's rows for them equal to the original's *current*
//! rows, in one transaction:
//!
//! ```sql
//! DELETE FROM shadow WHERE key IN (...);
//! INSERT IGNORE INTO shadow (...) SELECT ... FROM t WHERE key IN (...) LOCK IN SHARE MODE;
//! ```
//!
//! rather than writing the logged row images: the shadow gets the rows
//! through the same `INSERT ... SELECT` conversion as the copy (no value
//! of any type is ever rebuilt from its binary log encoding, an ENUM whose
//! members the ALTER reorders keeps its text), and applying a key is
//! idempotent, so replaying a change twice (after `--resume`) is harmless.
//! The share lock reads the newest committed row: a writer's binary log
//! event can reach the reader before its InnoDB commit is visible, and the
//! lock waits for that commit instead of reading the older row. The cost is
//! one locking read per changed key and batch, on rows the application
//! just wrote (in the buffer pool); no trigger runs inside the
//! application's transactions.
//!
//! Never a deadlock with the application: a batch that waited for one row
//! lock while holding share locks on others could close a cycle with an
//! application transaction, and InnoDB then rolls back the lighter one,
//! the application's (a client error, seen in the bench). So where the
//! server has `SKIP LOCKED` (MariaDB 10.6, MySQL 8.0.1) a batch first takes
//! the share locks it can get without waiting (`LOCK IN SHARE MODE SKIP
//! LOCKED`, on MySQL `FOR SHARE SKIP LOCKED`), applies exactly those keys,
//! and commits; it never waits. Each key it skipped (a row another
//! transaction holds, or a key with no row) is then applied in a
//! transaction of its own, which may wait for that one row but holds
//! nothing the application could be waiting for (only the shadow's row,
//! which no application touches), so no cycle can form.
//!
//! Ordering with the copy (the race the trigger method closes with share
//! locks): the applier runs on the copy's session and thread, and they
//! alternate: copy a round of chunks (one, or `--threads` disjoint,
//! consecutive ones on as many sessions at once; the round ends when the
//! last of its statements has returned), then apply the keys read so far.
//! No apply overlaps a chunk statement, so for each chunk of a round,
//! whichever session ran it, the following holds as with one session. A
//! chunk's `INSERT IGNORE ... SELECT` reads the original at some instant
//! t0. A change committed before t0 is in what the chunk reads. A change
//! committed after t0 is applied after the chunk's insert: it cannot have
//! been applied before the chunk started, because applying it takes a
//! share lock on its row, which waits for its commit, which is after t0.
//! So every key changed after t0 is re-read after the chunk wrote it, and
//! the chunk's possibly older row (or a row deleted meanwhile) is replaced
//! (or deleted). INSERT IGNORE in the copy keeps a newer applied row that
//! is already there; the DELETE before the re-read makes the applied row
//! win over an older copied one. An apply overlapping a chunk would break
//! this: the application deletes a row the chunk has read but not yet
//! inserted, the applier deletes the key from the shadow (nothing there
//! yet), then the chunk inserts the deleted row, and nothing removes it
//! until the checksum. Hence rounds, not an applier running beside the
//! copy sessions.

use crate::copy::{check_warnings, retrying};
use crate::engine::Job;
use crate::names::Names;
use crate::plan::Plan;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use mysql::Value;
use oxkit::binlog::{master_position, Change, Item, Position, Reader};
use oxkit::conn::{db_error, Conn};
use oxkit::entry::Cancel;
use oxkit::schema::{Column, Table};
use oxkit::server::Server;
use oxkit::sql::{quote_binary, quote_ident, quote_value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Keys applied per statement.
const BATCH: usize = 500;

/// The shadow table a [`Capture`] keeps in sync, fixed for the run.
pub struct Shadow {
    /// The run's names; `shadow` is the table written.
    pub names: Names,
    /// The column mapping and the key.
    pub plan: Plan,
    /// `--allow-data-loss`: a warning while applying is not an error.
    pub allow_data_loss: bool,
}

/// The binary log reader and the keys it has seen that are not applied yet.
pub struct Capture {
    reader: Reader,
    /// Where the keys are applied.
    target: Shadow,
    /// 0-based positions of the key columns in the table, and the columns.
    key: Vec<(usize, Column)>,
    columns: usize,
    pending: BTreeSet<Vec<String>>,
    /// The end of the last transaction whose keys are all in `pending` or applied.
    seen: Position,
    /// The end of the last transaction whose keys are all applied: where a
    /// resumed run restarts reading.
    pub applied: Position,
    /// Changes read (before collapsing), for the report.
    pub changes: u64,
    /// Keys applied.
    pub keys_applied: u64,
    /// Keys applied one by one because `SKIP LOCKED` skipped them.
    pub keys_waited: u64,
    /// The server has `SKIP LOCKED` (see the module comment).
    pub skip_locked: bool,
    /// The server read from (the binary log position's statement).
    server: Server,
}

/// Runs `del` then `ins` (the shadow's rows deleted and read again from
/// the original) in one transaction, retried on deadlocks and lock wait
/// timeouts; returns the warnings count of `ins`.
fn delete_and_reread(conn: &mut Conn, cancel: &Cancel, del: &str, ins: &str) -> Result<u16> {
    retrying(conn, cancel, |c| {
        let label = c.label().to_string();
        let err =
            |e: mysql::Error| db_error(format_args!("applying captured changes on {label}"), &e);
        c.query_drop("START TRANSACTION").map_err(err)?;
        c.query_drop(del).map_err(err)?;
        c.query_drop(ins).map_err(err)?;
        let w = c.warnings();
        c.query_drop("COMMIT").map_err(err)?;
        Ok(w)
    })
}

fn is_integer(c: &Column) -> bool {
    c.kind() == oxkit::schema::ColumnKind::Integer
}

/// The SQL literal of a key value of column `c`, as the binary log gives it.
pub fn key_literal(c: &Column, v: &Value) -> String {
    match v {
        Value::Int(i) if *i < 0 && c.unsigned() && c.integer_bits().is_some() => {
            // Row events carry integers without their sign; the column says.
            let bits = c.integer_bits().unwrap_or(64);
            let u = if bits == 64 {
                *i as u64
            } else {
                (*i as i128 + (1i128 << bits)) as u64
            };
            u.to_string()
        }
        Value::Bytes(b) if c.is_binary() => quote_binary(b),
        Value::Bytes(b) => match c.charset.as_deref() {
            Some(cs) if !b.is_empty() && cs.chars().all(|x| x.is_ascii_alphanumeric()) => {
                let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
                format!("_{cs} X'{hex}'")
            }
            _ => quote_value(v),
        },
        _ => quote_value(v),
    }
}

impl Capture {
    /// Starts reading the changes of `job`'s table from `from`, to apply
    /// them to its shadow (the copy run's, or `--keep-old-table`'s old
    /// table).
    pub fn for_job(job: &Job<'_>, from: Position, allow_data_loss: bool) -> Result<Capture> {
        let n = job.n;
        let reader = Reader::start(
            job.spec,
            job.opts,
            job.server,
            &n.db,
            &n.table,
            from.clone(),
        )
        .with_context(|| format!("reading the binary log from {from}"))?;
        let target = Shadow {
            names: n.clone(),
            plan: job.plan.clone(),
            allow_data_loss,
        };
        Capture::start(reader, job.server, job.table, from, target)
    }

    /// Starts reading `table`'s changes from `from`, to apply them to `target`.
    fn start(
        reader: Reader,
        server: &Server,
        table: &Table,
        from: Position,
        target: Shadow,
    ) -> Result<Capture> {
        let cols: Vec<&Column> = table.columns.iter().collect();
        let key = target
            .plan
            .key
            .column_names()
            .iter()
            .map(|k| {
                cols.iter()
                    .position(|c| c.name.eq_ignore_ascii_case(k))
                    .map(|i| (i, cols[i].clone()))
                    .ok_or_else(|| anyhow::anyhow!("key column {k} not in the table"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Capture {
            reader,
            target,
            key,
            columns: cols.len(),
            pending: BTreeSet::new(),
            seen: from.clone(),
            applied: from,
            changes: 0,
            keys_applied: 0,
            keys_waited: 0,
            skip_locked: server.caps.skip_locked,
            server: server.clone(),
        })
    }

    fn key_of(&self, row: &[Value]) -> Result<Vec<String>> {
        if row.len() != self.columns {
            bail!(
                "a row event of the table has {} columns, the table {}: was the table altered during the run?",
                row.len(),
                self.columns
            );
        }
        Ok(self
            .key
            .iter()
            .map(|(i, c)| key_literal(c, &row[*i]))
            .collect())
    }

    /// Takes what the reader has queued, waiting at most `wait` for the first.
    fn collect(&mut self, wait: Duration) -> Result<()> {
        let mut w = wait;
        while let Some(item) = self.reader.next(w)? {
            w = Duration::ZERO;
            match item {
                Item::Rows(changes) => {
                    for ch in changes {
                        self.changes += 1;
                        match ch {
                            Change::Insert(r) | Change::Delete(r) => {
                                let k = self.key_of(&r)?;
                                self.pending.insert(k);
                            }
                            Change::Update(b, a) => {
                                let kb = self.key_of(&b)?;
                                let ka = self.key_of(&a)?;
                                self.pending.insert(kb);
                                self.pending.insert(ka);
                            }
                        }
                    }
                }
                Item::Commit(p) => self.seen = p,
            }
        }
        Ok(())
    }

    /// The shadow got another name (MariaDB's swap renames it first): the
    /// keys are applied there from now on.
    pub fn retarget(&mut self, shadow: &str) {
        self.target.names.shadow = shadow.to_string();
    }

    /// Applies every change read so far, in transactions.
    pub fn apply(&mut self, conn: &mut Conn, cancel: &Cancel) -> Result<u64> {
        self.apply_all(conn, cancel, false)
    }

    /// [`Capture::apply`]; `locked`: the session holds `LOCK TABLES` (no
    /// transactions then: START TRANSACTION would release the locks;
    /// nothing else can write the two tables anyway).
    fn apply_all(&mut self, conn: &mut Conn, cancel: &Cancel, locked: bool) -> Result<u64> {
        self.collect(Duration::ZERO)?;
        let upto = self.seen.clone();
        let keys: Vec<Vec<String>> = std::mem::take(&mut self.pending).into_iter().collect();
        match self.apply_keys(conn, cancel, locked, &keys) {
            Ok(()) => {
                self.applied = upto;
                Ok(keys.len() as u64)
            }
            Err(e) => {
                // Not applied: kept for the next time.
                self.pending.extend(keys);
                Err(e)
            }
        }
    }

    fn apply_keys(
        &mut self,
        conn: &mut Conn,
        cancel: &Cancel,
        locked: bool,
        keys: &[Vec<String>],
    ) -> Result<()> {
        if keys.len() > BATCH {
            // Every key's row leaves the shadow before any is read again:
            // a row that took a unique value from another (a key update
            // moves the value from the old key to the new one) would
            // otherwise be dropped by INSERT IGNORE as a duplicate when
            // its batch comes before the batch that deletes the value's
            // old holder (seen in the revert test: a moved row lost). A
            // batch deletes all its own keys before reading any.
            for batch in keys.chunks(BATCH) {
                cancel.check()?;
                let del = self.reread_sql(batch).0;
                if locked {
                    conn.run("applying captured changes", &del)?;
                } else {
                    retrying(conn, cancel, |c| c.run("applying captured changes", &del))?;
                }
            }
        }
        let mut warned = false;
        for batch in keys.chunks(BATCH) {
            cancel.check()?;
            let (del, ins) = self.reread_sql(batch);
            let warnings = if locked {
                conn.run("applying captured changes", &del)?;
                conn.run("applying captured changes", &ins)?;
                conn.warnings()
            } else if self.skip_locked {
                self.apply_without_waiting(conn, cancel, batch)?
            } else {
                delete_and_reread(conn, cancel, &del, &ins)?
            };
            if warnings > 0 && !self.target.allow_data_loss && !warned {
                warned = true;
                check_warnings(conn)?;
            }
            self.keys_applied += batch.len() as u64;
        }
        Ok(())
    }

    /// Applies `batch` without ever waiting for a row lock while holding
    /// another (see the module comment); returns the warnings count.
    fn apply_without_waiting(
        &mut self,
        conn: &mut Conn,
        cancel: &Cancel,
        batch: &[Vec<String>],
    ) -> Result<u16> {
        let n = &self.target.names;
        let cond = self.key_cond(batch);
        // MySQL takes SKIP LOCKED only after `FOR SHARE` (8.0.1+), MariaDB
        // only after `LOCK IN SHARE MODE` (10.6+).
        let share = if self.server.flavor == oxkit::server::Flavor::MariaDB {
            "LOCK IN SHARE MODE"
        } else {
            "FOR SHARE"
        };
        let probe = format!(
            "SELECT {} FROM {} WHERE {cond} {share} SKIP LOCKED",
            self.key_select(),
            n.q(&n.table)
        );
        let del = format!("DELETE FROM {} WHERE {cond}", n.q(&n.shadow));
        let (mut warnings, got) = retrying(conn, cancel, |c| {
            let label = c.label().to_string();
            let err = |e: mysql::Error| {
                db_error(format_args!("applying captured changes on {label}"), &e)
            };
            c.query_drop("START TRANSACTION").map_err(err)?;
            let rows: Vec<mysql::Row> = c.query(&probe).map_err(err)?;
            let got: Vec<Vec<String>> = rows.into_iter().map(|r| self.row_key(r)).collect();
            c.query_drop(&del).map_err(err)?;
            let mut w = 0;
            if !got.is_empty() {
                // Rows this transaction holds share locks on: no wait.
                let ins = self.reread_sql(&got).1;
                c.query_drop(&ins).map_err(err)?;
                w = c.warnings();
            }
            c.query_drop("COMMIT").map_err(err)?;
            Ok((w, got))
        })?;
        let got: BTreeSet<Vec<String>> = got.into_iter().collect();
        for k in batch.iter().filter(|k| !got.contains(*k)) {
            cancel.check()?;
            let (del, ins) = self.reread_sql(std::slice::from_ref(k));
            warnings += delete_and_reread(conn, cancel, &del, &ins)?;
            self.keys_waited += 1;
        }
        Ok(warnings)
    }

    /// The `DELETE` of `keys` from the shadow and the `INSERT ... SELECT`
    /// that reads them again from the original (under share locks).
    fn reread_sql(&self, keys: &[Vec<String>]) -> (String, String) {
        let Shadow { names: n, plan, .. } = &self.target;
        let cond = self.key_cond(keys);
        (
            format!("DELETE FROM {} WHERE {cond}", n.q(&n.shadow)),
            crate::copy::copy_sql(n, plan, &cond, true),
        )
    }

    /// The key columns as the probe selects them: character columns as
    /// their bytes, so [`Capture::row_key`] spells them as the binary log
    /// reader does (`_charset X'..'`).
    fn key_select(&self) -> String {
        self.key
            .iter()
            .map(|(_, c)| {
                let q = quote_ident(&c.name);
                if c.charset.is_some() && !c.is_binary() {
                    format!("CAST({q} AS BINARY)")
                } else {
                    q
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The key of a probe row, spelled as [`key_literal`] spells the binary
    /// log's. A type spelled differently (a date, a decimal) only sends its
    /// keys down the one-by-one path, which is correct, just slower.
    fn row_key(&self, row: mysql::Row) -> Vec<String> {
        row.unwrap()
            .into_iter()
            .zip(&self.key)
            .map(|(v, (_, c))| match &v {
                Value::Bytes(b) if is_integer(c) => String::from_utf8_lossy(b).into_owned(),
                _ => key_literal(c, &v),
            })
            .collect()
    }

    fn key_cond(&self, batch: &[Vec<String>]) -> String {
        let names = self.target.plan.key.column_names();
        if names.len() == 1 {
            let vals: Vec<&str> = batch.iter().map(|k| k[0].as_str()).collect();
            format!("{} IN ({})", quote_ident(names[0]), vals.join(", "))
        } else {
            let cols: Vec<String> = names.iter().map(|c| quote_ident(c)).collect();
            let tuples: Vec<String> = batch
                .iter()
                .map(|k| format!("({})", k.join(", ")))
                .collect();
            format!("({}) IN ({})", cols.join(", "), tuples.join(", "))
        }
    }

    /// Reads the server's binary log position and applies on `conn`
    /// everything up to it (bounded by `deadline`). `locked`: as
    /// for [`Capture::apply_all`].
    pub fn catch_up(
        &mut self,
        conn: &mut Conn,
        cancel: &Cancel,
        locked: bool,
        deadline: Instant,
    ) -> Result<Position> {
        let target = master_position(conn, &self.server)?;
        self.reader.wait_received(&target, deadline)?;
        self.apply_all(conn, cancel, locked)?;
        Ok(target)
    }

    /// Catches up with the server's binary log position until a pass
    /// applies few keys (at most 5 passes): a change can then land
    /// unapplied before the next snapshot only during one short pass, not
    /// during a long one (under load the first pass applies what came in
    /// during the previous compare).
    pub fn settle(&mut self, conn: &mut Conn, cancel: &Cancel) -> Result<()> {
        for _ in 0..5 {
            let before = self.keys_applied;
            let deadline = Instant::now() + Duration::from_secs(60);
            self.catch_up(conn, cancel, false, deadline)?;
            if self.keys_applied - before < 50 {
                break;
            }
        }
        Ok(())
    }

    /// `(count, checksum)` of the rows of `cond` in the original and the
    /// shadow, exact although the capture lags: in one REPEATABLE READ
    /// transaction the original's range is read with share (next-key)
    /// locks, so no write to it can commit any more; every write that did
    /// is in the binary log before the position read next; the capture
    /// applies up to it inside the same transaction (no transaction
    /// statements, which would release the locks), and only then is the
    /// shadow's range read. Retried on deadlocks and lock wait timeouts.
    pub fn compare_exact(
        &mut self,
        conn: &mut Conn,
        cancel: &Cancel,
        cond: &str,
    ) -> Result<((u64, String), (u64, String))> {
        let (q_old, q_new) =
            crate::copy::checksum_queries(&self.target.names, &self.target.plan, cond);
        let q_old = format!("{q_old} LOCK IN SHARE MODE");
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let r = (|| -> Result<((u64, String), (u64, String))> {
                conn.run(
                    "checksumming a chunk",
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                )?;
                conn.run("checksumming a chunk", "START TRANSACTION")?;
                let a: Option<(u64, String)> = conn.row("checksumming a chunk", &q_old)?;
                self.catch_up(conn, cancel, true, Instant::now() + Duration::from_secs(60))?;
                let b: Option<(u64, String)> = conn.row("checksumming a chunk", &q_new)?;
                conn.run("checksumming a chunk", "COMMIT")?;
                Ok((a.unwrap_or_default(), b.unwrap_or_default()))
            })();
            match r {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let _ = conn.query_drop("ROLLBACK");
                    let retry = oxkit::conn::error_kind(&e).is_some_and(|k| k.is_retryable());
                    if !retry || attempt >= 10 {
                        return Err(e);
                    }
                    log::info!("retrying after: {e:#}");
                    cancel.check()?;
                    std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
                }
            }
        }
    }

    /// Stops the reader.
    pub fn stop(self) {
        self.reader.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_literals() {
        let mut u = Column::plain("id", "int", false);
        u.column_type = "int(10) unsigned".into();
        assert_eq!(key_literal(&u, &Value::Int(-1)), "4294967295");
        assert_eq!(key_literal(&u, &Value::Int(7)), "7");
        let mut s = Column::plain("s", "varchar", false);
        s.charset = Some("latin1".into());
        assert_eq!(
            key_literal(&s, &Value::Bytes(vec![0x63, 0xe9])),
            "_latin1 X'63E9'"
        );
        let b = Column::plain("b", "varbinary", false);
        assert_eq!(key_literal(&b, &Value::Bytes(vec![0])), "_binary X'00'");
    }
}
