//! `ox-table-checksum`: find data drift between a primary and its replicas
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.
//!
//! Flow: the command line becomes a checked [`Config`] without touching the
//! network; then the primary is connected, replicas found, tables listed and
//! planned ([`plan`]), and a pool of workers ([`engine`]) checksums chunks,
//! either through replication ([`replicate`]) or in matching snapshots
//! ([`snapshot`]). Finished tables are printed as they complete
//! ([`output`]).

mod engine;
mod output;
mod plan;
mod replicate;
mod snapshot;

use anyhow::{Context as _, Result};
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use oxkit::checksum::{Function, RowOptions};
use oxkit::cli::{
    ChunkArgs, Condition, ConnArgs, Connection, Count, DbTable, FilterArgs, OutputArgs, Secs,
    ThrottleArgs,
};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::filter::TableFilter;
use oxkit::nibble::NibbleOptions;
use oxkit::report::Format;
use oxkit::throttle::ThrottleOptions;
use oxkit::Exit;
use std::time::Duration;

/// How chunk checksums are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// replicate when the session can write statement-format binary logs, else snapshot
    Auto,
    /// write each chunk's checksum on the primary (statement format) and let replicas recompute it
    Replicate,
    /// no writes: checksum primary and replicas in snapshots at the same GTID position
    Snapshot,
}

/// find data drift between a primary and its replicas
#[derive(Parser, Debug)]
#[command(
    name = "ox-table-checksum",
    version,
    about = "find data drift between a primary and its replicas",
    long_about = "Checksums tables chunk by chunk on a primary and its replicas (through replication, or in matching snapshots) and reports the chunks that differ. Compatible with pt-table-checksum's checksum table and exit codes."
)]
pub struct Args {
    /// The primary (a DSN such as h=host,P=port,u=user, or a mysql:// URL); more DSNs name its replicas explicitly instead of discovering them
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,

    /// How checksums are compared (see METHODS)
    #[arg(long, value_enum, default_value_t = Method::Auto, help_heading = "Checksum")]
    pub method: Method,
    /// Row hash: sha1-crc32 (non-linear, 32 bits, default), sha1, md5, sha2 (64 bits), or crc32 (pt-table-checksum's, which can cancel out)
    #[arg(long, value_enum, default_value_t = Function::Sha1Crc32, help_heading = "Checksum")]
    pub function: Function,
    /// Round FLOAT and DOUBLE values to this many decimals before hashing
    #[arg(long, value_name = "N", help_heading = "Checksum")]
    pub float_precision: Option<u8>,
    /// Leave these columns out of the checksum (comma-separated)
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "COLUMNS",
        help_heading = "Checksum"
    )]
    pub ignore_columns: Vec<String>,
    /// Only rows matching this SQL condition (applied on every server)
    #[arg(long, value_name = "CONDITION", help_heading = "Checksum")]
    pub r#where: Option<Condition>,
    /// Also check every secondary index against the table's clustered index, on every server
    #[arg(long, help_heading = "Checksum")]
    pub verify_indexes: bool,
    /// Checksum table of the replicate method (Percona's schema)
    #[arg(
        long,
        default_value = "percona.checksums",
        value_name = "DB.TABLE",
        help_heading = "Checksum"
    )]
    pub replicate: DbTable,
    /// Continue the previous replicate run from the checksum table instead of starting over
    #[arg(long, help_heading = "Checksum")]
    pub resume: bool,

    #[command(flatten)]
    pub chunk: ChunkArgs,
    /// Largest chunk, in rows
    #[arg(
        long,
        default_value = "2000000",
        value_name = "ROWS",
        help_heading = "Chunking"
    )]
    pub max_chunk_rows: Count,
    /// Tables with no usable index are checksummed in one chunk up to this many rows, skipped above
    #[arg(
        long,
        default_value_t = 100_000,
        value_name = "ROWS",
        help_heading = "Chunking"
    )]
    pub max_unkeyed_rows: u64,
    /// Worker threads (default: half the server's CPUs, 2 to 8; with the replicate method no more than the slowest replica applies in parallel)
    #[arg(long, value_name = "N", help_heading = "Chunking")]
    pub threads: Option<Count>,

    #[command(flatten)]
    pub recursion: oxkit::cli::RecursionArgs,
    /// How many levels of replicas to follow
    #[arg(
        long,
        default_value_t = 10,
        value_name = "N",
        help_heading = "Replicas"
    )]
    pub recurse: u32,
    /// Seconds to wait for a replica to reach a position before giving up on it
    #[arg(
        long,
        default_value = "600",
        value_name = "SECS",
        help_heading = "Replicas"
    )]
    pub replica_timeout: Secs,
    /// Snapshot method: reopen the snapshots after this many seconds, so undo history stays small
    #[arg(
        long,
        default_value = "60",
        value_name = "SECS",
        help_heading = "Replicas"
    )]
    pub snapshot_refresh: Secs,

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
    /// The primary's DSN (none: the connection options alone).
    pub primary: Option<ConnSpec>,
    /// Replicas named on the command line (none: discover them).
    pub replicas: Vec<ConnSpec>,
    /// `--method`.
    pub method: Method,
    /// `--function`.
    pub function: Function,
    /// Table selection.
    pub filter: TableFilter,
    /// Row hash settings.
    pub row: RowOptions,
    /// `--where`.
    pub r#where: Option<String>,
    /// `--verify-indexes`.
    pub verify_indexes: bool,
    /// `--resume`.
    pub resume: bool,
    /// `--replicate`.
    pub replicate_table: DbTable,
    /// Chunk sizes (`--chunk-size`, `--chunk-time`, `--max-chunk-rows`).
    pub nibble: NibbleOptions,
    /// `--max-unkeyed-rows`.
    pub max_unkeyed_rows: u64,
    /// `--threads` (None: chosen from the server).
    pub threads: Option<usize>,
    /// Throttle settings.
    pub throttle: ThrottleOptions,
    /// Replica discovery.
    pub recursion: Vec<oxkit::topology::Method>,
    /// `--recursion-method` as given (for messages).
    pub recursion_method: String,
    /// `--recurse`.
    pub recurse: u32,
    /// `--replica-timeout`.
    pub replica_timeout: Duration,
    /// `--snapshot-refresh`.
    pub snapshot_refresh: Duration,
    /// `--format`.
    pub format: Format,
}

impl Config {
    /// Checks the arguments; fails fast with a usage error.
    pub fn new(args: Args) -> Result<Config> {
        let filter = args.filter.table_filter()?;
        let throttle = args.throttle.options()?;
        if args.resume && args.method == Method::Snapshot {
            return Err(usage_error(
                "--resume continues a replicate run from its checksum table; the snapshot method keeps no state",
            ));
        }
        if args.float_precision.is_some_and(|p| p > 30) {
            return Err(usage_error("--float-precision must be 0 to 30"));
        }
        let recursion = args.recursion.methods()?;
        let mut targets = oxkit::cli::parse_targets(&args.targets)?.into_iter();
        let primary = targets.next();
        let replicas: Vec<ConnSpec> = targets.collect();
        if !replicas.is_empty() && !args.recursion.is_default() {
            return Err(usage_error(
                "give replicas either as extra DSNs or through --recursion-method, not both",
            ));
        }
        Ok(Config {
            primary,
            replicas,
            method: args.method,
            function: args.function,
            filter,
            row: RowOptions {
                float_precision: args.float_precision,
                ignore_columns: args.ignore_columns,
            },
            r#where: args.r#where.map(|c| c.0),
            verify_indexes: args.verify_indexes,
            resume: args.resume,
            replicate_table: args.replicate,
            nibble: NibbleOptions {
                initial_rows: args.chunk.chunk_size.get(),
                target: args.chunk.chunk_time.nonzero(),
                max_rows: args.max_chunk_rows.get(),
            },
            max_unkeyed_rows: args.max_unkeyed_rows,
            threads: args.threads.map(Count::as_usize),
            throttle,
            recursion,
            recursion_method: args.recursion.recursion_method,
            recurse: args.recurse,
            replica_timeout: args.replica_timeout.duration(),
            snapshot_refresh: args.snapshot_refresh.duration(),
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
    let primary = cfg
        .conn
        .resolve(cfg.primary.as_ref())
        .context("resolving the primary's connection")?;
    let replicas = cfg
        .replicas
        .iter()
        .map(|t| cfg.conn.resolve(Some(t)))
        .collect::<Result<Vec<_>>>()?;
    engine::run(ctx, &cfg, primary, replicas)
}

/// The man page's DESCRIPTION paragraphs after `long_about` (rendered by
/// `cargo xtask man`).
pub const MAN_DESCRIPTION: &[&str] = &[
    "Give it the primary. Replicas are found with SHOW SLAVE HOSTS (set report_host and \
     report_port on them), then the processlist, or listed as extra DSNs. Every selected \
     table is walked in chunks along its primary key or best unique index (composite, \
     nullable, binary and utf8mb4 keys work; a non-unique index is used when there is no \
     unique one). The first chunk takes every key below the primary's first key and the \
     last every key above its last, so rows that exist only on a replica are found too. \
     Chunk sizes adapt so each chunk takes --chunk-time. A table with no usable index is \
     checksummed in one chunk when it has at most --max-unkeyed-rows rows and skipped \
     otherwise (exit flag 64). Several workers (--threads) checksum chunks of several \
     tables, or of one big table, at once.",
    "METHODS. replicate (pt-table-checksum's): each chunk is checksummed on the primary with \
     REPLACE INTO the checksum table ... SELECT in a session with binlog_format=STATEMENT, \
     every replica re-executes the statement on its own rows, and the primary's result is \
     stored beside it; after a table's last chunk the tool waits for each replica to reach \
     the primary's GTID position and reads the chunks whose this_crc/this_cnt differ from \
     master_crc/master_cnt. The checksum table has Percona's schema, so pt-table-sync \
     --replicate and existing monitoring read it, and --resume continues a killed run from \
     it. It needs SUPER or BINLOG ADMIN to switch the session to statement format.",
    "snapshot (new; chosen by --method auto when the session cannot use statement format): \
     nothing is written anywhere. Each worker stops replication on every replica, opens a \
     consistent snapshot on the primary and reads its exact binary log position (MariaDB: \
     binlog_snapshot_file/position, no lock; MySQL: a brief FLUSH TABLES WITH READ LOCK), \
     lets each replica run exactly to that GTID position with START SLAVE UNTIL \
     master_gtid_pos, opens a snapshot there and restarts replication at once. Chunks are \
     then checksummed on all servers in parallel inside those snapshots and compared by \
     the tool. Snapshots are reopened every --snapshot-refresh seconds so undo history \
     stays small. It works through ROW-format chains and needs REPLICATION SLAVE ADMIN (or \
     SUPER) on the replicas and GTIDs in the binary log. A replica whose replication was \
     stopped by someone else is never started by the tool.",
    "ROW HASH. Each row becomes one byte string: every stored column (generated columns are \
     skipped) in table order, text cast to its stored bytes (no charset conversion or \
     collation), variable-length values preceded by their length, and a final field of \
     NULL flags, so NULL and '' differ. TIMESTAMP columns read the same on every server \
     because oxkit sessions use time_zone '+00:00'. --float-precision rounds FLOAT and \
     DOUBLE; --ignore-columns leaves columns out. The default hash, sha1-crc32, is the \
     CRC32 of the row's SHA1 digest (32 bits per row, as pt-table-checksum's), folded with \
     BIT_XOR when the table has a NOT NULL unique key and with an exact SUM otherwise (so \
     duplicate rows cannot cancel). It is not linear: the same same-length edit made to two \
     rows of a chunk changes the checksum. sha1, md5 and sha2 take 64 bits of the digest \
     instead, and cost more (reading them back as a number is half the work on MariaDB). \
     crc32 is pt-table-checksum's BIT_XOR of CRC32, the cheapest, which such a pair of \
     edits cancels out. On MySQL 9.6+, which removed SHA1() and MD5(), every digest \
     function becomes sha2.",
    "OUTPUT. One line per table as it finishes, in pt-table-checksum's columns: TS (UTC, \
     MM-DDTHH:MM:SS), ERRORS, DIFFS (chunks that differ on at least one replica), ROWS \
     (rows checksummed on the primary), DIFF_ROWS, CHUNKS, SKIPPED (chunks not \
     checksummed because of errors or lock waits), TIME (seconds) and TABLE. DIFF_ROWS \
     is the sum, over differing chunks, of the largest row-count difference between the \
     primary and a replica: a changed row changes no count, so DIFF_ROWS can be 0 while \
     DIFFS is not; it is a lower bound on the rows that differ. Every differing chunk is \
     also reported on stderr with the replica, counts, checksums and key boundaries.",
    "JSON (--format json): one document with method, function, primary, replicas (host:port \
     labels), exit_status, and tables: a list of objects with db, table, index, errors, \
     diffs, rows, diff_rows, chunks, skipped, time, skip_reason (null unless the table was \
     skipped), error_messages, diff_chunks and index_checks. Each diff_chunks entry has \
     chunk, index, lower_boundary and upper_boundary (key values in the checksum table's \
     text form; null means open), host, primary_rows, replica_rows, primary_crc and \
     replica_crc. Each index_checks entry has host, index, index_rows, table_rows and ok.",
    "--verify-indexes reads every table once more through each secondary B-tree index \
     (covering: the index columns and the primary key) and once through the clustered \
     index, on the primary and on every replica, inside one snapshot, and compares row \
     count and checksum: an index that disagrees with its table is reported (exit flag \
     16). The comparison is per index, over the whole table.",
    "THROTTLING. Before each chunk the workers wait while a replica lags more than \
     --max-lag seconds, while a status variable exceeds --max-load, while the --pause-file \
     exists, and while a replica's replication threads are stopped (exit flag 128; \
     --fail-on-stopped-replication fails at once instead). --critical-load aborts. Checks \
     run at most every --check-interval seconds. Ctrl-C stops between chunks; the snapshot \
     method restarts replication on the replicas it stopped before exiting.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(argv: &[&str]) -> Option<String> {
        oxkit::entry::refusal(command(), argv, |m| Config::new(Args::from_arg_matches(m)?))
    }

    #[test]
    fn defaults_are_accepted_and_checked_once() {
        let m = oxkit::entry::full_command(command())
            .try_get_matches_from(["ox-table-checksum", "h=p", "h=r1", "h=r2"])
            .expect("parse");
        let c = Config::new(Args::from_arg_matches(&m).expect("args")).expect("config");
        assert_eq!(c.primary.and_then(|p| p.host), Some("p".into()));
        assert_eq!(c.replicas.len(), 2);
        assert_eq!(c.replicate_table.to_string(), "percona.checksums");
        assert_eq!(c.nibble.initial_rows, 1000);
        assert_eq!(c.nibble.target, Some(Duration::from_millis(500)));
        assert_eq!(c.nibble.max_rows, 2_000_000);
        assert_eq!(c.replica_timeout, Duration::from_secs(600));
        assert_eq!(c.snapshot_refresh, Duration::from_secs(60));
        assert_eq!(c.threads, None);
        assert_eq!(refusal(&["--chunk-time", "0"]), None);
    }

    /// What `Config::new` (or the parser, for a typed value) refuses, with
    /// which message.
    #[test]
    fn config_refuses_with_its_reason() {
        let seconds = |option: &str, value: &str| {
            format!("clap: error: invalid value '{value}' for '{option} <SECS>': must be a number of seconds >= 0")
        };
        let at_least_one = |option: &str, value: &str, name: &str| {
            format!(
                "clap: error: invalid value '{value}' for '{option} <{name}>': must be at least 1"
            )
        };
        let cases: Vec<(Vec<&str>, String)> = vec![
            (
                vec!["--method", "snapshot", "--resume"],
                "--resume continues a replicate run from its checksum table; the snapshot method keeps no state".into(),
            ),
            (
                vec!["--float-precision", "31"],
                "--float-precision must be 0 to 30".into(),
            ),
            (
                vec!["h=p", "h=r", "--recursion-method", "processlist"],
                "give replicas either as extra DSNs or through --recursion-method, not both".into(),
            ),
            (
                vec!["--recursion-method", "bogus"],
                "--recursion-method: ".into(),
            ),
            (
                vec!["--replicate", "checksums"],
                "clap: error: invalid value 'checksums' for '--replicate <DB.TABLE>': expected DATABASE.TABLE".into(),
            ),
            (
                vec!["--where", " "],
                "clap: error: invalid value ' ' for '--where <CONDITION>': the condition is empty".into(),
            ),
            (vec!["--chunk-size", "0"], at_least_one("--chunk-size", "0", "ROWS")),
            (
                vec!["--max-chunk-rows", "0"],
                at_least_one("--max-chunk-rows", "0", "ROWS"),
            ),
            (vec!["--threads", "0"], at_least_one("--threads", "0", "N")),
            (vec!["--chunk-time=-1"], seconds("--chunk-time", "-1")),
            (vec!["--replica-timeout=NaN"], seconds("--replica-timeout", "NaN")),
            (vec!["--snapshot-refresh=inf"], seconds("--snapshot-refresh", "inf")),
            (vec!["--check-interval=-1"], seconds("--check-interval", "-1")),
            (vec!["--max-load", "Threads_running"], "--max-load: ".into()),
            (vec!["--tables-regex", "("], "--tables-regex: invalid regular expression".into()),
            (vec!["--set-vars", "x"], "--set-vars: ".into()),
            (vec!["h=p,Q=1"], "target 1: ".into()),
        ];
        for (argv, want) in cases {
            let got = refusal(&argv).unwrap_or_else(|| panic!("{argv:?} was accepted"));
            assert!(got.starts_with(&want), "{argv:?}: {got}");
        }
    }
}
