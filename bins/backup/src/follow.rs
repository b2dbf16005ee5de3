//! `binlog --follow`: a continuous binary-log archive.
//!
//! The server's own replication client in raw mode (`mariadb-binlog` or
//! MySQL's `mysqlbinlog`, `--read-from-remote-server --raw --stop-never`,
//! the one [`pitr::copy`] runs for closed logs) connects as a replica with
//! a server id of its own and writes the logs byte for byte, event by
//! event, into a private spool directory. This loop walks the spooled log
//! event by event (the 19-byte headers give each event's size) and stores
//! whole events as segments: `binlogs/<server_id>/<log>.<first byte>`,
//! closed every `--segment-seconds` or `--segment-size`, compressed,
//! encrypted like the rest, each with its SHA-256 in the index. The index
//! is written after each segment, so the archive never names bytes that
//! are not stored. A log whose successor appeared in the spool is closed on
//! the server: once all of it is stored it is marked complete and its
//! spool copy removed.
//!
//! Resuming (a restart of the tool, or of the server, or a lost
//! connection) asks for the log of the archive's end from its start, waits
//! until the spool has passed the stored end, and goes on from there: the
//! stored segments are never rewritten. A log purged on the server before
//! it was stored leaves a gap the index shows and a restore across it
//! refuses by name.
//!
//! One follower per server and repository: it holds
//! `binlogs/<server_id>/.follow` (a `flock`, or a lease in an object
//! store) while it runs, and a second one is refused.
//!
//! Lag: a control connection reads the server's position every second.
//! Once the archive's end has passed a position read at time T, the
//! archive held everything the server had written at T; the index records
//! the latest such T (`current.at_unix`), which is what `check
//! --max-archive-lag` compares with the clock (under a steady writer the
//! lag is about a segment's seconds; a dead follower's grows). The GTID of the last
//! whole transaction stored is recorded too, for `restore --until-gtid`.

use crate::crypt::Key;
use crate::pitr::{self, BinlogFile, BinlogIndex, Current, Segment};
use crate::repo::{Repo, StoredWriter};
use anyhow::{bail, Context as _, Result};
use oxkit::binlog::{master_position, Position};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::server::{Flavor, Server};
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the archive is cut and how long a lost server is waited for.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// A segment is closed this long after its first byte arrived.
    pub segment_secs: u64,
    /// ... or once it holds this many bytes.
    pub segment_bytes: u64,
    /// A server that cannot be reached is retried this long.
    pub reconnect_for: Duration,
    /// zstd level.
    pub level: i32,
}

/// What `binlog --follow` did, when it stopped.
#[derive(Clone, Debug, Serialize)]
pub struct FollowReport {
    /// Directory in the repository.
    pub dir: String,
    /// Segments stored by this run.
    pub segments: u64,
    /// Log bytes stored by this run.
    pub bytes: u64,
    /// The archive's end.
    pub archived_to: String,
    /// The GTID of the last whole transaction stored.
    pub last_gtid: Option<String>,
    /// Seconds since the archive last held all the server had written.
    pub lag_secs: Option<u64>,
}

const HEADER: u64 = 19;
const MAGIC: &[u8; 4] = b"\xfebin";
// Event types read while walking.
const QUERY: u8 = 2;
const XID: u8 = 16;
const MYSQL_GTID: u8 = 33;
const XA_PREPARE: u8 = 38;
const MARIADB_GTID: u8 = 162;

/// The log being stored: how far it is stored and how far it is walked.
struct Tail {
    name: String,
    /// Bytes stored.
    stored: u64,
    /// End of the last whole event in the spool.
    walked: u64,
    /// When the spool first held bytes past `stored`.
    pending_since: Option<Instant>,
    /// GTID of the transaction being walked.
    open_gtid: Option<String>,
    /// GTID of the last whole transaction walked, and of the last stored.
    walked_gtid: Option<String>,
}

/// One binary-log event's type and, for the ones that matter here, what
/// it says: a GTID, or whether it ends a transaction.
fn event_kind(flavor: Flavor, head: &[u8], body: &[u8]) -> (Option<String>, bool) {
    let ty = head[4];
    match ty {
        MARIADB_GTID if body.len() >= 12 => {
            let seq = u64::from_le_bytes(body[0..8].try_into().unwrap_or_default());
            let domain = u32::from_le_bytes(body[8..12].try_into().unwrap_or_default());
            let server = u32::from_le_bytes(head[5..9].try_into().unwrap_or_default());
            (Some(format!("{domain}-{server}-{seq}")), false)
        }
        MYSQL_GTID if flavor != Flavor::MariaDB && body.len() >= 25 => {
            let h = oxkit::hex::encode(&body[1..17]);
            let gno = i64::from_le_bytes(body[17..25].try_into().unwrap_or_default());
            (
                Some(format!(
                    "{}-{}-{}-{}-{}:{gno}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )),
                false,
            )
        }
        XID | XA_PREPARE => (None, true),
        QUERY if body.len() >= 13 => {
            // thread id 4, exec time 4, db length 1, error 2, status length 2.
            let db_len = body[8] as usize;
            let status_len = u16::from_le_bytes([body[11], body[12]]) as usize;
            let q = 13 + status_len + db_len + 1;
            let text = body.get(q..).unwrap_or_default();
            (None, !text.starts_with(b"BEGIN"))
        }
        _ => (None, false),
    }
}

impl Tail {
    fn new(name: String, stored: u64, gtid: Option<String>) -> Tail {
        Tail {
            name,
            stored,
            walked: stored.max(MAGIC.len() as u64),
            pending_since: None,
            open_gtid: None,
            walked_gtid: gtid,
        }
    }

    /// Walks the whole events spooled past `walked`.
    fn walk(&mut self, path: &Path, flavor: Flavor) -> Result<u64> {
        let Ok(mut f) = std::fs::File::open(path) else {
            return Ok(0);
        };
        let len = f.metadata()?.len();
        if len < MAGIC.len() as u64 {
            return Ok(len);
        }
        if self.stored == 0 && self.walked == MAGIC.len() as u64 {
            let mut m = [0u8; 4];
            f.read_exact(&mut m)?;
            if &m != MAGIC {
                bail!("{}: not a binary log (no magic number)", path.display());
            }
        }
        let mut head = [0u8; HEADER as usize];
        while self.walked + HEADER <= len {
            f.seek(SeekFrom::Start(self.walked))?;
            f.read_exact(&mut head)?;
            let size = u64::from(u32::from_le_bytes(
                head[9..13].try_into().unwrap_or_default(),
            ));
            if size < HEADER {
                bail!(
                    "{}: an event at byte {} claims {size} bytes: the spooled log is damaged",
                    self.name,
                    self.walked
                );
            }
            if self.walked + size > len {
                break;
            }
            if matches!(
                head[4],
                QUERY | XID | MYSQL_GTID | XA_PREPARE | MARIADB_GTID
            ) {
                let mut body = vec![0u8; (size - HEADER).min(4096) as usize];
                f.read_exact(&mut body)?;
                match event_kind(flavor, &head, &body) {
                    (Some(g), _) => self.open_gtid = Some(g),
                    (None, true) => {
                        if let Some(g) = self.open_gtid.take() {
                            self.walked_gtid = Some(g);
                        }
                    }
                    _ => {}
                }
            }
            self.walked += size;
        }
        Ok(len)
    }
}

/// The running replication client.
struct Client {
    child: Child,
    err_path: PathBuf,
}

impl Client {
    /// Ends it (by its PID) and waits for it.
    fn end(self) {
        drop(self);
    }

    /// Why it ended, if it did.
    fn ended(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let err = std::fs::read_to_string(&self.err_path).unwrap_or_default();
        Some(format!("{status}: {}", err.trim()))
    }
}

impl Drop for Client {
    /// The client never outlives the follower, whatever ends it.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server id for the replication client: high, fixed for the run (a
/// reconnect with the same id ends the server's stale dump thread).
fn client_server_id(avoid: u32) -> u32 {
    let id = 4_200_000_000u32 + std::process::id() % 90_000_000;
    if id == avoid {
        id + 1
    } else {
        id
    }
}

/// Where the archive resumes: the log to ask for and how much of it is
/// stored. A log gone from the server before it was stored is a gap,
/// said on stderr (a restore across it refuses by name).
fn start_point(c: &mut Conn, index: &BinlogIndex) -> Result<(String, u64)> {
    let rows: Vec<mysql::Row> = c.rows("listing binary logs", "SHOW BINARY LOGS")?;
    let logs: Vec<String> = rows.iter().filter_map(|r| conn::cell_text(r, 0)).collect();
    let Some(first) = logs.first() else {
        bail!("{}: SHOW BINARY LOGS lists no log", c.label());
    };
    let Some(last) = index.files.last() else {
        return Ok((first.clone(), 0));
    };
    if !last.complete && logs.contains(&last.name) {
        return Ok((last.name.clone(), last.end()));
    }
    let next = logs.iter().find(|l| **l > last.name).cloned();
    let Some(next) = next else {
        bail!(
            "{}: the server lists no binary log after {} (the archive's end): is this the server the archive came from?",
            c.label(),
            last.name
        );
    };
    if !last.complete {
        log::warn!(
            "binary log {} is gone from the server with only {} bytes of it archived: the archive has a gap up to {next}",
            last.name,
            last.end()
        );
    }
    Ok((next, 0))
}

/// Runs the archive until Ctrl-C or SIGTERM, or until the server stays
/// unreachable for `reconnect_for`.
pub fn follow(
    ctx: &oxkit::entry::Context,
    repo: &Repo,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    key_file: Option<&Path>,
    opts: &FollowOptions,
) -> Result<FollowReport> {
    let mut c = conn::connect(spec, copts)?;
    let server = Server::detect(&mut c)?;
    if !server.log_bin {
        bail!("{}: the binary log is off; nothing to archive", c.label());
    }
    let d = pitr::dir(server.server_id);
    let dir_name = pitr::dir_name(repo, server.server_id);
    // One follower per server and repository.
    let mark = repo.claim_mark(&format!("{d}/.follow"))?.ok_or_else(|| {
        anyhow::anyhow!(
            "another `binlog --follow` is archiving server {} into {dir_name} (it holds {dir_name}/.follow)",
            server.server_id
        )
    })?;
    let mut index = pitr::load_index(repo, server.server_id)?;
    index.server_id = server.server_id;
    let key = pitr::index_key(repo, &mut index, key_file)?;
    // The spooled logs in `logs/`, the client's stderr beside them.
    let work = tempfile::Builder::new()
        .prefix("oxkfollow")
        .tempdir()
        .context("creating the spool directory")?;
    let spool = work.path().join("logs");
    std::fs::create_dir(&spool).with_context(|| format!("creating {}", spool.display()))?;
    let client_id = client_server_id(server.server_id);
    let mut f = Follower {
        ctx,
        repo,
        spec,
        server: &server,
        index,
        key,
        d,
        spool,
        opts,
        client_id,
        segments: 0,
        bytes: 0,
        tail: None,
        first: None,
        last_saved: Instant::now(),
    };
    let r = f.run(c, copts);
    mark.finish();
    let (file, pos) = f
        .tail
        .as_ref()
        .map_or((String::new(), 0), |t| (t.name.clone(), t.stored));
    let report = FollowReport {
        dir: dir_name,
        segments: f.segments,
        bytes: f.bytes,
        archived_to: format!("{file}:{pos}"),
        last_gtid: f.index.current.as_ref().and_then(|c| c.last_gtid.clone()),
        lag_secs: f
            .index
            .current
            .as_ref()
            .map(|c| crate::manifest::now_unix().saturating_sub(c.at_unix)),
    };
    r.map(|()| report)
}

struct Follower<'a> {
    ctx: &'a oxkit::entry::Context,
    repo: &'a Repo,
    spec: &'a ConnSpec,
    server: &'a Server,
    index: BinlogIndex,
    key: Option<Key>,
    d: String,
    spool: PathBuf,
    opts: &'a FollowOptions,
    client_id: u32,
    segments: u64,
    bytes: u64,
    tail: Option<Tail>,
    /// The first log this run stored into: the index entries from it on
    /// are this run's.
    first: Option<String>,
    last_saved: Instant,
}

impl Follower<'_> {
    fn run(&mut self, mut control: Conn, copts: &ConnectOptions) -> Result<()> {
        let mut client = Some(self.start(&mut control)?);
        let mut control = Some(control);
        let mut lost: Option<(Instant, String)> = None;
        let mut next_poll = Instant::now();
        let mut next_line = Instant::now() + Duration::from_secs(60);
        let mut server_pos: Option<Position> = None;
        let mut poll_failing = false;
        let mut polls: std::collections::VecDeque<(Position, u64)> = Default::default();
        loop {
            let stopping = self.ctx.cancel.is_cancelled();
            self.store_spooled(stopping)?;
            if stopping {
                if let Some(c) = client.take() {
                    c.end();
                }
                self.store_spooled(true)?;
                self.save()?;
                return Ok(());
            }
            // The client ended: the server went away, or the connection.
            if let Some(why) = client.as_mut().and_then(Client::ended) {
                client = None;
                control = None;
                let t = self.tail_text();
                log::warn!(
                    "the binary log stream from {} ended ({why}); the archive is at {t}; reconnecting",
                    self.spec_label()
                );
                lost.get_or_insert((Instant::now(), why));
            }
            if client.is_none() {
                let (since, why) = lost.clone().unwrap_or((Instant::now(), String::new()));
                if since.elapsed() > self.opts.reconnect_for {
                    self.save()?;
                    bail!(
                        "gave up reconnecting to {} after {} s (last: {why}); the archive ends at {}",
                        self.spec_label(),
                        self.opts.reconnect_for.as_secs(),
                        self.tail_text()
                    );
                }
                match self.reconnect(copts) {
                    Ok((c, cl)) => {
                        log::warn!(
                            "reconnected to {}; archiving from {}",
                            self.spec_label(),
                            self.tail_text()
                        );
                        control = Some(c);
                        client = Some(cl);
                        lost = None;
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        log::warn!(
                            "{}: unreachable for {} s, retrying every 2 s, giving up after {} s: {why}",
                            self.spec_label(),
                            since.elapsed().as_secs(),
                            self.opts.reconnect_for.as_secs()
                        );
                        lost = Some((since, why));
                        self.sleep(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + Duration::from_secs(1);
                // Only a position read now counts: a lost control
                // connection is opened again, never a stale one reused.
                let read = match control.as_mut() {
                    Some(c) => master_position(c, self.server).map_err(|e| format!("{e:#}")),
                    None => Err("no connection".into()),
                };
                match read {
                    Ok(p) => {
                        polls.push_back((p.clone(), crate::manifest::now_unix()));
                        server_pos = Some(p);
                        poll_failing = false;
                    }
                    Err(why) => {
                        // Bounded by the connect timeout; said once per
                        // run of failures, the lag frozen meanwhile.
                        if !poll_failing {
                            log::warn!(
                                "reading {}'s position failed ({why}); reconnecting for position reads (each attempt bounded by the connect timeout), the archive's 'current' time does not move meanwhile",
                                self.spec_label()
                            );
                        }
                        poll_failing = true;
                        control = conn::connect(self.spec, copts).ok();
                    }
                }
                // The newest poll whose position is stored: the archive
                // held everything the server had written at that time.
                let mut reached = None;
                while let (Some((p, at)), Some(t)) = (polls.front(), &self.tail) {
                    if (t.name.as_str(), t.stored) < (p.file.as_str(), p.pos) {
                        break;
                    }
                    reached = Some(*at);
                    polls.pop_front();
                }
                if polls.len() > 3600 {
                    polls.pop_front();
                }
                if let Some(at) = reached {
                    self.mark_current(at);
                }
                if self.last_saved.elapsed() >= Duration::from_secs(10) {
                    self.save()?;
                }
            }
            if Instant::now() >= next_line {
                next_line = Instant::now() + Duration::from_secs(60);
                let lag = self.lag();
                let line = format!(
                    "archive at {} (last GTID {}), server at {}, current {} ago",
                    self.tail_text(),
                    self.index
                        .current
                        .as_ref()
                        .and_then(|c| c.last_gtid.as_deref())
                        .unwrap_or("-"),
                    server_pos.as_ref().map_or("?".into(), |p| p.to_string()),
                    lag.map_or("never".into(), |l| format!("{l} s"))
                );
                if lag.is_none_or(|l| l > 60) {
                    log::warn!("{line}");
                } else {
                    log::info!("{line}");
                }
            }
            self.sleep(Duration::from_millis(200));
        }
    }

    fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.ctx.cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spec_label(&self) -> String {
        oxkit::dsn::label(self.spec)
    }

    fn tail_text(&self) -> String {
        self.tail
            .as_ref()
            .map_or("the start".into(), |t| format!("{}:{}", t.name, t.stored))
    }

    fn lag(&self) -> Option<u64> {
        self.index
            .current
            .as_ref()
            .map(|c| crate::manifest::now_unix().saturating_sub(c.at_unix))
    }

    /// Connects again, checks it is the same server, and starts a client.
    fn reconnect(&mut self, copts: &ConnectOptions) -> Result<(Conn, Client)> {
        let mut c = conn::connect(self.spec, copts)?;
        let s = Server::detect(&mut c)?;
        if s.server_id != self.server.server_id {
            bail!(
                "{} now has server id {} (the archive follows {}): another server answers at this address",
                c.label(),
                s.server_id,
                self.server.server_id
            );
        }
        let cl = self.start(&mut c)?;
        Ok((c, cl))
    }

    /// Starts the replication client at the archive's end.
    fn start(&mut self, c: &mut Conn) -> Result<Client> {
        let (name, stored) = start_point(c, &self.index)?;
        // The spool restarts from the start of that log.
        for e in std::fs::read_dir(&self.spool)?.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        let gtid = self
            .index
            .current
            .as_ref()
            .and_then(|c| c.last_gtid.clone());
        if !self.index.files.iter().any(|f| f.name == name) {
            self.index.files.push(BinlogFile {
                name: name.clone(),
                stored: None,
                segments: Vec::new(),
                complete: false,
            });
        }
        self.tail = Some(Tail::new(name.clone(), stored, gtid));
        if self.first.as_ref().is_none_or(|f| name < *f) {
            self.first = Some(name.clone());
        }
        let (flavor, version) = (self.server.flavor, self.server.version);
        let mut cmd: Command = pitr::program(flavor, version, "binlog")?;
        let id_arg = if flavor == Flavor::MariaDB {
            "--stop-never-slave-server-id"
        } else {
            "--connection-server-id"
        };
        let err_path = self.spool.with_file_name("client.err");
        let err = std::fs::File::create(&err_path)
            .with_context(|| format!("creating {}", err_path.display()))?;
        cmd.args(pitr::client_args(self.spec))
            .arg("--read-from-remote-server")
            .arg("--raw")
            .arg("--stop-never")
            .arg(format!("{id_arg}={}", self.client_id))
            .arg(format!("--result-file={}/", self.spool.display()))
            .arg(&name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        pitr::with_password(&mut cmd, self.spec);
        let child = cmd
            .spawn()
            .with_context(|| format!("running {:?}", cmd.get_program()))?;
        log::info!(
            "following the binary log of {} from {name} (archived to byte {stored}), spooling in {}",
            c.label(),
            self.spool.display()
        );
        Ok(Client { child, err_path })
    }

    /// Stores what the spool holds: a segment of the tail log when it is
    /// due (or `all`), and the tail log closed once its successor appears.
    fn store_spooled(&mut self, all: bool) -> Result<()> {
        loop {
            let Some(t) = self.tail.as_mut() else {
                return Ok(());
            };
            let path = self.spool.join(&t.name);
            let len = t.walk(&path, self.server.flavor)?;
            let successor = std::fs::read_dir(&self.spool)?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| *n > t.name)
                .min();
            if t.walked > t.stored {
                t.pending_since.get_or_insert_with(Instant::now);
            }
            let due = t.walked > t.stored
                && (all
                    || successor.is_some()
                    || t.walked - t.stored >= self.opts.segment_bytes
                    || t.pending_since.is_some_and(|s| {
                        s.elapsed() >= Duration::from_secs(self.opts.segment_secs)
                    }));
            if due {
                self.cut(&path)?;
                continue;
            }
            let Some(next) = successor else {
                return Ok(());
            };
            // The spool is still below the stored end (a resumed log is
            // fetched from its start), or it is not all stored yet.
            if len < t.stored.max(MAGIC.len() as u64) || t.stored < t.walked {
                return Ok(());
            }
            if t.walked < len {
                bail!(
                    "binary log {} ends with {} bytes that are not a whole event, and {next} follows",
                    t.name,
                    len - t.walked
                );
            }
            // The log is closed and all of it is stored.
            let name = t.name.clone();
            let gtid = t.walked_gtid.clone();
            if let Some(f) = self.index.files.iter_mut().find(|f| f.name == name) {
                f.complete = true;
            }
            let _ = std::fs::remove_file(&path);
            self.index.files.push(BinlogFile {
                name: next.clone(),
                stored: None,
                segments: Vec::new(),
                complete: false,
            });
            self.tail = Some(Tail::new(next, 0, gtid));
            self.save()?;
        }
    }

    /// Stores the tail's walked bytes past what is stored as a segment.
    fn cut(&mut self, path: &Path) -> Result<()> {
        let Some(t) = self.tail.as_mut() else {
            return Ok(());
        };
        let (start, end) = (t.stored, t.walked);
        let rel = format!(
            "{}.{start:012}.zst{}",
            t.name,
            if self.key.is_some() { ".enc" } else { "" }
        );
        let k = format!("{}/{rel}", self.d);
        let mut f =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        f.seek(SeekFrom::Start(start))?;
        let store = self.repo.store().as_ref();
        let mut w =
            StoredWriter::create(store, &k, &rel, self.opts.level, self.key.as_ref(), None)?;
        let n = std::io::copy(&mut f.take(end - start), &mut w)
            .with_context(|| format!("storing {} bytes {start}..{end}", t.name))?;
        if n != end - start {
            bail!("{}: the spooled log shrank while it was stored", t.name);
        }
        let stored = w.finish()?;
        let name = t.name.clone();
        t.stored = end;
        t.pending_since = None;
        let gtid = t.walked_gtid.clone();
        let Some(file) = self.index.files.iter_mut().find(|f| f.name == name) else {
            bail!("binary log {name} is not in the archive's index");
        };
        file.segments.push(Segment { start, end, stored });
        self.segments += 1;
        self.bytes += end - start;
        let cur = self.index.current.get_or_insert_with(Current::default);
        cur.file = name;
        cur.pos = end;
        cur.last_gtid = gtid;
        self.save()
    }

    /// The archive holds all the server had written at unix time `at`.
    fn mark_current(&mut self, at: u64) {
        let Some(t) = &self.tail else { return };
        let cur = self.index.current.get_or_insert_with(Current::default);
        cur.at_unix = at;
        cur.file = t.name.clone();
        cur.pos = t.stored;
    }

    /// Writes the index: the logs from the first this run stored into on
    /// are this run's; older ones are taken as the repository has them now
    /// (`expire` may have removed some meanwhile).
    fn save(&mut self) -> Result<()> {
        self.last_saved = Instant::now();
        if let Some(first) = self.first.clone() {
            let on_store = pitr::load_index(self.repo, self.server.server_id)?;
            let mut files: Vec<BinlogFile> = on_store
                .files
                .into_iter()
                .filter(|f| f.name < first)
                .collect();
            files.extend(self.index.files.iter().filter(|f| f.name >= first).cloned());
            self.index.files = files;
        }
        pitr::save_index(self.repo, &self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_and_transaction_ends_are_read_from_events() {
        let mut head = [0u8; 19];
        head[4] = MARIADB_GTID;
        head[5..9].copy_from_slice(&7u32.to_le_bytes());
        let mut body = Vec::new();
        body.extend_from_slice(&42u64.to_le_bytes());
        body.extend_from_slice(&3u32.to_le_bytes());
        body.push(0);
        assert_eq!(
            event_kind(Flavor::MariaDB, &head, &body),
            (Some("3-7-42".into()), false)
        );
        head[4] = MYSQL_GTID;
        let mut body = vec![1u8];
        body.extend_from_slice(&[0xab; 16]);
        body.extend_from_slice(&9i64.to_le_bytes());
        assert_eq!(
            event_kind(Flavor::MySQL, &head, &body).0.as_deref(),
            Some("abababab-abab-abab-abab-abababababab:9")
        );
        head[4] = QUERY;
        let mut q = vec![0u8; 8];
        q.push(1); // db length
        q.extend_from_slice(&[0, 0]);
        q.extend_from_slice(&2u16.to_le_bytes());
        q.extend_from_slice(&[9, 9]); // status vars
        q.extend_from_slice(b"d\0");
        let mut begin = q.clone();
        begin.extend_from_slice(b"BEGIN");
        let mut ddl = q;
        ddl.extend_from_slice(b"CREATE TABLE x (i INT)");
        assert_eq!(event_kind(Flavor::MariaDB, &head, &begin), (None, false));
        assert_eq!(event_kind(Flavor::MariaDB, &head, &ddl), (None, true));
        head[4] = XID;
        assert_eq!(event_kind(Flavor::MySQL, &head, &[0; 8]), (None, true));
    }
}
