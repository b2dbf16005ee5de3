//! Reading one table's row changes from the binary log, as a replica does.
//!
//! [`usable`] checks the preconditions up front (binary log on, ROW format,
//! FULL row images, the privileges to read it) and says why not. A
//! [`Reader`] opens its own connection, registers with a random server id
//! in a high range (never a real server's), asks for the log from a
//! [`Position`] (read with [`master_position`] before the changes of
//! interest begin) and decodes it on a thread: TABLE_MAP events name the
//! table of the row events that follow, and WRITE/UPDATE/DELETE row events
//! (v1 as MariaDB writes them, and v2) of the one table asked for become
//! [`Change`]s with their row images in column order (MySQL 8+ writes v2
//! row events with their extra data, and table maps with optional
//! metadata: the client library decodes both). Everything else (MariaDB
//! and MySQL GTID events, annotate, rows-query, checkpoint, previous-GTIDs
//! and GTID list events, other tables) is skipped, except a MySQL
//! compressed transaction payload (`binlog_transaction_compression`),
//! which is an error rather than changes silently missed. After each transaction (XID, or a query event other than
//! `BEGIN`) a [`Item::Commit`] carries the position after it: a point a
//! reader can restart from.
//!
//! The client library's stream asks the server for checksummed events
//! (`@master_binlog_checksum`) and verifies them; on MariaDB the session
//! also sets `@mariadb_slave_capability = 4` so GTID events are sent as
//! such rather than rewritten.

use crate::conn::{self, Conn, ConnectOptions};
use crate::dsn::ConnSpec;
use crate::server::{Flavor, Server};
use anyhow::{anyhow, bail, Context as _, Result};
use mysql::binlog::events::EventData;
use mysql::{BinlogRequest, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A place in the binary log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    /// The log file (`mysql-bin.000042`); names sort in log order.
    pub file: String,
    /// The byte offset in it.
    pub pos: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// One row change; images hold every column in table order.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A row written.
    Insert(Vec<Value>),
    /// A row changed: before, after.
    Update(Vec<Value>, Vec<Value>),
    /// A row deleted.
    Delete(Vec<Value>),
}

/// What the reader hands out.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// Changes of the table, in log order.
    Rows(Vec<Change>),
    /// A transaction ended; the position after it.
    Commit(Position),
}

/// Why the binary log of the server behind `conn` cannot be read for row
/// changes, or `None` when it can.
pub fn usable(conn: &mut Conn, server: &Server) -> Result<Option<String>> {
    let vars: Option<(i64, String, String)> = conn.row(
        "checking the binary log",
        "SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image",
    )?;
    let Some((log_bin, format, image)) = vars else {
        return Ok(Some(
            "the server did not report its binary log settings".into(),
        ));
    };
    if log_bin == 0 {
        return Ok(Some("the binary log is off (log_bin)".into()));
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Ok(Some(format!(
            "binlog_format is {format}, not ROW (SET GLOBAL binlog_format = 'ROW')"
        )));
    }
    if !image.eq_ignore_ascii_case("FULL") {
        return Ok(Some(format!(
            "binlog_row_image is {image}, not FULL (SET GLOBAL binlog_row_image = 'FULL')"
        )));
    }
    if server.flavor != Flavor::MariaDB {
        // MySQL 8.0.20+ can write a transaction as one compressed payload
        // event, whose row events this reader does not unpack.
        let compressed: Option<Option<String>> = conn
            .row(
                "checking the binary log",
                "SELECT @@GLOBAL.binlog_transaction_compression",
            )
            .unwrap_or(None);
        if compressed
            .flatten()
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("ON"))
        {
            return Ok(Some(
                "binlog_transaction_compression is ON: compressed transactions are not read (SET GLOBAL binlog_transaction_compression = OFF)".into(),
            ));
        }
    }
    if let Err(e) = master_position(conn, server) {
        return Ok(Some(format!(
            "cannot read the binary log position (needs the BINLOG MONITOR or REPLICATION CLIENT privilege): {e:#}"
        )));
    }
    let grants: Vec<String> = conn.rows("reading grants", "SHOW GRANTS FOR CURRENT_USER()")?;
    let can_replicate = grants.iter().any(|g| {
        let g = g.to_ascii_uppercase();
        g.contains(" ON *.*") && (g.contains("ALL PRIVILEGES") || g.contains("REPLICATION SLAVE"))
    });
    if !can_replicate {
        return Ok(Some(
            "the user lacks the REPLICATION SLAVE privilege needed to read the binary log".into(),
        ));
    }
    Ok(None)
}

/// The server's current binary log position
/// ([`crate::topology::binlog_file_position`]); an error when binary
/// logging is off.
pub fn master_position(conn: &mut Conn, server: &Server) -> Result<Position> {
    let (file, pos) = crate::topology::binlog_file_position(conn, server)?.ok_or_else(|| {
        anyhow!(
            "{} returned nothing: is log_bin on?",
            server.binlog_status_sql()
        )
    })?;
    Ok(Position { file, pos })
}

/// Whether `file` is still among the server's binary logs.
pub fn log_exists(conn: &mut Conn, file: &str) -> Result<bool> {
    let rows: Vec<mysql::Row> = conn.rows("listing binary logs", "SHOW BINARY LOGS")?;
    Ok(rows
        .iter()
        .any(|r| conn::cell_text(r, 0).as_deref() == Some(file)))
}

/// A server id for the reader: high, varied per process, never `avoid`.
fn reader_server_id(avoid: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut id = 4_000_000_000u32 + (std::process::id() ^ nanos) % 200_000_000;
    if id == avoid {
        id += 1;
    }
    id
}

/// A rotate event's file name. The server sends the first (fake) rotate
/// event before the format description that says whether events carry a
/// checksum, so its name can end in the 4 checksum bytes: the name is cut
/// after the last `.` followed by at least 6 digits (`mysql-bin.000042`).
/// Searching for that, not for the last `.`, matters: a checksum byte can
/// be a `.` itself (it was, once in CI).
fn log_name(raw: &str) -> String {
    let b = raw.as_bytes();
    let ext = |i: usize| b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    match (0..b.len()).rev().find(|&i| b[i] == b'.' && ext(i) >= 6) {
        Some(dot) => raw[..dot + 1 + ext(dot)].to_string(),
        None => raw.to_string(),
    }
}

/// A running binary log reader for one table.
pub struct Reader {
    rx: Receiver<Result<Item, String>>,
    received: Arc<Mutex<Position>>,
    stop: Arc<AtomicBool>,
    thread_id: u32,
    spec: ConnSpec,
    opts: ConnectOptions,
    handle: Option<std::thread::JoinHandle<()>>,
    failed: Option<String>,
}

fn row_values(row: Option<mysql::binlog::row::BinlogRow>) -> Result<Vec<Value>, String> {
    let Some(row) = row else {
        return Err("a row event lacks an image".into());
    };
    (0..row.len())
        .map(|i| match row.as_ref(i) {
            Some(mysql::binlog::value::BinlogValue::Value(v)) => Ok(v.clone()),
            Some(other) => Value::try_from(other.clone())
                .map_err(|e| format!("column {i}: cannot read its value: {e}")),
            None => Err(format!(
                "column {i} is missing from the row image (binlog_row_image must be FULL)"
            )),
        })
        .collect()
}

impl Reader {
    /// Connects and starts reading `db`.`table`'s changes from `from`.
    pub fn start(
        spec: &ConnSpec,
        opts: &ConnectOptions,
        server: &Server,
        db: &str,
        table: &str,
        from: Position,
    ) -> Result<Reader> {
        let mut c = conn::connect(spec, opts).context("connecting to read the binary log")?;
        if !log_exists(&mut c, &from.file)? {
            bail!(
                "the binary log {} is no longer on the server (purged?): the changes since {from} cannot be read",
                from.file
            );
        }
        if server.flavor == Flavor::MariaDB {
            c.run(
                "binary log session setup",
                "SET @mariadb_slave_capability = 4",
            )?;
        }
        let thread_id = c.connection_id();
        let inner = c.into_inner();
        let request = BinlogRequest::new(reader_server_id(server.server_id))
            .with_filename(from.file.as_bytes().to_vec())
            .with_pos(from.pos);
        let stream = inner
            .get_binlog_stream(request)
            .map_err(|e| conn::db_error("requesting the binary log", &e))?;
        let (tx, rx) = channel();
        let received = Arc::new(Mutex::new(from.clone()));
        let stop = Arc::new(AtomicBool::new(false));
        let (db, table) = (db.to_string(), table.to_string());
        let (rec, st) = (received.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut stream = stream;
            let mut file = from.file.clone();
            // Until the first format description the client library does
            // not know that events carry a checksum (see [`log_name`]).
            let mut described = false;
            while let Some(ev) = stream.next() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        let _ = tx.send(Err(format!(
                            "reading the binary log: {}",
                            conn::error_detail(&e)
                        )));
                        return;
                    }
                };
                let header = ev.header();
                let data = match ev.read_data() {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = tx.send(Err(format!("decoding a binary log event: {e}")));
                        return;
                    }
                };
                let mut item = None;
                match data {
                    Some(EventData::RotateEvent(r)) => {
                        let raw = r.name_raw();
                        let asked = from.file.as_bytes();
                        file =
                            if !described && raw.starts_with(asked) && raw.len() <= asked.len() + 4
                            {
                                // The first (fake) rotate names the log asked
                                // for, its checksum possibly still attached:
                                // a checksum byte can be a digit itself (seen:
                                // `mysql-bin.0000012`).
                                from.file.clone()
                            } else {
                                log_name(&r.name())
                            };
                        let mut g = rec.lock().unwrap_or_else(|p| p.into_inner());
                        *g = Position {
                            file: file.clone(),
                            pos: r.position(),
                        };
                        continue;
                    }
                    Some(EventData::TransactionPayloadEvent(_)) => {
                        // Never skipped: its row events would be lost.
                        let _ = tx.send(Err(
                            "a compressed transaction in the binary log (binlog_transaction_compression, set by a session?): its row changes cannot be read"
                                .to_string(),
                        ));
                        return;
                    }
                    Some(EventData::FormatDescriptionEvent(_)) => described = true,
                    Some(EventData::XidEvent(_)) => item = Some(Item::Commit(Position::default())),
                    Some(EventData::QueryEvent(q))
                        if !q.query().trim().eq_ignore_ascii_case("BEGIN") =>
                    {
                        item = Some(Item::Commit(Position::default()));
                    }
                    Some(EventData::RowsEvent(re)) => {
                        let Some(tme) = stream.get_tme(re.table_id()) else {
                            let _ = tx.send(Err(
                                "a row event without its table map (the reader started mid-transaction)"
                                    .to_string(),
                            ));
                            return;
                        };
                        if tme.database_name() == db.as_str() && tme.table_name() == table.as_str()
                        {
                            let mut changes = Vec::new();
                            for r in re.rows(tme) {
                                let (before, after) = match r {
                                    Ok(x) => x,
                                    Err(e) => {
                                        let _ = tx.send(Err(format!("decoding a row: {e}")));
                                        return;
                                    }
                                };
                                let change = match (&re, before.is_some(), after.is_some()) {
                                    (_, true, true) => row_values(before).and_then(|b| {
                                        row_values(after).map(|a| Change::Update(b, a))
                                    }),
                                    (_, false, true) => row_values(after).map(Change::Insert),
                                    (_, true, false) => row_values(before).map(Change::Delete),
                                    _ => Err("a row event with no image".to_string()),
                                };
                                match change {
                                    Ok(c) => changes.push(c),
                                    Err(e) => {
                                        let _ = tx.send(Err(e));
                                        return;
                                    }
                                }
                            }
                            item = Some(Item::Rows(changes));
                        }
                    }
                    _ => {}
                }
                let end = u64::from(header.log_pos());
                if end == 0 {
                    // MariaDB 11.7+ writes the events inside a transaction
                    // with no end position (`binlog_legacy_event_pos` off):
                    // their changes are handed out, and the position moves
                    // at the transaction's end, which has one.
                    if let Some(it @ Item::Rows(_)) = item {
                        if tx.send(Ok(it)).is_err() {
                            return;
                        }
                    }
                    continue;
                }
                let pos = Position {
                    file: file.clone(),
                    pos: end,
                };
                if let Some(Item::Commit(p)) = &mut item {
                    *p = pos.clone();
                }
                if let Some(it) = item {
                    if tx.send(Ok(it)).is_err() {
                        return;
                    }
                }
                // Published after the event's items are queued: a
                // consumer that sees this position has them all.
                *rec.lock().unwrap_or_else(|p| p.into_inner()) = pos;
            }
            let _ = tx.send(Err("the server ended the binary log stream".to_string()));
        });
        Ok(Reader {
            rx,
            received,
            stop,
            thread_id,
            spec: spec.clone(),
            opts: opts.clone(),
            handle: Some(handle),
            failed: None,
        })
    }

    /// The position up to which every event has been read and its items
    /// queued.
    pub fn received(&self) -> Position {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The next item, waiting at most `wait`; `Ok(None)` when none came.
    pub fn next(&mut self, wait: Duration) -> Result<Option<Item>> {
        if let Some(e) = &self.failed {
            bail!("{e}");
        }
        let got = if wait.is_zero() {
            self.rx.try_recv().map_err(|e| match e {
                std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        } else {
            self.rx.recv_timeout(wait)
        };
        match got {
            Ok(Ok(item)) => Ok(Some(item)),
            Ok(Err(e)) => {
                self.failed = Some(e.clone());
                bail!("{e}")
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                self.failed = Some("the binary log reader stopped".into());
                bail!("the binary log reader stopped")
            }
        }
    }

    /// Waits until every event up to `target` has been read (bounded by
    /// `deadline`).
    pub fn wait_received(&self, target: &Position, deadline: Instant) -> Result<()> {
        let start = Instant::now();
        let mut next_notice = Duration::from_secs(2);
        loop {
            if start.elapsed() >= next_notice {
                log::warn!(
                    "waiting for the binary log reader to reach {target} (it is at {}; {}s)",
                    self.received(),
                    start.elapsed().as_secs()
                );
                next_notice += Duration::from_secs(10);
            }
            if self.received() >= *target {
                return Ok(());
            }
            if let Some(e) = &self.failed {
                bail!("{e}");
            }
            if Instant::now() >= deadline {
                bail!(
                    "the binary log reader did not reach {target} in time (it is at {})",
                    self.received()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the reader: its connection is killed from another one, and the
    /// thread is waited for (at most a few seconds).
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(mut c) = conn::connect(&self.spec, &self.opts) {
            let _ = c.run(
                "stopping the binary log reader",
                &format!("KILL CONNECTION {}", self.thread_id),
            );
        }
        if let Some(h) = self.handle.take() {
            let until = Instant::now() + Duration::from_secs(5);
            while !h.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.handle.is_some() {
            self.stop_inner();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_file_then_offset() {
        let a = Position {
            file: "mysql-bin.000002".into(),
            pos: 4,
        };
        let b = Position {
            file: "mysql-bin.000001".into(),
            pos: 99_999,
        };
        assert!(a > b);
        assert_eq!(a.to_string(), "mysql-bin.000002:4");
        let id = reader_server_id(0);
        assert!(id >= 4_000_000_000);
        assert_ne!(reader_server_id(id), id);
        assert_eq!(log_name("mysql-bin.000001Y`\u{fffd}s"), "mysql-bin.000001");
        assert_eq!(log_name("binlog.000012"), "binlog.000012");
        // A checksum byte that is a dot.
        assert_eq!(
            log_name("mysql-bin.000002\u{fffd}.\u{fffd}"),
            "mysql-bin.000002"
        );
        assert_eq!(log_name("my.host-bin.000003."), "my.host-bin.000003");
    }
}
