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
    assert_eq!(j[0]["server"]["flavor"], "MariaDB");
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
    let bin = oxkit::sandbox::mariadbd().expect("mariadbd");
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .expect("version");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&server.version.to_string()),
        "{text} vs {}",
        server.version
    );
    assert_eq!(server.flavor, Flavor::MariaDB);
    assert!(
        server.caps.backup_stage && server.caps.replica_keyword && server.caps.mariadb_108_redo
    );
    assert_eq!(server.replica_status_sql(), "SHOW ALL SLAVES STATUS");
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
