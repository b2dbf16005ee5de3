//! The SQL that fixes differences: INSERT, UPDATE and DELETE by key, never
//! REPLACE (whose delete-then-insert would cascade into child tables).
//!
//! Two forms:
//! - direct, run on the target: plain INSERT of the source's row, UPDATE of
//!   the columns that differ, DELETE of the target's extra row;
//! - through replication, run on the source in a statement-format session:
//!   statements that change nothing on the source but bring a replica to
//!   the source's row (UPDATE to the source's values, INSERT ... ON
//!   DUPLICATE KEY UPDATE for a row the replica lacks, DELETE of a key the
//!   source does not have). Under ROW format such statements would write no
//!   row event at all; in statement format the statement itself replicates.
//!
//! Every value goes through [`oxkit::sql`].

use crate::compare::{Diff, RowVals, Shape};
use mysql::Value;
use oxkit::schema::{Column, ColumnKind};
use oxkit::sql::{quote_binary, quote_bytes, quote_ident, quote_value};

/// A value as an SQL literal for `col`.
pub fn literal(col: &Column, v: &Value) -> String {
    let b = match v {
        Value::NULL => return "NULL".to_string(),
        Value::Bytes(b) => b,
        other => return quote_value(other),
    };
    match col.kind() {
        k if k.is_number()
            && !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')) =>
        {
            String::from_utf8_lossy(b).into_owned()
        }
        ColumnKind::Bit if b.len() <= 8 => b
            .iter()
            .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
            .to_string(),
        ColumnKind::Spatial | ColumnKind::Binary | ColumnKind::Bit => quote_binary(b),
        // MySQL's JSON type (MariaDB's JSON is text): compared with a
        // string, a JSON value equals only the JSON string scalar, so a
        // whole-row match against an object would never find its row.
        ColumnKind::Json => format!("CAST({} AS JSON)", quote_bytes(b)),
        _ => quote_bytes(b),
    }
}

fn col_list(shape: &Shape) -> String {
    shape
        .cols
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn values(shape: &Shape, row: &RowVals) -> String {
    shape
        .cols
        .iter()
        .zip(row)
        .map(|(c, v)| literal(c, v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `k1 = v1 AND k2 = v2` for a keyed row.
pub fn key_where(shape: &Shape, row: &RowVals) -> String {
    let key = shape.key.as_deref().unwrap_or(&[]);
    key.iter()
        .map(|&i| {
            let c = &shape.cols[i];
            match row.get(i) {
                None | Some(Value::NULL) => format!("{} IS NULL", quote_ident(&c.name)),
                Some(v) => format!("{} = {}", quote_ident(&c.name), literal(c, v)),
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `c1 <=> v1 AND ...` over every column (whole-row groups).
fn row_where(shape: &Shape, row: &RowVals) -> String {
    shape
        .cols
        .iter()
        .zip(row)
        .map(|(c, v)| format!("{} <=> {}", quote_ident(&c.name), literal(c, v)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn insert(shape: &Shape, row: &RowVals) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        shape.table_sql,
        col_list(shape),
        values(shape, row)
    )
}

fn set_list(shape: &Shape, row: &RowVals, only_diff: Option<&RowVals>) -> String {
    shape
        .cols
        .iter()
        .enumerate()
        .filter(|(i, _)| only_diff.is_none_or(|t| t.get(*i) != row.get(*i)))
        .map(|(i, c)| {
            format!(
                "{} = {}",
                quote_ident(&c.name),
                literal(c, row.get(i).unwrap_or(&Value::NULL))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statements that fix `d` when run on the target.
pub fn direct(shape: &Shape, d: &Diff) -> Vec<String> {
    match d {
        Diff::Missing(s) => vec![insert(shape, s)],
        Diff::Changed(s, t) => vec![format!(
            "UPDATE {} SET {} WHERE {}",
            shape.table_sql,
            set_list(shape, s, Some(t)),
            key_where(shape, t)
        )],
        Diff::Extra(t) => vec![format!(
            "DELETE FROM {} WHERE {}",
            shape.table_sql,
            key_where(shape, t)
        )],
        Diff::MissingCopies(s, n) => (0..*n).map(|_| insert(shape, s)).collect(),
        Diff::ExtraCopies(t, n) => vec![format!(
            "DELETE FROM {} WHERE {} LIMIT {n}",
            shape.table_sql,
            row_where(shape, t)
        )],
    }
}

/// The statement that, run on the source in a statement-format session,
/// brings a replica's row with this key to `current` (the source's row now,
/// `None` when the source has no such row). `key_row` holds the key.
pub fn through_source(shape: &Shape, key_row: &RowVals, current: Option<&RowVals>) -> String {
    match current {
        None => format!(
            "DELETE FROM {} WHERE {}",
            shape.table_sql,
            key_where(shape, key_row)
        ),
        Some(s) => {
            let upd: Vec<String> = shape
                .cols
                .iter()
                .map(|c| {
                    let q = quote_ident(&c.name);
                    format!("{q} = VALUES({q})")
                })
                .collect();
            format!(
                "{} ON DUPLICATE KEY UPDATE {}",
                insert(shape, s),
                upd.join(", ")
            )
        }
    }
}

/// The statement for `d` through the source with the source's row as read
/// in the snapshot (for `--print`): UPDATE for changed rows.
pub fn through_source_snapshot(shape: &Shape, d: &Diff) -> String {
    match d {
        Diff::Missing(s) => through_source(shape, s, Some(s)),
        Diff::Changed(s, _) => format!(
            "UPDATE {} SET {} WHERE {}",
            shape.table_sql,
            set_list(shape, s, None),
            key_where(shape, s)
        ),
        Diff::Extra(t) => through_source(shape, t, None),
        Diff::MissingCopies(..) | Diff::ExtraCopies(..) => String::new(),
    }
}

/// The key row of a difference (the source's when it has one).
pub fn key_row(d: &Diff) -> &RowVals {
    match d {
        Diff::Missing(s) | Diff::Changed(s, _) | Diff::MissingCopies(s, _) => s,
        Diff::Extra(t) | Diff::ExtraCopies(t, _) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column::plain(name, ty, true)
    }

    #[test]
    fn literals() {
        let b = |s: &[u8]| Value::Bytes(s.to_vec());
        assert_eq!(literal(&col("a", "int"), &b(b"-12")), "-12");
        assert_eq!(literal(&col("a", "int"), &b(b"1 OR 1")), "'1 OR 1'");
        assert_eq!(
            literal(&col("a", "varchar"), &b(b"it's")),
            "_utf8mb4 X'69742773'"
        );
        assert_eq!(literal(&col("a", "blob"), &b(b"\x00")), "_binary X'00'");
        assert_eq!(literal(&col("a", "bit"), &b(&[1, 2])), "258");
        assert_eq!(literal(&col("a", "text"), &Value::NULL), "NULL");
    }
}
