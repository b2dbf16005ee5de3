//! Change capture by triggers, the chunked copy, and the checksum of the
//! original against the shadow.
//!
//! Invariant: once the triggers exist, every committed change to the
//! original is in the shadow in the same transaction, so the shadow can
//! only lag the original by rows the copy has not reached yet. The copy
//! walks the key in chunks with `INSERT IGNORE ... SELECT`: IGNORE keeps a
//! newer row a trigger already wrote.
//!
//! Locking: by default the copy session reads the original with READ
//! COMMITTED consistent reads (binary log format ROW for the session), so
//! it takes no locks on the original at all and never makes the
//! application wait or deadlock on the original's rows. The price is one
//! race: a row the application deletes (or moves by a key update) after
//! the copy statement read it and before it inserted it comes back in the
//! shadow. The checksum pass ([`compare_chunk`]) finds such chunks, and
//! [`recopy_chunk`] copies them again under share locks (REPEATABLE READ,
//! `LOCK IN SHARE MODE`), which close the race; after the copy the
//! checksum pass is authoritative because nothing writes the shadow
//! without the triggers' locks any more. When the session cannot use row
//! format (no privilege to set it while the server logs statements), the
//! copy itself uses `LOCK IN SHARE MODE` as pt-online-schema-change does:
//! a concurrent DELETE then waits until the copy has inserted the row, so
//! the trigger's DELETE removes it again.

use crate::names::Names;
use crate::plan::Plan;
use anyhow::{bail, Result};
use mysql::prelude::Queryable;
use oxkit::checksum::{aggregate, row_string, RowOptions};
use oxkit::conn::{db_error, Conn, DbError};
use oxkit::entry::Cancel;
use oxkit::schema::{Column, ColumnKind};
use oxkit::sql::{quote_ident, quote_idents};
use std::time::Duration;

/// Quoted new-side column list.
fn new_cols(plan: &Plan) -> String {
    let v: Vec<&str> = plan.pairs.iter().map(|(_, n)| n.name.as_str()).collect();
    quote_idents(&v)
}

/// Quoted old-side column list, each prefixed (`NEW.`) when asked.
fn old_cols(plan: &Plan, prefix: &str) -> String {
    plan.pairs
        .iter()
        .map(|(o, _)| format!("{prefix}{}", quote_ident(&o.name)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The three `CREATE TRIGGER` statements.
pub fn trigger_sql(n: &Names, plan: &Plan) -> [String; 3] {
    let (orig, shadow) = (n.q(&n.table), n.q(&n.shadow));
    let key = plan.key.column_names();
    let replace = format!(
        "REPLACE INTO {shadow} ({}) VALUES ({})",
        new_cols(plan),
        old_cols(plan, "NEW.")
    );
    let matches = |side: &str| -> String {
        key.iter()
            .map(|k| {
                let q = quote_ident(k);
                format!("{shadow}.{q} <=> {side}.{q}")
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let unchanged = key
        .iter()
        .map(|k| {
            let q = quote_ident(k);
            format!("OLD.{q} <=> NEW.{q}")
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    let name = |i: usize| n.q(&n.triggers[i]);
    [
        format!(
            "CREATE TRIGGER {} AFTER INSERT ON {orig} FOR EACH ROW {replace}",
            name(0)
        ),
        format!(
            "CREATE TRIGGER {} AFTER UPDATE ON {orig} FOR EACH ROW BEGIN \
             DELETE IGNORE FROM {shadow} WHERE NOT ({unchanged}) AND {}; {replace}; END",
            name(1),
            matches("OLD")
        ),
        format!(
            "CREATE TRIGGER {} AFTER DELETE ON {orig} FOR EACH ROW DELETE IGNORE FROM {shadow} WHERE {}",
            name(2),
            matches("OLD")
        ),
    ]
}

/// `INSERT IGNORE INTO shadow (...) SELECT ... FROM orig WHERE cond`,
/// with `LOCK IN SHARE MODE` when `locking`.
pub fn copy_sql(n: &Names, plan: &Plan, cond: &str, locking: bool) -> String {
    format!(
        "INSERT IGNORE INTO {} ({}) SELECT {} FROM {} FORCE INDEX ({}) WHERE {cond}{}",
        n.q(&n.shadow),
        new_cols(plan),
        old_cols(plan, ""),
        n.q(&n.table),
        quote_ident(&plan.key.name),
        if locking { " LOCK IN SHARE MODE" } else { "" }
    )
}

/// Turns MariaDB 11.6+'s `innodb_snapshot_isolation` (on by default there)
/// off for one of the tool's sessions: the copy, the capture and the
/// checksum are built on InnoDB's classic locking reads, which read the
/// newest committed row, where snapshot isolation fails a locking read of
/// a row changed since the transaction's snapshot (error 1020). A server
/// without the variable (MySQL, older MariaDB) has the classic reads.
pub fn classic_locking_reads(conn: &mut Conn) {
    let _ = conn.run(
        "session setup",
        "SET SESSION innodb_snapshot_isolation = OFF",
    );
}

/// Sets the copy session up for lock-free reads (READ COMMITTED, row
/// format); returns false when it has to copy with share locks instead.
pub fn lock_free_session(conn: &mut Conn) -> bool {
    // READ COMMITTED INSERT ... SELECT is only allowed with row-based
    // logging; MIXED switches to rows by itself.
    let _ = conn.run("session setup", "SET SESSION binlog_format = 'ROW'");
    let fmt: Option<(String, i64)> = conn
        .row(
            "session setup",
            "SELECT @@SESSION.binlog_format, @@GLOBAL.log_bin",
        )
        .ok()
        .flatten();
    let ok = matches!(&fmt, Some((f, log_bin)) if *log_bin == 0 || f.eq_ignore_ascii_case("ROW") || f.eq_ignore_ascii_case("MIXED"));
    ok && conn
        .run(
            "session setup",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        )
        .is_ok()
}

/// Runs `f` again on deadlocks and lock wait timeouts (up to 10 tries),
/// rolling back between tries.
pub fn retrying<T>(
    conn: &mut Conn,
    cancel: &Cancel,
    mut f: impl FnMut(&mut Conn) -> Result<T, DbError>,
) -> Result<T> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match f(conn) {
            Ok(v) => return Ok(v),
            Err(e) if e.kind.is_retryable() && attempt < 10 => {
                let _ = conn.query_drop("ROLLBACK");
                log::info!("retrying after: {e}");
                cancel.check()?;
                std::thread::sleep(Duration::from_millis(50 * u64::from(attempt)));
            }
            Err(e) => {
                let _ = conn.query_drop("ROLLBACK");
                return Err(e.into());
            }
        }
    }
}

/// Copies the rows of `cond`; returns the rows inserted. Warnings other
/// than duplicates (data the new definition changes) fail unless allowed.
pub fn copy_chunk(
    conn: &mut Conn,
    cancel: &Cancel,
    n: &Names,
    plan: &Plan,
    cond: &str,
    allow_data_loss: bool,
    locking: bool,
) -> Result<u64> {
    let sql = copy_sql(n, plan, cond, locking);
    let (rows, warnings) = retrying(conn, cancel, |c| {
        let label = c.label().to_string();
        c.query_drop(&sql)
            .map_err(|e| db_error(format_args!("copying rows on {label}"), &e))?;
        Ok((c.affected_rows(), c.warnings()))
    })?;
    if warnings > 0 && !allow_data_loss {
        check_warnings(conn)?;
    }
    Ok(rows)
}

/// Fails on a warning other than a duplicate key (data the new definition changes).
pub fn check_warnings(conn: &mut Conn) -> Result<()> {
    let w: Vec<(String, u32, String)> = conn.rows("reading warnings", "SHOW WARNINGS LIMIT 10")?;
    if let Some((_, code, msg)) = w.iter().find(|(_, code, _)| *code != 1062) {
        bail!(
            "copying a row changes its data ({code}: {msg}): the ALTER narrows or converts a column \
             so that a value cannot be kept; fix the data or pass --allow-data-loss"
        );
    }
    Ok(())
}

/// How the checksum hashes a column: mirrors `oxkit::checksum`'s kinds.
fn kind(c: &Column) -> (&'static str, Option<&str>) {
    match c.kind() {
        ColumnKind::Text | ColumnKind::Json => ("text", c.charset.as_deref()),
        ColumnKind::Float => ("float", None),
        ColumnKind::Binary | ColumnKind::Bit => ("binary", None),
        ColumnKind::Spatial => ("spatial", None),
        ColumnKind::Integer | ColumnKind::Decimal | ColumnKind::Other => ("other", None),
    }
}

/// `COUNT(*) AS cnt, ... AS crc` over the common columns, for the old side
/// (`new == false`) or the new. Columns hashed the same way on both sides
/// use the shared row hash; a column whose kind or character set changed
/// is compared as its utf8mb4 text, which both sides can produce.
pub fn checksum_select(plan: &Plan, new: bool) -> String {
    let (same, converted): (Vec<_>, Vec<_>) =
        plan.pairs.iter().partition(|(o, n)| kind(o) == kind(n));
    let side = |p: &(Column, Column)| if new { p.1.clone() } else { p.0.clone() };
    let same_cols: Vec<Column> = same.iter().map(|p| side(p)).collect();
    let refs: Vec<(&Column, Option<u32>)> = same_cols.iter().map(|c| (c, None)).collect();
    let mut row = row_string(&refs, &RowOptions::default());
    if !converted.is_empty() {
        let mut parts = vec![row];
        for p in &converted {
            let q = quote_ident(&side(p).name);
            parts.push(format!("CAST(CONVERT({q} USING utf8mb4) AS BINARY)"));
            parts.push(format!("ISNULL({q})"));
        }
        row = format!("CONCAT_WS('#', {})", parts.join(", "));
    }
    aggregate(plan.hash, &row, true)
}

/// The checksum queries of the rows of `cond`: original, shadow.
pub fn checksum_queries(n: &Names, plan: &Plan, cond: &str) -> (String, String) {
    let q_old = format!(
        "SELECT {} FROM {} FORCE INDEX ({}) WHERE {cond}",
        checksum_select(plan, false),
        n.q(&n.table),
        quote_ident(&plan.key.name)
    );
    let q_new = format!(
        "SELECT {} FROM {} WHERE {cond}",
        checksum_select(plan, true),
        n.q(&n.shadow)
    );
    (q_old, q_new)
}

/// `(count, checksum)` of the rows of `cond` on both sides, read in one
/// consistent snapshot.
pub fn compare_chunk(
    conn: &mut Conn,
    cancel: &Cancel,
    n: &Names,
    plan: &Plan,
    cond: &str,
) -> Result<((u64, String), (u64, String))> {
    let (q_old, q_new) = checksum_queries(n, plan, cond);
    retrying(conn, cancel, |c| {
        let label = c.label().to_string();
        let err = |e: mysql::Error| db_error(format_args!("checksumming a chunk on {label}"), &e);
        // One snapshot for both reads: REPEATABLE READ whatever the
        // session's level (READ COMMITTED would take one per statement).
        c.query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .map_err(err)?;
        c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            .map_err(err)?;
        let a: Option<(u64, String)> = c.query_first(&q_old).map_err(err)?;
        let b: Option<(u64, String)> = c.query_first(&q_new).map_err(err)?;
        c.query_drop("COMMIT").map_err(err)?;
        Ok((a.unwrap_or_default(), b.unwrap_or_default()))
    })
}

/// Copies the rows of `cond` again: the shadow's range is deleted and
/// refilled in one transaction, with the original's rows share-locked
/// first so triggers cannot interleave.
pub fn recopy_chunk(
    conn: &mut Conn,
    cancel: &Cancel,
    n: &Names,
    plan: &Plan,
    cond: &str,
) -> Result<()> {
    let lock = format!(
        "SELECT COUNT(*) FROM {} FORCE INDEX ({}) WHERE {cond} LOCK IN SHARE MODE",
        n.q(&n.table),
        quote_ident(&plan.key.name)
    );
    let del = format!("DELETE FROM {} WHERE {cond}", n.q(&n.shadow));
    let ins = copy_sql(n, plan, cond, true);
    retrying(conn, cancel, |c| {
        let label = c.label().to_string();
        let err = |e: mysql::Error| db_error(format_args!("copying a chunk again on {label}"), &e);
        // Share locks on the range (next-key locks: REPEATABLE READ) keep
        // the application's writes out until the range is refilled.
        c.query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .map_err(err)?;
        c.query_drop("START TRANSACTION").map_err(err)?;
        let _: Option<u64> = c.query_first(&lock).map_err(err)?;
        c.query_drop(&del).map_err(err)?;
        c.query_drop(&ins).map_err(err)?;
        c.query_drop("COMMIT").map_err(err)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxkit::schema::{Index, IndexColumn};

    fn plan() -> Plan {
        let id = Column::plain("id", "int", false);
        let mut v = Column::plain("v", "varchar", true);
        v.charset = Some("latin1".into());
        let mut v2 = v.clone();
        v2.charset = Some("utf8mb4".into());
        let key = Index {
            name: "PRIMARY".into(),
            unique: true,
            primary: true,
            columns: vec![IndexColumn {
                name: "id".into(),
                sub_part: None,
            }],
            kind: oxkit::schema::IndexKind::Btree,
            nullable: false,
        };
        Plan {
            hash: oxkit::checksum::Function::Sha1,
            instant: false,
            nocopy: false,
            key,
            pairs: vec![(id.clone(), id), (v, v2)],
            guards: vec![],
            changed: vec![],
            children: vec![],
            user_triggers: vec![],
            new_table: oxkit::schema::Table {
                db: "d".into(),
                name: "t".into(),
                engine: Some("InnoDB".into()),
                kind: oxkit::schema::TableKind::Base,
                row_estimate: 0,
                data_length: 0,
                index_length: 0,
                collation: None,
                create_options: String::new(),
                columns: vec![],
                indexes: vec![],
                foreign_keys: vec![],
                referenced_by: vec![],
                triggers: vec![],
            },
        }
    }

    #[test]
    fn triggers_handle_key_updates() {
        let n = Names::new("d", "t").expect("names");
        let [ins, upd, del] = trigger_sql(&n, &plan());
        assert_eq!(
            ins,
            "CREATE TRIGGER `d`.`osc_t_ins` AFTER INSERT ON `d`.`t` FOR EACH ROW REPLACE INTO `d`.`_t_new` (`id`, `v`) VALUES (NEW.`id`, NEW.`v`)"
        );
        assert!(upd.contains("DELETE IGNORE FROM `d`.`_t_new` WHERE NOT (OLD.`id` <=> NEW.`id`) AND `d`.`_t_new`.`id` <=> OLD.`id`; REPLACE INTO"), "{upd}");
        assert!(
            del.ends_with("DELETE IGNORE FROM `d`.`_t_new` WHERE `d`.`_t_new`.`id` <=> OLD.`id`"),
            "{del}"
        );
    }

    #[test]
    fn converted_columns_hash_as_text() {
        let p = plan();
        let old = checksum_select(&p, false);
        let new = checksum_select(&p, true);
        assert_eq!(old, new);
        assert!(
            old.contains("CAST(CONVERT(`v` USING utf8mb4) AS BINARY)"),
            "{old}"
        );
        assert!(copy_sql(&Names::new("d", "t").expect("n"), &p, "1=1", true)
            .contains("LOCK IN SHARE MODE"));
    }
}
