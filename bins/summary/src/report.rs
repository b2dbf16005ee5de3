//! The report: sections chosen, analysis of the samples, and notes.
//!
//! [`analyze`] is a pure function of the samples and the section list, so a
//! report rendered from saved samples is the report that was seen live.

use crate::samples::Samples;
use crate::server::{self, Inputs, ServerReport};
use crate::system::{self, SystemReport};
use oxkit::report::human_bytes;
use serde::Serialize;
use std::collections::BTreeMap;

/// One section of the report, by its `--sections` name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    /// `host`.
    Host,
    /// `cpu`.
    Cpu,
    /// `memory`.
    Memory,
    /// `mounts`.
    Mounts,
    /// `disks`.
    Disks,
    /// `network`.
    Network,
    /// `processes`.
    Processes,
    /// `db-processes`.
    DbProcesses,
    /// `kernel`.
    Kernel,
    /// `server`.
    Server,
    /// `replication`.
    Replication,
    /// `processlist`.
    Processlist,
    /// `status`.
    Status,
    /// `plugins`.
    Plugins,
    /// `schemas`.
    Schemas,
    /// `engines`.
    Engines,
    /// `innodb`.
    Innodb,
    /// `accounts`.
    Accounts,
    /// `encryption`.
    Encryption,
    /// `binlog`.
    Binlog,
    /// `backup`.
    Backup,
    /// `notes`.
    Notes,
}

/// Which half of the summary a section reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The host (`/proc`, `/sys`, commands).
    System,
    /// The server (queries).
    Server,
    /// The findings, from both.
    Notes,
}

impl Section {
    /// Every section, in report order: the host's in pt-summary's order,
    /// the server's in pt-mysql-summary's, then the notes.
    pub const ALL: [Section; 22] = [
        Section::Host,
        Section::Cpu,
        Section::Memory,
        Section::Mounts,
        Section::Disks,
        Section::Network,
        Section::Processes,
        Section::DbProcesses,
        Section::Kernel,
        Section::Server,
        Section::Replication,
        Section::Processlist,
        Section::Status,
        Section::Plugins,
        Section::Schemas,
        Section::Engines,
        Section::Innodb,
        Section::Accounts,
        Section::Encryption,
        Section::Binlog,
        Section::Backup,
        Section::Notes,
    ];

    /// The name on the command line and in the JSON document.
    pub fn name(self) -> &'static str {
        match self {
            Section::Host => "host",
            Section::Cpu => "cpu",
            Section::Memory => "memory",
            Section::Mounts => "mounts",
            Section::Disks => "disks",
            Section::Network => "network",
            Section::Processes => "processes",
            Section::DbProcesses => "db-processes",
            Section::Kernel => "kernel",
            Section::Server => "server",
            Section::Replication => "replication",
            Section::Processlist => "processlist",
            Section::Status => "status",
            Section::Plugins => "plugins",
            Section::Schemas => "schemas",
            Section::Engines => "engines",
            Section::Innodb => "innodb",
            Section::Accounts => "accounts",
            Section::Encryption => "encryption",
            Section::Binlog => "binlog",
            Section::Backup => "backup",
            Section::Notes => "notes",
        }
    }

    /// The half of the summary it reads.
    pub fn part(self) -> Part {
        match self {
            Section::Host
            | Section::Cpu
            | Section::Memory
            | Section::Mounts
            | Section::Disks
            | Section::Network
            | Section::Processes
            | Section::DbProcesses
            | Section::Kernel => Part::System,
            Section::Notes => Part::Notes,
            _ => Part::Server,
        }
    }
}

impl clap::ValueEnum for Section {
    fn value_variants<'a>() -> &'a [Section] {
        &Section::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()))
    }
}

/// How much a finding matters; warnings are listed first.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something to act on.
    Warning,
    /// Worth knowing.
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A finding, with the figures that support it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Note {
    /// Stable identifier (`swap-used`).
    pub id: String,
    /// `warning` or `info`.
    pub severity: Severity,
    /// What it means, in one sentence.
    pub message: String,
    /// The figures it rests on.
    pub evidence: String,
}

/// The whole report (also the JSON document).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always `ox-summary`.
    pub tool: String,
    /// Version of the ox-summary that captured the samples.
    pub captured_by: String,
    /// Capture time, seconds since the Unix epoch.
    pub captured_at: u64,
    /// Capture time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub captured_at_utc: String,
    /// `--sleep` of the capture, seconds.
    pub sleep: f64,
    /// Sections in this report, in order.
    pub sections: Vec<String>,
    /// Host half; null when not collected.
    pub system: Option<SystemReport>,
    /// Server half; null when not asked for or not reachable.
    pub server: Option<ServerReport>,
    /// Findings (absent when the `notes` section is not chosen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<Note>>,
    /// Problems met while collecting (server unreachable, queries refused).
    pub errors: Vec<String>,
    /// Half → why it was not collected.
    pub skipped: BTreeMap<String, String>,
    /// True when the server was asked for and could not be reached.
    pub server_unreachable: bool,
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch (no time zone
/// database, no clock).
pub fn utc(secs: u64) -> String {
    let (y, m, d, h, mi, sec) = oxkit::report::utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{sec:02} UTC")
}

/// `3 days, 04:05:06`.
pub fn duration(secs: u64) -> String {
    let d = secs / 86400;
    let hms = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    );
    match d {
        0 => hms,
        1 => format!("1 day, {hms}"),
        _ => format!("{d} days, {hms}"),
    }
}

/// Builds the report for `sections`.
pub fn analyze(s: &Samples, sections: &[Section]) -> Report {
    let want = |n: Section| sections.contains(&n);
    let system = s.system.as_ref().map(|sys| SystemReport {
        host: want(Section::Host).then(|| system::host(sys)),
        cpu: want(Section::Cpu).then(|| system::cpu(sys)),
        memory: want(Section::Memory).then(|| system::memory(sys)),
        mounts: want(Section::Mounts).then(|| system::mounts(sys)),
        disks: want(Section::Disks).then(|| system::disks(sys)),
        network: want(Section::Network).then(|| system::network(sys)),
        processes: want(Section::Processes).then(|| system::processes(sys)),
        db_processes: want(Section::DbProcesses).then(|| system::db_processes(sys)),
        kernel: want(Section::Kernel).then(|| system::kernel(sys)),
    });
    let mut errors = Vec::new();
    let mut server_unreachable = false;
    let server = match &s.server {
        Some(sv) if sv.connect_error.is_some() => {
            server_unreachable = true;
            errors.push(format!(
                "cannot connect to {}: {}",
                sv.target,
                sv.connect_error.as_deref().unwrap_or_default()
            ));
            None
        }
        Some(sv) => {
            let i = Inputs::new(sv);
            errors.extend(server::errors(&i));
            let engines = server::engines(&i);
            Some(ServerReport {
                info: want(Section::Server).then(|| server::info(&i)),
                replication: want(Section::Replication).then(|| server::replication(&i)),
                processlist: want(Section::Processlist).then(|| server::processlist(&i)),
                status: want(Section::Status).then(|| server::status(&i)),
                plugins: want(Section::Plugins).then(|| server::plugins(&i)),
                schemas: want(Section::Schemas).then(|| server::schemas(&i)),
                engines: want(Section::Engines).then(|| engines.clone()),
                innodb: want(Section::Innodb).then(|| server::innodb(&i)),
                accounts: want(Section::Accounts).then(|| server::accounts(&i)),
                encryption: want(Section::Encryption).then(|| server::encryption(&i)),
                binlog: want(Section::Binlog).then(|| server::binlog(&i)),
                backup: want(Section::Backup).then(|| server::backup(&i, &engines)),
            })
        }
        None => None,
    };
    let notes = want(Section::Notes).then(|| notes(s));
    let present: Vec<String> = sections
        .iter()
        .filter(|n| match n.part() {
            Part::System => system.is_some(),
            Part::Server => server.is_some(),
            Part::Notes => true,
        })
        .map(|n| n.name().to_string())
        .collect();
    Report {
        tool: "ox-summary".into(),
        captured_by: s.tool_version.clone(),
        captured_at: s.captured_at,
        captured_at_utc: utc(s.captured_at),
        sleep: s.sleep,
        sections: present,
        system,
        server,
        notes,
        errors,
        skipped: s.skipped.clone(),
        server_unreachable,
    }
}

fn note(out: &mut Vec<Note>, id: &str, severity: Severity, message: &str, evidence: String) {
    out.push(Note {
        id: id.into(),
        severity,
        message: message.into(),
        evidence,
    });
}

/// Findings from every section's figures, computed whatever sections are
/// shown. Warnings come first, then information, each in a fixed order.
pub fn notes(s: &Samples) -> Vec<Note> {
    let mut out = Vec::new();
    if let Some(sv) = &s.server {
        if let Some(e) = &sv.connect_error {
            note(
                &mut out,
                "server-unreachable",
                Severity::Warning,
                "The server could not be reached: only the host is summarised.",
                format!("{}: {e}", sv.target),
            );
        }
    }
    let mem = s.system.as_ref().map(system::memory);
    if let Some(sys) = &s.system {
        system_notes(sys, mem.as_ref(), &mut out);
    }
    if let Some(sv) = s.server.as_ref().filter(|sv| sv.connect_error.is_none()) {
        let local_db = s
            .system
            .as_ref()
            .is_some_and(|sys| !system::db_processes(sys).is_empty());
        server_notes(
            &Inputs::new(sv),
            mem.filter(|_| local_db).as_ref(),
            &mut out,
        );
    }
    out.sort_by_key(|n| n.severity);
    out
}

fn system_notes(
    sys: &crate::samples::SystemSamples,
    mem: Option<&system::Memory>,
    out: &mut Vec<Note>,
) {
    if let Some(m) = mem {
        if let (Some(used), Some(total)) = (m.swap_used_bytes, m.swap_total_bytes) {
            if used > 0 {
                note(
                    out,
                    "swap-used",
                    Severity::Warning,
                    "Swap is in use: a database whose pages are swapped out stalls on disk reads.",
                    format!("swap used {} of {}", human_bytes(used), human_bytes(total)),
                );
            }
        }
    }
    let k = system::kernel(sys);
    if k.thp_enabled.as_deref() == Some("always") {
        note(
            out,
            "thp-enabled",
            Severity::Warning,
            "Transparent huge pages are always on: they cause latency spikes and memory bloat in databases; set them to madvise or never.",
            "/sys/kernel/mm/transparent_hugepage/enabled = always".into(),
        );
    }
    let dbs = system::db_processes(sys);
    if let Some(sw) = k.swappiness.filter(|v| *v > 10 && !dbs.is_empty()) {
        note(
            out,
            "swappiness-high",
            Severity::Info,
            "vm.swappiness is high for a database host (1 to 10 is usual): the kernel may swap the buffer pool out to keep file cache.",
            format!("vm.swappiness = {sw}"),
        );
    }
    for m in system::mounts(sys) {
        if let Some(p) = m.used_percent.filter(|p| *p >= 90.0) {
            note(
                out,
                "filesystem-full",
                Severity::Warning,
                "A filesystem is almost full.",
                format!(
                    "{} ({}) {p:.1}% used, {} available",
                    m.mount_point,
                    m.fs_type,
                    m.avail_bytes.map(human_bytes).unwrap_or_default()
                ),
            );
        }
    }
    for p in &dbs {
        if let Some(l) = p
            .open_files_limit
            .as_deref()
            .and_then(|l| l.parse::<u64>().ok())
            .filter(|l| *l < 10_000)
        {
            note(
                out,
                "open-files-limit-low",
                Severity::Warning,
                "The database server may run out of file descriptors (tables, connections).",
                format!("{} pid {}: Max open files {l}", p.command, p.pid),
            );
        }
    }
    let c = system::cpu(sys);
    let h = system::host(sys);
    if let Some(load) = h.load_average.map(|l| l[0]) {
        if c.threads > 0 && load > 2.0 * c.threads as f64 {
            note(
                out,
                "load-high",
                Severity::Warning,
                "The load average is more than twice the number of processors.",
                format!("load {load:.2} on {} processor threads", c.threads),
            );
        }
    }
    if let Some(st) = c.steal_percent.filter(|s| *s >= 10.0) {
        note(
            out,
            "cpu-steal",
            Severity::Warning,
            "The hypervisor is taking CPU time from this machine.",
            format!("steal {st:.1}% of CPU time"),
        );
    }
}

fn server_notes(i: &Inputs, mem: Option<&system::Memory>, out: &mut Vec<Note>) {
    memory_notes(i, mem, out);
    replication_notes(i, out);
    workload_notes(i, out);
    safety_notes(i, out);
}

/// The buffer pool against the host's memory.
fn memory_notes(i: &Inputs, mem: Option<&system::Memory>, out: &mut Vec<Note>) {
    let inno = server::innodb(i);
    if let (Some(m), Some(bp)) = (mem.and_then(|m| m.total_bytes), inno.buffer_pool_bytes) {
        if bp as f64 > 0.9 * m as f64 {
            note(
                out,
                "buffer-pool-above-memory",
                Severity::Warning,
                "The InnoDB buffer pool is larger than 90% of memory: the host will swap or the server be killed for memory.",
                format!("innodb_buffer_pool_size {} of {} memory", human_bytes(bp), human_bytes(m)),
            );
        } else {
            let data: u64 = server::schemas(i)
                .iter()
                .filter(|s| {
                    !matches!(
                        s.name.as_str(),
                        "mysql" | "information_schema" | "performance_schema" | "sys"
                    )
                })
                .map(|s| s.data_bytes + s.index_bytes)
                .sum();
            if (bp as f64) < 0.25 * m as f64 && data > bp {
                note(
                    out,
                    "buffer-pool-small",
                    Severity::Info,
                    "The InnoDB buffer pool is under a quarter of memory while the data does not fit in it.",
                    format!(
                        "innodb_buffer_pool_size {}, memory {}, data and indexes {}",
                        human_bytes(bp),
                        human_bytes(m),
                        human_bytes(data)
                    ),
                );
            }
        }
    }
}

/// Durability and replication settings for the server's role.
fn replication_notes(i: &Inputs, out: &mut Vec<Note>) {
    let rep = server::replication(i);
    let is_replica = !rep.channels.is_empty();
    let read_only = i.var_on("read_only").unwrap_or(false);
    let primary = !is_replica && !read_only;
    let log_bin = i.var_on("log_bin").unwrap_or(false);
    let inno = server::innodb(i);
    if primary {
        if let Some(v) = inno
            .flush_log_at_trx_commit
            .as_deref()
            .filter(|v| *v != "1")
        {
            note(
                out,
                "flush-log-at-trx-commit",
                Severity::Warning,
                "On a primary, innodb_flush_log_at_trx_commit other than 1 loses up to a second of committed transactions in a crash.",
                format!("innodb_flush_log_at_trx_commit = {v}"),
            );
        }
        if log_bin {
            if let Some(v) = i.var("sync_binlog").filter(|v| *v != "1") {
                note(
                    out,
                    "sync-binlog",
                    Severity::Warning,
                    "On a primary, sync_binlog other than 1 can lose binary log events in a crash, and replicas then diverge.",
                    format!("sync_binlog = {v}"),
                );
            }
        }
    }
    for ch in &rep.channels {
        let name = if ch.name.is_empty() {
            "default channel".to_string()
        } else {
            format!("channel {}", ch.name)
        };
        let io = ch.io_running.as_deref().unwrap_or("?");
        let sql = ch.sql_running.as_deref().unwrap_or("?");
        if io != "Yes" || sql != "Yes" {
            let mut ev = format!("{name}: IO thread {io}, SQL thread {sql}");
            for e in [&ch.last_io_error, &ch.last_sql_error]
                .into_iter()
                .flatten()
            {
                ev += &format!("; {e}");
            }
            note(
                out,
                "replica-stopped",
                Severity::Warning,
                "Replication is not running.",
                ev,
            );
        }
        if let Some(lag) = ch.seconds_behind.filter(|l| *l > 10) {
            note(
                out,
                "replica-lag",
                Severity::Warning,
                "The replica is behind its source.",
                format!(
                    "{name}: {lag} s behind {}",
                    ch.source_host.as_deref().unwrap_or("?")
                ),
            );
        }
    }
    if is_replica && !read_only {
        note(
            out,
            "replica-writable",
            Severity::Info,
            "The replica is not read_only: a mistaken write there makes it drift from its source.",
            "read_only = OFF".into(),
        );
    }
    if !log_bin {
        note(
            out,
            "no-binlog",
            Severity::Warning,
            "The binary log is off: no point-in-time recovery, and no replica can be attached.",
            "log_bin = OFF".into(),
        );
    } else if server::binlog(i).retention_seconds == Some(0) {
        note(
            out,
            "binlog-kept-forever",
            Severity::Info,
            "Binary logs are never purged automatically: the disk fills up unless something else removes them.",
            "binlog_expire_logs_seconds = 0 and expire_logs_days = 0".into(),
        );
    }
}

/// Purge lag, long transactions and checkpoint age.
fn workload_notes(i: &Inputs, out: &mut Vec<Note>) {
    let inno = server::innodb(i);
    if let Some(h) = inno.history_list_length {
        let before = i.stat_first("Innodb_history_list_length");
        let growing = i.interval().is_some() && before.is_some_and(|b| h > b);
        if h > 100_000 || (growing && h > 10_000) {
            let ev = match before.filter(|_| i.interval().is_some()) {
                Some(b) => format!("history list length {b} → {h} over the interval"),
                None => format!("history list length {h}"),
            };
            note(
                out,
                "history-list-long",
                Severity::Warning,
                "InnoDB purge is behind (a long transaction or heavy writes): reads slow down and the undo space grows.",
                ev,
            );
        }
    }
    if let Some(t) = server::processlist(i)
        .longest_transactions
        .first()
        .filter(|t| t.age_seconds.unwrap_or(0) >= 60)
    {
        note(
            out,
            "long-transaction",
            Severity::Warning,
            "A transaction has been open for more than a minute: it holds locks and stops purge.",
            format!(
                "trx {} of {}@{} (thread {}) open {} s",
                t.trx_id.as_deref().unwrap_or("?"),
                t.user.as_deref().unwrap_or("?"),
                t.host.as_deref().unwrap_or("?"),
                t.thread_id.map(|v| v.to_string()).unwrap_or_default(),
                t.age_seconds.unwrap_or(0)
            ),
        );
    }
    if let Some(p) = inno.checkpoint_age_percent.filter(|p| *p >= 75.0) {
        note(
            out,
            "checkpoint-age-high",
            Severity::Warning,
            "The redo log is nearly full of unflushed changes: writes will stall for furious flushing. Raise the redo log capacity.",
            format!("checkpoint age {p:.1}% of the redo capacity"),
        );
    }
}

/// Accounts, connections, the buffer pool hit ratio, backup safety and errors.
fn safety_notes(i: &Inputs, out: &mut Vec<Note>) {
    let inno = server::innodb(i);
    let acc = server::accounts(i);
    if !acc.without_password.is_empty() {
        note(
            out,
            "accounts-without-password",
            Severity::Warning,
            "Accounts log in without a password.",
            acc.without_password.join(", "),
        );
    }
    if let (Some(max), Some(used)) = (i.var_num("max_connections"), i.stat("Max_used_connections"))
    {
        if max > 0 && used * 10 >= max * 9 {
            note(
                out,
                "connections-near-max",
                Severity::Warning,
                "Connections have come within 10% of max_connections.",
                format!("Max_used_connections {used} of max_connections {max}"),
            );
        }
    }
    if !acc.wildcard_host.is_empty() {
        note(
            out,
            "accounts-wildcard-host",
            Severity::Info,
            "Accounts accept connections from any host matching a wildcard.",
            acc.wildcard_host.join(", "),
        );
    }
    let reqs = i.stat("Innodb_buffer_pool_read_requests").unwrap_or(0);
    if let Some(hit) = inno
        .buffer_pool_hit_percent
        .filter(|h| *h < 95.0 && reqs > 100_000)
    {
        note(
            out,
            "buffer-pool-misses",
            Severity::Info,
            "Many InnoDB page reads go to disk.",
            format!("buffer pool hit rate {hit:.2}%"),
        );
    }
    let b = server::backup(i, &server::engines(i));
    if b.non_transactional_tables > 0 {
        note(
            out,
            "non-transactional-tables",
            Severity::Info,
            "Some user tables use an engine without transactions: they are not crash-safe and hot backups copy them under a lock.",
            format!(
                "{} tables ({})",
                b.non_transactional_tables,
                b.non_transactional_engines.join(", ")
            ),
        );
    }
    let errs = server::errors(i);
    if !errs.is_empty() {
        note(
            out,
            "queries-failed",
            Severity::Info,
            "Some figures are missing because queries failed (often a missing privilege: PROCESS, REPLICATION CLIENT, SELECT on mysql.user).",
            errs.join("; "),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_without_a_clock() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
        assert_eq!(duration(90061), "1 day, 01:01:01");
        assert_eq!(duration(59), "00:00:59");
    }

    #[test]
    fn sections_are_unique() {
        let parts: Vec<Part> = Section::ALL.iter().map(|s| s.part()).collect();
        // The host's sections, then the server's, then the notes.
        assert_eq!(parts.iter().filter(|p| **p == Part::System).count(), 9);
        assert_eq!(Section::ALL[8].name(), "kernel");
        assert_eq!(Section::ALL[9].name(), "server");
        assert_eq!(Section::ALL[20].name(), "backup");
        assert!(parts[..9].iter().all(|p| *p == Part::System));
        assert!(parts[9..21].iter().all(|p| *p == Part::Server));
        assert_eq!(Section::ALL.last(), Some(&Section::Notes));
        assert_eq!(Section::Notes.part(), Part::Notes);
        let all: Vec<&str> = Section::ALL.iter().map(|s| s.name()).collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
    }
}
