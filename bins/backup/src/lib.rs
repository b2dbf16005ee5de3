//! `ox-backup`: take, catalogue, encrypt, verify and restore backups
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library. The shape is the
//! other tools' one: main → [`run`] → an engine.
//!
//! [`cli`] is the command line, one subcommand per action, checked into a
//! [`Config`] before anything touches the network or the repository;
//! [`action`] holds one function per action with the rendering of its
//! report. The two methods sit side by side: [`logical`] (rows through
//! SQL) and [`physical`] (a hot copy of the data files). What does not
//! depend on the method lives here: [`repo`] (layout, locks, atomic
//! writes, the stored-file codec), [`manifest`], [`crypt`], [`catalog`]
//! (list, check, expire), [`verify`] (the verdict), [`pitr`] (binary log
//! copies and replay) and [`pool`] (the worker threads).

pub mod action;
pub mod catalog;
pub mod cli;
pub mod crypt;
pub mod follow;
pub mod logical;
pub mod manifest;
pub mod physical;
pub mod pitr;
pub mod pool;
pub mod repo;
pub mod store;
pub mod verify;

pub use cli::Config;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};
use cli::{Checked, Cli};
use oxkit::entry::Context;
use oxkit::Exit;

/// The clap definition of the command line (also used for the man page):
/// what every action shares (the repository, connection and output
/// options) is global, so it may stand before or after the action.
pub fn command() -> clap::Command {
    Cli::command().mut_args(|a| a.global(true))
}

/// Runs the tool.
pub fn run(matches: &clap::ArgMatches, ctx: &Context) -> Result<Exit> {
    let cfg = Config::new(Cli::from_arg_matches(matches)?)?;
    match &cfg.action {
        Checked::Backup(b) => action::backup::run(ctx, &cfg, b),
        Checked::List => action::list::run(&cfg),
        Checked::Check {
            max_age,
            max_archive_lag,
        } => action::check::run(&cfg, *max_age, *max_archive_lag),
        Checked::Expire(e) => action::expire::run(&cfg, e),
        Checked::Restore(r) => action::restore::run(ctx, &cfg, r),
        Checked::Verify(v) => action::verify::run(ctx, &cfg, v),
        Checked::Binlog(b) => action::binlog::run(ctx, &cfg, b),
    }
}

/// The man page's DESCRIPTION paragraphs after `long_about` (rendered by
/// `cargo xtask man`).
pub const MAN_DESCRIPTION: &[&str] = &[
    "Backups are only as good as the last successful restore: besides taking and \
     cataloguing backups, it restores each one into a throwaway server and compares \
     checksums, so a backup is known to be usable before it is needed.",
    "ACTIONS. backup DSN --repo DIR takes a logical backup (--verify proves it at once); \
     list shows every backup with age, size, duration, verification and restore time (measured \
     by its last verify; for a set never verified, the nearest verified set's of the same method \
     scaled by stored size, shown as ~N s (est.) and in JSON as restore_estimated_from, the id \
     it came from); check --max-age 26h \
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
     verify-interrupted line is added to the history, and the exit status is 4. Each \
     action takes only its own options (listed under ACTIONS below; one that belongs to \
     another action is refused, exit 1); --repo and the connection, output and general \
     options are shared and may stand before or after the action. A config file option \
     that only some actions take (threads=8 in ox-backup.conf) applies to those and is \
     left out for the others.",
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
    "OBJECT STORAGE. --repo s3://BUCKET/PREFIX keeps the repository in an S3-compatible \
     object store (AWS S3, Garage, MinIO, Ceph RGW...) with the same layout, manifest, \
     hashes, encryption and actions as a directory. --s3-endpoint URL names a self-hosted \
     store (path-style addressing; http:// is allowed for a store on a trusted network), \
     --s3-region its region (default $AWS_REGION, else us-east-1). Credentials are never \
     taken on the command line: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (and \
     $AWS_SESSION_TOKEN), else the file --s3-credentials-file names, else \
     $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, in the AWS format (profile \
     $AWS_PROFILE, else [default]; s3-credentials-file= in ox-backup.conf works too). Files \
     stream in 8 MiB multipart parts, two in flight per file (one PUT below 8 MiB), so \
     an upload's memory is bounded whatever the file size (reading back holds one stored \
     file whole while its SHA-256 is checked, as from a directory); every request has a 60 s limit and is \
     retried with backoff for up to 120 s (throttling, a lost connection, a store node \
     down), said on stderr after 10 s, then the action fails naming the object. An \
     object exists only once its upload completed, and an upload given up is aborted. \
     Instead of a lock a running backup keeps a lease, backups/<id>/.lock, rewritten every \
     15 s: list shows a set without a manifest as running while its lease is younger than \
     2 minutes, abandoned after, and expire removes abandoned sets. A MySQL physical \
     backup into an object store needs --staging-dir (the clone is written there first).",
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
    "PHYSICAL. backup --method physical on MariaDB (10.8+: it reads the 10.8 redo log format; \
     run on the database host as a user who can read the data directory) first checks the privileges (RELOAD, SELECT, BINLOG \
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
    "PHYSICAL ON MYSQL. backup --method physical on MySQL 8.0.17+ uses the server's own clone \
     (the clone plugin must be active: INSTALL PLUGIN clone SONAME 'mysql_clone.so'; the account \
     needs BACKUP_ADMIN; every user table must be InnoDB, since the clone copies other engines' \
     tables empty). The server writes a consistent copy (CLONE LOCAL DATA DIRECTORY) into a \
     staging directory, .oxk-clone-ID under the repository or under --staging-dir DIR, which \
     the server's OS user must be able to reach and which needs the data size free while the \
     backup runs; the clone is watched every second (progress on a terminal, -v for lines), \
     and Ctrl-C or five minutes without progress kills it (KILL QUERY) before the copy is \
     removed. A throwaway mysqld of the source's version (found as for verify) then starts \
     on the copy, which recovers it, reads its GTID set and every InnoDB table's row count \
     and checksum (exactly the backup point) and shuts down cleanly; the binary log position \
     recorded is where the first transaction outside that GTID set starts (read with SHOW \
     BINLOG EVENTS; without GTIDs or a binary log none is recorded, with a warning). The \
     files are stored like any set and the copy removed; a backup killed with kill -9 \
     leaves its copy, which the next backup with the same staging directory removes. No \
     statement of ours blocks commits; DDL waits for the clone. restore --to-datadir DIR \
     writes a cleanly shut down data directory (no prepare step), verify starts a mysqld of \
     the backup's version on it with --skip-grant-tables, and point-in-time recovery works \
     as on MariaDB (the root's mysqlbinlog).",
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
