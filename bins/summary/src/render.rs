//! Text rendering of a [`Report`]: pt-summary's look (`# Section ###`
//! headings, `label | value` lines) with the house table style.
//! Pure: the same report always renders to the same bytes.

use crate::report::{duration, Report};
use crate::server::ServerReport;
use crate::system::SystemReport;
use oxkit::report::{human_bytes, Table};
use std::fmt::Write as _;

const WIDTH: usize = 72;

fn heading(out: &mut String, title: &str) {
    let head = format!("# {title} ");
    let fill = WIDTH.saturating_sub(head.len()).max(3);
    let _ = writeln!(out, "{head}{}", "#".repeat(fill));
}

fn kv(out: &mut String, label: &str, value: impl AsRef<str>) {
    let _ = writeln!(out, "{label:>22} | {}", value.as_ref());
}

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}

fn bytes(v: Option<u64>) -> String {
    v.map(human_bytes).unwrap_or_else(|| "-".into())
}

fn table(out: &mut String, t: &Table) {
    for line in t.to_string().lines() {
        let _ = writeln!(out, "  {line}");
    }
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "-".into(),
    }
}

/// Renders the report as text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ox-summary report captured {} (ox-summary {})",
        r.captured_at_utc, r.captured_by
    );
    for (half, why) in &r.skipped {
        let _ = writeln!(out, "{half} half not collected: {why}");
    }
    if let Some(sys) = &r.system {
        system(&mut out, sys);
    }
    if let Some(sv) = &r.server {
        server(&mut out, sv);
    }
    if let Some(notes) = &r.notes {
        heading(&mut out, "Notes");
        if notes.is_empty() {
            let _ = writeln!(out, "  nothing to point out");
        }
        for n in notes {
            let _ = writeln!(out, "  [{}] {} ({})", n.severity, n.message, n.id);
            let _ = writeln!(out, "      {}", n.evidence);
        }
    }
    if !r.errors.is_empty() {
        heading(&mut out, "Errors");
        for e in &r.errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    out
}

fn system(out: &mut String, s: &SystemReport) {
    host_section(out, s);
    cpu_section(out, s);
    memory_section(out, s);
    mounts_section(out, s);
    disks_section(out, s);
    network_section(out, s);
    processes_section(out, s);
    db_processes_section(out, s);
    kernel_section(out, s);
}

fn host_section(out: &mut String, s: &SystemReport) {
    let Some(h) = &s.host else {
        return;
    };
    heading(out, "Host");
    kv(out, "Hostname", or_dash(&h.hostname));
    kv(out, "OS", or_dash(&h.os));
    kv(out, "Kernel", or_dash(&h.kernel));
    kv(out, "Architecture", &h.arch);
    kv(
        out,
        "Uptime",
        h.uptime_seconds.map(duration).unwrap_or("-".into()),
    );
    kv(out, "Virtualization", &h.virtualization);
    kv(
        out,
        "Load average",
        h.load_average
            .map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]))
            .unwrap_or("-".into()),
    );
    kv(out, "Processes", h.processes.to_string());
}

fn cpu_section(out: &mut String, s: &SystemReport) {
    let Some(c) = &s.cpu else {
        return;
    };
    heading(out, "Processor");
    kv(out, "Model", or_dash(&c.model));
    kv(
        out,
        "Processors",
        format!(
            "{} sockets, {} cores, {} threads",
            c.sockets, c.cores, c.threads
        ),
    );
    kv(
        out,
        "Speed",
        format!(
            "{} MHz (max {})",
            or_dash(&c.mhz),
            c.max_mhz.map(|m| format!("{m} MHz")).unwrap_or("-".into())
        ),
    );
    kv(out, "Governor", or_dash(&c.governor));
    kv(
        out,
        "Use",
        format!(
            "{}% busy, {}% iowait, {}% steal",
            or_dash(&c.busy_percent),
            or_dash(&c.iowait_percent),
            or_dash(&c.steal_percent)
        ),
    );
}

fn memory_section(out: &mut String, s: &SystemReport) {
    let Some(m) = &s.memory else {
        return;
    };
    heading(out, "Memory");
    kv(out, "Total", bytes(m.total_bytes));
    kv(out, "Free", bytes(m.free_bytes));
    kv(out, "Available", bytes(m.available_bytes));
    kv(
        out,
        "Cached / buffers",
        format!("{} / {}", bytes(m.cached_bytes), bytes(m.buffers_bytes)),
    );
    kv(out, "Dirty", bytes(m.dirty_bytes));
    kv(
        out,
        "Swap",
        format!(
            "{} used of {}",
            bytes(m.swap_used_bytes),
            bytes(m.swap_total_bytes)
        ),
    );
    kv(
        out,
        "Huge pages",
        format!(
            "{} of {}",
            or_dash(&m.hugepages_total),
            bytes(m.hugepage_size_bytes)
        ),
    );
    if !m.numa_nodes.is_empty() {
        let mut t = Table::new(["NUMA node", "CPUs", "Memory", "Free"]);
        for n in &m.numa_nodes {
            t.row([
                n.node.to_string(),
                or_dash(&n.cpus),
                bytes(n.total_bytes),
                bytes(n.free_bytes),
            ]);
        }
        table(out, &t);
    }
}

fn mounts_section(out: &mut String, s: &SystemReport) {
    let Some(ms) = &s.mounts else {
        return;
    };
    heading(out, "Mounted Filesystems");
    let mut t = Table::new([
        "Mount point",
        "Type",
        "Size",
        "Used",
        "Use%",
        "Device",
        "Options",
    ]);
    for m in ms {
        t.row([
            m.mount_point.clone(),
            m.fs_type.clone(),
            bytes(m.total_bytes),
            bytes(m.used_bytes),
            m.used_percent
                .map(|p| format!("{p:.0}%"))
                .unwrap_or("-".into()),
            m.device.clone(),
            m.options.clone(),
        ]);
    }
    table(out, &t);
}

fn disks_section(out: &mut String, s: &SystemReport) {
    let Some(ds) = &s.disks else {
        return;
    };
    heading(out, "Block Devices");
    let mut t = Table::new([
        "Device",
        "Size",
        "Rotational",
        "Scheduler",
        "Queue",
        "Read-ahead",
        "Model",
    ]);
    for d in ds {
        t.row([
            d.name.clone(),
            bytes(d.size_bytes),
            yes_no(d.rotational),
            or_dash(&d.scheduler),
            or_dash(&d.nr_requests),
            d.read_ahead_kb
                .map(|k| format!("{k} KiB"))
                .unwrap_or("-".into()),
            or_dash(&d.model),
        ]);
    }
    table(out, &t);
}

fn network_section(out: &mut String, s: &SystemReport) {
    let Some(ns) = &s.network else {
        return;
    };
    heading(out, "Network");
    let mut t = Table::new([
        "Interface",
        "State",
        "Speed",
        "MTU",
        "Addresses",
        "RX",
        "TX",
        "Errors rx/tx",
        "Drops rx/tx",
    ]);
    for n in ns {
        t.row([
            n.name.clone(),
            or_dash(&n.state),
            n.speed_mbps
                .map(|s| format!("{s} Mb/s"))
                .unwrap_or("-".into()),
            or_dash(&n.mtu),
            if n.addresses.is_empty() {
                "-".into()
            } else {
                n.addresses.join(" ")
            },
            bytes(n.rx_bytes),
            bytes(n.tx_bytes),
            format!("{}/{}", or_dash(&n.rx_errors), or_dash(&n.tx_errors)),
            format!("{}/{}", or_dash(&n.rx_dropped), or_dash(&n.tx_dropped)),
        ]);
    }
    table(out, &t);
}

fn processes_section(out: &mut String, s: &SystemReport) {
    let Some(p) = &s.processes else {
        return;
    };
    heading(out, "Top Processes");
    for (title, list) in [("by CPU", &p.by_cpu), ("by memory", &p.by_memory)] {
        let _ = writeln!(out, "  {title}:");
        let mut t = Table::new(["PID", "User", "CPU%", "RSS", "Command"]);
        for x in list {
            t.row([
                x.pid.to_string(),
                x.user.clone(),
                format!("{:.1}", x.cpu_percent),
                human_bytes(x.rss_bytes),
                x.command.clone(),
            ]);
        }
        table(out, &t);
    }
}

fn db_processes_section(out: &mut String, s: &SystemReport) {
    let Some(d) = &s.db_processes else {
        return;
    };
    heading(out, "Database Server Processes");
    if d.is_empty() {
        let _ = writeln!(out, "  no mysqld or mariadbd running");
    } else {
        let mut t = Table::new([
            "PID",
            "Command",
            "User",
            "Port",
            "Socket",
            "Datadir",
            "Open files",
            "RSS",
            "Threads",
            "OOM adj",
        ]);
        for p in d {
            t.row([
                p.pid.to_string(),
                p.command.clone(),
                p.user.clone(),
                or_dash(&p.port),
                or_dash(&p.socket),
                or_dash(&p.datadir),
                or_dash(&p.open_files_limit),
                bytes(p.rss_bytes),
                or_dash(&p.threads),
                or_dash(&p.oom_score_adj),
            ]);
        }
        table(out, &t);
    }
}

fn kernel_section(out: &mut String, s: &SystemReport) {
    let Some(k) = &s.kernel else {
        return;
    };
    heading(out, "Kernel Settings");
    kv(out, "vm.swappiness", or_dash(&k.swappiness));
    kv(
        out,
        "Transparent hugepages",
        format!(
            "enabled={} defrag={}",
            or_dash(&k.thp_enabled),
            or_dash(&k.thp_defrag)
        ),
    );
    kv(
        out,
        "Dirty ratios",
        format!(
            "dirty_ratio={} dirty_background_ratio={}",
            or_dash(&k.dirty_ratio),
            or_dash(&k.dirty_background_ratio)
        ),
    );
    kv(
        out,
        "Dirty bytes",
        format!(
            "dirty_bytes={} dirty_background_bytes={}",
            or_dash(&k.dirty_bytes),
            or_dash(&k.dirty_background_bytes)
        ),
    );
    kv(out, "vm.overcommit_memory", or_dash(&k.overcommit_memory));
    kv(out, "vm.zone_reclaim_mode", or_dash(&k.zone_reclaim_mode));
    kv(out, "kernel.numa_balancing", or_dash(&k.numa_balancing));
    kv(
        out,
        "Open files",
        format!(
            "{} of fs.file-max {}",
            or_dash(&k.files_open),
            or_dash(&k.file_max)
        ),
    );
    kv(
        out,
        "AIO",
        format!(
            "{} of fs.aio-max-nr {}",
            or_dash(&k.aio_nr),
            or_dash(&k.aio_max_nr)
        ),
    );
    kv(
        out,
        "Listen backlog",
        format!(
            "somaxconn={} tcp_max_syn_backlog={}",
            or_dash(&k.somaxconn),
            or_dash(&k.tcp_max_syn_backlog)
        ),
    );
    kv(out, "Local port range", or_dash(&k.ip_local_port_range));
}

fn server(out: &mut String, s: &ServerReport) {
    info_section(out, s);
    replication_section(out, s);
    processlist_section(out, s);
    status_section(out, s);
    plugins_section(out, s);
    schemas_section(out, s);
    engines_section(out, s);
    innodb_section(out, s);
    accounts_section(out, s);
    encryption_section(out, s);
    binlog_section(out, s);
    backup_section(out, s);
}

fn info_section(out: &mut String, s: &ServerReport) {
    let Some(i) = &s.info else {
        return;
    };
    heading(out, "Server");
    kv(out, "Target", &i.target);
    kv(out, "Version", format!("{} ({})", i.version, i.flavor));
    kv(out, "Comment", or_dash(&i.version_comment));
    kv(out, "Hostname", or_dash(&i.hostname));
    kv(
        out,
        "Port / server_id",
        format!("{} / {}", or_dash(&i.port), or_dash(&i.server_id)),
    );
    kv(out, "Connected as", or_dash(&i.current_user));
    kv(
        out,
        "Uptime",
        i.uptime_seconds.map(duration).unwrap_or("-".into()),
    );
    kv(out, "Datadir", or_dash(&i.datadir));
    kv(out, "Read only", yes_no(i.read_only));
    kv(out, "Character set", or_dash(&i.character_set_server));
    kv(
        out,
        "Connections",
        format!(
            "{} connected, {} running, {} max used of {}",
            or_dash(&i.threads_connected),
            or_dash(&i.threads_running),
            or_dash(&i.max_used_connections),
            or_dash(&i.max_connections)
        ),
    );
}

fn replication_section(out: &mut String, s: &ServerReport) {
    let Some(r) = &s.replication else {
        return;
    };
    heading(out, "Replication");
    kv(out, "Role", &r.role);
    kv(out, "GTID position", or_dash(&r.gtid_position));
    kv(
        out,
        "Binary log",
        match &r.binlog_file {
            Some(f) => format!("{f}:{}", or_dash(&r.binlog_position)),
            None => "-".into(),
        },
    );
    for c in &r.channels {
        let name = if c.name.is_empty() {
            "(default)".to_string()
        } else {
            c.name.clone()
        };
        kv(out, "Channel", name);
        kv(
            out,
            "Source",
            format!("{}:{}", or_dash(&c.source_host), or_dash(&c.source_port)),
        );
        kv(
            out,
            "Threads",
            format!(
                "IO {} ({}), SQL {} ({})",
                or_dash(&c.io_running),
                or_dash(&c.io_state),
                or_dash(&c.sql_running),
                or_dash(&c.sql_state)
            ),
        );
        kv(
            out,
            "Lag",
            c.seconds_behind
                .map(|s| format!("{s} s"))
                .unwrap_or("unknown".into()),
        );
        kv(out, "Using GTID", or_dash(&c.using_gtid));
        kv(out, "GTID received", or_dash(&c.gtid_received));
        kv(out, "GTID applied", or_dash(&c.gtid_applied));
        kv(
            out,
            "Source log executed",
            format!(
                "{}:{}",
                or_dash(&c.source_log_file),
                or_dash(&c.exec_source_log_pos)
            ),
        );
        if let Some(e) = &c.last_io_error {
            kv(out, "Last IO error", e);
        }
        if let Some(e) = &c.last_sql_error {
            kv(out, "Last SQL error", e);
        }
    }
    kv(
        out,
        "Replicas",
        format!(
            "{} registered, {} binlog dump threads",
            r.replicas.len(),
            r.binlog_dump_threads
        ),
    );
    if !r.replicas.is_empty() {
        let mut t = Table::new(["Server id", "Host", "Port"]);
        for x in &r.replicas {
            t.row([or_dash(&x.server_id), or_dash(&x.host), or_dash(&x.port)]);
        }
        table(out, &t);
    }
}

fn processlist_section(out: &mut String, s: &ServerReport) {
    let Some(p) = &s.processlist else {
        return;
    };
    heading(out, "Processlist");
    kv(out, "Threads", format!("{} ({} active)", p.total, p.active));
    for (title, list) in [
        ("Command", &p.by_command),
        ("User", &p.by_user),
        ("Host", &p.by_host),
        ("db", &p.by_db),
        ("State", &p.by_state),
    ] {
        let mut t = Table::new([title, "Count"]);
        for c in list.iter().take(10) {
            t.row([c.value.clone(), c.count.to_string()]);
        }
        table(out, &t);
    }
    if p.longest_transactions.is_empty() {
        let _ = writeln!(out, "  no open InnoDB transactions");
    } else {
        let _ = writeln!(out, "  longest-running transactions:");
        let mut t = Table::new([
            "Trx", "State", "Age", "Thread", "User", "Host", "Locked", "Modified", "Query",
        ]);
        for x in &p.longest_transactions {
            t.row([
                or_dash(&x.trx_id),
                or_dash(&x.state),
                x.age_seconds
                    .map(|a| format!("{a} s"))
                    .unwrap_or("-".into()),
                or_dash(&x.thread_id),
                or_dash(&x.user),
                or_dash(&x.host),
                or_dash(&x.rows_locked),
                or_dash(&x.rows_modified),
                or_dash(&x.query),
            ]);
        }
        table(out, &t);
    }
}

fn status_section(out: &mut String, s: &ServerReport) {
    let Some(st) = &s.status else {
        return;
    };
    heading(out, "Status Counters");
    kv(
        out,
        "Rates",
        if st.basis == crate::server::Basis::Interval {
            format!("per second over {} s", st.interval_seconds)
        } else {
            "per second since start-up (--sleep 0)".into()
        },
    );
    let mut t = Table::new(["Counter", "Total", "Per second"]);
    for c in &st.counters {
        t.row([
            c.name.clone(),
            c.value.to_string(),
            format!("{:.2}", c.per_second),
        ]);
    }
    table(out, &t);
}

fn plugins_section(out: &mut String, s: &ServerReport) {
    let Some(p) = &s.plugins else {
        return;
    };
    heading(out, "Plugins");
    if p.is_empty() {
        let _ = writeln!(out, "  no plugins loaded from libraries");
    } else {
        let mut t = Table::new(["Plugin", "Status", "Type", "Library"]);
        for x in p {
            t.row([
                x.name.clone(),
                or_dash(&x.status),
                or_dash(&x.plugin_type),
                or_dash(&x.library),
            ]);
        }
        table(out, &t);
    }
}

fn schemas_section(out: &mut String, s: &ServerReport) {
    let Some(sc) = &s.schemas else {
        return;
    };
    heading(out, "Schemas");
    let mut t = Table::new(["Schema", "Tables", "Rows", "Data", "Indexes", "Free"]);
    for x in sc {
        t.row([
            x.name.clone(),
            x.tables.to_string(),
            x.rows.to_string(),
            human_bytes(x.data_bytes),
            human_bytes(x.index_bytes),
            human_bytes(x.free_bytes),
        ]);
    }
    table(out, &t);
}

fn engines_section(out: &mut String, s: &ServerReport) {
    let Some(e) = &s.engines else {
        return;
    };
    heading(out, "Storage Engines");
    let mut t = Table::new(["Engine", "Support", "Transactions", "User tables", "Size"]);
    for x in e {
        t.row([
            x.name.clone(),
            x.support.clone(),
            yes_no(x.transactions),
            x.tables.to_string(),
            human_bytes(x.bytes),
        ]);
    }
    table(out, &t);
}

fn innodb_section(out: &mut String, s: &ServerReport) {
    let Some(i) = &s.innodb else {
        return;
    };
    heading(out, "InnoDB");
    kv(out, "Buffer pool", bytes(i.buffer_pool_bytes));
    kv(
        out,
        "Buffer pool use",
        format!(
            "{}% full, {}% dirty, {}% hit rate",
            or_dash(&i.buffer_pool_fill_percent),
            or_dash(&i.buffer_pool_dirty_percent),
            or_dash(&i.buffer_pool_hit_percent)
        ),
    );
    kv(out, "Redo capacity", bytes(i.redo_capacity_bytes));
    kv(
        out,
        "Checkpoint age",
        format!(
            "{} ({}% of capacity)",
            bytes(i.checkpoint_age_bytes),
            or_dash(&i.checkpoint_age_percent)
        ),
    );
    kv(out, "History list length", or_dash(&i.history_list_length));
    kv(
        out,
        "Deadlocks / lock waits",
        format!("{} / {}", or_dash(&i.deadlocks), or_dash(&i.row_lock_waits)),
    );
    kv(
        out,
        "Flush log at commit",
        or_dash(&i.flush_log_at_trx_commit),
    );
    kv(out, "Flush method", or_dash(&i.flush_method));
    kv(out, "File per table", or_dash(&i.file_per_table));
    kv(out, "IO capacity", or_dash(&i.io_capacity));
}

fn accounts_section(out: &mut String, s: &ServerReport) {
    let Some(a) = &s.accounts else {
        return;
    };
    heading(out, "Accounts");
    kv(out, "Accounts", a.total.to_string());
    kv(
        out,
        "Without password",
        if a.without_password.is_empty() {
            "none".into()
        } else {
            a.without_password.join(", ")
        },
    );
    kv(
        out,
        "Wildcard host",
        if a.wildcard_host.is_empty() {
            "none".into()
        } else {
            a.wildcard_host.join(", ")
        },
    );
}

fn encryption_section(out: &mut String, s: &ServerReport) {
    let Some(e) = &s.encryption else {
        return;
    };
    heading(out, "Encryption");
    let mut t = Table::new(["Variable", "Value"]);
    for x in &e.settings {
        t.row([x.name.clone(), x.value.clone()]);
    }
    table(out, &t);
    kv(
        out,
        "Key plugins",
        if e.key_plugins.is_empty() {
            "none".into()
        } else {
            e.key_plugins.join(", ")
        },
    );
    kv(out, "Encrypted tables", or_dash(&e.encrypted_tables));
    kv(
        out,
        "Encrypted tablespaces",
        or_dash(&e.encrypted_tablespaces),
    );
}

fn binlog_section(out: &mut String, s: &ServerReport) {
    let Some(b) = &s.binlog else {
        return;
    };
    heading(out, "Binary Logging");
    kv(out, "Enabled", yes_no(Some(b.enabled)));
    kv(out, "Format", or_dash(&b.format));
    kv(
        out,
        "Files",
        format!("{} totalling {}", or_dash(&b.files), bytes(b.total_bytes)),
    );
    kv(
        out,
        "Retention",
        match b.retention_seconds {
            Some(0) => "forever (never purged)".into(),
            Some(s) => duration(s),
            None => "-".into(),
        },
    );
    kv(out, "sync_binlog", or_dash(&b.sync_binlog));
    kv(out, "max_binlog_size", bytes(b.max_binlog_size));
    kv(out, "Row image", or_dash(&b.row_image));
    kv(out, "Log replica updates", or_dash(&b.log_replica_updates));
    kv(out, "GTID mode", or_dash(&b.gtid_mode));
}

fn backup_section(out: &mut String, s: &ServerReport) {
    let Some(b) = &s.backup else {
        return;
    };
    heading(out, "Backup");
    kv(out, "Lock method", &b.lock_method);
    kv(out, "Point-in-time recovery", yes_no(Some(b.pitr_possible)));
    kv(
        out,
        "Non-transactional",
        if b.non_transactional_tables == 0 {
            "no user tables".into()
        } else {
            format!(
                "{} user tables ({})",
                b.non_transactional_tables,
                b.non_transactional_engines.join(", ")
            )
        },
    );
    kv(
        out,
        "Waiting for locks",
        format!("{} threads", b.threads_waiting_for_locks),
    );
}
