//! The host half of the report, computed from [`SystemSamples`] alone.
//!
//! Every field is optional in spirit: a file that could not be read leaves
//! its figures `null` rather than failing the report, because a summary of
//! a half-visible host (a container, a hardened kernel) is still useful.

use crate::collect::{stat_comm, DB_PROCESS_NAMES, PSEUDO_FS};
use crate::samples::SystemSamples;
use serde::Serialize;
use std::collections::BTreeMap;

/// Host identity and load.
#[derive(Clone, Debug, Serialize)]
pub struct Host {
    /// Host name.
    pub hostname: Option<String>,
    /// Distribution (`PRETTY_NAME` of /etc/os-release).
    pub os: Option<String>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// Machine architecture.
    pub arch: String,
    /// Seconds since boot.
    pub uptime_seconds: Option<u64>,
    /// Virtual machine or container, as far as the host shows it.
    pub virtualization: String,
    /// Load averages over 1, 5 and 15 minutes.
    pub load_average: Option<[f64; 3]>,
    /// Processes running.
    pub processes: usize,
}

/// Processors.
#[derive(Clone, Debug, Serialize)]
pub struct Cpu {
    /// Model name.
    pub model: Option<String>,
    /// Physical packages.
    pub sockets: usize,
    /// Physical cores, all sockets.
    pub cores: usize,
    /// Logical processors (hardware threads).
    pub threads: usize,
    /// Highest current clock among processors, MHz.
    pub mhz: Option<f64>,
    /// Maximum clock from cpufreq, MHz.
    pub max_mhz: Option<f64>,
    /// cpufreq governor of cpu0.
    pub governor: Option<String>,
    /// Percent of CPU time busy (over the interval, or since boot).
    pub busy_percent: Option<f64>,
    /// Percent of CPU time waiting for I/O.
    pub iowait_percent: Option<f64>,
    /// Percent of CPU time stolen by the hypervisor.
    pub steal_percent: Option<f64>,
}

/// One NUMA node.
#[derive(Clone, Debug, Serialize)]
pub struct NumaNode {
    /// Node number.
    pub node: u32,
    /// CPUs of the node (`0-3`).
    pub cpus: Option<String>,
    /// Memory of the node.
    pub total_bytes: Option<u64>,
    /// Free memory of the node.
    pub free_bytes: Option<u64>,
}

/// Memory and swap.
#[derive(Clone, Debug, Serialize)]
pub struct Memory {
    /// Physical memory.
    pub total_bytes: Option<u64>,
    /// Unused memory.
    pub free_bytes: Option<u64>,
    /// Memory available without swapping (MemAvailable).
    pub available_bytes: Option<u64>,
    /// Page cache.
    pub cached_bytes: Option<u64>,
    /// Buffers.
    pub buffers_bytes: Option<u64>,
    /// Dirty pages waiting for writeback.
    pub dirty_bytes: Option<u64>,
    /// Swap space.
    pub swap_total_bytes: Option<u64>,
    /// Swap in use.
    pub swap_used_bytes: Option<u64>,
    /// Huge pages reserved.
    pub hugepages_total: Option<u64>,
    /// Huge page size.
    pub hugepage_size_bytes: Option<u64>,
    /// NUMA nodes.
    pub numa_nodes: Vec<NumaNode>,
}

/// One mounted filesystem.
#[derive(Clone, Debug, Serialize)]
pub struct Mount {
    /// Device.
    pub device: String,
    /// Mount point.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Mount options.
    pub options: String,
    /// Size.
    pub total_bytes: Option<u64>,
    /// Used.
    pub used_bytes: Option<u64>,
    /// Available to unprivileged users.
    pub avail_bytes: Option<u64>,
    /// Used / (used + available), as df computes it.
    pub used_percent: Option<f64>,
}

/// One block device.
#[derive(Clone, Debug, Serialize)]
pub struct Disk {
    /// Kernel name (`sda`, `nvme0n1`).
    pub name: String,
    /// Size.
    pub size_bytes: Option<u64>,
    /// Spinning disk.
    pub rotational: Option<bool>,
    /// I/O scheduler in use.
    pub scheduler: Option<String>,
    /// Queue depth (`nr_requests`).
    pub nr_requests: Option<u64>,
    /// Read-ahead, KiB.
    pub read_ahead_kb: Option<u64>,
    /// Device model.
    pub model: Option<String>,
}

/// One network interface.
#[derive(Clone, Debug, Serialize)]
pub struct Interface {
    /// Name.
    pub name: String,
    /// Operational state.
    pub state: Option<String>,
    /// Link speed, Mb/s.
    pub speed_mbps: Option<u64>,
    /// MTU.
    pub mtu: Option<u64>,
    /// Hardware address.
    pub mac: Option<String>,
    /// Addresses with prefix length.
    pub addresses: Vec<String>,
    /// Bytes received since boot.
    pub rx_bytes: Option<u64>,
    /// Bytes sent since boot.
    pub tx_bytes: Option<u64>,
    /// Receive errors.
    pub rx_errors: Option<u64>,
    /// Transmit errors.
    pub tx_errors: Option<u64>,
    /// Received packets dropped.
    pub rx_dropped: Option<u64>,
    /// Sent packets dropped.
    pub tx_dropped: Option<u64>,
}

/// One process in a top list.
#[derive(Clone, Debug, Serialize)]
pub struct Process {
    /// PID.
    pub pid: u32,
    /// Owner.
    pub user: String,
    /// Command name.
    pub command: String,
    /// CPU use, percent of one processor (over the interval, or lifetime).
    pub cpu_percent: f64,
    /// Resident memory.
    pub rss_bytes: u64,
}

/// Top processes.
#[derive(Clone, Debug, Serialize)]
pub struct TopProcesses {
    /// Highest CPU use first.
    pub by_cpu: Vec<Process>,
    /// Largest resident memory first.
    pub by_memory: Vec<Process>,
}

/// A database server process running on the host.
#[derive(Clone, Debug, Serialize)]
pub struct DbProcess {
    /// PID.
    pub pid: u32,
    /// `mysqld` or `mariadbd`.
    pub command: String,
    /// Owner.
    pub user: String,
    /// `--datadir`, else the process's working directory.
    pub datadir: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--socket`.
    pub socket: Option<String>,
    /// `--defaults-file`.
    pub defaults_file: Option<String>,
    /// Soft limit on open files (/proc/PID/limits).
    pub open_files_limit: Option<String>,
    /// Resident memory.
    pub rss_bytes: Option<u64>,
    /// Threads.
    pub threads: Option<u64>,
    /// OOM score adjustment.
    pub oom_score_adj: Option<i64>,
}

/// Kernel settings that matter to databases.
#[derive(Clone, Debug, Serialize)]
pub struct Kernel {
    /// vm.swappiness.
    pub swappiness: Option<u64>,
    /// Transparent huge pages mode.
    pub thp_enabled: Option<String>,
    /// Transparent huge pages defrag mode.
    pub thp_defrag: Option<String>,
    /// vm.dirty_ratio.
    pub dirty_ratio: Option<u64>,
    /// vm.dirty_background_ratio.
    pub dirty_background_ratio: Option<u64>,
    /// vm.dirty_bytes.
    pub dirty_bytes: Option<u64>,
    /// vm.dirty_background_bytes.
    pub dirty_background_bytes: Option<u64>,
    /// vm.overcommit_memory.
    pub overcommit_memory: Option<u64>,
    /// vm.zone_reclaim_mode.
    pub zone_reclaim_mode: Option<u64>,
    /// kernel.numa_balancing.
    pub numa_balancing: Option<u64>,
    /// fs.file-max.
    pub file_max: Option<u64>,
    /// File handles allocated (first field of fs.file-nr).
    pub files_open: Option<u64>,
    /// fs.aio-max-nr.
    pub aio_max_nr: Option<u64>,
    /// fs.aio-nr.
    pub aio_nr: Option<u64>,
    /// net.core.somaxconn.
    pub somaxconn: Option<u64>,
    /// net.ipv4.tcp_max_syn_backlog.
    pub tcp_max_syn_backlog: Option<u64>,
    /// net.ipv4.ip_local_port_range.
    pub ip_local_port_range: Option<String>,
}

/// The host half; a section not asked for is absent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SystemReport {
    /// `host` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    /// `cpu` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// `memory` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// `mounts` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounts: Option<Vec<Mount>>,
    /// `disks` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<Disk>>,
    /// `network` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Vec<Interface>>,
    /// `processes` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<TopProcesses>,
    /// `db-processes` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_processes: Option<Vec<DbProcess>>,
    /// `kernel` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
}

/// How many processes the top lists show.
pub const TOP_N: usize = 10;

// ---------------------------------------------------------------------------
// Parsing helpers

fn file<'a>(s: &'a SystemSamples, path: &str) -> Option<&'a str> {
    s.files.get(path).map(String::as_str)
}

fn trimmed(s: &SystemSamples, path: &str) -> Option<String> {
    file(s, path)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn num(s: &SystemSamples, path: &str) -> Option<u64> {
    file(s, path)?.trim().parse().ok()
}

/// `Key:   123 kB` lines → bytes (values without a unit are kept as is).
pub fn meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            // NUMA node files prefix every key with `Node N `.
            let k = k.split_whitespace().last()?.to_string();
            let mut it = v.split_whitespace();
            let n: u64 = it.next()?.parse().ok()?;
            let mult = if it.next() == Some("kB") { 1024 } else { 1 };
            Some((k, n.saturating_mul(mult)))
        })
        .collect()
}

/// The selected value of a sysfs choice list: `always [madvise] never` →
/// `madvise`.
pub fn bracketed(text: &str) -> Option<String> {
    let a = text.find('[')?;
    let b = text[a..].find(']')? + a;
    Some(text[a + 1..b].to_string())
}

/// Fields of /proc/PID/stat after the command name; index 0 is field 3
/// (state) of proc(5).
fn stat_fields(stat: &str) -> Vec<&str> {
    match stat.rfind(')') {
        Some(i) => stat[i + 1..].split_whitespace().collect(),
        None => Vec::new(),
    }
}

fn stat_field(fields: &[&str], proc5_number: usize) -> u64 {
    fields
        .get(proc5_number.wrapping_sub(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// /proc/stat's aggregate `cpu` line: (total, idle, iowait, steal) ticks.
fn cpu_ticks(stat: &str) -> Option<(u64, u64, u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal guest guest_nice;
    // guest time is already counted in user.
    let total: u64 = v.iter().take(8).sum();
    Some((
        total,
        *v.get(3)?,
        v.get(4).copied().unwrap_or(0),
        v.get(7).copied().unwrap_or(0),
    ))
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round1(part as f64 * 100.0 / whole as f64))
}

fn users(s: &SystemSamples) -> BTreeMap<u32, String> {
    file(s, "/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split(':');
            let name = it.next()?;
            let uid = it.nth(1)?.parse().ok()?;
            Some((uid, name.to_string()))
        })
        .collect()
}

fn user_of(s: &SystemSamples, names: &BTreeMap<u32, String>, pid: u32) -> String {
    match s.proc_uids.get(&pid) {
        Some(uid) => names.get(uid).cloned().unwrap_or_else(|| uid.to_string()),
        None => "?".to_string(),
    }
}

// ---------------------------------------------------------------------------
// Sections

/// The `host` section.
pub fn host(s: &SystemSamples) -> Host {
    let os = file(s, "/etc/os-release").and_then(|t| {
        t.lines().find_map(|l| {
            l.strip_prefix("PRETTY_NAME=")
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    });
    let load_average = file(s, "/proc/loadavg").and_then(|t| {
        let v: Vec<f64> = t
            .split_whitespace()
            .take(3)
            .filter_map(|x| x.parse().ok())
            .collect();
        (v.len() == 3).then(|| [v[0], v[1], v[2]])
    });
    let processes = s
        .files
        .keys()
        .filter(|k| k.starts_with("/proc/") && k.ends_with("/stat") && k != &"/proc/stat")
        .count();
    Host {
        hostname: trimmed(s, "/proc/sys/kernel/hostname"),
        os,
        kernel: trimmed(s, "/proc/sys/kernel/osrelease"),
        arch: s.arch.clone(),
        uptime_seconds: uptime(s).map(|u| u as u64),
        virtualization: virtualization(s),
        load_average,
        processes,
    }
}

fn uptime(s: &SystemSamples) -> Option<f64> {
    file(s, "/proc/uptime")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn virtualization(s: &SystemSamples) -> String {
    let mut container = None;
    if s.files.contains_key("/.dockerenv") {
        container = Some("docker".to_string());
    } else if s.files.contains_key("/run/.containerenv") {
        container = Some("podman".to_string());
    } else if let Some(c) = trimmed(s, "/run/systemd/container") {
        container = Some(c);
    } else if let Some(cg) = file(s, "/proc/1/cgroup") {
        for (needle, name) in [
            ("kubepods", "kubernetes"),
            ("docker", "docker"),
            ("lxc", "lxc"),
        ] {
            if cg.contains(needle) {
                container = Some(name.to_string());
                break;
            }
        }
    }
    let hypervisor = file(s, "/proc/cpuinfo").is_some_and(|c| {
        c.lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "hypervisor"))
    });
    let vendor = [
        trimmed(s, "/sys/class/dmi/id/sys_vendor"),
        trimmed(s, "/sys/class/dmi/id/product_name"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let vm = if hypervisor {
        Some(if vendor.is_empty() {
            "virtual machine".to_string()
        } else {
            format!("virtual machine ({vendor})")
        })
    } else {
        None
    };
    match (container, vm) {
        (Some(c), Some(v)) => format!("{c} container on a {v}"),
        (Some(c), None) => format!("{c} container"),
        (None, Some(v)) => v,
        (None, None) => "none detected".to_string(),
    }
}

/// The `cpu` section.
pub fn cpu(s: &SystemSamples) -> Cpu {
    let info = file(s, "/proc/cpuinfo").unwrap_or_default();
    let mut model = None;
    let mut threads = 0;
    let mut sockets = std::collections::BTreeSet::new();
    let mut cores = std::collections::BTreeSet::new();
    let mut mhz: Option<f64> = None;
    let mut phys = String::new();
    for line in info.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "processor" => threads += 1,
            "model name" if model.is_none() => model = Some(v.to_string()),
            "physical id" => {
                phys = v.to_string();
                sockets.insert(v.to_string());
            }
            "core id" => {
                cores.insert((phys.clone(), v.to_string()));
            }
            "cpu MHz" => {
                if let Ok(m) = v.parse::<f64>() {
                    mhz = Some(mhz.map_or(m, |x: f64| x.max(m)));
                }
            }
            _ => {}
        }
    }
    let (busy, iowait, steal) = cpu_use(s);
    Cpu {
        model,
        sockets: sockets.len().max(usize::from(threads > 0)),
        cores: if cores.is_empty() {
            threads
        } else {
            cores.len()
        },
        threads,
        mhz: mhz.map(round1),
        max_mhz: num(s, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
            .map(|khz| round1(khz as f64 / 1000.0)),
        governor: trimmed(s, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        busy_percent: busy,
        iowait_percent: iowait,
        steal_percent: steal,
    }
}

fn cpu_use(s: &SystemSamples) -> (Option<f64>, Option<f64>, Option<f64>) {
    let Some(a) = file(s, "/proc/stat").and_then(cpu_ticks) else {
        return (None, None, None);
    };
    let (total, idle, iowait, steal) =
        match s.files_after.get("/proc/stat").and_then(|t| cpu_ticks(t)) {
            Some(b) => (
                b.0.saturating_sub(a.0),
                b.1.saturating_sub(a.1),
                b.2.saturating_sub(a.2),
                b.3.saturating_sub(a.3),
            ),
            None => a,
        };
    (
        pct(total.saturating_sub(idle + iowait), total),
        pct(iowait, total),
        pct(steal, total),
    )
}

/// The `memory` section.
pub fn memory(s: &SystemSamples) -> Memory {
    let m = meminfo(file(s, "/proc/meminfo").unwrap_or_default());
    let g = |k: &str| m.get(k).copied();
    let mut numa_nodes = Vec::new();
    for (path, text) in &s.files {
        let Some(rest) = path.strip_prefix("/sys/devices/system/node/node") else {
            continue;
        };
        let Some(n) = rest.strip_suffix("/meminfo") else {
            continue;
        };
        let Ok(node) = n.parse::<u32>() else { continue };
        let nm = meminfo(text);
        numa_nodes.push(NumaNode {
            node,
            cpus: trimmed(s, &format!("/sys/devices/system/node/node{node}/cpulist")),
            total_bytes: nm.get("MemTotal").copied(),
            free_bytes: nm.get("MemFree").copied(),
        });
    }
    numa_nodes.sort_by_key(|n| n.node);
    Memory {
        total_bytes: g("MemTotal"),
        free_bytes: g("MemFree"),
        available_bytes: g("MemAvailable"),
        cached_bytes: g("Cached"),
        buffers_bytes: g("Buffers"),
        dirty_bytes: g("Dirty"),
        swap_total_bytes: g("SwapTotal"),
        swap_used_bytes: match (g("SwapTotal"), g("SwapFree")) {
            (Some(t), Some(f)) => Some(t.saturating_sub(f)),
            _ => None,
        },
        hugepages_total: g("HugePages_Total"),
        hugepage_size_bytes: g("Hugepagesize"),
        numa_nodes,
    }
}

/// The `mounts` section: storage filesystems, one entry per mount point.
pub fn mounts(s: &SystemSamples) -> Vec<Mount> {
    let mut by_point: BTreeMap<String, Mount> = BTreeMap::new();
    for line in file(s, "/proc/self/mounts").unwrap_or_default().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || PSEUDO_FS.contains(&f[2]) {
            continue;
        }
        let mp = crate::collect::unescape_mount(f[1]);
        let space = s.statvfs.get(&mp);
        let (total, used, avail) = match space {
            Some(sp) => (
                Some(sp.total),
                Some(sp.total.saturating_sub(sp.free)),
                Some(sp.avail),
            ),
            None => (None, None, None),
        };
        let used_percent = match (used, avail) {
            (Some(u), Some(a)) if u + a > 0 => Some(round1(u as f64 * 100.0 / (u + a) as f64)),
            _ => None,
        };
        // Later mounts on the same point hide earlier ones.
        by_point.insert(
            mp.clone(),
            Mount {
                device: crate::collect::unescape_mount(f[0]),
                mount_point: mp,
                fs_type: f[2].to_string(),
                options: f[3].to_string(),
                total_bytes: total,
                used_bytes: used,
                avail_bytes: avail,
                used_percent,
            },
        );
    }
    by_point.into_values().collect()
}

/// The `disks` section: block devices, without empty loop and RAM devices.
pub fn disks(s: &SystemSamples) -> Vec<Disk> {
    let mut names: Vec<&str> = s
        .files
        .keys()
        .filter_map(|k| k.strip_prefix("/sys/block/")?.strip_suffix("/size"))
        .collect();
    names.sort_unstable();
    names
        .into_iter()
        .filter_map(|name| {
            let p = |leaf: &str| format!("/sys/block/{name}/{leaf}");
            let sectors = num(s, &p("size"));
            if (name.starts_with("loop") || name.starts_with("ram")) && sectors.unwrap_or(0) == 0 {
                return None;
            }
            Some(Disk {
                name: name.to_string(),
                size_bytes: sectors.map(|n| n.saturating_mul(512)),
                rotational: num(s, &p("queue/rotational")).map(|v| v == 1),
                scheduler: file(s, &p("queue/scheduler")).and_then(|t| {
                    bracketed(t).or_else(|| Some(t.trim().to_string()).filter(|v| !v.is_empty()))
                }),
                nr_requests: num(s, &p("queue/nr_requests")),
                read_ahead_kb: num(s, &p("queue/read_ahead_kb")),
                model: trimmed(s, &p("device/model")),
            })
        })
        .collect()
}

/// /proc/net/dev → interface → counters (rx bytes, rx errs, rx drop,
/// tx bytes, tx errs, tx drop).
fn net_dev(text: &str) -> BTreeMap<String, [u64; 6]> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let v: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() < 12 {
                return None;
            }
            Some((
                name.trim().to_string(),
                [v[0], v[2], v[3], v[8], v[10], v[11]],
            ))
        })
        .collect()
}

/// The `network` section.
pub fn network(s: &SystemSamples) -> Vec<Interface> {
    let counters = net_dev(file(s, "/proc/net/dev").unwrap_or_default());
    let mut names: Vec<String> = s
        .files
        .keys()
        .filter_map(|k| {
            k.strip_prefix("/sys/class/net/")?
                .strip_suffix("/operstate")
                .map(str::to_string)
        })
        .chain(counters.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let p = |leaf: &str| format!("/sys/class/net/{name}/{leaf}");
            let c = counters.get(&name);
            let at = |i: usize| c.map(|c| c[i]);
            Interface {
                state: trimmed(s, &p("operstate")),
                // -1 (unknown) does not parse as u64: null.
                speed_mbps: num(s, &p("speed")),
                mtu: num(s, &p("mtu")),
                mac: trimmed(s, &p("address")),
                addresses: s
                    .addresses
                    .iter()
                    .filter(|a| a.interface == name)
                    .map(|a| a.address.clone())
                    .collect(),
                rx_bytes: at(0),
                rx_errors: at(1),
                rx_dropped: at(2),
                tx_bytes: at(3),
                tx_errors: at(4),
                tx_dropped: at(5),
                name,
            }
        })
        .collect()
}

/// The `processes` section.
pub fn processes(s: &SystemSamples) -> TopProcesses {
    let names = users(s);
    let tck = s.clk_tck.max(1) as f64;
    let up = uptime(s).unwrap_or(0.0);
    let mut all = Vec::new();
    for (path, stat) in &s.files {
        let Some(pid) = path
            .strip_prefix("/proc/")
            .and_then(|r| r.strip_suffix("/stat"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let f = stat_fields(stat);
        let ticks = stat_field(&f, 14) + stat_field(&f, 15);
        let cpu = if s.interval > 0.0 {
            match s.files_after.get(path) {
                Some(after) => {
                    let g = stat_fields(after);
                    let t2 = stat_field(&g, 14) + stat_field(&g, 15);
                    t2.saturating_sub(ticks) as f64 / tck / s.interval * 100.0
                }
                None => 0.0,
            }
        } else {
            let age = up - stat_field(&f, 22) as f64 / tck;
            if age > 0.0 {
                ticks as f64 / tck / age * 100.0
            } else {
                0.0
            }
        };
        all.push(Process {
            pid,
            user: user_of(s, &names, pid),
            command: stat_comm(stat).unwrap_or("?").to_string(),
            cpu_percent: round1(cpu),
            rss_bytes: stat_field(&f, 24).saturating_mul(s.page_size),
        });
    }
    let mut by_cpu = all.clone();
    by_cpu.sort_by(|a, b| {
        b.cpu_percent
            .total_cmp(&a.cpu_percent)
            .then(a.pid.cmp(&b.pid))
    });
    by_cpu.truncate(TOP_N);
    let mut by_memory = all;
    by_memory.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
    by_memory.truncate(TOP_N);
    TopProcesses { by_cpu, by_memory }
}

/// Value of `--name=value` (or `--name value`) in a NUL-separated command
/// line; `-` and `_` are the same in option names, as mysqld reads them.
pub fn cmdline_opt(cmdline: &str, name: &str) -> Option<String> {
    let args: Vec<&str> = cmdline.split('\0').filter(|a| !a.is_empty()).collect();
    let norm = |a: &str| a.replace('_', "-");
    let want = format!("--{}", norm(name));
    let mut found = None;
    for (i, a) in args.iter().enumerate() {
        let (k, v) = match a.split_once('=') {
            Some((k, v)) => (norm(k), Some(v.to_string())),
            None => (norm(a), None),
        };
        if k == want {
            found = v.or_else(|| args.get(i + 1).map(|s| s.to_string()));
        }
    }
    found
}

/// The `db-processes` section.
pub fn db_processes(s: &SystemSamples) -> Vec<DbProcess> {
    let names = users(s);
    let mut out = Vec::new();
    for (path, stat) in &s.files {
        let Some(pid) = path
            .strip_prefix("/proc/")
            .and_then(|r| r.strip_suffix("/stat"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(comm) = stat_comm(stat).filter(|c| DB_PROCESS_NAMES.contains(c)) else {
            continue;
        };
        let p = |leaf: &str| format!("/proc/{pid}/{leaf}");
        let cmd = file(s, &p("cmdline")).unwrap_or_default();
        let status = file(s, &p("status")).unwrap_or_default();
        let status_kv = |key: &str| {
            status.lines().find_map(|l| {
                let v = l.strip_prefix(key)?.strip_prefix(':')?;
                v.split_whitespace().next()?.parse::<u64>().ok()
            })
        };
        let limit = file(s, &p("limits")).and_then(|t| {
            t.lines().find_map(|l| {
                let rest = l.strip_prefix("Max open files")?;
                rest.split_whitespace().next().map(str::to_string)
            })
        });
        out.push(DbProcess {
            pid,
            command: comm.to_string(),
            user: user_of(s, &names, pid),
            datadir: cmdline_opt(cmd, "datadir").or_else(|| s.links.get(&p("cwd")).cloned()),
            port: cmdline_opt(cmd, "port").and_then(|v| v.parse().ok()),
            socket: cmdline_opt(cmd, "socket"),
            defaults_file: cmdline_opt(cmd, "defaults-file"),
            open_files_limit: limit,
            rss_bytes: status_kv("VmRSS").map(|kb| kb.saturating_mul(1024)),
            threads: status_kv("Threads"),
            oom_score_adj: file(s, &p("oom_score_adj")).and_then(|v| v.trim().parse().ok()),
        });
    }
    out.sort_by_key(|p| p.pid);
    out
}

/// The `kernel` section.
pub fn kernel(s: &SystemSamples) -> Kernel {
    let n = |p: &str| num(s, p);
    Kernel {
        swappiness: n("/proc/sys/vm/swappiness"),
        thp_enabled: file(s, "/sys/kernel/mm/transparent_hugepage/enabled").and_then(bracketed),
        thp_defrag: file(s, "/sys/kernel/mm/transparent_hugepage/defrag").and_then(bracketed),
        dirty_ratio: n("/proc/sys/vm/dirty_ratio"),
        dirty_background_ratio: n("/proc/sys/vm/dirty_background_ratio"),
        dirty_bytes: n("/proc/sys/vm/dirty_bytes"),
        dirty_background_bytes: n("/proc/sys/vm/dirty_background_bytes"),
        overcommit_memory: n("/proc/sys/vm/overcommit_memory"),
        zone_reclaim_mode: n("/proc/sys/vm/zone_reclaim_mode"),
        numa_balancing: n("/proc/sys/kernel/numa_balancing"),
        file_max: n("/proc/sys/fs/file-max"),
        files_open: file(s, "/proc/sys/fs/file-nr")
            .and_then(|t| t.split_whitespace().next()?.parse().ok()),
        aio_max_nr: n("/proc/sys/fs/aio-max-nr"),
        aio_nr: n("/proc/sys/fs/aio-nr"),
        somaxconn: n("/proc/sys/net/core/somaxconn"),
        tcp_max_syn_backlog: n("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
        ip_local_port_range: file(s, "/proc/sys/net/ipv4/ip_local_port_range")
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join("-")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_in_bytes() {
        let m = meminfo("MemTotal:       16384 kB\nHugePages_Total:       4\n");
        assert_eq!(m["MemTotal"], 16384 * 1024);
        assert_eq!(m["HugePages_Total"], 4);
        let n = meminfo("Node 0 MemTotal:       100 kB\n");
        assert_eq!(n["MemTotal"], 102400);
    }

    #[test]
    fn choices() {
        assert_eq!(
            bracketed("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(bracketed("none"), None);
    }

    #[test]
    fn mysqld_options() {
        let c =
            "/usr/sbin/mariadbd\0--datadir=/var/lib/mysql\0--socket\0/run/m.sock\0--port=3307\0";
        assert_eq!(cmdline_opt(c, "datadir").as_deref(), Some("/var/lib/mysql"));
        assert_eq!(cmdline_opt(c, "socket").as_deref(), Some("/run/m.sock"));
        assert_eq!(cmdline_opt(c, "port").as_deref(), Some("3307"));
        assert_eq!(cmdline_opt(c, "pid_file"), None);
    }

    #[test]
    fn process_cpu_from_stat() {
        let mut s = SystemSamples {
            clk_tck: 100,
            page_size: 4096,
            interval: 2.0,
            ..SystemSamples::default()
        };
        // utime=100 stime=100 starttime=0 rss=10 pages.
        let stat = |ut: u64| {
            format!("7 (my (d)) S 1 1 1 0 -1 0 0 0 0 0 {ut} 100 0 0 20 0 1 0 0 1000 10 0")
        };
        s.files.insert("/proc/7/stat".into(), stat(100));
        s.files_after.insert("/proc/7/stat".into(), stat(200));
        let t = processes(&s);
        assert_eq!(t.by_cpu[0].command, "my (d)");
        assert_eq!(t.by_cpu[0].cpu_percent, 50.0);
        assert_eq!(t.by_memory[0].rss_bytes, 40960);
    }
}
