//! `ox-table-sync`: repair data drift safely, through replication where possible
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.
//!
//! Flow: the command line becomes a checked [`Config`] without touching the
//! network; [`engine`] then pairs a source with each target (two DSNs,
//! `--sync-to-master`, or the replicas of `--replicate`), reads both sides
//! in consistent snapshots, finds the differing rows ([`compare`]), and
//! prints or applies the fix ([`fix`]).

mod compare;
mod engine;
mod fix;

use anyhow::{Context as _, Result};
use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::checksum::Function;
use oxkit::cli::{
    Condition, ConnArgs, Connection, Count, DbTable, FilterArgs, OutputArgs, Secs, ThrottleArgs,
};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::filter::TableFilter;
use oxkit::report::Format;
use oxkit::throttle::ThrottleOptions;
use oxkit::Exit;
use std::time::Duration;

/// repair data drift safely, through replication where possible
#[derive(Parser, Debug)]
#[command(
    name = "ox-table-sync",
    version,
    about = "repair data drift safely, through replication where possible",
    long_about = "Finds the rows that differ between two servers, or the chunks a checksum recorded, and fixes them with INSERT, UPDATE and DELETE by key, on the source so the fix replicates. Dry run first; nothing is written without --execute."
)]
pub struct Args {
    /// Servers: SOURCE TARGET (direct), one REPLICA with --sync-to-master, or the SOURCE with --replicate (its replicas are found); DSNs (h=host,P=port,u=user) or mysql:// URLs
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Sync the one DSN given, a replica, with its source, writing the fix on the source so it replicates
    #[arg(long, help_heading = "Sync")]
    pub sync_to_master: bool,
    /// Sync only the chunks this checksum table (ox-table-checksum's or pt-table-checksum's) records as different
    #[arg(long, value_name = "DB.TABLE", help_heading = "Sync")]
    pub replicate: Option<DbTable>,
    /// Only rows matching this SQL condition (applied on both sides)
    #[arg(long, value_name = "CONDITION", help_heading = "Sync")]
    pub r#where: Option<Condition>,
    /// Sync tables without a unique NOT NULL key by whole-row groups (DELETE ... LIMIT n, INSERT); skipped otherwise
    #[arg(long, help_heading = "Sync")]
    pub allow_no_key: bool,
    /// Warn about tables whose rows other tables reference through foreign keys
    #[arg(long, help_heading = "Sync")]
    pub check_child_tables: bool,
    /// Row hash used for the sub-range checksums
    #[arg(long, value_enum, default_value_t = Function::Sha1, help_heading = "Sync")]
    pub function: Function,

    /// Print the SQL that fixes the drift (replayable with the mysql client) on stdout
    #[arg(long, help_heading = "Safety")]
    pub print: bool,
    /// Find the differences and report counts; change nothing
    #[arg(long, conflicts_with = "execute", help_heading = "Safety")]
    pub dry_run: bool,
    /// Apply the fix
    #[arg(long, help_heading = "Safety")]
    pub execute: bool,

    /// Rows per range in direct and --sync-to-master mode (each range is compared in one pass)
    #[arg(
        long,
        default_value = "200000",
        value_name = "ROWS",
        help_heading = "Chunking"
    )]
    pub chunk_size: Count,
    /// Rows per hash bucket inside a range; only differing buckets' rows are fetched
    #[arg(
        long,
        default_value = "16",
        value_name = "ROWS",
        help_heading = "Chunking"
    )]
    pub bucket_rows: Count,
    /// Rows fixed per transaction
    #[arg(
        long,
        default_value = "200",
        value_name = "ROWS",
        help_heading = "Chunking"
    )]
    pub batch_size: Count,
    /// Seconds to wait for a replica to reach a position before giving up
    #[arg(
        long,
        default_value = "600",
        value_name = "SECS",
        help_heading = "Chunking"
    )]
    pub replica_timeout: Secs,

    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub throttle: ThrottleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The checked configuration: every option the engine reads, checked
/// once here.
#[derive(Debug)]
pub struct Config {
    /// The connection options: targets are resolved over them.
    pub conn: Connection,
    /// The DSNs given (none: the connection options alone).
    pub targets: Vec<ConnSpec>,
    /// `--sync-to-master`.
    pub sync_to_master: bool,
    /// `--replicate`.
    pub replicate: Option<DbTable>,
    /// `--where`.
    pub r#where: Option<String>,
    /// `--allow-no-key`.
    pub allow_no_key: bool,
    /// `--check-child-tables`.
    pub check_child_tables: bool,
    /// `--function`.
    pub function: Function,
    /// `--print`.
    pub print: bool,
    /// `--execute`.
    pub execute: bool,
    /// `--chunk-size`.
    pub chunk_size: u64,
    /// `--bucket-rows`.
    pub bucket_rows: u64,
    /// `--batch-size`.
    pub batch_size: usize,
    /// `--replica-timeout`.
    pub replica_timeout: Duration,
    /// Table selection.
    pub filter: TableFilter,
    /// Throttle settings.
    pub throttle: ThrottleOptions,
    /// `--format`.
    pub format: Format,
}

impl Config {
    /// Checks the arguments; fails fast with a usage error.
    pub fn new(args: Args) -> Result<Config> {
        let filter = args.filter.table_filter()?;
        let throttle = args.throttle.options()?;
        if !(args.print || args.dry_run || args.execute) {
            return Err(usage_error(
                "say what to do: --print (show the SQL), --dry-run (counts only) or --execute",
            ));
        }
        // With no DSN, the one server --sync-to-master or --replicate needs
        // comes from the connection options (--host, --port, --user, my.cnf),
        // as for every other tool.
        match (
            args.sync_to_master,
            args.replicate.is_some(),
            args.targets.len(),
        ) {
            (true, _, 0 | 1) | (false, true, 0 | 1) | (false, _, 2) => {}
            (true, _, _) => {
                return Err(usage_error(
                    "--sync-to-master takes exactly one DSN: the replica to fix",
                ))
            }
            (false, true, _) => {
                return Err(usage_error(
                    "--replicate takes one DSN (the source, whose replicas are found) or one replica with --sync-to-master",
                ))
            }
            (false, false, _) => {
                return Err(usage_error(
                    "give two DSNs (SOURCE TARGET), or one replica with --sync-to-master",
                ))
            }
        }
        let targets = oxkit::cli::parse_targets(&args.targets)?;
        Ok(Config {
            targets,
            sync_to_master: args.sync_to_master,
            replicate: args.replicate,
            r#where: args.r#where.map(|c| c.0),
            allow_no_key: args.allow_no_key,
            check_child_tables: args.check_child_tables,
            function: args.function,
            print: args.print,
            execute: args.execute,
            chunk_size: args.chunk_size.get(),
            bucket_rows: args.bucket_rows.get(),
            batch_size: args.batch_size.as_usize(),
            replica_timeout: args.replica_timeout.duration(),
            filter,
            throttle,
            format: args.output.format,
            conn: Connection::new(args.conn)?,
        })
    }
}

/// The clap definition of the command line (also used for the man page).
pub fn command() -> clap::Command {
    Args::command()
}

/// Runs the tool.
pub fn run(matches: &clap::ArgMatches, ctx: &Context) -> Result<Exit> {
    let cfg = Config::new(Args::from_arg_matches(matches)?)?;
    let specs = cfg
        .conn
        .resolve_all(&cfg.targets)
        .context("resolving connections")?;
    engine::run(ctx, &cfg, specs)
}

/// The man page's DESCRIPTION paragraphs after `long_about` (rendered by
/// `cargo xtask man`).
pub const MAN_DESCRIPTION: &[&str] = &[
    "WORK. Direct: SOURCE TARGET compares whole tables (or --tables, --where) between any two \
     servers, replicating or not (a restored backup against its source), and writes the fix \
     on TARGET. --sync-to-master REPLICA compares the replica with its source and writes the \
     fix on the source so it replicates. --replicate DB.TABLE reads the chunks that \
     ox-table-checksum or pt-table-checksum recorded as different and syncs only those, for \
     the one replica given with --sync-to-master or for every replica of the source given.",
    "FINDING ROWS. Each range (a differing checksum chunk, or --chunk-size rows of the key) \
     is read once on both sides in one GROUP BY: rows fall into hash buckets of about \
     --bucket-rows rows by their key, and each bucket gets a count and a checksum (the \
     shared row hash of ox-table-checksum). Only the rows of differing buckets are fetched, \
     and the tool pairs them by key with the server's collation: key columns of text types \
     are compared by WEIGHT_STRING, so 'a' and 'A' under a case-insensitive collation are \
     the same row with different data (an UPDATE), not an INSERT and a DELETE. When the \
     target replicates from the source, both sides are read in snapshots at the same \
     replication position (replication pauses only until the replica reaches the source's \
     snapshot); otherwise each side is read in its own consistent snapshot.",
    "FIXING. Missing rows are INSERTed, changed rows UPDATEd and extra rows DELETEd by key; \
     REPLACE is never used, so ON DELETE CASCADE children of a changed row are never \
     touched (--check-child-tables warns about tables that have children). Through \
     replication, each batch of --batch-size rows is one transaction on the source, in a \
     session with binlog_format=STATEMENT: it re-reads the source's current rows with \
     SELECT ... FOR UPDATE and writes statements that change nothing on the source but do \
     on the replica (UPDATE to the current values; INSERT ... ON DUPLICATE KEY UPDATE for a \
     row the replica lacks; DELETE of a key the source does not have). Statement format is \
     needed because under ROW format a statement that changes nothing on the source writes \
     no row event, so nothing would replicate. Every replica of the source receives these \
     statements; on one that already matches they change nothing. Rows the application \
     changes meanwhile keep the application's values. When the session may not use \
     statement format (no SUPER or BINLOG ADMIN), the fix is written on the replica \
     directly, with a warning.",
    "Tables without a unique NOT NULL key are compared by whole-row groups and fixed only \
     with --allow-no-key, by INSERT of missing copies and DELETE ... LIMIT n of extra \
     copies, always on the target itself; without the option they are skipped (exit flag \
     64). --print writes the fix as SQL for the mysql client (the statement-format form \
     when the fix runs on the source); --dry-run reports counts; nothing is written without \
     --execute. Batches are transactions, so an interrupted run (Ctrl-C: exit flag 4) \
     leaves each batch applied or not. The tool throttles on replica lag and load as \
     ox-table-checksum does. After --execute the touched ranges are compared again (after \
     the replica caught up) and any drift left is reported (exit flag 16); without \
     --execute, exit flag 16 means differences were found.",
    "JSON (--format json): one document with source, targets, mode (direct, replication), \
     execute, exit_status and tables: objects with db, table, target, key (the index rows \
     are matched by, null for whole-row groups), fixed_on (source, target, or null when \
     nothing was written), ranges, rows_read (rows both sides read), diff_buckets, insert, \
     update, delete (rows), left (rows still differing after --execute, else null), time \
     (seconds), skip_reason, warnings, fixed (differences fixed and committed with \
     --execute; fewer than found when the run stopped part-way) and interrupted (true for \
     the table the run stopped in). exit_status is the run's exit status, also when it was \
     interrupted (4) or failed, and error says why a run that stopped early stopped \
     (null otherwise). The text table has the same columns; FIXED_ON says interrupted for \
     that table.",
    "CONNECTIONS. With --sync-to-master or --replicate the one server may be given by the \
     connection options alone (--host, --port, --user, --socket, option files) instead of a \
     DSN. A replica whose replication is stopped when its snapshot is needed ends the run \
     with exit 128.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(argv: &[&str]) -> Option<String> {
        oxkit::entry::refusal(command(), argv, |m| Config::new(Args::from_arg_matches(m)?))
    }

    #[test]
    fn what_each_mode_accepts() {
        for ok in [
            &["h=s", "h=t", "--dry-run"][..],
            &["h=r", "--sync-to-master", "--print"],
            &["--sync-to-master", "--execute"],
            &["h=s", "--replicate", "percona.checksums", "--dry-run"],
            &["--replicate", "percona.checksums", "--execute"],
        ] {
            assert_eq!(refusal(ok), None, "{ok:?}");
        }
        let m = oxkit::entry::full_command(command())
            .try_get_matches_from(["ox-table-sync", "h=s", "h=t", "--print"])
            .expect("parse");
        let c = Config::new(Args::from_arg_matches(&m).expect("args")).expect("config");
        assert!(c.print && !c.execute);
        assert_eq!(c.targets.len(), 2);
        assert_eq!(
            (c.chunk_size, c.bucket_rows, c.batch_size),
            (200_000, 16, 200)
        );
        assert_eq!(c.replica_timeout, Duration::from_secs(600));
    }

    /// What `Config::new` (or the parser, for a typed value) refuses, with
    /// which message.
    #[test]
    fn config_refuses_with_its_reason() {
        let at_least_one = |option: &str| {
            format!("clap: error: invalid value '0' for '{option} <ROWS>': must be at least 1")
        };
        let cases: Vec<(Vec<&str>, String)> = vec![
            (
                vec!["h=s", "h=t"],
                "say what to do: --print (show the SQL), --dry-run (counts only) or --execute".into(),
            ),
            (
                vec!["h=r", "h=s", "--sync-to-master", "--execute"],
                "--sync-to-master takes exactly one DSN: the replica to fix".into(),
            ),
            (
                vec!["h=s", "h=t", "h=u", "--replicate", "d.t", "--execute"],
                "--replicate takes one DSN (the source, whose replicas are found) or one replica with --sync-to-master".into(),
            ),
            (
                vec!["h=s", "--execute"],
                "give two DSNs (SOURCE TARGET), or one replica with --sync-to-master".into(),
            ),
            (
                vec!["h=s", "h=t", "h=u", "--execute"],
                "give two DSNs (SOURCE TARGET), or one replica with --sync-to-master".into(),
            ),
            (
                vec!["--replicate", "d", "--execute"],
                "clap: error: invalid value 'd' for '--replicate <DB.TABLE>': expected DATABASE.TABLE".into(),
            ),
            (
                vec!["h=s", "h=t", "--execute", "--where", ""],
                "clap: error: invalid value '' for '--where <CONDITION>': the condition is empty".into(),
            ),
            (
                vec!["h=s", "h=t", "--dry-run", "--execute"],
                "clap: error: the argument '--dry-run' cannot be used with '--execute'".into(),
            ),
            (vec!["h=s", "h=t", "--execute", "--chunk-size", "0"], at_least_one("--chunk-size")),
            (vec!["h=s", "h=t", "--execute", "--bucket-rows", "0"], at_least_one("--bucket-rows")),
            (vec!["h=s", "h=t", "--execute", "--batch-size", "0"], at_least_one("--batch-size")),
            (
                vec!["h=s", "h=t", "--execute", "--replica-timeout=-1"],
                "clap: error: invalid value '-1' for '--replica-timeout <SECS>': must be a number of seconds >= 0".into(),
            ),
            (
                vec!["h=s", "h=t", "--execute", "--critical-load", "x=y"],
                "--critical-load: ".into(),
            ),
            (vec!["h=s", "h=t", "--execute", "--set-vars", "x"], "--set-vars: ".into()),
            (vec!["h=s,Q=1", "h=t", "--execute"], "target 1: ".into()),
        ];
        for (argv, want) in cases {
            let got = refusal(&argv).unwrap_or_else(|| panic!("{argv:?} was accepted"));
            assert!(got.starts_with(&want), "{argv:?}: {got}");
        }
    }
}
