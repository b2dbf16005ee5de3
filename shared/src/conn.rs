//! Connecting: transport choice, TLS, timeouts, session setup, typed errors.
//!
//! Invariants every tool can rely on once [`connect`] returns: the session
//! uses utf8mb4 (or the charset asked for), `time_zone='+00:00'`, a known
//! `sql_mode` without `ANSI_QUOTES` and with `NO_AUTO_VALUE_ON_ZERO`, and
//! bounded lock waits. Errors a caller branches on (access denied,
//! unreachable, lost connection, lock wait timeout, deadlock, interrupted)
//! are classified by [`ErrorKind`]; their text never holds the password and
//! never the client library's debug wrappers (`CodecError { .. }`): see
//! [`error_detail`].
//!
//! # What bounds what
//!
//! The client library applies `tcp_connect_timeout` to the TCP connect
//! alone (the SYN being answered), and one socket read/write timeout to
//! every read and write for the life of the connection, the handshake
//! included. A server that accepts the TCP connection and then says nothing
//! (hung, swapping, a proxy in front of a dead backend) therefore held a
//! tool for the whole read timeout, 15 minutes. [`connect`] runs all of
//! connecting (name resolution, TCP, greeting, TLS, authentication, session
//! setup) on a helper thread and waits for it at most `connect_timeout`
//! (and a 0.3 s margin), with one deadline shared by every step and every
//! attempt (the
//! TLS-then-plain retry of `PREFERRED` included), so retries never multiply
//! the limit. The library's own TCP timeout is given the remaining budget
//! and reports a moment before the overall limit, which is how the message
//! can say which step did not answer. The read timeout cannot be short for
//! the handshake and long afterwards: the library sets it once, and changing
//! it later needs the raw socket (unsafe code). So an abandoned attempt's
//! thread lingers until the peer answers or closes or the read timeout ends;
//! it holds one socket, nothing else, and closes its connection if it ever
//! completes.
//!
//! Established connections: a legitimately long statement (a chunk on a
//! loaded server, a lock wait, an ALTER) must not be cut, so the read
//! timeout stays long ([`ConnectOptions::read_timeout`], 15 minutes, the
//! last resort against a server that is alive but hung). A peer that has
//! gone (host down, network partition, a firewall that dropped the state)
//! is found much sooner by TCP keepalive (first probe after
//! [`KEEPALIVE_IDLE`] of silence, then every [`KEEPALIVE_INTERVAL`],
//! [`KEEPALIVE_PROBES`] tries) and `TCP_USER_TIMEOUT` (sent data left
//! unacknowledged for [`USER_TIMEOUT`]), about a minute either way: both
//! fire only when the peer's kernel stops answering, never because a query
//! is slow. (A Unix socket needs neither: when its peer dies, the kernel
//! closes it.)
//!
//! Ctrl-C: every open connection's socket is registered, and
//! [`interrupt_io`] (called by [`crate::entry`] when a tool has not stopped
//! soon after a signal) shuts them down, so a read blocked in the client
//! library returns at once with an error, and it abandons connects in
//! progress. Connections opened after it (a tool's cleanup) are untouched.

use crate::dsn::{self, ConnSpec, SslMode};
use crate::sql::quote_str;
use mysql::prelude::Queryable;
use mysql::{OptsBuilder, SslOpts};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Silence on an idle TCP connection before the first keepalive probe.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Time between unanswered keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes after which the connection is dropped.
pub const KEEPALIVE_PROBES: u32 = 3;
/// How long sent data may stay unacknowledged before the kernel drops the
/// connection (`TCP_USER_TIMEOUT`): the same minute keepalive allows.
pub const USER_TIMEOUT: Duration = Duration::from_secs(60);
/// Extra wait, after the connect budget, for the client library's own TCP
/// timeout (given the same deadline) to report: its error names the step.
const CONNECT_SLACK: Duration = Duration::from_millis(300);
/// How often a waiting [`connect`] looks at [`interrupt_io`].
const CONNECT_POLL: Duration = Duration::from_millis(50);

/// Socket paths tried, in order, when `localhost` is asked for and no socket
/// was configured (Debian/Ubuntu, Red Hat, source builds).
pub const DEFAULT_SOCKETS: &[&str] = &[
    "/run/mysqld/mysqld.sock",
    "/var/run/mysqld/mysqld.sock",
    "/var/lib/mysql/mysql.sock",
    "/tmp/mysql.sock",
];

/// Session variables set right after connecting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// `sql_mode` for the session.
    pub sql_mode: String,
    /// Seconds a row lock may be waited for (`innodb_lock_wait_timeout`).
    pub innodb_lock_wait_timeout: u32,
    /// Seconds a metadata lock may be waited for (`lock_wait_timeout`).
    pub lock_wait_timeout: u32,
    /// Seconds an idle session lives (`wait_timeout`).
    pub wait_timeout: u32,
    /// `--set-vars` additions, applied last (they win).
    pub extra_vars: Vec<(String, String)>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            sql_mode: "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION,STRICT_ALL_TABLES".to_string(),
            innodb_lock_wait_timeout: 10,
            lock_wait_timeout: 60,
            wait_timeout: 10000,
            extra_vars: Vec::new(),
        }
    }
}

/// Timeouts and session setup for [`connect`].
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// Limit on all of connecting: name lookup, TCP, handshake, TLS,
    /// login and session setup (see the module documentation).
    pub connect_timeout: Duration,
    /// Limit on one socket read (not on a whole query): the last resort
    /// against a server that is alive but never answers; keep it longer
    /// than any one statement may legitimately run.
    pub read_timeout: Option<Duration>,
    /// Limit on one socket write.
    pub write_timeout: Option<Duration>,
    /// Session variables.
    pub session: SessionOptions,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(900)),
            write_timeout: Some(Duration::from_secs(900)),
            session: SessionOptions::default(),
        }
    }
}

/// Parses `--set-vars`: `a=1,b='x'`. Names are checked; values are quoted
/// unless numeric, so the list cannot inject SQL.
pub fn parse_set_vars(s: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--set-vars: {item:?} is not var=value"))?;
        let k = k.trim();
        let v = v.trim().trim_matches(|c| c == '\'' || c == '"');
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            anyhow::bail!("--set-vars: {k:?} is not a variable name");
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

fn var_literal(v: &str) -> String {
    if !v.is_empty() && v.parse::<f64>().is_ok() {
        v.to_string()
    } else if v.eq_ignore_ascii_case("on")
        || v.eq_ignore_ascii_case("off")
        || v.eq_ignore_ascii_case("default")
    {
        v.to_ascii_uppercase()
    } else {
        quote_str(v)
    }
}

/// What kind of failure a database error is, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ErrorKind {
    /// Wrong user/password, or no privilege on the database.
    AccessDenied,
    /// Nothing answered: refused, timed out, no such socket, unknown host.
    Unreachable,
    /// The connection broke during use.
    LostConnection,
    /// `innodb_lock_wait_timeout` or `lock_wait_timeout` expired (retryable).
    LockWaitTimeout,
    /// Chosen as a deadlock victim (retryable).
    Deadlock,
    /// The query was killed or interrupted.
    Interrupted,
    /// The database does not exist.
    UnknownDatabase,
    /// The table does not exist.
    UnknownTable,
    /// TLS was required but could not be set up.
    Tls,
    /// The server is a flavour or version the tools do not support.
    Unsupported,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// True for errors that a retry of the same statement may cure.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::LockWaitTimeout | ErrorKind::Deadlock)
    }
}

/// A classified database error with the target it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// The classification.
    pub kind: ErrorKind,
    /// The server error code, when the server sent one.
    pub code: Option<u16>,
    /// One line: what, where, why.
    pub message: String,
}

/// Classifies an error from the client library.
pub fn classify(e: &mysql::Error) -> (ErrorKind, Option<u16>) {
    use mysql::{DriverError, Error};
    use std::io::ErrorKind as Io;
    match e {
        Error::MySqlError(m) => {
            let kind = match m.code {
                1044 | 1045 | 1142 | 1143 | 1227 | 1698 => ErrorKind::AccessDenied,
                1049 => ErrorKind::UnknownDatabase,
                1146 => ErrorKind::UnknownTable,
                1205 => ErrorKind::LockWaitTimeout,
                1213 => ErrorKind::Deadlock,
                1317 | 1927 | 3024 | 1969 => ErrorKind::Interrupted,
                1053 | 2006 | 2013 => ErrorKind::LostConnection,
                _ => ErrorKind::Other,
            };
            (kind, Some(m.code))
        }
        Error::IoError(io) => {
            let kind = match io.kind() {
                Io::ConnectionRefused
                | Io::TimedOut
                | Io::NotFound
                | Io::HostUnreachable
                | Io::NetworkUnreachable
                | Io::AddrNotAvailable
                | Io::PermissionDenied => ErrorKind::Unreachable,
                _ => ErrorKind::LostConnection,
            };
            (kind, None)
        }
        Error::DriverError(d) => {
            let kind = match d {
                DriverError::ConnectTimeout | DriverError::CouldNotConnect(_) => {
                    ErrorKind::Unreachable
                }
                DriverError::TlsNotSupported => ErrorKind::Tls,
                DriverError::PacketOutOfSync | DriverError::Timeout => ErrorKind::LostConnection,
                _ => ErrorKind::Other,
            };
            (kind, None)
        }
        Error::TlsError(_) => (ErrorKind::Tls, None),
        // Reading or writing packets on an open connection failed.
        Error::CodecError(mysql::mysql_common::proto::codec::error::PacketCodecError::Io(_)) => {
            (ErrorKind::LostConnection, None)
        }
        _ => (ErrorKind::Other, None),
    }
}

/// A few words for `kind`, as used in [`db_error`] messages (`access denied`).
pub fn describe(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => "access denied",
        ErrorKind::Unreachable => "server unreachable",
        ErrorKind::LostConnection => "lost connection",
        ErrorKind::LockWaitTimeout => "lock wait timeout",
        ErrorKind::Deadlock => "deadlock",
        ErrorKind::Interrupted => "query interrupted",
        ErrorKind::UnknownDatabase => "unknown database",
        ErrorKind::UnknownTable => "unknown table",
        ErrorKind::Tls => "TLS failure",
        ErrorKind::Unsupported => "unsupported server",
        ErrorKind::Other => "error",
    }
}

/// The words of a client-library error without the library's wrapper
/// (`ERROR 1146 (42S02): Table 't.x' doesn't exist`, not
/// `MySqlError { ERROR 1146 ... }`; `the server did not answer within the
/// read timeout`, not `CodecError { IO error: ... }`), secrets redacted.
pub fn error_detail(e: &mysql::Error) -> String {
    use mysql::mysql_common::proto::codec::error::PacketCodecError;
    use mysql::{DriverError, Error};
    let text = match e {
        Error::MySqlError(m) => m.to_string(),
        Error::DriverError(DriverError::ConnectTimeout) => {
            "no answer to the TCP connection (host down, or packets dropped by a firewall)"
                .to_string()
        }
        Error::DriverError(DriverError::CouldNotConnect(Some((_, desc, _)))) => lower_first(desc),
        Error::DriverError(d) => d.to_string(),
        Error::IoError(io) => io_words(io),
        Error::CodecError(PacketCodecError::Io(io)) => io_words(io),
        Error::CodecError(PacketCodecError::PacketTooLarge) => {
            "a packet was larger than max_allowed_packet".to_string()
        }
        Error::CodecError(c) => lower_first(&c.to_string()),
        Error::TlsError(t) => format!("TLS: {t}"),
        Error::UrlError(u) => u.to_string(),
        other => other.to_string(),
    };
    crate::secret::redact(&text)
        .trim()
        .trim_end_matches('.')
        .to_string()
}

/// An I/O error of an open (or opening) connection in an operator's words.
fn io_words(io: &std::io::Error) -> String {
    use std::io::ErrorKind as Io;
    match io.kind() {
        // A socket read or write timeout shows as EAGAIN on Linux.
        Io::WouldBlock => "the server did not answer within the socket read/write timeout".into(),
        Io::TimedOut => "the connection timed out: the server's host stopped answering".into(),
        Io::UnexpectedEof | Io::BrokenPipe => "the connection was closed".into(),
        Io::ConnectionReset => "the connection was reset".into(),
        Io::ConnectionAborted => "the connection was aborted".into(),
        _ => lower_first(&io.to_string()),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if !s.starts_with("TLS") => f.to_lowercase().chain(c).collect(),
        _ => s.to_string(),
    }
}

/// Wraps a client-library error with what was being done, classified.
pub fn db_error(what: impl std::fmt::Display, e: &mysql::Error) -> DbError {
    let (kind, code) = classify(e);
    let detail = error_detail(e);
    DbError {
        kind,
        code,
        message: format!("{what}: {}: {detail}", describe(kind)),
    }
}

/// True when `e` (anywhere in its chain) is a query interrupted by a kill or
/// a cancellation.
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<DbError>()
            .is_some_and(|d| d.kind == ErrorKind::Interrupted)
            || c.downcast_ref::<mysql::Error>()
                .is_some_and(|m| classify(m).0 == ErrorKind::Interrupted)
    })
}

/// The classification of the first [`DbError`] or client error in a chain.
pub fn error_kind(e: &anyhow::Error) -> Option<ErrorKind> {
    e.chain().find_map(|c| {
        c.downcast_ref::<DbError>()
            .map(|d| d.kind)
            .or_else(|| c.downcast_ref::<mysql::Error>().map(|m| classify(m).0))
    })
}

/// Column `i` of a row as text: strings as sent, integers formatted, NULL
/// (and a missing column) as `None`. `information_schema` and `SHOW` output
/// come back as bytes or integers depending on server and protocol; this
/// reads both.
pub fn cell_text(row: &mysql::Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql::Value::Int(v) => Some(v.to_string()),
        mysql::Value::UInt(v) => Some(v.to_string()),
        _ => None,
    }
}

/// How a spec will be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP to host:port.
    Tcp(String, u16),
    /// Unix socket path.
    Socket(PathBuf),
}

/// Chooses the transport the way the mysql client does: `localhost` (or no
/// host) means the Unix socket — the one configured, else the first default
/// path that exists — and anything else means TCP.
pub fn transport(spec: &ConnSpec) -> Transport {
    let port = spec.port.unwrap_or(3306);
    let local = spec.host.as_deref().is_none_or(|h| h == "localhost");
    if local {
        if let Some(s) = &spec.socket {
            return Transport::Socket(s.clone());
        }
        if spec.port.is_none() || spec.host.is_none() {
            if let Some(s) = DEFAULT_SOCKETS.iter().map(Path::new).find(|p| p.exists()) {
                return Transport::Socket(s.to_path_buf());
            }
        }
        return Transport::Tcp("127.0.0.1".to_string(), port);
    }
    Transport::Tcp(spec.host.clone().unwrap_or_default(), port)
}

/// Open connections' sockets, so [`interrupt_io`] can cut them.
struct Registry {
    next_id: u64,
    open: Vec<(u64, i32)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    next_id: 0,
    open: Vec::new(),
});

/// Bumped by [`interrupt_io`]; a connect attempt that started under an
/// older value is abandoned.
static IO_GENERATION: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// A connection's entry in the registry; leaving it (on drop) takes the
/// lock [`interrupt_io`] holds while it shuts sockets down, so a socket is
/// never shut down after its descriptor was closed and perhaps reused.
struct Registration(Option<u64>);

impl Registration {
    fn new(c: &mysql::Conn) -> Registration {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let fd = c.as_raw_fd();
            let mut r = registry();
            let id = r.next_id;
            r.next_id += 1;
            r.open.push((id, fd));
            Registration(Some(id))
        }
        #[cfg(not(unix))]
        {
            let _ = c;
            Registration(None)
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(id) = self.0.take() {
            registry().open.retain(|(i, _)| *i != id);
        }
    }
}

/// Cuts blocked database I/O: shuts down the socket of every connection
/// open now (a read blocked on it returns an error at once; the server
/// sees the client go, as when the mysql client is killed) and abandons
/// every [`connect`] in progress. Connections opened afterwards are not
/// affected, so a tool's cleanup can connect anew. Called by the entry's
/// signal handling when a tool has not stopped soon after Ctrl-C.
pub fn interrupt_io() {
    let mut r = registry();
    IO_GENERATION.fetch_add(1, Ordering::SeqCst);
    for (_, fd) in r.open.drain(..) {
        #[cfg(unix)]
        {
            // Fails harmlessly (ENOTCONN) on a connection the peer closed.
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
        }
        #[cfg(not(unix))]
        let _ = fd;
    }
}

/// True once [`interrupt_io`] has run: errors from connections cut by it
/// are the signal's doing, not the server's.
pub fn io_interrupted() -> bool {
    IO_GENERATION.load(Ordering::SeqCst) > 0
}

/// One open, set-up session. Derefs to `mysql::Conn`, so
/// `mysql::prelude::Queryable` methods work on it directly.
pub struct Conn {
    // First, so it is dropped (the socket leaves the registry) before
    // `inner` closes the socket.
    registration: Registration,
    inner: mysql::Conn,
    label: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("label", &self.label).finish()
    }
}

impl std::ops::Deref for Conn {
    type Target = mysql::Conn;
    fn deref(&self) -> &mysql::Conn {
        &self.inner
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut mysql::Conn {
        &mut self.inner
    }
}

impl Conn {
    /// `user@host:port` (or `user@localhost:/socket`), never the password.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The client library's connection, for uses that consume it (a
    /// binary log stream: [`crate::binlog`]).
    /// The connection leaves the registry of [`interrupt_io`]: its new
    /// owner (a reader thread) stops it its own way.
    pub fn into_inner(self) -> mysql::Conn {
        let Conn {
            registration,
            inner,
            ..
        } = self;
        drop(registration);
        inner
    }

    /// Runs `sql` (one statement or several separated by `;`) and wraps any
    /// error with the statement's purpose and target. Every result set is
    /// read, so an error in the third statement of a script is reported:
    /// the client library's `query_drop` would swallow it.
    pub fn run(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        let label = self.label.clone();
        let wrap = |e: mysql::Error| db_error(format_args!("{what} on {label}"), &e);
        let mut result = self.inner.query_iter(sql).map_err(wrap)?;
        while let Some(set) = result.iter() {
            for row in set {
                row.map_err(wrap)?;
            }
        }
        Ok(())
    }

    /// Runs exactly one statement, through the prepared-statement protocol,
    /// which the server refuses to split into several: for statements that
    /// embed text the tool did not write (an `--alter` clause list), so a
    /// `; DROP …` hidden in it can never run as a statement of its own,
    /// whatever the text checks before missed. `sql` must have no `?`
    /// placeholders.
    pub fn run_one(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        let label = self.label.clone();
        let wrap = |e: mysql::Error| db_error(format_args!("{what} on {label}"), &e);
        let stmt = self.inner.prep(sql).map_err(wrap)?;
        let result = self.inner.exec_drop(&stmt, ()).map_err(wrap);
        let _ = self.inner.close(stmt);
        result
    }

    /// Runs a query returning rows of `T`, errors wrapped as in [`Conn::run`].
    pub fn rows<T: mysql::prelude::FromRow>(
        &mut self,
        what: &str,
        sql: &str,
    ) -> Result<Vec<T>, DbError> {
        self.inner
            .query(sql)
            .map_err(|e| db_error(format_args!("{} on {}", what, self.label), &e))
    }

    /// First row of a query, if any.
    pub fn row<T: mysql::prelude::FromRow>(
        &mut self,
        what: &str,
        sql: &str,
    ) -> Result<Option<T>, DbError> {
        self.inner
            .query_first(sql)
            .map_err(|e| db_error(format_args!("{} on {}", what, self.label), &e))
    }

    /// A numeric global status variable (`SHOW GLOBAL STATUS LIKE name`);
    /// fails when the server does not report it as a number.
    pub fn global_status(&mut self, name: &str) -> anyhow::Result<u64> {
        let sql = format!("SHOW GLOBAL STATUS LIKE {}", quote_str(name));
        let row: Option<(String, String)> = self.row("reading status", &sql)?;
        row.and_then(|(_, v)| v.trim().parse().ok()).ok_or_else(|| {
            anyhow::anyhow!(
                "{} does not report the status variable {name} as a number",
                self.label
            )
        })
    }
}

/// Makes ring the process's TLS crypto provider, once, before the first
/// TLS handshake. A binary that also links the S3 client has a second
/// provider (aws-lc-rs) compiled in, and rustls then refuses to pick one
/// by itself (it panics in the handshake); one choice here, for every
/// tool, keeps the TLS the servers see the same everywhere.
pub fn tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is installed already: that one stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn tls_opts(spec: &ConnSpec, mode: SslMode, host: &str) -> SslOpts {
    let mut o = SslOpts::default();
    if let Some(ca) = &spec.tls.ca {
        o = o.with_root_cert_path(Some(ca.clone()));
    }
    if let (Some(cert), Some(key)) = (&spec.tls.cert, &spec.tls.key) {
        o = o.with_client_identity(Some(mysql::ClientIdentity::new(cert.clone(), key.clone())));
    }
    let verify_chain = matches!(mode, SslMode::VerifyCa | SslMode::VerifyIdentity);
    let verify_host = mode == SslMode::VerifyIdentity && host.parse::<std::net::IpAddr>().is_err();
    o.with_danger_accept_invalid_certs(!verify_chain)
        .with_danger_skip_domain_validation(!verify_host)
}

/// Where a [`connect`] attempt is, for the message when it does not finish.
const PHASE_RESOLVING: u8 = 0;
const PHASE_HANDSHAKE: u8 = 1;
const PHASE_SETUP: u8 = 2;

/// `2s`, `0.5s`.
fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Connects to `spec` and sets the session up. Errors are classified and
/// name the target, never the password.
///
/// Everything (name resolution, TCP, handshake, TLS, authentication,
/// session setup, the plain retry of `PREFERRED` TLS) ends within
/// `opts.connect_timeout` (plus a fraction of a second), and at once after
/// [`interrupt_io`]; see the module documentation.
pub fn connect(spec: &ConnSpec, opts: &ConnectOptions) -> Result<Conn, DbError> {
    let label = dsn::label(spec);
    let budget = opts.connect_timeout.max(Duration::from_millis(1));
    let started = Instant::now();
    let deadline = started + budget;
    let generation = IO_GENERATION.load(Ordering::SeqCst);
    let phase = Arc::new(AtomicU8::new(PHASE_RESOLVING));
    let (tx, rx) = mpsc::channel();
    let job = {
        let (spec, opts, phase) = (spec.clone(), opts.clone(), phase.clone());
        move || {
            // The receiver may be gone (timed out): the connection, if
            // any, is then closed here.
            let _ = tx.send(connect_now(&spec, &opts, deadline, &phase));
        }
    };
    if std::thread::Builder::new()
        .name("ox-connect".into())
        .spawn(job)
        .is_err()
    {
        // No thread to spare: connect here, bounded by the read timeout only.
        return connect_now(spec, opts, deadline, &phase);
    }
    let limit = budget + CONNECT_SLACK;
    let interrupted = || DbError {
        kind: ErrorKind::Interrupted,
        code: None,
        message: format!("cannot connect to {label}: interrupted by signal"),
    };
    loop {
        if IO_GENERATION.load(Ordering::SeqCst) != generation {
            return Err(interrupted());
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Err(stalled(spec, &label, phase.load(Ordering::SeqCst), budget));
        }
        match rx.recv_timeout((limit - waited).min(CONNECT_POLL)) {
            Ok(_) if IO_GENERATION.load(Ordering::SeqCst) != generation => {
                return Err(interrupted())
            }
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(DbError {
                    kind: ErrorKind::Other,
                    code: None,
                    message: format!("cannot connect to {label}: the connecting thread failed"),
                })
            }
        }
    }
}

/// The error for a connect that did not finish in time, naming the step
/// that did not answer.
fn stalled(spec: &ConnSpec, label: &str, phase: u8, budget: Duration) -> DbError {
    let within = secs(budget);
    let what = match (phase, transport(spec)) {
        (PHASE_RESOLVING, Transport::Tcp(host, _)) => {
            format!("resolving the host name {host} did not finish within {within}")
        }
        (PHASE_SETUP, _) => {
            format!("the server accepted the login but did not answer the session setup within {within}")
        }
        (_, Transport::Tcp(..)) => format!(
            "the server accepted the TCP connection but did not complete the handshake within {within}"
        ),
        (_, Transport::Socket(_)) => format!(
            "the server accepted the connection on the socket but did not complete the handshake within {within}"
        ),
    };
    DbError {
        kind: ErrorKind::Unreachable,
        code: None,
        message: format!(
            "cannot connect to {label}: {}: {what}",
            describe(ErrorKind::Unreachable)
        ),
    }
}

/// The blocking part of [`connect`], run on its helper thread; every step
/// gets what is left until `deadline`.
fn connect_now(
    spec: &ConnSpec,
    opts: &ConnectOptions,
    deadline: Instant,
    phase: &AtomicU8,
) -> Result<Conn, DbError> {
    let transport = transport(spec);
    let label = dsn::label(spec);
    let fail = |e: &mysql::Error| {
        let mut err = db_error(format_args!("cannot connect to {label}"), e);
        if matches!(
            e,
            mysql::Error::DriverError(mysql::DriverError::ConnectTimeout)
        ) {
            err.message = format!(
                "cannot connect to {label}: {}: no answer to the TCP connection within {} (host down, or packets dropped by a firewall)",
                describe(err.kind),
                secs(opts.connect_timeout)
            );
        }
        err
    };
    if let Transport::Tcp(host, port) = &transport {
        // Resolved here first so that a name server that does not answer
        // is named as such; the library then resolves again, under the
        // same deadline.
        if host.parse::<std::net::IpAddr>().is_err() {
            use std::net::ToSocketAddrs;
            if let Err(e) = (host.as_str(), *port).to_socket_addrs() {
                return Err(DbError {
                    kind: ErrorKind::Unreachable,
                    code: None,
                    message: format!(
                        "cannot connect to {label}: {}: cannot resolve the host name {host}: {}",
                        describe(ErrorKind::Unreachable),
                        lower_first(&e.to_string())
                    ),
                });
            }
        }
    }
    phase.store(PHASE_HANDSHAKE, Ordering::SeqCst);
    let user = spec.user.clone().unwrap_or_else(default_user);
    let mode = spec
        .tls
        .mode
        .unwrap_or(match (&transport, spec.tls.ca.is_some()) {
            (_, true) => SslMode::VerifyCa,
            (Transport::Tcp(..), false) => SslMode::Preferred,
            (Transport::Socket(_), false) => SslMode::Disabled,
        });
    let mut b = OptsBuilder::new()
        .user(Some(user))
        .pass(spec.password.as_ref().map(|p| p.expose().to_string()))
        .db_name(spec.database.clone())
        .prefer_socket(false)
        .read_timeout(opts.read_timeout)
        .write_timeout(opts.write_timeout)
        .tcp_keepalive_time_ms(Some(KEEPALIVE_IDLE.as_millis() as u32))
        .stmt_cache_size(Some(64));
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        b = b
            .tcp_keepalive_probe_interval_secs(Some(KEEPALIVE_INTERVAL.as_secs() as u32))
            .tcp_keepalive_probe_count(Some(KEEPALIVE_PROBES));
    }
    #[cfg(target_os = "linux")]
    {
        b = b.tcp_user_timeout_ms(Some(USER_TIMEOUT.as_millis() as u32));
    }
    let host = match &transport {
        Transport::Tcp(h, p) => {
            b = b.ip_or_hostname(Some(h.clone())).tcp_port(*p);
            h.clone()
        }
        Transport::Socket(s) => {
            b = b.socket(Some(s.to_string_lossy().to_string()));
            "localhost".to_string()
        }
    };
    tls_provider();
    // Each attempt's TCP connect gets what is left of the one budget.
    let attempt = |tls: Option<SslOpts>| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(mysql::Error::DriverError(
                mysql::DriverError::ConnectTimeout,
            ));
        }
        mysql::Conn::new(b.clone().tcp_connect_timeout(Some(left)).ssl_opts(tls))
    };
    let result = match mode {
        SslMode::Disabled => attempt(None),
        SslMode::Preferred => match attempt(Some(tls_opts(spec, mode, &host))) {
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) => attempt(None),
            other => other,
        },
        _ => attempt(Some(tls_opts(spec, mode, &host))),
    };
    let inner = result.map_err(|e| fail(&e))?;
    phase.store(PHASE_SETUP, Ordering::SeqCst);
    let mut conn = Conn {
        registration: Registration::new(&inner),
        inner,
        label,
    };
    setup_session(&mut conn, spec, &opts.session)?;
    Ok(conn)
}

fn default_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_string())
}

fn setup_session(conn: &mut Conn, spec: &ConnSpec, s: &SessionOptions) -> Result<(), DbError> {
    let charset = spec.charset.as_deref().unwrap_or("utf8mb4");
    if !charset
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(DbError {
            kind: ErrorKind::Other,
            code: None,
            message: format!("charset {charset:?} is not a character set name"),
        });
    }
    let mut sets = s.value_settings();
    sets.extend([
        format!("innodb_lock_wait_timeout={}", s.innodb_lock_wait_timeout),
        format!("lock_wait_timeout={}", s.lock_wait_timeout),
        format!("wait_timeout={}", s.wait_timeout),
    ]);
    for (k, v) in &s.extra_vars {
        sets.push(format!("{k}={}", var_literal(v)));
    }
    conn.run("session setup", &format!("SET NAMES {charset}"))?;
    conn.run("session setup", &format!("SET SESSION {}", sets.join(", ")))
}

impl SessionOptions {
    /// The session settings the meaning of a value depends on: `sql_mode`
    /// (how string literals are escaped, zero dates, auto-increment of 0)
    /// and `time_zone` (TIMESTAMP values are read and written in UTC).
    fn value_settings(&self) -> Vec<String> {
        vec![
            format!("sql_mode={}", quote_str(&self.sql_mode)),
            "time_zone='+00:00'".to_string(),
        ]
    }

    /// The statements that open a SQL script written from values this
    /// session read (`ox-table-sync --print`): the character set, then
    /// every setting the values' meaning depends on, so replaying the
    /// script with the mysql client gives the same rows whatever the
    /// replaying server's defaults (its `time_zone`, a
    /// `NO_BACKSLASH_ESCAPES` in its `sql_mode`). One statement a line.
    pub fn script_preamble(&self, charset: &str) -> Vec<String> {
        vec![
            format!("SET NAMES {charset};"),
            format!("SET SESSION {};", self.value_settings().join(", ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_vars_parse_and_quote() {
        let v = parse_set_vars("wait_timeout=100, sql_log_bin = 0,tx_isolation='READ-COMMITTED'")
            .expect("parse");
        assert_eq!(v[0], ("wait_timeout".into(), "100".into()));
        assert_eq!(v[2].1, "READ-COMMITTED");
        assert_eq!(var_literal("READ-COMMITTED"), "'READ-COMMITTED'");
        assert_eq!(var_literal("0"), "0");
        assert_eq!(
            var_literal("x'; DROP TABLE t; --"),
            "_utf8mb4 X'78273B2044524F50205441424C4520743B202D2D'"
        );
        assert!(parse_set_vars("a b=1").is_err());
        assert!(parse_set_vars("novalue").is_err());
    }

    #[test]
    fn library_errors_in_words_not_wrappers() {
        use mysql::mysql_common::proto::codec::error::PacketCodecError;
        use std::io::{Error as IoErr, ErrorKind as Io};
        let read_timeout = mysql::Error::CodecError(PacketCodecError::Io(IoErr::new(
            Io::WouldBlock,
            "Resource temporarily unavailable (os error 11)",
        )));
        assert_eq!(
            error_detail(&read_timeout),
            "the server did not answer within the socket read/write timeout"
        );
        assert_eq!(classify(&read_timeout).0, ErrorKind::LostConnection);
        let e = db_error("query on x@h:1", &read_timeout);
        assert_eq!(
            e.message,
            "query on x@h:1: lost connection: the server did not answer within the socket read/write timeout"
        );
        let refused = mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((
            "127.0.0.1:1".into(),
            "Connection refused (os error 111)".into(),
            Io::ConnectionRefused,
        ))));
        assert_eq!(error_detail(&refused), "connection refused (os error 111)");
        assert_eq!(classify(&refused).0, ErrorKind::Unreachable);
        let eof = mysql::Error::IoError(IoErr::new(Io::BrokenPipe, "server disconnected"));
        assert_eq!(error_detail(&eof), "the connection was closed");
        for e in [&read_timeout, &refused, &eof] {
            let d = error_detail(e);
            assert!(!d.contains('{') && !d.contains("Error"), "{d}");
        }
    }

    #[test]
    fn stalled_connect_names_the_step() {
        let spec = ConnSpec {
            host: Some("127.0.0.1".into()),
            port: Some(3307),
            user: Some("u".into()),
            ..Default::default()
        };
        let e = stalled(
            &spec,
            "u@127.0.0.1:3307",
            PHASE_HANDSHAKE,
            Duration::from_secs(2),
        );
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(
            e.message,
            "cannot connect to u@127.0.0.1:3307: server unreachable: the server accepted the TCP connection but did not complete the handshake within 2s"
        );
        let spec = ConnSpec {
            host: Some("db1.example".into()),
            ..Default::default()
        };
        let e = stalled(
            &spec,
            "u@db1.example:3306",
            PHASE_RESOLVING,
            Duration::from_millis(1500),
        );
        assert!(
            e.message
                .ends_with("resolving the host name db1.example did not finish within 1.5s"),
            "{}",
            e.message
        );
    }

    #[test]
    fn interrupting_io_abandons_a_connect_in_progress() {
        // A peer that accepts and never answers; the connect is abandoned
        // by interrupt_io long before its 60 s budget.
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let spec = ConnSpec {
            host: Some("127.0.0.1".into()),
            port: Some(port),
            user: Some("u".into()),
            tls: crate::dsn::TlsSpec {
                mode: Some(SslMode::Disabled),
                ..Default::default()
            },
            ..Default::default()
        };
        let opts = ConnectOptions {
            connect_timeout: Duration::from_secs(60),
            ..Default::default()
        };
        let t = std::thread::spawn(move || connect(&spec, &opts));
        let _accepted = l.accept().expect("accept");
        let start = Instant::now();
        interrupt_io();
        let e = t.join().expect("thread").expect_err("interrupted");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(e.kind, ErrorKind::Interrupted);
        assert!(io_interrupted());
        assert_eq!(
            e.message,
            format!("cannot connect to u@127.0.0.1:{port}: interrupted by signal")
        );
    }

    #[test]
    fn transport_like_the_mysql_client() {
        let spec = ConnSpec {
            host: Some("db1".into()),
            ..Default::default()
        };
        assert_eq!(transport(&spec), Transport::Tcp("db1".into(), 3306));
        let spec = ConnSpec {
            host: Some("localhost".into()),
            socket: Some("/tmp/x.sock".into()),
            port: Some(3307),
            ..Default::default()
        };
        assert_eq!(transport(&spec), Transport::Socket("/tmp/x.sock".into()));
        let spec = ConnSpec {
            host: Some("127.0.0.1".into()),
            socket: Some("/tmp/x.sock".into()),
            port: Some(3307),
            ..Default::default()
        };
        assert_eq!(transport(&spec), Transport::Tcp("127.0.0.1".into(), 3307));
    }
}
