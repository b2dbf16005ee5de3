//! The replicate method, compatible with pt-table-checksum: each chunk's
//! checksum is written on the primary with `REPLACE INTO <checksum table>
//! ... SELECT` in a statement-format session, every replica re-executes the
//! statement against its own rows, and the primary's own result is stored
//! next to it (`source_crc`/`source_cnt`, or `master_*` in older tables:
//! see `oxkit::checksum::ReplicateTable`) by a second statement. A replica
//! whose `this_*` differs from those differs from the primary.
//!
//! The checksum table has Percona's schema, so `pt-table-sync --replicate`
//! and existing monitoring queries read it. Boundaries are stored the way
//! Percona stores them: key values joined by commas.

use crate::plan::TablePlan;
use anyhow::Result;
use oxkit::checksum::ReplicateTable;
use oxkit::conn::{Conn, DbError};
use oxkit::nibble::{Bound, Chunk, ChunkKey, KeyValue};
use oxkit::sql::quote_str;

/// Sets a primary session up for the method: statement-format binary log
/// (so replicas recompute), REPEATABLE READ (InnoDB refuses statement
/// logging under READ COMMITTED), and a 1-second row lock wait: `INSERT ...
/// SELECT` takes shared locks on the rows it reads, so a chunk that meets
/// the application's locks gives way (and is retried) instead of holding
/// the application up.
pub fn session_setup(conn: &mut Conn) -> Result<(), DbError> {
    conn.run(
        "switching the session to statement-format binary logging",
        "SET SESSION binlog_format = 'STATEMENT'; \
         SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
         SET SESSION innodb_lock_wait_timeout = 1",
    )
}

fn key_where(plan: &TablePlan, chunk_no: u32) -> String {
    format!(
        "db = {} AND tbl = {} AND chunk = {chunk_no}",
        quote_str(&plan.table.db),
        quote_str(&plan.table.name)
    )
}

fn boundary(key: Option<&ChunkKey>, v: &Bound) -> String {
    match (key, v.value()) {
        (Some(k), Some(v)) => quote_str(&k.to_text(v)),
        _ => "NULL".to_string(),
    }
}

/// Checksums one chunk through replication; returns the primary's
/// `(count, crc)`.
pub fn checksum_chunk(
    conn: &mut Conn,
    rt: &ReplicateTable,
    plan: &TablePlan,
    key: Option<&ChunkKey>,
    chunk: &Chunk,
    force: &str,
    cond: &str,
) -> Result<(u64, String), DbError> {
    let sql = format!(
        "REPLACE INTO {rt} (db, tbl, chunk, chunk_index, lower_boundary, upper_boundary, this_cnt, this_crc) \
         SELECT {db}, {tbl}, {n}, {idx}, {lb}, {ub}, {sel} FROM {t} {force} WHERE {cond}",
        db = quote_str(&plan.table.db),
        tbl = quote_str(&plan.table.name),
        n = chunk.number,
        idx = key.map(|k| quote_str(&k.index)).unwrap_or_else(|| "NULL".into()),
        lb = boundary(key, &chunk.lower),
        ub = boundary(key, &chunk.upper),
        sel = plan.checksum.select,
        t = plan.checksum.table_sql,
    );
    conn.run("checksumming a chunk", &sql)?;
    let w = key_where(plan, chunk.number);
    let r: Option<(String, u64)> = conn.row(
        "reading the chunk checksum",
        &format!("SELECT this_crc, this_cnt FROM {rt} WHERE {w}"),
    )?;
    let (crc, cnt) = r.unwrap_or_default();
    Ok((cnt, crc))
}

/// Stores the primary's result and the chunk's time (replicates to the
/// replicas' `source_*` or `master_*` columns).
pub fn record_master(
    conn: &mut Conn,
    rt: &ReplicateTable,
    plan: &TablePlan,
    chunk_no: u32,
    cnt: u64,
    crc: &str,
    secs: f64,
) -> Result<(), DbError> {
    conn.run(
        "recording the primary's checksum",
        &format!(
            "UPDATE {rt} SET chunk_time = {secs:.6}, {} = {}, {} = {cnt} WHERE {}",
            rt.source_crc,
            quote_str(crc),
            rt.source_cnt,
            key_where(plan, chunk_no)
        ),
    )
}

/// Where a resumed table continues.
pub enum Resume {
    /// Nothing usable recorded: start over.
    Fresh,
    /// Every chunk was done in the previous run.
    Done,
    /// Continue after this chunk, which ended at this key; true when it
    /// was the chunk below the first key (its end is exclusive).
    After(u32, KeyValue, bool),
}

/// Prepares the checksum table for `plan`: without `resume`, deletes its
/// old rows; with it, finds where the previous run stopped and deletes the
/// unfinished chunks after that point.
pub fn begin_table(
    conn: &mut Conn,
    rt: &ReplicateTable,
    plan: &TablePlan,
    key: Option<&ChunkKey>,
    resume: bool,
) -> Result<Resume> {
    let tw = format!(
        "db = {} AND tbl = {}",
        quote_str(&plan.table.db),
        quote_str(&plan.table.name)
    );
    let mut state = Resume::Fresh;
    if resume {
        type Last = (u32, Option<String>, Option<String>, Option<String>);
        let last: Option<Last> = conn.row(
            "reading the previous run",
            &format!(
                "SELECT chunk, chunk_index, lower_boundary, upper_boundary FROM {rt} \
                 WHERE {tw} AND {} IS NOT NULL ORDER BY chunk DESC LIMIT 1",
                rt.source_crc
            ),
        )?;
        if let Some((n, idx, lower, upper)) = last {
            let same_key = idx.as_deref() == key.map(|k| k.index.as_str());
            state = match (same_key, upper, key) {
                (true, None, _) => Resume::Done,
                (true, Some(u), Some(k)) => match k.parse_text(&u) {
                    Some(v) => Resume::After(n, v, lower.is_none()),
                    None => Resume::Fresh,
                },
                _ => Resume::Fresh,
            };
        }
    }
    match &state {
        Resume::Fresh => conn.run(
            "clearing old checksums",
            &format!("DELETE FROM {rt} WHERE {tw}"),
        )?,
        Resume::After(n, ..) => conn.run(
            "clearing unfinished checksums",
            &format!("DELETE FROM {rt} WHERE {tw} AND chunk > {n}"),
        )?,
        Resume::Done => {}
    }
    Ok(state)
}

/// A chunk that differs on one replica, as the checksum table says: one
/// row of [`replica_diffs`]' query, read by column name.
#[derive(mysql::prelude::FromRow)]
pub struct StoredDiff {
    pub db: String,
    #[mysql(rename = "tbl")]
    pub table: String,
    pub chunk: u32,
    #[mysql(rename = "chunk_index")]
    pub index: Option<String>,
    #[mysql(rename = "lower_boundary")]
    pub lower: Option<String>,
    #[mysql(rename = "upper_boundary")]
    pub upper: Option<String>,
    pub this_cnt: u64,
    pub master_cnt: Option<u64>,
    pub this_crc: String,
    pub master_crc: Option<String>,
}

/// Differing chunks of the `tables` (schema, name) on a replica, in one
/// read.
pub fn replica_diffs(
    conn: &mut Conn,
    rt: &ReplicateTable,
    tables: &[(String, String)],
) -> Result<Vec<StoredDiff>, DbError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let which: Vec<String> = tables
        .iter()
        .map(|(db, t)| format!("(db = {} AND tbl = {})", quote_str(db), quote_str(t)))
        .collect();
    conn.rows(
        "reading differing chunks",
        &format!(
            "SELECT db, tbl, chunk, chunk_index, lower_boundary, upper_boundary, this_cnt, \
             {} AS master_cnt, this_crc, {} AS master_crc \
             FROM {rt} WHERE ({}) AND {} ORDER BY db, tbl, chunk",
            rt.source_cnt,
            rt.source_crc,
            which.join(" OR "),
            rt.differs()
        ),
    )
}

/// Rows and chunks recorded for `plan`'s table on the primary (whole run,
/// resumed part included).
pub fn totals(
    conn: &mut Conn,
    rt: &ReplicateTable,
    plan: &TablePlan,
) -> Result<(u64, u64), DbError> {
    let r: Option<(Option<u64>, u64)> = conn.row(
        "totalling checksums",
        &format!(
            "SELECT SUM({}), COUNT(*) FROM {rt} WHERE db = {} AND tbl = {}",
            rt.source_cnt,
            quote_str(&plan.table.db),
            quote_str(&plan.table.name)
        ),
    )?;
    Ok(r.map(|(a, b)| (a.unwrap_or(0), b)).unwrap_or((0, 0)))
}
