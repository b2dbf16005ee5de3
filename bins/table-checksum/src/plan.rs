//! Which tables to checksum and how: walked by an index in chunks, read
//! whole (no usable index, small enough), or skipped with a reason.

use crate::Config;
use anyhow::{Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::checksum::{Function, TableChecksum};
use oxkit::conn::Conn;
use oxkit::nibble::{chunk_index, ChunkKey};
use oxkit::schema::{load_tables, Table, SYSTEM_SCHEMAS};
use oxkit::sql::quote_table;

/// How a table is read.
#[derive(Debug)]
pub enum Walk {
    /// In chunks over this key.
    Chunked(ChunkKey),
    /// In one chunk (no usable index, few rows).
    Whole,
    /// Not at all, for this reason (exit flag 64).
    Skip(String),
}

/// One table's plan.
#[derive(Debug)]
pub struct TablePlan {
    /// Its metadata on the primary.
    pub table: Table,
    /// How it is read.
    pub walk: Walk,
    /// The checksum query builder.
    pub checksum: TableChecksum,
}

/// Lists the selected tables on the primary and plans each.
/// `function` is `--function` as the primary can run it.
pub fn plan_tables(conn: &mut Conn, cfg: &Config, function: Function) -> Result<Vec<TablePlan>> {
    // One schema at a time, named by equality: the server then opens only
    // that schema's tables (see oxkit::schema::load_table).
    let schemas: Vec<String> = conn.rows(
        "listing schemas",
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
    )?;
    let mut rows: Vec<(String, String, Option<String>)> = Vec::new();
    for db in schemas
        .iter()
        .filter(|d| !SYSTEM_SCHEMAS.contains(&d.as_str()))
    {
        let tables: Vec<(String, Option<String>)> = conn
            .exec(
                "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
             ORDER BY TABLE_NAME",
                (db.as_str(),),
            )
            .with_context(|| format!("listing tables of {db}"))?;
        rows.extend(tables.into_iter().map(|(t, e)| (db.clone(), t, e)));
    }
    let (rdb, rtbl) = (&cfg.replicate_table.db, &cfg.replicate_table.table);
    let mut selected: Vec<(String, Vec<String>)> = Vec::new();
    for (db, name, engine) in rows {
        if SYSTEM_SCHEMAS.contains(&db.as_str())
            || (&db == rdb && &name == rtbl)
            || !cfg.filter.selects(&db, &name, engine.as_deref())
        {
            continue;
        }
        match selected.last_mut().filter(|(d, _)| *d == db) {
            Some((_, names)) => names.push(name),
            None => selected.push((db, vec![name])),
        }
    }
    let mut out = Vec::new();
    for table in selected
        .iter()
        .map(|(db, names)| load_tables(conn, db, names))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        let checksum = TableChecksum::new(&table, function, &cfg.row);
        let walk = match chunk_index(&table) {
            Some(idx) => Walk::Chunked(ChunkKey::new(&table, idx)),
            None => {
                let limit = cfg.max_unkeyed_rows;
                let n = count_up_to(conn, &table, None, limit + 1)?;
                if n > limit {
                    Walk::Skip(format!(
                        "no usable index and more than {limit} rows (--max-unkeyed-rows)"
                    ))
                } else {
                    Walk::Whole
                }
            }
        };
        out.push(TablePlan {
            table,
            walk,
            checksum,
        });
    }
    Ok(out)
}

/// The rows of `table` matching `filter`, counted up to `limit` (a
/// bigger table reads `limit` rows and stops).
pub fn count_up_to(
    conn: &mut Conn,
    table: &Table,
    filter: Option<&str>,
    limit: u64,
) -> Result<u64, oxkit::conn::DbError> {
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {}{} LIMIT {limit}) x",
        quote_table(&table.db, &table.name),
        filter.map(|f| format!(" WHERE {f}")).unwrap_or_default()
    );
    let n: Option<u64> = conn.row(&format!("counting rows of {}", table.full_name()), &sql)?;
    Ok(n.unwrap_or(0))
}
