//! Results: one line per table as Percona prints it, or one JSON document.

use serde::Serialize;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// A chunk that differs between the primary and one replica.
#[derive(Clone, Debug, Serialize)]
pub struct DiffChunk {
    /// Chunk number within the table's walk (1-based).
    pub chunk: u32,
    /// Index walked (`null` for a table read whole).
    pub index: Option<String>,
    /// Exclusive lower bound, key values joined by commas (`null`: open).
    pub lower_boundary: Option<String>,
    /// Inclusive upper bound (`null`: open).
    pub upper_boundary: Option<String>,
    /// The replica, `host:port`.
    pub host: String,
    /// Rows in the chunk on the primary.
    pub primary_rows: u64,
    /// Rows in the chunk on the replica.
    pub replica_rows: u64,
    /// Checksum on the primary.
    pub primary_crc: String,
    /// Checksum on the replica.
    pub replica_crc: String,
}

/// A secondary index checked against its table (`--verify-indexes`).
#[derive(Clone, Debug, Serialize)]
pub struct IndexCheck {
    /// Server, `host:port`.
    pub host: String,
    /// Index name.
    pub index: String,
    /// Rows read through the index.
    pub index_rows: u64,
    /// Rows read through the clustered index (the table).
    pub table_rows: u64,
    /// True when count and checksum agree.
    pub ok: bool,
}

/// One table's result.
#[derive(Clone, Debug, Serialize)]
pub struct TableResult {
    /// Schema.
    pub db: String,
    /// Table.
    pub table: String,
    /// Index walked, if any.
    pub index: Option<String>,
    /// Errors while checksumming (messages in `error_messages`).
    pub errors: u32,
    /// Chunks that differ on at least one replica.
    pub diffs: u32,
    /// Rows checksummed on the primary.
    pub rows: u64,
    /// Sum over differing chunks of the largest row-count difference
    /// between the primary and a replica. A changed row changes no count,
    /// so this can be 0 while `diffs` is not; it is a lower bound on the
    /// rows that differ.
    pub diff_rows: u64,
    /// Chunks checksummed.
    pub chunks: u32,
    /// Chunks that could not be checksummed (errors, lock waits).
    pub skipped: u32,
    /// Seconds from the table's first chunk to its result.
    pub time: f64,
    /// Set when the whole table was skipped, with the reason.
    pub skip_reason: Option<String>,
    /// Error messages.
    pub error_messages: Vec<String>,
    /// Every differing chunk, per replica.
    pub diff_chunks: Vec<DiffChunk>,
    /// Index checks (`--verify-indexes`).
    pub index_checks: Vec<IndexCheck>,
}

/// The header line.
pub const HEADER: &str =
    "            TS ERRORS  DIFFS     ROWS  DIFF_ROWS  CHUNKS SKIPPED    TIME TABLE";

/// `MM-DDTHH:MM:SS` in UTC.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (_, m, d, h, mi, s) = oxkit::report::utc_parts(secs);
    format!("{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
}

/// One table's line.
pub fn line(r: &TableResult, now: SystemTime) -> String {
    format!(
        "{:>14} {:>6} {:>6} {:>8} {:>10} {:>7} {:>7} {:>7.3} {}.{}",
        timestamp(now),
        r.errors,
        r.diffs,
        r.rows,
        r.diff_rows,
        r.chunks,
        r.skipped,
        r.time,
        r.db,
        r.table
    )
}

/// Prints a table's line (text format) as soon as it is done.
pub fn print_line(out: &mut impl Write, first: bool, r: &TableResult) -> std::io::Result<()> {
    if first {
        writeln!(out, "{HEADER}")?;
    }
    writeln!(out, "{}", line(r, SystemTime::now()))?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_478_400 + 3_661); // 2026-11-24 01:01:01
        assert_eq!(timestamp(t), "11-24T01:01:01");
        assert_eq!(timestamp(UNIX_EPOCH), "01-01T00:00:00");
    }

    #[test]
    fn line_matches_the_header_columns() {
        let r = TableResult {
            db: "app".into(),
            table: "t".into(),
            index: None,
            errors: 0,
            diffs: 1,
            rows: 125_000,
            diff_rows: 1,
            chunks: 12,
            skipped: 0,
            time: 1.5,
            skip_reason: None,
            error_messages: vec![],
            diff_chunks: vec![],
            index_checks: vec![],
        };
        let l = line(&r, UNIX_EPOCH);
        assert_eq!(l.len() - "app.t".len(), HEADER.len() - "TABLE".len());
        assert!(l.ends_with("  1.500 app.t"), "{l}");
    }
}
