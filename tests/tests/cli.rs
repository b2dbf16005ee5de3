//! Every tool binary: --help, --version, usage errors and the not-built-yet
//! status (or, once built, a clear failure without a server), run hermetically.

use oxkit_harness::Tool;

const TOOLS: [&str; 5] = [
    "ox-summary",
    "ox-table-checksum",
    "ox-table-sync",
    "ox-online-schema-change",
    "ox-backup",
];

#[test]
fn help_version_and_usage_errors() {
    for tool in TOOLS {
        let r = Tool::new(tool).args(["--help"]).run().expect("run");
        r.expect_code(0);
        for heading in [
            "Connection:",
            "Output:",
            "General:",
            "--ssl-mode",
            "--defaults-file",
        ] {
            assert!(
                r.stdout.contains(heading),
                "{tool} --help lacks {heading}:\n{}",
                r.stdout
            );
        }
        let r = Tool::new(tool).args(["--version"]).run().expect("run");
        r.expect_code(0);
        assert_eq!(
            r.stdout.trim(),
            format!("{tool} {}", env!("CARGO_PKG_VERSION"))
        );

        // A bad option: exit 1 (Percona's code for option errors), not 2.
        let r = Tool::new(tool)
            .args(["--no-such-option"])
            .run()
            .expect("run");
        r.expect_code(1);
        assert!(r.stderr.contains("--no-such-option"), "{}", r.stderr);

        // A bad value for a typed option.
        let r = Tool::new(tool)
            .args(["--ssl-mode", "SOMETIMES"])
            .run()
            .expect("run");
        r.expect_code(1);

        // A stub says it is not built yet and exits 1; a built tool, with
        // no server on 127.0.0.1:3306, fails and says why on stderr (its own
        // tests check what it says).
        let r = Tool::new(tool).args(["h=127.0.0.1"]).run().expect("run");
        if r.stderr.contains("not built yet") {
            r.expect_code(1);
        } else {
            assert_ne!(r.code, 0, "{tool}: {}", r.stderr);
            assert!(!r.stderr.trim().is_empty(), "{tool}: silent failure");
        }
    }
}

#[test]
fn config_files_layer_under_the_command_line() {
    // A user config with a bad value is read (and fails the parse)...
    let t = Tool::new("ox-summary");
    let dir = t.home().join(".config/oxkit");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("ox-summary.conf"), "# comment\nformat=yaml\n").expect("write");
    let r = t.args(["h=127.0.0.1"]).run().expect("run");
    r.expect_code(1);
    assert!(r.stderr.contains("yaml"), "{}", r.stderr);

    // ...the command line wins over it, and --no-config skips it.
    let server = oxkit_harness::single().expect("sandbox");
    let probe = |extra: &[&str]| {
        let t = Tool::new("oxkit-probe");
        let dir = t.home().join(".config/oxkit");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("oxkit-probe.conf"), "format=json\n").expect("write");
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.push(server.dsn());
        let r = t.args(args).run().expect("run");
        r.expect_code(0);
        r.stdout.trim_start().starts_with('[')
    };
    assert!(probe(&[]), "the config file's format=json applies");
    assert!(!probe(&["--format=text"]), "the command line wins");
    assert!(!probe(&["--no-config"]), "--no-config skips it");

    let r = Tool::new("ox-summary")
        .args(["--config", "/nonexistent/ox.conf"])
        .run()
        .expect("run");
    r.expect_code(1);
    assert!(r.stderr.contains("/nonexistent/ox.conf"), "{}", r.stderr);
}

/// Issue 21: pt-* users bring their scripts. The options with nothing to do
/// here are accepted, `--quiet` is, and `--password VALUE` (pt's spelling)
/// fails with how to write it, never using the value as a DSN nor showing
/// it.
#[test]
fn percona_toolkit_spellings() {
    for tool in TOOLS {
        let r = Tool::new(tool)
            .args([
                "--no-version-check",
                "--version-check",
                "--progress=time,30",
                "--nocheck-replication-filters",
                "--quiet",
                "--version",
            ])
            .run()
            .expect("run");
        r.expect_code(0);
        let r = Tool::new(tool)
            .args(["--password", "s3cr3t-value", "h=127.0.0.1,P=1"])
            .run()
            .expect("run");
        r.expect_code(1);
        assert!(
            r.stderr.contains("--password=VALUE"),
            "{tool}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("s3cr3t"), "{tool}: {}", r.stderr);
        assert!(!r.stdout.contains("s3cr3t"), "{tool}: {}", r.stdout);
    }
    // The schema change finds replicas the way the checksum does.
    Tool::new("ox-online-schema-change")
        .args(["--recursion-method=none", "--version"])
        .run()
        .expect("run")
        .expect_code(0);
}

/// Runs `tool args` with stdout into a pipe whose reader is already gone
/// (`| head -1` once head has its line): it must exit 0, never with a
/// panic message.
fn run_into_a_closed_pipe(tool: &str, args: &[&str]) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let home = tempfile::tempdir().expect("home");
    let child = std::process::Command::new(oxkit_harness::tool_path(tool).expect("tool"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let out =
        oxkit_harness::wait_child(child, std::time::Duration::from_secs(60)).expect("finished");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{tool} {args:?}: {err}");
    assert!(!err.contains("panicked"), "{tool} {args:?}: {err}");
}

/// Issue 19: a reader that stops reading (`| head -1`) ends a tool quietly
/// with status 0, never with a panic message: every tool's `--help`, and a
/// report printed with `print!` (ox-summary's host section), into a pipe
/// whose reader is already gone.
#[test]
fn a_closed_stdout_ends_the_tool_quietly() {
    for tool in TOOLS {
        run_into_a_closed_pipe(tool, &["--help"]);
    }
    run_into_a_closed_pipe("ox-summary", &["--no-server", "--sleep", "0"]);
}

/// Issue 19: `ox-table-sync SOURCE TARGET --print | head -1`: the script
/// written with `writeln!` into a pipe whose reader is gone ends the run
/// quietly with status 0.
#[test]
fn sync_print_into_a_closed_stdout_ends_quietly() {
    let server = oxkit_harness::single().expect("sandbox");
    let dsn = server.dsn();
    run_into_a_closed_pipe("ox-table-sync", &[&dsn, &dsn, "--print"]);
}

/// Issue 21: with `--format json` every failure is also one JSON object on
/// stdout (`error`, `exit_status`), so a script never reads nothing
/// (ox-summary reports an unreachable server in its own document).
#[test]
fn json_error_object_on_failure() {
    let repo = tempfile::tempdir().expect("repo");
    let repo = repo.path().to_string_lossy().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("ox-summary", vec!["h=127.0.0.1,P=1", "--no-system"]),
        ("ox-table-checksum", vec!["h=127.0.0.1,P=1"]),
        (
            "ox-table-sync",
            vec!["h=127.0.0.1,P=1", "h=127.0.0.1,P=2", "--dry-run"],
        ),
        (
            "ox-online-schema-change",
            vec![
                "h=127.0.0.1,P=1,D=d,t=t",
                "--alter",
                "ADD INDEX (a)",
                "--dry-run",
            ],
        ),
        (
            "ox-backup",
            vec!["backup", "h=127.0.0.1,P=1", "--repo", &repo],
        ),
    ];
    for (tool, args) in cases {
        let r = Tool::new(tool)
            .args(
                args.iter()
                    .copied()
                    .chain(["--format", "json", "--connect-timeout", "2"]),
            )
            .run()
            .expect("run");
        assert_ne!(r.code, 0, "{tool}: {}", r.stderr);
        let doc = r.json();
        if tool == "ox-summary" {
            // Its own report, with the host part and the reason.
            assert!(
                doc["errors"][0]
                    .as_str()
                    .is_some_and(|e| e.contains("127.0.0.1")),
                "{doc}"
            );
            continue;
        }
        assert_eq!(doc["exit_status"], r.code, "{tool}: {doc}");
        assert!(
            doc["error"]
                .as_str()
                .is_some_and(|e| e.contains("127.0.0.1")),
            "{tool}: {doc}"
        );
    }
}
