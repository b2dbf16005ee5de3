//! The manifest: one JSON document that makes a backup set self-describing.
//!
//! It is independent of how the backup was taken (`method`: `logical` or
//! `physical`) and of where the bytes live (file paths are
//! relative to the set). It is written last and atomically: a set whose
//! `manifest.json` is missing is unfinished and never counts as a backup.
//! Later runs (verify, restore) only append to `history` and replace
//! `verification`, again atomically. Field names are part of the interface
//! (`--format json` prints manifests); `format` is bumped on incompatible
//! changes.

use crate::crypt::Encryption;
use serde::{Deserialize, Serialize};

/// Version of the manifest layout.
pub const FORMAT: u32 = 1;

/// A backup set's description.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// The set's name: its directory under `backups/`.
    pub id: String,
    /// `logical` (a dump of rows and definitions) or `physical`.
    pub method: Method,
    /// Tool that wrote it and its version.
    pub tool: String,
    /// Version of the tool.
    pub tool_version: String,
    /// The server backed up.
    pub server: ServerInfo,
    /// Start, UTC, `YYYY-MM-DD HH:MM:SS`.
    pub started_at: String,
    /// Start, seconds since the epoch.
    pub started_unix: u64,
    /// End, UTC.
    pub finished_at: String,
    /// End, seconds since the epoch.
    pub finished_unix: u64,
    /// Seconds the backup took.
    pub duration_secs: f64,
    /// The consistent point every table was read at.
    pub position: Position,
    /// Options the backup was taken with.
    pub options: Options,
    /// Present when the set's files are encrypted.
    pub encryption: Option<Encryption>,
    /// Row hash function of the table checksums (`sha1`, see oxkit::checksum).
    pub checksum_function: String,
    /// Tables with their rows, checksums and data files.
    pub tables: Vec<TableEntry>,
    /// The file holding definitions (schema.json, compressed and maybe encrypted).
    pub schema_file: String,
    /// Every file of the set.
    pub files: Vec<FileEntry>,
    /// Bytes stored (sum of file sizes).
    pub stored_bytes: u64,
    /// Bytes before compression and encryption.
    pub raw_bytes: u64,
    /// Everything the server or the copy warned about.
    pub warnings: Vec<String>,
    /// Latest verification verdict.
    pub verification: Option<Verification>,
    /// Verifications and restores, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Seconds each phase of the backup took, in order (a physical
    /// backup of MySQL: clone, recover and checksum, store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTime>,
}

/// How a set is taken (`backup --method`), and so how it is verified
/// and restored. Written into the manifest as `logical` or `physical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Rows through SQL in a consistent snapshot (any MySQL or MariaDB)
    Logical,
    /// A hot copy of a local server's data directory (MariaDB 10.8+: its
    /// files and redo; MySQL 8.0.17+: the server's clone)
    Physical,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Logical => "logical",
            Method::Physical => "physical",
        })
    }
}

/// The outcome of a verification, written as `passed` or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The restored copy matched every recorded count and checksum.
    Passed,
    /// It did not, or the set could not be restored.
    Failed,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
        })
    }
}

/// Who was backed up.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct ServerInfo {
    /// How it was reached (`user@host:port`).
    pub label: String,
    /// `@@hostname`.
    pub hostname: String,
    /// `@@port`.
    pub port: u16,
    /// `@@server_id`.
    pub server_id: u32,
    /// Flavour and version, as the server describes itself.
    pub version: String,
    /// Flavour (`MariaDB`, `MySQL`, ...).
    pub flavor: String,
}

impl ServerInfo {
    /// A server installation of this host like the backup's source (same
    /// flavour and major version), for the throwaway servers of `verify`
    /// and `restore --to-datadir`: a backup proven on another server would
    /// prove nothing about this one.
    pub fn install(&self) -> anyhow::Result<oxkit::sandbox::Install> {
        let (flavor, v) = self.flavor_version();
        oxkit::sandbox::Install::find(Some(flavor), Some((v.major, v.minor)))
            .map_err(|e| anyhow::anyhow!("the backup was taken from {}: {e:#}", self.version))
    }

    /// The flavour and version recorded (`MariaDB 11.8.9`): what a server
    /// or client working on this backup must match.
    pub fn flavor_version(&self) -> (oxkit::server::Flavor, oxkit::server::Version) {
        use oxkit::server::{Flavor, Version};
        let flavor = if self.flavor.contains("MariaDB") {
            Flavor::MariaDB
        } else {
            Flavor::MySQL
        };
        let version = self
            .version
            .split_whitespace()
            .find_map(Version::parse)
            .unwrap_or(Version::new(0, 0, 0));
        (flavor, version)
    }

    /// The identity of `server`, reached through `conn`.
    pub fn of(conn: &oxkit::conn::Conn, server: &oxkit::server::Server) -> ServerInfo {
        ServerInfo {
            label: conn.label().to_string(),
            hostname: server.hostname.clone(),
            port: server.port,
            server_id: server.server_id,
            version: server.describe(),
            flavor: format!("{:?}", server.flavor),
        }
    }
}

/// How long one phase of a backup took.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    /// What the phase did.
    pub phase: String,
    /// Its wall time.
    pub secs: f64,
}

/// Binary log coordinates of the consistent point.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Position {
    /// `@@gtid_binlog_pos` (MariaDB) or `@@gtid_executed` (MySQL).
    pub gtid: Option<String>,
    /// Binary log file.
    pub binlog_file: Option<String>,
    /// Offset in it.
    pub binlog_pos: Option<u64>,
    /// How the point was fixed (`BACKUP STAGE BLOCK_COMMIT`, `FLUSH TABLES WITH READ LOCK`).
    pub lock: String,
    /// Milliseconds the lock was held.
    pub lock_ms: u64,
    /// XA transactions left prepared at the consistent point (physical
    /// backups: the restore rolls them back; a point-in-time replay first
    /// re-prepares them from their binary log group, so a later
    /// `XA COMMIT`/`XA ROLLBACK` in the log applies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xa_prepared: Vec<XaPrepared>,
}

impl Position {
    /// The server's binary log file and offset (when the log is on) and
    /// GTID position, read through `conn` while commits are blocked by
    /// `lock`.
    pub fn read(
        conn: &mut oxkit::conn::Conn,
        server: &oxkit::server::Server,
        lock: &str,
    ) -> anyhow::Result<Position> {
        let mut pos = Position {
            lock: lock.into(),
            ..Position::default()
        };
        if server.log_bin {
            if let Some((file, at)) = oxkit::topology::binlog_file_position(conn, server)? {
                pos.binlog_file = Some(file);
                pos.binlog_pos = Some(at);
            }
        }
        let gtid = server.gtid_position(conn)?;
        pos.gtid = (!gtid.is_empty()).then_some(gtid);
        Ok(pos)
    }
}

/// An XA transaction prepared at the consistent point, and where its
/// `XA START .. XA PREPARE` group is in the binary log.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct XaPrepared {
    /// The xid as the binary log writes it: `X'..',X'..',formatID`.
    pub xid: String,
    /// Binary log holding its prepare group (None: not found).
    pub binlog_file: Option<String>,
    /// Offset of the group's GTID event.
    pub start: Option<u64>,
    /// Offset just after its `XA PREPARE` event.
    pub end: Option<u64>,
}

/// Options of the backup.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Options {
    /// Worker connections.
    pub threads: usize,
    /// Rows per data file of a big table.
    pub chunk_rows: u64,
    /// `zstd`.
    pub compression: String,
    /// zstd level.
    pub compress_level: i32,
    /// Users and grants were saved.
    pub users: bool,
    /// The filter options given, as typed.
    pub filters: Vec<String>,
}

/// One column of a data file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ColumnEntry {
    /// Column name.
    pub name: String,
    /// Written as hex digits (binary, bit and spatial types).
    pub hex: bool,
}

/// One table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableEntry {
    /// Schema.
    pub db: String,
    /// Name.
    pub name: String,
    /// Storage engine.
    pub engine: String,
    /// Rows at the consistent point.
    pub rows: u64,
    /// Checksum at the consistent point (oxkit::checksum, whole table).
    pub checksum: String,
    /// Rows are unique (checksums fold by XOR, else by sum).
    #[serde(default)]
    pub unique_rows: bool,
    /// Stored columns in data-file order.
    pub columns: Vec<ColumnEntry>,
    /// Data files (paths in `files`), with their row counts.
    pub chunks: Vec<ChunkEntry>,
}

/// One data file of a table.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkEntry {
    /// Path in the set.
    pub file: String,
    /// Rows in it.
    pub rows: u64,
    /// Its checksum (folded into the table's).
    #[serde(default)]
    pub checksum: Option<String>,
    /// The key range it holds, as an SQL condition (`1=1` for a whole table).
    #[serde(default)]
    pub range: Option<String>,
    /// The `FORCE INDEX` clause the range was read through.
    #[serde(default)]
    pub force_index: Option<String>,
}

/// One file of the set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the set's directory.
    pub path: String,
    /// Bytes stored.
    pub size: u64,
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Bytes before compression and encryption.
    pub raw_size: u64,
}

/// A verification verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verification {
    /// `passed` or `failed`.
    pub status: Verdict,
    /// When, UTC.
    pub at: String,
    /// When, seconds since the epoch.
    pub at_unix: u64,
    /// Seconds the restore into the throwaway server took.
    pub restore_secs: f64,
    /// Seconds the whole verification took.
    pub duration_secs: f64,
    /// What differed, or why it failed.
    pub message: String,
}

/// One verification or restore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `verify` or `restore`.
    pub action: String,
    /// When, UTC.
    pub at: String,
    /// When, seconds since the epoch.
    pub at_unix: u64,
    /// It succeeded.
    pub ok: bool,
    /// Seconds it took (for a restore: the recovery time).
    pub duration_secs: f64,
    /// Where it went (a server label, or `sandbox`).
    pub target: String,
    /// Details.
    pub message: String,
}

impl HistoryEntry {
    /// A line of history dated now.
    pub fn now(
        action: &str,
        ok: bool,
        duration_secs: f64,
        target: String,
        message: String,
    ) -> Self {
        let now = now_unix();
        HistoryEntry {
            action: action.into(),
            at: utc(now),
            at_unix: now,
            ok,
            duration_secs,
            target,
            message,
        }
    }
}

impl Manifest {
    /// The manifest of set `id` being taken with `method` from `server`,
    /// started at `started` (Unix seconds): the rest is filled in by the
    /// method, then [`Manifest::finish`] dates it and sums its files.
    pub fn begin(id: &str, method: Method, server: ServerInfo, started: u64) -> Manifest {
        Manifest {
            format: FORMAT,
            id: id.to_string(),
            method,
            tool: "ox-backup".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            server,
            started_at: utc(started),
            started_unix: started,
            finished_at: String::new(),
            finished_unix: 0,
            duration_secs: 0.0,
            position: Position::default(),
            options: Options::default(),
            encryption: None,
            checksum_function: "sha1".into(),
            tables: Vec::new(),
            schema_file: String::new(),
            files: Vec::new(),
            stored_bytes: 0,
            raw_bytes: 0,
            warnings: Vec::new(),
            verification: None,
            history: Vec::new(),
            phases: Vec::new(),
        }
    }

    /// Dates the end of the backup (`t0`: when it started) and sums the
    /// sizes of its files.
    pub fn finish(mut self, t0: std::time::Instant) -> Manifest {
        let now = now_unix();
        self.finished_at = utc(now);
        self.finished_unix = now;
        self.duration_secs = t0.elapsed().as_secs_f64();
        self.stored_bytes = self.files.iter().map(|f| f.size).sum();
        self.raw_bytes = self.files.iter().map(|f| f.raw_size).sum();
        self
    }

    /// The file entry for `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// True when the latest verification passed.
    pub fn verified(&self) -> bool {
        self.verification
            .as_ref()
            .is_some_and(|v| v.status == Verdict::Passed)
    }
}

/// Now, seconds since the epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(secs: u64) -> String {
    let (y, m, d, h, mi, s) = oxkit::report::utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// A set id: `YYYYMMDDTHHMMSSZ`.
pub fn id_for(secs: u64) -> String {
    let (y, m, d, h, mi, s) = oxkit::report::utc_parts(secs);
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums write the words older manifests hold, and read them back.
    #[test]
    fn words_in_the_manifest_are_unchanged() {
        for (m, word) in [(Method::Logical, "logical"), (Method::Physical, "physical")] {
            assert_eq!(
                serde_json::to_string(&m).expect("json"),
                format!("\"{word}\"")
            );
            assert_eq!(
                serde_json::from_str::<Method>(&format!("\"{word}\"")).expect("parse"),
                m
            );
            assert_eq!(m.to_string(), word);
        }
        for (v, word) in [(Verdict::Passed, "passed"), (Verdict::Failed, "failed")] {
            assert_eq!(
                serde_json::to_string(&v).expect("json"),
                format!("\"{word}\"")
            );
            assert_eq!(
                serde_json::from_str::<Verdict>(&format!("\"{word}\"")).expect("parse"),
                v
            );
            assert_eq!(v.to_string(), word);
        }
        let v: Verification = serde_json::from_str(
            r#"{"status":"passed","at":"2020-01-01 00:00:00","at_unix":1,"restore_secs":1.0,"duration_secs":2.0,"message":"ok"}"#,
        )
        .expect("an older verification loads");
        assert_eq!(v.status, Verdict::Passed);
    }
}
