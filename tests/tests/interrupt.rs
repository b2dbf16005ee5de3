//! `oxkit::conn::interrupt_io` against a real MariaDB: what the first
//! Ctrl-C does to a tool blocked reading from a server (issue 21). Its own
//! test binary, because cutting every open connection is process-wide and
//! would break tests running beside it.

use oxkit::conn::{connect, interrupt_io, ConnectOptions, ErrorKind};
use oxkit_harness::single;
use std::time::{Duration, Instant};

/// Resumes a stopped server process on drop, also when an assertion fails.
struct Resume(String);

impl Drop for Resume {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

/// Sends `sig` to `pid`, a server this test started.
fn signal(sig: &str, pid: &str) {
    oxkit_harness::signal(pid.parse().expect("a pid"), sig);
}

/// interrupt_io cuts every connection of the process: the tests of this
/// file take turns, or one would cut the other's connections.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Waits (at most 10 s) until every thread of process `pid` is stopped
/// (state `T` in `/proc/PID/task/*/stat`).
fn wait_stopped(pid: &str) {
    let start = Instant::now();
    loop {
        let all = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("tasks")
            .filter_map(Result::ok)
            .all(|t| {
                std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|st| {
                        st.rfind(')')
                            .and_then(|i| st[i + 1..].split_whitespace().next().map(str::to_string))
                    })
                    .is_some_and(|state| state == "T" || state == "t")
            });
        if all {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server {pid} did not stop"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn interrupt_io_cuts_reads_blocked_on_a_hung_or_busy_server() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = single().expect("sandbox");
    let opts = ConnectOptions::default();

    // A server that stops answering (its process frozen: the kernel still
    // acknowledges, so TCP keepalive cannot tell) holds a read until the
    // 15-minute read timeout; interrupt_io ends it at once.
    let mut c = connect(&s.tcp_spec(), &opts).expect("connect");
    // A peer that vanished is found by TCP keepalive, armed on every TCP
    // connection (the kernel shows its timer).
    let ss = std::process::Command::new("ss")
        .args(["-tnoH", "state", "established"])
        .arg(format!("( dport = :{} )", s.port()))
        .output()
        .expect("ss (iproute2)");
    let ss = String::from_utf8_lossy(&ss.stdout);
    assert!(ss.contains("timer:(keepalive,"), "{ss}");
    let pid_file: Option<String> = c.row("pid file", "SELECT @@pid_file").expect("pid_file");
    let pid = std::fs::read_to_string(pid_file.expect("a pid file"))
        .expect("read pid")
        .trim()
        .to_string();
    signal("-STOP", &pid);
    let resume = Resume(pid.clone());
    // kill returns before the signal took effect: wait until every thread
    // of the server is stopped, or a quick thread could still answer.
    wait_stopped(&pid);
    let reader = std::thread::spawn(move || {
        let r = c.row::<i64>("reading", "SELECT 1");
        (r.map(|_| ()), Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let cut = Instant::now();
    interrupt_io();
    let (r, ended) = reader.join().expect("reader");
    let e = r.expect_err("the read was cut");
    assert!(
        ended.saturating_duration_since(cut) < Duration::from_secs(1),
        "ended {:?} after the cut",
        ended.saturating_duration_since(cut)
    );
    assert_eq!(e.kind, ErrorKind::LostConnection, "{}", e.message);
    assert!(
        e.message.contains("reading on root@127.0.0.1:") && !e.message.contains('{'),
        "{}",
        e.message
    );
    drop(resume);

    // A long statement on a live server is cut the same way; connections
    // opened afterwards (a tool's cleanup) work.
    let mut c = connect(&s.tcp_spec(), &opts).expect("connect after the cut");
    let sleeper = std::thread::spawn(move || {
        let r = c.row::<i64>("sleeping", "SELECT SLEEP(30)");
        (r.map(|_| ()), Instant::now())
    });
    std::thread::sleep(Duration::from_millis(500));
    let cut = Instant::now();
    interrupt_io();
    let (r, ended) = sleeper.join().expect("sleeper");
    assert!(r.is_err());
    assert!(ended.saturating_duration_since(cut) < Duration::from_secs(1));
    let mut c = connect(&s.tcp_spec(), &opts).expect("connect after the second cut");
    let one: Option<i64> = c
        .row("check", "SELECT 1")
        .expect("a fresh connection works");
    assert_eq!(one, Some(1));
}

/// Regression (issue 21): the first Ctrl-C did nothing to a tool waiting
/// for a server that stopped answering in the middle of its run.
#[test]
fn first_sigint_ends_a_tool_blocked_on_a_hung_server() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let s = single().expect("sandbox");
    let mut root = s.connect().expect("root");
    oxkit_harness::exec(
        &mut root,
        "CREATE USER 'ox'@'127.0.0.1'; GRANT ALL ON *.* TO 'ox'@'127.0.0.1'",
    )
    .expect("user");
    let pid_file: Option<String> = root.row("pid file", "SELECT @@pid_file").expect("pid_file");
    let pid = std::fs::read_to_string(pid_file.expect("a pid file"))
        .expect("read pid")
        .trim()
        .to_string();
    let home = tempfile::tempdir().expect("home");
    let tool = oxkit_harness::tool_path("ox-summary").expect("built");
    let child = std::process::Command::new(tool)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join(".config"))
        .env("LANG", "C.UTF-8")
        .args([
            &format!("h=127.0.0.1,P={},u=ox", s.port()),
            "--no-system",
            "--sleep",
            "2",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Once the tool is connected, freeze the server: the tool's next query
    // (after its 2-second sample interval) waits for an answer that does
    // not come.
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let n: Option<i64> = root
            .row(
                "waiting for the tool",
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'ox'",
            )
            .expect("processlist");
        if n.unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < until, "the tool never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal("-STOP", &pid);
    let resume = Resume(pid.clone());
    wait_stopped(&pid);
    std::thread::sleep(Duration::from_secs(4));
    signal("-INT", &child.id().to_string());
    let signalled = Instant::now();
    let out = oxkit_harness::wait_child(child, Duration::from_secs(60)).expect("the tool ends");
    let took = signalled.elapsed();
    drop(resume);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        took < Duration::from_millis(3500),
        "took {took:?}: {stderr}"
    );
    let code = out.status.code().unwrap_or(-1);
    // 4, or 4 + 1 when the summary reports the queries the cut failed.
    assert!(code == 4 || code == 5, "exit {code}: {stderr}");
    assert!(stderr.contains("ox-summary: caught signal"), "{stderr}");
    for raw in ["CodecError", "IoError {", "DriverError {", "panicked"] {
        assert!(!stderr.contains(raw), "{stderr}");
    }
}
