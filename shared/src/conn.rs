//! Connecting: transport choice, TLS, timeouts, session setup, typed errors.
//!
//! Invariants every tool can rely on once [`connect`] returns: the session
//! uses utf8mb4 (or the charset asked for), `time_zone='+00:00'`, a known
//! `sql_mode` without `ANSI_QUOTES` and with `NO_AUTO_VALUE_ON_ZERO`, and
//! bounded lock waits. Errors a caller branches on (access denied,
//! unreachable, lost connection, lock wait timeout, deadlock, interrupted)
//! are classified by [`ErrorKind`]; their text never holds the password.

use crate::dsn::{self, ConnSpec, SslMode};
use crate::sql::quote_str;
use mysql::prelude::Queryable;
use mysql::{OptsBuilder, SslOpts};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Limit on establishing the TCP connection.
    pub connect_timeout: Duration,
    /// Limit on one socket read (not on a whole query).
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
        _ => (ErrorKind::Other, None),
    }
}

fn describe(kind: ErrorKind) -> &'static str {
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
/// `MySqlError { ERROR 1146 ... }`), secrets redacted.
pub fn error_detail(e: &mysql::Error) -> String {
    use mysql::Error;
    let text = match e {
        Error::MySqlError(m) => m.to_string(),
        Error::DriverError(d) => d.to_string(),
        Error::IoError(io) => io.to_string(),
        other => other.to_string(),
    };
    crate::secret::redact(&text)
        .trim()
        .trim_end_matches('.')
        .to_string()
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

/// One open, set-up session. Derefs to `mysql::Conn`, so
/// `mysql::prelude::Queryable` methods work on it directly.
pub struct Conn {
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
    pub fn into_inner(self) -> mysql::Conn {
        self.inner
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

/// Connects to `spec` and sets the session up. Errors are classified and
/// name the target, never the password.
pub fn connect(spec: &ConnSpec, opts: &ConnectOptions) -> Result<Conn, DbError> {
    let transport = transport(spec);
    let label = dsn::label(spec);
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
        .tcp_connect_timeout(Some(opts.connect_timeout))
        .read_timeout(opts.read_timeout)
        .write_timeout(opts.write_timeout)
        .stmt_cache_size(Some(64));
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
    let attempt = |tls: Option<SslOpts>| mysql::Conn::new(b.clone().ssl_opts(tls));
    let result = match mode {
        SslMode::Disabled => attempt(None),
        SslMode::Preferred => match attempt(Some(tls_opts(spec, mode, &host))) {
            Err(mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)) => attempt(None),
            other => other,
        },
        _ => attempt(Some(tls_opts(spec, mode, &host))),
    };
    let inner = result.map_err(|e| db_error(format_args!("cannot connect to {label}"), &e))?;
    let mut conn = Conn { inner, label };
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
