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

/// The file name in the first (fake) rotate event, which the server sends
/// before the format description that tells the client library whether
/// events carry a checksum. It names the log the reader asked for, but
/// MariaDB checksums it (its raw name then ends in 4 checksum bytes, any of
/// which can be a digit or a dot) and MySQL does not: the asked name is
/// taken when the raw name starts with it. Later rotate events come after a
/// format description, and the library strips their checksum itself.
fn first_rotate_name(raw: &[u8], asked: &str) -> String {
    if raw.starts_with(asked.as_bytes()) {
        asked.to_string()
    } else {
        String::from_utf8_lossy(raw).into_owned()
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

/// The reader thread: decodes the stream's events and queues the table's
/// changes and the commits.
struct Events {
    tx: std::sync::mpsc::Sender<Result<Item, String>>,
    received: Arc<Mutex<Position>>,
    stop: Arc<AtomicBool>,
    db: String,
    table: String,
    /// The log being read.
    file: String,
    /// A format description was read: until then the client library does
    /// not know that events carry a checksum (see [`first_rotate_name`]).
    described: bool,
}

impl Events {
    /// Reads until told to stop, the consumer is gone, or an error (which
    /// is queued for the consumer).
    fn run(mut self, mut stream: mysql::BinlogStream) {
        let tx = self.tx.clone();
        while let Some(ev) = stream.next() {
            if self.stop.load(Ordering::SeqCst) {
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
            match self.event(&stream, &ev) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        let _ = tx.send(Err("the server ended the binary log stream".to_string()));
    }

    /// Handles one event; false when the consumer is gone.
    fn event(
        &mut self,
        stream: &mysql::BinlogStream,
        ev: &mysql::binlog::events::Event,
    ) -> Result<bool, String> {
        let header = ev.header();
        let data = ev
            .read_data()
            .map_err(|e| format!("decoding a binary log event: {e}"))?;
        let mut item = None;
        match data {
            Some(EventData::RotateEvent(r)) => {
                self.file = if self.described {
                    r.name().into_owned()
                } else {
                    first_rotate_name(r.name_raw(), &self.file)
                };
                *self.received.lock().unwrap_or_else(|p| p.into_inner()) = Position {
                    file: self.file.clone(),
                    pos: r.position(),
                };
                return Ok(true);
            }
            Some(EventData::TransactionPayloadEvent(_)) => {
                // Never skipped: its row events would be lost.
                return Err("a compressed transaction in the binary log (binlog_transaction_compression, set by a session?): its row changes cannot be read".to_string());
            }
            Some(EventData::FormatDescriptionEvent(_)) => self.described = true,
            Some(EventData::XidEvent(_)) => item = Some(Item::Commit(Position::default())),
            Some(EventData::QueryEvent(q)) if !q.query().trim().eq_ignore_ascii_case("BEGIN") => {
                item = Some(Item::Commit(Position::default()));
            }
            Some(EventData::RowsEvent(re)) => {
                let Some(tme) = stream.get_tme(re.table_id()) else {
                    return Err(
                        "a row event without its table map (the reader started mid-transaction)"
                            .to_string(),
                    );
                };
                if tme.database_name() == self.db.as_str()
                    && tme.table_name() == self.table.as_str()
                {
                    item = Some(Item::Rows(row_changes(&re, tme)?));
                }
            }
            _ => {}
        }
        let end = u64::from(header.log_pos());
        if end == 0 {
            // MariaDB 11.7+ writes the events inside a transaction with no
            // end position (`binlog_legacy_event_pos` off): their changes
            // are handed out, and the position moves at the transaction's
            // end, which has one.
            if let Some(it @ Item::Rows(_)) = item {
                return Ok(self.tx.send(Ok(it)).is_ok());
            }
            return Ok(true);
        }
        let pos = Position {
            file: self.file.clone(),
            pos: end,
        };
        if let Some(Item::Commit(p)) = &mut item {
            *p = pos.clone();
        }
        if let Some(it) = item {
            if self.tx.send(Ok(it)).is_err() {
                return Ok(false);
            }
        }
        // Published after the event's items are queued: a consumer that
        // sees this position has them all.
        *self.received.lock().unwrap_or_else(|p| p.into_inner()) = pos;
        Ok(true)
    }
}

/// The row changes of one rows event.
fn row_changes(
    re: &mysql::binlog::events::RowsEventData<'_>,
    tme: &mysql::binlog::events::TableMapEvent<'_>,
) -> Result<Vec<Change>, String> {
    let mut changes = Vec::new();
    for r in re.rows(tme) {
        let (before, after) = r.map_err(|e| format!("decoding a row: {e}"))?;
        changes.push(match (before.is_some(), after.is_some()) {
            (true, true) => Change::Update(row_values(before)?, row_values(after)?),
            (false, true) => Change::Insert(row_values(after)?),
            (true, false) => Change::Delete(row_values(before)?),
            _ => return Err("a row event with no image".to_string()),
        });
    }
    Ok(changes)
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
        let events = Events {
            tx,
            received: received.clone(),
            stop: stop.clone(),
            db: db.to_string(),
            table: table.to_string(),
            file: from.file.clone(),
            described: false,
        };
        let handle = std::thread::spawn(move || events.run(stream));
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
        let asked = "mysql-bin.000001";
        assert_eq!(first_rotate_name(b"mysql-bin.000001Y`\xffs", asked), asked);
        // Checksum bytes that are a digit or a dot (MariaDB).
        assert_eq!(
            first_rotate_name(b"mysql-bin.0000012\xff.\xff", asked),
            asked
        );
        // No checksum (MySQL).
        assert_eq!(first_rotate_name(b"mysql-bin.000001", asked), asked);
    }
}
