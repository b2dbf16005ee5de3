//! Connection targets: Percona Toolkit DSNs and `mysql://` URLs, and how
//! they are layered with command-line options, option files and the
//! environment.
//!
//! A [`ConnSpec`] holds what the user said about one server, every field
//! optional. Specs are layered by [`ConnSpec::fill_from`] (unset fields are
//! taken from a lower layer); [`resolve`] applies the layers in the order
//! the mysql client and Percona Toolkit use: DSN or URL, then command-line
//! options, then option files (see [`option_files`]), then `MYSQL_PWD`.
//! Built-in defaults (port 3306, the default socket) are left to
//! `crate::conn`.
//!
//! DSN syntax ([`parse_dsn`]): `h=host,P=3306,u=user,p=pass,S=/sock,D=db,
//! t=table,F=/my.cnf,A=utf8mb4`, keys case-sensitive, `\,` for a comma and
//! `\\` for a backslash inside a value, a bare first word is the host. URL
//! syntax ([`parse_url`]): `mysql://user:pass@host:port/db?ssl-mode=...`.
//!
//! Invariant: no error message of this module contains a password or the
//! raw DSN/URL text (which may hold one); [`label`] never shows it either.

use crate::optfile;
use crate::secret::Secret;
use anyhow::{anyhow, bail, Result};
use std::path::PathBuf;

/// TLS requirement, as the mysql client's `--ssl-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[clap(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SslMode {
    /// Plain connection.
    Disabled,
    /// TLS when the server offers it, otherwise plain (the default over TCP).
    Preferred,
    /// TLS, without checking the server certificate.
    Required,
    /// TLS, server certificate signed by the --ssl-ca certificate.
    VerifyCa,
    /// TLS, certificate signed by the --ssl-ca certificate and naming the host.
    VerifyIdentity,
}

impl std::str::FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" | "0" | "FALSE" | "OFF" => Ok(SslMode::Disabled),
            "PREFERRED" => Ok(SslMode::Preferred),
            "REQUIRED" | "1" | "TRUE" | "ON" => Ok(SslMode::Required),
            "VERIFY_CA" => Ok(SslMode::VerifyCa),
            "VERIFY_IDENTITY" => Ok(SslMode::VerifyIdentity),
            _ => Err(format!(
                "unknown ssl-mode {s:?} (expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)"
            )),
        }
    }
}

/// TLS settings of one connection target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSpec {
    /// `--ssl-mode`.
    pub mode: Option<SslMode>,
    /// CA certificate file (PEM).
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub key: Option<PathBuf>,
}

/// Everything known about one connection target. `None` means "not said here".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnSpec {
    /// `h=`: host name or address.
    pub host: Option<String>,
    /// `P=`: TCP port.
    pub port: Option<u16>,
    /// `u=`: user.
    pub user: Option<String>,
    /// `p=`: password; never printed.
    pub password: Option<Secret>,
    /// `S=`: Unix socket path.
    pub socket: Option<PathBuf>,
    /// `D=`: default database.
    pub database: Option<String>,
    /// `t=`: table (tools that take a table target).
    pub table: Option<String>,
    /// `F=`: option file to read for this target.
    pub defaults_file: Option<PathBuf>,
    /// `A=`: character set.
    pub charset: Option<String>,
    /// TLS settings.
    pub tls: TlsSpec,
}

/// The process environment as far as connection resolution cares, passed
/// explicitly so tests are hermetic.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `$HOME`, for `~/.my.cnf`.
    pub home: Option<PathBuf>,
    /// `$MYSQL_PWD`.
    pub mysql_pwd: Option<Secret>,
    /// The system option files to read before `~/.my.cnf`
    /// (`/etc/my.cnf`, `/etc/mysql/my.cnf`).
    pub system_files: Vec<PathBuf>,
}

impl Env {
    /// The real environment of this process.
    pub fn from_process() -> Env {
        Env {
            home: std::env::var_os("HOME").map(PathBuf::from),
            mysql_pwd: std::env::var("MYSQL_PWD").ok().map(Secret::new),
            system_files: vec![
                PathBuf::from("/etc/my.cnf"),
                PathBuf::from("/etc/mysql/my.cnf"),
            ],
        }
    }
}

/// The layers [`resolve`] combines, highest priority first.
#[derive(Clone, Debug, Default)]
pub struct Layers {
    /// A DSN or URL naming this target, if any.
    pub target: Option<ConnSpec>,
    /// `--host`, `--port`, ... from the command line.
    pub command_line: ConnSpec,
    /// `--no-defaults`: read no option file.
    pub no_defaults: bool,
    /// `--defaults-extra-file`.
    pub defaults_extra_file: Option<PathBuf>,
}

// ---------------------------------------------------------------------------
// Layering

impl ConnSpec {
    /// Takes every field this spec leaves unset (`None`, and each TLS
    /// sub-field separately) from `lower`.
    pub fn fill_from(&mut self, lower: &ConnSpec) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.host, &lower.host);
        fill(&mut self.port, &lower.port);
        fill(&mut self.user, &lower.user);
        fill(&mut self.password, &lower.password);
        fill(&mut self.socket, &lower.socket);
        fill(&mut self.database, &lower.database);
        fill(&mut self.table, &lower.table);
        fill(&mut self.defaults_file, &lower.defaults_file);
        fill(&mut self.charset, &lower.charset);
        fill(&mut self.tls.mode, &lower.tls.mode);
        fill(&mut self.tls.ca, &lower.tls.ca);
        fill(&mut self.tls.cert, &lower.tls.cert);
        fill(&mut self.tls.key, &lower.tls.key);
    }
}

// ---------------------------------------------------------------------------
// DSNs

/// The DSN keys, with what they mean (for error messages).
const DSN_KEYS: &[(char, &str)] = &[
    ('A', "charset"),
    ('D', "database"),
    ('F', "defaults file"),
    ('P', "port"),
    ('S', "socket"),
    ('h', "host"),
    ('p', "password"),
    ('t', "table"),
    ('u', "user"),
];

/// `A (charset), D (database), ...`.
fn dsn_key_list() -> String {
    DSN_KEYS
        .iter()
        .map(|(k, what)| format!("{k} ({what})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a DSN at unescaped commas, decoding `\,` and `\\` (any other
/// backslash is kept as it is, for Windows-style paths).
fn split_dsn(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&e @ (',' | '\\')) => {
                    cur.push(e);
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            ',' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// What is wrong with one DSN part. Rendered without the part's value.
enum PartError {
    Empty,
    NotKeyValue,
    EmptyKey,
    UnknownKey(String),
    Duplicate(char, usize),
    EmptyValue(char),
    BadPort(String),
}

impl PartError {
    /// The message for part `n`; `redact` hides even keys and ports (used
    /// after a `p=` part, where a forgotten `\,` puts password text there).
    fn message(&self, n: usize, redact: bool) -> String {
        if redact {
            let what = match self {
                PartError::Empty => "is empty",
                PartError::NotKeyValue => "is not key=value",
                PartError::EmptyKey => "has an empty key",
                PartError::UnknownKey(_) => "has an unknown key",
                PartError::Duplicate(..) => "repeats a key",
                PartError::EmptyValue(_) => "has an empty value",
                PartError::BadPort(_) => "has a bad port",
            };
            return format!(
                "DSN part {n} (after the p= part) {what}; if the password contains a comma, \
                 write it as \\,"
            );
        }
        match self {
            PartError::Empty => {
                format!("DSN part {n} is empty (a doubled or trailing comma?)")
            }
            PartError::NotKeyValue => format!(
                "DSN part {n} is not key=value (only the first part may be a bare host name; \
                 write a comma inside a value as \\,)"
            ),
            PartError::EmptyKey => format!("DSN part {n} has an empty key before '='"),
            PartError::UnknownKey(k) => {
                let shown: String = k.chars().take(24).collect();
                let mut msg = format!(
                    "DSN part {n} (\"{shown}=...\"): unknown key {shown:?}; valid keys: {}",
                    dsn_key_list()
                );
                let mut cs = k.chars();
                if let (Some(c), None) = (cs.next(), cs.next()) {
                    let other = if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                    if other != c && DSN_KEYS.iter().any(|(v, _)| *v == other) {
                        msg.push_str(&format!(
                            " (keys are case-sensitive: did you mean {other}?)"
                        ));
                    }
                }
                msg
            }
            PartError::Duplicate(k, first) => format!(
                "DSN part {n} (\"{k}=...\"): duplicate key {k:?} (already given in part {first})"
            ),
            PartError::EmptyValue(k) => format!("DSN part {n} (\"{k}=...\"): empty value"),
            PartError::BadPort(v) => {
                let shown: String = v.chars().take(24).collect();
                format!("DSN part {n} (\"P=...\"): port {shown:?} is not a number from 1 to 65535")
            }
        }
    }
}

/// Parses a port number, 1 to 65535.
fn parse_port(v: &str) -> Option<u16> {
    v.trim().parse::<u16>().ok().filter(|p| *p != 0)
}

/// Sets one DSN key on `spec`.
fn set_dsn_key(spec: &mut ConnSpec, key: char, value: &str) -> Result<(), PartError> {
    if value.is_empty() && key != 'p' {
        return Err(PartError::EmptyValue(key));
    }
    let v = value.to_string();
    match key {
        'h' => spec.host = Some(v),
        'P' => spec.port = Some(parse_port(value).ok_or(PartError::BadPort(v))?),
        'u' => spec.user = Some(v),
        'p' => spec.password = Some(Secret::new(v)),
        'S' => spec.socket = Some(PathBuf::from(v)),
        'D' => spec.database = Some(v),
        't' => spec.table = Some(v),
        'F' => spec.defaults_file = Some(PathBuf::from(v)),
        'A' => spec.charset = Some(v),
        other => return Err(PartError::UnknownKey(other.to_string())),
    }
    Ok(())
}

/// Parses a Percona Toolkit DSN: comma-separated `key=value` parts with
/// the case-sensitive keys `h` (host), `P` (port), `u` (user),
/// `p` (password), `S` (socket), `D` (database), `t` (table),
/// `F` (defaults file) and `A` (charset). Inside a value `\,` is a comma
/// and `\\` a backslash. A first part without `=` is the host, so a bare
/// `db1.example.com` works. Only the password may be empty.
///
/// Errors name the part by number and key, never its value.
pub fn parse_dsn(s: &str) -> Result<ConnSpec> {
    if s.trim().is_empty() {
        bail!("empty DSN: expected key=value parts such as h=db1,P=3306,u=admin");
    }
    let mut spec = ConnSpec::default();
    let mut seen: Vec<(char, usize)> = Vec::new();
    let mut after_password = false;
    for (i, part) in split_dsn(s).iter().enumerate() {
        let n = i + 1;
        let parsed = (|| {
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => {
                    let k = k.trim();
                    let mut cs = k.chars();
                    match (cs.next(), cs.next()) {
                        (None, _) => return Err(PartError::EmptyKey),
                        (Some(c), None) if DSN_KEYS.iter().any(|(v, _)| *v == c) => (c, v),
                        _ => return Err(PartError::UnknownKey(k.to_string())),
                    }
                }
                None if part.trim().is_empty() => return Err(PartError::Empty),
                None if i == 0 => ('h', part.trim()),
                None => return Err(PartError::NotKeyValue),
            };
            if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
                return Err(PartError::Duplicate(key, *first));
            }
            set_dsn_key(&mut spec, key, value)?;
            Ok(key)
        })();
        match parsed {
            Ok(key) => {
                seen.push((key, n));
                after_password |= key == 'p';
            }
            Err(e) => bail!(e.message(n, after_password)),
        }
    }
    Ok(spec)
}

// ---------------------------------------------------------------------------
// URLs

/// Decodes `%XX` escapes; the result must be UTF-8. `what` names the
/// component in errors (the text itself is never shown).
fn percent_decode(s: &str, what: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => bail!(
                    "invalid URL: bad percent-escape in the {what} ('%' must be followed by two hex \
                     digits; write a literal '%' as %25)"
                ),
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| anyhow!("invalid URL: the {what} is not UTF-8 after percent-decoding"))
}

/// The URL query parameters, as accepted (after `_` → `-`).
const URL_PARAMS: &str = "ssl-mode (or sslmode), ssl-ca, ssl-cert, ssl-key, socket, charset";

/// Parses `mysql://[user[:password]@][host][:port][/database][?k=v&...]`
/// (also `mariadb://`). User, password, database and parameter values are
/// percent-decoded; an IPv6 host goes in brackets (`[::1]:3307`); a host
/// that decodes to an absolute path (`%2Ftmp%2Fmysql.sock`) is a socket.
/// Parameters: `ssl-mode` (also `ssl_mode`, `sslmode`), `ssl-ca`,
/// `ssl-cert`, `ssl-key`, `socket`, `charset`; any other is an error.
///
/// Characters `@ / ? :` in the user or password must be percent-encoded
/// (`:` only in the user). Errors never quote the URL.
pub fn parse_url(s: &str) -> Result<ConnSpec> {
    let s = s.trim();
    let lower = s.get(..10).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("mysql://") {
        &s[8..]
    } else if lower.starts_with("mariadb://") {
        &s[10..]
    } else {
        bail!("invalid URL: it must start with mysql:// or mariadb://");
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    if !authority.contains('@') && tail.contains('@') {
        bail!(
            "invalid URL: '@' after the host part; if the user name or password contains \
             '/', '?' or '@', percent-encode it (%2F, %3F, %40)"
        );
    }
    let mut spec = ConnSpec::default();

    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (user, pass) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            let user = percent_decode(user, "user name")?;
            if !user.is_empty() {
                spec.user = Some(user);
            }
            if let Some(p) = pass {
                spec.password = Some(Secret::new(percent_decode(p, "password")?));
            }
            hp
        }
        None => authority,
    };

    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let Some((h, after)) = inner.split_once(']') else {
            bail!("invalid URL: '[' without ']' around an IPv6 address");
        };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            bail!("invalid URL: the bracketed host is not an IPv6 address");
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                anyhow!("invalid URL: expected ':port' after the bracketed IPv6 address")
            })?),
        };
        (h.to_string(), port)
    } else {
        match hostport.split_once(':') {
            Some((_, p)) if p.contains(':') => bail!(
                "invalid URL: more than one ':' in the host part (put an IPv6 address in \
                 brackets: [::1]:3306)"
            ),
            Some((h, p)) => (percent_decode(h, "host")?, Some(p)),
            None => (percent_decode(hostport, "host")?, None),
        }
    };
    if host.starts_with('/') {
        spec.socket = Some(PathBuf::from(host));
    } else if !host.is_empty() {
        spec.host = Some(host);
    }
    if let Some(p) = port {
        spec.port =
            Some(parse_port(p).ok_or_else(|| {
                anyhow!("invalid URL: the port must be a number from 1 to 65535")
            })?);
    }

    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    if let Some(db) = path.strip_prefix('/') {
        if db.contains('/') {
            bail!("invalid URL: the path must be one database name (percent-encode '/' as %2F)");
        }
        let db = percent_decode(db, "database name")?;
        if !db.is_empty() {
            spec.database = Some(db);
        }
    }

    let mut seen: Vec<String> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("invalid URL: a query parameter without '=' (expected key=value)");
        };
        let key = percent_decode(k, "parameter name")?
            .to_ascii_lowercase()
            .replace('_', "-");
        let key = if key == "sslmode" {
            "ssl-mode".to_string()
        } else {
            key
        };
        if seen.contains(&key) {
            bail!("invalid URL: parameter {key:?} given twice");
        }
        let value = percent_decode(v, "parameter value")?;
        if value.is_empty() {
            bail!("invalid URL: parameter {key:?} has an empty value");
        }
        match key.as_str() {
            "ssl-mode" => {
                spec.tls.mode = Some(
                    value
                        .parse::<SslMode>()
                        .map_err(|e| anyhow!("invalid URL: parameter ssl-mode: {e}"))?,
                )
            }
            "ssl-ca" => spec.tls.ca = Some(PathBuf::from(value)),
            "ssl-cert" => spec.tls.cert = Some(PathBuf::from(value)),
            "ssl-key" => spec.tls.key = Some(PathBuf::from(value)),
            "socket" => spec.socket = Some(PathBuf::from(value)),
            "charset" => spec.charset = Some(value),
            _ => {
                let shown: String = key.chars().take(24).collect();
                bail!("invalid URL: unknown parameter {shown:?}; valid parameters: {URL_PARAMS}")
            }
        }
        seen.push(key);
    }
    Ok(spec)
}

/// True when `s` begins with `scheme://` for some URL-like scheme word.
fn has_url_scheme(s: &str) -> bool {
    s.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Parses one target: a URL when it starts with `mysql://` or
/// `mariadb://` (any case), otherwise a DSN. Another `scheme://` prefix is
/// an error rather than a strange DSN.
pub fn parse_target(s: &str) -> Result<ConnSpec> {
    let t = s.trim_start();
    let lower = t.get(..10).unwrap_or(t).to_ascii_lowercase();
    if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
        return parse_url(t);
    }
    if has_url_scheme(t) {
        bail!("unsupported URL scheme: only mysql:// and mariadb:// URLs (or DSNs) are accepted");
    }
    parse_dsn(s)
}

/// Parses several targets with Percona Toolkit's inheritance: every target
/// after the first takes each key it does not give from the FIRST target,
/// except the table (`t`), so `h=db1,u=admin,p=x,t=db.t h=db2` names
/// `admin@db2` with password `x` and no table. Errors say which target
/// (1-based) failed.
pub fn parse_targets(list: &[String]) -> Result<Vec<ConnSpec>> {
    let mut out: Vec<ConnSpec> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let mut spec = parse_target(s).map_err(|e| anyhow!("target {}: {e:#}", i + 1))?;
        if let Some(first) = out.first() {
            let mut base = first.clone();
            base.table = None;
            spec.fill_from(&base);
        }
        out.push(spec);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Resolution

/// The option-file groups read, in the mysql client's manner: `[client]`,
/// `[client-server]`, `[client-mariadb]` and the tools' own `[oxkit]`.
pub const OPTION_GROUPS: &[&str] = &["client", "client-server", "client-mariadb", "oxkit"];

/// The option files [`resolve`] reads for `spec` (the target already
/// layered over the command line), in reading order, each with its
/// "required" flag. As the mysql client: none with `--no-defaults`; only
/// the named file with `--defaults-file` / `F=` (the target's `F=` wins);
/// otherwise the system files, then `--defaults-extra-file` (required),
/// then `~/.my.cnf` — libmysqlclient reads the extra file after the global
/// files and before the user's own.
pub fn option_files(layers: &Layers, spec: &ConnSpec, env: &Env) -> Vec<(PathBuf, bool)> {
    if layers.no_defaults {
        return Vec::new();
    }
    if let Some(f) = &spec.defaults_file {
        return vec![(f.clone(), true)];
    }
    let mut files: Vec<(PathBuf, bool)> = env
        .system_files
        .iter()
        .map(|f| (f.clone(), false))
        .collect();
    if let Some(extra) = &layers.defaults_extra_file {
        files.push((extra.clone(), true));
    }
    if let Some(home) = &env.home {
        files.push((home.join(".my.cnf"), false));
    }
    files
}

/// The connection settings of merged option files, as a spec. A bare
/// `password` line (which makes the mysql client prompt) sets nothing;
/// `ssl-mode` beats the older `ssl` / `skip-ssl` switches.
fn spec_from_options(o: &optfile::Options) -> Result<ConnSpec> {
    let text = |k: &str| o.value(k).filter(|v| !v.is_empty()).map(str::to_string);
    let path = |k: &str| text(k).map(PathBuf::from);
    let origin = |k: &str| o.get(k).map(optfile::Setting::origin).unwrap_or_default();
    let mut spec = ConnSpec {
        host: text("host"),
        user: text("user"),
        password: o.value("password").map(Secret::new),
        socket: path("socket"),
        database: text("database"),
        charset: text("default-character-set"),
        ..ConnSpec::default()
    };
    if let Some(p) = text("port") {
        spec.port = Some(parse_port(&p).ok_or_else(|| {
            anyhow!(
                "{}: port {p:?} is not a number from 1 to 65535",
                origin("port")
            )
        })?);
    }
    if let Some(m) = text("ssl-mode") {
        spec.tls.mode = Some(
            m.parse::<SslMode>()
                .map_err(|e| anyhow!("{}: {e}", origin("ssl-mode")))?,
        );
    } else if let Some((key, set)) = o.latest(&["ssl", "skip-ssl", "disable-ssl", "enable-ssl"]) {
        spec.tls.mode = Some(match (key, set.value.as_deref()) {
            ("ssl", Some(v)) => v
                .parse::<SslMode>()
                .map_err(|e| anyhow!("{}: ssl: {e}", set.origin()))?,
            ("ssl" | "enable-ssl", _) => SslMode::Required,
            _ => SslMode::Disabled,
        });
    }
    spec.tls.ca = path("ssl-ca");
    spec.tls.cert = path("ssl-cert");
    spec.tls.key = path("ssl-key");
    Ok(spec)
}

/// Resolves the layers into one spec, highest priority first: the target
/// DSN/URL, the command line, the option files of [`option_files`] (a later
/// file overriding an earlier one), and last `MYSQL_PWD`, used only when no
/// layer gave a password (as libmysqlclient does). Reads files but never
/// touches the network; an unreadable required file or a bad value in an
/// option file is an error naming file and line.
pub fn resolve(layers: &Layers, env: &Env) -> Result<ConnSpec> {
    let mut spec = layers.target.clone().unwrap_or_default();
    spec.fill_from(&layers.command_line);
    let files = option_files(layers, &spec, env);
    if !files.is_empty() {
        let opts = optfile::read_files(&files, OPTION_GROUPS)?;
        spec.fill_from(&spec_from_options(&opts)?);
    }
    if spec.password.is_none() {
        spec.password.clone_from(&env.mysql_pwd);
    }
    Ok(spec)
}

/// A printable name for a target, never holding the password:
/// `user@host:port` over TCP (`[addr]` for IPv6), `user@localhost:/path`
/// when a socket is set and the host is `localhost` or unset (the choice
/// `crate::conn::transport` makes), `user@localhost` (plus `:port` if one
/// was given) for a local target without a socket. Without a user the
/// `user@` is left out.
pub fn label(spec: &ConnSpec) -> String {
    let user = spec
        .user
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let local = spec.host.as_deref().is_none_or(|h| h == "localhost");
    if local {
        return match (&spec.socket, spec.port) {
            (Some(s), _) => format!("{user}localhost:{}", s.display()),
            (None, Some(p)) => format!("{user}localhost:{p}"),
            (None, None) => format!("{user}localhost"),
        };
    }
    let host = spec.host.as_deref().unwrap_or_default();
    let port = spec.port.unwrap_or(3306);
    if host.contains(':') {
        format!("{user}[{host}]:{port}")
    } else {
        format!("{user}{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    fn pw(spec: &ConnSpec) -> Option<&str> {
        spec.password.as_ref().map(Secret::expose)
    }

    fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
        format!("{:#}", r.expect_err("expected an error"))
    }

    #[test]
    fn dsn_all_keys() {
        let s = parse_dsn(
            "h=db1,P=3307,u=admin,p=pw,S=/tmp/m.sock,D=sakila,t=film,F=/etc/x.cnf,A=utf8mb4",
        )
        .expect("parse");
        assert_eq!(s.host.as_deref(), Some("db1"));
        assert_eq!(s.port, Some(3307));
        assert_eq!(s.user.as_deref(), Some("admin"));
        assert_eq!(pw(&s), Some("pw"));
        assert_eq!(s.socket, Some(PathBuf::from("/tmp/m.sock")));
        assert_eq!(s.database.as_deref(), Some("sakila"));
        assert_eq!(s.table.as_deref(), Some("film"));
        assert_eq!(s.defaults_file, Some(PathBuf::from("/etc/x.cnf")));
        assert_eq!(s.charset.as_deref(), Some("utf8mb4"));
        assert_eq!(s.tls, TlsSpec::default());
    }

    #[test]
    fn dsn_escapes_and_values() {
        let s = parse_dsn(r"u=x,p=a\,b").expect("parse");
        assert_eq!(pw(&s), Some("a,b"));
        let s = parse_dsn(r"p=back\\slash\,,h=h").expect("parse");
        assert_eq!(pw(&s), Some(r"back\slash,"));
        assert_eq!(s.host.as_deref(), Some("h"));
        let s = parse_dsn(r"p=a=b\x").expect("parse");
        assert_eq!(
            pw(&s),
            Some(r"a=b\x"),
            "only the first '=' splits; other backslashes stay"
        );
        let s = parse_dsn("h=db1,p=").expect("empty password");
        assert_eq!(pw(&s), Some(""));
        let s = parse_dsn("h=db1, u=spaced").expect("space before a key");
        assert_eq!(s.user.as_deref(), Some("spaced"));
    }

    #[test]
    fn dsn_bare_host() {
        let s = parse_dsn("db1.example.com").expect("parse");
        assert_eq!(s.host.as_deref(), Some("db1.example.com"));
        assert_eq!(s.port, None);
        let s = parse_dsn("db1,P=3307").expect("bare first part");
        assert_eq!((s.host.as_deref(), s.port), (Some("db1"), Some(3307)));
        assert!(err_text(parse_dsn("u=x,db1")).contains("not key=value"));
        assert!(err_text(parse_dsn("db1,h=db2")).contains("duplicate key 'h'"));
    }

    #[test]
    fn dsn_bad_input() {
        let e = err_text(parse_dsn("h=db1,P=3306,x=1"));
        assert!(
            e.contains("DSN part 3 (\"x=...\"): unknown key \"x\""),
            "{e}"
        );
        assert!(
            e.contains("valid keys: A (charset)") && e.contains("u (user)"),
            "{e}"
        );
        let e = err_text(parse_dsn("H=db1"));
        assert!(e.contains("did you mean h?"), "{e}");
        let e = err_text(parse_dsn("host=db1"));
        assert!(e.contains("unknown key \"host\""), "{e}");
        for port in ["abc", "0", "65536", "-1", ""] {
            let e = err_text(parse_dsn(&format!("h=db1,P={port}")));
            assert!(e.contains("part 2"), "{e}");
            assert!(e.contains("1 to 65535") || e.contains("empty value"), "{e}");
        }
        assert!(err_text(parse_dsn("")).contains("empty DSN"));
        assert!(err_text(parse_dsn("   ")).contains("empty DSN"));
        assert!(err_text(parse_dsn("=x")).contains("empty key"));
        assert!(err_text(parse_dsn("h=a,,u=b")).contains("part 2 is empty"));
        assert!(err_text(parse_dsn("h=a,")).contains("part 2 is empty"));
        let e = err_text(parse_dsn("h=a,u=b,u=c"));
        assert!(
            e.contains("part 3") && e.contains("duplicate key 'u'") && e.contains("part 2"),
            "{e}"
        );
        assert!(err_text(parse_dsn("h=")).contains("empty value"));
    }

    #[test]
    fn errors_never_show_the_password() {
        let secret = "SuperSecret42";
        let dsns = [
            "h=db1,p=SuperSecret42,x=1".to_string(),
            "h=db1,p=SuperSecret42,P=nope".to_string(),
            "h=db1,p=SuperSecret42,p=SuperSecret42".to_string(),
            "p=SuperSecret42,SuperSecret42".to_string(),
            "h=db1,p=Super,Secret42".to_string(),
            "h=db1,p=x,SuperSecret42=1".to_string(),
            "h=db1,p=x,u=SuperSecret42,u=y".to_string(),
            "h=db1,p=a,P=SuperSecret42".to_string(),
        ];
        for d in &dsns {
            let e = err_text(parse_dsn(d));
            assert!(!e.contains(secret) && !e.contains("Secret42"), "{d}: {e}");
            let e = err_text(parse_target(d));
            assert!(!e.contains(secret), "{d}: {e}");
        }
        let urls = [
            "mysql://u:SuperSecret42@db1:nope/db",
            "mysql://u:SuperSecret42@db1/db?bogus=1",
            "mysql://u:SuperSecret42@db1/db?ssl-mode=maybe",
            "mysql://u:SuperSecret42%zz@db1",
            "mysql://u:Super/Secret42@db1",
            "mysql://u:Super?Secret42@db1",
            "mysql://u:SuperSecret42@db1:3306/a/b",
            "mysql://u:SuperSecret42@[::1",
            "mysql://u:SuperSecret42@a:b:c",
            "mysql://u:SuperSecret42%FF@db1",
        ];
        for u in urls {
            let e = err_text(parse_url(u));
            assert!(!e.contains("Secret42"), "{u}: {e}");
        }
    }

    #[test]
    fn url_forms() {
        let s = parse_url("mysql://admin:pw@db1.example.com:3307/sakila").expect("parse");
        assert_eq!(s.user.as_deref(), Some("admin"));
        assert_eq!(pw(&s), Some("pw"));
        assert_eq!(s.host.as_deref(), Some("db1.example.com"));
        assert_eq!(s.port, Some(3307));
        assert_eq!(s.database.as_deref(), Some("sakila"));

        let s = parse_url("mysql://admin:p%40ss%3Aw%2Fo%25rd@db1/my%20db").expect("encoded");
        assert_eq!(pw(&s), Some("p@ss:w/o%rd"));
        assert_eq!(s.database.as_deref(), Some("my db"));
        let s = parse_url("mysql://u:a:b#c@db1").expect("':' and '#' in a password");
        assert_eq!(pw(&s), Some("a:b#c"));

        let s = parse_url("mysql://root@[::1]:3307").expect("ipv6");
        assert_eq!((s.host.as_deref(), s.port), (Some("::1"), Some(3307)));
        let s = parse_url("mysql://[fe80::1]/db").expect("ipv6 no port");
        assert_eq!((s.host.as_deref(), s.port), (Some("fe80::1"), None));

        let s = parse_url("mysql://db2").expect("no user");
        assert_eq!(
            (s.host.as_deref(), s.user.as_deref(), s.password.is_none()),
            (Some("db2"), None, true)
        );
        let s = parse_url("mysql://u@db2:3306/").expect("no password");
        assert_eq!(
            (
                s.user.as_deref(),
                s.password.is_none(),
                s.database.is_none()
            ),
            (Some("u"), true, true)
        );
        let s = parse_url("mysql://u:@db2").expect("empty password");
        assert_eq!(pw(&s), Some(""));
        let s = parse_url("mysql://").expect("all defaults");
        assert_eq!(s, ConnSpec::default());

        let s = parse_url(
            "mysql://u@db1/app?ssl-mode=verify_identity&ssl-ca=%2Fetc%2Fca.pem&ssl_cert=/c.pem\
             &ssl-key=/k.pem&charset=utf8mb4&socket=/tmp/s.sock",
        )
        .expect("params");
        assert_eq!(s.tls.mode, Some(SslMode::VerifyIdentity));
        assert_eq!(s.tls.ca, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(s.tls.cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(s.tls.key, Some(PathBuf::from("/k.pem")));
        assert_eq!(s.charset.as_deref(), Some("utf8mb4"));
        assert_eq!(s.socket, Some(PathBuf::from("/tmp/s.sock")));
        let s = parse_url("mysql://db1?sslmode=REQUIRED").expect("sslmode");
        assert_eq!(s.tls.mode, Some(SslMode::Required));
        let s = parse_url("mysql://db1?ssl_mode=disabled").expect("ssl_mode");
        assert_eq!(s.tls.mode, Some(SslMode::Disabled));

        let s = parse_url("MariaDB://maria:pw@mdb:3308/x").expect("mariadb");
        assert_eq!(
            (s.host.as_deref(), s.port, s.user.as_deref()),
            (Some("mdb"), Some(3308), Some("maria"))
        );

        let s = parse_url("mysql://u@%2Fvar%2Frun%2Fmysqld.sock/db").expect("socket host");
        assert_eq!(
            (s.host.as_deref(), s.socket.clone()),
            (None, Some(PathBuf::from("/var/run/mysqld.sock")))
        );
    }

    #[test]
    fn url_bad_input() {
        assert!(err_text(parse_url("mysql://db1?frob=1")).contains("unknown parameter \"frob\""));
        assert!(err_text(parse_url("mysql://db1?ssl-mode=x&ssl-mode=y")).contains("ssl-mode"));
        assert!(err_text(parse_url("mysql://db1?ssl-mode=sometimes")).contains("unknown ssl-mode"));
        assert!(err_text(parse_url("mysql://db1:0")).contains("1 to 65535"));
        assert!(err_text(parse_url("mysql://db1:")).contains("1 to 65535"));
        assert!(err_text(parse_url("mysql://::1:3306")).contains("brackets"));
        assert!(err_text(parse_url("mysql://[db1]:3306")).contains("IPv6"));
        assert!(err_text(parse_url("mysql://u:p%4@db1")).contains("percent-escape in the password"));
        assert!(err_text(parse_url("mysql://db1?charset")).contains("without '='"));
        assert!(err_text(parse_url("postgres://db1")).contains("mysql://"));
        assert!(err_text(parse_target("postgres://db1")).contains("unsupported URL scheme"));
    }

    #[test]
    fn target_dispatch() {
        assert_eq!(
            parse_target("mysql://db1").expect("url").host.as_deref(),
            Some("db1")
        );
        assert_eq!(
            parse_target("h=db1").expect("dsn").host.as_deref(),
            Some("db1")
        );
        assert_eq!(
            parse_target("db1").expect("bare").host.as_deref(),
            Some("db1")
        );
        // A password holding "://" does not make a DSN a URL.
        assert_eq!(
            pw(&parse_target("h=db1,p=x://y").expect("dsn")),
            Some("x://y")
        );
    }

    #[test]
    fn targets_inherit_from_the_first() {
        let list = vec![
            "h=db1,P=3307,u=admin,p=pw,D=app,t=orders,A=utf8mb4".to_string(),
            "h=db2".to_string(),
            "h=db3,u=other,t=items".to_string(),
            "mysql://db4".to_string(),
        ];
        let specs = parse_targets(&list).expect("parse");
        assert_eq!(specs.len(), 4);
        let s2 = &specs[1];
        assert_eq!(s2.host.as_deref(), Some("db2"));
        assert_eq!(
            (s2.port, s2.user.as_deref(), pw(s2)),
            (Some(3307), Some("admin"), Some("pw"))
        );
        assert_eq!(
            (s2.database.as_deref(), s2.charset.as_deref()),
            (Some("app"), Some("utf8mb4"))
        );
        assert_eq!(s2.table, None, "t= is not inherited");
        let s3 = &specs[2];
        assert_eq!(
            (s3.user.as_deref(), s3.table.as_deref(), pw(s3)),
            (Some("other"), Some("items"), Some("pw"))
        );
        assert_eq!(
            (specs[3].host.as_deref(), specs[3].port),
            (Some("db4"), Some(3307))
        );
        assert_eq!(specs[0].table.as_deref(), Some("orders"));
        let e = err_text(parse_targets(&["h=a".to_string(), "h=b,x=1".to_string()]));
        assert!(e.starts_with("target 2: DSN part 2"), "{e}");
        assert!(parse_targets(&[]).expect("empty").is_empty());
    }

    #[test]
    fn fill_from_takes_only_unset_fields() {
        let mut hi = ConnSpec {
            host: Some("hi".into()),
            tls: TlsSpec {
                mode: Some(SslMode::Required),
                ..TlsSpec::default()
            },
            ..ConnSpec::default()
        };
        let lo = ConnSpec {
            host: Some("lo".into()),
            port: Some(1),
            user: Some("u".into()),
            password: Some(Secret::new("lo-pw")),
            socket: Some("/s".into()),
            database: Some("d".into()),
            table: Some("t".into()),
            defaults_file: Some("/f".into()),
            charset: Some("c".into()),
            tls: TlsSpec {
                mode: Some(SslMode::Disabled),
                ca: Some("/ca".into()),
                cert: Some("/cert".into()),
                key: Some("/key".into()),
            },
        };
        hi.fill_from(&lo);
        let expected = ConnSpec {
            host: Some("hi".into()),
            tls: TlsSpec {
                mode: Some(SslMode::Required),
                ..lo.tls.clone()
            },
            ..lo.clone()
        };
        assert_eq!(hi, expected);
    }

    #[test]
    fn labels() {
        let spec = |h: Option<&str>, p: Option<u16>, s: Option<&str>| ConnSpec {
            host: h.map(str::to_string),
            port: p,
            user: Some("app".into()),
            password: Some(Secret::new("label-secret-pw")),
            socket: s.map(PathBuf::from),
            ..ConnSpec::default()
        };
        assert_eq!(label(&spec(Some("db1"), None, None)), "app@db1:3306");
        assert_eq!(
            label(&spec(Some("db1"), Some(3307), Some("/s.sock"))),
            "app@db1:3307"
        );
        assert_eq!(
            label(&spec(Some("localhost"), Some(3307), Some("/s.sock"))),
            "app@localhost:/s.sock"
        );
        assert_eq!(
            label(&spec(None, None, Some("/s.sock"))),
            "app@localhost:/s.sock"
        );
        assert_eq!(label(&spec(None, None, None)), "app@localhost");
        assert_eq!(
            label(&spec(Some("localhost"), Some(3307), None)),
            "app@localhost:3307"
        );
        assert_eq!(
            label(&spec(Some("::1"), Some(3307), None)),
            "app@[::1]:3307"
        );
        let mut anon = spec(Some("db1"), None, None);
        anon.user = None;
        assert_eq!(label(&anon), "db1:3306");
        assert!(!label(&spec(Some("db1"), None, None)).contains("label-secret-pw"));
    }

    // --- resolution -------------------------------------------------------

    /// A temp dir with a home (holding `.my.cnf` if given) and two system
    /// files, and an `Env` pointing at them.
    struct Fixture {
        dir: tempfile::TempDir,
        env: Env,
    }

    impl Fixture {
        fn new(sys1: Option<&str>, sys2: Option<&str>, home: Option<&str>) -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let home_dir = dir.path().join("home");
            fs::create_dir_all(&home_dir).expect("mkdir");
            let sys = [
                dir.path().join("etc-my.cnf"),
                dir.path().join("etc-mysql-my.cnf"),
            ];
            for (path, text) in sys.iter().zip([sys1, sys2]) {
                if let Some(t) = text {
                    fs::write(path, t).expect("write");
                }
            }
            if let Some(t) = home {
                fs::write(home_dir.join(".my.cnf"), t).expect("write");
            }
            Fixture {
                env: Env {
                    home: Some(home_dir),
                    mysql_pwd: None,
                    system_files: sys.to_vec(),
                },
                dir,
            }
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let p = self.dir.path().join(name);
            fs::write(&p, text).expect("write");
            p
        }

        fn with_pwd(mut self, pwd: &str) -> Fixture {
            self.env.mysql_pwd = Some(Secret::new(pwd));
            self
        }
    }

    fn cl(user: Option<&str>) -> ConnSpec {
        ConnSpec {
            user: user.map(str::to_string),
            ..ConnSpec::default()
        }
    }

    #[test]
    fn resolve_full_precedence() {
        let fx = Fixture::new(
            Some("[client]\nhost=sys1\nport=1001\nuser=sys1\ndatabase=sys1\ncharset=x\nsocket=/sys1.sock\n"),
            Some("[client]\nhost=sys2\nport=1002\n"),
            Some("[client]\nhost=home\n[oxkit]\nuser=home\n"),
        )
        .with_pwd("env-pw");
        let layers = Layers::default();
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!(
            s.host.as_deref(),
            Some("home"),
            "~/.my.cnf beats system files"
        );
        assert_eq!(s.user.as_deref(), Some("home"));
        assert_eq!(s.port, Some(1002), "later system file beats earlier");
        assert_eq!(s.database.as_deref(), Some("sys1"));
        assert_eq!(s.socket, Some(PathBuf::from("/sys1.sock")));
        assert_eq!(
            s.charset, None,
            "only default-character-set maps to charset"
        );
        assert_eq!(
            pw(&s),
            Some("env-pw"),
            "MYSQL_PWD when nothing else gave one"
        );

        // Command line beats files; target beats command line.
        let layers = Layers {
            target: Some(parse_dsn("u=dsn").expect("dsn")),
            command_line: ConnSpec {
                user: Some("cli".into()),
                host: Some("cli".into()),
                ..ConnSpec::default()
            },
            ..Layers::default()
        };
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!(
            (s.user.as_deref(), s.host.as_deref()),
            (Some("dsn"), Some("cli"))
        );
        assert_eq!(s.port, Some(1002));
    }

    #[test]
    fn mysql_pwd_is_the_last_resort() {
        let fx = Fixture::new(Some("[client]\npassword=sys-pw\n"), None, None).with_pwd("env-pw");
        let s = resolve(&Layers::default(), &fx.env).expect("resolve");
        assert_eq!(pw(&s), Some("sys-pw"), "any option file beats MYSQL_PWD");
        let layers = Layers {
            command_line: ConnSpec {
                password: Some(Secret::new("cli-pw")),
                ..ConnSpec::default()
            },
            ..Layers::default()
        };
        assert_eq!(
            pw(&resolve(&layers, &fx.env).expect("resolve")),
            Some("cli-pw")
        );
        // A bare `password` line (prompt, for the mysql client) sets nothing.
        let fx = Fixture::new(None, None, Some("[client]\npassword\n")).with_pwd("env-pw");
        assert_eq!(
            pw(&resolve(&Layers::default(), &fx.env).expect("resolve")),
            Some("env-pw")
        );
        // An explicitly empty password is a password.
        let fx = Fixture::new(None, None, Some("[client]\npassword=\n")).with_pwd("env-pw");
        assert_eq!(
            pw(&resolve(&Layers::default(), &fx.env).expect("resolve")),
            Some("")
        );
    }

    #[test]
    fn defaults_file_is_read_alone() {
        let fx = Fixture::new(
            Some("[client]\ndatabase=sys\n"),
            None,
            Some("[client]\nhost=home\nsocket=/home.sock\n"),
        );
        let df = fx.file("only.cnf", "[client]\nuser=df\nhost=df\npassword=df-pw\n");
        let extra = fx.file("extra.cnf", "[client]\nport=9\n");
        let layers = Layers {
            command_line: ConnSpec {
                user: Some("cli".into()),
                defaults_file: Some(df.clone()),
                ..ConnSpec::default()
            },
            defaults_extra_file: Some(extra),
            ..Layers::default()
        };
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!(
            s.user.as_deref(),
            Some("cli"),
            "command line beats --defaults-file"
        );
        assert_eq!(
            s.host.as_deref(),
            Some("df"),
            "--defaults-file beats ~/.my.cnf"
        );
        assert_eq!(pw(&s), Some("df-pw"));
        assert_eq!(
            (s.database.as_deref(), s.socket.as_ref(), s.port),
            (None, None, None)
        );

        // The target's F= wins over --defaults-file.
        let other = fx.file("other.cnf", "[client]\nhost=other\n");
        let layers = Layers {
            target: Some(parse_dsn(&format!("F={}", other.display())).expect("dsn")),
            ..layers
        };
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!(
            (s.host.as_deref(), s.password.is_none()),
            (Some("other"), true)
        );

        // A missing defaults file is an error naming it.
        let layers = Layers {
            command_line: ConnSpec {
                defaults_file: Some(fx.dir.path().join("missing.cnf")),
                ..ConnSpec::default()
            },
            ..Layers::default()
        };
        assert!(err_text(resolve(&layers, &fx.env)).contains("missing.cnf"));
    }

    #[test]
    fn no_defaults_reads_nothing() {
        let fx = Fixture::new(
            Some("[client]\nuser=sys\n"),
            None,
            Some("[client]\nhost=home\n"),
        )
        .with_pwd("env-pw");
        let layers = Layers {
            no_defaults: true,
            command_line: ConnSpec {
                defaults_file: Some(fx.dir.path().join("missing.cnf")),
                ..cl(None)
            },
            defaults_extra_file: Some(fx.dir.path().join("missing-extra.cnf")),
            ..Layers::default()
        };
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!((s.user.as_deref(), s.host.as_deref()), (None, None));
        assert_eq!(pw(&s), Some("env-pw"), "MYSQL_PWD is still honoured");
    }

    #[test]
    fn extra_file_between_system_files_and_home() {
        let fx = Fixture::new(
            Some("[client]\nuser=sys\nhost=sys\nport=1\n"),
            None,
            Some("[client]\nhost=home\n"),
        );
        let extra = fx.file("extra.cnf", "[client]\nuser=extra\nhost=extra\n");
        let layers = Layers {
            defaults_extra_file: Some(extra),
            ..Layers::default()
        };
        let s = resolve(&layers, &fx.env).expect("resolve");
        assert_eq!(
            s.user.as_deref(),
            Some("extra"),
            "extra file beats system files"
        );
        assert_eq!(
            s.host.as_deref(),
            Some("home"),
            "~/.my.cnf beats the extra file"
        );
        assert_eq!(s.port, Some(1));
        let layers = Layers {
            defaults_extra_file: Some(fx.dir.path().join("nope.cnf")),
            ..Layers::default()
        };
        assert!(err_text(resolve(&layers, &fx.env)).contains("nope.cnf"));
    }

    #[test]
    fn include_in_home_file_is_honoured() {
        let fx = Fixture::new(None, None, None);
        let home = fx.env.home.clone().expect("home");
        fs::create_dir_all(home.join("conf.d")).expect("mkdir");
        fs::write(
            home.join("conf.d/creds.cnf"),
            "[client]\nuser=included\npassword=inc-pw\n",
        )
        .expect("write");
        fs::write(
            home.join("conf.d/ssl.cnf"),
            "[client-mariadb]\nssl-ca=/ca.pem\n",
        )
        .expect("write");
        fs::write(
            home.join(".my.cnf"),
            "[client]\nhost=h\n!include conf.d/creds.cnf\n!includedir conf.d\n",
        )
        .expect("write");
        let s = resolve(&Layers::default(), &fx.env).expect("resolve");
        assert_eq!(
            (s.host.as_deref(), s.user.as_deref()),
            (Some("h"), Some("included"))
        );
        assert_eq!(pw(&s), Some("inc-pw"));
        assert_eq!(s.tls.ca, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn option_file_keys_and_ssl_switches() {
        let fx = Fixture::new(
            None,
            None,
            Some(
                "[client]\ndefault_character_set=latin1\nssl-cert=/c.pem\nssl_key=/k.pem\n\
                 [mysqld]\nport=1\n[client-server]\nssl\n",
            ),
        );
        let s = resolve(&Layers::default(), &fx.env).expect("resolve");
        assert_eq!(s.charset.as_deref(), Some("latin1"));
        assert_eq!(s.tls.cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(s.tls.key, Some(PathBuf::from("/k.pem")));
        assert_eq!(s.tls.mode, Some(SslMode::Required));
        assert_eq!(s.port, None, "[mysqld] is not read");

        let mode = |text: &str| {
            let fx = Fixture::new(None, None, Some(text));
            resolve(&Layers::default(), &fx.env)
                .expect("resolve")
                .tls
                .mode
        };
        assert_eq!(mode("[client]\nssl=0\n"), Some(SslMode::Disabled));
        assert_eq!(mode("[client]\nssl=1\n"), Some(SslMode::Required));
        assert_eq!(mode("[client]\nssl\nskip-ssl\n"), Some(SslMode::Disabled));
        assert_eq!(
            mode("[client]\nskip-ssl\n[oxkit]\nssl\n"),
            Some(SslMode::Required)
        );
        assert_eq!(
            mode("[client]\nssl-mode=VERIFY_CA\nskip-ssl\n"),
            Some(SslMode::VerifyCa)
        );
        assert_eq!(
            mode("[client]\nssl_mode=preferred\n"),
            Some(SslMode::Preferred)
        );
        assert_eq!(mode("[client]\n"), None);
    }

    #[test]
    fn bad_option_values_name_file_and_line() {
        let fx = Fixture::new(None, None, Some("[client]\nuser=u\nport=33o6\n"));
        let e = err_text(resolve(&Layers::default(), &fx.env));
        assert!(e.contains(".my.cnf:3") && e.contains("33o6"), "{e}");
        let fx = Fixture::new(None, None, Some("[client]\nssl-mode=sometimes\n"));
        let e = err_text(resolve(&Layers::default(), &fx.env));
        assert!(e.contains(".my.cnf:2") && e.contains("ssl-mode"), "{e}");
        let fx = Fixture::new(Some("[client]\npassword SuperSecret42\n"), None, None);
        let e = err_text(resolve(&Layers::default(), &fx.env));
        assert!(
            e.contains("etc-my.cnf:2") && !e.contains("SuperSecret42"),
            "{e}"
        );
    }

    #[test]
    fn option_files_order() {
        let env = Env {
            home: Some(PathBuf::from("/home/me")),
            mysql_pwd: None,
            system_files: vec![
                PathBuf::from("/etc/my.cnf"),
                PathBuf::from("/etc/mysql/my.cnf"),
            ],
        };
        let layers = Layers {
            defaults_extra_file: Some(PathBuf::from("/x.cnf")),
            ..Layers::default()
        };
        let files = option_files(&layers, &ConnSpec::default(), &env);
        let want: Vec<(PathBuf, bool)> = vec![
            ("/etc/my.cnf".into(), false),
            ("/etc/mysql/my.cnf".into(), false),
            ("/x.cnf".into(), true),
            (Path::new("/home/me").join(".my.cnf"), false),
        ];
        assert_eq!(files, want);
    }
}
