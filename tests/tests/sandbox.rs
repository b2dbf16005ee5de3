//! The sandbox itself: start, connect by socket and TCP, stop, clean up.

#![allow(
    clippy::print_stderr,
    reason = "says on stderr what a run not as root could not check"
)]

use oxkit::conn::{connect, ConnectOptions};
use oxkit::server::Server;
use oxkit_harness::single;

#[test]
fn sandbox_starts_answers_and_cleans_up() {
    let s = single().expect("sandbox");
    let mut c = connect(&s.socket_spec(), &ConnectOptions::default()).expect("socket connect");
    let server = Server::detect(&mut c).expect("detect");
    assert_eq!(server.flavor, oxkit_harness::flavour().flavor);
    assert_eq!(server.port, s.port());
    let mut t = connect(&s.tcp_spec(), &ConnectOptions::default()).expect("tcp connect");
    assert!(Server::detect(&mut t).expect("detect").log_bin);
    let dir = s.dir().to_path_buf();
    assert!(dir.join("mysqld.sock").exists());
    drop((c, t));
    drop(s);
    assert!(!dir.exists(), "sandbox dir {} left behind", dir.display());
}

// Issue 21 item 1: the throwaway server behind verify and the physical
// restore was a local root hole (TCP on 127.0.0.1 with a passwordless root
// account, run as OS root, orphaned by kill -9, template in a fixed /tmp
// path). These pin the fix.

use oxkit::sandbox::Sandbox;
use oxkit_harness::{exec, server_slot, Tool};
use std::collections::HashSet;
use std::io::BufRead as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The uid that plays "another local user".
const NOBODY: u32 = 65534;

/// Socket inodes of process `pid` (its `/proc/PID/fd` links).
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let mut out = HashSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(t) = std::fs::read_link(fd.path()) {
                let t = t.display().to_string();
                if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    if let Ok(n) = n.parse() {
                        out.insert(n);
                    }
                }
            }
        }
    }
    out
}

/// TCP ports process `pid` listens on (IPv4 and IPv6).
fn listening_ports(pid: u32) -> Vec<u16> {
    let mine = socket_inodes(pid);
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is f[1] (ADDR:PORT in hex), st f[3], inode f[9].
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let inode: u64 = f[9].parse().unwrap_or(0);
            if mine.contains(&inode) {
                let port = f[1]
                    .rsplit(':')
                    .next()
                    .and_then(|h| u16::from_str_radix(h, 16).ok())
                    .unwrap_or(0);
                ports.push(port);
            }
        }
    }
    ports
}

/// Effective uid of process `pid`.
fn proc_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next())
            .is_some_and(|st| st != "Z"),
        Err(_) => false,
    }
}

/// Waits up to `limit` for `pid` to be gone.
fn gone_within(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !alive(pid)
}

/// Runs the `mariadb` client as uid 65534 with `args`; true when it got in.
fn nobody_connects(args: &[String]) -> bool {
    let out = Command::new("setpriv")
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".into(),
            "--".into(),
            "mariadb".into(),
            "--no-defaults".into(),
            "--connect-timeout=3".into(),
            "-uroot".into(),
        ])
        .args(args)
        .args(["-e", "SELECT CURRENT_USER()"])
        .stdin(Stdio::null())
        .output()
        .expect("run mariadb as nobody");
    out.status.success()
}

/// Asserts that the server `pid` with socket `socket` is out of reach of
/// another uid: no TCP port, and its socket refuses uid 65534.
fn assert_unreachable(pid: u32, socket: &Path) {
    let ports = listening_ports(pid);
    assert!(
        ports.is_empty(),
        "the throwaway server (pid {pid}) listens on TCP ports {ports:?}"
    );
    let dir = socket.parent().expect("socket dir");
    let mode = std::fs::metadata(dir).expect("stat dir").mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dir.display());
    if !oxkit::sandbox::is_root() {
        eprintln!("not root: cannot act as another uid (not checked)");
        return;
    }
    assert!(
        !nobody_connects(&[
            "--protocol=socket".into(),
            format!("--socket={}", socket.display())
        ]),
        "uid {NOBODY} connected to the throwaway server's socket"
    );
}

#[test]
fn product_sandbox_has_no_tcp_and_no_root() {
    let _slot = server_slot().expect("slot");
    let s = Sandbox::start().expect("sandbox");
    let pid = s.pid().expect("pid");
    assert_eq!(s.port(), 0);
    assert_unreachable(pid, &s.socket());
    // The tool itself still gets in, over the socket, and by the DSN.
    let mut c = s.connect().expect("connect");
    exec(&mut c, "SELECT 1").expect("query");
    assert!(s.dsn().starts_with("S="), "{}", s.dsn());
    if oxkit::sandbox::is_root() {
        let u = s.user().expect("a sandbox user when root").clone();
        assert_ne!(u.uid, 0);
        assert_eq!(proc_uid(pid), Some(u.uid), "the server runs as uid 0");
        let md = std::fs::metadata(s.datadir()).expect("stat datadir");
        assert_eq!((md.uid(), md.gid()), (u.uid, u.gid));
        // What the server can write is the sandbox user's, not root's.
        let r = exec(
            &mut c,
            "SELECT 'x' INTO OUTFILE '/root/oxk-sandbox-outfile'",
        );
        assert!(r.is_err(), "the server wrote into /root");
        let _ = std::fs::remove_file("/root/oxk-sandbox-outfile");
    }
    // The template it came from is private and ours.
    let cache = oxkit::sandbox::cache_dir().expect("cache");
    let md = std::fs::metadata(&cache).expect("stat cache");
    assert_eq!(md.mode() & 0o777, 0o700, "{}", cache.display());
    assert_eq!(md.uid(), nix_euid());
    assert!(!cache.starts_with("/tmp"), "{}", cache.display());
}

fn nix_euid() -> u32 {
    std::fs::metadata("/proc/self").expect("self").uid()
}

#[test]
fn tcp_is_an_explicit_opt_in() {
    let _slot = server_slot().expect("slot");
    let s = Sandbox::builder().tcp(true).start().expect("sandbox");
    let pid = s.pid().expect("pid");
    assert_eq!(listening_ports(pid), vec![s.port()]);
    connect(&s.tcp_spec(), &ConnectOptions::default()).expect("tcp connect");
}

fn hold_sandbox() -> (std::process::Child, u32, std::path::PathBuf) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxkit-hold-sandbox"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start oxkit-hold-sandbox");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    let mut pid = 0;
    let mut dir = std::path::PathBuf::new();
    for w in line.split_whitespace() {
        if let Some(p) = w.strip_prefix("pid=") {
            pid = p.parse().expect("pid");
        } else if let Some(d) = w.strip_prefix("dir=") {
            dir = d.into();
        }
    }
    assert!(pid > 0, "oxkit-hold-sandbox said {line:?}");
    (child, pid, dir)
}

#[test]
fn kill_9_of_the_owner_leaves_no_server() {
    let _slot = server_slot().expect("slot");
    let (mut holder, server, dir) = hold_sandbox();
    // Started from a thread that has exited since: still serving.
    std::thread::sleep(Duration::from_millis(500));
    assert!(alive(server), "the server died with its spawning thread");
    assert_unreachable(server, &dir.join("mysqld.sock"));
    let owner = std::fs::read_to_string(dir.join("owner")).expect("owner file");
    assert!(owner.starts_with(&format!("{} ", holder.id())), "{owner:?}");
    let killed = Command::new("kill")
        .args(["-9", &holder.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = holder.wait();
    let dead = gone_within(server, Duration::from_secs(10));
    if !dead {
        // Do not leave it serving: it is the server this test started.
        let _ = Command::new("kill")
            .args(["-9", &server.to_string()])
            .status();
    }
    assert!(
        dead,
        "the server (pid {server}) outlived kill -9 of its owner"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_untrusted_template_cache_is_refused() {
    let _slot = server_slot().expect("slot");
    let cache = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = Command::new(env!("CARGO_BIN_EXE_oxkit-hold-sandbox"))
        .env(oxkit::sandbox::CACHE_ENV, cache.path())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not trusted"), "{err}");
    if oxkit::sandbox::is_root() {
        std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        std::os::unix::fs::chown(cache.path(), Some(NOBODY), Some(NOBODY)).expect("chown");
        let out = Command::new(env!("CARGO_BIN_EXE_oxkit-hold-sandbox"))
            .env(oxkit::sandbox::CACHE_ENV, cache.path())
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not trusted"), "{err}");
    }
}

/// `ox-backup verify`: while its sandbox runs another uid cannot reach it,
/// and kill -9 of the tool takes the sandbox down with it.
#[test]
fn verify_sandbox_is_private_and_dies_with_the_tool() {
    let s = single().expect("server");
    let mut c = s.connect().expect("connect");
    exec(
        &mut c,
        "CREATE DATABASE v; USE v; CREATE TABLE v.t (id INT PRIMARY KEY, p VARCHAR(200)); \
         INSERT INTO v.t SELECT seq, REPEAT('p', 200) FROM seq_1_to_100000",
    )
    .expect("load");
    let repo = tempfile::tempdir().expect("tmp");
    let rp = repo.path().join("r").display().to_string();
    Tool::new("ox-backup")
        .args(["backup", &s.dsn(), "--repo", &rp])
        .run()
        .expect("backup")
        .expect_code(0);
    let bin = oxkit_harness::tool_path("ox-backup").expect("ox-backup");
    let home = tempfile::tempdir().expect("home");
    let mut tool = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(oxkit_harness::server_env())
        .args(["verify", "--repo", &rp])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start verify");
    let tpid = tool.id();
    // Find the verify's server: a mariadbd child of the tool.
    let start = Instant::now();
    let mut server = None;
    while server.is_none() && start.elapsed() < Duration::from_secs(60) {
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let Some(close) = stat.rfind(')') else {
                    continue;
                };
                let ppid = stat[close + 1..]
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.parse::<u32>().ok());
                // A server, not `mariadbd --version` (by its command line:
                // a server in a Debian root runs under the root's loader,
                // which is the process's name).
                let serving = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.windows(9).any(|w| w == b"--socket="));
                if ppid == Some(tpid) && serving {
                    server = Some(pid);
                }
            }
        }
        if tool.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let Some(server) = server else {
        let _ = Command::new("kill")
            .args(["-9", &tpid.to_string()])
            .status();
        let _ = tool.wait();
        panic!("no sandbox server seen under ox-backup verify");
    };
    // Its socket, from its command line.
    let cmdline = std::fs::read(format!("/proc/{server}/cmdline")).unwrap_or_default();
    let socket = cmdline
        .split(|b| *b == 0)
        .filter_map(|a| std::str::from_utf8(a).ok())
        .find_map(|a| a.strip_prefix("--socket="))
        .map(std::path::PathBuf::from);
    let checked = std::panic::catch_unwind(|| {
        if let Some(sock) = &socket {
            assert_unreachable(server, sock);
        }
    });
    let _ = Command::new("kill")
        .args(["-9", &tpid.to_string()])
        .status();
    let _ = tool.wait();
    let dead = gone_within(server, Duration::from_secs(10));
    if !dead {
        let _ = Command::new("kill")
            .args(["-9", &server.to_string()])
            .status();
    }
    if let Some(dir) = socket.as_ref().and_then(|s| s.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Err(e) = checked {
        std::panic::resume_unwind(e);
    }
    assert!(
        socket.is_some(),
        "no --socket= on the server's command line: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    assert!(
        dead,
        "the verify's server (pid {server}) outlived kill -9 of ox-backup"
    );
}

/// The check at start: a server whose owner died (here a stand-in process
/// whose command line names the sandbox's pid file, as mariadbd's does) is
/// killed by the next sandbox start; one whose owner lives is not.
#[test]
fn a_dead_owners_server_is_reaped() {
    let dir = tempfile::Builder::new()
        .prefix("oxk")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in("/tmp")
        .expect("tmp");
    let pid_file = dir.path().join("mariadbd.pid");
    // The owner record goes last: once it names a dead owner, any reaper
    // (other tests here start sandboxes too) may act on the directory.
    let start = |owner: &str| {
        let child = Command::new("sh")
            .args(["-c", "while :; do sleep 1; done"])
            .arg(format!("--pid-file={}", pid_file.display()))
            .stdin(Stdio::null())
            .spawn()
            .expect("stand-in");
        std::fs::write(&pid_file, format!("{}\n", child.id())).expect("pid file");
        std::fs::write(dir.path().join("owner"), owner).expect("owner");
        child
    };
    // A live owner (this process): left alone.
    let me = std::process::id();
    let my_start = std::fs::read_to_string(format!("/proc/{me}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s[s.rfind(')')? + 1..].to_string();
            rest.split_whitespace().nth(19).map(str::to_string)
        })
        .expect("start time");
    // Other tests of this process start sandboxes (and so reap) at the same
    // time: what counts is whether the stand-in dies, not who killed it.
    let killed_within = |child: &mut std::process::Child| {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if child.try_wait().expect("try_wait").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    };
    let mut live = start(&format!("{me} {my_start}\n"));
    oxkit::sandbox::reap_orphans();
    let survived = live.try_wait().expect("try_wait").is_none();
    let _ = live.kill();
    let _ = live.wait();
    assert!(survived, "a live owner's server was killed");
    // The same PID with another start time: its owner is gone. Kept on
    // purpose: the server is killed, the directory stays.
    std::fs::write(dir.path().join("kept"), "").expect("kept");
    let mut orphan = start(&format!("{me} 1\n"));
    oxkit::sandbox::reap_orphans();
    let killed = killed_within(&mut orphan);
    let _ = orphan.kill();
    let _ = orphan.wait();
    assert!(killed, "a dead owner's server was not killed");
    assert!(dir.path().exists(), "a kept sandbox directory was removed");
    // Not kept: the directory (a copy of restored data) goes too.
    std::fs::write(dir.path().join("owner"), format!("{me} {my_start}\n")).expect("owner");
    std::fs::remove_file(dir.path().join("kept")).expect("unkeep");
    let mut orphan = start(&format!("{me} 1\n"));
    oxkit::sandbox::reap_orphans();
    let killed = killed_within(&mut orphan);
    let _ = orphan.kill();
    let _ = orphan.wait();
    assert!(killed, "a dead owner's server was not killed");
    assert!(
        !dir.path().exists(),
        "a dead owner's sandbox directory was left"
    );
}

/// Run as root, a datadir the sandbox user cannot reach is refused before
/// anything is written (a physical restore checks this before copying).
#[test]
fn an_unreachable_datadir_is_refused_up_front() {
    assert!(oxkit::sandbox::check_reachable(Path::new("/tmp/oxk-not-yet/data")).is_ok());
    if !oxkit::sandbox::is_root() {
        eprintln!("not root: the sandbox runs as this user (not checked)");
        return;
    }
    let private = tempfile::Builder::new()
        .prefix("oxk-private")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in("/tmp")
        .expect("tmp");
    let e = oxkit::sandbox::check_reachable(&private.path().join("restored"))
        .expect_err("a root-only parent");
    assert!(format!("{e:#}").contains("cannot reach"), "{e:#}");
    oxkit::sandbox::give_dir_to_server(private.path()).expect("give");
    oxkit::sandbox::check_reachable(&private.path().join("restored")).expect("now reachable");
}
