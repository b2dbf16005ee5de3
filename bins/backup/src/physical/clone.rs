//! The physical method on MySQL (8.0.17 and later): the server's own clone
//! of its data directory, recovered and checksummed by a throwaway server
//! of the same version, stored like every other set.
//!
//! Why the clone plugin and not a redo copier as on MariaDB ([`super::copy`]):
//! - *Consistent by construction.* `CLONE LOCAL DATA DIRECTORY` copies the
//!   tablespaces while it tracks the pages changed meanwhile and the redo
//!   written, and ends at one consistent point whose binary log file,
//!   offset and GTID set the server itself reports in
//!   `performance_schema.clone_status`. A redo copier for MySQL would have
//!   to follow the `#innodb_redo` file ring (a format that changed in
//!   8.0.30 and may change again) and fix its end point with
//!   `LOCK INSTANCE FOR BACKUP` plus `performance_schema.log_status`: more
//!   code that can be wrong, for what the server already does.
//! - *Lock time.* The clone holds the backup lock (DDL waits unless
//!   `clone_block_ddl` is off, where the server makes DDL and clone wait
//!   for each other); commits are never blocked by a statement of ours.
//!   `bench/backup-physical` measures the longest commit stall a writer
//!   sees during each method.
//! - *The cost* is disk: the server writes a whole uncompressed copy (the
//!   staging directory, in the repository by default or `--staging-dir`),
//!   which is then compressed into the set and removed, so the repository
//!   needs the data size free for the duration of the backup, and the
//!   time of one extra sequential write and read of the data.
//!
//! Order: preflight (version, plugin, `BACKUP_ADMIN`, only InnoDB user
//! tables: the clone copies other engines' tables empty, room for the
//! staging copy, and a staging directory the server's OS user can reach);
//! the clone, watched every second (progress on stderr, a stall of five
//! minutes or Ctrl-C kills it with `KILL QUERY`, and the staging directory
//! is removed only once the server reports the clone ended); the backup
//! point from `clone_status`; a throwaway server of the same version
//! started on the copy (its start applies the cloned redo), where every
//! InnoDB table's row count and checksum is read, then shut down cleanly;
//! the files stored in parallel, the buffer pool page list dumped from the
//! source, the metadata, and the staging copy removed. A restore is then a
//! plain copy of a cleanly shut down data directory: no prepare step.

use super::copy::{PhysOptions, FILES_DIR};
use crate::manifest::{self, FileEntry, Manifest, Method, Position, ServerInfo};
use crate::repo::{Repo, SetWriter};
use anyhow::{bail, Context as _, Result};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::Context;
use oxkit::sandbox::ServerUser;
use oxkit::server::{Server, Version};
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the metadata file of a set taken by cloning.
pub const CLONE_META: &str = "clone.json";

/// Staging copies are named this plus the set's id.
const STAGE_PREFIX: &str = ".oxk-clone-";

/// A clone whose progress figures do not move for this long is killed.
const STALL_LIMIT: Duration = Duration::from_secs(300);

/// ... and after this long without progress, the wait is said on stderr.
const STALL_WARN: Duration = Duration::from_secs(30);

/// Files of the copy that are not stored: the server's UUID (a restored
/// server must make its own, or it could not replicate from its source)
/// and what a running server leaves behind.
const NOT_STORED: &[&str] = &["auto.cnf", "mysqld.pid", "mysql.sock", "mysql.sock.lock"];

/// What a cloned set records beyond the common manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CloneMeta {
    /// `clone`: how the set was taken (its phases' times are in the
    /// manifest).
    pub mechanism: String,
    /// Bytes of the uncompressed copy.
    pub copy_bytes: u64,
}

/// The source's layout as the clone needs it.
struct Source {
    datadir: PathBuf,
    /// Owner of the datadir: the OS user the server runs as.
    user: ServerUser,
    /// Bytes of the InnoDB files the clone will copy.
    bytes: u64,
}

/// Takes a physical backup of a MySQL server by cloning it.
pub fn backup(
    ctx: &Context,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    repo: &Repo,
    opts: &PhysOptions,
    mut control: Conn,
    server: &Server,
) -> Result<Manifest> {
    let started = manifest::now_unix();
    let t0 = Instant::now();
    let src = preflight(&mut control, server)?;
    let staging_root = match (&opts.staging_dir, repo.local_root()) {
        (Some(d), _) => d.clone(),
        (None, Some(r)) => r.to_path_buf(),
        (None, None) => bail!(
            "a physical backup of MySQL into an object store needs --staging-dir DIR: \
             the server's clone is written there first (a directory on this host with room \
             for the data, {}), then compressed into {}",
            oxkit::report::human_bytes(src.bytes),
            repo.url()
        ),
    };
    check_space(&staging_root, src.bytes)?;
    check_reachable(&staging_root, &src.user)?;
    sweep_stale(&staging_root, repo);
    repo.take_set(started, t0, |id| {
        let take = Cloning {
            ctx,
            spec,
            copts,
            opts,
            src: &src,
            set: SetWriter {
                repo,
                id,
                level: opts.compress_level,
                key: opts.key.as_ref().map(|(k, _)| k),
            },
        };
        let stage = staging_root.join(format!("{STAGE_PREFIX}{id}"));
        let m = Manifest::begin(
            id,
            Method::Physical,
            ServerInfo::of(&control, server),
            started,
        );
        let r = take.run(m, &mut control, server, &stage);
        // The copy is ours to remove once the server no longer writes it.
        if stage.exists() {
            if let Err(e) = std::fs::remove_dir_all(&stage) {
                log::warn!("could not remove the staging copy {}: {e}", stage.display());
            }
        }
        r
    })
}

/// Removes the staging copies of backups that died (`kill -9`, a crash):
/// their set's lock is free or the set is gone. A running backup's copy
/// is left alone.
fn sweep_stale(root: &Path, repo: &Repo) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix(STAGE_PREFIX) else {
            continue;
        };
        let (live, _) = repo.liveness(id, false);
        if live == crate::repo::Liveness::Running {
            continue;
        }
        match std::fs::remove_dir_all(e.path()) {
            Ok(()) => log::warn!(
                "removed {}: the staging copy of backup {id}, which did not finish",
                e.path().display()
            ),
            Err(err) => log::warn!("could not remove {}: {err}", e.path().display()),
        }
    }
}

/// Refuses what cannot be cloned into a complete backup, before anything
/// is written.
fn preflight(c: &mut Conn, server: &Server) -> Result<Source> {
    if server.version < Version::new(8, 0, 17) {
        bail!(
            "--method physical on MySQL uses the server's clone plugin, which needs MySQL 8.0.17 \
             or later; this is {}",
            server.describe()
        );
    }
    let plugin: Option<String> = c.row(
        "checking the clone plugin",
        "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone'",
    )?;
    if plugin.as_deref() != Some("ACTIVE") {
        bail!(
            "--method physical on MySQL needs the clone plugin, which is {} on {}: install it with \
             INSTALL PLUGIN clone SONAME 'mysql_clone.so' (or plugin-load-add=mysql_clone.so in my.cnf)",
            plugin.map_or("not installed".to_string(), |s| s.to_lowercase()),
            server.describe()
        );
    }
    let grants: Vec<String> = c.rows("reading the account's privileges", "SHOW GRANTS")?;
    let can = grants.iter().any(|g| {
        let g = g.to_ascii_uppercase();
        g.contains("BACKUP_ADMIN") || (g.contains("ALL PRIVILEGES ON *.*"))
    });
    if !can {
        bail!(
            "--method physical on MySQL clones the data directory, which needs the BACKUP_ADMIN \
             privilege: GRANT BACKUP_ADMIN ON *.* TO the backup account"
        );
    }
    let others: Vec<(String, String, String)> = c.rows(
        "listing tables the clone does not copy",
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE <> 'InnoDB' \
             AND TABLE_SCHEMA NOT IN {} ORDER BY 1, 2",
            super::snapshot::SYSTEM_SCHEMAS
        ),
    )?;
    if !others.is_empty() {
        let names: Vec<String> = others
            .iter()
            .take(10)
            .map(|(d, t, e)| format!("{d}.{t} ({e})"))
            .collect();
        bail!(
            "the clone copies only InnoDB tables (others arrive empty), and {} table(s) use another \
             engine: {}{}; convert them to InnoDB or use --method logical",
            others.len(),
            names.join(", "),
            if others.len() > 10 { ", ..." } else { "" }
        );
    }
    let datadir =
        PathBuf::from(super::copy::var(c, "datadir")?.context("the server reports no datadir")?);
    let user = ServerUser::owner_of(&datadir).with_context(|| {
        format!(
            "cannot read the data directory {} (--method physical runs on the database host, as \
             root or the server's user)",
            datadir.display()
        )
    })?;
    let bytes: Option<u64> = c.row(
        "measuring the tablespaces",
        "SELECT CAST(COALESCE(SUM(FILE_SIZE), 0) AS UNSIGNED) FROM information_schema.INNODB_TABLESPACES",
    )?;
    Ok(Source {
        datadir,
        user,
        bytes: bytes.unwrap_or(0),
    })
}

/// The staging copy is as large as the tablespaces (plus undo and redo),
/// and the stored set comes on top of it until the copy is removed.
fn check_space(root: &Path, bytes: u64) -> Result<()> {
    let need = bytes + bytes / 2 + (64 << 20);
    if let Some((probe, free)) = crate::repo::free_space(root) {
        if free < need {
            bail!(
                "not enough space in {} for the clone: {} free, the server's copy needs about {} \
                 (the tablespaces) and the stored set about half that again; free space or name \
                 another directory with --staging-dir",
                probe.display(),
                oxkit::report::human_bytes(free),
                oxkit::report::human_bytes(bytes),
            );
        }
    }
    Ok(())
}

/// The server writes the copy as its own OS user, which must be able to
/// search every directory down to the staging directory (asked of the
/// kernel as that user; only root can, and only root needs to: a tool
/// running as the server's user reaches what it can write).
fn check_reachable(root: &Path, user: &ServerUser) -> Result<()> {
    if !oxkit::sandbox::is_root() {
        return Ok(());
    }
    if let Some(above) = oxkit::sandbox::unreachable_by(&root.join("stage"), user)? {
        bail!(
            "the server runs as {} and writes its clone under {}, but cannot search {} (or a \
             directory above it): give it search permission (chmod o+x) or name a directory it \
             can reach with --staging-dir",
            user.name,
            root.display(),
            above.display()
        );
    }
    Ok(())
}

/// The binary log position of the backup point: where the first
/// transaction not in the clone's GTID set starts (or the end of the log
/// when none has committed since). Binary log order is commit order
/// (`binlog_order_commits`), so the clone's transactions are the log up to
/// there. A local clone leaves `clone_status`'s position empty; this reads
/// the log with `SHOW BINLOG EVENTS`, from the newest log whose
/// `Previous_gtids` the clone holds entirely. The inner error says why
/// there is no position (no binary log, no GTIDs, logs purged).
fn binlog_point(
    c: &mut Conn,
    server: &Server,
    gtid: Option<&str>,
) -> Result<std::result::Result<(String, u64), String>> {
    use crate::pitr::GtidSet;
    if !server.log_bin {
        return Ok(Err("the binary log is off".into()));
    }
    let Some(gtid) = gtid else {
        return Ok(Err(
            "gtid_mode is off, so the clone's point has no GTID set".into(),
        ));
    };
    let set = GtidSet::parse(gtid)?;
    let logs: Vec<mysql::Row> = c.rows("listing the binary logs", "SHOW BINARY LOGS")?;
    let logs: Vec<String> = logs.iter().filter_map(|r| conn::cell_text(r, 0)).collect();
    let events = |c: &mut Conn, file: &str, from: u64, n: usize| -> Result<Vec<mysql::Row>> {
        Ok(c.rows(
            "reading the binary log",
            &format!(
                "SHOW BINLOG EVENTS IN {} FROM {from} LIMIT {n}",
                oxkit::sql::quote_str(file)
            ),
        )?)
    };
    let mut start = None;
    for (i, f) in logs.iter().enumerate().rev() {
        let head = events(c, f, 4, 4)?;
        let prev = head
            .iter()
            .find(|r| conn::cell_text(r, 2).as_deref() == Some("Previous_gtids"))
            .and_then(|r| conn::cell_text(r, 5))
            .unwrap_or_default();
        if GtidSet::parse(&prev)?.minus(&set).is_empty() {
            start = Some(i);
            break;
        }
    }
    let Some(start) = start else {
        return Ok(Err(
            "the binary logs on the server begin after the backup point (purged)".into(),
        ));
    };
    const PAGE: usize = 10_000;
    let mut end = (logs[start].clone(), 4);
    for f in &logs[start..] {
        let mut from = 4;
        loop {
            let rows = events(c, f, from, PAGE)?;
            for r in &rows {
                let kind = conn::cell_text(r, 2).unwrap_or_default();
                let pos: u64 = conn::cell_text(r, 1)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                let next: u64 = conn::cell_text(r, 4)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if kind.starts_with("Gtid") {
                    let info = conn::cell_text(r, 5).unwrap_or_default();
                    let one = info.split('\'').nth(1).unwrap_or_default();
                    let Some((sid, n)) = GtidSet::split(one) else {
                        bail!("{f}:{pos}: cannot read the GTID of {info:?}");
                    };
                    if !set.contains(&sid, n) {
                        return Ok(Ok((f.clone(), pos)));
                    }
                }
                end = (f.clone(), next.max(pos));
                from = next.max(from);
            }
            if rows.len() < PAGE {
                break;
            }
        }
    }
    Ok(Ok(end))
}

/// One clone under way.
struct Cloning<'a> {
    ctx: &'a Context,
    spec: &'a ConnSpec,
    copts: &'a ConnectOptions,
    opts: &'a PhysOptions,
    src: &'a Source,
    set: SetWriter<'a>,
}

impl Cloning<'_> {
    fn run(
        &self,
        mut m: Manifest,
        control: &mut Conn,
        server: &Server,
        stage: &Path,
    ) -> Result<Manifest> {
        crate::repo::mkdir(stage)?;
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(stage, Some(self.src.user.uid), Some(self.src.user.gid))
                .with_context(|| format!("giving {} to the server's user", stage.display()))?;
        }
        let data = stage.join("data");
        let t = Instant::now();
        self.clone_into(&data)?;
        let clone_secs = t.elapsed().as_secs_f64();
        self.ctx.cancel.check()?;
        let t = Instant::now();
        let (tables, gtid) = self.recover_and_checksum(server, &data)?;
        m.tables = tables;
        let prepare_secs = t.elapsed().as_secs_f64();
        let mut position = Position {
            gtid: gtid
                .map(|g| g.replace(['\n', ' '], ""))
                .filter(|g| !g.is_empty()),
            lock: "CLONE LOCAL DATA DIRECTORY".into(),
            ..Position::default()
        };
        let mut warnings = Vec::new();
        match binlog_point(control, server, position.gtid.as_deref())? {
            Ok((file, at)) => {
                position.binlog_file = Some(file);
                position.binlog_pos = Some(at);
            }
            Err(why) => warnings.push(format!(
                "no binary log position recorded ({why}): the backup cannot be rolled forward"
            )),
        }
        self.ctx.cancel.check()?;
        // The throwaway server's shutdown dumped its own page list (every
        // page it checksummed): the source's is what the restored server
        // should warm up with.
        let pool = data.join("ib_buffer_pool");
        match super::copy::buffer_pool_list(control, &self.src.datadir) {
            Ok(list) => std::fs::write(&pool, list)
                .with_context(|| format!("writing {}", pool.display()))?,
            Err(w) => {
                let _ = std::fs::remove_file(&pool);
                warnings.push(w);
            }
        }
        let t = Instant::now();
        let (files, copy_bytes) = self.store(&data)?;
        let store_secs = t.elapsed().as_secs_f64();
        let meta = CloneMeta {
            mechanism: "clone".into(),
            copy_bytes,
        };
        m.phases = [
            ("clone", clone_secs),
            ("recover and checksum", prepare_secs),
            ("store", store_secs),
        ]
        .into_iter()
        .map(|(phase, secs)| manifest::PhaseTime {
            phase: phase.into(),
            secs,
        })
        .collect();
        let meta = (CLONE_META, serde_json::to_vec_pretty(&meta)?);
        super::copy::seal(m, &self.set, self.opts, meta, files, position, warnings)
    }

    /// Runs `CLONE LOCAL DATA DIRECTORY` on a connection of its own and
    /// watches it from this one (progress, Ctrl-C, stalls).
    /// On any failure, Ctrl-C or a stall the clone is killed and this
    /// returns only once the server says it has ended.
    fn clone_into(&self, data: &Path) -> Result<()> {
        let mut worker =
            conn::connect(self.spec, self.copts).context("connecting for the clone")?;
        let id: Option<u64> = worker.row("reading the connection id", "SELECT CONNECTION_ID()")?;
        let id = id.unwrap_or(0);
        let path = data
            .to_str()
            .context("the staging directory's path is not UTF-8")?;
        let sql = format!(
            "CLONE LOCAL DATA DIRECTORY = {}",
            oxkit::sql::quote_str(path)
        );
        let mut watch =
            conn::connect(self.spec, self.copts).context("connecting to watch the clone")?;
        let outcome = std::thread::scope(|s| -> Result<()> {
            let h = s.spawn(move || {
                worker
                    .run(
                        "cloning the data directory (CLONE LOCAL DATA DIRECTORY)",
                        &sql,
                    )
                    .map_err(anyhow::Error::from)
            });
            let watched = self.watch(&mut watch, || h.is_finished());
            if watched.is_err() {
                self.kill_clone(id);
            }
            let ran = h
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the clone thread panicked")));
            watched?;
            ran
        });
        if let Err(e) = outcome {
            self.kill_clone(id);
            self.wait_clone_ended(&mut watch);
            return Err(e.context(format!(
                "the server's clone into {} did not complete; no backup was made",
                data.display()
            )));
        }
        // A local clone leaves BINLOG_FILE, BINLOG_POSITION and
        // GTID_EXECUTED empty (they describe a remote clone's donor): the
        // GTID set is read from the recovered copy.
        let state: Option<String> = watch.row(
            "reading the clone's state",
            "SELECT STATE FROM performance_schema.clone_status",
        )?;
        match state.as_deref() {
            Some("Completed") => Ok(()),
            Some(s) => bail!("the server's clone ended in state {s:?}"),
            None => bail!("performance_schema.clone_status is empty after the clone"),
        }
    }

    /// Polls the clone's progress every second until `done()`: a progress
    /// bar on a terminal, a line every 10 s otherwise; fails on Ctrl-C and
    /// when the figures have not moved for [`STALL_LIMIT`].
    fn watch(&self, c: &mut Conn, done: impl Fn() -> bool) -> Result<()> {
        let bar = oxkit::progress::Progress::bytes(self.ctx, self.src.bytes.max(1), "clone");
        let mut last = (String::new(), 0u64);
        let mut moved = Instant::now();
        let mut polled = Instant::now();
        let mut said = Instant::now();
        let mut warned = false;
        let t0 = Instant::now();
        let mut shown = 0u64;
        while !done() {
            self.ctx.cancel.check()?;
            std::thread::sleep(Duration::from_millis(100));
            if polled.elapsed() < Duration::from_secs(1) {
                continue;
            }
            polled = Instant::now();
            let rows: Vec<(String, Option<u64>, Option<u64>)> = c.rows(
                "reading the clone's progress",
                "SELECT STAGE, CAST(ESTIMATE AS UNSIGNED), CAST(DATA AS UNSIGNED) \
                 FROM performance_schema.clone_progress WHERE STATE = 'In Progress'",
            )?;
            let (stage, est, data) = rows
                .into_iter()
                .next()
                .map(|(s, e, d)| (s, e.unwrap_or(0), d.unwrap_or(0)))
                .unwrap_or_else(|| ("starting".into(), 0, 0));
            let copied = |data, est| {
                format!(
                    "{} of {} copied",
                    oxkit::report::human_bytes(data),
                    oxkit::report::human_bytes(est)
                )
            };
            if (stage.clone(), data) != last {
                last = (stage.clone(), data);
                moved = Instant::now();
                warned = false;
            } else if moved.elapsed() > STALL_LIMIT {
                bail!(
                    "the server's clone has not progressed for {}s (stage {stage}, {})",
                    STALL_LIMIT.as_secs(),
                    copied(data, est)
                );
            } else if !warned && moved.elapsed() > STALL_WARN {
                // Said whatever the verbosity: a wait that may end in a kill.
                log::warn!(
                    "waiting for the server's clone, which has not progressed for {}s (stage {stage}, \
                     {}); it is stopped after {}s without progress",
                    STALL_WARN.as_secs(),
                    copied(data, est),
                    STALL_LIMIT.as_secs()
                );
                warned = true;
            }
            if stage == "FILE COPY" && data > shown {
                bar.inc(data - shown);
                shown = data;
            }
            bar.message(stage.clone());
            if !bar.is_visible() && said.elapsed() >= Duration::from_secs(10) {
                log::info!(
                    "waiting for the server's clone: stage {stage}, {} ({:.0}s)",
                    copied(data, est),
                    t0.elapsed().as_secs_f64()
                );
                said = Instant::now();
            }
        }
        bar.finish();
        Ok(())
    }

    /// Kills the clone statement from a new connection (the tool's own may
    /// have been cut by Ctrl-C); harmless when it has already ended.
    fn kill_clone(&self, id: u64) {
        if id == 0 {
            return;
        }
        match conn::connect(self.spec, self.copts) {
            Ok(mut c) => {
                let _ = c.run("stopping the clone", &format!("KILL QUERY {id}"));
            }
            Err(e) => {
                log::warn!("could not connect to stop the server's clone (connection {id}): {e}")
            }
        }
    }

    /// Waits (at most a minute, saying so) until the server reports no clone
    /// in progress, so the staging copy is removed only when nothing writes it.
    fn wait_clone_ended(&self, c: &mut Conn) {
        let t = Instant::now();
        let mut fresh = None;
        let mut said = false;
        loop {
            let conn = match fresh.as_mut() {
                Some(f) => f,
                None => c,
            };
            let state: Result<Option<String>> = conn
                .row(
                    "reading the clone's state",
                    "SELECT STATE FROM performance_schema.clone_status",
                )
                .map_err(anyhow::Error::from);
            match state {
                Ok(Some(s)) if s == "In Progress" => {}
                Ok(_) => return,
                Err(_) if fresh.is_none() => {
                    fresh = conn::connect(self.spec, self.copts).ok();
                    if fresh.is_none() {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
            if t.elapsed() > Duration::from_secs(60) {
                log::warn!(
                    "the server's clone is still running a minute after it was killed; its copy \
                     may be left behind"
                );
                return;
            }
            if !said {
                log::warn!(
                    "waiting (at most 60s) for the server's clone to end after KILL QUERY, before \
                     its copy is removed"
                );
                said = true;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Starts a throwaway server of the source's version on the copy (its
    /// start recovers the cloned redo), reads every InnoDB table's row
    /// count and checksum there (the copy is exactly the backup point),
    /// and shuts it down cleanly.
    fn recover_and_checksum(
        &self,
        server: &Server,
        data: &Path,
    ) -> Result<(Vec<manifest::TableEntry>, Option<String>)> {
        let install = oxkit::sandbox::Install::find(
            Some(server.flavor),
            Some((server.version.major, server.version.minor)),
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "the clone is recovered and checksummed by a server of the source's version: {e:#}"
            )
        })?;
        let mut sb = oxkit::sandbox::Sandbox::builder()
            .install(install)
            .from_datadir(data)
            .arg("--skip-grant-tables")
            .arg(format!(
                "--innodb-buffer-pool-size={}",
                self.opts.buffer_pool
            ))
            .start()
            .map_err(|e| e.context("starting a throwaway server on the clone failed"))?;
        let spec = sb.socket_spec();
        let copts = ConnectOptions::default();
        let read = (|| -> Result<(Vec<manifest::TableEntry>, Option<String>)> {
            let mut c = conn::connect(&spec, &copts)?;
            // Without a binary log the server's GTID set is its
            // mysql.gtid_executed table: the clone's consistency point.
            let gtid: Option<String> = c.row(
                "reading the clone's GTID set",
                "SELECT @@GLOBAL.gtid_executed",
            )?;
            let mut snaps = super::snapshot::plan(
                &mut c,
                &spec,
                &copts,
                self.opts.threads,
                oxkit::checksum::Function::Sha1.on(server),
            )?;
            snaps.open()?;
            Ok((snaps.checksum(&self.ctx.cancel)?, gtid))
        })();
        let down = sb.shutdown();
        let read = read?;
        down?;
        Ok(read)
    }

    /// Stores every file of the recovered copy in parallel, largest first;
    /// returns them and the copy's size.
    fn store(&self, data: &Path) -> Result<(Vec<FileEntry>, u64)> {
        let mut jobs = Vec::new();
        walk(data, data, &mut jobs)?;
        jobs.sort_by_key(|(_, size)| *size);
        let total: u64 = jobs.iter().map(|(_, s)| s).sum();
        let jobs = Mutex::new(jobs);
        let limit = self
            .opts
            .max_rate
            .map(crate::repo::RateLimit::new)
            .map(std::sync::Arc::new);
        let mut workers = vec![(); self.opts.threads.max(1)];
        let files = crate::pool::run(&mut workers, &self.ctx.cancel, &|_| {
            let job = match jobs.lock() {
                Ok(mut g) => g.pop(),
                Err(_) => bail!("a storing thread panicked"),
            };
            let Some((rel, _)) = job else {
                return Ok(None);
            };
            let src = data.join(&rel);
            let mut f =
                std::fs::File::open(&src).with_context(|| format!("reading {}", src.display()))?;
            let mut out = self
                .set
                .file(&format!("{FILES_DIR}/{rel}"), limit.clone())?;
            std::io::copy(&mut f, &mut out).with_context(|| format!("storing {rel}"))?;
            out.flush().with_context(|| format!("storing {rel}"))?;
            Ok(Some(out.finish()?))
        })?;
        Ok((files, total))
    }
}

/// Every regular file below `dir`, relative to `base`, with its size.
fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let ft = e.file_type()?;
        let p = e.path();
        if ft.is_dir() {
            walk(base, &p, out)?;
        } else if ft.is_file() {
            let rel = p
                .strip_prefix(base)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            if NOT_STORED.contains(&rel.as_str()) {
                continue;
            }
            out.push((rel, e.metadata()?.len()));
        }
    }
    Ok(())
}

/// True when the set was taken by cloning (it holds [`CLONE_META`]).
pub fn is_clone_set(m: &Manifest) -> bool {
    m.file(CLONE_META).is_some()
}
