//! Shared clap option groups (connection, output, table filters,
//! chunking, throttling) and the argument types that check their own
//! values ([`Secs`], [`Count`], [`DbTable`], [`Condition`]), so a bad value
//! is refused by the parser, named with its option, before any tool code
//! runs.
//!
//! Long names follow the mysql client and Percona Toolkit (`--host -h`,
//! `--port -P`, `--user -u`, `--password -p`, `--socket -S`,
//! `--defaults-file -F`, `--charset -A`, `--ssl-mode`...). These are only
//! raw words: [`ConnArgs::resolve`] layers them with DSNs, option files and
//! the environment into a [`ConnSpec`] without touching the network.

use crate::conn::{ConnectOptions, SessionOptions};
use crate::dsn::{self, ConnSpec, Env, SslMode, TlsSpec};
use crate::entry::usage_error;
use crate::report::Format;
use crate::secret::Secret;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// How to reach the server(s).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// Server host name or IP address (localhost means the Unix socket)
    #[arg(short = 'h', long, value_name = "HOST")]
    pub host: Option<String>,
    /// TCP port
    #[arg(short = 'P', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// User name
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Password; -p alone (or --password with no =value) prompts. Given here it is masked in the process list but stays in shell history: prefer an option file, MYSQL_PWD or --ask-pass
    #[arg(short = 'p', long, value_name = "PASS", num_args = 0..=1, require_equals = true)]
    pub password: Option<Option<Secret>>,
    /// Prompt for the password on the terminal
    #[arg(long)]
    pub ask_pass: bool,
    /// Unix socket file
    #[arg(short = 'S', long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Default database
    #[arg(short = 'D', long, value_name = "DB")]
    pub database: Option<String>,
    /// Read only this option file (mysql client semantics)
    #[arg(short = 'F', long, value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,
    /// Read this option file after the global option files, before ~/.my.cnf
    #[arg(long, value_name = "FILE")]
    pub defaults_extra_file: Option<PathBuf>,
    /// Read no option files (my.cnf)
    #[arg(long)]
    pub no_defaults: bool,
    /// Connection character set
    #[arg(short = 'A', long, value_name = "CHARSET")]
    pub charset: Option<String>,
    /// TLS requirement (default PREFERRED over TCP, DISABLED over the socket)
    #[arg(
        long,
        value_name = "MODE",
        ignore_case = true,
        hide_possible_values = false
    )]
    pub ssl_mode: Option<SslMode>,
    /// CA certificate (PEM) to verify the server with
    #[arg(long, value_name = "FILE")]
    pub ssl_ca: Option<PathBuf>,
    /// Client certificate (PEM)
    #[arg(long, value_name = "FILE")]
    pub ssl_cert: Option<PathBuf>,
    /// Client private key (PEM)
    #[arg(long, value_name = "FILE")]
    pub ssl_key: Option<PathBuf>,
    /// Seconds to wait for a connection: name lookup, TCP, handshake, TLS and login together
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Session variables to set after connecting: var=value,var2=value2
    #[arg(long, value_name = "VARS")]
    pub set_vars: Option<String>,
}

impl ConnArgs {
    /// The command-line layer alone, as a spec.
    pub fn to_spec(&self) -> ConnSpec {
        ConnSpec {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.clone().flatten(),
            socket: self.socket.clone(),
            database: self.database.clone(),
            table: None,
            defaults_file: self.defaults_file.clone(),
            charset: self.charset.clone(),
            tls: TlsSpec {
                mode: self.ssl_mode,
                ca: self.ssl_ca.clone(),
                cert: self.ssl_cert.clone(),
                key: self.ssl_key.clone(),
            },
        }
    }

    /// Resolves one target (a DSN or URL given to the tool, or none) into a
    /// complete spec: target > command line > option files > `MYSQL_PWD`.
    /// `--ask-pass` prompts on the terminal when no password was found.
    pub fn resolve(&self, target: Option<&ConnSpec>) -> Result<ConnSpec> {
        self.resolve_with_env(target, &Env::from_process())
    }

    /// [`ConnArgs::resolve`] with an explicit environment (for tests).
    pub fn resolve_with_env(&self, target: Option<&ConnSpec>, env: &Env) -> Result<ConnSpec> {
        let layers = dsn::Layers {
            target: target.cloned(),
            command_line: self.to_spec(),
            no_defaults: self.no_defaults,
            defaults_extra_file: self.defaults_extra_file.clone(),
        };
        let mut spec = dsn::resolve(&layers, env)?;
        let bare_p = matches!(self.password, Some(None));
        if (self.ask_pass || bare_p) && spec.password.is_none() {
            let prompt = format!("Enter password for {}: ", dsn::label(&spec));
            let pw = rpassword::prompt_password(prompt).map_err(|e| {
                anyhow::anyhow!("--ask-pass: cannot read the password from the terminal: {e}")
            })?;
            spec.password = Some(Secret::new(pw));
        }
        Ok(spec)
    }

    /// Timeouts and session variables for [`crate::conn::connect`].
    pub fn connect_options(&self) -> Result<ConnectOptions> {
        let mut session = SessionOptions::default();
        if let Some(vars) = &self.set_vars {
            session.extra_vars = crate::conn::parse_set_vars(vars)?;
        }
        Ok(ConnectOptions {
            connect_timeout: Duration::from_secs(self.connect_timeout.max(1)),
            session,
            ..ConnectOptions::default()
        })
    }
}

/// How a tool finds the replicas it watches or checks (Percona's
/// `--recursion-method`), for every tool that looks for them.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Replicas")]
pub struct RecursionArgs {
    /// How to find replicas: hosts, processlist, dsn=DSN, none (comma-separated, tried in order)
    #[arg(long, default_value = DEFAULT_RECURSION, value_name = "METHODS")]
    pub recursion_method: String,
}

/// `--recursion-method`'s default.
pub const DEFAULT_RECURSION: &str = "hosts,processlist";

impl RecursionArgs {
    /// The parsed methods; a bad list is a usage error.
    pub fn methods(&self) -> Result<Vec<crate::topology::Method>> {
        crate::topology::parse_methods(&self.recursion_method)
            .map_err(|e| usage_error(format!("--recursion-method: {e:#}")))
    }

    /// True when the option was left at its default.
    pub fn is_default(&self) -> bool {
        self.recursion_method == DEFAULT_RECURSION
    }
}

/// How to print results.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format: human text tables, or one JSON document for scripts
    #[arg(long, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
}

/// Which tables to work on (see [`crate::filter::TableFilter`]).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only these databases (comma-separated)
    #[arg(short = 'd', long, value_delimiter = ',', value_name = "DBS")]
    pub databases: Vec<String>,
    /// Only these tables: `db.table`, or `table` in any database (comma-separated)
    #[arg(short = 't', long, value_delimiter = ',', value_name = "TABLES")]
    pub tables: Vec<String>,
    /// Skip these databases
    #[arg(long, value_delimiter = ',', value_name = "DBS")]
    pub ignore_databases: Vec<String>,
    /// Skip these tables (`db.table` or `table`)
    #[arg(long, value_delimiter = ',', value_name = "TABLES")]
    pub ignore_tables: Vec<String>,
    /// Only databases whose name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub databases_regex: Option<String>,
    /// Only tables whose name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub tables_regex: Option<String>,
    /// Skip databases whose name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub ignore_databases_regex: Option<String>,
    /// Skip tables whose name matches this regular expression
    #[arg(long, value_name = "REGEX")]
    pub ignore_tables_regex: Option<String>,
    /// Only tables using these storage engines
    #[arg(long, value_delimiter = ',', value_name = "ENGINES")]
    pub engines: Vec<String>,
    /// Skip tables using these storage engines
    #[arg(long, value_delimiter = ',', value_name = "ENGINES")]
    pub ignore_engines: Vec<String>,
}

impl FilterArgs {
    /// The compiled filter; a bad regular expression is a usage error.
    pub fn table_filter(&self) -> Result<crate::filter::TableFilter> {
        crate::filter::TableFilter::new(self).map_err(|e| usage_error(format!("{e:#}")))
    }
}

/// When to pause between chunks (see [`crate::throttle`]).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Throttling")]
pub struct ThrottleArgs {
    /// Pause while any replica lags more than this many seconds
    #[arg(long, default_value = "1", value_name = "SECS")]
    pub max_lag: Secs,
    /// Pause while a global status variable exceeds a limit (`Threads_running=25`)
    #[arg(long, default_value = "Threads_running=25", value_name = "VAR=N")]
    pub max_load: String,
    /// Abort when a global status variable exceeds a limit
    #[arg(long, default_value = "Threads_running=50", value_name = "VAR=N")]
    pub critical_load: String,
    /// Pause while this file exists
    #[arg(long, value_name = "FILE")]
    pub pause_file: Option<PathBuf>,
    /// Seconds between throttle checks
    #[arg(long, default_value = "1", value_name = "SECS")]
    pub check_interval: Secs,
    /// Fail (exit flag 128) instead of waiting when a replica's threads are stopped
    #[arg(long)]
    pub fail_on_stopped_replication: bool,
}

impl ThrottleArgs {
    /// The checked options; a bad threshold is a usage error.
    pub fn options(&self) -> Result<crate::throttle::ThrottleOptions> {
        Ok(crate::throttle::ThrottleOptions {
            max_lag: Some(self.max_lag.duration()),
            max_load: crate::throttle::parse_thresholds(&self.max_load)
                .map_err(|e| usage_error(format!("--max-load: {e}")))?,
            critical_load: crate::throttle::parse_thresholds(&self.critical_load)
                .map_err(|e| usage_error(format!("--critical-load: {e}")))?,
            pause_file: self.pause_file.clone(),
            fail_on_stopped: self.fail_on_stopped_replication,
            check_interval: self
                .check_interval
                .duration()
                .max(Duration::from_millis(50)),
        })
    }
}

/// How big a chunk is: a time target it adapts to, and its first size.
/// The help here is ox-table-checksum's; a tool whose chunks mean
/// something else words them its own way with `mut_arg` (the options,
/// defaults and checks stay these).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Chunking")]
pub struct ChunkArgs {
    /// Seconds each chunk should take; chunk sizes adapt to it (0 keeps --chunk-size fixed)
    #[arg(long, default_value = "0.5", value_name = "SECS")]
    pub chunk_time: Secs,
    /// Rows in the first chunk of a table (and every chunk with --chunk-time 0)
    #[arg(long, default_value = "1000", value_name = "ROWS")]
    pub chunk_size: Count,
}

/// A number of seconds on the command line (`--chunk-time 0.5`): finite
/// and not negative, or clap refuses it with "must be a number of seconds
/// >= 0". Shown (help, defaults) as it was given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Secs(f64);

impl Secs {
    /// The value as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.0)
    }

    /// The value as a duration, `None` for 0 (an option whose 0 turns its
    /// job off).
    pub fn nonzero(self) -> Option<Duration> {
        (self.0 > 0.0).then(|| self.duration())
    }

    /// The number of seconds.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl std::str::FromStr for Secs {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Secs, String> {
        match s.trim().parse::<f64>() {
            // Duration::from_secs_f64 panics above u64::MAX seconds.
            Ok(v) if (0.0..1e18).contains(&v) => Ok(Secs(v)),
            _ => Err("must be a number of seconds >= 0".to_string()),
        }
    }
}

impl std::fmt::Display for Secs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A count that must be at least 1 (`--chunk-size`, `--batch-size`):
/// clap refuses 0 with "must be at least 1".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count(u64);

impl Count {
    /// The count.
    pub fn get(self) -> u64 {
        self.0
    }

    /// The count as a `usize` (saturating on 32-bit hosts).
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl std::str::FromStr for Count {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Count, String> {
        match s.trim().parse::<u64>() {
            Ok(0) => Err("must be at least 1".to_string()),
            Ok(n) => Ok(Count(n)),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A table named `DATABASE.TABLE` (`--replicate percona.checksums`): both
/// parts non-empty, one dot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbTable {
    /// The database.
    pub db: String,
    /// The table.
    pub table: String,
}

impl std::str::FromStr for DbTable {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<DbTable, String> {
        match s.split_once('.') {
            Some((d, t)) if !d.is_empty() && !t.is_empty() && !t.contains('.') => Ok(DbTable {
                db: d.to_string(),
                table: t.to_string(),
            }),
            _ => Err("expected DATABASE.TABLE".to_string()),
        }
    }
}

impl std::fmt::Display for DbTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.db, self.table)
    }
}

/// An SQL condition (`--where`): anything but blank, which clap refuses
/// with "the condition is empty". The text is the user's, applied as
/// given on every server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition(pub String);

impl std::str::FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Condition, String> {
        if s.trim().is_empty() {
            Err("the condition is empty".to_string())
        } else {
            Ok(Condition(s.to_string()))
        }
    }
}

/// The connection options of a checked config: the words given, to
/// resolve targets over, and the timeouts and session variables every
/// connection uses, checked once.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The options as given.
    pub args: ConnArgs,
    /// What [`crate::conn::connect`] takes.
    pub options: ConnectOptions,
}

impl Connection {
    /// Checks the options (`--set-vars`); a bad one is a usage error.
    pub fn new(args: ConnArgs) -> Result<Connection> {
        let options = args
            .connect_options()
            .map_err(|e| usage_error(format!("{e:#}")))?;
        Ok(Connection { args, options })
    }

    /// See [`ConnArgs::resolve`].
    pub fn resolve(&self, target: Option<&ConnSpec>) -> Result<ConnSpec> {
        self.args.resolve(target)
    }

    /// Every target (DSNs or URLs given on the command line, already
    /// parsed with [`parse_targets`]) resolved over these options; no
    /// target at all is one server named by the connection options alone.
    pub fn resolve_all(&self, targets: &[ConnSpec]) -> Result<Vec<ConnSpec>> {
        if targets.is_empty() {
            return Ok(vec![self.resolve(None)?]);
        }
        targets.iter().map(|t| self.resolve(Some(t))).collect()
    }
}

/// The DSNs or URLs given on the command line, parsed; a malformed one is
/// a usage error.
pub fn parse_targets(targets: &[String]) -> Result<Vec<ConnSpec>> {
    dsn::parse_targets(targets).map_err(|e| usage_error(format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_refuse_what_is_not_a_duration() {
        for bad in ["-1", "NaN", "inf", "-inf", "x", "", "1e30"] {
            assert_eq!(
                bad.parse::<Secs>(),
                Err("must be a number of seconds >= 0".to_string()),
                "{bad}"
            );
        }
        let s: Secs = "0.5".parse().expect("secs");
        assert_eq!(s.duration(), Duration::from_millis(500));
        assert_eq!(s.to_string(), "0.5");
        assert_eq!(
            "600".parse::<Secs>().map(|s| s.to_string()),
            Ok("600".into())
        );
        assert_eq!("0".parse::<Secs>().map(Secs::nonzero), Ok(None));
    }

    #[test]
    fn counts_start_at_one() {
        assert_eq!("0".parse::<Count>(), Err("must be at least 1".to_string()));
        assert!("-1".parse::<Count>().is_err());
        assert_eq!("200".parse::<Count>().map(Count::get), Ok(200));
    }

    #[test]
    fn db_table_has_two_parts() {
        for bad in ["t", ".t", "d.", "a.b.c", ""] {
            assert_eq!(
                bad.parse::<DbTable>(),
                Err("expected DATABASE.TABLE".to_string()),
                "{bad}"
            );
        }
        let t: DbTable = "percona.checksums".parse().expect("db.table");
        assert_eq!((t.db.as_str(), t.table.as_str()), ("percona", "checksums"));
        assert_eq!(t.to_string(), "percona.checksums");
    }

    #[test]
    fn conditions_are_not_blank() {
        assert!(" ".parse::<Condition>().is_err());
        assert_eq!("a > 1".parse::<Condition>(), Ok(Condition("a > 1".into())));
    }
}
