//! The rows of a logical set: every table read in the workers' snapshots,
//! whole or in key ranges, one data file per range.
//!
//! Big tables are cut into key ranges with `oxkit::nibble`, walked lazily
//! by the workers in their snapshots (so a walk across a sparse key range
//! learns the density from the rows it finds); each range becomes one data
//! file in the format `LOAD DATA` reads (tab-separated, backslash escapes,
//! `\N` for NULL; binary, bit and spatial columns, and text in other
//! character sets, as hex), and its row count and checksum
//! (`oxkit::checksum`, the same expression `verify` recomputes on the
//! restored server) are read in the same snapshot. Chunk checksums are
//! folded into the table's checksum (XOR for tables with unique rows, sum
//! otherwise, as the SQL folds do).

use crate::manifest::{ChunkEntry, ColumnEntry, FileEntry, TableEntry};
use crate::repo::{RateLimit, SetWriter};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::checksum::{Function, RowOptions, TableChecksum};
use oxkit::conn::{self, Conn};
use oxkit::entry::{Cancel, Context};
use oxkit::nibble::{chunk_index, ChunkKey, NibbleOptions, Nibbler};
use oxkit::progress::Progress;
use oxkit::schema::{Column, ColumnKind, Table};
use oxkit::server::Server;
use oxkit::sql::{quote_ident, quote_table, NO_CACHE};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// True when a column's values are written as hex.
pub fn hex_column(c: &Column) -> bool {
    matches!(
        c.kind(),
        ColumnKind::Binary | ColumnKind::Bit | ColumnKind::Spatial
    ) || c.charset.as_deref().is_some_and(|cs| {
        !matches!(
            cs,
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" | "latin1" | "binary"
        )
    })
}

/// Appends one value in LOAD DATA's escaped text form.
pub fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            _ => out.push(b),
        }
    }
}

/// One key range of one table, as a worker takes it.
struct Job {
    table: usize,
    chunk: usize,
    cond: String,
    force: String,
    walked: Option<oxkit::nibble::Chunk>,
}

/// Where a table's chunks come from: one whole-table chunk, or a walk
/// over its key run lazily by the workers in their snapshots (so a walk
/// across a sparse key range learns the density from the rows it finds).
enum Source {
    Whole(usize),
    Walk(usize, Box<Nibbler>, String),
}

/// How one table is read.
struct Plan {
    table: Table,
    columns: Vec<ColumnEntry>,
    select: String,
    checksum: TableChecksum,
    unique: bool,
}

impl Plan {
    fn new(table: &Table, server: &Server) -> Plan {
        let cols: Vec<&Column> = table.data_columns().collect();
        let columns = cols
            .iter()
            .map(|c| ColumnEntry {
                name: c.name.clone(),
                hex: hex_column(c),
            })
            .collect();
        let select = if cols.is_empty() {
            "1".to_string()
        } else {
            cols.iter()
                .map(|c| {
                    let q = quote_ident(&c.name);
                    if hex_column(c) {
                        format!("HEX({q})")
                    } else {
                        q
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        Plan {
            table: table.clone(),
            columns,
            select,
            checksum: TableChecksum::new(table, Function::Sha1.on(server), &RowOptions::default()),
            unique: oxkit::checksum::rows_are_unique(table),
        }
    }
}

/// A chunk written: its file, and its count and checksum read in the
/// same snapshot.
struct ChunkDone {
    table: usize,
    chunk: usize,
    rows: u64,
    crc: String,
    file: FileEntry,
    cond: String,
    force: String,
    warnings: Vec<String>,
}

/// What the data files of a set came to.
pub struct Written {
    /// Every table with its count, checksum and chunks.
    pub tables: Vec<TableEntry>,
    /// The data files, by path.
    pub files: Vec<FileEntry>,
    /// What the server warned about while the rows were read.
    pub warnings: Vec<String>,
}

/// The data of one backup: how every table is read, and the queue of
/// tables the workers take their next chunk from.
pub struct Dump {
    plans: Vec<Plan>,
    sources: Mutex<VecDeque<Source>>,
}

impl Dump {
    /// Plans `tables`: a table of more than `chunk_rows` estimated rows
    /// with a usable index is walked in ranges of that many rows, the
    /// others are read whole; biggest tables first, so the last job is a
    /// small one.
    pub fn plan(tables: &[Table], server: &Server, chunk_rows: u64) -> Dump {
        let plans: Vec<Plan> = tables.iter().map(|t| Plan::new(t, server)).collect();
        let mut sources: Vec<Source> = tables
            .iter()
            .enumerate()
            .map(|(ti, t)| walk(ti, t, chunk_rows).unwrap_or(Source::Whole(ti)))
            .collect();
        let size = |s: &Source| match s {
            Source::Whole(t) | Source::Walk(t, _, _) => plans[*t].table.data_length,
        };
        sources.sort_by_key(|s| std::cmp::Reverse(size(s)));
        Dump {
            plans,
            sources: Mutex::new(VecDeque::from(sources)),
        }
    }

    /// Writes every chunk into `set` on `workers`, each in its snapshot,
    /// at most `max_rate` bytes per second, and folds the chunks into the
    /// tables' counts and checksums.
    pub fn run(
        self,
        ctx: &Context,
        workers: &mut [Conn],
        set: SetWriter,
        max_rate: Option<u64>,
    ) -> Result<Written> {
        let total: u64 = self.plans.iter().map(|p| p.table.data_length).sum();
        let progress = Progress::bytes(ctx, total.max(1), "backup bytes");
        let writer = ChunkWriter {
            set,
            limit: max_rate.map(|r| Arc::new(RateLimit::new(r))),
            progress: &progress,
            cancel: &ctx.cancel,
        };
        let done = crate::pool::run(workers, &ctx.cancel, &|w| {
            let Some(job) = self.next_job(w)? else {
                return Ok(None);
            };
            let started = Instant::now();
            let d = writer.write(w, &self.plans[job.table], &job)?;
            self.observe(&job, d.rows, started.elapsed());
            Ok(Some(d))
        });
        progress.finish();
        self.fold(done?)
    }

    /// Hands out the next chunk: the front table's next range.
    fn next_job(&self, conn: &mut Conn) -> Result<Option<Job>> {
        let Ok(mut q) = self.sources.lock() else {
            bail!("internal error: chunk queue poisoned");
        };
        loop {
            match q.front_mut() {
                None => return Ok(None),
                Some(Source::Whole(t)) => {
                    let t = *t;
                    q.pop_front();
                    return Ok(Some(Job {
                        table: t,
                        chunk: 0,
                        cond: "1=1".into(),
                        force: String::new(),
                        walked: None,
                    }));
                }
                Some(Source::Walk(t, nib, force)) => {
                    let (t, force) = (*t, force.clone());
                    match nib.next(conn)? {
                        Some(c) => {
                            log::trace!(
                                "chunk {t} {} {}",
                                c.number,
                                nib.key.range_sql(&c.lower, &c.upper)
                            );
                            return Ok(Some(Job {
                                table: t,
                                chunk: c.number as usize - 1,
                                cond: nib.key.range_sql(&c.lower, &c.upper),
                                force,
                                walked: Some(c),
                            }));
                        }
                        None => {
                            q.pop_front();
                        }
                    }
                }
            }
        }
    }

    /// Teaches the walk of the job's table how long its chunk took.
    fn observe(&self, job: &Job, rows: u64, elapsed: Duration) {
        let (Some(c), Ok(mut q)) = (&job.walked, self.sources.lock()) else {
            return;
        };
        for s in q.iter_mut() {
            if let Source::Walk(t, nib, _) = s {
                if *t == job.table {
                    nib.observe_chunk(c, rows, elapsed);
                }
            }
        }
    }

    /// Every table's entry from its chunks, in chunk order.
    fn fold(self, mut done: Vec<ChunkDone>) -> Result<Written> {
        done.sort_by_key(|c| (c.table, c.chunk));
        let mut warnings = Vec::new();
        let mut files = Vec::new();
        let mut tables = Vec::new();
        let mut done = done.into_iter().peekable();
        for (ti, p) in self.plans.into_iter().enumerate() {
            let mut crc = "0".to_string();
            let mut rows = 0;
            let mut chunks = Vec::new();
            while let Some(c) = done.next_if(|c| c.table == ti) {
                if c.chunk != chunks.len() {
                    bail!("internal error: chunks of {} missing", p.table.full_name());
                }
                crc = fold(p.unique, &crc, &c.crc)?;
                rows += c.rows;
                chunks.push(ChunkEntry {
                    file: c.file.path.clone(),
                    rows: c.rows,
                    checksum: Some(c.crc),
                    range: Some(c.cond),
                    force_index: Some(c.force),
                });
                files.push(c.file);
                warnings.extend(c.warnings);
            }
            if chunks.is_empty() {
                bail!("internal error: chunks of {} missing", p.table.full_name());
            }
            tables.push(TableEntry {
                db: p.table.db.clone(),
                name: p.table.name.clone(),
                engine: p.table.engine.clone().unwrap_or_default(),
                rows,
                checksum: crc,
                unique_rows: p.unique,
                columns: p.columns,
                chunks,
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Written {
            tables,
            files,
            warnings,
        })
    }
}

/// The walk over a big table's key, when it has one worth walking.
fn walk(ti: usize, t: &Table, chunk_rows: u64) -> Option<Source> {
    if t.row_estimate <= chunk_rows {
        return None;
    }
    let key = ChunkKey::new(t, chunk_index(t)?);
    let force = key.force_index();
    let nib = Nibbler::new(
        t,
        key,
        None,
        NibbleOptions {
            initial_rows: chunk_rows,
            target: None,
            max_rows: chunk_rows,
        },
    );
    Some(Source::Walk(ti, Box::new(nib), force))
}

/// Folds a chunk's checksum into its table's: XOR for tables whose rows
/// are unique, sum otherwise (as the checksum SQL folds rows).
pub fn fold(unique: bool, a: &str, b: &str) -> Result<String> {
    let p = |s: &str| -> Result<u128> {
        s.parse::<u128>()
            .with_context(|| format!("unexpected checksum value {s:?}"))
    };
    let (x, y) = (p(a)?, p(b)?);
    Ok(if unique {
        (x ^ y).to_string()
    } else {
        x.wrapping_add(y).to_string()
    })
}

/// Server warnings of the last statement on `conn`, as lines.
pub fn warnings(conn: &mut Conn, what: &str) -> Vec<String> {
    if conn.warnings() == 0 {
        return Vec::new();
    }
    let rows: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").unwrap_or_default();
    rows.into_iter()
        .map(|(l, c, m)| format!("{what}: {l} {c}: {m}"))
        .collect()
}

/// What every chunk's data file is written with.
struct ChunkWriter<'a> {
    set: SetWriter<'a>,
    limit: Option<Arc<RateLimit>>,
    progress: &'a Progress,
    cancel: &'a Cancel,
}

impl ChunkWriter<'_> {
    /// Writes the rows of `job` read on `w` as one data file, and reads
    /// their count and checksum in the same snapshot.
    fn write(&self, w: &mut Conn, plan: &Plan, job: &Job) -> Result<ChunkDone> {
        let t = &plan.table;
        let rel = format!(
            "data/t{:04}.c{:05}.tsv.zst{}",
            job.table,
            job.chunk,
            if self.set.key.is_some() { ".enc" } else { "" }
        );
        let what = format!("{} chunk {}", t.full_name(), job.chunk + 1);
        let mut out = self.set.file(&rel, self.limit.clone())?;
        let sql = format!(
            "SELECT {NO_CACHE} {} FROM {} {} WHERE {}",
            plan.select,
            quote_table(&t.db, &t.name),
            job.force,
            job.cond
        );
        let ncols = plan.columns.len();
        let mut rows = 0u64;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let label = w.label().to_string();
        {
            let mut result = w
                .query_iter(&sql)
                .map_err(|e| conn::db_error(format_args!("reading {what} on {label}"), &e))?;
            while let Some(set) = result.iter() {
                for row in set {
                    let row = row.map_err(|e| {
                        conn::db_error(format_args!("reading {what} on {label}"), &e)
                    })?;
                    for i in 0..ncols {
                        if i > 0 {
                            buf.push(b'\t');
                        }
                        match row.as_ref(i) {
                            None | Some(mysql::Value::NULL) => buf.extend_from_slice(b"\\N"),
                            Some(mysql::Value::Bytes(b)) => escape_into(&mut buf, b),
                            Some(v) => escape_into(&mut buf, oxkit::sql::quote_value(v).as_bytes()),
                        }
                    }
                    buf.push(b'\n');
                    rows += 1;
                    if buf.len() >= 1 << 20 {
                        out.write_all(&buf)
                            .with_context(|| format!("writing {}", self.set.name(&rel)))?;
                        self.progress.inc(buf.len() as u64);
                        buf.clear();
                        self.cancel.check()?;
                    }
                }
            }
        }
        let warnings = warnings(w, &what);
        out.write_all(&buf)
            .with_context(|| format!("writing {}", self.set.name(&rel)))?;
        self.progress.inc(buf.len() as u64);
        let file = out.finish()?;
        let sum: Option<(u64, String)> = w.row(
            &format!("checksumming {what}"),
            &plan.checksum.query(&job.force, &job.cond),
        )?;
        let (cnt, crc) = sum.unwrap_or((0, "0".into()));
        if cnt != rows {
            bail!("{what}: read {rows} rows but the checksum query counted {cnt} in the same snapshot");
        }
        Ok(ChunkDone {
            table: job.table,
            chunk: job.chunk,
            rows,
            crc,
            file,
            cond: job.cond.clone(),
            force: job.force.clone(),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_load_data() {
        let mut v = Vec::new();
        escape_into(&mut v, b"a\tb\nc\\d\0e\rf");
        assert_eq!(v, b"a\\tb\\nc\\\\d\\0e\\rf");
    }

    #[test]
    fn folds_checksums() {
        assert_eq!(fold(true, "0", "5").expect("fold"), "5");
        assert_eq!(fold(true, "6", "5").expect("fold"), "3");
        assert_eq!(
            fold(false, "18446744073709551615", "1").expect("fold"),
            "18446744073709551616"
        );
    }
}
