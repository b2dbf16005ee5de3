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
    conns: Vec<Conn>,
}

/// Lists the InnoDB tables and loads their definitions (under
/// `BLOCK_DDL`, so they cannot change), and opens `n` connections.
pub fn plan(
    control: &mut Conn,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    n: usize,
) -> Result<Snapshots> {
    let names: Vec<(String, String)> = control.rows(
        "listing InnoDB tables",
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE = 'InnoDB' \
             AND TABLE_SCHEMA NOT IN {SYSTEM_SCHEMAS} ORDER BY DATA_LENGTH DESC"
        ),
    )?;
    // SHA1() is gone from MySQL 9.6: the digest the server has.
    let hash = Function::Sha1.on(&oxkit::server::Server::detect(control)?);
    let mut tables = Vec::new();
    for (db, t) in names {
        let table = oxkit::schema::load_table_without_children(control, &db, &t)
            .with_context(|| format!("reading the definition of {db}.{t}"))?;
        let q = TableChecksum::new(&table, hash, &RowOptions::default());
        tables.push((table, q));
    }
    let mut conns = Vec::new();
    for _ in 0..n.clamp(1, tables.len().max(1)) {
        let mut c = conn::connect(spec, copts).context("opening a snapshot connection")?;
        c.run(
            "setting the snapshot isolation",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        )?;
        conns.push(c);
    }
    Ok(Snapshots { tables, conns })
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
        let Snapshots { tables, mut conns } = self;
        let queue = std::sync::Mutex::new((0..tables.len()).collect::<Vec<_>>());
        let results: Vec<Result<Vec<(usize, u64, String)>>> = std::thread::scope(|s| {
            let hs: Vec<_> = conns
                .iter_mut()
                .map(|c| {
                    let (queue, tables) = (&queue, &tables);
                    s.spawn(move || -> Result<Vec<(usize, u64, String)>> {
                        let mut out = Vec::new();
                        loop {
                            cancel.check()?;
                            let Some(i) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                                break;
                            };
                            let (t, q) = &tables[i];
                            let (cnt, crc): (u64, String) = c
                                .row(
                                    &format!(
                                        "checksumming {}.{} at the backup point",
                                        t.db, t.name
                                    ),
                                    &q.query("", "1=1"),
                                )?
                                .unwrap_or((0, "0".into()));
                            out.push((i, cnt, crc));
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
        let mut sums = vec![(0u64, String::from("0")); tables.len()];
        for r in results {
            for (i, cnt, crc) in r? {
                sums[i] = (cnt, crc);
            }
        }
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

/// Recomputes the recorded checksums on a restored server.
pub fn compare(c: &mut Conn, tables: &[TableEntry]) -> Result<Vec<crate::verify::TableCheck>> {
    let hash = Function::Sha1.on(&oxkit::server::Server::detect(c)?);
    let mut out = Vec::new();
    for t in tables {
        let table = oxkit::schema::load_table_without_children(c, &t.db, &t.name)
            .with_context(|| format!("{}.{} is missing from the restored copy", t.db, t.name))?;
        let q = TableChecksum::new(&table, hash, &RowOptions::default());
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
