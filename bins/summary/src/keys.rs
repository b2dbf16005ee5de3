//! The documented interface: sections and JSON keys, written once.
//!
//! One macro turns the lists below into [`SECTION_DOCS`], [`JSON_KEYS`]
//! (tests check the real output against it, both ways) and
//! [`MAN_DESCRIPTION`] (the man page's DESCRIPTION paragraphs, used by
//! `cargo xtask man`), so the page cannot document a key the tool does not
//! print or miss one it does. Renaming a key is a breaking change.
//!
//! Key paths use `.` between object members and `[]` for "each element of
//! this array".

macro_rules! documented {
    (
        intro: [$($intro:literal),* $(,)?],
        sections: [$($s:literal => $sd:literal),* $(,)?],
        middle: [$($mid:literal),* $(,)?],
        keys: [$($k:literal => $kd:literal),* $(,)?] $(,)?
    ) => {
        /// Every section with what it shows, in report order.
        pub const SECTION_DOCS: &[(&str, &str)] = &[$(($s, $sd)),*];
        /// Every JSON key path with its meaning.
        pub const JSON_KEYS: &[(&str, &str)] = &[$(($k, $kd)),*];
        /// The man page's DESCRIPTION paragraphs (after `long_about`).
        pub const MAN_DESCRIPTION: &[&str] = &[
            $($intro,)*
            $(concat!("Section `", $s, "`: ", $sd),)*
            $($mid,)*
            $(concat!("`", $k, "`: ", $kd),)*
        ];
    };
}

documented! {
    intro: [
        "Use it when you take over a server, before and after a change, or at the start \
         of an incident: one command gives the picture that otherwise takes a dozen \
         queries and a look around the operating system. It only reads; it changes \
         nothing on the host or the server.",
        "The report has two halves. The host half reads /proc, /sys and /etc of the \
         machine ox-summary runs on (no commands are run); it is left out with \
         `--no-system`, and automatically when the server named is on another host. \
         The server half connects to one server, named by a DSN, a URL or the connection \
         options; without any, the local server is reached by its default socket, or by \
         the socket on the command line of a mysqld or mariadbd running here. It is left \
         out with `--no-server`. Counters are read twice, `--sleep` seconds apart \
         (default 3), and shown as rates per second over that interval; `--sleep 0` \
         reports rates since start-up at once.",
        "When the server cannot be reached, the host half is still printed, the error is \
         shown as a note and under Errors, and the exit status is 1. Queries refused for \
         lack of privileges leave their figures empty and are listed under Errors; the \
         exit status stays 0. The account needs PROCESS, REPLICATION CLIENT (SLAVE \
         MONITOR on MariaDB) and SELECT on the mysql schema for a full report.",
        "`--save-samples` <dir> writes the raw inputs (every file read, every query \
         result) to <dir>/samples.json; `--read-samples` <dir> renders the report from \
         them on any machine, for example when a support case attaches them. The same \
         samples always render the same report, byte for byte: the capture time and \
         the measured interval are part of the samples.",
        "`--sections` chooses sections by name, comma-separated; the report keeps the \
         order below, which follows pt-summary and pt-mysql-summary where they overlap. \
         The sections are:",
    ],
    sections: [
        "host" => "host name, distribution, kernel, architecture, uptime, virtual machine or container, load average, process count.",
        "cpu" => "processor model, sockets, cores and threads, clock speed and governor, CPU busy, iowait and steal percentages.",
        "memory" => "memory, free and available memory, page cache, dirty pages, swap, huge pages, NUMA nodes.",
        "mounts" => "mounted filesystems with type, size, use and mount options (network filesystems are listed without sizes, never queried).",
        "disks" => "block devices with size, rotational flag, I/O scheduler, queue depth (nr_requests), read-ahead and model.",
        "network" => "interfaces with state, speed, MTU, addresses and byte, error and drop counters.",
        "processes" => "the ten processes using the most CPU and the ten using the most memory.",
        "db-processes" => "mysqld and mariadbd processes running on the host, with datadir, port and socket from their command lines, open-files limit, memory, threads and OOM adjustment.",
        "kernel" => "kernel settings that matter to databases: swappiness, transparent huge pages, dirty page ratios, overcommit, zone reclaim, NUMA balancing, file and AIO limits, listen backlog, local port range.",
        "server" => "flavour and version, host name, port, server id, account connected as, uptime, datadir, read_only, character set, connections.",
        "replication" => "role (source, replica, both or standalone), GTID position, binary log position, each replication channel (source, thread states, lag, GTIDs received and applied, errors) and the replicas connected.",
        "processlist" => "threads by command, user, client host, database and state, and the oldest open InnoDB transactions.",
        "status" => "key status counters with their rates per second.",
        "plugins" => "plugins loaded from shared libraries.",
        "schemas" => "each schema's table count, rows, data, index and free size, from information_schema.",
        "engines" => "storage engines the server supports, whether they are transactional, and how many user tables use them.",
        "innodb" => "buffer pool size, fill, dirty pages and hit rate, redo capacity and checkpoint age, history list length, deadlocks, lock waits and durability settings.",
        "accounts" => "accounts that log in without a password, and accounts whose host is a wildcard (roles and locked accounts are skipped).",
        "encryption" => "encryption-at-rest settings, key management plugins, encrypted tables and tablespaces.",
        "binlog" => "binary log state, format, files and size, retention, sync_binlog, row image, log_replica_updates, GTID mode.",
        "backup" => "how a hot backup locks this server, whether point-in-time recovery is possible, non-transactional user tables, threads waiting for backup locks.",
        "notes" => "findings a senior DBA would point out, warnings first, each with the figures behind it: swap in use, transparent huge pages always on, high swappiness, a full filesystem, a low open-files limit, high load, CPU steal, the buffer pool above 90% of memory or small for the data, innodb_flush_log_at_trx_commit or sync_binlog other than 1 on a primary, replication stopped or lagging, a writable replica, no binary log or one never purged, a long history list, a long transaction, a high checkpoint age, accounts without a password or with wildcard hosts, connections near max_connections, buffer pool misses, non-transactional tables, and failed queries.",
    ],
    middle: [
        "With `--format json` the report is one JSON document with the keys below. They \
         are stable: a key may be added in a later version, never renamed or removed \
         without notice. A section not chosen is absent from its half; a figure that \
         could not be read is null. Sizes are in bytes, times in seconds, percentages \
         from 0 to 100.",
    ],
    keys: [
        "tool" => "always \"ox-summary\".",
        "captured_by" => "version of the ox-summary that captured the samples.",
        "captured_at" => "capture time, seconds since the Unix epoch.",
        "captured_at_utc" => "capture time as YYYY-MM-DD HH:MM:SS UTC.",
        "sleep" => "the --sleep of the capture, seconds.",
        "sections" => "the sections in this report, in order.",
        "system" => "the host half; null when not collected (see skipped).",
        "system.host" => "host identity and load.",
        "system.host.hostname" => "host name.",
        "system.host.os" => "distribution (PRETTY_NAME of /etc/os-release).",
        "system.host.kernel" => "kernel release.",
        "system.host.arch" => "machine architecture.",
        "system.host.uptime_seconds" => "seconds since boot.",
        "system.host.virtualization" => "virtual machine and container detected, or \"none detected\".",
        "system.host.load_average" => "load averages over 1, 5 and 15 minutes.",
        "system.host.processes" => "processes running.",
        "system.cpu" => "processors.",
        "system.cpu.model" => "model name.",
        "system.cpu.sockets" => "physical packages.",
        "system.cpu.cores" => "physical cores, all sockets.",
        "system.cpu.threads" => "logical processors.",
        "system.cpu.mhz" => "highest current clock among processors, MHz.",
        "system.cpu.max_mhz" => "maximum clock from cpufreq, MHz.",
        "system.cpu.governor" => "cpufreq governor.",
        "system.cpu.busy_percent" => "CPU time busy, over the interval (or since boot with --sleep 0).",
        "system.cpu.iowait_percent" => "CPU time waiting for I/O.",
        "system.cpu.steal_percent" => "CPU time taken by the hypervisor.",
        "system.memory" => "memory and swap.",
        "system.memory.total_bytes" => "physical memory.",
        "system.memory.free_bytes" => "unused memory.",
        "system.memory.available_bytes" => "memory available without swapping.",
        "system.memory.cached_bytes" => "page cache.",
        "system.memory.buffers_bytes" => "buffers.",
        "system.memory.dirty_bytes" => "dirty pages waiting for writeback.",
        "system.memory.swap_total_bytes" => "swap space.",
        "system.memory.swap_used_bytes" => "swap in use.",
        "system.memory.hugepages_total" => "huge pages reserved.",
        "system.memory.hugepage_size_bytes" => "huge page size.",
        "system.memory.numa_nodes" => "NUMA nodes.",
        "system.memory.numa_nodes[].node" => "node number.",
        "system.memory.numa_nodes[].cpus" => "CPUs of the node.",
        "system.memory.numa_nodes[].total_bytes" => "memory of the node.",
        "system.memory.numa_nodes[].free_bytes" => "free memory of the node.",
        "system.mounts" => "mounted filesystems, one per mount point.",
        "system.mounts[].device" => "device.",
        "system.mounts[].mount_point" => "mount point.",
        "system.mounts[].fs_type" => "filesystem type.",
        "system.mounts[].options" => "mount options.",
        "system.mounts[].total_bytes" => "size.",
        "system.mounts[].used_bytes" => "space used.",
        "system.mounts[].avail_bytes" => "space available to unprivileged users.",
        "system.mounts[].used_percent" => "used / (used + available), as df computes it.",
        "system.disks" => "block devices (empty loop and RAM devices left out).",
        "system.disks[].name" => "kernel name.",
        "system.disks[].size_bytes" => "size.",
        "system.disks[].rotational" => "true for a spinning disk.",
        "system.disks[].scheduler" => "I/O scheduler in use.",
        "system.disks[].nr_requests" => "queue depth.",
        "system.disks[].read_ahead_kb" => "read-ahead, KiB.",
        "system.disks[].model" => "device model.",
        "system.network" => "network interfaces.",
        "system.network[].name" => "interface name.",
        "system.network[].state" => "operational state.",
        "system.network[].speed_mbps" => "link speed, Mb/s.",
        "system.network[].mtu" => "MTU.",
        "system.network[].mac" => "hardware address.",
        "system.network[].addresses" => "addresses with prefix length.",
        "system.network[].rx_bytes" => "bytes received since boot.",
        "system.network[].tx_bytes" => "bytes sent since boot.",
        "system.network[].rx_errors" => "receive errors.",
        "system.network[].tx_errors" => "transmit errors.",
        "system.network[].rx_dropped" => "received packets dropped.",
        "system.network[].tx_dropped" => "sent packets dropped.",
        "system.processes" => "top processes.",
        "system.processes.by_cpu" => "highest CPU use first (the fields of each entry are those of by_memory).",
        "system.processes.by_cpu[].pid" => "PID.",
        "system.processes.by_cpu[].user" => "owner.",
        "system.processes.by_cpu[].command" => "command name.",
        "system.processes.by_cpu[].cpu_percent" => "CPU use in percent of one processor, over the interval (or over the process's life with --sleep 0).",
        "system.processes.by_cpu[].rss_bytes" => "resident memory.",
        "system.processes.by_memory" => "largest resident memory first.",
        "system.processes.by_memory[].pid" => "PID.",
        "system.processes.by_memory[].user" => "owner.",
        "system.processes.by_memory[].command" => "command name.",
        "system.processes.by_memory[].cpu_percent" => "CPU use, as in by_cpu.",
        "system.processes.by_memory[].rss_bytes" => "resident memory.",
        "system.db_processes" => "mysqld and mariadbd processes on the host.",
        "system.db_processes[].pid" => "PID.",
        "system.db_processes[].command" => "mysqld or mariadbd.",
        "system.db_processes[].user" => "owner.",
        "system.db_processes[].datadir" => "--datadir, else the process's working directory.",
        "system.db_processes[].port" => "--port.",
        "system.db_processes[].socket" => "--socket.",
        "system.db_processes[].defaults_file" => "--defaults-file.",
        "system.db_processes[].open_files_limit" => "soft limit on open files from /proc/PID/limits (\"unlimited\" possible).",
        "system.db_processes[].rss_bytes" => "resident memory.",
        "system.db_processes[].threads" => "threads.",
        "system.db_processes[].oom_score_adj" => "OOM score adjustment.",
        "system.kernel" => "kernel settings.",
        "system.kernel.swappiness" => "vm.swappiness.",
        "system.kernel.thp_enabled" => "transparent huge pages mode (always, madvise, never).",
        "system.kernel.thp_defrag" => "transparent huge pages defrag mode.",
        "system.kernel.dirty_ratio" => "vm.dirty_ratio.",
        "system.kernel.dirty_background_ratio" => "vm.dirty_background_ratio.",
        "system.kernel.dirty_bytes" => "vm.dirty_bytes.",
        "system.kernel.dirty_background_bytes" => "vm.dirty_background_bytes.",
        "system.kernel.overcommit_memory" => "vm.overcommit_memory.",
        "system.kernel.zone_reclaim_mode" => "vm.zone_reclaim_mode.",
        "system.kernel.numa_balancing" => "kernel.numa_balancing.",
        "system.kernel.file_max" => "fs.file-max.",
        "system.kernel.files_open" => "file handles allocated (fs.file-nr).",
        "system.kernel.aio_max_nr" => "fs.aio-max-nr.",
        "system.kernel.aio_nr" => "fs.aio-nr.",
        "system.kernel.somaxconn" => "net.core.somaxconn.",
        "system.kernel.tcp_max_syn_backlog" => "net.ipv4.tcp_max_syn_backlog.",
        "system.kernel.ip_local_port_range" => "net.ipv4.ip_local_port_range as low-high.",
        "server" => "the server half; null when not asked for or not reachable.",
        "server.info" => "the server section.",
        "server.info.target" => "the target as connected to, user@host:port, never with the password.",
        "server.info.flavor" => "MySQL, Percona Server or MariaDB.",
        "server.info.version" => "VERSION().",
        "server.info.version_comment" => "@@version_comment.",
        "server.info.hostname" => "@@hostname.",
        "server.info.port" => "@@port.",
        "server.info.server_id" => "@@server_id.",
        "server.info.current_user" => "CURRENT_USER().",
        "server.info.uptime_seconds" => "seconds since the server started.",
        "server.info.datadir" => "@@datadir.",
        "server.info.read_only" => "@@read_only.",
        "server.info.character_set_server" => "@@character_set_server.",
        "server.info.max_connections" => "@@max_connections.",
        "server.info.threads_connected" => "Threads_connected.",
        "server.info.threads_running" => "Threads_running.",
        "server.info.max_used_connections" => "Max_used_connections.",
        "server.replication" => "replication role and state.",
        "server.replication.role" => "source, replica, \"source and replica\", or standalone.",
        "server.replication.gtid_position" => "GTID position (MariaDB gtid_current_pos, MySQL gtid_executed).",
        "server.replication.binlog_file" => "current binary log file.",
        "server.replication.binlog_position" => "position in it.",
        "server.replication.channels" => "replication channels of this server as a replica.",
        "server.replication.channels[].name" => "channel (connection) name, empty for the default one.",
        "server.replication.channels[].source_host" => "source host.",
        "server.replication.channels[].source_port" => "source port.",
        "server.replication.channels[].io_running" => "I/O thread: Yes, No or Connecting.",
        "server.replication.channels[].sql_running" => "SQL thread: Yes or No.",
        "server.replication.channels[].io_state" => "I/O thread state.",
        "server.replication.channels[].sql_state" => "SQL thread state.",
        "server.replication.channels[].seconds_behind" => "seconds behind the source; null when unknown (a stopped thread).",
        "server.replication.channels[].using_gtid" => "Using_Gtid (MariaDB) or Auto_Position (MySQL).",
        "server.replication.channels[].gtid_received" => "GTIDs received.",
        "server.replication.channels[].gtid_applied" => "GTIDs applied.",
        "server.replication.channels[].source_log_file" => "source binary log being executed.",
        "server.replication.channels[].exec_source_log_pos" => "position executed in it.",
        "server.replication.channels[].last_io_error" => "last I/O thread error.",
        "server.replication.channels[].last_sql_error" => "last SQL thread error.",
        "server.replication.replicas" => "replicas registered with this server (SHOW SLAVE HOSTS / SHOW REPLICAS).",
        "server.replication.replicas[].server_id" => "the replica's server_id.",
        "server.replication.replicas[].host" => "its report_host.",
        "server.replication.replicas[].port" => "its report_port.",
        "server.replication.binlog_dump_threads" => "binlog dump threads: replicas connected, registered or not.",
        "server.processlist" => "processlist summary (this session left out).",
        "server.processlist.total" => "threads.",
        "server.processlist.active" => "client threads not sleeping (daemons, binlog dumps and replication threads left out).",
        "server.processlist.by_user" => "threads per user, most first (each entry has value and count).",
        "server.processlist.by_user[].value" => "the user.",
        "server.processlist.by_user[].count" => "its threads.",
        "server.processlist.by_host" => "threads per client host, port removed ((none) for server threads), entries as in by_user.",
        "server.processlist.by_host[].value" => "the host.",
        "server.processlist.by_host[].count" => "its threads.",
        "server.processlist.by_db" => "threads per default database (NULL for none), entries as in by_user.",
        "server.processlist.by_db[].value" => "the database.",
        "server.processlist.by_db[].count" => "its threads.",
        "server.processlist.by_command" => "threads per command, entries as in by_user.",
        "server.processlist.by_command[].value" => "the command.",
        "server.processlist.by_command[].count" => "its threads.",
        "server.processlist.by_state" => "threads per state ((none) for an empty state), entries as in by_user.",
        "server.processlist.by_state[].value" => "the state.",
        "server.processlist.by_state[].count" => "its threads.",
        "server.processlist.longest_transactions" => "up to 10 open InnoDB transactions, oldest first.",
        "server.processlist.longest_transactions[].trx_id" => "transaction id.",
        "server.processlist.longest_transactions[].state" => "transaction state.",
        "server.processlist.longest_transactions[].age_seconds" => "seconds since it started.",
        "server.processlist.longest_transactions[].thread_id" => "processlist id.",
        "server.processlist.longest_transactions[].user" => "user.",
        "server.processlist.longest_transactions[].host" => "client host.",
        "server.processlist.longest_transactions[].rows_locked" => "rows locked.",
        "server.processlist.longest_transactions[].rows_modified" => "rows modified.",
        "server.processlist.longest_transactions[].query" => "statement running, first 120 characters.",
        "server.status" => "status counter rates.",
        "server.status.basis" => "\"interval\" (two readings) or \"since start\" (--sleep 0).",
        "server.status.interval_seconds" => "seconds between the two readings, 0 for since start.",
        "server.status.counters" => "the counters, in a fixed order.",
        "server.status.counters[].name" => "status variable.",
        "server.status.counters[].value" => "its value at the last reading.",
        "server.status.counters[].per_second" => "its rate per second.",
        "server.plugins" => "plugins loaded from shared libraries.",
        "server.plugins[].name" => "plugin name.",
        "server.plugins[].status" => "plugin status.",
        "server.plugins[].plugin_type" => "plugin type.",
        "server.plugins[].library" => "shared library.",
        "server.schemas" => "schemas with base tables.",
        "server.schemas[].name" => "schema name.",
        "server.schemas[].tables" => "base tables.",
        "server.schemas[].rows" => "rows (information_schema.TABLES.TABLE_ROWS, an estimate for InnoDB).",
        "server.schemas[].data_bytes" => "data size.",
        "server.schemas[].index_bytes" => "index size.",
        "server.schemas[].free_bytes" => "allocated but free.",
        "server.engines" => "storage engines supported.",
        "server.engines[].name" => "engine.",
        "server.engines[].support" => "YES or DEFAULT.",
        "server.engines[].transactions" => "true when transactional.",
        "server.engines[].tables" => "user tables using it (system schemas left out).",
        "server.engines[].bytes" => "their data and index size.",
        "server.innodb" => "InnoDB.",
        "server.innodb.buffer_pool_bytes" => "innodb_buffer_pool_size.",
        "server.innodb.buffer_pool_fill_percent" => "buffer pool pages in use.",
        "server.innodb.buffer_pool_dirty_percent" => "buffer pool pages dirty.",
        "server.innodb.buffer_pool_hit_percent" => "page reads served from memory, over the interval or since start.",
        "server.innodb.redo_capacity_bytes" => "redo log capacity.",
        "server.innodb.checkpoint_age_bytes" => "redo written since the last checkpoint.",
        "server.innodb.checkpoint_age_percent" => "checkpoint age in percent of the redo capacity.",
        "server.innodb.history_list_length" => "undo history not yet purged.",
        "server.innodb.deadlocks" => "deadlocks since start-up (null where the server does not count them).",
        "server.innodb.row_lock_waits" => "row lock waits since start-up.",
        "server.innodb.flush_log_at_trx_commit" => "innodb_flush_log_at_trx_commit.",
        "server.innodb.flush_method" => "innodb_flush_method.",
        "server.innodb.file_per_table" => "innodb_file_per_table.",
        "server.innodb.io_capacity" => "innodb_io_capacity.",
        "server.accounts" => "accounts worth a look.",
        "server.accounts.total" => "accounts read (roles and locked accounts left out).",
        "server.accounts.without_password" => "'user'@'host' of accounts that log in without a password.",
        "server.accounts.wildcard_host" => "'user'@'host' of accounts whose host contains %.",
        "server.encryption" => "encryption at rest.",
        "server.encryption.settings" => "the encryption variables this server has.",
        "server.encryption.settings[].name" => "variable.",
        "server.encryption.settings[].value" => "value.",
        "server.encryption.key_plugins" => "key management and keyring plugins loaded.",
        "server.encryption.encrypted_tables" => "tables created with an encryption option.",
        "server.encryption.encrypted_tablespaces" => "encrypted InnoDB tablespaces (MariaDB; null elsewhere).",
        "server.binlog" => "the binary log.",
        "server.binlog.enabled" => "log_bin.",
        "server.binlog.format" => "binlog_format.",
        "server.binlog.files" => "binary log files.",
        "server.binlog.total_bytes" => "their total size.",
        "server.binlog.retention_seconds" => "how long binary logs are kept; 0 means forever.",
        "server.binlog.sync_binlog" => "sync_binlog.",
        "server.binlog.max_binlog_size" => "max_binlog_size.",
        "server.binlog.row_image" => "binlog_row_image.",
        "server.binlog.log_replica_updates" => "log_slave_updates / log_replica_updates.",
        "server.binlog.gtid_mode" => "MySQL gtid_mode, MariaDB gtid_strict_mode.",
        "server.backup" => "what matters to backups.",
        "server.backup.lock_method" => "how a hot backup blocks writes on this server.",
        "server.backup.pitr_possible" => "true when point-in-time recovery is possible (binary log on).",
        "server.backup.non_transactional_tables" => "user tables in engines without transactions.",
        "server.backup.non_transactional_engines" => "those engines.",
        "server.backup.threads_waiting_for_locks" => "threads waiting for a backup or global read lock.",
        "notes" => "findings, warnings first; absent when the notes section is not chosen.",
        "notes[].id" => "stable identifier, for example swap-used or replica-lag.",
        "notes[].severity" => "warning or info.",
        "notes[].message" => "what it means.",
        "notes[].evidence" => "the figures it rests on.",
        "errors" => "problems met while collecting: server unreachable, queries refused.",
        "skipped" => "half name (system or server) to why it was not collected.",
        "server_unreachable" => "true when the server was asked for and could not be reached (the exit status is then 1).",
    ],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_documented_in_order() {
        let names: Vec<&str> = SECTION_DOCS.iter().map(|(n, _)| *n).collect();
        let all: Vec<&str> = crate::report::Section::ALL
            .iter()
            .map(|s| s.name())
            .collect();
        assert_eq!(names, all);
    }

    #[test]
    fn keys_are_unique_and_parents_listed() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, _) in JSON_KEYS {
            assert!(seen.insert(*k), "{k} twice");
            if let Some((parent, _)) = k.rsplit_once('.') {
                let parent = parent.trim_end_matches("[]");
                assert!(seen.contains(parent), "{k} before its parent {parent}");
            }
        }
        assert!(MAN_DESCRIPTION.len() > JSON_KEYS.len() + SECTION_DOCS.len());
    }
}
