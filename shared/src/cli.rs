//! Shared clap option groups: connection, output, table filters and
//! throttling.
//!
//! Long names follow the mysql client and Percona Toolkit (`--host -h`,
//! `--port -P`, `--user -u`, `--password -p`, `--socket -S`,
//! `--defaults-file -F`, `--charset -A`, `--ssl-mode`...). These are only
//! raw words: [`ConnArgs::resolve`] layers them with DSNs, option files and
//! the environment into a [`ConnSpec`] without touching the network.

use crate::conn::{ConnectOptions, SessionOptions};
use crate::dsn::{self, ConnSpec, Env, SslMode, TlsSpec};
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
    /// The parsed methods.
    pub fn methods(&self) -> Result<Vec<crate::topology::Method>> {
        crate::topology::parse_methods(&self.recursion_method)
            .map_err(|e| anyhow::anyhow!("--recursion-method: {e:#}"))
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

/// When to pause between chunks (see [`crate::throttle`]).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Throttling")]
pub struct ThrottleArgs {
    /// Pause while any replica lags more than this many seconds
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub max_lag: f64,
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
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub check_interval: f64,
    /// Fail (exit flag 128) instead of waiting when a replica's threads are stopped
    #[arg(long)]
    pub fail_on_stopped_replication: bool,
}

impl ThrottleArgs {
    /// The checked options.
    pub fn options(&self) -> Result<crate::throttle::ThrottleOptions> {
        let secs = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!("{what} must be a number of seconds >= 0"))
            }
        };
        Ok(crate::throttle::ThrottleOptions {
            max_lag: Some(secs("--max-lag", self.max_lag)?),
            max_load: crate::throttle::parse_thresholds(&self.max_load)
                .map_err(|e| anyhow::anyhow!("--max-load: {e}"))?,
            critical_load: crate::throttle::parse_thresholds(&self.critical_load)
                .map_err(|e| anyhow::anyhow!("--critical-load: {e}"))?,
            pause_file: self.pause_file.clone(),
            fail_on_stopped: self.fail_on_stopped_replication,
            check_interval: secs("--check-interval", self.check_interval)?
                .max(Duration::from_millis(50)),
        })
    }
}
