//! Collection: reads the host and queries the server into [`Samples`].
//!
//! This is the only module that touches the machine, the clock or the
//! network. It reads files rather than running commands, and keeps what it
//! read as text so the analysis can be replayed from a saved sample set.
//! Nothing here fails the run: an unreadable file is simply absent, a failed
//! query keeps its error next to its name.

use crate::samples::{FsSpace, IfAddr, QueryResult, ServerSamples, SystemSamples};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::{self, ConnSpec};
use oxkit::server::{Flavor, Server};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Process names that are database servers.
pub const DB_PROCESS_NAMES: &[&str] = &["mysqld", "mariadbd"];

/// Filesystem types that are not storage (no point in their space figures).
pub const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "devpts",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "devtmpfs",
    "efivarfs",
    "selinuxfs",
];

/// Network filesystems: statvfs on a dead server hangs, so they are listed
/// without space figures.
pub const NETWORK_FS: &[&str] = &["nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p"];

/// Files read once, whatever the host.
const FIXED_FILES: &[&str] = &[
    "/etc/os-release",
    "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/osrelease",
    "/proc/version",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/cpuinfo",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/self/mounts",
    "/proc/net/dev",
    "/proc/1/cgroup",
    "/run/systemd/container",
    "/sys/class/dmi/id/sys_vendor",
    "/sys/class/dmi/id/product_name",
    "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor",
    "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
    "/sys/kernel/mm/transparent_hugepage/enabled",
    "/sys/kernel/mm/transparent_hugepage/defrag",
    "/proc/sys/vm/swappiness",
    "/proc/sys/vm/dirty_ratio",
    "/proc/sys/vm/dirty_background_ratio",
    "/proc/sys/vm/dirty_bytes",
    "/proc/sys/vm/dirty_background_bytes",
    "/proc/sys/vm/overcommit_memory",
    "/proc/sys/vm/zone_reclaim_mode",
    "/proc/sys/kernel/numa_balancing",
    "/proc/sys/fs/file-max",
    "/proc/sys/fs/file-nr",
    "/proc/sys/fs/aio-max-nr",
    "/proc/sys/fs/aio-nr",
    "/proc/sys/net/core/somaxconn",
    "/proc/sys/net/ipv4/tcp_max_syn_backlog",
    "/proc/sys/net/ipv4/ip_local_port_range",
];

/// Marker files whose existence tells a container (contents irrelevant).
const MARKERS: &[&str] = &["/.dockerenv", "/run/.containerenv"];

fn read(files: &mut BTreeMap<String, String>, path: &str) {
    if let Ok(bytes) = std::fs::read(path) {
        files.insert(
            path.to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        );
    }
}

fn list_dir(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn pids() -> Vec<u32> {
    let mut v: Vec<u32> = list_dir("/proc")
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// The command name inside `/proc/PID/stat` (between the first `(` and the
/// last `)`, since the name itself may hold parentheses).
pub fn stat_comm(stat: &str) -> Option<&str> {
    let a = stat.find('(')?;
    let b = stat.rfind(')')?;
    stat.get(a + 1..b)
}

/// Reads the host.
pub fn system_first() -> SystemSamples {
    let mut s = SystemSamples {
        arch: std::env::consts::ARCH.to_string(),
        ..SystemSamples::default()
    };
    let f = &mut s.files;
    for p in FIXED_FILES {
        read(f, p);
    }
    for m in MARKERS {
        if Path::new(m).exists() {
            f.insert((*m).to_string(), String::new());
        }
    }
    // Only names and ids from /etc/passwd: process owners, nothing else.
    if let Ok(text) = std::fs::read_to_string("/etc/passwd") {
        let short: String = text
            .lines()
            .filter_map(|l| {
                let mut it = l.split(':');
                let (name, _, uid) = (it.next()?, it.next()?, it.next()?);
                Some(format!("{name}:x:{uid}\n"))
            })
            .collect();
        f.insert("/etc/passwd".into(), short);
    }
    for node in list_dir("/sys/devices/system/node") {
        if node.starts_with("node") && node[4..].chars().all(|c| c.is_ascii_digit()) {
            read(f, &format!("/sys/devices/system/node/{node}/meminfo"));
            read(f, &format!("/sys/devices/system/node/{node}/cpulist"));
        }
    }
    for dev in list_dir("/sys/block") {
        let base = format!("/sys/block/{dev}");
        for leaf in [
            "size",
            "queue/scheduler",
            "queue/rotational",
            "queue/nr_requests",
            "queue/read_ahead_kb",
            "device/model",
        ] {
            read(f, &format!("{base}/{leaf}"));
        }
    }
    for nic in list_dir("/sys/class/net") {
        let base = format!("/sys/class/net/{nic}");
        for leaf in ["operstate", "speed", "mtu", "address", "duplex"] {
            read(f, &format!("{base}/{leaf}"));
        }
    }
    for pid in pids() {
        let base = format!("/proc/{pid}");
        let Ok(stat) = std::fs::read_to_string(format!("{base}/stat")) else {
            continue;
        };
        let is_db = stat_comm(&stat).is_some_and(|c| DB_PROCESS_NAMES.contains(&c));
        f.insert(format!("{base}/stat"), stat);
        if let Ok(md) = std::fs::metadata(&base) {
            use std::os::unix::fs::MetadataExt;
            s.proc_uids.insert(pid, md.uid());
        }
        if is_db {
            for leaf in ["limits", "status", "oom_score_adj"] {
                read(f, &format!("{base}/{leaf}"));
            }
            if let Ok(bytes) = std::fs::read(format!("{base}/cmdline")) {
                let cmd = String::from_utf8_lossy(&bytes);
                f.insert(format!("{base}/cmdline"), redact_cmdline(&cmd));
            }
            if let Ok(target) = std::fs::read_link(format!("{base}/cwd")) {
                s.links
                    .insert(format!("{base}/cwd"), target.to_string_lossy().into_owned());
            }
        }
    }
    if let Some(mounts) = s.files.get("/proc/self/mounts") {
        for line in mounts.lines() {
            let mut it = line.split_whitespace();
            let (Some(_dev), Some(mp), Some(fs)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if PSEUDO_FS.contains(&fs) || NETWORK_FS.contains(&fs) {
                continue;
            }
            let mp = unescape_mount(mp);
            if let Some(space) = statvfs(&mp) {
                s.statvfs.insert(mp, space);
            }
        }
    }
    s.addresses = addresses();
    s.clk_tck = sysconf_or(nix::unistd::SysconfVar::CLK_TCK, 100);
    s.page_size = sysconf_or(nix::unistd::SysconfVar::PAGE_SIZE, 4096);
    s
}

/// A NUL-separated command line with the values of secret-looking options
/// (`--wsrep-sst-auth=user:pass`, `--password=...`) replaced by `***`, so
/// saved samples can be handed to someone else.
pub fn redact_cmdline(cmd: &str) -> String {
    let secret = |name: &str| {
        let n = name.to_ascii_lowercase();
        ["pass", "auth", "secret"].iter().any(|w| n.contains(w))
    };
    let mut hide_next = false;
    cmd.split('\0')
        .map(|arg| {
            if std::mem::take(&mut hide_next) && !arg.starts_with('-') {
                return "***".to_string();
            }
            match arg.strip_prefix("--").map(|a| a.split_once('=')) {
                Some(Some((name, _))) if secret(name) => format!("--{name}=***"),
                Some(None) if secret(arg) && !arg.contains("file") => {
                    hide_next = true;
                    arg.to_string()
                }
                _ => arg.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\0")
}

/// Reads again the counters that give rates over the interval.
pub fn system_second(s: &mut SystemSamples, interval: f64) {
    let f = &mut s.files_after;
    read(f, "/proc/stat");
    read(f, "/proc/net/dev");
    for pid in pids() {
        read(f, &format!("/proc/{pid}/stat"));
    }
    s.interval = interval;
}

fn sysconf_or(var: nix::unistd::SysconfVar, default: u64) -> u64 {
    match nix::unistd::sysconf(var) {
        Ok(Some(v)) if v > 0 => v as u64,
        _ => default,
    }
}

/// Mount points in /proc/mounts escape blanks as octal (`\040`).
pub fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(v) = s
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn statvfs(mp: &str) -> Option<FsSpace> {
    let st = nix::sys::statvfs::statvfs(mp).ok()?;
    let frag = st.fragment_size() as u64;
    let frag = if frag == 0 {
        st.block_size() as u64
    } else {
        frag
    };
    Some(FsSpace {
        total: (st.blocks() as u64).saturating_mul(frag),
        avail: (st.blocks_available() as u64).saturating_mul(frag),
        free: (st.blocks_free() as u64).saturating_mul(frag),
    })
}

fn prefix_len(mask: &[u8]) -> u32 {
    mask.iter().map(|b| b.count_ones()).sum()
}

fn addresses() -> Vec<IfAddr> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for a in list {
        let Some(addr) = a.address else { continue };
        let text = if let Some(v4) = addr.as_sockaddr_in() {
            let mask = a
                .netmask
                .and_then(|m| m.as_sockaddr_in().map(|m| prefix_len(&m.ip().octets())))
                .unwrap_or(32);
            format!("{}/{mask}", v4.ip())
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            let mask = a
                .netmask
                .and_then(|m| m.as_sockaddr_in6().map(|m| prefix_len(&m.ip().octets())))
                .unwrap_or(128);
            format!("{}/{mask}", v6.ip())
        } else {
            continue;
        };
        out.push(IfAddr {
            interface: a.interface_name,
            address: text,
        });
    }
    out.sort_by(|a, b| (&a.interface, &a.address).cmp(&(&b.interface, &b.address)));
    out.dedup();
    out
}

/// True when `spec` reaches a server on this machine: a Unix socket, a
/// loopback address, this host's name, or an address of one of its
/// interfaces.
pub fn is_local(spec: &ConnSpec, hostname: &str, addrs: &[IfAddr]) -> bool {
    let host = match conn::transport(spec) {
        conn::Transport::Socket(_) => return true,
        conn::Transport::Tcp(h, _) => h,
    };
    if host == "localhost" || host.eq_ignore_ascii_case(hostname) {
        return true;
    }
    let local_ips: Vec<std::net::IpAddr> = addrs
        .iter()
        .filter_map(|a| a.address.split('/').next()?.parse().ok())
        .collect();
    let is_ours = |ip: std::net::IpAddr| ip.is_loopback() || local_ips.contains(&ip);
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return is_ours(ip);
    }
    use std::net::ToSocketAddrs;
    (host.as_str(), 0)
        .to_socket_addrs()
        .map(|mut it| it.any(|sa| is_ours(sa.ip())))
        .unwrap_or(false)
}

/// Sockets named on the command lines of the database servers running here,
/// for when no target was given and no default socket exists.
pub fn local_sockets(sys: &SystemSamples) -> Vec<String> {
    let mut out = Vec::new();
    for (path, cmdline) in &sys.files {
        if path.ends_with("/cmdline") {
            for arg in cmdline.split('\0') {
                if let Some(s) = arg.strip_prefix("--socket=") {
                    out.push(s.to_string());
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The server

/// The server's own words from a client-library error message
/// (`MySqlError { ERROR 1142 (42000): SELECT command denied ... }`).
fn server_words(msg: &str) -> String {
    if let Some(i) = msg.find("ERROR ") {
        return msg[i..].trim_end_matches(['}', ' ']).to_string();
    }
    // `...: server unreachable: DriverError { Could not connect ... }`
    if let (Some(a), true) = (msg.find("Error { "), msg.ends_with('}')) {
        let head = msg[..a].rsplit_once(": ").map_or("", |(h, _)| h);
        let inner = msg[a + 8..].trim_end_matches(['}', ' ']);
        return if head.is_empty() {
            inner.to_string()
        } else {
            format!("{head}: {inner}")
        };
    }
    msg.to_string()
}

fn query(c: &mut Conn, name: &str, sql: &str) -> QueryResult {
    let mut q = QueryResult {
        sql: sql.to_string(),
        ..QueryResult::default()
    };
    match c.rows::<mysql::Row>(name, sql) {
        Ok(rows) => {
            if let Some(first) = rows.first() {
                q.columns = first
                    .columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect();
            }
            q.rows = rows
                .iter()
                .map(|r| (0..r.len()).map(|i| conn::cell_text(r, i)).collect())
                .collect();
        }
        Err(e) => q.error = Some(server_words(&e.message)),
    }
    if q.error.is_none() && c.warnings() > 0 {
        if let Ok(rows) = c.rows::<mysql::Row>(name, "SHOW WARNINGS") {
            q.warnings = rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .filter_map(|i| conn::cell_text(r, i))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
        }
    }
    q
}

/// An open session to the server being summarised.
pub struct ServerCollector {
    conn: Option<Conn>,
    /// What has been gathered.
    pub samples: ServerSamples,
    started: Option<Instant>,
}

impl ServerCollector {
    /// Connects; a failure is kept in the samples, not returned.
    pub fn connect(spec: &ConnSpec, opts: &ConnectOptions) -> ServerCollector {
        let mut samples = ServerSamples {
            target: dsn::label(spec),
            ..ServerSamples::default()
        };
        // A summary only reads: it must not sit for a minute behind a
        // table lock (information_schema skips, with a warning, a table it
        // cannot open in time).
        let mut opts = opts.clone();
        opts.session.lock_wait_timeout = opts.session.lock_wait_timeout.min(5);
        let conn = match conn::connect(spec, &opts) {
            Ok(c) => Some(c),
            Err(e) => {
                let prefix = format!("cannot connect to {}: ", samples.target);
                let words = server_words(&e.message);
                samples.connect_error =
                    Some(words.strip_prefix(&prefix).unwrap_or(&words).to_string());
                None
            }
        };
        ServerCollector {
            conn,
            samples,
            started: None,
        }
    }

    /// True when connected.
    pub fn connected(&self) -> bool {
        self.conn.is_some()
    }

    /// When the first status reading was taken (None before `first`).
    pub fn started(&self) -> Option<Instant> {
        self.started
    }

    /// Runs every query of the report once.
    pub fn first(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let q = &mut self.samples.queries;
        let mut run = |name: &str, sql: &str| {
            q.insert(name.to_string(), query(c, name, sql));
        };
        run(
            "identity",
            "SELECT VERSION() AS version, @@version_comment AS version_comment, \
             @@hostname AS hostname, @@port AS port, @@server_id AS server_id, \
             UNIX_TIMESTAMP() AS now, CURRENT_USER() AS login",
        );
        let (version, comment) = {
            let id = &q["identity"];
            (
                id.get(0, "version").unwrap_or_default().to_string(),
                id.get(0, "version_comment").unwrap_or_default().to_string(),
            )
        };
        let server = Server::from_identity(&version, &comment);
        let maria = server.flavor == Flavor::MariaDB;
        let mut run = |name: &str, sql: &str| {
            q.insert(name.to_string(), query(c, name, sql));
        };
        run("variables", "SHOW GLOBAL VARIABLES");
        self.started = Some(Instant::now());
        run("status", "SHOW GLOBAL STATUS");
        run("replica_status", server.replica_status_sql());
        run("master_status", server.binlog_status_sql());
        run("binary_logs", "SHOW BINARY LOGS");
        run("replica_hosts", server.replica_hosts_sql());
        // MySQL 8.0.22+ deprecates information_schema.PROCESSLIST (a
        // warning per query) for performance_schema's, which reads without
        // the global mutex.
        let processlist = if maria {
            "information_schema.PROCESSLIST"
        } else {
            "performance_schema.processlist"
        };
        run(
            "processlist",
            &format!(
                "SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE \
                 FROM {processlist} WHERE ID <> CONNECTION_ID() ORDER BY ID"
            ),
        );
        run(
            "innodb_trx",
            &format!(
                "SELECT t.trx_id, t.trx_state, \
             TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS age_seconds, \
             t.trx_mysql_thread_id AS thread_id, p.USER AS user, p.HOST AS host, \
             t.trx_rows_locked AS rows_locked, t.trx_rows_modified AS rows_modified, \
             LEFT(t.trx_query, 120) AS query \
             FROM information_schema.INNODB_TRX t \
             LEFT JOIN {processlist} p ON p.ID = t.trx_mysql_thread_id \
             ORDER BY t.trx_started, t.trx_id LIMIT 10"
            ),
        );
        run(
            "schemas",
            "SELECT TABLE_SCHEMA AS schema_name, COUNT(*) AS tables, \
             SUM(TABLE_ROWS) AS table_rows, SUM(DATA_LENGTH) AS data_bytes, \
             SUM(INDEX_LENGTH) AS index_bytes, SUM(DATA_FREE) AS free_bytes \
             FROM information_schema.TABLES WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
             GROUP BY TABLE_SCHEMA ORDER BY TABLE_SCHEMA",
        );
        run("engines", "SHOW ENGINES");
        run(
            "engine_usage",
            "SELECT ENGINE AS engine, COUNT(*) AS tables, \
             SUM(DATA_LENGTH + INDEX_LENGTH) AS bytes FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND ENGINE IS NOT NULL \
             GROUP BY ENGINE ORDER BY ENGINE",
        );
        run("innodb_status", "SHOW ENGINE INNODB STATUS");
        run(
            "plugins",
            "SELECT PLUGIN_NAME AS name, PLUGIN_STATUS AS status, PLUGIN_TYPE AS type, \
             PLUGIN_LIBRARY AS `library` FROM information_schema.PLUGINS \
             WHERE PLUGIN_LIBRARY IS NOT NULL ORDER BY PLUGIN_NAME",
        );
        run(
            "encrypted_tables",
            "SELECT COUNT(*) AS tables FROM information_schema.TABLES \
             WHERE CREATE_OPTIONS LIKE '%ENCRYPTED=YES%' OR CREATE_OPTIONS LIKE '%ENCRYPTION=''Y''%'",
        );
        if maria {
            run(
                "encrypted_tablespaces",
                "SELECT COUNT(*) AS tablespaces, SUM(ENCRYPTION_SCHEME <> 0) AS encrypted \
                 FROM information_schema.INNODB_TABLESPACES_ENCRYPTION",
            );
            // Never the hashes themselves: only whether one is set. 10.4+
            // keeps accounts in mysql.global_priv (locked ones included,
            // which the mysql.user view cannot tell); 10.3 in mysql.user.
            run(
                "accounts",
                "SELECT User AS user, Host AS host, \
                 COALESCE(JSON_VALUE(Priv, '$.plugin'), '') AS plugin, \
                 (COALESCE(JSON_VALUE(Priv, '$.authentication_string'), '') = '') AS no_password \
                 FROM mysql.global_priv \
                 WHERE COALESCE(JSON_EXTRACT(Priv, '$.is_role'), 'false') <> 'true' \
                 AND COALESCE(JSON_EXTRACT(Priv, '$.account_locked'), 'false') <> 'true' \
                 ORDER BY User, Host",
            );
            if q.get("accounts").is_some_and(|a| a.error.is_some()) {
                q.insert(
                    "accounts".into(),
                    query(
                        c,
                        "accounts",
                        "SELECT User AS user, Host AS host, plugin, \
                         (authentication_string = '' AND Password = '') AS no_password \
                         FROM mysql.user WHERE is_role <> 'Y' ORDER BY User, Host",
                    ),
                );
            }
        } else {
            run(
                "accounts",
                "SELECT User AS user, Host AS host, plugin, \
                 (authentication_string = '' OR authentication_string IS NULL) AS no_password \
                 FROM mysql.user WHERE account_locked <> 'Y' ORDER BY User, Host",
            );
        }
    }

    /// Reads the status counters again after the interval.
    pub fn second(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let after = query(c, "status", "SHOW GLOBAL STATUS");
        self.samples.interval = self
            .started
            .map(|t| t.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        self.samples.status_after = Some(after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_with_parentheses() {
        assert_eq!(stat_comm("12 (a (b)) S 1 2"), Some("a (b)"));
        assert_eq!(stat_comm("garbage"), None);
    }

    #[test]
    fn secrets_left_out_of_command_lines() {
        assert_eq!(
            redact_cmdline("mariadbd\0--wsrep_sst_auth=u:p\0--port=3306\0--password\0pw\0"),
            "mariadbd\0--wsrep_sst_auth=***\0--port=3306\0--password\0***\0"
        );
        assert_eq!(
            redact_cmdline("mysqld\0--key-buffer-size=8M\0"),
            "mysqld\0--key-buffer-size=8M\0"
        );
    }

    #[test]
    fn error_text_without_library_wrappers() {
        assert_eq!(
            server_words(
                "cannot connect to 127.0.0.1:1: server unreachable: DriverError { Could not \
                 connect to address `127.0.0.1:1': Connection refused (os error 111) }"
            ),
            "cannot connect to 127.0.0.1:1: server unreachable: Could not connect to address \
             `127.0.0.1:1': Connection refused (os error 111)"
        );
        assert_eq!(
            server_words("query x on a: error: MySqlError { ERROR 1142 (42000): denied }"),
            "ERROR 1142 (42000): denied"
        );
    }

    #[test]
    fn mount_escapes() {
        assert_eq!(unescape_mount("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mount("/plain"), "/plain");
        assert_eq!(unescape_mount("/x\\"), "/x\\");
    }

    #[test]
    fn locality() {
        let spec = ConnSpec {
            host: Some("127.0.0.1".into()),
            port: Some(3306),
            ..ConnSpec::default()
        };
        assert!(is_local(&spec, "db1", &[]));
        let spec = ConnSpec {
            host: Some("10.1.2.3".into()),
            ..ConnSpec::default()
        };
        assert!(!is_local(&spec, "db1", &[]));
        let addrs = [IfAddr {
            interface: "eth0".into(),
            address: "10.1.2.3/24".into(),
        }];
        assert!(is_local(&spec, "db1", &addrs));
    }
}
