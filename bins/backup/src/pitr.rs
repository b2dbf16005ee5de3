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
//! client connected to the target. MySQL's `mysqlbinlog` takes byte offsets
//! only: a GTID target (one GTID or a set) is found by decoding the logs
//! once ([`GtidSet`], `mysql_stop`) and becomes `--stop-position` in the
//! last log; the GTIDs are kept on a target with `gtid_mode` on, else
//! `--skip-gtids`.

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
    /// Written by `binlog --follow`: when the archive last held all the
    /// server had written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Current>,
}

/// The archive's state as `binlog --follow` last saw it.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct Current {
    /// Unix time at which everything the server had written was stored.
    pub at_unix: u64,
    /// The archive's end: the log and the byte offset in it.
    pub file: String,
    /// See `file`.
    pub pos: u64,
    /// The GTID of the last whole transaction stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_gtid: Option<String>,
}

/// One copied binary log: stored whole (`binlog`), or in segments as it
/// grew (`binlog --follow`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BinlogFile {
    /// Its name on the server.
    pub name: String,
    /// The whole log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<FileEntry>,
    /// Its pieces, contiguous from byte 0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<Segment>,
    /// The log is closed on the server and all of it is stored.
    #[serde(default = "closed")]
    pub complete: bool,
}

fn closed() -> bool {
    true
}

/// Bytes `start..end` of a binary log, stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Segment {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// The stored piece.
    pub stored: FileEntry,
}

impl BinlogFile {
    /// The stored pieces in order, checked to be contiguous from byte 0.
    pub fn pieces(&self) -> Result<Vec<&FileEntry>> {
        if let Some(s) = &self.stored {
            return Ok(vec![s]);
        }
        let mut at = 0;
        for seg in &self.segments {
            if seg.start != at {
                bail!(
                    "binary log {}: bytes {at}..{} are missing from the archive",
                    self.name,
                    seg.start
                );
            }
            at = seg.end;
        }
        Ok(self.segments.iter().map(|s| &s.stored).collect())
    }

    /// How many bytes of it are stored.
    pub fn end(&self) -> u64 {
        match &self.stored {
            Some(s) => s.raw_size,
            None => self.segments.last().map_or(0, |s| s.end),
        }
    }
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

/// The key prefix of `server_id`'s binary logs in the repository.
pub(crate) fn dir(server_id: u32) -> String {
    format!("binlogs/{server_id}")
}

/// How the binary-log directory of `server_id` is named in messages.
pub(crate) fn dir_name(repo: &Repo, server_id: u32) -> String {
    format!("{}/{}", repo.url(), dir(server_id))
}

pub(crate) fn load_index(repo: &Repo, server_id: u32) -> Result<BinlogIndex> {
    let k = format!("{}/index.json", dir(server_id));
    let Some(b) = repo.store().get(&k)? else {
        return Ok(BinlogIndex {
            server_id,
            ..BinlogIndex::default()
        });
    };
    serde_json::from_slice(&b).with_context(|| format!("parsing {}/{k}", repo.url()))
}

/// The binary log decoder (`binlog`) or SQL client (`client`) for a
/// server of `flavor` and `version`. MySQL's binary logs need MySQL's
/// `mysqlbinlog` (MariaDB's reads only its own), and MariaDB 10.11's
/// clients refuse an 11.x server's version: the program comes from an
/// installation of the same flavour and major version when the host has
/// one (`OXKIT_MARIADBD` / `OXKIT_MYSQLD`, which may name a server in an
/// unpacked root), else from `PATH`, checked to be of the right flavour.
pub(crate) fn program(flavor: Flavor, version: Version, what: &str) -> Result<Command> {
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
pub(crate) fn client_args(spec: &ConnSpec) -> Vec<String> {
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

pub(crate) fn with_password(cmd: &mut Command, spec: &ConnSpec) {
    cmd.env_remove("MYSQL_PWD");
    if let Some(p) = &spec.password {
        cmd.env("MYSQL_PWD", p.expose());
    }
}

/// The key of the logs of `index` (set up, for a new encrypted index).
pub(crate) fn index_key(
    repo: &Repo,
    index: &mut BinlogIndex,
    key_file: Option<&Path>,
) -> Result<Option<Key>> {
    Ok(match (&index.encryption, key_file) {
        (Some(e), k) => Some(Key::for_existing(k, e, "the binary log copy")?),
        (None, Some(k)) if index.files.is_empty() => {
            let (key, e) = Key::for_new_backup(k)?;
            index.encryption = Some(e);
            Some(key)
        }
        (None, Some(_)) => bail!(
            "binary logs in {} are stored unencrypted; use a new repository to encrypt them",
            dir_name(repo, index.server_id)
        ),
        (None, None) => None,
    })
}

/// Writes `index` back.
pub(crate) fn save_index(repo: &Repo, index: &BinlogIndex) -> Result<()> {
    repo.store().put(
        &format!("{}/index.json", dir(index.server_id)),
        &serde_json::to_vec_pretty(index)?,
    )
}

/// Copies the server's closed binary logs into the repository (a log
/// `binlog --follow` stored only part of is stored whole, and its
/// segments removed).
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
    let d = dir(server.server_id);
    let mut index = load_index(repo, server.server_id)?;
    let key = index_key(repo, &mut index, key_file)?;
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
        if index.files.iter().any(|f| f.name == *name && f.complete) {
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
        let k = format!("{d}/{rel}");
        repo.store().delete(&k)?;
        let mut w =
            StoredWriter::create(repo.store().as_ref(), &k, &rel, level, key.as_ref(), None)?;
        std::io::copy(&mut f, &mut w).with_context(|| format!("storing {name}"))?;
        let stored = w.finish()?;
        let _ = std::fs::remove_file(&raw);
        let replaced = index
            .files
            .iter()
            .position(|f| f.name == *name)
            .map(|i| index.files.remove(i));
        index.files.push(BinlogFile {
            name: name.clone(),
            stored: Some(stored),
            segments: Vec::new(),
            complete: true,
        });
        index.files.sort_by(|a, b| a.name.cmp(&b.name));
        save_index(repo, &index)?;
        for seg in replaced.iter().flat_map(|f| &f.segments) {
            repo.store().delete(&format!("{d}/{}", seg.stored.path))?;
        }
        copied.push(name.clone());
    }
    Ok(BinlogReport {
        dir: dir_name(repo, server.server_id),
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

/// Checks `until` against the backup before anything is restored: a
/// MySQL backup's GTID target must be a MySQL GTID or set (`uuid:N`), and
/// the archive must cover it ([`covers`]).
pub fn check_until(repo: &Repo, m: &Manifest, until: &Until) -> Result<()> {
    if let Until::Gtid(g) = until {
        if m.server.flavor_version().0 != Flavor::MariaDB {
            GtidSet::parse(g).map_err(|e| {
                oxkit::entry::usage_error(format!(
                    "--until-gtid: {e:#} (backup {} is of {})",
                    m.id, m.server.version
                ))
            })?;
        }
    }
    // The archive must reach the target without a hole, said before
    // anything is restored.
    if let Some(file) = &m.position.binlog_file {
        covers(repo, m, &load_index(repo, m.server.server_id)?, file, until)?;
    }
    Ok(())
}

/// Replays the copied binary logs from the backup's position to `until`
/// into the server at `spec`. Returns the seconds it took.
pub fn replay(
    repo: &Repo,
    m: &Manifest,
    spec: &ConnSpec,
    until: &Until,
    copts: &ConnectOptions,
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
                dir_name(repo, m.server.server_id)
            );
        }
    }
    if !files.iter().any(|f| f.name == *file) {
        bail!(
            "binary log {file} (the backup's position) is not in {}: run `ox-backup binlog` against the server first",
            dir_name(repo, m.server.server_id)
        );
    }
    covers(repo, m, &index, file, until)?;
    let d = dir(m.server.server_id);
    let tmp = tempfile::Builder::new()
        .prefix("oxkreplay")
        .tempdir()
        .context("creating a temp directory")?;
    let mut paths = Vec::new();
    let mut by_name = std::collections::HashMap::new();
    for f in &files {
        let p = tmp.path().join(&f.name);
        let mut out = repo::create_file(&p)?;
        for piece in f.pieces()? {
            let data = repo.read_key_verified(&format!("{d}/{}", piece.path), piece)?;
            let mut r = repo::decoder(data, key.as_ref(), &piece.path)?;
            std::io::copy(&mut r, &mut out).with_context(|| format!("decoding {}", f.name))?;
        }
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
    if flavor == Flavor::MariaDB {
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
    } else {
        // MySQL's mysqlbinlog takes byte offsets only: --start-position in
        // the first file, --stop-position in the last. A GTID target is
        // found by decoding the logs once (see `mysql_stop`).
        dec.arg(format!("--start-position={pos}"));
        let mut gtids = GtidSet::default();
        match until {
            Until::Time(t) => {
                dec.arg(format!("--stop-datetime={t}"));
            }
            Until::Gtid(g) => {
                let stop = mysql_stop(&decoder, &paths, pos, m, g)?;
                paths.truncate(stop.file + 1);
                dec.arg(format!("--stop-position={}", stop.end));
                gtids = stop.replayed;
            }
        }
        if keep_gtids(spec, copts, &gtids)? {
            // The replayed transactions keep their source's GTIDs.
        } else {
            dec.arg("--skip-gtids");
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

/// The number of a binary log's name (`mysql-bin.000042`: 42).
fn log_number(name: &str) -> Option<u64> {
    name.rsplit_once('.')?.1.parse().ok()
}

/// Fails, before anything is replayed, when the archive has a hole
/// between the backup's log `from` and its end (a log missing, or a log
/// stored only in part before a later one), or ends before a MariaDB GTID
/// target of a domain it knows.
fn covers(repo: &Repo, m: &Manifest, index: &BinlogIndex, from: &str, until: &Until) -> Result<()> {
    let at = dir_name(repo, m.server.server_id);
    let files: Vec<&BinlogFile> = index
        .files
        .iter()
        .filter(|f| f.name.as_str() >= from)
        .collect();
    for w in files.windows(2) {
        let (a, b) = (w[0], w[1]);
        if let (Some(x), Some(y)) = (log_number(&a.name), log_number(&b.name)) {
            if y != x + 1 {
                bail!(
                    "the archive in {at} has a gap: the binary logs between {} and {} are missing (purged before they were copied?)",
                    a.name,
                    b.name
                );
            }
        }
        if !a.complete {
            bail!(
                "the archive in {at} has a gap: only {} bytes of {} are stored, and {} follows",
                a.end(),
                a.name,
                b.name
            );
        }
    }
    // A follower stopped (or still running) mid-log: the archive is known
    // to hold all the server wrote up to `current.at_unix`, not later.
    if let (Until::Time(t), Some(c), Some(last)) =
        (until, index.current.as_ref(), index.files.last())
    {
        let current = crate::manifest::utc(c.at_unix);
        if !last.complete && t.as_str() > current.as_str() {
            bail!(
                "--until {t} is after the archive in {at} was last current ({current} UTC, at {}:{}): the roll-forward could stop short",
                c.file,
                c.pos
            );
        }
    }
    if let (Until::Gtid(g), Some(last)) = (
        until,
        index.current.as_ref().and_then(|c| c.last_gtid.as_deref()),
    ) {
        let parse = |t: &str| -> Option<(u32, u64)> {
            let mut it = t.trim().split('-');
            let d = it.next()?.parse().ok()?;
            let _server = it.next()?;
            Some((d, it.next()?.parse().ok()?))
        };
        if m.server.flavor_version().0 == Flavor::MariaDB {
            if let (Some((dt, st)), Some((dl, sl))) = (parse(g), parse(last)) {
                if dt == dl && st > sl {
                    bail!(
                        "--until-gtid {g} is past the end of the archive in {at} (its last transaction is {last}): the roll-forward would stop short"
                    );
                }
            }
        }
    }
    Ok(())
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

/// A MySQL GTID set: for each source (`uuid`, or `uuid:tag` for tagged
/// GTIDs of 8.3+), its transaction numbers as sorted, disjoint inclusive
/// intervals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GtidSet(std::collections::BTreeMap<String, Vec<(u64, u64)>>);

impl GtidSet {
    /// Parses `uuid:1-5:7,uuid2:tag:3` (MySQL's text form, whitespace
    /// ignored).
    pub fn parse(s: &str) -> Result<GtidSet> {
        let s: String = s.split_whitespace().collect();
        let mut set = GtidSet::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let mut it = part.split(':');
            let uuid = it.next().unwrap_or_default().to_ascii_lowercase();
            let bad = || anyhow::anyhow!("{part:?} is not a MySQL GTID set (uuid:N or uuid:N-M)");
            if uuid.len() != 36 {
                return Err(bad());
            }
            let mut sid = uuid.clone();
            let mut any = false;
            for piece in it {
                if piece.starts_with(|c: char| c.is_ascii_digit()) {
                    let (a, b) = piece.split_once('-').unwrap_or((piece, piece));
                    let (a, b): (u64, u64) =
                        (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                    if a == 0 || b < a {
                        return Err(bad());
                    }
                    set.0.entry(sid.clone()).or_default().push((a, b));
                    any = true;
                } else if !piece.is_empty() {
                    sid = format!("{uuid}:{}", piece.to_ascii_lowercase());
                } else {
                    return Err(bad());
                }
            }
            if !any {
                return Err(bad());
            }
        }
        set.normalize();
        Ok(set)
    }

    fn normalize(&mut self) {
        for v in self.0.values_mut() {
            v.sort_unstable();
            let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
            for &(a, b) in v.iter() {
                match out.last_mut() {
                    Some(l) if a <= l.1.saturating_add(1) => l.1 = l.1.max(b),
                    _ => out.push((a, b)),
                }
            }
            *v = out;
        }
        self.0.retain(|_, v| !v.is_empty());
    }

    /// Adds one transaction (`sid` as in [`GtidSet::split`]).
    pub fn add(&mut self, sid: &str, n: u64) {
        let v = self.0.entry(sid.to_string()).or_default();
        match v.last_mut() {
            Some(l) if n == l.1 + 1 => l.1 = n,
            Some(l) if (l.0..=l.1).contains(&n) => {}
            _ => {
                v.push((n, n));
                if v.len() > 1 && v[v.len() - 2].0 > n {
                    self.normalize();
                }
            }
        }
    }

    /// True when transaction `n` of `sid` is in the set.
    pub fn contains(&self, sid: &str, n: u64) -> bool {
        self.0
            .get(sid)
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= n && n <= b))
    }

    /// A single GTID `uuid[:tag]:N` as (`uuid[:tag]`, N).
    pub fn split(gtid: &str) -> Option<(String, u64)> {
        let (sid, n) = gtid.trim().rsplit_once(':')?;
        Some((sid.to_ascii_lowercase(), n.parse().ok()?))
    }

    /// What of `self` is not in `other`.
    pub fn minus(&self, other: &GtidSet) -> GtidSet {
        let mut out = GtidSet::default();
        for (sid, v) in &self.0 {
            let holes = other.0.get(sid).cloned().unwrap_or_default();
            let mut keep = Vec::new();
            for &(a, b) in v {
                let mut from = a;
                for &(x, y) in &holes {
                    if y < from || x > b {
                        continue;
                    }
                    if x > from {
                        keep.push((from, x - 1));
                    }
                    from = y.saturating_add(1);
                }
                if from <= b {
                    keep.push((from, b));
                }
            }
            out.0.insert(sid.clone(), keep);
        }
        out.normalize();
        out
    }

    /// True when the set holds no transaction.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for GtidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (sid, v) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(sid)?;
            for (a, b) in v {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

/// Where a MySQL roll-forward to a GTID stops: the index of the last log
/// to read, the byte offset in it, and the GTIDs replayed up to there.
struct MysqlStop {
    file: usize,
    end: u64,
    replayed: GtidSet,
}

/// Decodes the logs `paths` (the first from byte `pos`) and finds the end
/// of the last transaction, in log order, whose GTID is in `until` (a
/// single GTID `uuid:N` or a set): MySQL's counterpart of MariaDB's
/// `--stop-position=<gtid>`, with START REPLICA UNTIL SQL_AFTER_GTIDS
/// semantics. Every transaction of `until` must be in the backup or in
/// these logs.
fn mysql_stop(
    decoder: &dyn Fn() -> Result<Command>,
    paths: &[PathBuf],
    pos: u64,
    m: &Manifest,
    until: &str,
) -> Result<MysqlStop> {
    use std::io::BufRead;
    let want = GtidSet::parse(until).context("--until-gtid")?;
    let backed_up =
        GtidSet::parse(m.position.gtid.as_deref().unwrap_or_default()).unwrap_or_default();
    let mut seen = GtidSet::default();
    let mut stop: Option<MysqlStop> = None;
    for (i, p) in paths.iter().enumerate() {
        let mut dec = decoder()?;
        dec.arg("--no-defaults");
        if i == 0 {
            dec.arg(format!("--start-position={pos}"));
        }
        dec.arg(p)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = dec
            .spawn()
            .with_context(|| format!("running {:?}", dec.get_program()))?;
        let out = child.stdout.take().context("no decoder output")?;
        // End offsets of the last event and of the one before it; the
        // transaction in progress (its GTID, and whether it is wanted).
        let (mut last_end, mut prev_end) = (0u64, 0u64);
        let mut open: Option<(String, u64)> = None;
        let mut close = |open: &mut Option<(String, u64)>, end: u64, seen: &mut GtidSet| {
            if let Some((sid, n)) = open.take() {
                seen.add(&sid, n);
                if want.contains(&sid, n) {
                    stop = Some(MysqlStop {
                        file: i,
                        end,
                        replayed: seen.clone(),
                    });
                }
            }
        };
        for line in std::io::BufReader::new(out).split(b'\n') {
            let line = line.context("reading the decoded binary log")?;
            let line = String::from_utf8_lossy(&line);
            if line.starts_with('#') {
                if let Some(e) = line.split("end_log_pos ").nth(1) {
                    if let Some(v) = e.split_whitespace().next().and_then(|v| v.parse().ok()) {
                        prev_end = last_end;
                        last_end = v;
                    }
                }
            } else if let Some(rest) = line.strip_prefix("SET @@SESSION.GTID_NEXT= '") {
                if rest.contains("added by mysqlbinlog") {
                    // No event: the decoder's own reset after the last
                    // one, which ended the transaction in progress.
                    close(&mut open, last_end, &mut seen);
                    continue;
                }
                // A GTID event: the transaction before it ended where the
                // event before this one did.
                close(&mut open, prev_end, &mut seen);
                let g = rest.split('\'').next().unwrap_or_default();
                if g != "AUTOMATIC" {
                    open = GtidSet::split(g);
                }
            }
        }
        close(&mut open, last_end, &mut seen);
        let o = child.wait_with_output()?;
        if !o.status.success() {
            bail!(
                "decoding {} failed ({}): {}",
                p.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            );
        }
    }
    let missing = want.minus(&backed_up).minus(&seen);
    if !missing.is_empty() {
        bail!(
            "--until-gtid {until}: {missing} is neither in backup {} (taken at {}) nor in the binary \
             logs copied after it; run `ox-backup binlog` against the server first",
            m.id,
            m.position.gtid.as_deref().unwrap_or("-")
        );
    }
    stop.with_context(|| {
        format!(
            "--until-gtid {until}: backup {} (taken at {}) already holds it; nothing to replay",
            m.id,
            m.position.gtid.as_deref().unwrap_or("-")
        )
    })
}

/// Whether a MySQL replay keeps the source's GTIDs: yes into a server
/// with GTIDs on, unless it has executed some of `replayed` already (it
/// would skip them without a word: an error); with `gtid_mode=OFF` the
/// transactions are replayed without them (`--skip-gtids`).
fn keep_gtids(spec: &ConnSpec, copts: &ConnectOptions, replayed: &GtidSet) -> Result<bool> {
    let mut c = conn::connect(spec, copts)?;
    let mode: Option<Option<String>> = c.row(
        "reading gtid_mode",
        "SELECT CAST(@@GLOBAL.gtid_mode AS CHAR)",
    )?;
    if mode
        .flatten()
        .unwrap_or_default()
        .eq_ignore_ascii_case("OFF")
    {
        return Ok(false);
    }
    let done: Option<Option<String>> =
        c.row("reading gtid_executed", "SELECT @@GLOBAL.gtid_executed")?;
    let done = GtidSet::parse(&done.flatten().unwrap_or_default()).unwrap_or_default();
    let both = replayed.minus(&replayed.minus(&done));
    if !both.is_empty() {
        bail!(
            "{} has already executed {both} of the transactions to replay (it is the source or a \
             copy of it): it would skip them silently; restore into a server without them",
            c.label()
        );
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    fn seg(start: u64, end: u64) -> Segment {
        Segment {
            start,
            end,
            stored: FileEntry {
                path: format!("b.{start}"),
                size: 1,
                sha256: String::new(),
                raw_size: end - start,
            },
        }
    }

    #[test]
    fn followed_logs_are_contiguous_or_fail_by_name() {
        let mut f = BinlogFile {
            name: "mysql-bin.000007".into(),
            stored: None,
            segments: vec![seg(0, 100), seg(100, 250)],
            complete: false,
        };
        assert_eq!(f.pieces().expect("contiguous").len(), 2);
        assert_eq!(f.end(), 250);
        f.segments.push(seg(300, 400));
        let e = f.pieces().expect_err("a hole").to_string();
        assert!(
            e.contains("mysql-bin.000007") && e.contains("250..300"),
            "{e}"
        );
        assert_eq!(log_number("mysql-bin.000042"), Some(42));
        assert_eq!(log_number("nodot"), None);
        // An index written before segments existed still reads.
        let old: BinlogFile = serde_json::from_str(
            r#"{"name":"m.000001","stored":{"path":"m.000001.zst","size":1,"sha256":"x","raw_size":9}}"#,
        )
        .expect("old index");
        assert!(old.complete);
        assert_eq!(old.end(), 9);
    }

    #[test]
    fn gtid_sets() {
        let s = GtidSet::parse(&format!("{U}:1-5:7, {U}:tag:3")).expect("parse");
        assert!(s.contains(U, 5) && !s.contains(U, 6) && s.contains(U, 7));
        assert!(s.contains(&format!("{U}:tag"), 3));
        assert_eq!(s.to_string(), format!("{U}:1-5:7,{U}:tag:3"));
        let b = GtidSet::parse(&format!("{U}:2-3")).expect("parse");
        assert_eq!(s.minus(&b).to_string(), format!("{U}:1:4-5:7,{U}:tag:3"));
        let mut a = GtidSet::default();
        for n in [1, 2, 3, 5] {
            a.add(U, n);
        }
        assert_eq!(a.to_string(), format!("{U}:1-3:5"));
        assert!(GtidSet::parse("0-1-5").is_err());
        assert_eq!(
            GtidSet::split(&format!("{U}:12")),
            Some((U.to_string(), 12))
        );
    }
}
