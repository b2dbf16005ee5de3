//! `ox-backup`: take, catalogue, encrypt, verify and restore backups
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.
//!
//! The first argument is the action (`backup`, `list`, `check`, `expire`,
//! `restore`, `verify`, `binlog`); the command line becomes a checked
//! [`Config`] before anything touches the network or the repository.
//! What does not depend on the backup method lives in [`repo`] (layout,
//! atomic writes, stored-file codec), [`manifest`], [`crypt`], [`catalog`]
//! and [`verify`]; the logical method is [`logical`] (taking) and
//! [`restore`] (loading); [`pitr`] copies and replays binary logs.

pub mod catalog;
pub mod crypt;
pub mod logical;
pub mod manifest;
pub mod physical;
pub mod pitr;
pub mod pool;
pub mod repo;
pub mod verify;

use anyhow::{Context as _, Result};
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use oxkit::cli::{ConnArgs, FilterArgs, OutputArgs};
use oxkit::entry::{usage_error, Context};
use oxkit::filter::TableFilter;
use oxkit::report::{emit, human_bytes, Format, Table};
use oxkit::Exit;
use std::path::PathBuf;

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Action {
    /// Take a backup of the server (DSN) into --repo
    Backup,
    /// List the backups in --repo with age, size, duration and verification
    List,
    /// Exit non-zero when the newest verified backup is older than --max-age (monitoring)
    Check,
    /// Delete backups outside --keep-last/--keep-days (never the newest verified one) and abandoned ones (their backup died)
    Expire,
    /// Restore a backup (--backup, default the newest) into the server (DSN)
    Restore,
    /// Restore a backup into a throwaway server and compare checksums; record the verdict
    Verify,
    /// Copy the server's binary logs into --repo for point-in-time recovery
    Binlog,
}

/// take, catalogue, encrypt, verify and restore backups
#[derive(Parser, Debug)]
#[command(
    name = "ox-backup",
    version,
    about = "take, catalogue, encrypt, verify and restore backups",
    long_about = "Takes consistent hot backups into a repository, catalogues them, encrypts them, proves each one restorable by restoring it into a throwaway server and comparing checksums, restores fast, and rolls forward through binary logs to a point in time."
)]
pub struct Args {
    /// What to do
    #[arg(value_enum, value_name = "ACTION")]
    pub action: Action,
    /// The server to back up, restore into or copy binary logs from: a DSN (h=host,P=port,u=user) or mysql:// URL; or give --host/--port/--user/--socket instead
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Repository directory (created by the first backup)
    #[arg(long, value_name = "DIR", help_heading = "Repository")]
    pub repo: Option<PathBuf>,
    /// Backup to restore or verify (its id, as `list` shows it); default the newest
    #[arg(long, value_name = "ID", help_heading = "Repository")]
    pub backup: Option<String>,

    /// How to back up: logical (rows through SQL, any server) or physical (a hot copy of the data directory of a MariaDB 10.8+ server on this host, prepared at restore/verify by a throwaway server; restore it with --to-datadir)
    #[arg(
        long,
        value_enum,
        default_value_t = manifest::Method::Logical,
        value_name = "METHOD",
        help_heading = "Backup"
    )]
    pub method: manifest::Method,
    /// Parallel connections for backup and restore
    #[arg(long, default_value_t = 4, value_name = "N", help_heading = "Backup")]
    pub threads: usize,
    /// Rows per data file of a big table (tables are cut into key ranges of this size)
    #[arg(
        long,
        default_value_t = 250_000,
        value_name = "ROWS",
        help_heading = "Backup"
    )]
    pub chunk_rows: u64,
    /// zstd compression level (1 fast .. 19 small)
    #[arg(
        long,
        default_value_t = 3,
        value_name = "LEVEL",
        help_heading = "Backup"
    )]
    pub compress_level: i32,
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
    /// Buffer pool of the throwaway server that verify restores into (and that prepares a physical restore: its crash recovery holds the copied redo there)
    #[arg(
        long,
        default_value = "256M",
        value_name = "SIZE",
        help_heading = "Backup"
    )]
    pub verify_buffer_pool: String,

    /// Key file: 32 raw bytes or 64 hex digits (a key), or a passphrase (stretched with Argon2id). Encrypts a backup; needed to restore or verify an encrypted one. Never stored in the repository
    #[arg(long, value_name = "FILE", help_heading = "Encryption")]
    pub encrypt_key_file: Option<PathBuf>,

    /// Do not write the restore to the target's binary log (sql_log_bin=0)
    #[arg(long, help_heading = "Restore")]
    pub no_binlog: bool,
    /// Restore users and grants too
    #[arg(long, help_heading = "Restore")]
    pub users: bool,
    /// Restore into a new data directory instead of a running server: a throwaway server of the backup's flavour and major version is started on a fresh datadir, restored into, shut down cleanly, and its datadir moved to DIR (which must not exist). A physical backup is decoded into DIR (new or empty) and prepared there by a throwaway server's crash recovery
    #[arg(long, value_name = "DIR", help_heading = "Restore")]
    pub to_datadir: Option<PathBuf>,
    /// Owner (USER or USER:GROUP) of a physical restore's files when run as root; default the owner of the --to-datadir directory if it exists (empty), else of its parent
    #[arg(long, value_name = "USER", help_heading = "Restore")]
    pub owner: Option<String>,
    /// After the restore, read the indexes that were in the source's buffer pool at backup time (hottest first)
    #[arg(long, help_heading = "Restore")]
    pub warm_up: bool,
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

    /// check: the newest verified backup may be this old (26h, 90m, 2d)
    #[arg(
        long,
        default_value = "26h",
        value_name = "AGE",
        help_heading = "Catalogue"
    )]
    pub max_age: String,
    /// expire: keep the N newest backups
    #[arg(long, value_name = "N", help_heading = "Catalogue")]
    pub keep_last: Option<usize>,
    /// expire: keep backups younger than D days
    #[arg(long, value_name = "DAYS", help_heading = "Catalogue")]
    pub keep_days: Option<f64>,
    /// expire: say what would be deleted, delete nothing
    #[arg(long, help_heading = "Catalogue")]
    pub dry_run: bool,

    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The checked configuration.
#[derive(Debug)]
pub struct Config {
    /// The raw arguments.
    pub args: Args,
    /// The repository directory.
    pub repo: PathBuf,
    /// Table selection.
    pub filter: TableFilter,
    /// The filter options as typed (recorded in the manifest).
    pub filter_words: Vec<String>,
    /// `--max-age` in seconds.
    pub max_age: u64,
    /// `--max-rate` in bytes per second.
    pub max_rate: Option<u64>,
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

impl Config {
    /// Checks the arguments; fails fast with a usage error.
    pub fn new(args: Args) -> Result<Config> {
        let filter = TableFilter::new(&args.filter).map_err(|e| usage_error(format!("{e:#}")))?;
        let repo = args
            .repo
            .clone()
            .ok_or_else(|| usage_error("--repo DIR is required"))?;
        if args.to_datadir.is_some() && args.action != Action::Restore {
            return Err(usage_error("--to-datadir goes with restore"));
        }
        if args.owner.is_some() && args.to_datadir.is_none() {
            return Err(usage_error("--owner goes with restore --to-datadir"));
        }
        if let Some(d) = &args.to_datadir {
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
            if args.until.is_some() || args.until_gtid.is_some() {
                return Err(usage_error(
                    "--until and --until-gtid need a running server (restore DSN), not --to-datadir",
                ));
            }
        }
        // The server comes from a DSN or from the connection options
        // (--host, --port, --socket, --user, option files), layered by the
        // one resolver every tool uses (`ConnArgs::resolve`).
        let takes_server = matches!(args.action, Action::Backup | Action::Binlog)
            || (args.action == Action::Restore && args.to_datadir.is_none());
        if takes_server && args.targets.len() > 1 {
            return Err(usage_error(
                format!(
                    "{:?} takes one server: one DSN, or --host/--port/--socket",
                    args.action
                )
                .to_lowercase(),
            ));
        }
        let c = &args.conn;
        let names_server = !args.targets.is_empty()
            || c.host.is_some()
            || c.port.is_some()
            || c.socket.is_some()
            || c.defaults_file.is_some();
        if args.action == Action::Restore && takes_server && !names_server {
            // Reading a backup from the default server is harmless; writing
            // one into it by omission is not.
            return Err(usage_error(
                "restore needs the server to load into: a DSN (h=host,P=port,u=user), \
                 --host/--port/--socket, or --defaults-file; or --to-datadir DIR",
            ));
        }
        if !takes_server && !args.targets.is_empty() {
            return Err(usage_error(format!(
                "{} takes no DSN (it works on --repo only)",
                format!("{:?}", args.action).to_lowercase()
            )));
        }
        physical::check_method(args.method, matches!(args.action, Action::Backup))?;
        if args.threads == 0 || args.threads > 256 {
            return Err(usage_error("--threads must be between 1 and 256"));
        }
        if args.chunk_rows == 0 {
            return Err(usage_error("--chunk-rows must be at least 1"));
        }
        if !(1..=19).contains(&args.compress_level) {
            return Err(usage_error("--compress-level must be between 1 and 19"));
        }
        let max_age = catalog::parse_age(&args.max_age).ok_or_else(|| {
            usage_error(format!(
                "--max-age {:?}: expected a duration like 26h, 90m, 2d",
                args.max_age
            ))
        })?;
        let max_rate = match &args.max_rate {
            None => None,
            Some(r) => Some(parse_rate(r).ok_or_else(|| {
                usage_error(format!(
                    "--max-rate {r:?}: expected bytes per second, like 50M"
                ))
            })?),
        };
        if let Some(u) = &args.until {
            if !valid_datetime(u) {
                return Err(usage_error(format!(
                    "--until {u:?}: expected 'YYYY-MM-DD HH:MM:SS' (UTC)"
                )));
            }
        }
        if (args.until.is_some() || args.until_gtid.is_some()) && args.action != Action::Restore {
            return Err(usage_error("--until and --until-gtid go with restore"));
        }
        if args.action == Action::Expire && args.keep_last.is_none() && args.keep_days.is_none() {
            return Err(usage_error(
                "expire needs a retention: --keep-last N and/or --keep-days D",
            ));
        }
        if args.keep_days.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
            return Err(usage_error("--keep-days must be a number of days >= 0"));
        }
        if args.keep_last == Some(0) && args.keep_days.is_none() {
            return Err(usage_error(
                "--keep-last 0 without --keep-days would delete every backup but the newest verified one; give --keep-days too",
            ));
        }
        let f = &args.filter;
        let mut filter_words = Vec::new();
        for (name, v) in [
            ("--databases", &f.databases),
            ("--tables", &f.tables),
            ("--ignore-databases", &f.ignore_databases),
            ("--ignore-tables", &f.ignore_tables),
            ("--engines", &f.engines),
            ("--ignore-engines", &f.ignore_engines),
        ] {
            if !v.is_empty() {
                filter_words.push(format!("{name}={}", v.join(",")));
            }
        }
        for (name, v) in [
            ("--databases-regex", &f.databases_regex),
            ("--tables-regex", &f.tables_regex),
            ("--ignore-databases-regex", &f.ignore_databases_regex),
            ("--ignore-tables-regex", &f.ignore_tables_regex),
        ] {
            if let Some(v) = v {
                filter_words.push(format!("{name}={v}"));
            }
        }
        if args.action == Action::Backup
            && args.method == manifest::Method::Physical
            && !filter_words.is_empty()
        {
            // A physical backup copies the whole data directory: a filter
            // would be silently ignored, and a typo in one never noticed.
            return Err(usage_error(format!(
                "{}: a physical backup copies the whole data directory and takes no table filters \
                 (filters apply to logical backups, and to restore)",
                filter_words.join(" ")
            )));
        }
        Ok(Config {
            filter,
            filter_words,
            repo,
            max_age,
            max_rate,
            args,
        })
    }
}

/// The clap definition of the command line (also used for the man page).
pub fn command() -> clap::Command {
    Args::command()
}

fn spec(cfg: &Config) -> Result<oxkit::dsn::ConnSpec> {
    let targets =
        oxkit::dsn::parse_targets(&cfg.args.targets).map_err(|e| usage_error(format!("{e:#}")))?;
    cfg.args
        .conn
        .resolve(targets.first())
        .context("resolving the connection")
}

fn restore_options(
    cfg: &Config,
    m: &manifest::Manifest,
) -> Result<logical::restore::RestoreOptions> {
    let key = match &m.encryption {
        Some(e) => Some(crypt::Key::for_existing(
            cfg.args.encrypt_key_file.as_deref(),
            e,
            &format!("backup {}", m.id),
        )?),
        None => None,
    };
    Ok(logical::restore::RestoreOptions {
        threads: cfg.args.threads,
        no_binlog: cfg.args.no_binlog,
        filter: cfg.filter.clone(),
        users: cfg.args.users,
        key,
        warm_up: cfg.args.warm_up,
    })
}

fn print_verify(format: Format, r: &verify::VerifyReport) -> Result<()> {
    emit(format, r, |w| {
        writeln!(
            w,
            "verify {}: {} (restore {:.1}s, total {:.1}s)",
            r.backup, r.status, r.restore_secs, r.duration_secs
        )?;
        writeln!(w, "{}", r.message)?;
        let mut t = Table::new(["table", "rows", "restored", "checksum", "ok"]);
        for c in &r.tables {
            t.row([
                format!("{}.{}", c.db, c.table),
                c.rows_expected.to_string(),
                c.rows_restored.to_string(),
                c.checksum_expected.clone(),
                if c.ok { "yes".into() } else { "NO".to_string() },
            ]);
        }
        write!(w, "{t}")
    })
}

/// `backup --verify` stopped during its verify step: the backup itself is
/// complete and catalogued (unverified), which the error alone would hide.
fn verify_interrupted_note(id: &str, e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<oxkit::entry::Cancelled>().is_some() {
        eprintln!(
            "ox-backup: backup {id} is complete and catalogued; its verification was interrupted \
             (run verify --backup {id} later)"
        );
    }
    e
}

/// `backup` output (JSON: the manifest, plus the verification).
#[derive(serde::Serialize)]
struct BackupOut<'a> {
    backup: &'a manifest::Manifest,
    verify: Option<&'a verify::VerifyReport>,
}

/// Runs the tool.
pub fn run(matches: &clap::ArgMatches, ctx: &Context) -> Result<Exit> {
    let args = Args::from_arg_matches(matches)?;
    let cfg = Config::new(args)?;
    let format = cfg.args.output.format;
    let copts = cfg.args.conn.connect_options()?;
    match cfg.args.action {
        Action::Backup => {
            let spec = spec(&cfg)?;
            let key = match &cfg.args.encrypt_key_file {
                Some(p) => Some(crypt::Key::for_new_backup(p)?),
                None => None,
            };
            let repo = repo::Repo::open(&cfg.repo, true)?;
            if cfg.args.method == manifest::Method::Physical {
                return physical::run_backup(ctx, &cfg, &spec, &copts, &repo, key, format);
            }
            let opts = logical::BackupOptions {
                threads: cfg.args.threads,
                chunk_rows: cfg.args.chunk_rows,
                compress_level: cfg.args.compress_level,
                key,
                filter: cfg.filter.clone(),
                filter_words: cfg.filter_words.clone(),
                filter_args: cfg.args.filter.clone(),
                allow_non_transactional: cfg.args.allow_non_transactional,
                users: !cfg.args.no_users,
                max_rate: cfg.max_rate,
            };
            let m = logical::backup(ctx, &spec, &copts, &repo, &opts)?;
            for w in &m.warnings {
                eprintln!("ox-backup: warning: {w}");
            }
            let vr = if cfg.args.verify {
                let ro = restore_options(&cfg, &m)?;
                Some(
                    logical::verify::verify(ctx, &repo, &m, &ro, &cfg.args.verify_buffer_pool)
                        .map_err(|e| verify_interrupted_note(&m.id, e))?,
                )
            } else {
                None
            };
            let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
            emit(
                format,
                &BackupOut {
                    backup: &m,
                    verify: vr.as_ref(),
                },
                |w| {
                    writeln!(
                        w,
                        "backup {} complete: {} tables, {} rows, {} stored ({} raw) in {:.1}s",
                        m.id,
                        m.tables.len(),
                        rows,
                        human_bytes(m.stored_bytes),
                        human_bytes(m.raw_bytes),
                        m.duration_secs
                    )?;
                    writeln!(
                        w,
                        "position: gtid {} binlog {}:{} ({} held {} ms)",
                        m.position.gtid.as_deref().unwrap_or("-"),
                        m.position.binlog_file.as_deref().unwrap_or("-"),
                        m.position.binlog_pos.unwrap_or(0),
                        m.position.lock,
                        m.position.lock_ms
                    )?;
                    if let Some(v) = &vr {
                        writeln!(
                            w,
                            "verify: {} (restore {:.1}s): {}",
                            v.status, v.restore_secs, v.message
                        )?;
                    }
                    if !m.warnings.is_empty() {
                        writeln!(w, "{} warnings:", m.warnings.len())?;
                        for x in &m.warnings {
                            writeln!(w, "  {x}")?;
                        }
                    }
                    Ok(())
                },
            )?;
            Ok(match vr {
                Some(v) if v.status != manifest::Verdict::Passed => Exit::DIFFERENCES,
                _ => Exit::OK,
            })
        }
        Action::List => {
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let list = catalog::list(&repo)?;
            emit(format, &list, |w| {
                let mut t = Table::new([
                    "backup",
                    "state",
                    "age",
                    "size",
                    "duration",
                    "tables",
                    "verified",
                    "restore",
                    "encrypted",
                ]);
                for e in &list {
                    t.row([
                        e.id.clone(),
                        e.state.to_string(),
                        e.age_secs.map(catalog::human_age).unwrap_or_default(),
                        e.stored_bytes.map(human_bytes).unwrap_or_default(),
                        e.duration_secs
                            .map(|d| format!("{d:.1}s"))
                            .unwrap_or_default(),
                        e.tables.map(|n| n.to_string()).unwrap_or_default(),
                        e.verification.clone(),
                        e.restore_secs
                            .map(|d| format!("{d:.1}s"))
                            .unwrap_or_default(),
                        if e.encrypted { "yes" } else { "no" }.to_string(),
                    ]);
                }
                write!(w, "{t}")
            })?;
            Ok(Exit::OK)
        }
        Action::Check => {
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let r = catalog::check(&repo, cfg.max_age)?;
            emit(format, &r, |w| writeln!(w, "{}", r.message))?;
            Ok(if r.ok { Exit::OK } else { Exit::ERROR })
        }
        Action::Expire => {
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let d = catalog::expire(
                &repo,
                cfg.args.keep_last,
                cfg.args.keep_days,
                cfg.args.dry_run,
            )?;
            emit(format, &d, |w| {
                let mut t = Table::new(["backup", "decision", "reason"]);
                for x in &d {
                    let what = match (x.keep, cfg.args.dry_run) {
                        (true, _) => "keep",
                        (false, true) => "would delete",
                        (false, false) => "deleted",
                    };
                    t.row([x.id.clone(), what.to_string(), x.reason.clone()]);
                }
                write!(w, "{t}")
            })?;
            Ok(Exit::OK)
        }
        Action::Verify => {
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let m = repo.manifest(cfg.args.backup.as_deref())?;
            let r = if m.method == manifest::Method::Physical {
                let key = physical::key_for(&m, cfg.args.encrypt_key_file.as_deref())?;
                physical::verify(ctx, &repo, &m, key.as_ref(), &cfg.args.verify_buffer_pool)?
            } else {
                let ro = restore_options(&cfg, &m)?;
                logical::verify::verify(ctx, &repo, &m, &ro, &cfg.args.verify_buffer_pool)?
            };
            print_verify(format, &r)?;
            if r.status != manifest::Verdict::Passed {
                eprintln!("ox-backup: verify of {} FAILED: {}", r.backup, r.message);
                return Ok(Exit::DIFFERENCES);
            }
            Ok(Exit::OK)
        }
        Action::Restore if cfg.args.to_datadir.is_some() => {
            let dir = cfg.args.to_datadir.clone().unwrap_or_default();
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let m = repo.manifest(cfg.args.backup.as_deref())?;
            if m.method == manifest::Method::Physical {
                return physical::run_restore(&cfg, &repo, &m, &dir, format);
            }
            if cfg.args.owner.is_some() {
                return Err(usage_error(
                    "--owner applies to physical backups (a logical --to-datadir restore leaves the files to the user running it)",
                ));
            }
            if dir.exists() {
                return Err(usage_error(format!(
                    "--to-datadir {}: a logical restore needs a directory that does not exist yet",
                    dir.display()
                )));
            }
            let ro = restore_options(&cfg, &m)?;
            let r = logical::restore::to_datadir(ctx, &repo, &m, &ro, &dir)?;
            // The datadir is made by, and for, a server of the backup's
            // flavour and major version.
            let (flavor, v) = m.server.flavor_version();
            let mysql = flavor != oxkit::server::Flavor::MariaDB;
            let version = format!("{}.{}", v.major, v.minor);
            let now = manifest::now_unix();
            repo.update_manifest(&m.id, |mm| {
                mm.history.push(manifest::HistoryEntry {
                    action: "restore".into(),
                    at: manifest::utc(now),
                    at_unix: now,
                    ok: true,
                    duration_secs: r.duration_secs,
                    target: format!("datadir {}", r.target),
                    message: format!("{} tables, {} rows", r.tables, r.rows),
                })
            })?;
            emit(format, &r, |w| {
                writeln!(
                    w,
                    "restored {} into the new datadir {} ({} tables, {} rows in {:.1}s); start {} {} with --datadir={}",
                    r.backup,
                    r.target,
                    r.tables,
                    r.rows,
                    r.duration_secs,
                    if mysql { "mysqld" } else { "mariadbd" },
                    version,
                    r.target
                )
            })?;
            Ok(Exit::OK)
        }
        Action::Restore => {
            let spec = spec(&cfg)?;
            let repo = repo::Repo::open(&cfg.repo, false)?;
            let m = repo.manifest(cfg.args.backup.as_deref())?;
            if m.method == manifest::Method::Physical {
                let until = match (&cfg.args.until, &cfg.args.until_gtid) {
                    (Some(t), _) => pitr::Until::Time(t.clone()),
                    (_, Some(g)) => pitr::Until::Gtid(g.clone()),
                    _ => anyhow::bail!(
                        "backup {} is physical: it restores into a directory (restore --to-datadir DIR); \
                         to roll it forward, start a server on that directory and run restore DSN --until \
                         or --until-gtid against it (the binary logs are replayed from the backup's position)",
                        m.id
                    ),
                };
                return physical::run_replay(&cfg, &repo, &m, &spec, &until, format);
            }
            let ro = restore_options(&cfg, &m)?;
            let until = match (&cfg.args.until, &cfg.args.until_gtid) {
                (Some(t), _) => Some(pitr::Until::Time(t.clone())),
                (_, Some(g)) => Some(pitr::Until::Gtid(g.clone())),
                _ => None,
            };
            if let Some(u) = &until {
                pitr::check_until(&m, u)?;
            }
            let result = (|| -> Result<logical::restore::RestoreReport> {
                let mut r = logical::restore::restore(ctx, &repo, &m, &spec, &copts, &ro)?;
                if let Some(u) = until {
                    let secs = pitr::replay(
                        &repo,
                        &m,
                        &spec,
                        &u,
                        &copts,
                        cfg.args.encrypt_key_file.as_deref(),
                        cfg.args.no_binlog,
                    )?;
                    r.binlog_secs = Some(secs);
                    r.duration_secs += secs;
                }
                Ok(r)
            })();
            let now = manifest::now_unix();
            let (ok, secs, target, msg) = match &result {
                Ok(r) => (
                    true,
                    r.duration_secs,
                    r.target.clone(),
                    format!("{} tables, {} rows", r.tables, r.rows),
                ),
                Err(e) => (false, 0.0, oxkit::dsn::label(&spec), format!("{e:#}")),
            };
            let _ = repo.update_manifest(&m.id, |mm| {
                mm.history.push(manifest::HistoryEntry {
                    action: "restore".into(),
                    at: manifest::utc(now),
                    at_unix: now,
                    ok,
                    duration_secs: secs,
                    target,
                    message: msg,
                })
            });
            let r = result?;
            for w in &r.warnings {
                eprintln!("ox-backup: warning: {w}");
            }
            emit(format, &r, |w| {
                writeln!(
                    w,
                    "restored {} into {}: {} tables, {} rows in {:.1}s{}",
                    r.backup,
                    r.target,
                    r.tables,
                    r.rows,
                    r.duration_secs,
                    r.binlog_secs
                        .map(|s| format!(" (binary log replay {s:.1}s)"))
                        .unwrap_or_default()
                )
            })?;
            Ok(Exit::OK)
        }
        Action::Binlog => {
            let spec = spec(&cfg)?;
            let repo = repo::Repo::open(&cfg.repo, true)?;
            let r = pitr::copy(
                ctx,
                &repo,
                &spec,
                &copts,
                cfg.args.encrypt_key_file.as_deref(),
                cfg.args.compress_level,
            )?;
            emit(format, &r, |w| {
                writeln!(
                    w,
                    "copied {} binary logs into {} ({} there now){}",
                    r.copied.len(),
                    r.dir,
                    r.total,
                    if r.copied.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.copied.join(", "))
                    }
                )
            })?;
            Ok(Exit::OK)
        }
    }
}

/// The man page's DESCRIPTION paragraphs after `long_about` (rendered by
/// `cargo xtask man`).
pub const MAN_DESCRIPTION: &[&str] = &[
    "Backups are only as good as the last successful restore: besides taking and \
     cataloguing backups, it restores each one into a throwaway server and compares \
     checksums, so a backup is known to be usable before it is needed.",
    "ACTIONS. backup DSN --repo DIR takes a logical backup (--verify proves it at once); \
     list shows every backup with age, size, duration and verification; check --max-age 26h \
     exits 1 when the newest verified backup is older (for monitoring); expire --keep-last N \
     --keep-days D deletes what falls outside the retention but never the newest verified \
     backup; verify restores a backup (--backup ID, default the newest) into a throwaway \
     server of the backup's flavour and major version (mariadbd or mysqld, found through \
     OXKIT_MARIADBD / OXKIT_MYSQLD or PATH) and compares every table's row count and checksum with those recorded at \
     backup time; restore DSN loads a backup into a running server; binlog DSN copies the \
     server's binary logs for point-in-time recovery. The server of backup, binlog and \
     restore is a DSN or the connection options (--host, --port, --user, --socket, \
     --defaults-file and option files, resolved as by every oxkit tool); restore refuses \
     to run when no server is named at all. A verify stopped by SIGINT or SIGTERM (also \
     the verify step of backup --verify) records no verdict: the previous one stands, a \
     verify-interrupted line is added to the history, and the exit status is 4.",
    "CONSISTENCY. Worker connections (--threads) open consistent snapshots while a control \
     connection blocks commits for an instant (BACKUP STAGE BLOCK_COMMIT on MariaDB, else \
     FLUSH TABLES WITH READ LOCK; on MySQL 8+ LOCK INSTANCE FOR BACKUP first, held until the \
     dump ends, so DDL waits for the backup: without BACKUP_ADMIN a warning is recorded and \
     DDL is only detected); the GTID position (MariaDB gtid_current_pos, MySQL gtid_executed \
     as uuid:intervals) and binary log file and offset of that point (SHOW BINARY LOG STATUS \
     on MySQL 8.2+) are recorded, and on MariaDB every worker's binlog_snapshot_file/position is \
     checked against it. Only InnoDB tables are consistent this way: other engines fail the \
     backup unless --allow-non-transactional. Definitions (tables, views, procedures, \
     functions, triggers, events, users and grants) are saved; a table altered, dropped or \
     created during the dump fails the backup. Before writing, the tool checks privileges \
     (RELOAD, SELECT, BINLOG MONITOR) and free space for half the tables' data size; every \
     server warning is recorded in the manifest and printed.",
    "FORMAT. A repository holds backups/<id>/ with manifest.json (written last, atomically: \
     a directory without it is unfinished and never counts), schema.json.zst and one data \
     file per key range of --chunk-rows rows (LOAD DATA text: tab-separated, backslash \
     escapes, \\\\N for NULL, binary, bit and spatial columns in hex), compressed with zstd \
     (--compress-level). While a backup runs it holds an exclusive lock (flock) on \
     backups/<id>/.lock; list shows a set without a manifest as running while that lock is \
     held, abandoned once it is free (the backup died, even by kill -9), and unfinished \
     when it has no lock file. expire removes abandoned sets at once (not with --dry-run) \
     and never a running one; check names them. The manifest records the server, the position, per-table row \
     counts and checksums (the ox-table-checksum row hash, read in the same snapshot), every \
     file's size and SHA-256, the options, warnings, and the history of verifications and \
     restores with their durations (the recovery time). Files are created 0600 and \
     directories 0700, for both methods. The layout and the manifest do not depend on the backup method \
     (field method) or on where the bytes live.",
    "ENCRYPTION. With --encrypt-key-file every file but the manifest is sealed with \
     XChaCha20-Poly1305 in 64 KiB segments (STREAM construction, the file's path as \
     associated data): a changed, truncated, reordered or renamed file does not open. The \
     file holds a raw 256-bit key (32 bytes or 64 hex digits) or a passphrase (Argon2id \
     with a per-backup salt). The key is never stored; the manifest keeps only a check \
     value, so a wrong or missing key is reported before anything is restored. The \
     manifest itself (names, counts, checksums, no row data) stays readable for list and \
     check.",
    "RESTORE. Tables are created without secondary indexes and foreign keys, data files are \
     loaded in parallel with LOAD DATA LOCAL INFILE (each file's SHA-256 is checked before \
     it is sent: a tampered file fails the restore and is named), indexes and foreign keys \
     are added afterwards, then views, routines, triggers and events (and users with \
     --users), and with --warm-up the indexes the source had in its buffer pool at backup \
     time (the page list saved in buffer_pool.json, from INNODB_BUFFER_PAGE_LRU) are read so \
     the restored server starts warm. Sessions run with foreign_key_checks=0 (unique_checks stays on: with both \
     off InnoDB bulk-loads an empty table under a table lock, which serializes parallel \
     loads), and sql_log_bin=0 with --no-binlog. A restore never overwrites an existing table. \
     --databases, --tables and the other filters restore part of a backup; given to \
     backup, a filter that matches nothing (a --databases name that is no database, a \
     --tables entry that is no table, or filters selecting nothing) fails with exit 1 \
     and catalogues nothing. A datadir made by restore --to-datadir is private like a \
     server's own: directories 0700, files 0600 (a directory that existed keeps its own \
     mode), before --owner is applied. --until \
     'YYYY-MM-DD HH:MM:SS' (UTC) or --until-gtid GTID then replays the binary logs copied by \
     the binlog action (the decoder and client of the backup's flavour and major version: \
     mariadb-binlog piped into mariadb, or MySQL's mysqlbinlog into mysql) from the backup's \
     position to that point. On MySQL a --until-gtid is a GTID (uuid:N) or a set: the logs \
     are decoded once to find the end of the last transaction of it in log order (as START \
     REPLICA UNTIL SQL_AFTER_GTIDS), every transaction of it must be in the backup or the \
     copied logs, and the replay stops there (mysqlbinlog --stop-position); the replayed \
     transactions keep their GTIDs on a target with gtid_mode on (refused when it has \
     executed some of them already: they would be skipped), else --skip-gtids. --max-rate limits the bytes per second a backup writes (logical) or reads from the data \
     files (physical); \
     progress with rate and ETA goes to stderr on a terminal.",
    "PHYSICAL. backup --method physical (MariaDB 10.8+ only: it reads the 10.8 redo log format; \
     MySQL's redo log and data dictionary are other formats, so on MySQL it is refused with one \
     line, and --method logical works there; run on the database host as a user \
     who can read the data directory) first checks the privileges (RELOAD, SELECT, BINLOG \
     MONITOR when the binary log is on), that every file to copy can be read, that the \
     repository's filesystem has room for half the data files, and samples the redo write \
     rate for a second: a log the server laps within a quarter of a second is refused \
     (the redo copier polls every 20 ms; enlarge innodb_log_file_size), one holding under \
     10 s of writes is warned about; both messages \
     give the sizes and rates. Then BACKUP STAGE START and BLOCK_DDL (DDL waits until the \
     backup ends, then runs; DML goes on), a thread follows the redo log from the \
     checkpoint and aborts cleanly if the server overwrites what it has not copied yet, \
     the InnoDB files are copied with every page checksum checked (a page that stays bad \
     fails the backup), and under BLOCK_COMMIT (held milliseconds, reported as lock_ms) \
     the binary log position and GTID, the non-InnoDB files (Aria, MyISAM, .frm), the end \
     LSN and the XA transactions prepared at that point are read and --threads \
     consistent snapshots are opened; after BACKUP STAGE END every InnoDB table's row count \
     and checksum are read in those snapshots, so they describe exactly the backup point \
     (manifest tables, like the logical method's). restore --to-datadir DIR (new, or an \
     empty directory) writes the files and a fresh ib_logfile0 from the copied redo, lets \
     a throwaway stock mariadbd recover them, rolls back the XA transactions prepared at \
     the backup point and shuts down cleanly; run as root, the files are given to --owner \
     USER[:GROUP] or else to the owner of DIR (or of its parent). verify does the same in a \
     throwaway directory, runs CHECK TABLE on every table and compares every InnoDB \
     table's count and checksum with the manifest. Point-in-time recovery of a physical \
     set: restore --to-datadir DIR, start a server on DIR, copy the source's binary logs \
     with the binlog action, then restore DSN --backup ID --until TIME or --until-gtid GTID \
     against that server: it replays the logs from the backup's position (the XA \
     transactions prepared at the backup point are re-prepared first from their XA START \
     .. XA PREPARE group in the log, so a later XA COMMIT or XA ROLLBACK applies as on \
     the source). A physical restore DSN without --until is refused with these steps.",
    "EXIT STATUS of the actions: backup and restore 0, or 255 on failure (the backup \
     directory is removed); 4 when stopped by SIGINT/SIGTERM (the backup stages are \
     released and no set is left; a stopped verify records no verdict); backup --verify \
     and verify 16 when the restored data differ or the backup cannot be restored; check \
     1 when no verified backup is recent enough; backup 1 when a table filter matches \
     nothing; restore 1 when the target server has local_infile=OFF (MySQL's default: the \
     rows are sent with LOAD DATA LOCAL INFILE; checked before anything is created, enable \
     it with SET GLOBAL local_infile = ON); 1 for bad options.",
    "JSON (--format json): backup prints {backup: manifest, verify}; list an array of \
     {id, state (complete, running, abandoned, unfinished), method, finished_at, age_secs, stored_bytes, duration_secs, tables, \
     encrypted, verification, restore_secs, gtid, warnings}; check {newest_verified, \
     age_secs, max_age_secs, ok, abandoned, message}; expire an array of {id, keep, reason}; verify \
     {backup, status, restore_secs, duration_secs, message, tables}; restore {backup, \
     target, tables, rows, bytes, duration_secs, binlog_secs, warnings}; a physical restore \
     --to-datadir {backup, datadir, copy_secs, prepare_secs, duration_secs, end_lsn, \
     xa_rolled_back, owner}; a physical restore DSN --until {backup, target, xa_reprepared, \
     binlog_secs}; binlog {dir, copied, total}.",
];
