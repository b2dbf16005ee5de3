//! Finding the rows that differ inside one key range.
//!
//! Both sides run the same `GROUP BY` over the range: every row falls into
//! a hash bucket of its key (`CRC32` of the key's collation weights modulo
//! the bucket count) and each bucket gets a row count and the shared
//! checksum fold ([`oxkit::checksum`]). A bucket's contents depend only on
//! the keys in it, never on rows elsewhere in the range, so one missing row
//! changes one bucket instead of shifting every later sub-range. Only the
//! rows of differing buckets are fetched, in one query per side, and paired
//! in the tool by key identity: text key columns are compared by
//! `WEIGHT_STRING` (the server's collation), other key columns by their
//! value. When the buckets turn out much larger than wanted (a range the
//! source had few rows in), the pass is repeated once with more buckets.
//!
//! Without a unique NOT NULL key a row's identity is its whole content, and
//! rows are compared as multisets.

use anyhow::Result;
use mysql::Value;
use oxkit::checksum::{aggregate, row_string, Function, RowOptions};
use oxkit::conn::Conn;
use oxkit::schema::{Column, Table};
use oxkit::sql::NO_CACHE;
use oxkit::sql::{quote_ident, quote_table};
use std::collections::{BTreeMap, HashMap};

/// Key identity of a row: one part per key column (collation weight for
/// text), or the whole row for tables without a key.
pub type Ident = Vec<Option<Vec<u8>>>;

/// Character columns, whose key values compare by collation weight.
fn is_text(c: &Column) -> bool {
    c.kind() == oxkit::schema::ColumnKind::Text
}

/// What the tool needs to read and write one table's rows.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Quoted `db`.`table`.
    pub table_sql: String,
    /// Stored columns, in table order (generated columns are recomputed).
    pub cols: Vec<Column>,
    /// Positions in `cols` of the key columns; `None`: compare whole rows.
    pub key: Option<Vec<usize>>,
    /// The key's index name.
    pub key_name: Option<String>,
    /// `(cnt, crc)` select over the hashed row.
    agg: String,
    /// The expression rows are bucketed by (before the modulus).
    hash: String,
    /// Extra select expressions giving the key identity.
    ident: Vec<String>,
    /// The quoted key column when the key is one integer column: ranges
    /// of it are then bucketed by value (`col DIV width`), which costs
    /// nothing over a plain aggregate and lets the fetch use the index.
    pub int_col: Option<String>,
}

/// How a range's rows are split into buckets.
#[derive(Clone, Copy, Debug)]
pub enum Bucketing {
    /// `CRC32(key identity) % n`.
    Hash(u64),
    /// `int_col DIV width` (single integer key with known bounds).
    Width(i128),
}

impl Shape {
    /// The shape of `table`, keyed by its best unique NOT NULL key when
    /// it has one.
    pub fn new(table: &Table, func: Function) -> Shape {
        let cols: Vec<Column> = table.data_columns().cloned().collect();
        let key_index = table
            .best_key()
            .filter(|k| k.unique && !k.nullable)
            .filter(|k| {
                k.columns
                    .iter()
                    .all(|c| cols.iter().any(|x| x.name.eq_ignore_ascii_case(&c.name)))
            });
        let key: Option<Vec<usize>> = key_index.map(|k| {
            k.columns
                .iter()
                .filter_map(|c| {
                    cols.iter()
                        .position(|x| x.name.eq_ignore_ascii_case(&c.name))
                })
                .collect()
        });
        let all: Vec<(&Column, Option<u32>)> = cols.iter().map(|c| (c, None)).collect();
        let row = row_string(&all, &RowOptions::default());
        let agg = aggregate(func, &row, key.is_some());
        let (hash, ident) = match &key {
            Some(k) => {
                let ident: Vec<String> = k
                    .iter()
                    .map(|&i| {
                        let c = &cols[i];
                        if is_text(c) {
                            format!("WEIGHT_STRING({})", quote_ident(&c.name))
                        } else {
                            quote_ident(&c.name)
                        }
                    })
                    .collect();
                (
                    format!("CRC32(CONCAT_WS('#', {}))", ident.join(", ")),
                    ident,
                )
            }
            None => (format!("CRC32({row})"), Vec::new()),
        };
        let int_col = match key.as_deref() {
            Some([i]) if cols[*i].kind() == oxkit::schema::ColumnKind::Integer => {
                Some(quote_ident(&cols[*i].name))
            }
            _ => None,
        };
        Shape {
            table_sql: quote_table(&table.db, &table.name),
            int_col,
            cols,
            key,
            key_name: key_index.map(|k| k.name.clone()),
            agg,
            hash,
            ident,
        }
    }

    fn bucket_expr(&self, b: Bucketing) -> String {
        match (b, &self.int_col) {
            (Bucketing::Width(w), Some(c)) => format!("({c} DIV {w})"),
            (Bucketing::Hash(n), _) => format!("({} % {n})", self.hash),
            (Bucketing::Width(n), None) => format!("({} % {n})", self.hash),
        }
    }

    /// The rows of buckets `which`: an index range per bucket for
    /// integer buckets (`DIV` truncates toward zero).
    fn bucket_cond(&self, b: Bucketing, which: &[i128]) -> String {
        match (b, &self.int_col) {
            (Bucketing::Width(w), Some(c)) => {
                let parts: Vec<String> = which
                    .iter()
                    .map(|&q| {
                        let (lo, hi) = match q.cmp(&0) {
                            std::cmp::Ordering::Greater => (q * w, q * w + w - 1),
                            std::cmp::Ordering::Less => (q * w - (w - 1), q * w),
                            std::cmp::Ordering::Equal => (-(w - 1), w - 1),
                        };
                        format!("{c} BETWEEN {lo} AND {hi}")
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
            _ => {
                let list: Vec<String> = which.iter().map(|b| b.to_string()).collect();
                format!("{} IN ({})", self.bucket_expr(b), list.join(","))
            }
        }
    }

    fn select_list(&self) -> String {
        let mut parts: Vec<String> = self.cols.iter().map(|c| quote_ident(&c.name)).collect();
        parts.extend(self.ident.iter().cloned());
        parts.join(", ")
    }

    /// The identity of a fetched row (`vals` = data columns, then `ident`).
    fn identity(&self, vals: &[Value]) -> Ident {
        let tail = if self.key.is_some() {
            &vals[self.cols.len().min(vals.len())..]
        } else {
            &vals[..self.cols.len().min(vals.len())]
        };
        tail.iter()
            .map(|v| match v {
                Value::NULL => None,
                Value::Bytes(b) => Some(b.clone()),
                other => Some(other.as_sql(true).into_bytes()),
            })
            .collect()
    }
}

/// One row's stored column values as the server sent them.
pub type RowVals = Vec<Value>;

/// What has to change on the target.
#[derive(Debug, Clone)]
pub enum Diff {
    /// The source has this row, the target not.
    Missing(RowVals),
    /// Both have the key; the target's data differs (source row, target row).
    Changed(RowVals, RowVals),
    /// The target has this row, the source not.
    Extra(RowVals),
    /// Whole-row groups (no key): the source has `n` more copies.
    MissingCopies(RowVals, u64),
    /// Whole-row groups (no key): the target has `n` more copies.
    ExtraCopies(RowVals, u64),
}

impl Diff {
    /// Rows this change touches.
    pub fn rows(&self) -> u64 {
        match self {
            Diff::MissingCopies(_, n) | Diff::ExtraCopies(_, n) => *n,
            _ => 1,
        }
    }
}

/// The result of comparing one range.
#[derive(Debug, Default)]
pub struct RangeResult {
    /// Rows read on both sides (bucket pass plus fetched rows).
    pub rows_read: u64,
    /// Buckets whose count or checksum differed.
    pub diff_buckets: u64,
    /// The bucketing used (for [`recheck`]).
    pub buckets: Option<Bucketing>,
    /// Differing bucket numbers.
    pub differing: Vec<i128>,
    /// The differences.
    pub diffs: Vec<Diff>,
}

type Buckets = BTreeMap<i128, (u64, String)>;

fn bucket_pass(
    conn: &mut Conn,
    shape: &Shape,
    cond: &str,
    buckets: Bucketing,
) -> Result<Buckets, oxkit::conn::DbError> {
    let sql = format!(
        "SELECT {NO_CACHE} {b} AS ox_bucket, {agg} FROM {t} WHERE {cond} GROUP BY 1",
        b = shape.bucket_expr(buckets),
        agg = shape.agg,
        t = shape.table_sql
    );
    let rows: Vec<(String, u64, String)> = conn.rows("checksumming buckets", &sql)?;
    Ok(rows
        .into_iter()
        .map(|(b, n, c)| (b.parse().unwrap_or(i128::MIN), (n, c)))
        .collect())
}

fn fetch(
    conn: &mut Conn,
    shape: &Shape,
    cond: &str,
    buckets: Bucketing,
    which: &[i128],
) -> Result<Vec<RowVals>, oxkit::conn::DbError> {
    let sql = format!(
        "SELECT {NO_CACHE} {cols} FROM {t} WHERE ({cond}) AND {b}",
        cols = shape.select_list(),
        t = shape.table_sql,
        b = shape.bucket_cond(buckets, which),
    );
    let rows: Vec<mysql::Row> = conn.rows("fetching rows of differing buckets", &sql)?;
    Ok(rows.into_iter().map(|r| r.unwrap()).collect())
}

fn both<A: Send, B: Send>(fa: impl FnOnce() -> A + Send, fb: impl FnOnce() -> B + Send) -> (A, B) {
    std::thread::scope(|s| {
        let h = s.spawn(fa);
        let b = fb();
        let a = match h.join() {
            Ok(a) => a,
            Err(p) => std::panic::resume_unwind(p),
        };
        (a, b)
    })
}

/// Compares the rows matching `cond` on `source` and `target`; `estimate`
/// is the expected row count (sizes the buckets), `span` the inclusive
/// bounds of the key when it is one integer column and both ends are known.
pub fn compare_range(
    source: &mut Conn,
    target: &mut Conn,
    shape: &Shape,
    cond: &str,
    estimate: u64,
    span: Option<(i128, i128)>,
    bucket_rows: u64,
) -> Result<RangeResult> {
    let mut res = RangeResult::default();
    let estimate = estimate.max(1);
    let mut buckets = match (span, &shape.int_col) {
        (Some((lo, hi)), Some(_)) if hi >= lo => {
            let keys = hi - lo + 1;
            Bucketing::Width(
                (keys.saturating_mul(i128::from(bucket_rows)) / i128::from(estimate)).max(1),
            )
        }
        _ => Bucketing::Hash((estimate / bucket_rows).clamp(1, 1 << 20)),
    };
    let mut retried = false;
    let differing = loop {
        let (s, t) = both(
            || bucket_pass(source, shape, cond, buckets),
            || bucket_pass(target, shape, cond, buckets),
        );
        let (s, t) = (s?, t?);
        let total = s.values().map(|v| v.0).sum::<u64>() + t.values().map(|v| v.0).sum::<u64>();
        res.rows_read += total;
        let mut differing: Vec<i128> = Vec::new();
        let mut biggest = 0;
        for b in s.keys().chain(t.keys().filter(|b| !s.contains_key(b))) {
            let (x, y) = (s.get(b), t.get(b));
            if x != y {
                differing.push(*b);
                biggest = biggest
                    .max(x.map(|v| v.0).unwrap_or(0))
                    .max(y.map(|v| v.0).unwrap_or(0));
            }
        }
        differing.sort_unstable();
        // Buckets much larger than wanted (the estimate was off, e.g. a
        // range the source had few rows in): split finer, once.
        if !retried && biggest > bucket_rows * 16 {
            let finer = match buckets {
                Bucketing::Hash(n) => {
                    let want = (total / 2 / bucket_rows).clamp(1, 1 << 20);
                    (want > n * 4).then_some(Bucketing::Hash(want))
                }
                Bucketing::Width(w) => {
                    let want = (w * i128::from(bucket_rows) / i128::from(biggest)).max(1);
                    (want < w).then_some(Bucketing::Width(want))
                }
            };
            if let Some(f) = finer {
                buckets = f;
                retried = true;
                continue;
            }
        }
        break differing;
    };
    res.diff_buckets = differing.len() as u64;
    res.buckets = Some(buckets);
    let (read, diffs) = recheck(source, target, shape, cond, buckets, &differing)?;
    res.rows_read += read;
    res.diffs = diffs;
    res.differing = differing;
    Ok(res)
}

/// Fetches and pairs the rows of buckets `which` (of `buckets`) in the
/// range `cond` on both sides: the row comparison of [`compare_range`],
/// also used after a fix to re-verify exactly the buckets it touched (rows
/// in other buckets were equal and the fix did not write them). Returns
/// rows read and the differences.
pub fn recheck(
    source: &mut Conn,
    target: &mut Conn,
    shape: &Shape,
    cond: &str,
    buckets: Bucketing,
    which: &[i128],
) -> Result<(u64, Vec<Diff>)> {
    let mut read = 0;
    let mut diffs = Vec::new();
    for part in which.chunks(2000) {
        let (s, t) = both(
            || fetch(source, shape, cond, buckets, part),
            || fetch(target, shape, cond, buckets, part),
        );
        let (s, t) = (s?, t?);
        read += (s.len() + t.len()) as u64;
        diffs.extend(pair_rows(shape, s, t));
    }
    Ok((read, diffs))
}

/// Pairs fetched rows by identity and lists what differs.
pub fn pair_rows(shape: &Shape, source: Vec<RowVals>, target: Vec<RowVals>) -> Vec<Diff> {
    let n = shape.cols.len();
    let mut out = Vec::new();
    if shape.key.is_some() {
        let mut tmap: HashMap<Ident, RowVals> = HashMap::with_capacity(target.len());
        for r in target {
            tmap.insert(shape.identity(&r), r);
        }
        let mut smap: Vec<(Ident, RowVals)> = source
            .into_iter()
            .map(|r| (shape.identity(&r), r))
            .collect();
        smap.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, mut s) in smap {
            s.truncate(n);
            match tmap.remove(&id) {
                None => out.push(Diff::Missing(s)),
                Some(mut t) => {
                    t.truncate(n);
                    if s != t {
                        out.push(Diff::Changed(s, t));
                    }
                }
            }
        }
        let mut rest: Vec<(Ident, RowVals)> = tmap.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, mut t) in rest {
            t.truncate(n);
            out.push(Diff::Extra(t));
        }
    } else {
        let mut counts: BTreeMap<Ident, (u64, u64, RowVals)> = BTreeMap::new();
        for r in source {
            let e = counts
                .entry(shape.identity(&r))
                .or_insert((0, 0, r.clone()));
            e.0 += 1;
        }
        for r in target {
            let e = counts
                .entry(shape.identity(&r))
                .or_insert((0, 0, r.clone()));
            e.1 += 1;
        }
        for (_, (s, t, mut r)) in counts {
            r.truncate(n);
            if s > t {
                out.push(Diff::MissingCopies(r, s - t));
            } else if t > s {
                out.push(Diff::ExtraCopies(r, t - s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxkit::schema::Column;

    /// A table `(k VARCHAR key, v INT)`: fetched rows carry the data
    /// columns, then (keyed) the key's collation weight.
    fn shape(keyed: bool) -> Shape {
        Shape {
            table_sql: "`d`.`t`".into(),
            cols: vec![
                Column::plain("k", "varchar", false),
                Column::plain("v", "int", true),
            ],
            key: keyed.then(|| vec![0]),
            key_name: keyed.then(|| "PRIMARY".into()),
            agg: String::new(),
            hash: String::new(),
            ident: if keyed {
                vec!["WEIGHT_STRING(`k`)".into()]
            } else {
                Vec::new()
            },
            int_col: None,
        }
    }

    fn row(k: &str, v: Option<i64>, weight: Option<&str>) -> RowVals {
        let mut r = vec![
            Value::Bytes(k.as_bytes().to_vec()),
            v.map_or(Value::NULL, Value::Int),
        ];
        r.extend(weight.map(|w| Value::Bytes(w.as_bytes().to_vec())));
        r
    }

    #[test]
    fn keyed_rows_pair_by_collation_weight() {
        let source = vec![
            row("a", Some(1), Some("A")),
            row("b", Some(2), Some("B")),
            row("c", None, Some("C")),
        ];
        let target = vec![
            // 'A' and 'a' are one key under a case-insensitive collation:
            // the same row with other data, an UPDATE.
            row("A", Some(1), Some("A")),
            row("c", None, Some("C")),
            row("z", Some(9), Some("Z")),
        ];
        let diffs = pair_rows(&shape(true), source, target);
        let got: Vec<String> = diffs
            .iter()
            .map(|d| match d {
                Diff::Missing(s) => format!("missing {s:?}"),
                Diff::Changed(s, t) => format!("changed {s:?} -> {t:?}"),
                Diff::Extra(t) => format!("extra {t:?}"),
                other => format!("unexpected {other:?}"),
            })
            .collect();
        let want = [
            // Source order by identity, then the target's extra rows; the
            // identity column is cut off every row.
            format!(
                "changed {:?} -> {:?}",
                row("a", Some(1), None),
                row("A", Some(1), None)
            ),
            format!("missing {:?}", row("b", Some(2), None)),
            format!("extra {:?}", row("z", Some(9), None)),
        ];
        assert_eq!(got, want);
        assert!(diffs.iter().all(|d| d.rows() == 1));
    }

    #[test]
    fn keyless_rows_compare_as_multisets() {
        let r = |k: &str| row(k, Some(1), None);
        let source = vec![r("x"), r("x"), r("x"), r("y")];
        let target = vec![r("x"), r("y"), r("y"), r("y"), r("z")];
        let diffs = pair_rows(&shape(false), source, target);
        let got: Vec<(String, u64)> = diffs
            .iter()
            .map(|d| match d {
                Diff::MissingCopies(v, n) => (format!("missing {v:?}"), *n),
                Diff::ExtraCopies(v, n) => (format!("extra {v:?}"), *n),
                other => (format!("unexpected {other:?}"), 0),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (format!("missing {:?}", r("x")), 2),
                (format!("extra {:?}", r("y")), 2),
                (format!("extra {:?}", r("z")), 1),
            ]
        );
        assert_eq!(diffs.iter().map(Diff::rows).sum::<u64>(), 5);
        // Identical sides: nothing to do.
        assert!(pair_rows(&shape(false), vec![r("x")], vec![r("x")]).is_empty());
        assert!(pair_rows(&shape(true), vec![], vec![]).is_empty());
    }
}
