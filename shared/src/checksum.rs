//! Row and chunk checksums computed by the server, so only a count and a
//! hash per chunk cross the network.
//!
//! A row becomes one byte string: every stored column (generated columns
//! skipped, they are recomputed) in table order, joined by `#`, text cast to
//! its stored bytes so no charset conversion or collation can blur it,
//! variable-length values preceded by their byte length (so `'a#','b'` and
//! `'a','#b'` differ), and a final field of NULL flags (so NULL and `''`
//! differ). TIMESTAMP values read the same everywhere because every oxkit
//! session runs with `time_zone = '+00:00'`.
//!
//! The chunk checksum folds the row hashes, with BIT_XOR when rows are
//! unique (the table has a NOT NULL unique key, so two equal rows cannot
//! cancel) and with an exact SUM otherwise:
//! - `sha1-crc32` (ox-table-checksum's default): the CRC32 of the row's
//!   SHA1 digest, 32 bits per row as Percona's. SHA1 is not linear, so two
//!   rows given the same edit change the chunk's checksum, which plain
//!   CRC32 cannot promise.
//! - `sha1`, `md5` and `sha2`: the first 64 bits of the row's digest, read
//!   as a number with CONV. ox-backup's manifests record `sha1` (their
//!   checksums must stay comparable across versions).
//! - `crc32`: Percona's `BIT_XOR(CRC32(...))`, for comparison with
//!   pt-table-checksum. CRC32 is linear: the same same-length edit applied to
//!   two rows of one chunk cancels out and the drift goes unseen.
//!
//! What they cost, measured on MariaDB 10.11 (one core, sysbench rows of
//! about 190 bytes, in memory; `cargo xtask bench table-checksum`): reading
//! the rows and building the row strings about 0.55 s per million rows;
//! CRC32 adds almost nothing, SHA1 about 0.45 s, and reading 64 bits of a
//! hex digest back as a number (CONV) another 0.7 s, so `sha1` costs about
//! 1.7 s per million rows, `sha1-crc32` 1.05 s and `crc32` 0.55 s. MD5 is
//! slower than SHA1 there.

use crate::schema::{Column, ColumnKind, Table};
use crate::sql::quote_ident;
use crate::sql::NO_CACHE;
use serde::Serialize;

/// The row hash function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Function {
    /// CRC32 of the SHA1 digest, 32 bits per row: not linear, so edits
    /// cannot cancel, and cheaper than reading the digest as a number.
    #[serde(rename = "sha1-crc32")]
    Sha1Crc32,
    /// SHA1 digest, 64 bits per row, folded without cancellation.
    Sha1,
    /// MD5 digest, 64 bits per row, folded like sha1.
    Md5,
    /// Percona's BIT_XOR of CRC32: compatible, fast, linear (can cancel).
    Crc32,
    /// SHA-256 digest, 64 bits per row, folded like sha1 (what sha1, md5 and
    /// sha1-crc32 become on MySQL 9.6+, which removed SHA1() and MD5()).
    Sha2,
}

impl Function {
    /// The function `server` can run: SHA1 and MD5 become SHA-256 on a
    /// server without them (MySQL 9.6+ moved them to an optional
    /// component). Every side of one comparison runs the same server
    /// version, so all compute the same.
    pub fn on(self, server: &crate::server::Server) -> Function {
        match self {
            Function::Sha1 | Function::Md5 | Function::Sha1Crc32 if !server.caps.legacy_hashes => {
                Function::Sha2
            }
            f => f,
        }
    }
}

/// What goes into the row hash.
#[derive(Clone, Debug, Default)]
pub struct RowOptions {
    /// Round FLOAT/DOUBLE to this many decimals (`--float-precision`).
    pub float_precision: Option<u8>,
    /// Columns left out (`--ignore-columns`), compared case-insensitively.
    pub ignore_columns: Vec<String>,
}

/// The columns hashed for `table`: stored columns not ignored.
pub fn hashed_columns<'a>(table: &'a Table, opts: &RowOptions) -> Vec<&'a Column> {
    table
        .data_columns()
        .filter(|c| {
            !opts
                .ignore_columns
                .iter()
                .any(|i| i.eq_ignore_ascii_case(&c.name))
        })
        .collect()
}

/// The expressions one column contributes to the row string.
fn column_parts(c: &Column, opts: &RowOptions, prefix: Option<u32>) -> Vec<String> {
    let q = quote_ident(&c.name);
    let value = match prefix {
        Some(n) => format!("LEFT({q}, {n})"),
        None => q,
    };
    match c.kind() {
        ColumnKind::Float => vec![match opts.float_precision {
            Some(p) => format!("ROUND({value}, {p})"),
            None => value,
        }],
        ColumnKind::Spatial => {
            let b = format!("ST_AsBinary({value})");
            vec![format!("LENGTH({b})"), b]
        }
        ColumnKind::Text | ColumnKind::Json => {
            let b = format!("CAST({value} AS BINARY)");
            vec![format!("LENGTH({b})"), b]
        }
        ColumnKind::Binary | ColumnKind::Bit => vec![format!("LENGTH({value})"), value],
        ColumnKind::Integer | ColumnKind::Decimal | ColumnKind::Other => vec![value],
    }
}

/// The row string expression over `cols` (`(column, prefix length)`), as
/// described in the module documentation.
pub fn row_string(cols: &[(&Column, Option<u32>)], opts: &RowOptions) -> String {
    let mut parts: Vec<String> = cols
        .iter()
        .flat_map(|(c, p)| column_parts(c, opts, *p))
        .collect();
    let nulls: Vec<String> = cols
        .iter()
        .filter(|(c, _)| c.nullable)
        .map(|(c, _)| format!("ISNULL({})", quote_ident(&c.name)))
        .collect();
    if !nulls.is_empty() {
        parts.push(format!("CONCAT({})", nulls.join(", ")));
    }
    if parts.is_empty() {
        parts.push("''".to_string());
    }
    format!("CONCAT_WS('#', {})", parts.join(", "))
}

/// True when no two rows of `table` can be equal: it has a unique key over
/// NOT NULL columns (ignored columns do not matter: the key is hashed).
pub fn rows_are_unique(table: &Table) -> bool {
    table.indexes.iter().any(|i| i.unique && !i.nullable)
}

/// `COUNT(*) AS cnt, <fold> AS crc` for a chunk whose rows hash to
/// `row_string`. `crc` is text.
pub fn aggregate(func: Function, row_string: &str, unique_rows: bool) -> String {
    let fold = if unique_rows { "BIT_XOR" } else { "SUM" };
    let crc = match func {
        Function::Sha1Crc32 => {
            format!("COALESCE(CAST({fold}(CRC32(SHA1({row_string}))) AS CHAR), '0')")
        }
        Function::Sha1 | Function::Md5 | Function::Sha2 => {
            let digest = match func {
                Function::Sha1 => format!("SHA1({row_string})"),
                Function::Md5 => format!("MD5({row_string})"),
                _ => format!("SHA2({row_string}, 256)"),
            };
            format!(
                "COALESCE(CAST({fold}(CAST(CONV(SUBSTRING({digest}, 1, 16), 16, 10) AS UNSIGNED)) AS CHAR), '0')"
            )
        }
        Function::Crc32 => format!(
            "COALESCE(LOWER(CONV(BIT_XOR(CAST(CRC32({row_string}) AS UNSIGNED)), 10, 16)), '0')"
        ),
    };
    format!("COUNT(*) AS cnt, {crc} AS crc")
}

/// Everything needed to checksum chunks of one table.
#[derive(Clone, Debug)]
pub struct TableChecksum {
    /// `COUNT(*) AS cnt, ... AS crc`.
    pub select: String,
    /// Quoted `db`.`table`.
    pub table_sql: String,
}

impl TableChecksum {
    /// The checksum of `table`'s rows with `func` and `opts`.
    pub fn new(table: &Table, func: Function, opts: &RowOptions) -> TableChecksum {
        let cols: Vec<(&Column, Option<u32>)> = hashed_columns(table, opts)
            .into_iter()
            .map(|c| (c, None))
            .collect();
        let row = row_string(&cols, opts);
        TableChecksum {
            select: aggregate(func, &row, rows_are_unique(table)),
            table_sql: crate::sql::quote_table(&table.db, &table.name),
        }
    }

    /// The query returning `(cnt, crc)` for rows matching `cond`, read
    /// through `force` (a `FORCE INDEX (...)` clause, or empty).
    pub fn query(&self, force: &str, cond: &str) -> String {
        format!(
            "SELECT {NO_CACHE} {} FROM {} {force} WHERE {cond}",
            self.select, self.table_sql
        )
    }
}

/// Percona's checksum table (`percona.checksums`), which the replicate
/// method writes and `--replicate` syncs read: where it is, and what its
/// primary-side columns are called. Percona Toolkit 3.6 renamed
/// `master_crc`/`master_cnt` to `source_crc`/`source_cnt`, and each side
/// reads only its own names (pt-table-sync 3.7 requires `source_*`, the
/// 3.2 that Debian ships for MariaDB `master_*`): an existing table keeps
/// the names it has; a new one gets `source_*` on MySQL (where only 3.6+
/// works at all) and `master_*` on MariaDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicateTable {
    /// Schema.
    pub db: String,
    /// Table.
    pub table: String,
    /// The primary's checksum column.
    pub source_crc: &'static str,
    /// The primary's row count column.
    pub source_cnt: &'static str,
}

impl ReplicateTable {
    /// The table `db.table` as found on `conn` (or as it would be created
    /// there).
    pub fn open(
        conn: &mut crate::conn::Conn,
        server: &crate::server::Server,
        db: &str,
        table: &str,
    ) -> Result<ReplicateTable, crate::conn::DbError> {
        let cols: Vec<String> = conn.rows(
            "reading the checksum table's columns",
            &format!(
                "SELECT LOWER(COLUMN_NAME) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                crate::sql::quote_str(db),
                crate::sql::quote_str(table)
            ),
        )?;
        let source = if cols.iter().any(|c| c == "source_crc") {
            true
        } else if cols.iter().any(|c| c == "master_crc") {
            false
        } else {
            server.flavor != crate::server::Flavor::MariaDB
        };
        let (source_crc, source_cnt) = if source {
            ("source_crc", "source_cnt")
        } else {
            ("master_crc", "master_cnt")
        };
        Ok(ReplicateTable {
            db: db.to_string(),
            table: table.to_string(),
            source_crc,
            source_cnt,
        })
    }

    /// Creates the schema and the table (Percona's definition) when missing.
    pub fn create_sql(&self) -> String {
        format!(
            "CREATE DATABASE IF NOT EXISTS {qdb}; \
             CREATE TABLE IF NOT EXISTS {self} (\
               db CHAR(64) NOT NULL, \
               tbl CHAR(64) NOT NULL, \
               chunk INT NOT NULL, \
               chunk_time FLOAT NULL, \
               chunk_index VARCHAR(200) NULL, \
               lower_boundary TEXT NULL, \
               upper_boundary TEXT NULL, \
               this_crc CHAR(40) NOT NULL, \
               this_cnt INT NOT NULL, \
               {crc} CHAR(40) NULL, \
               {cnt} INT NULL, \
               ts TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
               PRIMARY KEY (db, tbl, chunk), \
               INDEX ts_db_tbl (ts, db, tbl)\
             ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            qdb = quote_ident(&self.db),
            crc = self.source_crc,
            cnt = self.source_cnt,
        )
    }

    /// The condition of a chunk that differs from the primary.
    pub fn differs(&self) -> String {
        let (crc, cnt) = (self.source_crc, self.source_cnt);
        format!("({cnt} <> this_cnt OR {crc} <> this_crc OR ISNULL({crc}) <> ISNULL(this_crc))")
    }
}

/// The quoted `db`.`table`.
impl std::fmt::Display for ReplicateTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::sql::quote_table(&self.db, &self.table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, nullable: bool) -> Column {
        Column::plain(name, ty, nullable)
    }

    #[test]
    fn row_string_marks_nulls_and_lengths() {
        let id = col("id", "int", false);
        let v = col("v", "varchar", true);
        let f = col("f", "double", true);
        let s = row_string(
            &[(&id, None), (&v, None), (&f, None)],
            &RowOptions {
                float_precision: Some(3),
                ignore_columns: vec![],
            },
        );
        assert_eq!(
            s,
            "CONCAT_WS('#', `id`, LENGTH(CAST(`v` AS BINARY)), CAST(`v` AS BINARY), ROUND(`f`, 3), CONCAT(ISNULL(`v`), ISNULL(`f`)))"
        );
    }

    #[test]
    fn folds() {
        assert!(
            aggregate(Function::Sha1, "x", true).contains("BIT_XOR(CAST(CONV(SUBSTRING(SHA1(x)")
        );
        assert!(aggregate(Function::Md5, "x", false).contains("SUM(CAST(CONV(SUBSTRING(MD5(x)"));
        assert!(aggregate(Function::Crc32, "x", false).contains("BIT_XOR(CAST(CRC32(x)"));
        assert!(aggregate(Function::Sha1Crc32, "x", false).contains("SUM(CRC32(SHA1(x)))"));
    }
}
