//! What a physical backup records about its point besides the files:
//! per-table row counts and checksums read in consistent snapshots opened
//! under `BACKUP STAGE BLOCK_COMMIT` (so they describe exactly the backup
//! point, yet are computed after the stages are released), and the XA
//! transactions left prepared at that point with their binary log groups.
//!
//! Only InnoDB tables are checksummed: a snapshot does not cover other
//! engines, and their files are copied under `BLOCK_COMMIT` but may change
//! right after it (they are checked with `CHECK TABLE` by verify).

use crate::manifest::{TableEntry, XaPrepared};
use anyhow::{Context as _, Result};
use oxkit::checksum::{Function, RowOptions, TableChecksum};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;

/// Schemas never checksummed (the server's own; `mysql` holds statistics
/// tables that the background updates after a restore).
pub const SYSTEM_SCHEMAS: &str = "('mysql', 'information_schema', 'performance_schema', 'sys')";

/// Tables to checksum and the connections that will hold the snapshots.
pub struct Snapshots {
    tables: Vec<(oxkit::schema::Table, TableChecksum)>,
    /// The work, largest first: whole tables, and key ranges of big ones.
    pieces: Vec<Piece>,
    conns: Vec<Conn>,
}

/// One checksum query: table `table` (an index into `tables`) where `cond`.
#[derive(Clone, Debug, PartialEq)]
struct Piece {
    table: usize,
    cond: String,
}

/// A table estimated above this many rows, with an integer primary key, is
/// cut into one key range per connection, so one big table does not leave
/// the others idle. The ranges are open at both ends, so they cover every
/// row whatever the bounds read before the snapshot; the fold (`BIT_XOR`
/// over a unique key) combines exactly into the whole table's result,
/// which is what verify recomputes.
const SPLIT_ROWS: u64 = 200_000;

/// The pieces of the tables (largest first), reading the key bounds of
/// the big ones on `c`.
fn pieces(
    c: &mut Conn,
    tables: &[(oxkit::schema::Table, TableChecksum)],
    n: usize,
) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    for (i, (t, _)) in tables.iter().enumerate() {
        let whole = Piece {
            table: i,
            cond: "1=1".into(),
        };
        let key = t
            .primary_key()
            .filter(|k| k.columns.len() == 1)
            .and_then(|k| t.column(&k.columns[0].name))
            .filter(|col| col.kind() == oxkit::schema::ColumnKind::Integer);
        let Some(key) = key.filter(|_| n > 1 && t.row_estimate > SPLIT_ROWS) else {
            out.push(whole);
            continue;
        };
        let k = oxkit::sql::quote_ident(&key.name);
        let bounds: Option<(Option<String>, Option<String>)> = c.row(
            "reading the key range of a big table",
            &format!(
                "SELECT CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR) FROM {}",
                oxkit::sql::quote_table(&t.db, &t.name)
            ),
        )?;
        let parse = |v: Option<String>| v.and_then(|s| s.parse::<i128>().ok());
        let (lo, hi) = match bounds {
            Some((a, b)) => (parse(a), parse(b)),
            None => (None, None),
        };
        let (Some(lo), Some(hi)) = (lo, hi) else {
            out.push(whole);
            continue;
        };
        out.extend(split(i, &k, lo, hi, n));
    }
    Ok(out)
}

/// `n` ranges of key `k` over `[lo, hi]`, the first and last open-ended.
fn split(table: usize, k: &str, lo: i128, hi: i128, n: usize) -> Vec<Piece> {
    let mut cuts: Vec<i128> = (1..n as i128)
        .map(|j| lo + (hi - lo) * j / n as i128)
        .filter(|b| *b > lo)
        .collect();
    cuts.dedup();
    if cuts.is_empty() {
        return vec![Piece {
            table,
            cond: "1=1".into(),
        }];
    }
    let mut out = vec![Piece {
        table,
        cond: format!("{k} < {}", cuts[0]),
    }];
    for w in cuts.windows(2) {
        out.push(Piece {
            table,
            cond: format!("{k} >= {} AND {k} < {}", w[0], w[1]),
        });
    }
    out.push(Piece {
        table,
        cond: format!("{k} >= {}", cuts[cuts.len() - 1]),
    });
    out
}

/// Lists the InnoDB tables and loads their definitions (under
/// `BLOCK_DDL`, so they cannot change), and opens `n` connections; rows
/// are hashed with `hash` (`Function::Sha1.on(server)`: SHA1() is gone from
/// MySQL 9.6).
pub fn plan(
    control: &mut Conn,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    n: usize,
    hash: Function,
) -> Result<Snapshots> {
    let names: Vec<(String, String)> = control.rows(
        "listing InnoDB tables",
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE = 'InnoDB' \
             AND TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS} ORDER BY DATA_LENGTH DESC"
        ),
    )?;
    let tables: Vec<_> = oxkit::schema::load_named(control, &names)
        .context("reading the definitions of the InnoDB tables")?
        .into_iter()
        .map(|table| {
            let q = TableChecksum::new(&table, hash, &RowOptions::default());
            (table, q)
        })
        .collect();
    let pieces = pieces(control, &tables, n)?;
    let mut conns = Vec::new();
    for _ in 0..n.clamp(1, pieces.len().max(1)) {
        let mut c = conn::connect(spec, copts).context("opening a snapshot connection")?;
        c.run(
            "setting the snapshot isolation",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        )?;
        conns.push(c);
    }
    Ok(Snapshots {
        tables,
        pieces,
        conns,
    })
}

impl Snapshots {
    /// Opens the snapshots (under `BLOCK_COMMIT`: instant, and every
    /// connection sees the same commits).
    pub fn open(&mut self) -> Result<()> {
        for c in &mut self.conns {
            c.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT",
            )?;
        }
        Ok(())
    }

    /// Computes every table's count and checksum in the snapshots, in
    /// parallel, after the stages are released.
    pub fn checksum(self, cancel: &oxkit::entry::Cancel) -> Result<Vec<TableEntry>> {
        let Snapshots {
            tables,
            pieces,
            mut conns,
        } = self;
        // Popped from the end: the smallest first would leave a big one last.
        let queue = std::sync::Mutex::new((0..pieces.len()).rev().collect::<Vec<_>>());
        let results: Vec<Result<Vec<(usize, u64, String)>>> = std::thread::scope(|s| {
            let hs: Vec<_> = conns
                .iter_mut()
                .map(|c| {
                    let (queue, tables, pieces) = (&queue, &tables, &pieces);
                    s.spawn(move || -> Result<Vec<(usize, u64, String)>> {
                        let mut out = Vec::new();
                        loop {
                            cancel.check()?;
                            let Some(i) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                                break;
                            };
                            let p = &pieces[i];
                            let (t, q) = &tables[p.table];
                            let (cnt, crc): (u64, String) = c
                                .row(
                                    &format!(
                                        "checksumming {}.{} at the backup point",
                                        t.db, t.name
                                    ),
                                    &q.query("", &p.cond),
                                )?
                                .unwrap_or((0, "0".into()));
                            out.push((p.table, cnt, crc));
                        }
                        Ok(out)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a checksum thread panicked")))
                })
                .collect()
        });
        for c in &mut conns {
            let _ = c.run("ending the snapshot", "COMMIT");
        }
        let mut sums: Vec<Option<(u64, String)>> = vec![None; tables.len()];
        for r in results {
            for (i, cnt, crc) in r? {
                sums[i] = Some(match sums[i].take() {
                    None => (cnt, crc),
                    Some(prev) => combine(prev, (cnt, crc))?,
                });
            }
        }
        let sums: Vec<(u64, String)> = sums
            .into_iter()
            .map(|s| s.unwrap_or((0, "0".into())))
            .collect();
        let mut out: Vec<TableEntry> = tables
            .iter()
            .zip(sums)
            .map(|((t, _), (rows, checksum))| TableEntry {
                db: t.db.clone(),
                name: t.name.clone(),
                engine: "InnoDB".into(),
                rows,
                checksum,
                unique_rows: oxkit::checksum::rows_are_unique(t),
                columns: Vec::new(),
                chunks: Vec::new(),
            })
            .collect();
        out.sort_by(|a, b| (&a.db, &a.name).cmp(&(&b.db, &b.name)));
        Ok(out)
    }
}

/// Two key ranges' `(count, BIT_XOR fold)` as one: counts add, folds XOR
/// (a split table has a unique key, so its fold is `BIT_XOR`, as decimal
/// text).
fn combine(a: (u64, String), b: (u64, String)) -> Result<(u64, String)> {
    let fold = |s: &str| {
        s.parse::<u64>()
            .with_context(|| format!("a range checksum {s:?} is not a BIT_XOR fold"))
    };
    Ok((a.0 + b.0, (fold(&a.1)? ^ fold(&b.1)?).to_string()))
}

/// Recomputes the recorded checksums on a restored server.
pub fn compare(c: &mut Conn, tables: &[TableEntry]) -> Result<Vec<crate::verify::TableCheck>> {
    let hash = Function::Sha1.on(&oxkit::server::Server::detect(c)?);
    let mut out = Vec::new();
    let names: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.db.clone(), t.name.clone()))
        .collect();
    let defs = oxkit::schema::load_named(c, &names)
        .context("reading the restored copy's tables (one the backup holds is missing)")?;
    for (t, table) in tables.iter().zip(&defs) {
        let q = TableChecksum::new(table, hash, &RowOptions::default());
        let (cnt, crc): (u64, String) = c
            .row("checksumming the restored data", &q.query("", "1=1"))?
            .unwrap_or((0, "0".into()));
        out.push(crate::verify::TableCheck {
            db: t.db.clone(),
            table: t.name.clone(),
            rows_expected: t.rows,
            rows_restored: cnt,
            checksum_expected: t.checksum.clone(),
            ok: cnt == t.rows && crc == t.checksum,
            checksum_restored: crc,
        });
    }
    Ok(out)
}

/// The xids of the XA transactions prepared now, as the binary log
/// writes them (`X'hex',X'hex',formatID`).
pub fn prepared_xids(c: &mut Conn) -> Result<Vec<String>> {
    let rows: Vec<(i64, u64, u64, Vec<u8>)> =
        c.rows("listing prepared XA transactions", "XA RECOVER")?;
    Ok(rows
        .into_iter()
        .map(|(fmt, glen, _blen, data)| {
            let g = (glen as usize).min(data.len());
            format!(
                "X'{}',X'{}',{fmt}",
                oxkit::hex::encode(&data[..g]),
                oxkit::hex::encode(&data[g..])
            )
        })
        .collect())
}

/// Finds the `XA START .. XA PREPARE` group of each xid in the server's
/// binary logs before the backup point (`file`:`pos`), newest log first.
/// Groups not found keep no coordinates (the caller warns).
pub fn locate_xa(c: &mut Conn, file: &str, pos: u64, xids: &[String]) -> Result<Vec<XaPrepared>> {
    let mut out: Vec<XaPrepared> = xids
        .iter()
        .map(|x| XaPrepared {
            xid: x.clone(),
            ..XaPrepared::default()
        })
        .collect();
    let logs: Vec<mysql::Row> = c.rows("listing binary logs", "SHOW BINARY LOGS")?;
    let mut names: Vec<String> = logs
        .iter()
        .filter_map(|r| conn::cell_text(r, 0))
        .filter(|n| n.as_str() <= file)
        .collect();
    names.reverse();
    for name in names {
        if out.iter().all(|x| x.start.is_some()) {
            break;
        }
        let mut from = 4u64;
        let mut gtid_at: Option<u64> = None;
        loop {
            let rows: Vec<mysql::Row> = c.rows(
                "reading binary log events",
                &format!(
                    "SHOW BINLOG EVENTS IN {} FROM {from} LIMIT 5000",
                    oxkit::sql::quote_str(&name)
                ),
            )?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let at: u64 = conn::cell_text(r, 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let kind = conn::cell_text(r, 2).unwrap_or_default();
                let end: u64 = conn::cell_text(r, 4)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let info = conn::cell_text(r, 5).unwrap_or_default();
                if name == file && at >= pos {
                    break;
                }
                if kind == "Gtid" {
                    gtid_at = Some(at);
                } else if kind == "XA_prepare" || info.starts_with("XA PREPARE") {
                    let xid = info.trim_start_matches("XA PREPARE").trim();
                    for x in out.iter_mut() {
                        if x.xid.eq_ignore_ascii_case(xid)
                            && x.binlog_file.as_ref().is_none_or(|f| *f == name)
                        {
                            // The last group wins (an xid may be reused).
                            x.binlog_file = Some(name.clone());
                            x.start = gtid_at;
                            x.end = Some(end);
                        }
                    }
                }
                from = end.max(from + 1);
            }
            if rows.len() < 5000 || (name == file && from >= pos) {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_key_and_folds_combine() {
        let p = split(3, "`id`", 1, 1000, 4);
        let conds: Vec<&str> = p.iter().map(|p| p.cond.as_str()).collect();
        assert_eq!(
            conds,
            [
                "`id` < 250",
                "`id` >= 250 AND `id` < 500",
                "`id` >= 500 AND `id` < 750",
                "`id` >= 750"
            ]
        );
        assert!(p.iter().all(|p| p.table == 3));
        // A range too narrow to cut stays whole.
        assert_eq!(split(0, "`k`", 5, 5, 4)[0].cond, "1=1");
        assert_eq!(split(0, "`k`", 5, 6, 4).len(), 1);
        assert_eq!(split(0, "`k`", 5, 9, 4).len(), 4);
        // Negative keys.
        assert_eq!(split(0, "`k`", -10, 10, 2)[0].cond, "`k` < 0");
        let (n, x) = combine((2, "12".into()), (3, "10".into())).expect("combine");
        assert_eq!((n, x.as_str()), (5, "6"));
        assert!(combine((1, "0".into()), (1, "abc".into())).is_err());
    }
}
