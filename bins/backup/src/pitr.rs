//! Point-in-time recovery: binary logs copied into the repository, and
//! replayed after a restore from the backup's position to a target.
//!
//! `binlog` asks the server to close its current binary log (`FLUSH BINARY
//! LOGS`), then copies every closed log not yet in the repository with
//! `mariadb-binlog --read-from-remote-server --raw` (the server streams
//! them over the replication protocol, so the tool needs no access to the
//! server's files; the password goes through `MYSQL_PWD`, never the
//! command line). Each log is stored like any backup file: zstd, optional
//! encryption, SHA-256 in `binlogs/<server_id>/index.json`.
//!
//! `restore --until` / `--until-gtid` decode the logs from the backup's
//! binary log file onward into a private temp directory, and pipe
//! `mariadb-binlog --start-position=<backup position>
//! --stop-datetime=<until>` (or `--stop-position=<gtid>`) into the `mariadb`
//! client connected to the target.

use crate::crypt::{Encryption, Key};
use crate::manifest::{FileEntry, Manifest};
use crate::repo::{self, Repo, StoredWriter};
use anyhow::{bail, Context as _, Result};
use oxkit::conn::{self, ConnectOptions, Transport};
use oxkit::dsn::ConnSpec;
use oxkit::sandbox::Install;
use oxkit::server::{Flavor, Server, Version};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// `binlogs/<server_id>/index.json`.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct BinlogIndex {
    /// Server the logs come from.
    pub server_id: u32,
    /// How they are encrypted (the same key for every log of the index).
    pub encryption: Option<Encryption>,
    /// Copied logs, in order.
    pub files: Vec<BinlogFile>,
}

/// One copied binary log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BinlogFile {
    /// Its name on the server.
    pub name: String,
    /// The stored file.
    pub stored: FileEntry,
}

/// What `binlog` did.
#[derive(Clone, Debug, Serialize)]
pub struct BinlogReport {
    /// Directory in the repository.
    pub dir: String,
    /// Logs copied this time.
    pub copied: Vec<String>,
    /// Logs in the repository now.
    pub total: usize,
}

fn dir(repo: &Repo, server_id: u32) -> PathBuf {
    repo.root.join("binlogs").join(server_id.to_string())
}

fn load_index(repo: &Repo, server_id: u32) -> Result<BinlogIndex> {
    let p = dir(repo, server_id).join("index.json");
    if !p.is_file() {
        return Ok(BinlogIndex {
            server_id,
            ..BinlogIndex::default()
        });
    }
    let b = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
    serde_json::from_slice(&b).with_context(|| format!("parsing {}", p.display()))
}

/// The binary log decoder (`binlog`) or SQL client (`client`) for a
/// server of `flavor` and `version`. MySQL's binary logs need MySQL's
/// `mysqlbinlog` (MariaDB's reads only its own), and MariaDB 10.11's
/// clients refuse an 11.x server's version: the program comes from an
/// installation of the same flavour and major version when the host has
/// one (`OXKIT_MARIADBD` / `OXKIT_MYSQLD`, which may name a server in an
/// unpacked root), else from `PATH`, checked to be of the right flavour.
fn program(flavor: Flavor, version: Version, what: &str) -> Result<Command> {
    let mysql = flavor != Flavor::MariaDB;
    let names: &[&str] = match (mysql, what) {
        (true, "binlog") => &["mysqlbinlog"],
        (true, _) => &["mysql"],
        (false, "binlog") => &["mariadb-binlog", "mysqlbinlog"],
        (false, _) => &["mariadb", "mysql"],
    };
    if let Ok(i) = Install::find(Some(flavor), Some((version.major, version.minor))) {
        if let Some(p) = i.client(names) {
            return Ok(i.command(&p));
        }
    }
    let found = oxkit::sandbox::find_program(names).filter(|p| {
        // On a MariaDB host `mysqlbinlog` and `mysql` are MariaDB's.
        let out = Command::new(p).arg("--version").output();
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        text.contains("MariaDB") != mysql
    });
    match found {
        Some(p) => Ok(Command::new(p)),
        None if mysql => bail!(
            "{} of MySQL not found: install MySQL's client (mysql-client), or name the mysqld of \
             a MySQL {}.{} installation in {} (its root's clients are used)",
            names[0],
            version.major,
            version.minor,
            oxkit::sandbox::MYSQLD_ENV
        ),
        None => bail!(
            "{} not found: install the MariaDB client (apt-get install mariadb-client)",
            names[0]
        ),
    }
}

/// Connection arguments for the MariaDB command-line programs (password
/// excluded: it goes in `MYSQL_PWD`).
fn client_args(spec: &ConnSpec) -> Vec<String> {
    let mut a = vec!["--no-defaults".to_string()];
    match conn::transport(spec) {
        Transport::Tcp(h, p) => {
            a.push(format!("--host={h}"));
            a.push(format!("--port={p}"));
            a.push("--protocol=TCP".into());
        }
        Transport::Socket(s) => {
            a.push(format!("--socket={}", s.display()));
            a.push("--protocol=SOCKET".into());
        }
    }
    a.push(format!(
        "--user={}",
        spec.user.clone().unwrap_or_else(|| "root".into())
    ));
    a
}

fn with_password(cmd: &mut Command, spec: &ConnSpec) {
    cmd.env_remove("MYSQL_PWD");
    if let Some(p) = &spec.password {
        cmd.env("MYSQL_PWD", p.expose());
    }
}

/// Copies the server's closed binary logs into the repository.
pub fn copy(
    ctx: &oxkit::entry::Context,
    repo: &Repo,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    key_file: Option<&Path>,
    level: i32,
) -> Result<BinlogReport> {
    let mut c = conn::connect(spec, copts)?;
    let server = Server::detect(&mut c)?;
    if !server.log_bin {
        bail!("{}: the binary log is off; nothing to copy", c.label());
    }
    let d = dir(repo, server.server_id);
    repo::mkdir(&d)?;
    let mut index = load_index(repo, server.server_id)?;
    let key = match (&index.encryption, key_file) {
        (Some(e), k) => Some(Key::for_existing(k, e, "the binary log copy")?),
        (None, Some(k)) if index.files.is_empty() => {
            let (key, e) = Key::for_new_backup(k)?;
            index.encryption = Some(e);
            Some(key)
        }
        (None, Some(_)) => bail!(
            "binary logs in {} are stored unencrypted; use a new repository to encrypt them",
            d.display()
        ),
        (None, None) => None,
    };
    c.run(
        "closing the current binary log (FLUSH BINARY LOGS needs RELOAD)",
        "FLUSH BINARY LOGS",
    )?;
    let logs: Vec<mysql::Row> = c.rows("listing binary logs", "SHOW BINARY LOGS")?;
    let names: Vec<String> = logs.iter().filter_map(|r| conn::cell_text(r, 0)).collect();
    let closed = &names[..names.len().saturating_sub(1)];
    let tmp = tempfile::Builder::new()
        .prefix("oxkbinlog")
        .tempdir()
        .context("creating a temp directory")?;
    let mut copied = Vec::new();
    for name in closed {
        if index.files.iter().any(|f| f.name == *name) {
            continue;
        }
        ctx.cancel.check()?;
        let mut cmd = program(server.flavor, server.version, "binlog")?;
        let bin = format!("{:?}", cmd.get_program());
        cmd.args(client_args(spec))
            .arg("--read-from-remote-server")
            .arg("--raw")
            .arg(format!("--result-file={}/", tmp.path().display()))
            .arg(name)
            .stdin(Stdio::null());
        with_password(&mut cmd, spec);
        let out = cmd.output().with_context(|| format!("running {bin}"))?;
        if !out.status.success() {
            bail!(
                "copying binary log {name}: {} failed ({}): {}",
                bin,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let raw = tmp.path().join(name);
        let mut f =
            std::fs::File::open(&raw).with_context(|| format!("opening {}", raw.display()))?;
        let rel = format!("{name}.zst{}", if key.is_some() { ".enc" } else { "" });
        let _ = std::fs::remove_file(d.join(&rel));
        let mut w = StoredWriter::create(&d, &rel, level, key.as_ref(), None)?;
        std::io::copy(&mut f, &mut w).with_context(|| format!("storing {name}"))?;
        let stored = w.finish()?;
        let _ = std::fs::remove_file(&raw);
        index.files.push(BinlogFile {
            name: name.clone(),
            stored,
        });
        index.files.sort_by(|a, b| a.name.cmp(&b.name));
        repo::write_atomic(&d.join("index.json"), &serde_json::to_vec_pretty(&index)?)?;
        copied.push(name.clone());
    }
    Ok(BinlogReport {
        dir: d.display().to_string(),
        copied,
        total: index.files.len(),
    })
}

/// Where a roll-forward stops.
#[derive(Clone, Debug)]
pub enum Until {
    /// Before the first event at or after this UTC time (`YYYY-MM-DD HH:MM:SS`).
    Time(String),
    /// After this GTID (inclusive).
    Gtid(String),
}

/// Replays the copied binary logs from the backup's position to `until`
/// into the server at `spec`. Returns the seconds it took.
pub fn replay(
    repo: &Repo,
    m: &Manifest,
    spec: &ConnSpec,
    until: &Until,
    key_file: Option<&Path>,
    no_binlog: bool,
) -> Result<f64> {
    let t0 = Instant::now();
    let (Some(file), Some(pos)) = (&m.position.binlog_file, m.position.binlog_pos) else {
        bail!(
            "backup {} has no binary log position (the log was off): it cannot be rolled forward",
            m.id
        );
    };
    let index = load_index(repo, m.server.server_id)?;
    let key = match &index.encryption {
        Some(e) => Some(Key::for_existing(key_file, e, "the binary log copy")?),
        None => None,
    };
    let xa: Vec<(&str, u64, u64)> = m
        .position
        .xa_prepared
        .iter()
        .filter_map(|x| Some((x.binlog_file.as_deref()?, x.start?, x.end?)))
        .collect();
    if xa.len() < m.position.xa_prepared.len() {
        bail!(
            "backup {} recorded XA transactions prepared at its point whose XA PREPARE is not in the binary logs \
             ({}): a replay could not apply their XA COMMIT or XA ROLLBACK",
            m.id,
            m.position
                .xa_prepared
                .iter()
                .filter(|x| x.start.is_none())
                .map(|x| x.xid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let files: Vec<&BinlogFile> = index
        .files
        .iter()
        .filter(|f| f.name >= *file || xa.iter().any(|x| x.0 == f.name))
        .collect();
    for (name, _, _) in &xa {
        if !files.iter().any(|f| f.name == *name) {
            bail!(
                "binary log {name} (holding an XA transaction prepared at the backup point) is not in {}",
                dir(repo, m.server.server_id).display()
            );
        }
    }
    if !files.iter().any(|f| f.name == *file) {
        bail!(
            "binary log {file} (the backup's position) is not in {}: run `ox-backup binlog` against the server first",
            dir(repo, m.server.server_id).display()
        );
    }
    let d = dir(repo, m.server.server_id);
    let tmp = tempfile::Builder::new()
        .prefix("oxkreplay")
        .tempdir()
        .context("creating a temp directory")?;
    let mut paths = Vec::new();
    let mut by_name = std::collections::HashMap::new();
    for f in &files {
        let data = repo::read_verified(&d, &f.stored)?;
        let mut r = repo::decoder(data, key.as_ref(), &f.stored.path)?;
        let p = tmp.path().join(&f.name);
        let mut out = repo::create_file(&p)?;
        std::io::copy(&mut r, &mut out).with_context(|| format!("decoding {}", f.name))?;
        by_name.insert(f.name.clone(), p.clone());
        if f.name >= *file {
            paths.push(p);
        }
    }
    let (flavor, version) = m.server.flavor_version();
    let decoder = || program(flavor, version, "binlog");
    let client = || program(flavor, version, "client");
    // XA transactions prepared at the backup point were rolled back by the
    // restore: their XA START .. XA PREPARE groups are replayed first, so
    // the XA COMMIT or XA ROLLBACK after the position finds them prepared,
    // as on the source.
    for (name, start, end) in &xa {
        let mut dec = decoder()?;
        dec.arg("--no-defaults")
            .arg(format!("--start-position={start}"))
            .arg(format!("--stop-position={end}"));
        if no_binlog {
            dec.arg("--disable-log-bin");
        }
        dec.arg(&by_name[*name]);
        pipe(dec, client()?, spec)
            .with_context(|| format!("re-preparing the XA transaction of {name}:{start}"))?;
    }
    let mut dec = decoder()?;
    dec.arg("--no-defaults");
    match until {
        Until::Time(t) => {
            dec.arg(format!("--start-position={pos}"))
                .arg(format!("--stop-datetime={t}"));
        }
        Until::Gtid(g) => {
            let start = m.position.gtid.clone().unwrap_or_default();
            dec.arg(format!("--start-position={start}"))
                .arg(format!("--stop-position={g}"));
        }
    }
    if no_binlog {
        dec.arg("--disable-log-bin");
    }
    // The session time zone of the dump is UTC; --stop-datetime is read in
    // the local zone of the decoder, so pin it.
    dec.env("TZ", "UTC").args(&paths);
    pipe(dec, client()?, spec)?;
    Ok(t0.elapsed().as_secs_f64())
}

/// Runs the decoder `dec` piped into the `mariadb` client connected to
/// `spec`; fails with either side's stderr.
fn pipe(mut dec: Command, mut cl: Command, spec: &ConnSpec) -> Result<()> {
    dec.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut dchild = dec
        .spawn()
        .with_context(|| format!("running {:?}", dec.get_program()))?;
    let dout = dchild.stdout.take().context("no decoder output")?;
    cl.args(client_args(spec))
        .arg("--binary-mode")
        .stdin(dout)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_password(&mut cl, spec);
    let cout = cl
        .spawn()
        .with_context(|| format!("running {:?}", cl.get_program()))?
        .wait_with_output()?;
    let mut derr = String::new();
    if let Some(mut e) = dchild.stderr.take() {
        let _ = e.read_to_string(&mut derr);
    }
    let dstatus = dchild.wait()?;
    if !dstatus.success() {
        bail!(
            "decoding the binary logs failed ({dstatus}): {}",
            derr.trim()
        );
    }
    if !cout.status.success() {
        bail!(
            "replaying the binary logs into the target failed ({}): {}",
            cout.status,
            String::from_utf8_lossy(&cout.stderr).trim()
        );
    }
    Ok(())
}
