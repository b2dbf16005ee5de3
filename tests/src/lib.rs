//! Test harness: real MariaDB topologies and hermetic tool runs.
//!
//! Built on `oxkit::sandbox` (the same module the demo and `ox-backup verify`
//! use). A [`Topology`] is a primary with N replicas replicating by GTID,
//! each a throwaway `mariadbd` on 127.0.0.1; [`Topology::sync`] waits until
//! every replica has applied the primary's GTID position (no sleeps). A
//! [`Tool`] runs one of the `ox-*` binaries with a temp `HOME`, no `MYSQL_*`
//! variables and no config files, so the developer's machine cannot leak
//! into a test.
//!
//! Server-starting tests take a slot from a small cross-process pool
//! ([`server_slot`]) so a 2-core machine is not asked to boot a dozen
//! servers at once.

use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::conn::Conn;
use oxkit::sandbox::Sandbox;
use oxkit::server::Server;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use oxkit::sandbox;

pub mod fuzz;
pub mod garage;
pub mod osc;

/// The server flavour every test of this run starts: the default
/// [`sandbox::Install`] (`$OXKIT_MARIADBD` or `$OXKIT_MYSQLD` when set,
/// which `cargo xtask test` sets per flavour, else the host's `mariadbd`).
pub fn flavour() -> &'static sandbox::Install {
    static F: OnceLock<sandbox::Install> = OnceLock::new();
    F.get_or_init(|| {
        sandbox::Install::find(None, None).unwrap_or_else(|e| panic!("no server to test: {e:#}"))
    })
}

/// The environment variables that choose the server, passed on to the tools
/// a test runs (their `verify` and `restore` start throwaway servers too).
pub const SERVER_ENV: &[&str] = &[sandbox::MARIADBD_ENV, sandbox::MYSQLD_ENV];

/// True, after saying so on stderr by the test's name, when this run's
/// flavour is one of `names` (`"mysql-9.7"`, or just `"mysql"` /
/// `"mariadb"` for a whole product): the calling test does not apply to
/// it and should return. Never a silent skip: `cargo xtask test` counts
/// and lists these lines.
#[allow(
    clippy::print_stderr,
    reason = "the skip line on stderr is what `cargo xtask test` counts"
)]
pub fn not_on(names: &[&str], why: &str) -> bool {
    let f = flavour();
    let name = f.name();
    let product = if f.is_mysql() { "mysql" } else { "mariadb" };
    if !names.iter().any(|n| *n == name || *n == product) {
        return false;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    eprintln!("SKIPPED {test} on {name}: {why}");
    if let Some(path) = std::env::var_os("OXKIT_SKIP_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{test} on {name}: {why}");
        }
    }
    true
}

/// How many server-starting tests may run at once across all test processes
/// (`OXKIT_TEST_SLOTS`, default 2).
pub fn slot_count() -> usize {
    std::env::var("OXKIT_TEST_SLOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(2)
}

/// A held slot; released on drop.
pub struct Slot(#[allow(dead_code)] std::fs::File);

/// Takes one of [`slot_count`] slots, waiting for one to free up.
pub fn server_slot() -> Result<Slot> {
    let dir = std::env::temp_dir().join("oxkit-test-slots");
    std::fs::create_dir_all(&dir)?;
    let n = slot_count();
    loop {
        for i in 0..n {
            let f = std::fs::File::create(dir.join(format!("slot-{i}")))?;
            if f.try_lock().is_ok() {
                return Ok(Slot(f));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Notes a started test server in `$OXKIT_SERVER_TEST_LOG` (when set), so
/// `cargo xtask test` can prove server tests really ran.
fn record_server_start(what: &str) {
    if let Some(path) = std::env::var_os("OXKIT_SERVER_TEST_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{what} pid={}", std::process::id());
        }
    }
}

/// One standalone server (binary log on), holding a slot.
pub struct Single {
    /// The server.
    pub server: Sandbox,
    _slot: Slot,
}

impl std::ops::Deref for Single {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.server
    }
}

/// Starts one server with the binary log on.
pub fn single() -> Result<Single> {
    let slot = server_slot()?;
    let server = Sandbox::builder().tcp(true).binlog(true).start()?;
    record_server_start("single");
    Ok(Single {
        server,
        _slot: slot,
    })
}

/// A primary and its replicas.
pub struct Topology {
    /// The source.
    pub primary: Sandbox,
    /// Replicas, each replicating from the primary by GTID.
    pub replicas: Vec<Sandbox>,
    _slot: Slot,
}

impl Topology {
    /// Starts a primary with `n` replicas (server ids 1, 2, ...), GTID
    /// replication (MariaDB `master_use_gtid=slave_pos`, MySQL
    /// `SOURCE_AUTO_POSITION`), `report_host`/`report_port` set so
    /// `SHOW SLAVE HOSTS` / `SHOW REPLICAS` finds them.
    pub fn start(n: usize) -> Result<Topology> {
        let slot = server_slot()?;
        let primary = Sandbox::builder()
            .tcp(true)
            .server_id(1)
            .binlog(true)
            .start()?;
        let mut replicas = Vec::new();
        for i in 0..n {
            let r = Sandbox::builder()
                .tcp(true)
                .server_id(2 + i as u32)
                .binlog(true)
                .start()?;
            let mut c = r.connect()?;
            let (change, start) = if flavour().is_mysql() {
                (
                    format!(
                        "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={}, \
                         SOURCE_USER='root', SOURCE_PASSWORD='', SOURCE_AUTO_POSITION=1, \
                         SOURCE_CONNECT_RETRY=1, GET_SOURCE_PUBLIC_KEY=1",
                        primary.port()
                    ),
                    "START REPLICA",
                )
            } else {
                (
                    format!(
                        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, \
                         MASTER_USER='root', MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, \
                         MASTER_CONNECT_RETRY=1",
                        primary.port()
                    ),
                    "START SLAVE",
                )
            };
            c.query_drop(change).context("configuring replica")?;
            c.query_drop(start).context("starting replica")?;
            replicas.push(r);
        }
        let t = Topology {
            primary,
            replicas,
            _slot: slot,
        };
        t.wait_replicas_connected(Duration::from_secs(30))?;
        record_server_start(&format!("topology 1+{n}"));
        Ok(t)
    }

    /// Connects to the primary as root.
    pub fn primary_conn(&self) -> Result<Conn> {
        self.primary.connect()
    }

    /// Connects to replica `i` as root.
    pub fn replica_conn(&self, i: usize) -> Result<Conn> {
        self.replicas
            .get(i)
            .with_context(|| format!("no replica {i}"))?
            .connect()
    }

    fn wait_replicas_connected(&self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        for r in &self.replicas {
            let mut c = r.connect()?;
            let server = Server::detect(&mut c)?;
            loop {
                let status = oxkit::topology::replica_status(&mut c, &server)?;
                if status.first().is_some_and(|s| s.is_running()) {
                    break;
                }
                if start.elapsed() > limit {
                    let err = status
                        .first()
                        .map(|s| s.last_io_error.clone())
                        .unwrap_or_default();
                    bail!("replica on port {} did not connect: {err}", r.port());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// Waits until every replica has applied everything the primary has
    /// written so far (MASTER_GTID_WAIT on the primary's position).
    pub fn sync(&self) -> Result<()> {
        let mut p = self.primary_conn()?;
        let server = Server::detect(&mut p)?;
        let pos = server.gtid_position(&mut p)?;
        for r in &self.replicas {
            let mut c = r.connect()?;
            if !server.wait_for_gtid(&mut c, &pos, Duration::from_secs(60))? {
                bail!(
                    "replica on port {} did not reach GTID {pos} within 60s",
                    r.port()
                );
            }
        }
        Ok(())
    }

    /// Runs `sql` on replica `i` without binary logging, so the change
    /// exists only there (drift).
    pub fn drift(&self, i: usize, sql: &str) -> Result<()> {
        let mut c = self.replica_conn(i)?;
        c.query_drop("SET SESSION sql_log_bin=0")?;
        c.query_drop(sql)
            .with_context(|| format!("drift on replica {i}: {sql}"))?;
        Ok(())
    }
}

/// `CHECKSUM TABLE ... EXTENDED` of every base table of `dbs`, by name:
/// the server's own verdict on a copy (panics on a query error).
pub fn table_sums(c: &mut Conn, dbs: &[&str]) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for db in dbs {
        let names: Vec<String> = c
            .rows(
                "tables",
                &format!(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
                     AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
                ),
            )
            .unwrap_or_else(|e| panic!("listing the tables of {db}: {e:#}"));
        for n in names {
            let r: Vec<(String, Option<u64>)> = c
                .rows("checksum", &format!("CHECKSUM TABLE `{db}`.`{n}` EXTENDED"))
                .unwrap_or_else(|e| panic!("CHECKSUM TABLE {db}.{n}: {e:#}"));
            out.extend(r);
        }
    }
    out
}

/// Runs `sql` (several statements allowed) on `conn`, written for MariaDB:
/// on MySQL its sequence tables are rewritten (see [`portable`]).
pub fn exec(conn: &mut Conn, sql: &str) -> Result<()> {
    if flavour().is_mysql() {
        if sql.contains("seq_") {
            conn.run("SQL", "SET SESSION cte_max_recursion_depth = 4294967295")?;
        }
        return Ok(conn.run("SQL", &portable(sql))?);
    }
    Ok(conn.run("SQL", sql)?)
}

/// MariaDB spellings a test writes and MySQL 9.7 words another way:
/// [`portable`] rewrites them on MySQL.
const SPELLINGS: &[(&str, &str)] = &[
    ("STOP SLAVE", "STOP REPLICA"),
    ("START SLAVE", "START REPLICA"),
    ("SHOW SLAVE STATUS", "SHOW REPLICA STATUS"),
    ("@@GLOBAL.gtid_binlog_pos", "@@GLOBAL.gtid_executed"),
    ("@@GLOBAL.gtid_current_pos", "@@GLOBAL.gtid_executed"),
    ("@@GLOBAL.gtid_slave_pos", "@@GLOBAL.gtid_executed"),
    ("@@gtid_binlog_pos", "@@gtid_executed"),
    ("@@gtid_current_pos", "@@gtid_executed"),
    ("@@gtid_slave_pos", "@@gtid_executed"),
    // The checksum table's primary columns (oxkit::checksum::ReplicateTable).
    ("master_crc", "source_crc"),
    ("master_cnt", "source_cnt"),
];

/// `sql`, written for MariaDB, as this run's server takes it (see
/// [`portable`]; unchanged on MariaDB). For statements a test runs itself
/// (`c.query_drop(sql("STOP SLAVE"))`).
pub fn sql(sql: &str) -> String {
    if flavour().is_mysql() {
        portable(sql)
    } else {
        sql.to_string()
    }
}

/// `sql`, written for MariaDB, rewritten for MySQL: MariaDB's sequence
/// tables (`seq_1_to_1000`, optionally schema-qualified: the Sequence
/// engine has them in every schema) become a recursive CTE of the same rows
/// and column (`seq`), which MySQL runs with `cte_max_recursion_depth`
/// raised (as [`exec`] does); the spellings of [`SPELLINGS`]; `MD5(x)` and
/// `SHA1(x)`, which MySQL 9.6 removed, become prefixes of `SHA2(x, 256)` of
/// the same length.
pub fn portable(sql: &str) -> String {
    let mut sql = seq_tables(sql);
    for (from, to) in SPELLINGS {
        sql = sql.replace(from, to);
    }
    for (f, len) in [("MD5(", 32), ("SHA1(", 40), ("md5(", 32), ("sha1(", 40)] {
        let mut from = 0;
        while let Some(at) = sql[from..].find(f).map(|i| i + from) {
            from = at + 1;
            let prev = at.checked_sub(1).map(|i| sql.as_bytes()[i]);
            if prev.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.') {
                continue;
            }
            let open = at + f.len();
            let Some(close) = matching_paren(&sql, open) else {
                break;
            };
            sql = format!(
                "{}LEFT(SHA2({}, 256), {len}){}",
                &sql[..at],
                &sql[open..close],
                &sql[close + 1..]
            );
        }
    }
    sql
}

/// The index of the `)` closing the parenthesis opened just before `from`
/// (quoted strings skipped).
fn matching_paren(s: &str, from: usize) -> Option<usize> {
    let mut depth = 1;
    let mut quote: Option<u8> = None;
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// MariaDB's sequence tables as recursive CTEs (see [`portable`]).
fn seq_tables(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let start_ok = i == 0 || !word(b[i - 1]) && b[i - 1] != b'.';
        if start_ok {
            // An optional `schema.` before the table.
            let mut j = i;
            while j < b.len() && word(b[j]) {
                j += 1;
            }
            let table_at = if j < b.len() && b[j] == b'.' && j > i {
                j + 1
            } else {
                i
            };
            if let Some((from, to, end)) = seq_table(b, table_at) {
                out.push_str(&format!(
                    "(WITH RECURSIVE oxk_seq (seq) AS (SELECT {from} UNION ALL \
                     SELECT seq + 1 FROM oxk_seq WHERE seq < {to}) SELECT seq FROM oxk_seq) \
                     AS seq_{from}_to_{to}"
                ));
                i = end;
                continue;
            }
        }
        let ch = sql[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// `seq_A_to_B` at `at`: A, B and the index after it.
fn seq_table(b: &[u8], at: usize) -> Option<(u64, u64, usize)> {
    let rest = b.get(at..)?;
    let rest = rest.strip_prefix(b"seq_")?;
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let n1 = digits(rest);
    let from: u64 = std::str::from_utf8(&rest[..n1]).ok()?.parse().ok()?;
    let rest2 = rest[n1..].strip_prefix(b"_to_")?;
    let n2 = digits(rest2);
    let to: u64 = std::str::from_utf8(&rest2[..n2]).ok()?.parse().ok()?;
    let end = at + 4 + n1 + 4 + n2;
    if b.get(end)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        return None;
    }
    Some((from, to, end))
}

/// Result of one tool run.
#[derive(Debug)]
pub struct RunResult {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl RunResult {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} (want {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    // target/debug/deps/<test exe> → target/debug
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_else(|| workspace_root().join("target/debug"))
}

/// Builds every tool binary of the workspace (`cargo build --bins`, the
/// xtask excluded): a no-op when they are fresh.
pub fn build_tools() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--bins",
            "--exclude",
            "xtask",
        ])
        .current_dir(workspace_root())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --workspace --bins failed: {status}");
    }
    Ok(())
}

/// Builds the tool binaries once per test process (a no-op when fresh) and
/// returns the path of `name`.
pub fn tool_path(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| build_tools().map_err(|e| format!("{e:#}")));
    if let Err(e) = built {
        bail!("{e}");
    }
    let p = target_dir().join(name);
    if !p.is_file() {
        bail!("tool binary {} not found", p.display());
    }
    Ok(p)
}

/// Runs the test-only `oxkit-probe` (shared entry, connection layer,
/// server detection) with `--format json` and `args`.
pub fn probe(args: &[&str]) -> RunResult {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    Tool::new("oxkit-probe")
        .args(all)
        .run()
        .unwrap_or_else(|e| panic!("running oxkit-probe: {e:#}"))
}

/// A hermetic run of an `ox-*` binary: temp `HOME`, cleared environment
/// (only `PATH` and `LANG=C.UTF-8` kept), no config files.
pub struct Tool {
    name: String,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    home: tempfile::TempDir,
    stdin: Option<String>,
    timeout: Duration,
}

/// How long one tool run may take before the harness kills it: a hung
/// tool fails its test with what it printed instead of stalling the suite.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(300);

/// Waits for `child` (which must have been spawned with piped stdout and
/// stderr) for at most `limit`; on timeout kills it (by its PID: a
/// process this test started) and fails with what it printed so far.
pub fn wait_child(mut child: std::process::Child, limit: Duration) -> Result<Output> {
    use std::io::Read;
    fn drain<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => bail!(
            "pid {} did not finish within {}s and was killed; stdout: {}; stderr: {}",
            child.id(),
            limit.as_secs(),
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

impl Tool {
    /// Prepares a run of `name` (`ox-table-checksum`).
    pub fn new(name: &str) -> Tool {
        Tool {
            name: name.to_string(),
            args: Vec::new(),
            env: Vec::new(),
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("temp HOME: {e}")),
            stdin: None,
            timeout: TOOL_TIMEOUT,
        }
    }

    /// Overrides [`TOOL_TIMEOUT`] for this run.
    pub fn timeout(mut self, limit: Duration) -> Tool {
        self.timeout = limit;
        self
    }

    /// The temp HOME (write `.my.cnf` here to test option files).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Tool
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for this run.
    pub fn env(mut self, k: &str, v: &str) -> Tool {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Feeds `text` on stdin.
    pub fn stdin(mut self, text: &str) -> Tool {
        self.stdin = Some(text.to_string());
        self
    }

    /// Runs to completion.
    pub fn run(self) -> Result<RunResult> {
        let bin = tool_path(&self.name)?;
        let mut cmd = Command::new(&bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("LANG", "C.UTF-8")
            .envs(server_env())
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        // Not root, the template cache lives under HOME, which is a fresh
        // temp directory here: share the test process's cache instead of
        // bootstrapping a template in every run.
        if !sandbox::is_root() {
            if let Ok(dir) = sandbox::cache_dir() {
                cmd.env(sandbox::CACHE_ENV, dir);
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        if let (Some(text), Some(mut sin)) = (self.stdin.as_ref(), child.stdin.take()) {
            use std::io::Write;
            sin.write_all(text.as_bytes())?;
        }
        let out =
            wait_child(child, self.timeout).with_context(|| format!("running {}", self.name))?;
        Ok(RunResult {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// A Percona Toolkit program (`pt-table-checksum`) that speaks to this
/// run's server: the host's package (Debian bookworm and trixie ship 3.2.1,
/// which knows MariaDB 10.11 but neither MySQL 8.4+ nor MariaDB 11's
/// defaults), or, on the other flavours, the 3.7 of the MySQL 9.7 root
/// (Debian sid; `cargo xtask test` installs it there), run inside that
/// root with `chroot` (its Perl and modules are the root's). Its
/// connections reach the test servers on 127.0.0.1 as from the host.
pub fn pt(name: &str) -> Command {
    let roots = std::env::var_os("OXKIT_ROOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/oxkit/roots"));
    let root = roots.join("mysql-9.7");
    if flavour().name() != "mariadb-10.11" && root.join("usr/bin").join(name).is_file() {
        let mut c = Command::new("chroot");
        c.arg(root).arg(name);
        return c;
    }
    Command::new(name)
}

/// This run's [`SERVER_ENV`] variables, for a tool's cleared environment.
pub fn server_env() -> Vec<(String, OsString)> {
    SERVER_ENV
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (k.to_string(), v)))
        .collect()
}

/// The PIDs of the running child processes of `pid` (from `/proc/*/stat`).
pub fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let child: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let rest = &stat[stat.rfind(')')? + 1..];
        let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == pid).then_some(child)
    })
    .collect()
}

/// Waits, at most `limit`, until process `pid` has a child process (the
/// throwaway server a verify starts), so a signal can be sent while that
/// step runs instead of after a guessed sleep. Fails when `pid` ends first.
pub fn wait_for_child_process(child: &mut std::process::Child, limit: Duration) -> Result<u32> {
    let start = Instant::now();
    loop {
        if let Some(c) = child_pids(child.id()).first() {
            return Ok(*c);
        }
        if let Some(st) = child.try_wait()? {
            bail!("pid {} ended ({st}) before starting a child", child.id());
        }
        if start.elapsed() > limit {
            bail!(
                "pid {} started no child within {}s",
                child.id(),
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts tool `name` in the background, hermetic like [`Tool::run`] (a
/// HOME of its own, cleared environment), with stdout and stderr piped:
/// for tests that signal it by PID and then [`wait_child`].
pub fn spawn_tool(name: &str, args: &[&str]) -> std::process::Child {
    let bin = tool_path(name).unwrap_or_else(|e| panic!("tool {name}: {e:#}"));
    let home = std::env::temp_dir().join(format!("oxk-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap_or_else(|e| panic!("HOME {}: {e}", home.display()));
    Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("LANG", "C.UTF-8")
        .envs(server_env())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {name}: {e}"))
}

/// Sends `sig` (`-INT`, `-9`, `-STOP`) to `pid`, a process this test
/// started; fails the test when `kill` does.
pub fn signal(pid: u32, sig: &str) {
    assert!(signal_quiet(pid, sig), "kill {sig} {pid} failed");
}

/// Sends `sig` to `pid`, a process this test started; false when the
/// process is already gone.
pub fn signal_quiet(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The server's last binary-logged transaction as one GTID, as
/// `restore --until-gtid` takes it: MariaDB's `@@gtid_binlog_pos` (one
/// domain in these tests), or the last of MySQL's `gtid_executed`
/// (`uuid:1-N` → `uuid:N`; the tests write from one server uuid).
pub fn last_gtid(c: &mut Conn) -> Result<String> {
    if flavour().is_mysql() {
        let set: Option<String> = c
            .row("reading gtid_executed", "SELECT @@GLOBAL.gtid_executed")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let set = set.unwrap_or_default().replace(['\n', ' '], "");
        let (uuid, ranges) = set
            .split_once(':')
            .with_context(|| format!("gtid_executed {set:?} is not uuid:ranges"))?;
        if ranges.contains(':') || uuid.contains(',') {
            bail!("gtid_executed {set:?} holds more than one server's transactions");
        }
        let last = ranges.rsplit(['-', ':']).next().unwrap_or_default();
        Ok(format!("{uuid}:{last}"))
    } else {
        let pos: Option<String> = c
            .row("reading gtid_binlog_pos", "SELECT @@GLOBAL.gtid_binlog_pos")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let pos = pos.unwrap_or_default();
        if pos.is_empty() || pos.contains(',') {
            bail!("gtid_binlog_pos {pos:?} is not one GTID");
        }
        Ok(pos)
    }
}

/// A small tmpfs mounted for one test, unmounted on drop.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`5M`) at `dir` (created); needs root.
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mkdir");
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount");
        assert!(
            st.success(),
            "mounting a tmpfs needs root (the disk-full test simulates a full disk with one)"
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sequence_tables_become_ctes() {
        let sql =
            super::seq_tables("INSERT INTO t.a SELECT seq FROM t.seq_1_to_50; SELECT 'seq_x'");
        assert_eq!(
            sql,
            "INSERT INTO t.a SELECT seq FROM (WITH RECURSIVE oxk_seq (seq) AS (SELECT 1 UNION ALL \
             SELECT seq + 1 FROM oxk_seq WHERE seq < 50) SELECT seq FROM oxk_seq) AS seq_1_to_50; \
             SELECT 'seq_x'"
        );
    }

    #[test]
    fn hashes_and_spellings_for_mysql() {
        assert_eq!(
            super::portable("SELECT MD5(CONCAT(a, ')')), UNHEX(SHA1(seq)); STOP SLAVE"),
            "SELECT LEFT(SHA2(CONCAT(a, ')'), 256), 32), UNHEX(LEFT(SHA2(seq, 256), 40)); \
             STOP REPLICA"
        );
    }
}
