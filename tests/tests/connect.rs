//! Connecting through the shared path, against a real MariaDB: TCP and
//! socket, DSN and URL, option files, wrong password, nothing listening,
//! and passwords never shown.

use oxkit::conn::{connect, ConnectOptions, ErrorKind};
use oxkit::server::{Flavor, Server};
use oxkit_harness::{exec, probe, single, Tool};
use std::time::{Duration, Instant};

const PW: &str = "Pr0be,Secret!42";

fn with_user() -> oxkit_harness::Single {
    let s = single().expect("sandbox");
    let mut c = s.connect().expect("root");
    exec(
        &mut c,
        "CREATE USER 'ox'@'127.0.0.1' IDENTIFIED BY 'Pr0be,Secret!42'; \
         CREATE USER 'ox'@'localhost' IDENTIFIED BY 'Pr0be,Secret!42'; \
         GRANT ALL ON *.* TO 'ox'@'127.0.0.1'; GRANT ALL ON *.* TO 'ox'@'localhost'",
    )
    .expect("user");
    s
}

#[test]
fn tcp_and_socket_by_dsn_url_options_and_env() {
    let s = with_user();
    let port = s.port().to_string();
    let sock = s.socket().display().to_string();

    // DSN over TCP, comma in the password escaped.
    let dsn = format!("h=127.0.0.1,P={port},u=ox,p={}", PW.replace(',', "\\,"));
    let r = probe(&[&dsn]);
    r.expect_code(0);
    let j = r.json();
    assert_eq!(j[0]["via"], "tcp");
    let flavor = if oxkit_harness::flavour().is_mysql() {
        "MySQL"
    } else {
        "MariaDB"
    };
    assert_eq!(j[0]["server"]["flavor"], flavor);
    assert_eq!(j[0]["server"]["port"], s.port());

    // URL, percent-encoded password.
    let url = format!("mysql://ox:Pr0be%2CSecret%2142@127.0.0.1:{port}/mysql");
    probe(&[&url]).expect_code(0);

    // Socket by DSN, password from MYSQL_PWD.
    let r = Tool::new("oxkit-probe")
        .args(["--format", "json", &format!("S={sock},u=ox")])
        .env("MYSQL_PWD", PW)
        .run()
        .expect("run");
    r.expect_code(0);
    assert_eq!(r.json()[0]["via"], "socket");

    // Socket and user from the command line, password from ~/.my.cnf.
    let t = Tool::new("oxkit-probe");
    std::fs::write(
        t.home().join(".my.cnf"),
        format!("[client]\nuser=ox\npassword=\"{PW}\"\n"),
    )
    .expect("my.cnf");
    let r = t
        .args(["--format", "json", "--socket", &sock])
        .run()
        .expect("run");
    r.expect_code(0);
    assert_eq!(r.json()[0]["via"], "socket");

    // Command line beats --defaults-file, which is the only file read.
    let t = Tool::new("oxkit-probe");
    let f = t.home().join("other.cnf");
    std::fs::write(
        &f,
        format!("[client]\nuser=nobody\npassword={PW}\nport={port}\nhost=127.0.0.1\n"),
    )
    .expect("cnf");
    let r = t
        .args([
            "--format",
            "json",
            "--defaults-file",
            f.to_str().expect("utf8"),
            "--user",
            "ox",
        ])
        .run()
        .expect("run");
    r.expect_code(0);
    assert_eq!(r.json()[0]["via"], "tcp");

    // Library level, both transports.
    for spec in [s.socket_spec(), s.tcp_spec()] {
        let mut c = connect(&spec, &ConnectOptions::default()).expect("connect");
        let tz: Option<String> = c.row("tz", "SELECT @@session.time_zone").expect("tz");
        assert_eq!(tz.as_deref(), Some("+00:00"));
        let cs: Option<String> = c.row("cs", "SELECT @@character_set_client").expect("cs");
        assert_eq!(cs.as_deref(), Some("utf8mb4"));
        let mode: Option<String> = c.row("mode", "SELECT @@session.sql_mode").expect("mode");
        assert!(!mode.unwrap_or_default().contains("ANSI_QUOTES"));
    }
}

#[test]
fn wrong_password_is_one_clear_line_and_exit_255() {
    let s = with_user();
    let dsn = format!("h=127.0.0.1,P={},u=ox,p=Wrong-Pass-123", s.port());
    let r = probe(&[&dsn]);
    r.expect_code(255);
    let err = r.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("oxkit-probe: error: cannot connect to ox@127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("access denied"), "{err}");
    assert!(!err.contains("Wrong-Pass-123"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let mut spec = s.tcp_spec();
    spec.user = Some("ox".into());
    spec.password = Some(oxkit::Secret::new("nope"));
    let e = connect(&spec, &ConnectOptions::default()).expect_err("denied");
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    assert_eq!(e.code, Some(1045));
}

#[test]
fn nothing_listening_fails_fast_and_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    oxkit_harness::tool_path("oxkit-probe").expect("built"); // not timed
    let start = Instant::now();
    let r = probe(&[
        "--connect-timeout",
        "3",
        &format!("h=127.0.0.1,P={port},u=x"),
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    r.expect_code(255);
    assert!(
        r.stderr.contains(&format!(
            "cannot connect to x@127.0.0.1:{port}: server unreachable"
        )),
        "{}",
        r.stderr
    );

    // A socket path that does not exist.
    let r = probe(&["S=/nonexistent/mysqld.sock,u=x"]);
    r.expect_code(255);
    assert!(r.stderr.contains("server unreachable"), "{}", r.stderr);
}

#[test]
fn passwords_never_in_output_even_verbose() {
    let s = with_user();
    let port = s.port().to_string();
    let secret_dsn = format!("h=127.0.0.1,P={port},u=ox,p={}", PW.replace(',', "\\,"));
    let runs = [
        // Success, maximum verbosity, password in DSN and on the command line.
        probe(&["-vvv", &secret_dsn]),
        probe(&[
            "-vvv",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--user",
            "ox",
            &format!("--password={PW}"),
        ]),
        probe(&[
            "-vvv",
            "-h127.0.0.1",
            "-P",
            &port,
            "-uox",
            &format!("-p{PW}"),
        ]),
        probe(&[
            "-vvv",
            &format!("mysql://ox:Pr0be%2CSecret%2142@127.0.0.1:{port}/"),
        ]),
        // Failures: wrong user with that password, bad DSN key, bad URL.
        probe(&[
            "-vvv",
            &format!("h=127.0.0.1,P={port},u=nobody,p={}", PW.replace(',', "\\,")),
        ]),
        probe(&[
            "-vvv",
            &format!("h=127.0.0.1,x=1,p={}", PW.replace(',', "\\,")),
        ]),
        probe(&["-vvv", &format!("mysql://ox:{PW}@127.0.0.1:notaport/")]),
        probe(&["-vvv", &format!("--password={PW}"), "--port", "notaport"]),
    ];
    for (i, r) in runs[..4].iter().enumerate() {
        assert_eq!(r.code, 0, "run {i}: {}", r.stderr);
        // The process list shows the password masked.
        let cmdline = r.json()[0]["cmdline"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(cmdline.contains("***"), "{cmdline}");
    }
    assert!(
        runs[0].stderr.contains("debug: resolved target"),
        "{}",
        runs[0].stderr
    );
    for r in &runs {
        for part in [PW, "Pr0be", "Secret!42", "Secret%2142"] {
            assert!(
                !r.stdout.contains(part) && !r.stderr.contains(part),
                "password leaked:\n--- stdout\n{}\n--- stderr\n{}",
                r.stdout,
                r.stderr
            );
        }
    }
    for r in &runs[4..] {
        assert_ne!(r.code, 0, "{}", r.stderr);
    }
}

#[test]
fn flavour_and_version_match_the_binary() {
    let s = single().expect("sandbox");
    let mut c = s.connect().expect("connect");
    let server = Server::detect(&mut c).expect("detect");
    let install = oxkit_harness::flavour();
    assert_eq!(
        server.version, install.version,
        "{}",
        install.version_string
    );
    if install.is_mysql() {
        assert_eq!(server.flavor, Flavor::MySQL);
        assert!(server.caps.lock_instance_for_backup && server.caps.replica_keyword);
        assert!(!server.caps.backup_stage && !server.caps.mariadb_108_redo);
        assert_eq!(server.replica_status_sql(), "SHOW REPLICA STATUS");
        assert_eq!(server.binlog_status_sql(), "SHOW BINARY LOG STATUS");
        assert_eq!(server.replica_hosts_sql(), "SHOW REPLICAS");
        // MySQL 9.6 removed SHA1() and MD5(): the row hash uses SHA2.
        assert!(!server.caps.legacy_hashes);
        assert_eq!(
            oxkit::checksum::Function::Sha1.on(&server),
            oxkit::checksum::Function::Sha2
        );
    } else {
        assert_eq!(server.flavor, Flavor::MariaDB);
        assert!(
            server.caps.backup_stage && server.caps.replica_keyword && server.caps.mariadb_108_redo
        );
        assert_eq!(server.replica_status_sql(), "SHOW ALL SLAVES STATUS");
        assert_eq!(server.binlog_status_sql(), "SHOW MASTER STATUS");
    }
    // Every statement the shared layer chose runs on this server.
    for sql in [
        server.replica_status_sql(),
        server.binlog_status_sql(),
        server.replica_hosts_sql(),
        server.gtid_executed_sql(),
    ] {
        use mysql::prelude::Queryable as _;
        let _: Vec<mysql::Row> = c.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Regression: the client library's `query_drop` silently drops an error
/// raised by a later statement of a multi-statement script.
#[test]
fn script_errors_in_later_statements_are_reported() {
    let s = single().expect("sandbox");
    let mut c = s.connect().expect("connect");
    let err = c
        .run("script", "CREATE DATABASE d1; CREATE TABLE d1.t (a INT); INSERT INTO d1.nope VALUES (1); CREATE DATABASE d2")
        .expect_err("third statement fails");
    assert_eq!(err.kind, ErrorKind::UnknownTable);
    let d2: Option<String> = c
        .row(
            "check",
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'd2'",
        )
        .expect("q");
    assert_eq!(d2, None, "statements after the failing one must not run");
}

// ---------------------------------------------------------------------------
// Peers that do not answer (issue 21). No server is needed: the point is a
// peer that accepts, or is reached, and then says nothing.

/// A listener on loopback that accepts every connection and never writes
/// (a hung server, or a proxy in front of a dead one). The accepted sockets
/// stay open as long as the test process lives.
fn silent_peer() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A loopback "blackhole": a listener with a backlog of 0 whose one queue
/// place is taken by a connection it never accepts, so the kernel drops
/// every further SYN, as a firewall dropping packets does.
struct Blackhole {
    port: u16,
    _listener: socket2::Socket,
    _filler: std::net::TcpStream,
}

fn blackhole() -> Blackhole {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    s.bind(&addr.into()).expect("bind");
    s.listen(0).expect("listen");
    let port = s
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet")
        .port();
    let filler = std::net::TcpStream::connect(("127.0.0.1", port)).expect("fill the queue");
    Blackhole {
        port,
        _listener: s,
        _filler: filler,
    }
}

/// Lines of a tool's stderr that show the client library's debug wrappers.
fn raw_library_text(stderr: &str) -> bool {
    [
        "CodecError",
        "IoError {",
        "DriverError {",
        "MySqlError {",
        "panicked",
    ]
    .iter()
    .any(|w| stderr.contains(w))
}

/// Regression (issue 21): a server that accepts TCP and never sends its
/// greeting held every tool for the 15-minute read timeout, whatever
/// `--connect-timeout` said.
#[test]
fn silent_server_is_bounded_by_connect_timeout() {
    let port = silent_peer();
    oxkit_harness::tool_path("oxkit-probe").expect("built"); // not timed

    let start = Instant::now();
    let r = Tool::new("oxkit-probe")
        .args([
            "--connect-timeout",
            "2",
            &format!("h=127.0.0.1,P={port},u=x"),
        ])
        .timeout(Duration::from_secs(20))
        .run()
        .expect("run");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "took {took:?}: {}",
        r.stderr
    );
    r.expect_code(255);
    let err = r.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        err,
        format!(
            "oxkit-probe: error: cannot connect to x@127.0.0.1:{port}: server unreachable: \
             the server accepted the TCP connection but did not complete the handshake within 2s"
        )
    );

    // The tool from the report: ox-summary keeps going without the server
    // (exit 1, its documented status for an unreachable server).
    let start = Instant::now();
    let r = Tool::new("ox-summary")
        .args([
            &format!("h=127.0.0.1,P={port},u=x"),
            "--no-system",
            "--sleep",
            "0",
            "--connect-timeout",
            "2",
        ])
        .timeout(Duration::from_secs(20))
        .run()
        .expect("run");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "took {:?}",
        start.elapsed()
    );
    r.expect_code(1);
    assert!(
        r.stderr
            .contains("did not complete the handshake within 2s"),
        "{}",
        r.stderr
    );
    assert!(!raw_library_text(&r.stderr), "{}", r.stderr);
}

/// Sends SIGINT to a process this test started, by its PID.
fn interrupt(child: &std::process::Child) {
    oxkit_harness::signal(child.id(), "-INT");
}

/// Regression (issue 21): the first Ctrl-C did nothing to a tool blocked
/// reading from a server that does not answer.
#[test]
fn first_sigint_ends_a_tool_blocked_in_connect() {
    let port = silent_peer();
    for tool in ["ox-summary", "ox-table-checksum"] {
        let dsn = format!("h=127.0.0.1,P={port},u=x");
        let mut args = vec![dsn.as_str(), "--connect-timeout", "60"];
        if tool == "ox-summary" {
            args.extend(["--no-system", "--sleep", "0"]);
        }
        let child = oxkit_harness::spawn_tool(tool, &args);
        std::thread::sleep(Duration::from_secs(1));
        interrupt(&child);
        let signalled = Instant::now();
        let out = oxkit_harness::wait_child(child, Duration::from_secs(20)).expect("ends");
        let took = signalled.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            took < Duration::from_millis(3500),
            "{tool}: took {took:?}: {stderr}"
        );
        assert_eq!(out.status.code(), Some(4), "{tool}: {stderr}");
        assert!(
            stderr.contains(&format!("{tool}: caught signal")),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("{tool}: stopped: ")), "{stderr}");
        assert!(
            stderr.contains(&format!("x@127.0.0.1:{port}")) || tool == "ox-summary",
            "{stderr}"
        );
        assert!(!raw_library_text(&stderr), "{stderr}");
    }
}

/// Regression (issue 21): SYNs dropped (a blackholed host) end within
/// `--connect-timeout`, with words instead of the library's wrapper.
#[test]
fn blackholed_host_gives_up_within_connect_timeout() {
    let bh = blackhole();
    oxkit_harness::tool_path("oxkit-probe").expect("built"); // not timed
    let start = Instant::now();
    let r = Tool::new("oxkit-probe")
        .args([
            "--connect-timeout",
            "3",
            &format!("h=127.0.0.1,P={},u=x", bh.port),
        ])
        .timeout(Duration::from_secs(30))
        .run()
        .expect("run");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2800) && took < Duration::from_millis(4500),
        "took {took:?}: {}",
        r.stderr
    );
    r.expect_code(255);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "oxkit-probe: error: cannot connect to x@127.0.0.1:{}: server unreachable: \
             no answer to the TCP connection within 3s (host down, or packets dropped by a firewall)",
            bh.port
        )
    );
}

/// Runs `bin args` as the unprivileged user `nobody` when this test runs as
/// root (root reads any directory), else as the caller.
fn run_unprivileged(
    bin: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> oxkit_harness::RunResult {
    use std::process::{Command, Stdio};
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = oxkit_harness::wait_child(cmd.spawn().expect("spawn"), Duration::from_secs(60))
        .expect("finishes");
    oxkit_harness::RunResult {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Regression (issue 21): `sudo -u x` without `-H` leaves `$HOME` pointing
/// at a directory the user may not read, and every tool failed, even
/// `--version`, on config files that do not exist.
#[test]
fn unreadable_home_is_not_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let base = tempfile::tempdir().expect("tmp");
    // Reachable by anyone, so that only `home` itself is shut.
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = base.path().join("home");
    std::fs::create_dir_all(home.join(".config/oxkit")).expect("mkdir");
    std::fs::write(
        home.join(".config/oxkit/ox-summary.conf"),
        "no-such-option\n",
    )
    .expect("conf");
    std::fs::write(home.join(".my.cnf"), "[client]\nport=notaport\n").expect("my.cnf");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let bin = oxkit_harness::tool_path("ox-summary").expect("built");
    let env = [
        ("HOME", home.as_path()),
        ("XDG_CONFIG_HOME", &home.join(".config")),
    ];
    let env_home_only = [("HOME", home.as_path())];

    let r = run_unprivileged(&bin, &["--version"], &env);
    r.expect_code(0);
    assert!(r.stdout.starts_with("ox-summary "), "{}", r.stdout);
    assert_eq!(r.stderr, "");
    let r = run_unprivileged(&bin, &["--version"], &env_home_only);
    r.expect_code(0);

    // A normal run: the host half, and a server that is not there (the
    // option files, ~/.my.cnf included, are consulted first).
    let r = run_unprivileged(&bin, &["--no-server", "--sleep", "0"], &env);
    r.expect_code(0);
    assert_eq!(r.stderr, "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let r = run_unprivileged(
        &bin,
        &[
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "--sleep",
            "0",
            "--no-system",
        ],
        &env,
    );
    r.expect_code(1);
    assert!(r.stderr.contains("server unreachable"), "{}", r.stderr);
    assert!(!r.stderr.contains("ermission denied"), "{}", r.stderr);
    assert!(!r.stderr.contains("my.cnf"), "{}", r.stderr);
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    // A config file that is there and readable but broken is still an error.
    let cfg = base.path().join("cfg");
    std::fs::create_dir_all(cfg.join("oxkit")).expect("mkdir");
    std::fs::write(cfg.join("oxkit/ox-summary.conf"), "sleep 0 && rm -rf\n").expect("conf");
    std::fs::set_permissions(
        cfg.join("oxkit/ox-summary.conf"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let r = run_unprivileged(
        &bin,
        &["--version"],
        &[("HOME", base.path()), ("XDG_CONFIG_HOME", &cfg)],
    );
    r.expect_code(1);
    assert!(
        r.stderr.contains("ox-summary.conf:1: not an option"),
        "{}",
        r.stderr
    );

    // One that is there but may not be read is skipped, with a warning.
    std::fs::set_permissions(
        cfg.join("oxkit/ox-summary.conf"),
        std::fs::Permissions::from_mode(0o000),
    )
    .expect("chmod");
    let r = run_unprivileged(
        &bin,
        &["--version"],
        &[("HOME", base.path()), ("XDG_CONFIG_HOME", &cfg)],
    );
    r.expect_code(0);
    assert!(
        r.stderr
            .starts_with("ox-summary: warning: skipping config file ")
            && r.stderr.contains("ox-summary.conf"),
        "{}",
        r.stderr
    );
}
