//! Replication topology in one layer for every flavour.
//!
//! [`replica_status`] reads `SHOW ALL SLAVES STATUS` (MariaDB),
//! `SHOW REPLICA STATUS` (MySQL 8.0.22+) or `SHOW SLAVE STATUS` and maps the
//! differently named columns onto one [`ReplicaStatus`]. [`discover`] finds
//! a source's replicas by `SHOW SLAVE HOSTS`/`SHOW REPLICAS` (which report
//! the replica's own `report_host`/`report_port`), by the processlist of
//! binlog dump threads (host only; port assumed the source's, as Percona
//! Toolkit does), or from a DSN table, recursing into replicas of replicas.

use crate::conn::{self, Conn, ConnectOptions, DbError};
use crate::dsn::{self, ConnSpec};
use crate::server::Server;
use crate::sql::quote_table;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use serde::Serialize;
use std::collections::HashSet;

/// One replication channel of a replica.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    /// Channel / connection name ("" for the default one).
    pub channel: String,
    /// Source host.
    pub source_host: String,
    /// Source port.
    pub source_port: u16,
    /// I/O thread state: `Yes`, `No` or `Connecting`.
    pub io_running: String,
    /// SQL (applier) thread running.
    pub sql_running: bool,
    /// `Seconds_Behind_Master`; `None` when the server does not know (a
    /// stopped thread).
    pub seconds_behind: Option<u64>,
    /// GTID position the replica has received (MariaDB `Gtid_IO_Pos`,
    /// MySQL `Retrieved_Gtid_Set`).
    pub gtid_received: Option<String>,
    /// GTID position applied (MariaDB `Gtid_Slave_Pos`, MySQL
    /// `Executed_Gtid_Set`).
    pub gtid_applied: Option<String>,
    /// Replicating by GTID (`Using_Gtid` not `No`, or MySQL `Auto_Position`).
    pub using_gtid: bool,
    /// Source binary log file being read.
    pub source_log_file: String,
    /// Position executed in the source's binary log.
    pub exec_source_log_pos: u64,
    /// Last I/O thread error.
    pub last_io_error: String,
    /// Last SQL thread error.
    pub last_sql_error: String,
}

impl ReplicaStatus {
    /// Both threads running.
    pub fn is_running(&self) -> bool {
        self.io_running == "Yes" && self.sql_running
    }

    /// The threads and their last errors, for a message that says why a
    /// wait for this replica did not end (`I/O thread Yes, SQL thread
    /// stopped; last SQL error: ...`).
    pub fn describe(&self) -> String {
        let mut out = format!(
            "I/O thread {}, SQL thread {}",
            if self.io_running.is_empty() {
                "?"
            } else {
                &self.io_running
            },
            if self.sql_running {
                "running"
            } else {
                "stopped"
            },
        );
        for (what, e) in [("I/O", &self.last_io_error), ("SQL", &self.last_sql_error)] {
            if !e.is_empty() {
                out.push_str(&format!("; last {what} error: {e}"));
            }
        }
        out
    }

    /// Replication is stopped: the SQL thread is not running, or the IO
    /// thread is off (`No`). An IO thread that is `Connecting` or
    /// `Preparing` (just started, or retrying) is not stopped.
    pub fn is_stopped(&self) -> bool {
        !self.sql_running || self.io_running.eq_ignore_ascii_case("No")
    }
}

fn text(row: &mysql::Row, names: &[&str]) -> Option<String> {
    let cols = row.columns_ref();
    for name in names {
        if let Some(i) = cols
            .iter()
            .position(|c| c.name_str().eq_ignore_ascii_case(name))
        {
            return conn::cell_text(row, i);
        }
    }
    None
}

fn parse_status(row: &mysql::Row) -> ReplicaStatus {
    let s = |names: &[&str]| text(row, names).unwrap_or_default();
    let num = |names: &[&str]| text(row, names).and_then(|v| v.trim().parse::<u64>().ok());
    let clean = |v: Option<String>| {
        v.map(|g| g.split_whitespace().collect::<String>())
            .filter(|g| !g.is_empty())
    };
    let using = s(&["Using_Gtid", "Auto_Position"]);
    ReplicaStatus {
        channel: s(&["Connection_name", "Channel_Name"]),
        source_host: s(&["Master_Host", "Source_Host"]),
        source_port: num(&["Master_Port", "Source_Port"]).unwrap_or(0) as u16,
        io_running: s(&["Slave_IO_Running", "Replica_IO_Running"]),
        sql_running: s(&["Slave_SQL_Running", "Replica_SQL_Running"]) == "Yes",
        seconds_behind: num(&["Seconds_Behind_Master", "Seconds_Behind_Source"]),
        gtid_received: clean(text(row, &["Gtid_IO_Pos", "Retrieved_Gtid_Set"])),
        gtid_applied: clean(text(row, &["Gtid_Slave_Pos", "Executed_Gtid_Set"])),
        using_gtid: !(using.is_empty() || using.eq_ignore_ascii_case("No") || using == "0"),
        source_log_file: s(&["Relay_Master_Log_File", "Relay_Source_Log_File"]),
        exec_source_log_pos: num(&["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"]).unwrap_or(0),
        last_io_error: s(&["Last_IO_Error"]),
        last_sql_error: s(&["Last_SQL_Error"]),
    }
}

/// The replication channels of a server; empty when it is not a replica.
pub fn replica_status(conn: &mut Conn, server: &Server) -> Result<Vec<ReplicaStatus>, DbError> {
    let rows: Vec<mysql::Row> = conn.rows("reading replica status", server.replica_status_sql())?;
    Ok(rows.iter().map(parse_status).collect())
}

/// Waits, at most `limit`, until the replica behind `conn` has applied the
/// GTID position `gtid`. The wait runs in slices (two seconds, then ten)
/// so that it checks `cancel`, says on stderr after each slice what it
/// waits for, and fails at once with the replica's state when its SQL
/// thread stopped (exit 128) instead of waiting out the limit; the timeout
/// error names the position, what the replica applied and its threads.
pub fn wait_applied(
    conn: &mut Conn,
    server: &Server,
    gtid: &str,
    limit: std::time::Duration,
    cancel: &crate::entry::Cancel,
) -> Result<()> {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut slice = Duration::from_secs(2);
    loop {
        cancel.check()?;
        let left = limit.saturating_sub(start.elapsed());
        if server.wait_for_gtid(conn, gtid, slice.min(left))? {
            return Ok(());
        }
        let st = replica_status(conn, server)?;
        let applied = server.gtid_position(conn)?;
        let state = match st.first() {
            None => "it is not a replica".to_string(),
            Some(s) => s.describe(),
        };
        if st.first().is_none_or(|s| !s.sql_running) {
            return Err(crate::entry::ExitError {
                exit: crate::Exit::REPLICATION_STOPPED,
                message: format!(
                    "{} cannot reach GTID {gtid}: {state}; it has applied {applied}",
                    conn.label()
                ),
            }
            .into());
        }
        let waited = start.elapsed();
        if waited >= limit {
            bail!(
                "{} did not reach GTID {gtid} within {}s (--replica-timeout): it has applied {applied}; {state}",
                conn.label(),
                limit.as_secs()
            );
        }
        log::warn!(
            "waiting for {} to reach GTID {gtid} (applied {applied}; {}s of {}s)",
            conn.label(),
            waited.as_secs(),
            limit.as_secs()
        );
        slice = Duration::from_secs(10);
    }
}

/// Where a source's binary log stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SourcePosition {
    /// Current binary log file (empty when binary logging is off).
    pub file: String,
    /// Position in it.
    pub position: u64,
    /// GTID position (`gtid_binlog_pos` on MariaDB, `gtid_executed` on MySQL).
    pub gtid: String,
}

/// The source's current binary log file and position: the one reader of
/// `SHOW MASTER STATUS` / `SHOW BINARY LOG STATUS` every tool uses. `None`
/// when binary logging is off.
pub fn binlog_file_position(
    conn: &mut Conn,
    server: &Server,
) -> Result<Option<(String, u64)>, DbError> {
    let row: Option<mysql::Row> = conn.row(
        "reading the binary log position",
        server.binlog_status_sql(),
    )?;
    Ok(row.and_then(|r| {
        let file = text(&r, &["File"])?;
        let pos = text(&r, &["Position"])?.parse().ok()?;
        Some((file, pos))
    }))
}

/// Reads the binary log position and GTID position of a source.
pub fn source_position(conn: &mut Conn, server: &Server) -> Result<SourcePosition, DbError> {
    let at = binlog_file_position(conn, server)?;
    let gtid_sql = match server.caps.gtid_style {
        crate::server::GtidStyle::MariaDB => "SELECT @@GLOBAL.gtid_binlog_pos",
        crate::server::GtidStyle::MySQL => "SELECT @@GLOBAL.gtid_executed",
    };
    let gtid: Option<Option<String>> = conn.row("reading GTID position", gtid_sql)?;
    let (file, position) = at.unwrap_or_default();
    Ok(SourcePosition {
        file,
        position,
        gtid: gtid
            .flatten()
            .unwrap_or_default()
            .split_whitespace()
            .collect(),
    })
}

/// How to find replicas (Percona's `--recursion-method`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// `SHOW SLAVE HOSTS` / `SHOW REPLICAS` (needs `report_host` on replicas).
    Hosts,
    /// Binlog dump threads in the processlist; port assumed the source's.
    Processlist,
    /// Rows of a table holding one DSN each (`dsn=D=percona,t=dsns`).
    DsnTable(Box<ConnSpec>),
    /// Do not look for replicas.
    None,
}

/// Parses `--recursion-method`: a comma list of `hosts`, `processlist`,
/// `none`, or a single `dsn=DSN`. Methods are tried in order until one finds
/// replicas.
pub fn parse_methods(s: &str) -> Result<Vec<Method>> {
    if let Some(d) = s.strip_prefix("dsn=") {
        return Ok(vec![Method::DsnTable(Box::new(dsn::parse_dsn(d)?))]);
    }
    s.split(',')
        .map(|m| match m.trim() {
            "hosts" => Ok(Method::Hosts),
            "processlist" => Ok(Method::Processlist),
            "none" => Ok(Method::None),
            other => bail!(
                "unknown recursion method {other:?} (expected hosts, processlist, none or dsn=DSN)"
            ),
        })
        .collect()
}

/// The default method list: `hosts,processlist`. (Percona's default is
/// `processlist,hosts`; reported host and port are exact where the
/// processlist knows no port, so they go first.)
pub fn default_methods() -> Vec<Method> {
    vec![Method::Hosts, Method::Processlist]
}

/// A replica found by [`discover`].
#[derive(Clone, Debug, Serialize)]
pub struct Replica {
    /// How to connect to it (inherits user, password, TLS from the source's spec).
    #[serde(skip)]
    pub spec: ConnSpec,
    /// `host:port` as found.
    pub label: String,
    /// Its `@@server_id`.
    pub server_id: u32,
    /// 1 for a direct replica of the source, 2 for a replica of that, ...
    pub depth: u32,
}

fn candidates(
    conn: &mut Conn,
    server: &Server,
    base: &ConnSpec,
    method: &Method,
    opts: &ConnectOptions,
) -> Result<Vec<ConnSpec>> {
    let with_host = |host: String, port: u16| {
        let mut s = ConnSpec {
            host: Some(host),
            port: Some(port),
            ..ConnSpec::default()
        };
        s.user = base.user.clone();
        s.password = base.password.clone();
        s.tls = base.tls.clone();
        s.charset = base.charset.clone();
        s
    };
    match method {
        Method::None => Ok(vec![]),
        Method::Hosts => {
            let rows: Vec<mysql::Row> =
                conn.rows("listing replica hosts", server.replica_hosts_sql())?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let host = text(r, &["Host"])?;
                    let port = text(r, &["Port"])?.parse::<u16>().ok()?;
                    (!host.is_empty() && port != 0).then(|| with_host(host, port))
                })
                .collect())
        }
        Method::Processlist => {
            let hosts: Vec<String> = conn.rows(
                "reading processlist",
                "SELECT HOST FROM information_schema.PROCESSLIST \
                 WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID')",
            )?;
            Ok(hosts
                .into_iter()
                .map(|h| {
                    let host = h.rsplit_once(':').map(|(a, _)| a.to_string()).unwrap_or(h);
                    with_host(host, server.port)
                })
                .collect())
        }
        Method::DsnTable(t) => {
            let mut spec = (**t).clone();
            spec.fill_from(base);
            let (Some(db), Some(table)) = (spec.database.clone(), spec.table.clone()) else {
                bail!("--recursion-method dsn=...: the DSN needs D= and t=");
            };
            let mut c = conn::connect(&spec, opts)?;
            let sql = format!("SELECT dsn FROM {} ORDER BY id", quote_table(&db, &table));
            let dsns: Vec<String> = c
                .query(&sql)
                .with_context(|| format!("reading replica DSNs from {db}.{table}"))?;
            dsns.iter()
                .map(|d| {
                    let mut s = dsn::parse_target(d)?;
                    s.fill_from(base);
                    s.table = None;
                    s.database = None;
                    Ok(s)
                })
                .collect()
        }
    }
}

/// Finds the replicas of the server `base` points at, recursing up to
/// `max_depth` levels (Percona's `--recurse`). Each replica is connected to
/// once to learn its server id; one already seen is skipped, so rings and
/// duplicates from several methods are harmless.
pub fn discover(
    base: &ConnSpec,
    methods: &[Method],
    max_depth: u32,
    opts: &ConnectOptions,
) -> Result<Vec<Replica>> {
    let mut conn = conn::connect(base, opts)?;
    let server = Server::detect(&mut conn)?;
    let mut seen: HashSet<u32> = HashSet::from([server.server_id]);
    let mut out = Vec::new();
    let mut frontier = vec![(conn, server, base.clone(), 1u32)];
    while let Some((mut conn, server, spec, depth)) = frontier.pop() {
        if depth > max_depth {
            continue;
        }
        let mut found = Vec::new();
        for m in methods {
            found = candidates(&mut conn, &server, &spec, m, opts)?;
            if !found.is_empty() {
                break;
            }
        }
        for cand in found {
            let label = dsn::label(&cand);
            let mut c = conn::connect(&cand, opts)
                .with_context(|| format!("connecting to replica {label}"))?;
            let s = Server::detect(&mut c)?;
            if !seen.insert(s.server_id) {
                continue;
            }
            out.push(Replica {
                spec: cand.clone(),
                label,
                server_id: s.server_id,
                depth,
            });
            frontier.push((c, s, cand, depth + 1));
        }
    }
    Ok(out)
}
