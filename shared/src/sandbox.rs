//! Throwaway `mariadbd` instances: tests, the demo and `ox-backup verify`.
//!
//! Each sandbox lives in its own short temp directory (`/tmp/oxkXXXXXX/`,
//! short enough for the 108-byte socket path limit) holding the datadir,
//! socket, pid file and error log. It listens on 127.0.0.1 only, on a free
//! port, and counts as ready only once a real connection succeeds. It shuts
//! down (SQL `SHUTDOWN`, then a kill of the PID it started) when dropped.
//! The directory is removed unless `keep` was asked for or the thread is
//! panicking (a failing test), in which case its path is printed.
//!
//! A freshly bootstrapped datadir is made once (`mariadb-install-db`, users
//! added) and cached per server version; every sandbox starts from a copy.

use crate::conn::{self, Conn, ConnectOptions};
use crate::dsn::ConnSpec;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the directory for cached template datadirs.
pub const CACHE_ENV: &str = "OXKIT_SANDBOX_CACHE";
/// Environment variable naming the `mariadbd` binary to use.
pub const MARIADBD_ENV: &str = "OXKIT_MARIADBD";
/// Environment variable that, when set to 1, keeps sandbox directories.
pub const KEEP_ENV: &str = "OXKIT_KEEP_SANDBOX";

/// The user every sandbox has, with all privileges and no password, for
/// `localhost` (socket) and `127.0.0.1` (TCP).
pub const ROOT_USER: &str = "root";

const BIN_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/usr/libexec",
    "/usr/local/mysql/bin",
    "/usr/local/bin",
];

/// Finds a server program by name on `PATH` and the usual system directories.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(BIN_DIRS.iter().map(PathBuf::from))
        .collect();
    for name in names {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// The `mariadbd` to run: `$OXKIT_MARIADBD`, else `mariadbd` or `mysqld`
/// from the usual places.
pub fn mariadbd() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(MARIADBD_ENV) {
        return Ok(PathBuf::from(p));
    }
    find_program(&["mariadbd", "mysqld"]).ok_or_else(|| {
        anyhow::anyhow!(
            "no mariadbd found on PATH or in /usr/sbin: install the server (Debian/Ubuntu: apt-get install mariadb-server)"
        )
    })
}

fn server_version(bin: &Path) -> Result<String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", bin.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ver = text
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown")
        .to_string();
    Ok(ver)
}

/// True when this process runs as root (the server then needs
/// `--user=root`; package installs need no sudo). Asks `id -u` once rather
/// than reach for unsafe libc calls.
pub fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    })
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), &dest).with_context(|| {
                format!("copying {} to {}", entry.path().display(), dest.display())
            })?;
        }
    }
    Ok(())
}

fn cache_root() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("oxkit-sandbox-cache"))
}

/// Size of the redo log every sandbox is created with (resizing at start-up
/// would cost time).
pub const REDO_SIZE: &str = "32M";

/// Version of the template's contents (accounts, options used to bootstrap).
const TEMPLATE_FORMAT: u32 = 1;

/// Returns the cached template datadir for this server version, creating it
/// on first use. Safe against concurrent callers (file lock, atomic rename).
pub fn template_datadir() -> Result<PathBuf> {
    let bin = mariadbd()?;
    let version = server_version(&bin)?;
    let root = cache_root();
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    // Bump TEMPLATE_FORMAT when the bootstrap below changes, so an old
    // cached template is not reused.
    let dest = root.join(format!("template-{version}-v{TEMPLATE_FORMAT}"));
    if dest.join("mysql").is_dir() {
        return Ok(dest);
    }
    let lock_path = root.join(format!("template-{version}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if dest.join("mysql").is_dir() {
        return Ok(dest);
    }
    let work = tempfile::Builder::new()
        .prefix("oxk")
        .tempdir_in("/tmp")
        .context("creating bootstrap directory")?;
    let data = work.path().join("data");
    let install = find_program(&["mariadb-install-db", "mysql_install_db"])
        .ok_or_else(|| anyhow::anyhow!("no mariadb-install-db found: install mariadb-server"))?;
    let mut cmd = Command::new(&install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--innodb-log-file-size={REDO_SIZE}"));
    if let Some(dir) = bin.parent().and_then(Path::parent) {
        cmd.arg(format!("--basedir={}", dir.display()));
    }
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", install.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}{}",
            install.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Start it once to add the TCP root account, then shut down cleanly so
    // every copy starts without crash recovery.
    {
        let sb = Builder::new().from_datadir(&data).start()?;
        let mut c = sb.connect()?;
        c.run(
            "creating sandbox accounts",
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
        )?;
        drop(c);
        sb.stop()?;
    }
    let staging = root.join(format!("template-{version}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    copy_dir(&data, &staging)?;
    for leftover in ["mariadbd.pid", "error.log"] {
        let _ = std::fs::remove_file(staging.join(leftover));
    }
    std::fs::rename(&staging, &dest)
        .with_context(|| format!("moving template to {}", dest.display()))?;
    Ok(dest)
}

/// Configures a sandbox before it starts.
#[derive(Clone, Debug)]
pub struct Builder {
    server_id: u32,
    binlog: bool,
    keep: bool,
    datadir: Option<PathBuf>,
    args: Vec<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: server id 1, no binary log, small buffer pool, directory
    /// removed on drop.
    pub fn new() -> Builder {
        Builder {
            server_id: 1,
            binlog: false,
            keep: std::env::var(KEEP_ENV).is_ok_and(|v| v == "1"),
            datadir: None,
            args: Vec::new(),
        }
    }

    /// `--server-id`.
    pub fn server_id(mut self, id: u32) -> Builder {
        self.server_id = id;
        self
    }

    /// Binary log in ROW format with GTID strict mode, `log_slave_updates`
    /// and `report_host`/`report_port`, as a replication member needs.
    pub fn binlog(mut self, on: bool) -> Builder {
        self.binlog = on;
        self
    }

    /// Keep the directory (datadir, error log) after the sandbox stops.
    pub fn keep(mut self, keep: bool) -> Builder {
        self.keep = keep;
        self
    }

    /// Start on an existing datadir instead of a copy of the template (a
    /// restored backup, say). That directory is never removed.
    pub fn from_datadir(mut self, dir: &Path) -> Builder {
        self.datadir = Some(dir.to_path_buf());
        self
    }

    /// An extra server option (`--innodb-buffer-pool-size=256M`).
    pub fn arg(mut self, a: impl Into<String>) -> Builder {
        self.args.push(a.into());
        self
    }

    /// Starts the server and waits until it accepts a real connection.
    pub fn start(self) -> Result<Sandbox> {
        let bin = mariadbd()?;
        let dir = tempfile::Builder::new()
            .prefix("oxk")
            .tempdir_in("/tmp")
            .context("creating sandbox directory")?;
        let datadir = match &self.datadir {
            Some(d) => d.clone(),
            None => {
                let d = dir.path().join("data");
                copy_dir(&template_datadir()?, &d)?;
                d
            }
        };
        let mut last_err = None;
        for _ in 0..3 {
            let _ = std::fs::remove_file(dir.path().join("error.log"));
            let (mut child, port) = self.spawn(&bin, dir.path(), &datadir)?;
            match wait_ready(&mut child, dir.path(), Duration::from_secs(60)) {
                Ok(()) => {
                    return Ok(Sandbox {
                        child: Some(child),
                        dir: Some(dir),
                        datadir,
                        port,
                        keep: self.keep,
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // Another process took the port between our probe and
                    // the server's bind: try another one.
                    if !error_log_tail(dir.path(), 30).contains("Bind on TCP/IP port") {
                        let kept = dir.keep();
                        return Err(e.context(format!(
                            "sandbox left for inspection in {}",
                            kept.display()
                        )));
                    }
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("sandbox did not start")))
    }

    fn spawn(&self, bin: &Path, dir: &Path, datadir: &Path) -> Result<(Child, u16)> {
        let port = free_port()?;
        // Each server gets its own tmpdir: temporary tables in a shared /tmp
        // are exposed to anything else that cleans /tmp while tests run.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut cmd = Command::new(bin);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--skip-name-resolve")
            .arg(format!("--server-id={}", self.server_id))
            .arg("--innodb-buffer-pool-size=64M")
            .arg(format!("--innodb-log-file-size={REDO_SIZE}"))
            .arg("--innodb-flush-log-at-trx-commit=2")
            .arg("--max-connections=300");
        if let Some(base) = bin.parent().and_then(Path::parent) {
            cmd.arg(format!("--basedir={}", base.display()));
        }
        if self.binlog {
            cmd.arg(format!("--log-bin={}", datadir.join("mysql-bin").display()))
                .arg("--binlog-format=ROW")
                .arg("--log-slave-updates")
                .arg("--gtid-strict-mode=1")
                .arg("--report-host=127.0.0.1")
                .arg(format!("--report-port={port}"));
        }
        if is_root() {
            cmd.arg("--user=root");
        }
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok((child, port))
    }
}

fn error_log_tail(dir: &Path, n: usize) -> String {
    let Ok(f) = std::fs::File::open(dir.join("error.log")) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Polls with a real connection over the socket until the server answers,
/// failing early if the process exits.
fn wait_ready(child: &mut Child, dir: &Path, limit: Duration) -> Result<()> {
    let start = Instant::now();
    let socket = dir.join("mysqld.sock");
    let spec = ConnSpec {
        host: Some("localhost".into()),
        socket: Some(socket.clone()),
        user: Some(ROOT_USER.into()),
        ..ConnSpec::default()
    };
    let opts = ConnectOptions {
        connect_timeout: Duration::from_secs(2),
        ..ConnectOptions::default()
    };
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "mariadbd exited during start-up ({status}); error log {}:\n{}",
                dir.join("error.log").display(),
                error_log_tail(dir, 15)
            );
        }
        if socket.exists() {
            if let Ok(mut c) = conn::connect(&spec, &opts) {
                if c.query_drop("SELECT 1").is_ok() {
                    return Ok(());
                }
            }
        }
        if start.elapsed() > limit {
            bail!(
                "mariadbd did not accept connections within {}s; error log:\n{}",
                limit.as_secs(),
                error_log_tail(dir, 15)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// A running throwaway server.
pub struct Sandbox {
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
    datadir: PathBuf,
    port: u16,
    keep: bool,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("port", &self.port)
            .field("datadir", &self.datadir)
            .finish()
    }
}

impl Sandbox {
    /// A sandbox from the template with default settings.
    pub fn start() -> Result<Sandbox> {
        Builder::new().start()
    }

    /// A builder.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The sandbox's own directory (socket, error log; datadir inside unless
    /// started on an existing one).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("/nonexistent"))
    }

    /// Unix socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("mysqld.sock")
    }

    /// Data directory.
    pub fn datadir(&self) -> &Path {
        &self.datadir
    }

    /// PID of the server process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A spec reaching the server as root over the Unix socket.
    pub fn socket_spec(&self) -> ConnSpec {
        ConnSpec {
            host: Some("localhost".into()),
            socket: Some(self.socket()),
            user: Some(ROOT_USER.into()),
            ..ConnSpec::default()
        }
    }

    /// A spec reaching the server as root over TCP on 127.0.0.1.
    pub fn tcp_spec(&self) -> ConnSpec {
        ConnSpec {
            host: Some("127.0.0.1".into()),
            port: Some(self.port),
            user: Some(ROOT_USER.into()),
            ..ConnSpec::default()
        }
    }

    /// A Percona-style DSN for this server over TCP, as root.
    pub fn dsn(&self) -> String {
        format!("h=127.0.0.1,P={},u={ROOT_USER}", self.port)
    }

    /// Connects as root over the socket with the standard session setup.
    pub fn connect(&self) -> Result<Conn> {
        Ok(conn::connect(
            &self.socket_spec(),
            &ConnectOptions::default(),
        )?)
    }

    /// The last `n` lines of the error log.
    pub fn error_log_tail(&self, n: usize) -> String {
        error_log_tail(self.dir(), n)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Shuts the server down cleanly (SQL `SHUTDOWN`), waiting up to a minute
    /// before killing the process it started.
    pub fn shutdown(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Ok(mut c) = self.connect() {
            let _ = c.query_drop("SHUTDOWN");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "mariadbd (pid {}) did not shut down within 60s; killed",
                    child.id()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and removes its directory (unless kept).
    pub fn stop(mut self) -> Result<()> {
        self.shutdown()
    }

    /// Stops the server and leaves its data directory in place, returning
    /// its path (the sandbox directory is kept too).
    pub fn stop_and_keep(mut self) -> Result<PathBuf> {
        self.keep = true;
        self.shutdown()?;
        Ok(self.dir().to_path_buf())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        if self.shutdown().is_err() {
            self.kill();
        }
        // Dropping the TempDir removes it (with the datadir when it is our
        // copy; a caller's datadir lives elsewhere and is never touched).
        if let Some(dir) = self.dir.take() {
            if self.keep || failing {
                let path = dir.keep();
                eprintln!("sandbox kept: {} (port {})", path.display(), self.port);
            }
        }
    }
}
