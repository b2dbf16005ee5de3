//! `ox-online-schema-change`: ALTER huge tables without blocking them
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.
//!
//! Flow: the command line becomes a checked [`Config`] without touching the
//! network; [`engine`] then connects, plans ([`plan`]: guards, then the
//! ALTER tried on an empty clone to learn whether the server can make it
//! instantly), and with `--execute` either runs the instant ALTER or copies
//! the table into a shadow table kept in sync by triggers ([`copy`]) or by
//! the changes the binary log names ([`capture`]),
//! checksums both, and swaps them ([`cutover`]); [`copier`] runs those
//! phases in order. Progress is checkpointed
//! in a small table next to the original ([`state`]) so `--resume` can
//! continue after a crash; [`names`] spells every helper object's name.

mod alter;
mod capture;
mod copier;
mod copy;
mod cutover;
mod engine;
mod keep;
mod names;
mod pace;
mod plan;
mod state;
mod triggers;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use oxkit::cli::{ChunkArgs, ConnArgs, Connection, OutputArgs, Secs, ThrottleArgs};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::report::Format;
use oxkit::throttle::ThrottleOptions;
use oxkit::Exit;
use std::path::PathBuf;
use std::time::Duration;

pub use alter::Alter;
pub use pace::Pace;

/// How changes made to the table during the copy reach the shadow table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// AFTER INSERT/UPDATE/DELETE triggers on the table write every change to the shadow table in the same transaction
    Triggers,
    /// Read changed keys from the binary log (ROW format) and copy those rows again; no triggers
    Binlog,
}

impl Method {
    /// The name on the command line, in the report and in the checkpoint.
    pub fn name(self) -> &'static str {
        match self {
            Method::Triggers => "triggers",
            Method::Binlog => "binlog",
        }
    }

    /// Reads [`Method::name`] (a checkpoint's `method` column).
    pub fn from_name(s: &str) -> Option<Method> {
        Method::value_variants()
            .iter()
            .copied()
            .find(|m| m.name() == s)
    }
}

/// What to do with foreign keys of other tables that point at this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkMethod {
    /// rebuild_constraints when the table has children
    Auto,
    /// After the swap, re-point each child's constraint at the new table (ALTER TABLE child, in place)
    RebuildConstraints,
    /// Drop the original table and rename the new one into place: not atomic (refused: not built)
    DropSwap,
    /// Leave child constraints pointing at the old table (it is then kept); for experts
    None,
}

/// ALTER huge tables without blocking them
#[derive(Parser, Debug)]
#[command(
    name = "ox-online-schema-change",
    version,
    about = "ALTER huge tables without blocking them",
    long_about = "Applies an ALTER TABLE online: instantly when the server can, otherwise by copying into a shadow table while replaying concurrent changes, throttled on replica lag and load, verified by checksum, and swapped in atomically.",
    mut_arg("chunk_time", |a| a.help("Seconds each copy chunk should take (the chunk size adapts to it)")),
    mut_arg("chunk_size", |a| a.help("Rows in the first chunk"))
)]
pub struct Args {
    /// The table to change: a DSN naming database and table (h=host,P=port,u=user,D=db,t=table), as for pt-online-schema-change
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub recursion: oxkit::cli::RecursionArgs,

    /// The ALTER TABLE clauses to apply, without "ALTER TABLE t": "ADD INDEX k (c), MODIFY v BIGINT"
    #[arg(long, value_name = "CLAUSES", help_heading = "Change")]
    pub alter: Option<String>,
    /// How concurrent changes reach the shadow table [default: binlog when the server's binary log can be read (MariaDB, or MySQL 8.0.13+; ROW, FULL images, privileges), else triggers with a note why]
    #[arg(long, value_enum, help_heading = "Change")]
    pub method: Option<Method>,
    /// Copy even when the server could make the change instantly
    #[arg(long, help_heading = "Change")]
    pub force_copy: bool,
    /// Allow changes that lose data: a UNIQUE key over duplicate values (duplicates are dropped) or a narrower column that truncates values
    #[arg(long, help_heading = "Change")]
    pub allow_data_loss: bool,
    /// Foreign keys of child tables pointing at this table
    #[arg(long, value_enum, default_value_t = FkMethod::Auto, help_heading = "Change")]
    pub alter_foreign_keys_method: FkMethod,

    /// Show the plan (instant or copy, rows, time, guards); change nothing
    #[arg(long, conflicts_with = "execute", help_heading = "Safety")]
    pub dry_run: bool,
    /// Make the change
    #[arg(long, help_heading = "Safety")]
    pub execute: bool,
    /// Continue the copy of an earlier run that was killed (its shadow table, triggers and checkpoint are kept)
    #[arg(long, help_heading = "Safety")]
    pub resume: bool,
    /// Keep the original table (renamed _<table>_old) after the swap
    #[arg(long, help_heading = "Safety")]
    pub no_drop_old_table: bool,

    /// After the swap keep the original (as _<table>_old) and keep it in sync with the new table from the binary log, until stopped (Ctrl-C, SIGTERM: exit 4, the kept table and its state stay for --revert or --drop-old-table); refuses ALTERs that cannot be mapped back
    #[arg(long, conflicts_with_all = ["revert", "drop_old_table", "no_drop_old_table"], help_heading = "Revert")]
    pub keep_old_table: bool,
    /// Swap the table kept by --keep-old-table back in, after applying every change made since (its keeping run must be stopped first); the altered table is dropped unless --no-drop-old-table
    #[arg(long, conflicts_with_all = ["alter", "drop_old_table", "resume"], help_heading = "Revert")]
    pub revert: bool,
    /// End --keep-old-table: drop the kept original and its state (its keeping run must be stopped first)
    #[arg(long, conflicts_with_all = ["alter", "resume"], help_heading = "Revert")]
    pub drop_old_table: bool,

    #[command(flatten)]
    pub chunk: ChunkArgs,
    /// Pause after a round of chunks for this fraction of its time, so the copy yields to the application (with --pace adaptive only while it suffers; 0: copy flat out)
    #[arg(
        long,
        default_value_t = 0.5,
        value_name = "RATIO",
        help_heading = "Chunking"
    )]
    pub sleep_ratio: f64,
    /// When the copy sleeps --sleep-ratio: only while the application suffers, or after every round
    #[arg(
        long,
        value_enum,
        default_value_t = Pace::Adaptive,
        help_heading = "Chunking"
    )]
    pub pace: Pace,
    /// Sessions that copy (and checksum) disjoint key ranges at once; each round of chunks is paced and checkpointed as one [default: 2 with binary log capture, 1 with triggers]
    #[arg(long, value_name = "N", help_heading = "Chunking")]
    pub threads: Option<oxkit::cli::Count>,

    /// Seconds one attempt of the swap (or of any DDL on the table) tries to get the table's metadata lock; it asks only while no transaction holds the table, so the application is never its deadlock victim
    #[arg(
        long,
        default_value = "1",
        value_name = "SECS",
        help_heading = "Cut-over"
    )]
    pub cut_over_lock_wait: Secs,
    /// Give up the swap (and clean up) after trying for this many seconds
    #[arg(
        long,
        default_value = "600",
        value_name = "SECS",
        help_heading = "Cut-over"
    )]
    pub cut_over_timeout: Secs,
    /// Copy and keep the shadow table in sync, but do not swap while FILE exists
    #[arg(long, value_name = "FILE", help_heading = "Cut-over")]
    pub postpone_cut_over: Option<PathBuf>,

    #[command(flatten)]
    pub throttle: ThrottleArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Apply `--alter`.
    Alter,
    /// `--revert`: swap the kept original back in.
    Revert,
    /// `--drop-old-table`: end keeping the original.
    DropOldTable,
}

/// The checked configuration: every option the engine reads, checked
/// once here.
#[derive(Debug)]
pub struct Config {
    /// The connection options: targets are resolved over them.
    pub conn: Connection,
    /// The DSN naming the table.
    pub target: ConnSpec,
    /// The parsed ALTER.
    pub alter: Alter,
    /// `--method` (None: chosen from what the server allows).
    pub method: Option<Method>,
    /// `--force-copy`.
    pub force_copy: bool,
    /// `--allow-data-loss`.
    pub allow_data_loss: bool,
    /// `--alter-foreign-keys-method`.
    pub fk_method: FkMethod,
    /// `--execute` (else `--dry-run`: plan only).
    pub execute: bool,
    /// `--resume`.
    pub resume: bool,
    /// `--no-drop-old-table`.
    pub no_drop_old_table: bool,
    /// `--keep-old-table`.
    pub keep_old_table: bool,
    /// The change to make, or `--revert` / `--drop-old-table`.
    pub action: Action,
    /// `--chunk-size`: rows in the first chunk.
    pub chunk_size: u64,
    /// `--chunk-time`.
    pub chunk_time: Duration,
    /// `--sleep-ratio`.
    pub sleep_ratio: f64,
    /// `--pace`.
    pub pace: Pace,
    /// `--threads`: chunks copied (and compared) at once, at least 1
    /// (None: by the method, [`Config::threads_for`]).
    pub threads: Option<usize>,
    /// `--cut-over-lock-wait`, whole seconds (at least 1; `WAIT n` takes integers).
    pub lock_wait: u32,
    /// `--cut-over-timeout`.
    pub cut_over_timeout: Duration,
    /// `--postpone-cut-over`.
    pub postpone_cut_over: Option<PathBuf>,
    /// Throttle settings.
    pub throttle: ThrottleOptions,
    /// How replicas are found for the lag throttle (`--recursion-method`).
    pub recursion: Vec<oxkit::topology::Method>,
    /// `--format`.
    pub format: Format,
}

impl Config {
    /// Checks the arguments; fails fast with a usage error.
    pub fn new(args: Args) -> Result<Config> {
        if args.dry_run == args.execute {
            return Err(usage_error(
                "say what to do: --dry-run (show the plan, change nothing) or --execute",
            ));
        }
        let [target] = &args.targets[..] else {
            return Err(usage_error(
                "give exactly one DSN naming the table: h=host,D=db,t=table",
            ));
        };
        let action = if args.revert {
            Action::Revert
        } else if args.drop_old_table {
            Action::DropOldTable
        } else {
            Action::Alter
        };
        // --revert and --drop-old-table read the ALTER from the kept state.
        let alter = match (&args.alter, action) {
            (Some(text), _) => {
                Alter::parse(text).map_err(|e| usage_error(format!("--alter: {e:#}")))?
            }
            (None, Action::Alter) => {
                return Err(usage_error(
                    "--alter is required: the ALTER TABLE clauses to apply",
                ))
            }
            (None, _) => Alter::default(),
        };
        if args.keep_old_table && args.method == Some(Method::Triggers) {
            return Err(usage_error(
                "--keep-old-table needs binary log capture (--method binlog): the kept table is kept in sync from the binary log",
            ));
        }
        if args.alter_foreign_keys_method == FkMethod::DropSwap {
            return Err(usage_error(
                "--alter-foreign-keys-method drop-swap is not built; use rebuild-constraints",
            ));
        }
        let throttle = args.throttle.options()?;
        if !(args.sleep_ratio.is_finite() && (0.0..=100.0).contains(&args.sleep_ratio)) {
            return Err(usage_error("--sleep-ratio must be between 0 and 100"));
        }
        if args.threads.is_some_and(|t| t.get() > 64) {
            return Err(usage_error("--threads must be at most 64"));
        }
        if args.resume && args.dry_run {
            return Err(usage_error("--resume needs --execute"));
        }
        let recursion = args.recursion.methods()?;
        let target = oxkit::cli::parse_targets(std::slice::from_ref(target))?
            .into_iter()
            .next()
            .ok_or_else(|| usage_error("give one DSN naming the table"))?;
        if target.table.is_none() {
            return Err(usage_error(
                "the DSN names no table: add t=table (and D=database)",
            ));
        }
        let lock_wait = args
            .cut_over_lock_wait
            .get()
            .ceil()
            .clamp(1.0, 31_536_000.0) as u32;
        Ok(Config {
            target,
            alter,
            method: args.method,
            // An instant ALTER leaves no original to keep.
            force_copy: args.force_copy || args.keep_old_table,
            allow_data_loss: args.allow_data_loss,
            fk_method: args.alter_foreign_keys_method,
            execute: args.execute,
            resume: args.resume,
            no_drop_old_table: args.no_drop_old_table,
            keep_old_table: args.keep_old_table,
            action,
            chunk_size: args.chunk.chunk_size.get(),
            chunk_time: args.chunk.chunk_time.duration(),
            sleep_ratio: args.sleep_ratio,
            pace: args.pace,
            threads: args.threads.map(oxkit::cli::Count::as_usize),
            lock_wait,
            cut_over_timeout: args.cut_over_timeout.duration(),
            postpone_cut_over: args.postpone_cut_over,
            throttle,
            recursion,
            format: args.output.format,
            conn: Connection::new(args.conn)?,
        })
    }
}

impl Config {
    /// Chunks copied at once with `method`: `--threads`, else 2 with
    /// binary log capture and 1 with triggers (each copy statement there
    /// can deadlock with the triggers' writes, and InnoDB then rolls back
    /// the application's lighter transaction: more copy sessions, more
    /// such deadlocks).
    pub fn threads_for(&self, method: Method) -> usize {
        self.threads.unwrap_or(match method {
            Method::Binlog => 2,
            Method::Triggers => 1,
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
    let spec = cfg.conn.resolve(Some(&cfg.target))?;
    engine::run(ctx, &cfg, spec)
}

/// The man page's DESCRIPTION paragraphs after `long_about` (rendered by
/// `cargo xtask man`).
pub const MAN_DESCRIPTION: &[&str] = &[
    "USE. ox-online-schema-change h=HOST,D=DB,t=TABLE --alter \"CLAUSES\" --dry-run prints \
     the plan and changes nothing; the same with --execute makes the change. Exactly one of \
     the two is required. --alter is one ALTER TABLE clause list: a ';' or a comment \
     ('#', '-- ', '/* */') outside quotes, an unclosed quote or unbalanced parentheses are \
     refused (exit 1) before anything runs, and every statement that carries the text is \
     sent alone through the prepared-statement protocol, which the server never splits \
     into several statements.",
    "ONE RUN PER TABLE. A run holds the server's named lock oxkit-osc:DB.TABLE (GET_LOCK, \
     on a connection of its own) from start to end, dry runs included. A second run on the \
     same table, or a --resume while the first run is still alive, exits 2 and names the \
     connection holding the lock; the server frees the lock when the run ends or is killed, \
     so --resume after a kill -9 works.",
    "PLAN. The tool creates an empty clone of the table (SHOW CREATE TABLE under another \
     name, not binary-logged when the session may turn sql_log_bin off), applies the ALTER \
     to it with ALGORITHM=INSTANT, and when the server accepts that, runs the same ALTER \
     on the real table with ALGORITHM=INSTANT (no copy, no rebuild; metadata lock waits \
     bounded as for the swap). Otherwise (or with --force-copy) the change is made by \
     copying. Whether ALGORITHM=NOCOPY/INPLACE with LOCK=NONE would also work is reported. \
     An instant change runs whatever the table has (triggers, no key); a view or an engine \
     other than InnoDB is refused. The guards of a copy, each refusing with its reason \
     (exit 1): no primary key or unique NOT NULL key; a column that disappears \
     without a DROP clause (a rename the tool could not read); a renamed key column; a new \
     UNIQUE key over values that are duplicated in the table (checked with one GROUP BY \
     before anything is changed), unless --allow-data-loss; a self-referencing foreign \
     key. The plan lists changed column types, child tables and the estimated copy time.",
    "TABLES WITH TRIGGERS. A copy keeps the table's own triggers only with --method binlog \
     (the default picks it for such a table; when the binary log cannot be read the run is \
     refused with what to change). The triggers stay on the original during the copy (the \
     shadow carries none, so the captured rows applied to it fire nothing: the triggers' \
     effects on other tables are already there) and move to the new table inside the swap's \
     write lock, after the last catch-up: read again, dropped from the original, created on \
     the shadow in their order with their DEFINER, sql_mode and character set, then the \
     rename. If anything fails before the rename they are put back on the original while \
     writes are still stopped. Before any copy each one is created on the empty clone the \
     ALTER was applied to, proving the account may give it its definer (MariaDB: SET USER \
     or SUPER; MySQL: SET_ANY_DEFINER, or SET_USER_ID/SUPER; with the binary log on also \
     SUPER or log_bin_trust_function_creators) and that its body fits the changed columns. \
     --method triggers refuses such a table: its swap has no locked window, so the user's \
     triggers would either fire twice on the shadow during the copy or miss the writes \
     between the swap and their creation.",
    "COPY. The shadow table _TABLE_new is created from SHOW CREATE TABLE (foreign key \
     names prefixed with _ or stripped of it, as they must be unique per schema) and \
     altered. AFTER INSERT, UPDATE and DELETE triggers on the table (method triggers) \
     write every change to the shadow table in the application's own transaction: \
     REPLACE of the new row, and for an update that changes the key a DELETE of the old \
     key first. Rows are then copied in key order with INSERT IGNORE ... SELECT in chunks \
     sized to --chunk-time, in rounds of --threads chunks (default 2 with binary log capture; 1 with \
     triggers, whose writes to the shadow can deadlock with each copy statement, InnoDB \
     then rolling back the application's transaction): the chunks \
     of a round are consecutive, disjoint key ranges copied at once, each on a session \
     of its own; the next round starts when the whole round is done, and the round is \
     what is paced, checkpointed and followed by the binary log capture's changes \
     (applying them while a chunk is in flight could bring back a row the application \
     deleted). The copy sessions read with READ COMMITTED consistent reads \
     (binary log format ROW for the session), so it takes no locks on the original and \
     the application never waits for it or deadlocks with it there; a row the \
     application deletes while the statement that copies it runs can come back in the \
     shadow, and the checksum pass finds and recopies exactly those chunks under share \
     locks. When the session cannot use row format, the copy reads with LOCK IN SHARE \
     MODE instead, as pt-online-schema-change does. Any \
     warning other than a duplicate (a value truncated or out of range: the ALTER would \
     change data) stops the run unless --allow-data-loss. After a round the copy \
     sleeps --sleep-ratio times the round's time: with --pace always after every round, \
     with --pace adaptive (the default) only when the application is seen to suffer, \
     read after each round against the same readings taken before the copy began: a \
     one-row read of the table by its key (median of three) over three times its time at \
     rest and at least 1 ms more (heeded only when other sessions ran 20 statements a \
     second or more at rest: on a server nobody else uses the copy only slows itself), \
     Threads_running more than four above its level at rest, \
     or a watched replica one second or more behind (each change of verdict is said on \
     stderr). The copy also pauses as the Throttling \
     options say (replica lag, --max-load, --pause-file; --critical-load aborts). \
     Deadlocks and lock wait timeouts of a chunk are retried.",
    "BINARY LOG CAPTURE (--method binlog; MariaDB, MySQL 8.0.13+). Instead of triggers, a \
     second session reads the binary log as a replica does (a random server id above \
     4000000000), from the position SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL \
     8.2+) gave before the shadow table was created. It needs log_bin on, \
     binlog_format=ROW, binlog_row_image=FULL, on MySQL binlog_transaction_compression \
     OFF, and the REPLICATION SLAVE and BINLOG MONITOR (REPLICATION CLIENT) privileges; \
     without them --method binlog is refused with the reason. The row events of the table give the keys that changed; \
     repeated changes of a key collapse into one, and an update that moves a row marks \
     its old and its new key. Between copy chunks (on the copy's session, so the two \
     cannot race) the changed keys are applied in batches of 500, each in one \
     transaction: DELETE of the keys from the shadow, then INSERT IGNORE ... SELECT of \
     the same keys from the original with LOCK IN SHARE MODE, which reads the newest \
     committed rows (waiting for a writer whose commit is under way). On MariaDB 10.6+ \
     (and MySQL 8.0.1+) a batch first share-locks only the rows it can get without \
     waiting (SKIP LOCKED) and applies those; each key it skipped (a row another \
     transaction holds, or one that is gone) is then applied in a transaction of its \
     own, which may wait for that one row but holds nothing the application waits for, \
     so the applier can never deadlock with the application. The shadow's rows \
     thus go through the same conversion as the copy's (no value is rebuilt from its \
     binary log encoding), applying a key twice is harmless, and the application's \
     transactions run no trigger. A change committed after a chunk read its rows is \
     applied after that chunk wrote them, so the copy never leaves an older row behind. \
     Before each checksum comparison the changes read so far are applied; a chunk that \
     differs is compared again in a new snapshot after catching up to the server's \
     binary log position, up to ten times without locks (the checksum then walks \
     chunks of a fifth of --chunk-time, which makes such lag differences rarer); only a chunk that still \
     differs is compared with its range share-locked (the capture caught up inside that \
     transaction), and copied again if it still differs (up to three times).",
    "CHECKSUM. Before the swap every chunk of the original and the same key range of the \
     shadow are checksummed (the row hash of ox-table-checksum over the common columns; \
     columns whose character set or kind of type changed are compared as utf8mb4 text) \
     inside one consistent snapshot, so the triggers' writes are seen on both sides or \
     neither and the comparison is exact while the application writes. Chunks are \
     compared --threads at a time, on the copy's sessions. A differing chunk \
     is copied again (DELETE of the range in the shadow, INSERT ... SELECT) and compared \
     again; if chunks still differ the tool refuses to swap, cleans up and exits 16.",
    "SWAP. With --postpone-cut-over FILE the tool keeps the shadow in sync (the triggers, \
     or the applied binary log changes every 200 ms) and waits while FILE exists, then \
     checksums again. METADATA LOCKS: every statement of the tool that locks the live \
     table (the swap's LOCK TABLES or RENAME, the instant ALTER, CREATE and DROP TRIGGER, \
     a child's ALTER) asks for its metadata lock only when no transaction holds the \
     table, never queueing while one does: a transaction that read the table and then \
     writes it would otherwise wait behind the queued request while the request waits \
     for it, and the server resolves that deadlock by rolling back the application's \
     transaction (error 1213; DML loses to DDL). On MariaDB the request is made with \
     lock_wait_timeout 0 (refused at once instead of queued) every 2 ms, for at most \
     --cut-over-lock-wait seconds per attempt; on MySQL (lock_wait_timeout is at least \
     1 s) it is made once performance_schema.metadata_locks shows no other session \
     holding a transaction's lock on the tables (a transaction starting in the round \
     trip between can still be rolled back; without performance_schema it is made at \
     once), then waits at most the rest of the attempt. A failed attempt is said on \
     stderr with the sessions in transactions, and retried after 0.5 s until \
     --cut-over-timeout. With binary log capture on MySQL (8.0.13+ renames tables held \
     under LOCK TABLES) one session takes LOCK TABLES t WRITE, _t_new WRITE (as said \
     above), which stops writes; it reads the binary log position \
     and applies every change up to it (at most --cut-over-lock-wait seconds, at least \
     2), runs RENAME TABLE t TO _t_old, _t_new TO t and unlocks: the application's \
     statements queued on the table then open the new one. If the lock or the catch-up \
     fails it unlocks without renaming (the original stays) and tries again until \
     --cut-over-timeout. On MariaDB the swap stops writes, catches up and \
     swaps in two sessions (MariaDB rejects RENAME under LOCK TABLES): the shadow is \
     renamed TABLE_osc_new and a sentry table TABLE_osc_del is created (names that sort \
     after the table's: a RENAME takes its metadata locks in name order, and it must \
     queue on the table first); session A takes LOCK TABLES t WRITE, t_osc_new WRITE, \
     t_osc_del WRITE (as said above); session B issues RENAME \
     TABLE t TO t_osc_del, t_osc_new TO t, which queues behind A and is served before \
     the application's statements waiting for the table; once B is seen waiting, A reads the binary log position and applies \
     every change up to it (at most --cut-over-lock-wait seconds, at least 2), drops \
     the sentry and unlocks, so B's rename runs and the queued statements open the new \
     table. On any failure A unlocks without dropping the sentry, B's rename fails \
     because t_osc_del exists, and the original stays; each attempt is retried until \
     --cut-over-timeout. The original is then renamed _t_old. With triggers: The swap is one atomic \
     RENAME TABLE t TO _t_old, _t_new TO t, asking for the metadata locks as said \
     above; after --cut-over-timeout the tool gives up, cleans up and exits 1. After \
     the swap the triggers are dropped, each child table's foreign key is re-pointed at \
     the new table (ALTER TABLE child DROP FOREIGN KEY fk, ADD CONSTRAINT _fk ... with \
     foreign_key_checks off, an in-place change), and the old table is dropped unless \
     --no-drop-old-table.",
    "RESUME AND CLEANUP. Progress is checkpointed after every chunk in the table \
     _TABLE_osc next to the original (the ALTER, the method, the state, the last chunk's \
     upper key, and with binary log capture the position up to which changes are \
     applied). After a crash or SIGKILL the triggers keep the shadow in sync (binary \
     log capture reads again from the saved position; if that log was purged the \
     resume fails and says so), and --resume continues the copy after the last \
     checkpoint (the chunk in flight is copied again; \
     INSERT IGNORE makes that harmless) and then checksums everything as usual. Without \
     --resume, leftovers of an earlier run are refused. On any error or on Ctrl-C \
     (SIGINT, SIGTERM: exit 4) before the swap, the triggers, the shadow table and the \
     checkpoint table (and a cut-over sentry) are dropped and the original table is left \
     as it was. A run killed during a binary log swap can leave the shadow under its swap \
     name TABLE_osc_new (and the sentry TABLE_osc_del); --resume then starts over, and the \
     next swap refuses until they are dropped by hand.",
    "REVERT. With --keep-old-table (binary log capture; an instant ALTER is then made by \
     copying) the run does not end at the swap: the original, renamed _TABLE_old, is kept \
     in sync with the new table by the binary log capture turned around (the new table's \
     changed keys read from the binary log from the position the swap's catch-up reached \
     under its write lock, their rows read again from the new table through the ALTER's \
     column pairs, every 200 ms), and the checkpoint _TABLE_osc stays in phase kept with \
     the position applied so far. The run holds its run lock until stopped by SIGINT or \
     SIGTERM (exit 4; the kept table and its state stay; after a kill -9 too). \
     --revert --execute (the keeping run stopped first: while it lives, exit 2) reads the \
     changes again from the recorded position, applies them without locks, then swaps \
     _TABLE_old back in with the swap described above (writes stopped, every change up to \
     the server's binary log position applied, rename), so every acknowledged write is in \
     the original; the altered table goes aside as _TABLE_rev and is dropped unless \
     --no-drop-old-table. A swap back that gives up or is interrupted leaves the original \
     kept (run --revert again). --drop-old-table --execute drops _TABLE_old and its state \
     instead; --dry-run with either says what it would do. Refused up front with the \
     reason (exit 1), before anything is changed: an ALTER that drops a column (rows \
     written after the swap have no value for it, and the kept table's rows are rewritten \
     whole) or changes a column's definition (type, character set, collation, NULL), one \
     that drops or changes a unique key, one after which the copy's key is not a unique \
     NOT NULL key, a table referenced by child tables, trigger capture. Also refused \
     (exit 1): --revert or --drop-old-table with nothing kept, and a new ALTER of a table \
     whose original is kept. The binary logs since the recorded position must still be on \
     the server.",
    "OUTPUT. A summary (plan, rows copied, chunks, recopied chunks, times, swap attempts) \
     on stdout; with --format json one document with fields db, table, alter, method, \
     plan (instant, copy), nocopy_possible, executed, resumed, rows_estimate, \
     estimated_seconds, guards (warnings), changed_columns, children, rows_copied, \
     chunks, rounds (of --threads chunks copied at once), rounds_yielded (rounds after \
     which the copy slept --sleep-ratio), checksum_chunks, chunks_recopied, exact_compares (chunks the binary log \
     method compared under share locks because lock-free compares kept differing), \
     copy_seconds, checksum_seconds, \
     cut_over_attempts, cut_over_seconds, total_seconds, old_table (kept name or null), \
     binlog_changes (row changes read from the binary log), binlog_keys_applied, \
     binlog_keys_waited (of those, keys applied one by one because another transaction \
     held the row or it was gone), \
     method_note (why the default method was not the binary log, or null), exit_status. \
     A progress bar with rows/s and ETA is drawn on stderr when it is a terminal. Exit \
     status: 0 done (or planned); 1 refused by a guard, bad options, or the swap gave up; \
     4 interrupted (cleaned up); 16 the checksum found differences that recopying did not \
     cure (cleaned up, nothing swapped); 128 a replica stopped with \
     --fail-on-stopped-replication; 255 other failures (cleaned up before the swap). \
     --revert and --drop-old-table print table, alter, kept table and position, and with \
     --format json the fields db, table, action (revert, drop_old_table), alter, executed, \
     kept_table, kept_position, binlog_keys_applied, cut_over_attempts, cut_over_seconds, \
     old_table (the altered table when kept, or null), total_seconds, exit_status.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Config> {
        let mut argv = vec!["ox-online-schema-change", "h=x,D=d,t=t"];
        argv.extend_from_slice(extra);
        let m = oxkit::entry::full_command(command()).try_get_matches_from(argv)?;
        Config::new(Args::from_arg_matches(&m)?)
    }

    #[test]
    fn exactly_one_of_dry_run_and_execute() {
        assert!(parse(&["--alter", "ADD INDEX (a)"]).is_err());
        assert!(parse(&["--alter", "ADD INDEX (a)", "--dry-run"]).is_ok());
        assert!(parse(&["--alter", "ADD INDEX (a)", "--execute"]).is_ok());
        assert!(parse(&["--alter", "ADD INDEX (a)", "--dry-run", "--execute"]).is_err());
        assert!(parse(&["--execute"]).is_err());
        assert!(parse(&["--alter", "RENAME TO x", "--execute"]).is_err());
        assert!(parse(&[
            "--alter",
            "ADD INDEX (a)",
            "--execute",
            "--method",
            "binlog"
        ])
        .is_ok_and(|c| c.method == Some(Method::Binlog)));
        assert!(
            parse(&["--alter", "ADD INDEX (a)", "--execute"]).is_ok_and(|c| {
                c.method.is_none()
                    && c.pace == Pace::Adaptive
                    && c.threads.is_none()
                    && c.threads_for(Method::Binlog) == 2
                    && c.threads_for(Method::Triggers) == 1
            })
        );
        assert!(
            parse(&["--alter", "ADD INDEX (a)", "--execute", "--pace", "always"])
                .is_ok_and(|c| c.pace == Pace::Always)
        );
        assert!(parse(&[
            "--alter",
            "ADD INDEX (a)",
            "--execute",
            "--chunk-time",
            "-1"
        ])
        .is_err());
        assert!(parse(&["--alter", "ADD INDEX (a)", "--dry-run", "--resume"]).is_err());
    }

    /// The message `Config::new` refuses `argv` with (a usage error:
    /// exit 1 with a hint to --help), or the clap error.
    fn refusal(argv: &[&str]) -> String {
        oxkit::entry::refusal(command(), argv, |m| Config::new(Args::from_arg_matches(m)?))
            .unwrap_or_else(|| panic!("{argv:?} was accepted"))
    }

    #[test]
    fn config_refuses_with_its_reason() {
        let dsn = "h=x,D=d,t=t";
        let alter = "ADD INDEX (a)";
        let cases: &[(&[&str], &str)] = &[
            (&[dsn, "--alter", alter], "say what to do: --dry-run"),
            (&["--alter", alter, "--execute"], "give exactly one DSN"),
            (
                &[dsn, dsn, "--alter", alter, "--execute"],
                "give exactly one DSN",
            ),
            (&[dsn, "--execute"], "--alter is required"),
            (
                &[dsn, "--alter", alter, "--dry-run", "--resume"],
                "--resume needs --execute",
            ),
        ];
        for (argv, want) in cases {
            let got = refusal(argv);
            assert!(got.starts_with(want), "{argv:?}: {got}");
        }
        // One option's value each, on an otherwise valid command line.
        // Values of the shared argument types are refused by the parser,
        // naming the option.
        let seconds = |option: &str, value: &str| {
            format!("clap: error: invalid value '{value}' for '{option} <SECS>': must be a number of seconds >= 0")
        };
        let options = [
            (
                "--alter=RENAME TO x".to_string(),
                "--alter: \"RENAME TO x\": renaming the table is not an online change".to_string(),
            ),
            (
                "--alter=ADD INDEX (a); DROP TABLE t".to_string(),
                "--alter: --alter holds a ';'".to_string(),
            ),
            (
                "--alter=ADD INDEX (a".to_string(),
                "--alter: --alter has a '(' without its ')'".to_string(),
            ),
            (
                "--alter-foreign-keys-method=drop-swap".to_string(),
                "--alter-foreign-keys-method drop-swap is not built; use rebuild-constraints"
                    .to_string(),
            ),
            ("--chunk-time=-1".to_string(), seconds("--chunk-time", "-1")),
            (
                "--chunk-time=NaN".to_string(),
                seconds("--chunk-time", "NaN"),
            ),
            (
                "--chunk-size=0".to_string(),
                "clap: error: invalid value '0' for '--chunk-size <ROWS>': must be at least 1"
                    .to_string(),
            ),
            (
                "--sleep-ratio=101".to_string(),
                "--sleep-ratio must be between 0 and 100".to_string(),
            ),
            (
                "--cut-over-lock-wait=-1".to_string(),
                seconds("--cut-over-lock-wait", "-1"),
            ),
            (
                "--cut-over-timeout=inf".to_string(),
                seconds("--cut-over-timeout", "inf"),
            ),
            ("--max-lag=-2".to_string(), seconds("--max-lag", "-2")),
            (
                "--threads=0".to_string(),
                "clap: error: invalid value '0' for '--threads <N>': must be at least 1"
                    .to_string(),
            ),
            (
                "--threads=65".to_string(),
                "--threads must be at most 64".to_string(),
            ),
            (
                "--recursion-method=bogus".to_string(),
                "--recursion-method: ".to_string(),
            ),
            ("--set-vars=nonsense".to_string(), "--set-vars".to_string()),
        ];
        for (option, want) in &options {
            // A later --alter wins over the valid one.
            let got = refusal(&[dsn, "--execute", "--alter", alter, option]);
            assert!(got.starts_with(want.as_str()), "{option}: {got}");
        }
        // Both actions: clap refuses before Config::new.
        assert!(refusal(&[dsn, "--alter", alter, "--dry-run", "--execute"]).starts_with("clap: "));
    }

    #[test]
    fn method_names_are_the_command_line_names() {
        for m in Method::value_variants() {
            assert_eq!(Method::from_name(m.name()), Some(*m));
            assert_eq!(Method::from_str(m.name(), false), Ok(*m));
            let json = serde_json::to_value(m).expect("json");
            assert_eq!(json.as_str(), Some(m.name()));
        }
    }

    #[test]
    fn lock_wait_is_whole_seconds() {
        let c = parse(&[
            "--alter",
            "ADD INDEX (a)",
            "--execute",
            "--cut-over-lock-wait",
            "0.2",
        ])
        .expect("config");
        assert_eq!(c.lock_wait, 1);
    }
}
