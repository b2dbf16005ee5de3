//! Connection targets: Percona Toolkit DSNs and `mysql://` URLs.
//!
//! A [`ConnSpec`] holds what the user said about one server, every field
//! optional. Specs are layered by [`ConnSpec::fill_from`] (unset fields are
//! taken from a lower layer): DSN or URL, then command-line options, then
//! option files, then `MYSQL_PWD`, then built-in defaults (see
//! `crate::cli::ConnArgs::resolve`).

use crate::secret::Secret;
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
    /// TLS, server certificate signed by `--ssl-ca`.
    VerifyCa,
    /// TLS, certificate signed by `--ssl-ca` and naming the host.
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
            system_files: vec![PathBuf::from("/etc/my.cnf"), PathBuf::from("/etc/mysql/my.cnf")],
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

// --- placeholder implementations; replaced by the DSN/option-file work ---

/// Resolves the layers into one spec (placeholder: target over command line).
pub fn resolve(layers: &Layers, env: &Env) -> anyhow::Result<ConnSpec> {
    let mut s = layers.target.clone().unwrap_or_default();
    let cl = &layers.command_line;
    s.host = s.host.or(cl.host.clone());
    s.port = s.port.or(cl.port);
    s.user = s.user.or(cl.user.clone());
    s.password = s.password.or(cl.password.clone()).or(env.mysql_pwd.clone());
    s.socket = s.socket.or(cl.socket.clone());
    s.database = s.database.or(cl.database.clone());
    Ok(s)
}

/// A printable name for a target, never holding the password.
pub fn label(spec: &ConnSpec) -> String {
    let user = spec.user.as_deref().unwrap_or("");
    match (&spec.host, &spec.socket) {
        (Some(h), _) if h != "localhost" => format!("{user}@{h}:{}", spec.port.unwrap_or(3306)),
        (_, Some(s)) => format!("{user}@localhost:{}", s.display()),
        _ => format!("{user}@localhost"),
    }
}
