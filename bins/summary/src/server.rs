//! The server half of the report, computed from [`ServerSamples`] alone.
//!
//! Column names are looked up by name, with the MySQL and MariaDB
//! spellings (`Master_Host`/`Source_Host`), so one analysis serves every
//! flavour. A query that failed (usually a missing privilege) leaves its
//! section's figures empty and its error in the report's `errors`.

use crate::samples::{QueryResult, ServerSamples};
use oxkit::server::{Flavor, Server};
use serde::Serialize;
use std::collections::BTreeMap;

/// Identity and basic state.
#[derive(Clone, Debug, Serialize)]
pub struct Info {
    /// The target as connected to (`user@host:port`, no password).
    pub target: String,
    /// `MySQL`, `Percona Server` or `MariaDB`.
    pub flavor: String,
    /// `VERSION()`.
    pub version: String,
    /// `@@version_comment`.
    pub version_comment: Option<String>,
    /// `@@hostname`.
    pub hostname: Option<String>,
    /// `@@port`.
    pub port: Option<u16>,
    /// `@@server_id`.
    pub server_id: Option<u64>,
    /// `CURRENT_USER()`.
    pub current_user: Option<String>,
    /// Seconds since the server started.
    pub uptime_seconds: Option<u64>,
    /// `@@datadir`.
    pub datadir: Option<String>,
    /// `@@read_only`.
    pub read_only: Option<bool>,
    /// `@@character_set_server`.
    pub character_set_server: Option<String>,
    /// `@@max_connections`.
    pub max_connections: Option<u64>,
    /// `Threads_connected`.
    pub threads_connected: Option<u64>,
    /// `Threads_running`.
    pub threads_running: Option<u64>,
    /// `Max_used_connections`.
    pub max_used_connections: Option<u64>,
}

/// One replication channel of this server as a replica.
#[derive(Clone, Debug, Serialize)]
pub struct Channel {
    /// Channel or connection name (empty for the default one).
    pub name: String,
    /// Source host.
    pub source_host: Option<String>,
    /// Source port.
    pub source_port: Option<u16>,
    /// I/O thread: `Yes`, `No` or `Connecting`.
    pub io_running: Option<String>,
    /// SQL thread: `Yes` or `No`.
    pub sql_running: Option<String>,
    /// I/O thread state.
    pub io_state: Option<String>,
    /// SQL thread state.
    pub sql_state: Option<String>,
    /// Seconds behind the source; null when unknown (a stopped thread).
    pub seconds_behind: Option<u64>,
    /// Replicating by GTID.
    pub using_gtid: Option<String>,
    /// GTIDs received.
    pub gtid_received: Option<String>,
    /// GTIDs applied.
    pub gtid_applied: Option<String>,
    /// Source binary log being executed.
    pub source_log_file: Option<String>,
    /// Position executed in it.
    pub exec_source_log_pos: Option<u64>,
    /// Last I/O error.
    pub last_io_error: Option<String>,
    /// Last SQL error.
    pub last_sql_error: Option<String>,
}

/// A replica connected to this server.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectedReplica {
    /// Its `server_id`.
    pub server_id: Option<u64>,
    /// Reported host.
    pub host: Option<String>,
    /// Reported port.
    pub port: Option<u16>,
}

/// Replication role and state.
#[derive(Clone, Debug, Serialize)]
pub struct Replication {
    /// `source`, `replica`, `source and replica`, or `standalone`.
    pub role: String,
    /// GTID position (MariaDB `gtid_current_pos`, MySQL `gtid_executed`).
    pub gtid_position: Option<String>,
    /// Current binary log file.
    pub binlog_file: Option<String>,
    /// Position in it.
    pub binlog_position: Option<u64>,
    /// Channels, when this server is a replica.
    pub channels: Vec<Channel>,
    /// Replicas registered with this server (`SHOW SLAVE HOSTS`).
    pub replicas: Vec<ConnectedReplica>,
    /// Binlog dump threads (connected replicas, registered or not).
    pub binlog_dump_threads: usize,
}

/// One status counter.
#[derive(Clone, Debug, Serialize)]
pub struct Counter {
    /// Status variable.
    pub name: String,
    /// Its value at the end of the interval.
    pub value: u64,
    /// Rate per second over the interval, or since start-up.
    pub per_second: f64,
}

/// What status counter rates are measured over.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub enum Basis {
    /// Two readings `interval_seconds` apart.
    #[serde(rename = "interval")]
    Interval,
    /// Since the server started (`--sleep 0`).
    #[serde(rename = "since start")]
    SinceStart,
}

/// Status counter rates.
#[derive(Clone, Debug, Serialize)]
pub struct StatusRates {
    /// `interval` (two readings `interval_seconds` apart) or `since start`.
    pub basis: Basis,
    /// Seconds between the two readings (0 for `since start`).
    pub interval_seconds: f64,
    /// The counters.
    pub counters: Vec<Counter>,
}

/// A value and how many threads have it.
#[derive(Clone, Debug, Serialize)]
pub struct Count {
    /// User, host, db, command or state.
    pub value: String,
    /// Threads.
    pub count: usize,
}

/// An open InnoDB transaction.
#[derive(Clone, Debug, Serialize)]
pub struct Transaction {
    /// Transaction id.
    pub trx_id: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Seconds since it started.
    pub age_seconds: Option<u64>,
    /// Processlist id.
    pub thread_id: Option<u64>,
    /// User.
    pub user: Option<String>,
    /// Client host.
    pub host: Option<String>,
    /// Rows locked.
    pub rows_locked: Option<u64>,
    /// Rows modified.
    pub rows_modified: Option<u64>,
    /// Running statement, first 120 characters.
    pub query: Option<String>,
}

/// Processlist summary.
#[derive(Clone, Debug, Serialize)]
pub struct Processlist {
    /// Threads (this session excluded).
    pub total: usize,
    /// Threads not sleeping.
    pub active: usize,
    /// Threads per user.
    pub by_user: Vec<Count>,
    /// Threads per client host (port removed).
    pub by_host: Vec<Count>,
    /// Threads per default database.
    pub by_db: Vec<Count>,
    /// Threads per command.
    pub by_command: Vec<Count>,
    /// Threads per state.
    pub by_state: Vec<Count>,
    /// Oldest open transactions first.
    pub longest_transactions: Vec<Transaction>,
}

/// One schema.
#[derive(Clone, Debug, Serialize)]
pub struct Schema {
    /// Name.
    pub name: String,
    /// Base tables.
    pub tables: u64,
    /// Rows (information_schema's estimate for InnoDB).
    pub rows: u64,
    /// Data size.
    pub data_bytes: u64,
    /// Index size.
    pub index_bytes: u64,
    /// Allocated but free.
    pub free_bytes: u64,
}

/// One storage engine.
#[derive(Clone, Debug, Serialize)]
pub struct Engine {
    /// Name.
    pub name: String,
    /// `YES` or `DEFAULT`.
    pub support: String,
    /// Transactional.
    pub transactions: Option<bool>,
    /// User tables using it.
    pub tables: u64,
    /// Their data and index size.
    pub bytes: u64,
}

/// InnoDB.
#[derive(Clone, Debug, Serialize)]
pub struct Innodb {
    /// `innodb_buffer_pool_size`.
    pub buffer_pool_bytes: Option<u64>,
    /// Percent of buffer pool pages in use.
    pub buffer_pool_fill_percent: Option<f64>,
    /// Percent of buffer pool pages dirty.
    pub buffer_pool_dirty_percent: Option<f64>,
    /// Percent of page reads served from memory (interval or since start).
    pub buffer_pool_hit_percent: Option<f64>,
    /// Redo log capacity.
    pub redo_capacity_bytes: Option<u64>,
    /// Redo written since the last checkpoint.
    pub checkpoint_age_bytes: Option<u64>,
    /// Checkpoint age as a percent of the redo capacity.
    pub checkpoint_age_percent: Option<f64>,
    /// Undo history not yet purged.
    pub history_list_length: Option<u64>,
    /// Deadlocks since start-up.
    pub deadlocks: Option<u64>,
    /// Row lock waits since start-up.
    pub row_lock_waits: Option<u64>,
    /// `innodb_flush_log_at_trx_commit`.
    pub flush_log_at_trx_commit: Option<String>,
    /// `innodb_flush_method`.
    pub flush_method: Option<String>,
    /// `innodb_file_per_table`.
    pub file_per_table: Option<String>,
    /// `innodb_io_capacity`.
    pub io_capacity: Option<u64>,
}

/// The binary log.
#[derive(Clone, Debug, Serialize)]
pub struct Binlog {
    /// `log_bin`.
    pub enabled: bool,
    /// `binlog_format`.
    pub format: Option<String>,
    /// Binary log files on disk.
    pub files: Option<usize>,
    /// Their total size.
    pub total_bytes: Option<u64>,
    /// How long binary logs are kept, seconds (0: forever).
    pub retention_seconds: Option<u64>,
    /// `sync_binlog`.
    pub sync_binlog: Option<String>,
    /// `max_binlog_size`.
    pub max_binlog_size: Option<u64>,
    /// `binlog_row_image`.
    pub row_image: Option<String>,
    /// `log_slave_updates` / `log_replica_updates`.
    pub log_replica_updates: Option<String>,
    /// MySQL `gtid_mode`; MariaDB `gtid_strict_mode`.
    pub gtid_mode: Option<String>,
}

/// What matters when taking or restoring a backup.
#[derive(Clone, Debug, Serialize)]
pub struct Backup {
    /// How a hot backup can block writes on this server.
    pub lock_method: String,
    /// Point-in-time recovery possible (binary log on).
    pub pitr_possible: bool,
    /// User tables in engines without transactions (copied under a lock).
    pub non_transactional_tables: u64,
    /// Those engines.
    pub non_transactional_engines: Vec<String>,
    /// Threads waiting for a backup or global read lock now.
    pub threads_waiting_for_locks: usize,
}

/// One plugin loaded from a library.
#[derive(Clone, Debug, Serialize)]
pub struct Plugin {
    /// Name.
    pub name: String,
    /// Status.
    pub status: Option<String>,
    /// Type.
    pub plugin_type: Option<String>,
    /// Shared library.
    pub library: Option<String>,
}

/// A server variable.
#[derive(Clone, Debug, Serialize)]
pub struct Setting {
    /// Variable name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// Encryption at rest.
#[derive(Clone, Debug, Serialize)]
pub struct Encryption {
    /// The encryption variables this server has, with their values.
    pub settings: Vec<Setting>,
    /// Key management / keyring plugins loaded.
    pub key_plugins: Vec<String>,
    /// Tables created with an encryption option.
    pub encrypted_tables: Option<u64>,
    /// Encrypted InnoDB tablespaces (MariaDB).
    pub encrypted_tablespaces: Option<u64>,
}

/// Accounts worth a look.
#[derive(Clone, Debug, Serialize)]
pub struct Accounts {
    /// Accounts read (roles and locked accounts excluded).
    pub total: usize,
    /// `'user'@'host'` of accounts that log in without a password.
    pub without_password: Vec<String>,
    /// `'user'@'host'` of accounts whose host contains `%`.
    pub wildcard_host: Vec<String>,
}

/// The server half; a section not asked for is absent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerReport {
    /// `server` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Info>,
    /// `replication` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<Replication>,
    /// `processlist` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processlist: Option<Processlist>,
    /// `status` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusRates>,
    /// `plugins` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Vec<Plugin>>,
    /// `schemas` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schemas: Option<Vec<Schema>>,
    /// `engines` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engines: Option<Vec<Engine>>,
    /// `innodb` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub innodb: Option<Innodb>,
    /// `accounts` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Accounts>,
    /// `encryption` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    /// `binlog` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binlog: Option<Binlog>,
    /// `backup` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<Backup>,
}

/// Status counters shown with their rates, in this order.
pub const COUNTERS: &[&str] = &[
    "Questions",
    "Com_select",
    "Com_insert",
    "Com_update",
    "Com_delete",
    "Com_replace",
    "Com_commit",
    "Com_rollback",
    "Connections",
    "Aborted_clients",
    "Aborted_connects",
    "Bytes_received",
    "Bytes_sent",
    "Threads_created",
    "Slow_queries",
    "Select_full_join",
    "Select_scan",
    "Sort_merge_passes",
    "Created_tmp_tables",
    "Created_tmp_disk_tables",
    "Table_locks_waited",
    "Handler_read_rnd_next",
    "Innodb_rows_read",
    "Innodb_rows_inserted",
    "Innodb_rows_updated",
    "Innodb_rows_deleted",
    "Innodb_buffer_pool_read_requests",
    "Innodb_buffer_pool_reads",
    "Innodb_data_reads",
    "Innodb_data_writes",
    "Innodb_os_log_written",
    "Innodb_row_lock_waits",
];

/// Everything the analysis reads, looked up once.
pub struct Inputs<'a> {
    /// Raw samples.
    pub s: &'a ServerSamples,
    /// Global variables, names lower-cased.
    pub vars: BTreeMap<String, String>,
    /// Global status at the first reading, names lower-cased.
    pub status: BTreeMap<String, String>,
    /// Global status after the interval.
    pub status_after: Option<BTreeMap<String, String>>,
    empty: QueryResult,
}

impl<'a> Inputs<'a> {
    /// Looks the samples up.
    pub fn new(s: &'a ServerSamples) -> Inputs<'a> {
        let pairs = |n: &str| s.queries.get(n).map(QueryResult::pairs).unwrap_or_default();
        Inputs {
            s,
            vars: pairs("variables"),
            status: pairs("status"),
            status_after: s
                .status_after
                .as_ref()
                .filter(|q| q.error.is_none())
                .map(QueryResult::pairs),
            empty: QueryResult::default(),
        }
    }

    /// A query's result (empty when it was not run).
    pub fn q(&self, name: &str) -> &QueryResult {
        self.s.queries.get(name).unwrap_or(&self.empty)
    }

    /// A variable's value.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A variable as a number.
    pub fn var_num(&self, name: &str) -> Option<u64> {
        num(self.var(name)?)
    }

    /// A variable that is ON/OFF (or 1/0).
    pub fn var_on(&self, name: &str) -> Option<bool> {
        self.var(name).map(is_on)
    }

    /// Latest reading of a status counter.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let key = name.to_ascii_lowercase();
        self.status_after
            .as_ref()
            .and_then(|a| a.get(&key))
            .or_else(|| self.status.get(&key))
            .and_then(|v| num(v))
    }

    /// First reading of a status counter.
    pub fn stat_first(&self, name: &str) -> Option<u64> {
        self.status
            .get(&name.to_ascii_lowercase())
            .and_then(|v| num(v))
    }

    /// Identity column.
    pub fn identity(&self, col: &str) -> Option<&str> {
        self.q("identity").get(0, col)
    }

    /// Flavour.
    pub fn flavor(&self) -> Flavor {
        Server::from_identity(
            self.identity("version").unwrap_or_default(),
            self.identity("version_comment").unwrap_or_default(),
        )
        .flavor
    }

    /// The interval between the two status readings, when there were two.
    pub fn interval(&self) -> Option<f64> {
        (self.status_after.is_some() && self.s.interval > 0.0).then_some(self.s.interval)
    }
}

fn num(v: &str) -> Option<u64> {
    let v = v.trim();
    v.parse::<u64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
    })
}

fn is_on(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_uppercase().as_str(),
        "ON" | "1" | "YES" | "TRUE" | "FORCE"
    )
}

fn opt(v: Option<&str>) -> Option<String> {
    v.map(str::to_string).filter(|s| !s.is_empty())
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Cell by any of several column names.
fn cell<'q>(q: &'q QueryResult, row: usize, names: &[&str]) -> Option<&'q str> {
    names.iter().find_map(|n| q.get(row, n))
}

/// The `server` section.
pub fn info(i: &Inputs) -> Info {
    Info {
        target: i.s.target.clone(),
        flavor: i.flavor().to_string(),
        version: i.identity("version").unwrap_or_default().to_string(),
        version_comment: opt(i.identity("version_comment")),
        hostname: opt(i.identity("hostname")),
        port: i.identity("port").and_then(|p| p.parse().ok()),
        server_id: i.identity("server_id").and_then(num),
        current_user: opt(i.identity("login")),
        uptime_seconds: i.stat("Uptime"),
        datadir: opt(i.var("datadir")),
        read_only: i.var_on("read_only"),
        character_set_server: opt(i.var("character_set_server")),
        max_connections: i.var_num("max_connections"),
        threads_connected: i.stat_first("Threads_connected"),
        threads_running: i.stat_first("Threads_running"),
        max_used_connections: i.stat("Max_used_connections"),
    }
}

/// The `replication` section.
pub fn replication(i: &Inputs) -> Replication {
    let rs = i.q("replica_status");
    let channels: Vec<Channel> = (0..rs.rows.len())
        .map(|r| {
            let c = |names: &[&str]| opt(cell(rs, r, names));
            let n = |names: &[&str]| cell(rs, r, names).and_then(num);
            let clean = |v: Option<String>| {
                v.map(|g| g.split_whitespace().collect::<String>())
                    .filter(|g| !g.is_empty())
            };
            Channel {
                name: c(&["Connection_name", "Channel_Name"]).unwrap_or_default(),
                source_host: c(&["Master_Host", "Source_Host"]),
                source_port: n(&["Master_Port", "Source_Port"]).map(|p| p as u16),
                io_running: c(&["Slave_IO_Running", "Replica_IO_Running"]),
                sql_running: c(&["Slave_SQL_Running", "Replica_SQL_Running"]),
                io_state: c(&["Slave_IO_State", "Replica_IO_State"]),
                sql_state: c(&["Slave_SQL_Running_State", "Replica_SQL_Running_State"]),
                seconds_behind: n(&["Seconds_Behind_Master", "Seconds_Behind_Source"]),
                using_gtid: c(&["Using_Gtid", "Auto_Position"]),
                gtid_received: clean(c(&["Gtid_IO_Pos", "Retrieved_Gtid_Set"])),
                gtid_applied: clean(c(&["Gtid_Slave_Pos", "Executed_Gtid_Set"])),
                source_log_file: c(&["Relay_Master_Log_File", "Relay_Source_Log_File"]),
                exec_source_log_pos: n(&["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"]),
                last_io_error: c(&["Last_IO_Error"]),
                last_sql_error: c(&["Last_SQL_Error"]),
            }
        })
        .collect();
    let hosts = i.q("replica_hosts");
    let replicas: Vec<ConnectedReplica> = (0..hosts.rows.len())
        .map(|r| ConnectedReplica {
            server_id: cell(hosts, r, &["Server_id"]).and_then(num),
            host: opt(cell(hosts, r, &["Host"])),
            port: cell(hosts, r, &["Port"]).and_then(|p| p.parse().ok()),
        })
        .collect();
    let pl = i.q("processlist");
    let dumps = (0..pl.rows.len())
        .filter(|&r| {
            pl.get(r, "COMMAND")
                .is_some_and(|c| c.starts_with("Binlog Dump"))
        })
        .count();
    let is_replica = !channels.is_empty();
    let is_source = !replicas.is_empty() || dumps > 0;
    let role = match (is_source, is_replica) {
        (true, true) => "source and replica",
        (true, false) => "source",
        (false, true) => "replica",
        (false, false) => "standalone",
    };
    let gtid = match i.flavor() {
        Flavor::MariaDB => i.var("gtid_current_pos"),
        _ => i.var("gtid_executed"),
    };
    let ms = i.q("master_status");
    Replication {
        role: role.to_string(),
        gtid_position: gtid
            .map(|g| g.split_whitespace().collect::<String>())
            .filter(|g| !g.is_empty()),
        binlog_file: opt(ms.get(0, "File")),
        binlog_position: ms.get(0, "Position").and_then(num),
        channels,
        replicas,
        binlog_dump_threads: dumps,
    }
}

/// The `status` section.
pub fn status(i: &Inputs) -> StatusRates {
    let interval = i.interval();
    let uptime = i.stat_first("Uptime").unwrap_or(0).max(1) as f64;
    let counters = COUNTERS
        .iter()
        .filter_map(|name| {
            let first = i.stat_first(name)?;
            let last = i.stat(name)?;
            let per_second = match interval {
                Some(t) => last.saturating_sub(first) as f64 / t,
                None => first as f64 / uptime,
            };
            Some(Counter {
                name: name.to_string(),
                value: last,
                per_second: round2(per_second),
            })
        })
        .collect();
    StatusRates {
        basis: if interval.is_some() {
            Basis::Interval
        } else {
            Basis::SinceStart
        },
        interval_seconds: interval.map(round2).unwrap_or(0.0),
        counters,
    }
}

fn counts(values: impl Iterator<Item = String>) -> Vec<Count> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for v in values {
        *m.entry(v).or_default() += 1;
    }
    let mut v: Vec<Count> = m
        .into_iter()
        .map(|(value, count)| Count { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

/// The `processlist` section.
pub fn processlist(i: &Inputs) -> Processlist {
    let pl = i.q("processlist");
    let n = pl.rows.len();
    let col = |c: &'static str| (0..n).map(move |r| pl.get(r, c).unwrap_or("").to_string());
    let host = col("HOST").map(|h| match h.rsplit_once(':') {
        Some((a, p)) if p.chars().all(|c| c.is_ascii_digit()) => a.to_string(),
        _ => h,
    });
    let active = col("COMMAND")
        .filter(|c| {
            c != "Sleep"
                && c != "Daemon"
                && !c.starts_with("Binlog Dump")
                && !c.starts_with("Slave_")
        })
        .count();
    let trx = i.q("innodb_trx");
    let longest_transactions = (0..trx.rows.len())
        .map(|r| Transaction {
            trx_id: opt(trx.get(r, "trx_id")),
            state: opt(trx.get(r, "trx_state")),
            age_seconds: trx.get(r, "age_seconds").and_then(num),
            thread_id: trx.get(r, "thread_id").and_then(num),
            user: opt(trx.get(r, "user")),
            host: opt(trx.get(r, "host")),
            rows_locked: trx.get(r, "rows_locked").and_then(num),
            rows_modified: trx.get(r, "rows_modified").and_then(num),
            query: opt(trx.get(r, "query")),
        })
        .collect();
    Processlist {
        total: n,
        active,
        by_user: counts(col("USER")),
        by_host: counts(host.map(|h| if h.is_empty() { "(none)".into() } else { h })),
        by_db: counts(col("DB").map(|d| if d.is_empty() { "NULL".into() } else { d })),
        by_command: counts(col("COMMAND")),
        by_state: counts(col("STATE").map(|s| if s.is_empty() { "(none)".into() } else { s })),
        longest_transactions,
    }
}

/// The `schemas` section.
pub fn schemas(i: &Inputs) -> Vec<Schema> {
    let q = i.q("schemas");
    let n = |r: usize, c: &str| q.get(r, c).and_then(num).unwrap_or(0);
    (0..q.rows.len())
        .map(|r| Schema {
            name: q.get(r, "schema_name").unwrap_or_default().to_string(),
            tables: n(r, "tables"),
            rows: n(r, "table_rows"),
            data_bytes: n(r, "data_bytes"),
            index_bytes: n(r, "index_bytes"),
            free_bytes: n(r, "free_bytes"),
        })
        .collect()
}

/// The `engines` section: engines the server supports, with their use.
pub fn engines(i: &Inputs) -> Vec<Engine> {
    let q = i.q("engines");
    let usage = i.q("engine_usage");
    let used: BTreeMap<String, (u64, u64)> = (0..usage.rows.len())
        .filter_map(|r| {
            Some((
                usage.get(r, "engine")?.to_ascii_lowercase(),
                (
                    usage.get(r, "tables").and_then(num).unwrap_or(0),
                    usage.get(r, "bytes").and_then(num).unwrap_or(0),
                ),
            ))
        })
        .collect();
    (0..q.rows.len())
        .filter_map(|r| {
            let support = q.get(r, "Support")?.to_string();
            if !(support.eq_ignore_ascii_case("YES") || support.eq_ignore_ascii_case("DEFAULT")) {
                return None;
            }
            let name = q.get(r, "Engine")?.to_string();
            let (tables, bytes) = used
                .get(&name.to_ascii_lowercase())
                .copied()
                .unwrap_or((0, 0));
            Some(Engine {
                transactions: q.get(r, "Transactions").map(is_on),
                name,
                support,
                tables,
                bytes,
            })
        })
        .collect()
}

/// The number after `label` in SHOW ENGINE INNODB STATUS text.
fn innodb_status_num(text: &str, label: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(label)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .find(|w| !w.is_empty())?
            .parse()
            .ok()
    })
}

/// The `innodb` section.
pub fn innodb(i: &Inputs) -> Innodb {
    let st = i.q("innodb_status").get(0, "Status").unwrap_or_default();
    let total = i.stat("Innodb_buffer_pool_pages_total");
    let free = i.stat("Innodb_buffer_pool_pages_free");
    let dirty = i.stat("Innodb_buffer_pool_pages_dirty");
    let fill = match (total, free) {
        (Some(t), Some(f)) if t > 0 => Some(round1(t.saturating_sub(f) as f64 * 100.0 / t as f64)),
        _ => None,
    };
    let dirty_pct = match (total, dirty) {
        (Some(t), Some(d)) if t > 0 => Some(round1(d as f64 * 100.0 / t as f64)),
        _ => None,
    };
    let (req, reads) = match i.interval() {
        Some(_) => (
            i.stat("Innodb_buffer_pool_read_requests")
                .zip(i.stat_first("Innodb_buffer_pool_read_requests"))
                .map(|(a, b)| a.saturating_sub(b)),
            i.stat("Innodb_buffer_pool_reads")
                .zip(i.stat_first("Innodb_buffer_pool_reads"))
                .map(|(a, b)| a.saturating_sub(b)),
        ),
        None => (
            i.stat_first("Innodb_buffer_pool_read_requests"),
            i.stat_first("Innodb_buffer_pool_reads"),
        ),
    };
    let hit = match (req, reads) {
        (Some(q), Some(r)) if q > 0 => Some(round2(100.0 - r as f64 * 100.0 / q as f64)),
        _ => None,
    };
    let capacity = i.var_num("innodb_redo_log_capacity").or_else(|| {
        let size = i.var_num("innodb_log_file_size")?;
        Some(size.saturating_mul(i.var_num("innodb_log_files_in_group").unwrap_or(1)))
    });
    let age = i.stat("Innodb_checkpoint_age").or_else(|| {
        let lsn = innodb_status_num(st, "Log sequence number")?;
        let ckpt = innodb_status_num(st, "Last checkpoint at")?;
        Some(lsn.saturating_sub(ckpt))
    });
    let age_pct = match (age, capacity) {
        (Some(a), Some(c)) if c > 0 => Some(round1(a as f64 * 100.0 / c as f64)),
        _ => None,
    };
    Innodb {
        buffer_pool_bytes: i.var_num("innodb_buffer_pool_size"),
        buffer_pool_fill_percent: fill,
        buffer_pool_dirty_percent: dirty_pct,
        buffer_pool_hit_percent: hit,
        redo_capacity_bytes: capacity,
        checkpoint_age_bytes: age,
        checkpoint_age_percent: age_pct,
        history_list_length: i
            .stat("Innodb_history_list_length")
            .or_else(|| innodb_status_num(st, "History list length")),
        deadlocks: i.stat("Innodb_deadlocks"),
        row_lock_waits: i.stat("Innodb_row_lock_waits"),
        flush_log_at_trx_commit: opt(i.var("innodb_flush_log_at_trx_commit")),
        flush_method: opt(i.var("innodb_flush_method")),
        file_per_table: opt(i.var("innodb_file_per_table")),
        io_capacity: i.var_num("innodb_io_capacity"),
    }
}

/// The `binlog` section.
pub fn binlog(i: &Inputs) -> Binlog {
    let enabled = i.var_on("log_bin").unwrap_or(false);
    let logs = i.q("binary_logs");
    let (files, total) = if enabled && logs.error.is_none() {
        let total = (0..logs.rows.len())
            .filter_map(|r| logs.get(r, "File_size").and_then(num))
            .sum();
        (Some(logs.rows.len()), Some(total))
    } else {
        (None, None)
    };
    let secs = i.var_num("binlog_expire_logs_seconds").filter(|s| *s > 0);
    let days = i
        .var("expire_logs_days")
        .and_then(|d| d.trim().parse::<f64>().ok())
        .map(|d| (d * 86400.0) as u64);
    let retention = secs.or(days).or_else(|| {
        i.var("binlog_expire_logs_seconds")
            .and_then(num)
            .filter(|_| days.is_none())
    });
    Binlog {
        enabled,
        format: opt(i.var("binlog_format")),
        files,
        total_bytes: total,
        retention_seconds: retention,
        sync_binlog: opt(i.var("sync_binlog")),
        max_binlog_size: i.var_num("max_binlog_size"),
        row_image: opt(i.var("binlog_row_image")),
        log_replica_updates: opt(i.var("log_replica_updates").or(i.var("log_slave_updates"))),
        gtid_mode: opt(i.var("gtid_mode").or(i.var("gtid_strict_mode"))),
    }
}

/// The `backup` section.
pub fn backup(i: &Inputs, engines: &[Engine]) -> Backup {
    let server = Server::from_identity(
        i.identity("version").unwrap_or_default(),
        i.identity("version_comment").unwrap_or_default(),
    );
    let lock_method = if server.caps.backup_stage {
        "BACKUP STAGE (writes blocked only while non-transactional tables are copied)"
    } else if server.caps.lock_instance_for_backup {
        "LOCK INSTANCE FOR BACKUP (DDL blocked; DML continues)"
    } else if server.caps.lock_tables_for_backup {
        "LOCK TABLES FOR BACKUP (non-transactional writes blocked)"
    } else {
        "FLUSH TABLES WITH READ LOCK (all writes blocked while held)"
    };
    let non_tx: Vec<&Engine> = engines
        .iter()
        .filter(|e| e.transactions == Some(false) && e.tables > 0)
        .collect();
    let pl = i.q("processlist");
    let waiting = (0..pl.rows.len())
        .filter(|&r| {
            pl.get(r, "STATE").is_some_and(|s| {
                let s = s.to_ascii_lowercase();
                s.contains("backup lock") || s.contains("global read lock")
            })
        })
        .count();
    Backup {
        lock_method: lock_method.to_string(),
        pitr_possible: i.var_on("log_bin").unwrap_or(false),
        non_transactional_tables: non_tx.iter().map(|e| e.tables).sum(),
        non_transactional_engines: non_tx.iter().map(|e| e.name.clone()).collect(),
        threads_waiting_for_locks: waiting,
    }
}

/// The `plugins` section.
pub fn plugins(i: &Inputs) -> Vec<Plugin> {
    let q = i.q("plugins");
    (0..q.rows.len())
        .map(|r| Plugin {
            name: q.get(r, "name").unwrap_or_default().to_string(),
            status: opt(q.get(r, "status")),
            plugin_type: opt(q.get(r, "type")),
            library: opt(q.get(r, "library")),
        })
        .collect()
}

/// Encryption variables shown when the server has them.
const ENCRYPTION_VARS: &[&str] = &[
    "innodb_encrypt_tables",
    "innodb_encrypt_log",
    "innodb_encrypt_temporary_tables",
    "aria_encrypt_tables",
    "encrypt_binlog",
    "encrypt_tmp_files",
    "encrypt_tmp_disk_tables",
    "default_table_encryption",
    "innodb_redo_log_encrypt",
    "innodb_undo_log_encrypt",
    "binlog_encryption",
];

/// The `encryption` section.
pub fn encryption(i: &Inputs) -> Encryption {
    let settings = ENCRYPTION_VARS
        .iter()
        .filter_map(|n| {
            Some(Setting {
                name: n.to_string(),
                value: i.var(n)?.to_string(),
            })
        })
        .collect();
    let p = i.q("plugins");
    let key_plugins = (0..p.rows.len())
        .filter(|&r| {
            p.get(r, "type")
                .is_some_and(|t| t.eq_ignore_ascii_case("ENCRYPTION"))
                || p.get(r, "name").is_some_and(|n| n.starts_with("keyring"))
        })
        .filter_map(|r| p.get(r, "name").map(str::to_string))
        .collect();
    let ts = i.q("encrypted_tablespaces");
    Encryption {
        settings,
        key_plugins,
        encrypted_tables: i.q("encrypted_tables").get(0, "tables").and_then(num),
        encrypted_tablespaces: if ts.error.is_none() && !ts.rows.is_empty() {
            Some(ts.get(0, "encrypted").and_then(num).unwrap_or(0))
        } else {
            None
        },
    }
}

/// Authentication plugins that need a password; an account of another
/// plugin (unix_socket, auth_socket, gssapi, pam) with an empty
/// authentication string is not open to anyone.
const PASSWORD_PLUGINS: &[&str] = &[
    "",
    "mysql_native_password",
    "mysql_old_password",
    "caching_sha2_password",
    "sha256_password",
    "ed25519",
];

/// `'user'@'host'`.
pub fn account_name(user: &str, host: &str) -> String {
    format!("'{user}'@'{host}'")
}

/// The `accounts` section.
pub fn accounts(i: &Inputs) -> Accounts {
    let q = i.q("accounts");
    let mut without_password = Vec::new();
    let mut wildcard_host = Vec::new();
    for r in 0..q.rows.len() {
        let user = q.get(r, "user").unwrap_or_default();
        let host = q.get(r, "host").unwrap_or_default();
        let plugin = q.get(r, "plugin").unwrap_or_default();
        if q.get(r, "no_password").is_some_and(is_on) && PASSWORD_PLUGINS.contains(&plugin) {
            without_password.push(account_name(user, host));
        }
        if host.contains('%') {
            wildcard_host.push(account_name(user, host));
        }
    }
    Accounts {
        total: q.rows.len(),
        without_password,
        wildcard_host,
    }
}

/// Errors of the queries behind the report, one line each. A missing
/// binary log is not an error when the binary log is off.
pub fn errors(i: &Inputs) -> Vec<String> {
    let binlog_on = i.var_on("log_bin").unwrap_or(false);
    let mut out: Vec<String> =
        i.s.queries
            .iter()
            .filter(|(name, q)| {
                q.error.is_some()
                    && (binlog_on || name.as_str() != "binary_logs")
                    && name.as_str() != "encrypted_tablespaces"
            })
            .filter_map(|(name, q)| Some(format!("query {name}: {}", q.error.as_deref()?)))
            .collect();
    for (name, q) in &i.s.queries {
        for w in &q.warnings {
            out.push(format!("query {name}: warning: {w}"));
        }
    }
    if let Some(e) = i.s.status_after.as_ref().and_then(|q| q.error.as_deref()) {
        out.push(format!("query status (second reading): {e}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_switches() {
        assert_eq!(num("10.000000"), Some(10));
        assert_eq!(num(" 42 "), Some(42));
        assert_eq!(num("-1"), None);
        assert!(is_on("ON") && is_on("1") && !is_on("OFF") && !is_on("0"));
    }

    #[test]
    fn innodb_status_text() {
        let t = "---\nLOG\n---\nLog sequence number 47653\nLog flushed up to   47653\n\
                 Last checkpoint at  40000\nHistory list length 12\n";
        assert_eq!(innodb_status_num(t, "Log sequence number"), Some(47653));
        assert_eq!(innodb_status_num(t, "Last checkpoint at"), Some(40000));
        assert_eq!(innodb_status_num(t, "History list length"), Some(12));
    }

    #[test]
    fn grouped_counts() {
        let c = counts(["b", "a", "b"].iter().map(|s| s.to_string()));
        assert_eq!(c[0].value, "b");
        assert_eq!(c[0].count, 2);
        assert_eq!(c[1].value, "a");
    }
}
