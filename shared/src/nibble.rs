//! Index-ordered chunks ("nibbles") of a table, sized to a time target.
//!
//! A chunk is a key range over one B-tree index. The chunks of one walk
//! cover the whole key space: besides the ranges between the primary's
//! first and last key, one chunk takes everything below the first key and
//! one everything above the last, so rows that exist only on a replica are
//! compared too (see [`Nibbler`]). Boundaries are read from the server with
//! `ORDER BY key LIMIT n-1, 1`, so a chunk over a unique key holds exactly
//! the rows it was sized for; over a non-unique index a chunk keeps every
//! duplicate of its upper bound, so no row is split across chunks.
//!
//! Comparisons are written out column by column (`a > x OR (a = x AND b >
//! y)`), which every server's range optimizer handles, with NULL treated as
//! the smallest value, which is where `ORDER BY` puts it. Values are
//! rendered as literals through [`crate::sql`]: numbers bare (a quoted
//! number compared with an integer column is compared as a double, which
//! loses precision above 2^53), binary strings as hex, text as utf8mb4
//! literals that the server converts to the column's character set.
//!
//! Chunk size adapts to `target` time: each finished chunk reports its rows
//! and elapsed time, and the next size is the observed rate times the target,
//! growing at most fourfold per step.

use crate::conn::{db_error, Conn, DbError};
use crate::schema::{Column, ColumnKind, Index, Table};
use crate::sql::NO_CACHE;
use crate::sql::{quote_binary, quote_bytes, quote_ident};
use mysql::prelude::Queryable;
use std::time::Duration;

/// The value of one key column as the server sent it (text protocol), or
/// NULL.
pub type KeyPart = Option<Vec<u8>>;

/// A key value: one part per index column.
pub type KeyValue = Vec<KeyPart>;

/// How a key column's values are written as literals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Literal {
    Number,
    Binary,
    Text,
}

/// One column of a chunking key.
#[derive(Clone, Debug)]
struct KeyColumn {
    name: String,
    literal: Literal,
    nullable: bool,
}

/// The index a table is walked by, with what it takes to write bounds.
#[derive(Clone, Debug)]
pub struct ChunkKey {
    /// Index name (`PRIMARY` for the primary key).
    pub index: String,
    cols: Vec<KeyColumn>,
    /// The first column is an integer type.
    integer: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn strict(self) -> Op {
        match self {
            Op::Ge => Op::Gt,
            Op::Le => Op::Lt,
            o => o,
        }
    }
}

enum Cond {
    True,
    False,
    Sql(String),
}

impl ChunkKey {
    /// The key over `index` of `table`.
    pub fn new(table: &Table, index: &Index) -> ChunkKey {
        let cols = index
            .columns
            .iter()
            .map(|ic| {
                let col = table.column(&ic.name);
                let literal = match col.map(Column::kind) {
                    Some(k) if k.is_number() => Literal::Number,
                    Some(k) if k.is_bytes() => Literal::Binary,
                    _ => Literal::Text,
                };
                KeyColumn {
                    name: ic.name.clone(),
                    literal,
                    nullable: col.is_none_or(|c| c.nullable),
                }
            })
            .collect();
        let integer = index
            .columns
            .first()
            .and_then(|ic| table.column(&ic.name))
            .is_some_and(|c| c.kind() == ColumnKind::Integer);
        ChunkKey {
            index: index.name.clone(),
            cols,
            integer,
        }
    }

    /// Key column names in index order.
    pub fn column_names(&self) -> Vec<&str> {
        self.cols.iter().map(|c| c.name.as_str()).collect()
    }

    /// The quoted column list (`a`, `b`), for SELECT and ORDER BY.
    pub fn select_list(&self) -> String {
        let names: Vec<&str> = self.column_names();
        crate::sql::quote_idents(&names)
    }

    /// `FORCE INDEX (...)` for this key.
    pub fn force_index(&self) -> String {
        format!("FORCE INDEX ({})", quote_ident(&self.index))
    }

    fn literal(&self, i: usize, v: &[u8]) -> String {
        match self.cols[i].literal {
            Literal::Number
                if !v.is_empty()
                    && v.iter().all(|b| {
                        b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')
                    }) =>
            {
                String::from_utf8_lossy(v).into_owned()
            }
            Literal::Binary => quote_binary(v),
            _ => quote_bytes(v),
        }
    }

    /// `col OP value` with NULL as the smallest value.
    fn compare(&self, i: usize, op: Op, v: &KeyPart) -> Cond {
        let c = quote_ident(&self.cols[i].name);
        let nullable = self.cols[i].nullable;
        match (op, v) {
            (Op::Gt, None) => Cond::Sql(format!("{c} IS NOT NULL")),
            (Op::Ge, None) => Cond::True,
            (Op::Lt, None) => Cond::False,
            (Op::Le, None) => Cond::Sql(format!("{c} IS NULL")),
            (Op::Gt, Some(v)) => Cond::Sql(format!("{c} > {}", self.literal(i, v))),
            (Op::Ge, Some(v)) => Cond::Sql(format!("{c} >= {}", self.literal(i, v))),
            (Op::Lt | Op::Le, Some(v)) => {
                let sym = if op == Op::Lt { "<" } else { "<=" };
                let lit = self.literal(i, v);
                Cond::Sql(if nullable {
                    format!("({c} {sym} {lit} OR {c} IS NULL)")
                } else {
                    format!("{c} {sym} {lit}")
                })
            }
        }
    }

    fn equal(&self, i: usize, v: &KeyPart) -> String {
        let c = quote_ident(&self.cols[i].name);
        match v {
            None => format!("{c} IS NULL"),
            Some(v) => format!("{c} = {}", self.literal(i, v)),
        }
    }

    /// `key OP bound`, lexicographically: `c1 > v1 OR (c1 = v1 AND c2 > v2)
    /// ...`, strict on every column but the last, which carries the
    /// operator's own inclusiveness.
    fn tuple(&self, op: Op, bound: &KeyValue) -> String {
        let n = self.cols.len().min(bound.len());
        let mut terms = Vec::new();
        for i in 0..n {
            let col_op = if i + 1 == n { op } else { op.strict() };
            let mut parts: Vec<String> = (0..i).map(|j| self.equal(j, &bound[j])).collect();
            match self.compare(i, col_op, &bound[i]) {
                Cond::False => continue,
                Cond::True => {}
                Cond::Sql(s) => parts.push(s),
            }
            if parts.is_empty() {
                return "1=1".to_string();
            }
            terms.push(parts.join(" AND "));
        }
        match terms.len() {
            0 => "0=1".to_string(),
            1 => terms.remove(0),
            _ => format!("({})", terms.join(") OR (")),
        }
    }

    /// The condition selecting rows between `lower` and `upper`; `1=1`
    /// when both are open.
    pub fn range_sql(&self, lower: &Bound, upper: &Bound) -> String {
        let mut parts = Vec::new();
        match lower {
            Bound::Open => {}
            Bound::Incl(v) => parts.push(format!("({})", self.tuple(Op::Ge, v))),
            Bound::Excl(v) => parts.push(format!("({})", self.tuple(Op::Gt, v))),
        }
        match upper {
            Bound::Open => {}
            Bound::Incl(v) => parts.push(format!("({})", self.tuple(Op::Le, v))),
            Bound::Excl(v) => parts.push(format!("({})", self.tuple(Op::Lt, v))),
        }
        if parts.is_empty() {
            "1=1".to_string()
        } else {
            parts.join(" AND ")
        }
    }

    /// `ORDER BY` over the key, ascending or descending.
    fn order_by(&self, desc: bool) -> String {
        let dir = if desc { " DESC" } else { "" };
        self.cols
            .iter()
            .map(|c| format!("{}{dir}", quote_ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn part_text(&self, i: usize, p: &KeyPart) -> String {
        match p {
            None => "NULL".to_string(),
            Some(b)
                if self
                    .cols
                    .get(i)
                    .is_some_and(|c| c.literal == Literal::Binary) =>
            {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("0x{hex}")
            }
            Some(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    /// A key value as Percona's checksum table stores boundaries: the
    /// values in the order of the placeholders of the expanded comparison
    /// (`a`, then `a,b`, then `a,b,c`: "a,a,b,a,b,c" for a three-column
    /// key), joined by commas, NULL as `NULL`, binary values as `0x` hex.
    /// pt-table-sync reads this format.
    pub fn to_text(&self, v: &KeyValue) -> String {
        let mut out = Vec::new();
        for n in 1..=v.len() {
            for (i, p) in v.iter().take(n).enumerate() {
                out.push(self.part_text(i, p));
            }
        }
        out.join(",")
    }

    /// Parses [`ChunkKey::to_text`] back; `None` when the text is ambiguous
    /// (a value held a comma) or malformed.
    pub fn parse_text(&self, s: &str) -> Option<KeyValue> {
        let n = self.cols.len();
        let all: Vec<&str> = s.split(',').collect();
        if all.len() != n * (n + 1) / 2 {
            return None;
        }
        let parts = &all[all.len() - n..];
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if *p == "NULL" {
                    return Some(None);
                }
                if self.cols[i].literal == Literal::Binary {
                    let hex = p.strip_prefix("0x")?;
                    if hex.len() % 2 != 0 {
                        return None;
                    }
                    let bytes: Option<Vec<u8>> = (0..hex.len())
                        .step_by(2)
                        .map(|j| u8::from_str_radix(hex.get(j..j + 2)?, 16).ok())
                        .collect();
                    return Some(Some(bytes?));
                }
                Some(Some(p.as_bytes().to_vec()))
            })
            .collect()
    }
}

/// One end of a chunk's key range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bound {
    /// No limit.
    Open,
    /// Up to and including this key.
    Incl(KeyValue),
    /// Up to but excluding this key.
    Excl(KeyValue),
}

impl Bound {
    /// The key value, if any.
    pub fn value(&self) -> Option<&KeyValue> {
        match self {
            Bound::Open => None,
            Bound::Incl(v) | Bound::Excl(v) => Some(v),
        }
    }
}

/// One chunk of a walk.
#[derive(Clone, Debug)]
pub struct Chunk {
    /// 1-based number within the table's walk.
    pub number: u32,
    /// Lower end of the key range.
    pub lower: Bound,
    /// Upper end of the key range.
    pub upper: Bound,
}

/// Settings of a walk.
#[derive(Clone, Debug)]
pub struct NibbleOptions {
    /// Rows in the first chunk.
    pub initial_rows: u64,
    /// Time one chunk should take; `None` keeps `initial_rows` fixed.
    pub target: Option<Duration>,
    /// Largest chunk, in rows.
    pub max_rows: u64,
}

impl Default for NibbleOptions {
    fn default() -> NibbleOptions {
        NibbleOptions {
            initial_rows: 1000,
            target: Some(Duration::from_millis(500)),
            max_rows: 2_000_000,
        }
    }
}

#[derive(Debug)]
enum Step {
    Start,
    Walking { last: KeyValue, inclusive: bool },
    Above(KeyValue),
    Done,
}

/// Walks a table's key range chunk by chunk: first the rows below the
/// first key (`key < min`, empty on the primary; it catches rows only a
/// replica has), then `[min, b1]`, `(b1, b2]`, ... `(bn, max]`, then the
/// rows above the last key (`key > max`). An empty table is one open chunk.
#[derive(Debug)]
pub struct Nibbler {
    /// The key walked.
    pub key: ChunkKey,
    table_sql: String,
    filter: Option<String>,
    step: Step,
    next_number: u32,
    rows: u64,
    opts: NibbleOptions,
    /// Single-column integer key: chunks are cut by arithmetic on the key
    /// (no boundary scan), sized by the observed rows per key value.
    integer: bool,
    /// The last key (`None` until read; `Some(None)`: empty).
    max: Option<Option<i128>>,
    /// Observed rows per key value (integer keys).
    density: f64,
    /// Key values spanned by the last integer chunk.
    span: i128,
}

/// The row estimate of one `EXPLAIN` row: its `rows` column (the
/// traditional table format, MariaDB's), or the largest `rows=N` of the
/// plan text (MySQL 9's default `explain_format=TREE`, one text cell).
fn explain_rows(r: &mysql::Row) -> Option<u64> {
    let cols = r.columns_ref();
    if let Some(i) = cols
        .iter()
        .position(|c| c.name_str().eq_ignore_ascii_case("rows"))
    {
        return crate::conn::cell_text(r, i)?.parse::<u64>().ok();
    }
    let text = crate::conn::cell_text(r, 0)?;
    text.split("rows=")
        .skip(1)
        .filter_map(|t| {
            // `rows=30125`, or `rows=1.2e+6` for large estimates.
            let n: String = t
                .chars()
                .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-'))
                .collect();
            n.parse::<f64>().ok().map(|f| f as u64)
        })
        .max()
}

fn int_of(v: &KeyValue) -> Option<i128> {
    match v.as_slice() {
        [Some(b)] => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn int_key(v: i128) -> KeyValue {
    vec![Some(v.to_string().into_bytes())]
}

fn key_value(row: mysql::Row) -> KeyValue {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            mysql::Value::NULL => None,
            mysql::Value::Bytes(b) => Some(b),
            other => Some(crate::sql::quote_value(&other).into_bytes()),
        })
        .collect()
}

impl Nibbler {
    /// A walk over `table` by `key`; `filter` is an extra SQL condition (the
    /// user's `--where`).
    pub fn new(
        table: &Table,
        key: ChunkKey,
        filter: Option<String>,
        opts: NibbleOptions,
    ) -> Nibbler {
        Nibbler {
            key,
            table_sql: crate::sql::quote_table(&table.db, &table.name),
            filter,
            step: Step::Start,
            next_number: 1,
            rows: opts.initial_rows.max(1),
            opts,
            integer: false,
            max: None,
            density: 1.0,
            span: 0,
        }
        .with_integer_key()
    }

    fn with_integer_key(mut self) -> Nibbler {
        self.integer = self.key.cols.len() == 1 && self.key.integer;
        self
    }

    /// Continues after chunk `number`, which ended at `upper` (`None`: it
    /// was the last). `below` says that chunk was the one below the first
    /// key, whose upper end is exclusive.
    pub fn resume_after(&mut self, number: u32, upper: Option<KeyValue>, below: bool) {
        self.next_number = number + 1;
        self.step = match upper {
            None => Step::Done,
            Some(last) => Step::Walking {
                last,
                inclusive: below,
            },
        };
    }

    /// The number the next chunk gets (1 before the walk began).
    pub fn next_number(&self) -> u32 {
        self.next_number
    }

    /// The current chunk size in rows.
    pub fn chunk_rows(&self) -> u64 {
        self.rows
    }

    /// True once the last chunk was handed out.
    pub fn is_done(&self) -> bool {
        matches!(self.step, Step::Done)
    }

    fn query_key(
        &self,
        conn: &mut Conn,
        cond: Option<String>,
        desc: bool,
        skip: u64,
    ) -> Result<Option<KeyValue>, DbError> {
        let mut conds: Vec<String> = cond.into_iter().collect();
        if let Some(f) = &self.filter {
            conds.push(format!("({f})"));
        }
        let sql = format!(
            "SELECT {NO_CACHE} {cols} FROM {t} {force}{where_} ORDER BY {order} LIMIT {skip}, 1",
            cols = self.key.select_list(),
            t = self.table_sql,
            force = self.key.force_index(),
            where_ = if conds.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", conds.join(" AND "))
            },
            order = self.key.order_by(desc),
        );
        let label = conn.label().to_string();
        let row: Option<mysql::Row> = conn.query_first(&sql).map_err(|e| {
            db_error(
                format_args!("reading chunk boundary of {} on {label}", self.table_sql),
                &e,
            )
        })?;
        Ok(row.map(key_value))
    }

    /// The optimizer's row estimate for `lower .. upper]` (EXPLAIN).
    fn estimate(&self, conn: &mut Conn, lower: &Bound, upper: &KeyValue) -> Result<u64, DbError> {
        let mut cond = self.key.range_sql(lower, &Bound::Incl(upper.clone()));
        if let Some(f) = &self.filter {
            cond = format!("({cond}) AND ({f})");
        }
        // USE INDEX, not FORCE INDEX: MySQL 8+ skips the index dives of a
        // single-table query that forces an index and estimates 1 row.
        let sql = format!(
            "EXPLAIN SELECT 1 FROM {} USE INDEX ({}) WHERE {cond}",
            self.table_sql,
            quote_ident(&self.key.index)
        );
        let label = conn.label().to_string();
        let rows: Vec<mysql::Row> = conn.query(&sql).map_err(|e| {
            db_error(
                format_args!("estimating a chunk of {} on {label}", self.table_sql),
                &e,
            )
        })?;
        Ok(rows.iter().filter_map(explain_rows).max().unwrap_or(0))
    }

    /// Reads the next boundary on `conn` and returns the next chunk, or
    /// `None` after the last.
    pub fn next(&mut self, conn: &mut Conn) -> Result<Option<Chunk>, DbError> {
        let (lower, upper, step) = match std::mem::replace(&mut self.step, Step::Done) {
            Step::Done => return Ok(None),
            Step::Start => match self.query_key(conn, None, false, 0)? {
                None => (Bound::Open, Bound::Open, Step::Done),
                Some(min) => (
                    Bound::Open,
                    Bound::Excl(min.clone()),
                    Step::Walking {
                        last: min,
                        inclusive: true,
                    },
                ),
            },
            Step::Walking { last, inclusive } if self.integer && int_of(&last).is_some() => {
                let lower = if inclusive {
                    Bound::Incl(last.clone())
                } else {
                    Bound::Excl(last.clone())
                };
                if self.max.is_none() {
                    let after = Some(self.key.range_sql(&lower, &Bound::Open));
                    self.max = Some(
                        self.query_key(conn, after, true, 0)?
                            .as_ref()
                            .and_then(int_of),
                    );
                }
                let lo = int_of(&last).unwrap_or_default() + i128::from(!inclusive);
                match self.max.flatten() {
                    Some(max) if lo <= max => {
                        let mut step = ((self.rows as f64 / self.density.max(f64::MIN_POSITIVE))
                            as i128)
                            .clamp(1, self.span.saturating_mul(4).max(self.rows as i128));
                        let mut hi = lo.saturating_add(step - 1).min(max);
                        // Guard against a jump in density (a dense region
                        // after a sparse one): ask the optimizer's range
                        // estimate and shrink the chunk while it is far
                        // above the target.
                        while step > 1 {
                            let est = self.estimate(conn, &lower, &int_key(hi))?;
                            if est <= self.rows.saturating_mul(4).max(10_000) {
                                break;
                            }
                            step = (step / 4).max(1);
                            hi = lo.saturating_add(step - 1).min(max);
                        }
                        self.span = hi - lo + 1;
                        let next = if hi == max {
                            Step::Above(int_key(max))
                        } else {
                            Step::Walking {
                                last: int_key(hi),
                                inclusive: false,
                            }
                        };
                        (lower, Bound::Incl(int_key(hi)), next)
                    }
                    _ if inclusive => (lower, Bound::Open, Step::Done),
                    _ => (Bound::Excl(last), Bound::Open, Step::Done),
                }
            }
            Step::Walking { last, inclusive } => {
                let lower = if inclusive {
                    Bound::Incl(last.clone())
                } else {
                    Bound::Excl(last.clone())
                };
                let after = Some(self.key.range_sql(&lower, &Bound::Open));
                match self.query_key(conn, after.clone(), false, self.rows - 1)? {
                    Some(u) => (
                        lower,
                        Bound::Incl(u.clone()),
                        Step::Walking {
                            last: u,
                            inclusive: false,
                        },
                    ),
                    None => match self.query_key(conn, after, true, 0)? {
                        Some(max) => (lower, Bound::Incl(max.clone()), Step::Above(max)),
                        // Nothing left after `last`: only the rows above it.
                        None if inclusive => (lower, Bound::Open, Step::Done),
                        None => (Bound::Excl(last), Bound::Open, Step::Done),
                    },
                }
            }
            Step::Above(max) => (Bound::Excl(max), Bound::Open, Step::Done),
        };
        self.step = step;
        let chunk = Chunk {
            number: self.next_number,
            lower,
            upper,
        };
        self.next_number += 1;
        Ok(Some(chunk))
    }

    /// Feeds back how many rows `chunk` held and how long it took, to size
    /// the next one (rows per second, and for integer keys rows per key
    /// value).
    pub fn observe_chunk(&mut self, chunk: &Chunk, rows: u64, elapsed: Duration) {
        if self.integer {
            if let (Bound::Incl(l) | Bound::Excl(l), Bound::Incl(u)) = (&chunk.lower, &chunk.upper)
            {
                if let (Some(l), Some(u)) = (int_of(l), int_of(u)) {
                    let lo = if matches!(chunk.lower, Bound::Excl(_)) {
                        l + 1
                    } else {
                        l
                    };
                    let span = (u - lo + 1).max(1) as f64;
                    // Keep some memory: one sparse chunk should not make the
                    // next one huge.
                    self.density = 0.5 * self.density + 0.5 * (rows as f64 / span);
                }
            }
        }
        self.observe(rows, elapsed);
    }

    /// Feeds back how long a chunk of `rows` took, to size the next one.
    pub fn observe(&mut self, rows: u64, elapsed: Duration) {
        let Some(target) = self.opts.target else {
            return;
        };
        if rows == 0 {
            return;
        }
        let secs = elapsed.as_secs_f64().max(0.001);
        let rate = rows as f64 / secs;
        let want = (rate * target.as_secs_f64()) as u64;
        let grown = self.rows.saturating_mul(4);
        self.rows = want.clamp(1, grown.min(self.opts.max_rows).max(1));
    }
}

/// The index to walk `table` by: its best unique key, else the walkable
/// index with the most columns (ties: the first), else `None`.
pub fn chunk_index(table: &Table) -> Option<&Index> {
    table.best_key().or_else(|| {
        table
            .indexes
            .iter()
            .filter(|i| i.walkable())
            .max_by_key(|i| (i.columns.len(), std::cmp::Reverse(i.name.clone())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, IndexColumn};

    fn col(name: &str, ty: &str, nullable: bool) -> Column {
        Column::plain(name, ty, nullable)
    }

    fn table(cols: Vec<Column>, key: &[&str]) -> (Table, Index) {
        let idx = Index {
            name: "k".into(),
            unique: true,
            primary: false,
            columns: key
                .iter()
                .map(|n| IndexColumn {
                    name: n.to_string(),
                    sub_part: None,
                })
                .collect(),
            kind: crate::schema::IndexKind::Btree,
            nullable: false,
        };
        let t = Table {
            db: "d".into(),
            name: "t".into(),
            engine: None,
            kind: crate::schema::TableKind::Base,
            row_estimate: 0,
            data_length: 0,
            index_length: 0,
            collation: None,
            create_options: String::new(),
            columns: cols,
            indexes: vec![idx.clone()],
            foreign_keys: vec![],
            referenced_by: vec![],
            triggers: vec![],
        };
        (t, idx)
    }

    fn v(parts: &[Option<&str>]) -> KeyValue {
        parts
            .iter()
            .map(|p| p.map(|s| s.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn single_column_ranges() {
        let (t, i) = table(vec![col("id", "int", false)], &["id"]);
        let k = ChunkKey::new(&t, &i);
        assert_eq!(k.range_sql(&Bound::Open, &Bound::Open), "1=1");
        assert_eq!(
            k.range_sql(
                &Bound::Excl(v(&[Some("10")])),
                &Bound::Incl(v(&[Some("20")]))
            ),
            "(`id` > 10) AND (`id` <= 20)"
        );
        assert_eq!(
            k.range_sql(
                &Bound::Incl(v(&[Some("10")])),
                &Bound::Excl(v(&[Some("20")]))
            ),
            "(`id` >= 10) AND (`id` < 20)"
        );
    }

    #[test]
    fn composite_and_nullable() {
        let (t, i) = table(
            vec![col("a", "varchar", false), col("b", "int", true)],
            &["a", "b"],
        );
        let k = ChunkKey::new(&t, &i);
        assert_eq!(
            k.range_sql(&Bound::Excl(v(&[Some("x'y"), None])), &Bound::Open),
            "((`a` > _utf8mb4 X'782779') OR (`a` = _utf8mb4 X'782779' AND `b` IS NOT NULL))"
        );
        assert_eq!(
            k.range_sql(&Bound::Open, &Bound::Incl(v(&[Some("m"), Some("5")]))),
            "((`a` < 'm') OR (`a` = 'm' AND (`b` <= 5 OR `b` IS NULL)))"
        );
        assert_eq!(
            k.range_sql(&Bound::Open, &Bound::Incl(v(&[Some("m"), None]))),
            "((`a` < 'm') OR (`a` = 'm' AND `b` IS NULL))"
        );
        // `>= (m, NULL)` is everything from `a = 'm'` on.
        assert_eq!(
            k.range_sql(&Bound::Incl(v(&[Some("m"), None])), &Bound::Open),
            "((`a` > 'm') OR (`a` = 'm'))"
        );
        // `< (m, NULL)`: nothing with `a = 'm'` is smaller.
        assert_eq!(
            k.range_sql(&Bound::Open, &Bound::Excl(v(&[Some("m"), None]))),
            "(`a` < 'm')"
        );
    }

    #[test]
    fn binary_keys_are_hex_and_round_trip_as_text() {
        let (t, i) = table(
            vec![col("h", "varbinary", false), col("n", "bigint", false)],
            &["h", "n"],
        );
        let k = ChunkKey::new(&t, &i);
        let val: KeyValue = vec![Some(vec![0, 0xff, b',']), Some(b"-18".to_vec())];
        assert!(k
            .range_sql(&Bound::Excl(val.clone()), &Bound::Open)
            .contains("_binary X'00FF2C'"));
        let text = k.to_text(&val);
        assert_eq!(text, "0x00ff2c,0x00ff2c,-18");
        assert_eq!(k.parse_text(&text), Some(val));
        assert_eq!(k.parse_text("1,2,3"), None);
    }

    #[test]
    fn quoted_numbers_never_reach_sql_unquoted() {
        let (t, i) = table(vec![col("id", "int", false)], &["id"]);
        let k = ChunkKey::new(&t, &i);
        assert_eq!(
            k.range_sql(&Bound::Open, &Bound::Incl(v(&[Some("1 OR 1")]))),
            "(`id` <= '1 OR 1')"
        );
    }

    #[test]
    fn integer_keys_are_detected() {
        let (t, i) = table(vec![col("id", "bigint", false)], &["id"]);
        let n = Nibbler::new(&t, ChunkKey::new(&t, &i), None, NibbleOptions::default());
        assert!(n.integer);
        let (t, i) = table(
            vec![col("id", "int", false), col("b", "int", false)],
            &["id", "b"],
        );
        let n = Nibbler::new(&t, ChunkKey::new(&t, &i), None, NibbleOptions::default());
        assert!(!n.integer);
        assert_eq!(int_of(&int_key(-5)), Some(-5));
        assert_eq!(
            int_of(&int_key(18_446_744_073_709_551_615)),
            Some(18_446_744_073_709_551_615)
        );
    }

    #[test]
    fn chunk_size_follows_the_rate() {
        let (t, i) = table(vec![col("id", "int", false)], &["id"]);
        let mut n = Nibbler::new(&t, ChunkKey::new(&t, &i), None, NibbleOptions::default());
        assert_eq!(n.chunk_rows(), 1000);
        n.observe(1000, Duration::from_millis(10)); // 100k rows/s → 50k, capped at 4x
        assert_eq!(n.chunk_rows(), 4000);
        n.observe(4000, Duration::from_millis(2000)); // 2k rows/s → 1000
        assert_eq!(n.chunk_rows(), 1000);
    }
}
