//! What the server is: flavour, version and the capabilities tools need.
//!
//! [`Server::detect`] reads identity once per connection target; tools ask
//! the resulting value (`server.caps.backup_stage`, `server.replica_status_sql()`)
//! instead of comparing version strings themselves. Adding support for a new
//! flavour or version means changing this file only.

use crate::conn::{Conn, DbError, ErrorKind};
use mysql::prelude::Queryable;
use serde::Serialize;

/// The server product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Flavor {
    /// Oracle MySQL.
    MySQL,
    /// Percona Server for MySQL.
    Percona,
    /// MariaDB.
    MariaDB,
}

impl Flavor {
    /// The flavour `@@version` and `@@version_comment` name.
    pub fn of(version: &str, comment: &str) -> Flavor {
        if version.contains("MariaDB") || comment.contains("MariaDB") {
            Flavor::MariaDB
        } else if comment.contains("Percona Server") || comment.contains("Percona XtraDB") {
            Flavor::Percona
        } else {
            Flavor::MySQL
        }
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavor::MySQL => "MySQL",
            Flavor::Percona => "Percona Server",
            Flavor::MariaDB => "MariaDB",
        })
    }
}

/// A `major.minor.patch` version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    /// Major.
    pub major: u16,
    /// Minor.
    pub minor: u16,
    /// Patch.
    pub patch: u16,
}

impl Version {
    /// Builds a version.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Parses the leading `X.Y.Z` of `@@version` (`10.11.6-MariaDB-0+deb12u1-log`,
    /// `8.0.36-28`, and the old `5.5.5-10.4.2-MariaDB` replication prefix).
    pub fn parse(s: &str) -> Option<Version> {
        let s = s.strip_prefix("5.5.5-").unwrap_or(s);
        let mut nums = s
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u16>().ok());
        let v = Version {
            major: nums.next()??,
            minor: nums.next()??,
            patch: nums.next().flatten().unwrap_or(0),
        };
        Some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// How GTIDs look on this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GtidStyle {
    /// MariaDB `domain-server-sequence` lists.
    MariaDB,
    /// MySQL `uuid:interval` sets.
    MySQL,
}

/// What a server can do, decided once from flavour and version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `SHOW REPLICA STATUS` / `START REPLICA` spelling exists.
    pub replica_keyword: bool,
    /// GTID format.
    pub gtid_style: GtidStyle,
    /// `ALGORITHM=INSTANT` for adding a column as the last column.
    pub instant_add_column: bool,
    /// `ALGORITHM=INSTANT` for adding/dropping/reordering columns anywhere.
    pub instant_any_column: bool,
    /// `ALGORITHM=NOCOPY` exists (MariaDB 10.3+).
    pub nocopy_algorithm: bool,
    /// MariaDB `BACKUP STAGE`.
    pub backup_stage: bool,
    /// MySQL 8 `LOCK INSTANCE FOR BACKUP`.
    pub lock_instance_for_backup: bool,
    /// Percona Server `LOCK TABLES FOR BACKUP`.
    pub lock_tables_for_backup: bool,
    /// Waiting for a GTID position: `MASTER_GTID_WAIT` (MariaDB) or
    /// `WAIT_FOR_EXECUTED_GTID_SET` (MySQL).
    pub gtid_wait: bool,
    /// MariaDB multi-source `SHOW ALL SLAVES STATUS`.
    pub all_slaves_status: bool,
    /// The 10.8+ redo log format (`ib_logfile0` only, no fixed-size files).
    pub mariadb_108_redo: bool,
    /// Locking reads can `SKIP LOCKED` (MariaDB 10.6, MySQL 8.0.1).
    pub skip_locked: bool,
    /// `SHOW BINARY LOG STATUS` replaces `SHOW MASTER STATUS` (MySQL 8.2+;
    /// 8.4 and 9.x no longer have the old spelling).
    pub binary_log_status: bool,
    /// `SHA1()` and `MD5()` exist (MySQL 9.6 removed them).
    pub legacy_hashes: bool,
    /// A metadata lock can be asked for without queueing for it
    /// (`lock_wait_timeout = 0`, `NOWAIT`: MariaDB 10.3+); MySQL's
    /// `lock_wait_timeout` is at least 1 second.
    pub mdl_nowait: bool,
}

/// Oldest versions the tools are written for.
pub const MIN_MYSQL: Version = Version::new(5, 7, 0);
/// Oldest MariaDB the tools are written for.
pub const MIN_MARIADB: Version = Version::new(10, 3, 0);

/// Identity of one server, read once after connecting.
#[derive(Clone, Debug, Serialize)]
pub struct Server {
    /// Product.
    pub flavor: Flavor,
    /// Numeric version.
    pub version: Version,
    /// `@@version` as the server reports it.
    pub version_string: String,
    /// `@@version_comment`.
    pub version_comment: String,
    /// `@@hostname`.
    pub hostname: String,
    /// `@@port`.
    pub port: u16,
    /// `@@server_id`.
    pub server_id: u32,
    /// `@@read_only`.
    pub read_only: bool,
    /// `@@log_bin`.
    pub log_bin: bool,
    /// `@@binlog_format`.
    pub binlog_format: String,
    /// What it can do.
    pub caps: Capabilities,
}

impl Capabilities {
    /// Derives capabilities from flavour and version.
    pub fn for_server(flavor: Flavor, v: Version) -> Capabilities {
        let maria = flavor == Flavor::MariaDB;
        let at_least = |a, b, c| v >= Version::new(a, b, c);
        Capabilities {
            replica_keyword: if maria {
                at_least(10, 5, 1)
            } else {
                at_least(8, 0, 22)
            },
            gtid_style: if maria {
                GtidStyle::MariaDB
            } else {
                GtidStyle::MySQL
            },
            instant_add_column: if maria {
                at_least(10, 3, 2)
            } else {
                at_least(8, 0, 12)
            },
            instant_any_column: if maria {
                at_least(10, 4, 0)
            } else {
                at_least(8, 0, 29)
            },
            nocopy_algorithm: maria && at_least(10, 3, 2),
            backup_stage: maria && at_least(10, 4, 1),
            lock_instance_for_backup: !maria && at_least(8, 0, 0),
            lock_tables_for_backup: flavor == Flavor::Percona,
            gtid_wait: true,
            all_slaves_status: maria,
            mariadb_108_redo: maria && at_least(10, 8, 1),
            binary_log_status: !maria && at_least(8, 2, 0),
            legacy_hashes: maria || !at_least(9, 6, 0),
            mdl_nowait: maria && at_least(10, 3, 0),
            skip_locked: if maria {
                at_least(10, 6, 0)
            } else {
                at_least(8, 0, 1)
            },
        }
    }
}

impl Server {
    /// Reads identity from a connection. Fails with
    /// [`ErrorKind::Unsupported`] on servers older than the tools support.
    pub fn detect(conn: &mut Conn) -> Result<Server, DbError> {
        type Row = (
            String,
            Option<String>,
            Option<String>,
            u16,
            u32,
            i64,
            i64,
            Option<String>,
        );
        let row: Option<Row> = conn.row(
            "reading server identity",
            "SELECT @@version, @@version_comment, @@hostname, @@port, @@server_id, \
             @@read_only, @@log_bin, @@binlog_format",
        )?;
        let (version_string, comment, hostname, port, server_id, read_only, log_bin, binlog_format) =
            row.ok_or_else(|| unsupported(conn, "no answer to SELECT @@version".into()))?;
        let comment = comment.unwrap_or_default();
        let flavor = Flavor::of(&version_string, &comment);
        let version = Version::parse(&version_string)
            .ok_or_else(|| unsupported(conn, format!("cannot parse version {version_string:?}")))?;
        let min = if flavor == Flavor::MariaDB {
            MIN_MARIADB
        } else {
            MIN_MYSQL
        };
        if version < min {
            return Err(unsupported(
                conn,
                format!("{flavor} {version} is older than {min}, the oldest supported"),
            ));
        }
        Ok(Server {
            flavor,
            version,
            version_string,
            version_comment: comment,
            hostname: hostname.unwrap_or_default(),
            port,
            server_id,
            read_only: read_only != 0,
            log_bin: log_bin != 0,
            binlog_format: binlog_format.unwrap_or_default(),
            caps: Capabilities::for_server(flavor, version),
        })
    }

    /// A `Server` from `@@version` and `@@version_comment` alone (a saved
    /// sample, say): flavour, version and capabilities, so the statement
    /// spellings are right; no minimum version is enforced and the other
    /// fields are empty.
    pub fn from_identity(version: &str, comment: &str) -> Server {
        let flavor = Flavor::of(version, comment);
        let v = Version::parse(version).unwrap_or(Version::new(0, 0, 0));
        Server {
            flavor,
            version: v,
            version_string: version.to_string(),
            version_comment: comment.to_string(),
            hostname: String::new(),
            port: 0,
            server_id: 0,
            read_only: false,
            log_bin: false,
            binlog_format: String::new(),
            caps: Capabilities::for_server(flavor, v),
        }
    }

    /// `MariaDB 10.11.6` / `MySQL 8.0.36`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.flavor, self.version)
    }

    /// The statement that lists this server's replication channels.
    pub fn replica_status_sql(&self) -> &'static str {
        if self.caps.all_slaves_status {
            "SHOW ALL SLAVES STATUS"
        } else if self.caps.replica_keyword {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        }
    }

    /// The statement that shows the current binary log file and position
    /// (columns `File`, `Position`, ...).
    pub fn binlog_status_sql(&self) -> &'static str {
        if self.caps.binary_log_status {
            "SHOW BINARY LOG STATUS"
        } else {
            "SHOW MASTER STATUS"
        }
    }

    /// The statement that lists replicas registered with this source.
    pub fn replica_hosts_sql(&self) -> &'static str {
        match (self.flavor, self.caps.replica_keyword) {
            (Flavor::MariaDB, true) => "SHOW REPLICA HOSTS",
            (_, true) => "SHOW REPLICAS",
            _ => "SHOW SLAVE HOSTS",
        }
    }

    /// `START REPLICA` / `START SLAVE`.
    pub fn start_replica_sql(&self) -> &'static str {
        if self.caps.replica_keyword {
            "START REPLICA"
        } else {
            "START SLAVE"
        }
    }

    /// `STOP REPLICA` / `STOP SLAVE`.
    pub fn stop_replica_sql(&self) -> &'static str {
        if self.caps.replica_keyword {
            "STOP REPLICA"
        } else {
            "STOP SLAVE"
        }
    }

    /// The expression giving the set of transactions this server has
    /// applied or written (its GTID position).
    pub fn gtid_executed_sql(&self) -> &'static str {
        match self.caps.gtid_style {
            GtidStyle::MariaDB => "SELECT @@GLOBAL.gtid_current_pos",
            GtidStyle::MySQL => "SELECT @@GLOBAL.gtid_executed",
        }
    }

    /// The current GTID position (MariaDB `gtid_current_pos`, MySQL
    /// `gtid_executed`), whitespace removed.
    pub fn gtid_position(&self, conn: &mut Conn) -> Result<String, DbError> {
        let pos: Option<Option<String>> =
            conn.row("reading GTID position", self.gtid_executed_sql())?;
        Ok(pos
            .flatten()
            .unwrap_or_default()
            .split_whitespace()
            .collect())
    }

    /// Blocks until this server (a replica) has applied `gtid`, or `timeout`
    /// passes. Returns false on timeout.
    pub fn wait_for_gtid(
        &self,
        conn: &mut Conn,
        gtid: &str,
        timeout: std::time::Duration,
    ) -> Result<bool, DbError> {
        let secs = timeout.as_secs_f64();
        let sql = match self.caps.gtid_style {
            GtidStyle::MariaDB => "SELECT MASTER_GTID_WAIT(?, ?)",
            GtidStyle::MySQL => "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)",
        };
        let label = conn.label().to_string();
        let r: Option<Option<i64>> = conn.exec_first(sql, (gtid, secs)).map_err(|e| {
            crate::conn::db_error(format_args!("waiting for GTID {gtid} on {label}"), &e)
        })?;
        Ok(r.flatten() == Some(0))
    }
}

fn unsupported(conn: &Conn, why: String) -> DbError {
    DbError {
        kind: ErrorKind::Unsupported,
        code: None,
        message: format!("{}: unsupported server: {why}", conn.label()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            Version::parse("10.11.6-MariaDB-0+deb12u1-log"),
            Some(Version::new(10, 11, 6))
        );
        assert_eq!(
            Version::parse("5.5.5-10.4.2-MariaDB"),
            Some(Version::new(10, 4, 2))
        );
        assert_eq!(Version::parse("8.0.36-28"), Some(Version::new(8, 0, 36)));
        assert_eq!(Version::parse("8.4"), Some(Version::new(8, 4, 0)));
        assert_eq!(Version::parse("garbage"), None);
        assert!(Version::new(10, 11, 0) > Version::new(10, 5, 99));
    }

    #[test]
    fn flavours_and_identity() {
        assert_eq!(Flavor::of("10.11.6-MariaDB-log", ""), Flavor::MariaDB);
        assert_eq!(
            Flavor::of("8.0.36-28", "Percona Server (GPL), Release 28"),
            Flavor::Percona
        );
        assert_eq!(Flavor::of("8.4.0", "MySQL Community Server"), Flavor::MySQL);
        assert_eq!(
            Server::from_identity("8.4.0", "MySQL Community Server").replica_status_sql(),
            "SHOW REPLICA STATUS"
        );
    }

    #[test]
    fn capabilities_by_flavour() {
        let m = Capabilities::for_server(Flavor::MariaDB, Version::new(10, 11, 6));
        assert!(
            m.replica_keyword
                && m.backup_stage
                && m.mariadb_108_redo
                && !m.lock_instance_for_backup
        );
        assert_eq!(m.gtid_style, GtidStyle::MariaDB);
        let old = Capabilities::for_server(Flavor::MariaDB, Version::new(10, 3, 30));
        assert!(!old.replica_keyword && !old.backup_stage && old.instant_add_column);
        let my = Capabilities::for_server(Flavor::MySQL, Version::new(8, 0, 36));
        assert!(my.replica_keyword && my.lock_instance_for_backup && !my.backup_stage);
        let my57 = Capabilities::for_server(Flavor::Percona, Version::new(5, 7, 44));
        assert!(!my57.replica_keyword && my57.lock_tables_for_backup && !my57.instant_add_column);
    }
}
