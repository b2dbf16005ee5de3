//! The command line: one subcommand per action, each with its own
//! arguments, so clap itself refuses an option the action does not take
//! (`list --threads 4`); what every action shares (the repository, the
//! connection and output options) belongs to the tool and may stand before
//! or after the action. [`Config::new`] then checks what clap cannot (value
//! ranges, durations, how a restore's options fit together) and fails in
//! milliseconds, before anything touches the network or the repository.

use crate::manifest::Method;
use crate::pitr::Until;
use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use oxkit::cli::{ConnArgs, FilterArgs, OutputArgs};
use oxkit::entry::usage_error;
use oxkit::filter::TableFilter;
use oxkit::report::Format;
use std::path::PathBuf;

/// take, catalogue, encrypt, verify and restore backups
#[derive(Parser, Debug)]
#[command(
    name = "ox-backup",
    version,
    about = "take, catalogue, encrypt, verify and restore backups",
    long_about = "Takes consistent hot backups into a repository, catalogues them, encrypts them, proves each one restorable by restoring it into a throwaway server and comparing checksums, restores fast, and rolls forward through binary logs to a point in time.",
    subcommand_value_name = "ACTION",
    subcommand_help_heading = "Actions",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// What to do
    #[command(subcommand)]
    pub action: Action,
    /// Repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible object store (created by the first backup)
    #[arg(long, value_name = "DIR|URL", help_heading = "Repository")]
    pub repo: Option<String>,
    /// S3 endpoint of a self-hosted or non-AWS store (http://host:port or https://...); path-style addressing
    #[arg(long, value_name = "URL", help_heading = "Repository")]
    pub s3_endpoint: Option<String>,
    /// S3 region (default $AWS_REGION, else us-east-1)
    #[arg(long, value_name = "REGION", help_heading = "Repository")]
    pub s3_region: Option<String>,
    /// File with the S3 credentials, in the AWS credentials format (profile $AWS_PROFILE, else [default]); default: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, else ~/.aws/credentials. Credentials are never taken on the command line
    #[arg(long, value_name = "FILE", help_heading = "Repository")]
    pub s3_credentials_file: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The actions.
#[derive(Subcommand, Debug)]
pub enum Action {
    /// Take a backup of the server (DSN) into --repo
    Backup(BackupArgs),
    /// List the backups in --repo with age, size, duration and verification
    List,
    /// Exit non-zero when the newest verified backup is older than --max-age (monitoring)
    Check(CheckArgs),
    /// Delete backups outside --keep-last/--keep-days (never the newest verified one) and abandoned ones (their backup died), and the archived binary logs older than every kept backup's position
    Expire(ExpireArgs),
    /// Restore a backup (--backup, default the newest) into the server (DSN)
    Restore(RestoreArgs),
    /// Restore a backup into a throwaway server and compare checksums; record the verdict
    Verify(VerifyArgs),
    /// Copy the server's binary logs into --repo for point-in-time recovery
    Binlog(BinlogArgs),
}

/// The server of backup, restore and binlog.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// The server to back up, restore into or copy binary logs from: a DSN (h=host,P=port,u=user) or mysql:// URL; or give --host/--port/--user/--socket instead
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
}

impl ServerArgs {
    /// At most one server: one DSN, or the connection options alone.
    fn check(&self, action: &str) -> Result<()> {
        if self.targets.len() > 1 {
            return Err(usage_error(format!(
                "{action} takes one server: one DSN, or --host/--port/--socket"
            )));
        }
        Ok(())
    }

    /// The server, from the DSN layered over the connection options (the
    /// one resolver every tool uses).
    pub fn resolve(&self, conn: &ConnArgs) -> Result<oxkit::dsn::ConnSpec> {
        let targets =
            oxkit::dsn::parse_targets(&self.targets).map_err(|e| usage_error(format!("{e:#}")))?;
        conn.resolve(targets.first())
            .context("resolving the connection")
    }
}

/// Worker connections.
#[derive(Args, Debug, Clone)]
pub struct ThreadsArgs {
    /// Parallel connections for backup and restore
    #[arg(long, default_value_t = 4, value_name = "N", help_heading = "Backup")]
    pub threads: usize,
}

impl ThreadsArgs {
    fn check(&self) -> Result<()> {
        if self.threads == 0 || self.threads > 256 {
            return Err(usage_error("--threads must be between 1 and 256"));
        }
        Ok(())
    }
}

/// Compression of what is written into the repository.
#[derive(Args, Debug, Clone)]
pub struct CompressArgs {
    /// zstd compression level (1 fast .. 19 small)
    #[arg(
        long,
        default_value_t = 3,
        value_name = "LEVEL",
        help_heading = "Backup"
    )]
    pub compress_level: i32,
}

impl CompressArgs {
    fn check(&self) -> Result<()> {
        if !(1..=19).contains(&self.compress_level) {
            return Err(usage_error("--compress-level must be between 1 and 19"));
        }
        Ok(())
    }
}

/// The key of an encrypted set.
#[derive(Args, Debug, Clone)]
pub struct KeyArgs {
    /// Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository
    #[arg(long, value_name = "FILE", help_heading = "Encryption")]
    pub encrypt_key_file: Option<PathBuf>,
}

/// The throwaway server that verifies a set (and prepares a physical one).
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)
    #[arg(
        long,
        default_value = "256M",
        value_name = "SIZE",
        help_heading = "Backup"
    )]
    pub verify_buffer_pool: String,
}

/// Which set.
#[derive(Args, Debug, Clone)]
pub struct SetArgs {
    /// Backup to restore or verify (its id, as `list` shows it); default the newest
    #[arg(long, value_name = "ID", help_heading = "Repository")]
    pub backup: Option<String>,
}

/// Users and grants in a restore.
#[derive(Args, Debug, Clone)]
pub struct UsersArgs {
    /// Restore users and grants too (verify and backup --verify: into the throwaway server)
    #[arg(long, help_heading = "Restore")]
    pub users: bool,
}

/// `backup`.
#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// How to back up: logical (rows through SQL, any server) or physical (a hot copy of the data directory of a server on this host: MariaDB 10.8+ by copying its files and redo, MySQL 8.0.17+ with the server's clone plugin; restore it with --to-datadir)
    #[arg(
        long,
        value_enum,
        default_value_t = Method::Logical,
        value_name = "METHOD",
        help_heading = "Backup"
    )]
    pub method: Method,
    #[command(flatten)]
    pub threads: ThreadsArgs,
    /// Rows per data file of a big table (tables are cut into key ranges of this size)
    #[arg(
        long,
        default_value_t = 250_000,
        value_name = "ROWS",
        help_heading = "Backup"
    )]
    pub chunk_rows: u64,
    #[command(flatten)]
    pub compress: CompressArgs,
    /// Verify the backup right after taking it (restore into a throwaway server, compare checksums)
    #[arg(long, help_heading = "Backup")]
    pub verify: bool,
    /// Back up non-InnoDB tables too, though they are not covered by the consistent snapshot (a warning is recorded)
    #[arg(long, help_heading = "Backup")]
    pub allow_non_transactional: bool,
    /// Do not save users and grants
    #[arg(long, help_heading = "Backup")]
    pub no_users: bool,
    /// At most this many bytes per second: written (logical) or read from
    /// the data files (physical); suffixes K, M, G
    #[arg(long, value_name = "BYTES", help_heading = "Backup")]
    pub max_rate: Option<String>,
    /// Physical on MySQL: where the server writes its clone before it is
    /// stored (needs the data size free; the server's OS user must reach
    /// it); default: the repository's directory
    #[arg(long, value_name = "DIR", help_heading = "Backup")]
    pub staging_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub users: UsersArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `check`.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The newest verified backup may be this old (26h, 90m, 2d)
    #[arg(
        long,
        default_value = "26h",
        value_name = "AGE",
        help_heading = "Catalogue"
    )]
    pub max_age: String,
    /// Also alert when a binary-log archive kept by `binlog --follow` was
    /// last current longer ago than this (30s, 5m)
    #[arg(long, value_name = "AGE", help_heading = "Catalogue")]
    pub max_archive_lag: Option<String>,
}

/// `expire`.
#[derive(Args, Debug, Clone)]
pub struct ExpireArgs {
    /// Keep the N newest backups
    #[arg(long, value_name = "N", help_heading = "Catalogue")]
    pub keep_last: Option<usize>,
    /// Keep backups younger than D days
    #[arg(long, value_name = "DAYS", help_heading = "Catalogue")]
    pub keep_days: Option<f64>,
    /// Say what would be deleted, delete nothing
    #[arg(long, help_heading = "Catalogue")]
    pub dry_run: bool,
}

/// `restore`.
#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub set: SetArgs,
    #[command(flatten)]
    pub threads: ThreadsArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Do not write the restore to the target's binary log (sql_log_bin=0)
    #[arg(long, help_heading = "Restore")]
    pub no_binlog: bool,
    #[command(flatten)]
    pub users: UsersArgs,
    /// Restore into a new data directory instead of a running server: a throwaway server of the backup's flavour and major version is started on a fresh datadir, restored into, shut down cleanly, and its datadir moved to DIR (which must not exist). A physical backup is decoded into DIR (new or empty) and prepared there by a throwaway server's crash recovery
    #[arg(long, value_name = "DIR", help_heading = "Restore")]
    pub to_datadir: Option<PathBuf>,
    /// Owner (USER or USER:GROUP) of a physical restore's files when run as root; default the owner of the --to-datadir directory if it exists (empty), else of its parent
    #[arg(long, value_name = "USER", help_heading = "Restore")]
    pub owner: Option<String>,
    /// After the restore, read the indexes that were in the source's buffer pool at backup time (hottest first)
    #[arg(long, help_heading = "Restore")]
    pub warm_up: bool,
    /// Restore these tables completely first (rows, indexes, foreign keys, triggers), with the tables they reference by foreign key, then the rest; the moment they are usable is said on stderr and reported (first_usable_secs). TABLES: db.table or table, comma-separated, * and ? as wildcards (a logical backup)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "TABLES",
        help_heading = "Restore"
    )]
    pub first: Vec<String>,
    /// After the restore, replay copied binary logs up to this UTC time (YYYY-MM-DD HH:MM:SS; events at or after it are not applied)
    #[arg(long, value_name = "DATETIME", help_heading = "Restore")]
    pub until: Option<String>,
    /// After the restore, replay copied binary logs up to and including this GTID
    #[arg(
        long,
        value_name = "GTID",
        conflicts_with = "until",
        help_heading = "Restore"
    )]
    pub until_gtid: Option<String>,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `verify`.
#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub set: SetArgs,
    #[command(flatten)]
    pub threads: ThreadsArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub users: UsersArgs,
}

/// `binlog`.
#[derive(Args, Debug, Clone)]
pub struct BinlogArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub compress: CompressArgs,
    /// Keep running: store the binary log as the server writes it, in
    /// segments, resuming after a restart or a lost connection, until
    /// Ctrl-C or SIGTERM (runs as a service: packaging/ox-backup-binlog@.service)
    #[arg(long, help_heading = "Binary log archive")]
    pub follow: bool,
    /// With --follow: close a segment this many seconds after its first
    /// byte arrived (the most a lost host can lose)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 2,
        requires = "follow",
        help_heading = "Binary log archive"
    )]
    pub segment_seconds: u64,
    /// With --follow: close a segment once it holds this much (k, M, G)
    #[arg(
        long,
        value_name = "SIZE",
        default_value = "16M",
        requires = "follow",
        help_heading = "Binary log archive"
    )]
    pub segment_size: String,
    /// With --follow: retry an unreachable server this long (90s, 10m)
    /// before exiting with an error
    #[arg(
        long,
        value_name = "AGE",
        default_value = "5m",
        requires = "follow",
        help_heading = "Binary log archive"
    )]
    pub reconnect_for: String,
}

impl BinlogArgs {
    /// The `--follow` options, checked.
    pub fn follow_options(&self) -> Result<crate::follow::FollowOptions> {
        let segment_bytes = parse_rate(&self.segment_size).ok_or_else(|| {
            usage_error(format!(
                "--segment-size {:?}: expected a size like 16M, 512k",
                self.segment_size
            ))
        })?;
        let reconnect = crate::catalog::parse_age(&self.reconnect_for).ok_or_else(|| {
            usage_error(format!(
                "--reconnect-for {:?}: expected a duration like 90s, 10m",
                self.reconnect_for
            ))
        })?;
        if self.segment_seconds == 0 {
            return Err(usage_error("--segment-seconds must be at least 1"));
        }
        Ok(crate::follow::FollowOptions {
            segment_secs: self.segment_seconds,
            segment_bytes,
            reconnect_for: std::time::Duration::from_secs(reconnect),
            level: self.compress.compress_level,
        })
    }
}

/// The checked configuration.
#[derive(Debug)]
pub struct Config {
    /// The repository `--repo` names.
    pub repo: crate::store::Location,
    /// The connection options (the server of backup, restore, binlog).
    pub conn: ConnArgs,
    /// `--format`.
    pub format: Format,
    /// The action and its checked arguments.
    pub action: Checked,
}

/// An action with its checked arguments.
#[derive(Debug)]
pub enum Checked {
    /// `backup`.
    Backup(BackupConfig),
    /// `list`.
    List,
    /// `check`: `--max-age` in seconds.
    Check {
        /// The newest verified set may be this many seconds old.
        max_age: u64,
        /// A followed binary-log archive may be this many seconds behind.
        max_archive_lag: Option<u64>,
    },
    /// `expire`.
    Expire(ExpireArgs),
    /// `restore`.
    Restore(RestoreConfig),
    /// `verify`.
    Verify(VerifyArgs),
    /// `binlog`.
    Binlog(BinlogArgs),
}

/// `backup`, checked.
#[derive(Debug)]
pub struct BackupConfig {
    /// As given.
    pub args: BackupArgs,
    /// Table selection.
    pub filter: TableFilter,
    /// The filter options as typed (recorded in the manifest).
    pub filter_words: Vec<String>,
    /// `--max-rate` in bytes per second.
    pub max_rate: Option<u64>,
}

/// Where a restore goes.
#[derive(Debug)]
pub enum Target {
    /// A running server.
    Server,
    /// A new data directory (`--to-datadir`).
    Datadir(PathBuf),
}

/// `restore`, checked.
#[derive(Debug)]
pub struct RestoreConfig {
    /// As given.
    pub args: RestoreArgs,
    /// Table selection.
    pub filter: TableFilter,
    /// A running server or a new data directory.
    pub target: Target,
    /// `--until` or `--until-gtid`.
    pub until: Option<Until>,
}

impl Config {
    /// Checks the arguments; fails fast with a usage error.
    pub fn new(cli: Cli) -> Result<Config> {
        let repo = location(&cli)?;
        let action = match cli.action {
            Action::Backup(a) => Checked::Backup(BackupConfig::new(a)?),
            Action::List => Checked::List,
            Action::Check(a) => Checked::Check {
                max_age: crate::catalog::parse_age(&a.max_age).ok_or_else(|| {
                    usage_error(format!(
                        "--max-age {:?}: expected a duration like 26h, 90m, 2d",
                        a.max_age
                    ))
                })?,
                max_archive_lag: match &a.max_archive_lag {
                    None => None,
                    Some(l) => Some(crate::catalog::parse_age(l).ok_or_else(|| {
                        usage_error(format!(
                            "--max-archive-lag {l:?}: expected a duration like 30s, 5m"
                        ))
                    })?),
                },
            },
            Action::Expire(a) => Checked::Expire(a.checked()?),
            Action::Restore(a) => Checked::Restore(RestoreConfig::new(a, &cli.conn)?),
            Action::Verify(a) => {
                a.threads.check()?;
                Checked::Verify(a)
            }
            Action::Binlog(a) => {
                a.server.check("binlog")?;
                a.compress.check()?;
                a.follow_options()?;
                Checked::Binlog(a)
            }
        };
        Ok(Config {
            repo,
            format: cli.output.format,
            conn: cli.conn,
            action,
        })
    }
}

/// `--repo` and the `--s3-*` options, checked.
fn location(cli: &Cli) -> Result<crate::store::Location> {
    use crate::store::{Location, S3Config};
    let repo = cli
        .repo
        .as_deref()
        .ok_or_else(|| usage_error("--repo DIR is required"))?;
    match S3Config::parse(repo) {
        Some(c) => {
            let mut c = c.map_err(|e| usage_error(e.to_string()))?;
            c.endpoint = cli.s3_endpoint.clone();
            c.region = cli.s3_region.clone();
            c.credentials_file = cli.s3_credentials_file.clone();
            if let Some(e) = &c.endpoint {
                if !(e.starts_with("http://") || e.starts_with("https://")) {
                    return Err(usage_error(format!(
                        "--s3-endpoint {e}: expected http://HOST:PORT or https://HOST"
                    )));
                }
            }
            Ok(Location::S3(c))
        }
        None => {
            if let Some(o) = [
                ("--s3-endpoint", cli.s3_endpoint.is_some()),
                ("--s3-region", cli.s3_region.is_some()),
                ("--s3-credentials-file", cli.s3_credentials_file.is_some()),
            ]
            .iter()
            .find(|o| o.1)
            {
                return Err(usage_error(format!(
                    "{} applies to an s3:// repository; --repo {repo} is a directory",
                    o.0
                )));
            }
            Ok(Location::Dir(PathBuf::from(repo)))
        }
    }
}

impl BackupConfig {
    fn new(args: BackupArgs) -> Result<BackupConfig> {
        let filter = table_filter(&args.filter)?;
        args.server.check("backup")?;
        args.threads.check()?;
        if args.chunk_rows == 0 {
            return Err(usage_error("--chunk-rows must be at least 1"));
        }
        args.compress.check()?;
        let max_rate = match &args.max_rate {
            None => None,
            Some(r) => Some(parse_rate(r).ok_or_else(|| {
                usage_error(format!(
                    "--max-rate {r:?}: expected bytes per second, like 50M"
                ))
            })?),
        };
        let filter_words = filter_words(&args.filter);
        if args.method == Method::Physical && !filter_words.is_empty() {
            // A physical backup copies the whole data directory: a filter
            // would be silently ignored, and a typo in one never noticed.
            return Err(usage_error(format!(
                "{}: a physical backup copies the whole data directory and takes no table filters \
                 (filters apply to logical backups, and to restore)",
                filter_words.join(" ")
            )));
        }
        if args.method == Method::Logical && args.staging_dir.is_some() {
            return Err(usage_error(
                "--staging-dir is where a physical backup of MySQL is cloned; a logical backup \
                 writes to the repository only",
            ));
        }
        Ok(BackupConfig {
            args,
            filter,
            filter_words,
            max_rate,
        })
    }
}

impl ExpireArgs {
    fn checked(self) -> Result<ExpireArgs> {
        if self.keep_last.is_none() && self.keep_days.is_none() {
            return Err(usage_error(
                "expire needs a retention: --keep-last N and/or --keep-days D",
            ));
        }
        if self.keep_days.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
            return Err(usage_error("--keep-days must be a number of days >= 0"));
        }
        if self.keep_last == Some(0) && self.keep_days.is_none() {
            return Err(usage_error(
                "--keep-last 0 without --keep-days would delete every backup but the newest verified one; give --keep-days too",
            ));
        }
        Ok(self)
    }
}

impl RestoreConfig {
    fn new(args: RestoreArgs, conn: &ConnArgs) -> Result<RestoreConfig> {
        let filter = table_filter(&args.filter)?;
        if args.owner.is_some() && args.to_datadir.is_none() {
            return Err(usage_error("--owner goes with restore --to-datadir"));
        }
        let target = match &args.to_datadir {
            Some(d) => {
                check_new_datadir(d)?;
                if args.until.is_some() || args.until_gtid.is_some() {
                    return Err(usage_error(
                        "--until and --until-gtid need a running server (restore DSN), not --to-datadir",
                    ));
                }
                if !args.server.targets.is_empty() {
                    return Err(usage_error(
                        "restore --to-datadir takes no DSN (it works on --repo only)",
                    ));
                }
                Target::Datadir(d.clone())
            }
            None => {
                args.server.check("restore")?;
                let names_server = !args.server.targets.is_empty()
                    || conn.host.is_some()
                    || conn.port.is_some()
                    || conn.socket.is_some()
                    || conn.defaults_file.is_some();
                if !names_server {
                    // Reading a backup from the default server is harmless;
                    // writing one into it by omission is not.
                    return Err(usage_error(
                        "restore needs the server to load into: a DSN (h=host,P=port,u=user), \
                         --host/--port/--socket, or --defaults-file; or --to-datadir DIR",
                    ));
                }
                Target::Server
            }
        };
        args.threads.check()?;
        let until = match (&args.until, &args.until_gtid) {
            (Some(t), _) if !valid_datetime(t) => {
                return Err(usage_error(format!(
                    "--until {t:?}: expected 'YYYY-MM-DD HH:MM:SS' (UTC)"
                )))
            }
            (Some(t), _) => Some(Until::Time(t.clone())),
            (_, Some(g)) => Some(Until::Gtid(g.clone())),
            _ => None,
        };
        Ok(RestoreConfig {
            args,
            filter,
            target,
            until,
        })
    }
}

/// A `--to-datadir` must be new, or an empty directory.
fn check_new_datadir(d: &std::path::Path) -> Result<()> {
    let empty_dir = d.is_dir()
        && std::fs::read_dir(d)
            .map(|mut r| r.next().is_none())
            .unwrap_or(false);
    if d.exists() && !empty_dir {
        return Err(usage_error(format!(
            "--to-datadir {}: it exists and is not an empty directory; give a new or empty directory",
            d.display()
        )));
    }
    Ok(())
}

fn table_filter(f: &FilterArgs) -> Result<TableFilter> {
    TableFilter::new(f).map_err(|e| usage_error(format!("{e:#}")))
}

/// The filter options as typed, `--name=value` each.
fn filter_words(f: &FilterArgs) -> Vec<String> {
    let mut words = Vec::new();
    for (name, v) in [
        ("--databases", &f.databases),
        ("--tables", &f.tables),
        ("--ignore-databases", &f.ignore_databases),
        ("--ignore-tables", &f.ignore_tables),
        ("--engines", &f.engines),
        ("--ignore-engines", &f.ignore_engines),
    ] {
        if !v.is_empty() {
            words.push(format!("{name}={}", v.join(",")));
        }
    }
    for (name, v) in [
        ("--databases-regex", &f.databases_regex),
        ("--tables-regex", &f.tables_regex),
        ("--ignore-databases-regex", &f.ignore_databases_regex),
        ("--ignore-tables-regex", &f.ignore_tables_regex),
    ] {
        if let Some(v) = v {
            words.push(format!("{name}={v}"));
        }
    }
    words
}

fn parse_rate(s: &str) -> Option<u64> {
    let s = s.trim();
    let (n, m) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1024u64),
        'm' | 'M' => (&s[..s.len() - 1], 1024 * 1024),
        'g' | 'G' => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1),
    };
    let v: f64 = n.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some((v * m as f64) as u64)
}

fn valid_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::FromArgMatches;
    use oxkit::entry::UsageError;

    fn parse(args: &[&str]) -> Result<Config> {
        let argv = std::iter::once("ox-backup").chain(args.iter().copied());
        let m = oxkit::entry::full_command(crate::command()).try_get_matches_from(argv)?;
        Config::new(Cli::from_arg_matches(&m)?)
    }

    /// Refused by clap: the action does not take the option.
    #[track_caller]
    fn clap_refuses(args: &[&str], kind: ErrorKind) {
        let e = parse(args).expect_err("refused");
        let got = e.downcast_ref::<clap::Error>().map(clap::Error::kind);
        assert_eq!(got, Some(kind), "{args:?}: {e}");
    }

    /// Refused by the checks, with this message (exit 1 and a usage hint).
    #[track_caller]
    fn refuses(args: &[&str], message: &str) {
        let e = parse(args).expect_err("refused");
        assert!(e.downcast_ref::<UsageError>().is_some(), "{args:?}: {e:#}");
        assert_eq!(e.to_string(), message, "{args:?}");
    }

    #[test]
    fn each_action_takes_only_its_options() {
        let others: [&[&str]; 11] = [
            &["list", "--threads", "4"],
            &["list", "h=db1"],
            &["check", "--keep-last", "3"],
            &["expire", "--max-age", "2d"],
            &["verify", "--databases", "d"],
            &["verify", "--method", "physical"],
            &["verify", "--warm-up"],
            &["binlog", "--threads", "2"],
            &["backup", "--to-datadir", "d"],
            &["backup", "--until-gtid", "0-1-2"],
            &["restore", "--verify"],
        ];
        for args in others {
            let mut args = args.to_vec();
            args.extend(["--repo", "r"]);
            clap_refuses(&args, ErrorKind::UnknownArgument);
        }
        clap_refuses(
            &[
                "restore",
                "h=db",
                "--repo",
                "r",
                "--until",
                "2026-01-01 00:00:00",
                "--until-gtid",
                "0-1-2",
            ],
            ErrorKind::ArgumentConflict,
        );
        clap_refuses(&["h=db1", "--repo", "r"], ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn shared_options_stand_before_or_after_the_action() {
        let c = parse(&["--repo", "r", "--format", "json", "list"]).expect("before");
        assert_eq!(c.repo, crate::store::Location::Dir(PathBuf::from("r")));
        assert_eq!(c.format, Format::Json);
        assert!(matches!(c.action, Checked::List));
        let c = parse(&["list", "--repo", "r", "--format", "json"]).expect("after");
        assert_eq!(c.format, Format::Json);
        let c = parse(&["-h", "db1", "restore", "--repo", "r"]).expect("restore by -h");
        assert_eq!(c.conn.host.as_deref(), Some("db1"));
        assert!(matches!(
            c.action,
            Checked::Restore(RestoreConfig {
                target: Target::Server,
                ..
            })
        ));
        let c = parse(&[
            "verify",
            "--repo",
            "r",
            "--backup",
            "20260101T000000Z",
            "--threads",
            "2",
            "--verify-buffer-pool",
            "2G",
            "--users",
            "--encrypt-key-file",
            "k",
        ])
        .expect("verify");
        let Checked::Verify(v) = c.action else {
            panic!("not verify")
        };
        assert_eq!(v.threads.threads, 2);
        assert_eq!(v.set.backup.as_deref(), Some("20260101T000000Z"));
    }

    #[test]
    fn backup_refusals() {
        refuses(&["backup", "h=db1"], "--repo DIR is required");
        refuses(
            &["backup", "--repo", "r", "--staging-dir", "/srv/stage"],
            "--staging-dir is where a physical backup of MySQL is cloned; a logical backup \
             writes to the repository only",
        );
        refuses(
            &["backup", "h=db1", "h=db2", "--repo", "r"],
            "backup takes one server: one DSN, or --host/--port/--socket",
        );
        refuses(
            &["backup", "--repo", "r", "--threads", "0"],
            "--threads must be between 1 and 256",
        );
        refuses(
            &["backup", "--repo", "r", "--chunk-rows", "0"],
            "--chunk-rows must be at least 1",
        );
        refuses(
            &["backup", "--repo", "r", "--compress-level", "20"],
            "--compress-level must be between 1 and 19",
        );
        refuses(
            &["backup", "--repo", "r", "--max-rate", "fast"],
            "--max-rate \"fast\": expected bytes per second, like 50M",
        );
        refuses(
            &[
                "backup",
                "--repo",
                "r",
                "--method",
                "physical",
                "--databases",
                "shop",
            ],
            "--databases=shop: a physical backup copies the whole data directory and takes no \
             table filters (filters apply to logical backups, and to restore)",
        );
        let c = parse(&[
            "backup",
            "h=db1",
            "--repo",
            "r",
            "--max-rate",
            "64K",
            "--tables",
            "shop.orders",
        ])
        .expect("backup");
        let Checked::Backup(b) = c.action else {
            panic!("not backup")
        };
        assert_eq!(b.max_rate, Some(64 * 1024));
        assert_eq!(b.filter_words, ["--tables=shop.orders"]);
    }

    #[test]
    fn catalogue_refusals() {
        refuses(
            &["check", "--repo", "r", "--max-age", "soon"],
            "--max-age \"soon\": expected a duration like 26h, 90m, 2d",
        );
        let c = parse(&["check", "--repo", "r"]).expect("default age");
        assert!(matches!(
            c.action,
            Checked::Check {
                max_age: 93600,
                max_archive_lag: None
            }
        ));
        refuses(
            &["expire", "--repo", "r"],
            "expire needs a retention: --keep-last N and/or --keep-days D",
        );
        refuses(
            &["expire", "--repo", "r", "--keep-days=-1"],
            "--keep-days must be a number of days >= 0",
        );
        refuses(
            &["expire", "--repo", "r", "--keep-last", "0"],
            "--keep-last 0 without --keep-days would delete every backup but the newest \
             verified one; give --keep-days too",
        );
        parse(&[
            "expire",
            "--repo",
            "r",
            "--keep-last",
            "0",
            "--keep-days",
            "3",
        ])
        .expect("ok");
        refuses(
            &["binlog", "--repo", "r", "--compress-level", "0"],
            "--compress-level must be between 1 and 19",
        );
        refuses(
            &["verify", "--repo", "r", "--threads", "300"],
            "--threads must be between 1 and 256",
        );
    }

    #[test]
    fn restore_refusals() {
        let dir = tempfile::tempdir().expect("tmp");
        let full = dir.path().join("full");
        std::fs::create_dir(&full).expect("mkdir");
        std::fs::write(full.join("x"), "x").expect("write");
        let full = full.display().to_string();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).expect("mkdir");
        let empty = empty.display().to_string();
        let new = dir.path().join("new").display().to_string();
        refuses(
            &["restore", "--repo", "r"],
            "restore needs the server to load into: a DSN (h=host,P=port,u=user), \
             --host/--port/--socket, or --defaults-file; or --to-datadir DIR",
        );
        refuses(
            &["restore", "--repo", "r", "--owner", "root"],
            "--owner goes with restore --to-datadir",
        );
        refuses(
            &["restore", "--repo", "r", "--to-datadir", &full],
            &format!(
                "--to-datadir {full}: it exists and is not an empty directory; give a new or empty directory"
            ),
        );
        refuses(
            &[
                "restore",
                "--repo",
                "r",
                "--to-datadir",
                &new,
                "--until-gtid",
                "0-1-5",
            ],
            "--until and --until-gtid need a running server (restore DSN), not --to-datadir",
        );
        refuses(
            &["restore", "h=db1", "--repo", "r", "--to-datadir", &new],
            "restore --to-datadir takes no DSN (it works on --repo only)",
        );
        refuses(
            &["restore", "h=db1", "h=db2", "--repo", "r"],
            "restore takes one server: one DSN, or --host/--port/--socket",
        );
        refuses(
            &["restore", "h=db1", "--repo", "r", "--until", "yesterday"],
            "--until \"yesterday\": expected 'YYYY-MM-DD HH:MM:SS' (UTC)",
        );
        for dir in [&empty, &new] {
            let c = parse(&[
                "restore",
                "--repo",
                "r",
                "--to-datadir",
                dir,
                "--owner",
                "mysql",
            ])
            .expect("to-datadir");
            let Checked::Restore(r) = c.action else {
                panic!("not restore")
            };
            assert!(matches!(r.target, Target::Datadir(_)));
        }
        let c = parse(&[
            "restore",
            "h=db1",
            "--repo",
            "r",
            "--until",
            "2026-11-24 09:41:00",
        ])
        .expect("until");
        let Checked::Restore(r) = c.action else {
            panic!("not restore")
        };
        assert!(matches!(r.until, Some(Until::Time(_))));
    }

    #[test]
    fn rates_and_datetimes() {
        assert_eq!(parse_rate("50M"), Some(50 << 20));
        assert_eq!(parse_rate("1.5k"), Some(1536));
        assert_eq!(parse_rate("0"), None);
        assert!(valid_datetime("2026-11-24 09:41:00"));
        assert!(!valid_datetime("2026-11-24T09:41:00"));
    }
}
