//! Taking a physical backup: preflight, BACKUP STAGE orchestration, the
//! redo copier thread and the parallel page-checked copy of the InnoDB files.
//!
//! Order (invariants in brackets):
//! 1. preflight: MariaDB >= 10.8, unencrypted 10.8-format redo, full_crc32
//!    pages, the privileges, every file readable on this host, room in the
//!    repository, and the redo write rate sampled over a second against the
//!    log's capacity (a log lapped within a quarter second is refused);
//! 2. `BACKUP STAGE START`, `BLOCK_DDL` [no file is created, dropped or
//!    renamed while we copy; DML goes on];
//! 3. the copier reads `ib_logfile0` from the checkpoint LSN onward, keeps
//!    whole checked mini-transactions only, and after every read compares
//!    the server's current LSN with what it has not read yet: once the
//!    server is a whole log capacity ahead, the unread bytes may be
//!    overwritten and the backup aborts [never a silently holey redo copy];
//! 4. data files are copied in parallel, every page checksum-checked,
//!    torn pages re-read a few times, a page that stays bad fails the backup;
//! 5. the InnoDB tables to checksum are listed and their definitions
//!    loaded (still under `BLOCK_DDL`); the copier catches up with the
//!    current LSN, then under `BLOCK_COMMIT` (timed): binlog position and
//!    GTID, consistent snapshots opened on `--threads` connections, the
//!    prepared XA xids, the non-InnoDB files (read ahead before the block;
//!    only those whose inode stamp moved since are read again), and the
//!    end LSN; then
//!    `BACKUP STAGE END` [always, on error and on Ctrl-C too; a killed
//!    tool's connection drop ends the stages in the server];
//! 6. the copier stops exactly at the end LSN (a mini-transaction boundary;
//!    later bytes may hold transactions that are not part of the backup);
//! 7. every InnoDB table's count and checksum is read in the snapshots
//!    (they see exactly the backup point), and the prepared XA
//!    transactions' `XA START .. XA PREPARE` groups are located in the
//!    binary logs for a later point-in-time replay;
//! 8. the buffer pool page list is dumped and stored (best effort) so the
//!    restored server warms up.

use super::io::DirectFile;
use super::pages;
use super::redo::{self, Checkpoint};
use super::snapshot::Snapshots;
use crate::manifest::{self, FileEntry, Manifest, Method, Options, Position, ServerInfo};
use crate::repo::{self, Repo, SetWriter};
use anyhow::{bail, Context as _, Result};
use oxkit::checksum::Function;
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::Context;
use oxkit::server::{Flavor, Server, Version};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the stored redo copy in a set.
pub const REDO_FILE: &str = "redo.log";
/// Name of the physical metadata file in a set.
pub const META_FILE: &str = "physical.json";
/// Prefix of the copied data directory files in a set.
pub const FILES_DIR: &str = "files";

/// What a physical set records beyond the common manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhysMeta {
    /// The checkpoint the copied redo starts at.
    pub start_lsn: u64,
    /// Where that checkpoint's `FILE_CHECKPOINT` record is.
    pub checkpoint_end_lsn: u64,
    /// The backup point: the copied redo ends here.
    pub end_lsn: u64,
    /// The source log's first LSN and size (the copied termination bytes
    /// carry its lap bits).
    pub source_first_lsn: u64,
    /// Size of the source `ib_logfile0`.
    pub source_log_size: u64,
    /// `@@innodb_page_size`.
    pub page_size: u64,
    /// Who wrote the source log.
    pub creator: String,
    /// Milliseconds `BACKUP STAGE BLOCK_COMMIT` was held.
    pub block_commit_ms: u64,
    /// Pages checked, and how many needed a re-read.
    pub pages_checked: u64,
    /// Pages re-read because the first read was torn.
    pub pages_reread: u64,
}

/// Options of a physical backup.
pub struct PhysOptions {
    /// Parallel file copiers.
    pub threads: usize,
    /// zstd level.
    pub compress_level: i32,
    /// Encryption key and its description.
    pub key: Option<(crate::crypt::Key, crate::crypt::Encryption)>,
    /// `--max-rate`: bytes per second written for the data files (the
    /// redo copier is never throttled: it races the server's writes).
    pub max_rate: Option<u64>,
    /// `--verify-buffer-pool`: the throwaway server's buffer pool (MySQL:
    /// the server that recovers and checksums the clone).
    pub buffer_pool: String,
    /// `--staging-dir` (MySQL): where the server writes its clone before
    /// it is stored; the repository's directory when not given.
    pub staging_dir: Option<PathBuf>,
}

/// The server paths and settings a physical backup needs.
#[derive(Debug)]
struct Layout {
    datadir: PathBuf,
    log_file: PathBuf,
    system_files: Vec<PathBuf>,
    undo_dir: PathBuf,
    page_size: u64,
}

/// `@@name`, NULL as None.
pub(super) fn var(c: &mut Conn, name: &str) -> Result<Option<String>> {
    let v: Option<Option<String>> = c.row("reading a variable", &format!("SELECT @@{name}"))?;
    Ok(v.flatten())
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Refuses what v1 does not handle, before anything is locked.
fn preflight(c: &mut Conn, server: &Server) -> Result<Layout> {
    if server.version < Version::new(10, 8, 0) {
        bail!(
            "--method physical needs MariaDB 10.8 or later (the 10.8 redo format); this is {}",
            server.describe()
        );
    }
    if var(c, "innodb_encrypt_log")?.as_deref() == Some("1") {
        bail!("the redo log is encrypted (innodb_encrypt_log=ON): --method physical does not handle encrypted redo yet");
    }
    let algo = var(c, "innodb_checksum_algorithm")?.unwrap_or_default();
    if !algo.to_ascii_lowercase().contains("full_crc32") {
        bail!("innodb_checksum_algorithm={algo}: --method physical handles full_crc32 tablespaces only");
    }
    let datadir = PathBuf::from(var(c, "datadir")?.context("@@datadir is empty")?);
    let log_home = var(c, "innodb_log_group_home_dir")?.unwrap_or_else(|| "./".into());
    let data_home = var(c, "innodb_data_home_dir")?.unwrap_or_default();
    let undo = var(c, "innodb_undo_directory")?.unwrap_or_else(|| "./".into());
    let file_path = var(c, "innodb_data_file_path")?.unwrap_or_else(|| "ibdata1".into());
    let page_size: u64 = var(c, "innodb_page_size")?
        .and_then(|v| v.parse().ok())
        .context("reading @@innodb_page_size")?;
    let data_home = if data_home.is_empty() {
        datadir.clone()
    } else {
        resolve(&datadir, &data_home)
    };
    let system_files = file_path
        .split(';')
        .filter_map(|s| s.split(':').next())
        .filter(|s| !s.is_empty())
        .map(|s| resolve(&data_home, s))
        .collect();
    let layout = Layout {
        log_file: resolve(&datadir, &log_home).join("ib_logfile0"),
        undo_dir: resolve(&datadir, &undo),
        datadir,
        system_files,
        page_size,
    };
    for p in layout.system_files.iter().chain([&layout.log_file]) {
        std::fs::File::open(p).with_context(|| {
            format!(
                "cannot read {} (--method physical runs on the database host, as a user who can read the data directory)",
                p.display()
            )
        })?;
    }
    Ok(layout)
}

/// Copy rate assumed for the estimate when `--max-rate` is not given.
const ASSUMED_COPY_RATE: u64 = 200 << 20;

/// Checks, before anything is locked, that every file to copy can be read,
/// that the repository's filesystem has room, and that the redo log is big
/// enough for the server's write rate (sampled over a second). Returns
/// warnings.
fn preflight_load(
    ctx: &Context,
    c: &mut Conn,
    layout: &Layout,
    repo_root: Option<&Path>,
    opts: &PhysOptions,
) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let mut total = 0u64;
    for job in innodb_jobs(layout)?
        .iter()
        .chain(other_jobs(layout)?.iter())
    {
        let f = std::fs::File::open(&job.src).with_context(|| {
            format!(
                "cannot read {} (--method physical runs on the database host, as a user who can read \
                 every file of the data directory: root or the server's user)",
                job.src.display()
            )
        })?;
        total += f.metadata().map(|m| m.len()).unwrap_or(0);
    }
    // The redo copy grows with the writes during the copy; half the data
    // size is the estimate the logical method uses too (zstd halves InnoDB
    // pages at least).
    let need = total / 2;
    if let Some((probe, free)) = repo_root.and_then(repo::free_space) {
        if free < need {
            bail!(
                "not enough space for the backup in {}: {} free, the data files to copy are {} \
                 (about {} compressed, plus the redo written during the copy)",
                probe.display(),
                oxkit::report::human_bytes(free),
                oxkit::report::human_bytes(total),
                oxkit::report::human_bytes(need)
            );
        }
    }
    let mut lf = DirectFile::open(&layout.log_file)?;
    let cap = redo::read_state(&mut lf)?.geometry.capacity();
    let t = Instant::now();
    let a = c.global_status("Innodb_lsn_current")?;
    std::thread::sleep(Duration::from_secs(1));
    ctx.cancel.check()?;
    let b = c.global_status("Innodb_lsn_current")?;
    let rate = ((b.saturating_sub(a)) as f64 / t.elapsed().as_secs_f64().max(0.001)) as u64;
    let copy_rate = opts.max_rate.unwrap_or(ASSUMED_COPY_RATE);
    if let Some(w) = redo_verdict(cap, rate, total, copy_rate, opts.max_rate.is_some())? {
        warnings.push(w);
    }
    Ok(warnings)
}

/// Refuses when the redo log holds less than a quarter of a second of the
/// server's writes: the copier polls every 20 ms and must never fall a whole
/// log behind, so below about a dozen polls one stall (a busy disk, a
/// descheduled thread) loses the backup. Warns when the log holds less than
/// 10 s; wrapping during the copy is normal (the copier follows the log), so
/// it is only reported. The copier also detects an overwrite at run time
/// and fails the backup, so this check saves time, not data.
fn redo_verdict(
    cap: u64,
    rate: u64,
    total: u64,
    copy_rate: u64,
    rate_given: bool,
) -> Result<Option<String>> {
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    if rate == 0 {
        return Ok(None);
    }
    let slack = cap as f64 / rate as f64;
    let copy_secs = total as f64 / copy_rate.max(1) as f64;
    let laps = copy_secs / slack;
    let how = if rate_given {
        "at --max-rate"
    } else {
        "at an assumed 200 MiB/s"
    };
    if slack < MIN_REDO_SLACK_SECS {
        bail!(
            "the redo log is too small for the server's write rate: it holds {:.0} MiB and the server \
             writes {:.1} MiB/s of redo, so it is overwritten every {slack:.2}s; the copy of {:.0} MiB \
             would take about {copy_secs:.1}s {how} (the log would wrap {laps:.1} times) and the redo \
             copier could not keep up safely; enlarge innodb_log_file_size (SET GLOBAL \
             innodb_log_file_size works online on 10.11) or back up when fewer writes run",
            mib(cap),
            mib(rate),
            mib(total)
        );
    }
    if slack < 10.0 {
        return Ok(Some(format!(
            "the redo log holds only {slack:.1}s of the server's writes ({:.0} MiB at {:.1} MiB/s); \
             the copy of {:.0} MiB takes about {copy_secs:.1}s {how} (about {laps:.1} wraps); a copier \
             stalled that long aborts the backup; a bigger innodb_log_file_size is safer",
            mib(cap),
            mib(rate),
            mib(total)
        )));
    }
    Ok(None)
}

/// The least redo-log slack, in seconds of the server's writes, that the
/// backup accepts (see `redo_verdict`).
const MIN_REDO_SLACK_SECS: f64 = 0.25;

/// Shared state between the control thread and the redo copier.
struct Copier {
    copied: AtomicU64,
    target: AtomicU64,
    stop: AtomicBool,
    /// Asked to stop reading until it learns the end LSN (set before
    /// `BLOCK_COMMIT`, so the copy never runs past a target it does not
    /// know yet); `paused` acknowledges.
    pause: AtomicBool,
    paused: AtomicBool,
    failed: Mutex<Option<String>>,
}

impl Copier {
    /// A copier to start at `lsn`, with no end LSN yet.
    fn new(lsn: u64) -> Copier {
        Copier {
            copied: AtomicU64::new(lsn),
            target: AtomicU64::new(NO_TARGET),
            stop: AtomicBool::new(false),
            pause: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            failed: Mutex::new(None),
        }
    }

    fn error(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|g| g.clone())
    }

    /// Asks the copier to stop reading until it learns the end LSN, and
    /// waits until it has.
    fn pause(&self) -> Result<()> {
        self.pause.store(true, Ordering::SeqCst);
        let t = Instant::now();
        while !self.paused.load(Ordering::SeqCst) {
            if let Some(e) = self.error() {
                bail!("redo copier failed: {e}");
            }
            if t.elapsed() > Duration::from_secs(60) {
                bail!("the redo copier did not pause within 60s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

/// Pages checked by the file copiers, and how many of them needed a
/// re-read because the first read was torn.
#[derive(Default)]
struct PageCounts {
    checked: AtomicU64,
    reread: AtomicU64,
}

const NO_TARGET: u64 = u64::MAX;

/// A small file read under `BLOCK_COMMIT`: its path in the set, its bytes.
type Grabbed = (String, Vec<u8>);

/// A file to copy: where it is, and its path in the set.
struct Job {
    src: PathBuf,
    rel: String,
}

fn innodb_jobs(l: &Layout) -> Result<Vec<Job>> {
    let mut jobs = Vec::new();
    for p in &l.system_files {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        jobs.push(Job {
            src: p.clone(),
            rel: format!("{FILES_DIR}/{}", name.unwrap_or_default()),
        });
    }
    if let Ok(rd) = std::fs::read_dir(&l.undo_dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("undo") && n[4..].chars().all(|c| c.is_ascii_digit()) && n.len() > 4 {
                jobs.push(Job {
                    src: e.path(),
                    rel: format!("{FILES_DIR}/{n}"),
                });
            }
        }
    }
    for (dir, sub) in db_dirs(&l.datadir)? {
        for e in std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .flatten()
        {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".ibd") {
                jobs.push(Job {
                    src: e.path(),
                    rel: format!("{FILES_DIR}/{sub}/{n}"),
                });
            } else if n.ends_with(".isl") {
                bail!(
                    "{}: tablespaces outside the data directory (DATA DIRECTORY=) are not handled by --method physical yet",
                    e.path().display()
                );
            }
        }
    }
    Ok(jobs)
}

/// Schema directories of the data directory (not InnoDB's temporary ones).
fn db_dirs(datadir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(datadir)
        .with_context(|| format!("listing {}", datadir.display()))?
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && !n.starts_with('#')
            && n != "lost+found"
        {
            out.push((e.path(), n));
        }
    }
    out.sort();
    Ok(out)
}

/// What a file's metadata says of its contents: any write changes its
/// change time and modification time.
#[derive(PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(p: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(p)?;
        Ok(Stamp {
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// A non-InnoDB file read ahead of `BLOCK_COMMIT`, and its stamp then.
struct Early {
    data: Vec<u8>,
    stamp: Stamp,
}

/// Reads the non-InnoDB files ahead of `BLOCK_COMMIT` (under `BLOCK_DDL`,
/// writes go on). A file is kept only when its stamp did not move while
/// it was read and its last change is over a second older than the read
/// (a write that lands in the same coarse timestamp tick as an earlier
/// one would not move the stamp): such a file, found with the same stamp
/// under `BLOCK_COMMIT`, still holds what was read. Anything else is read
/// again under the block.
fn read_ahead(l: &Layout) -> Result<HashMap<PathBuf, Early>> {
    let mut out = HashMap::new();
    for job in other_jobs(l)? {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let (Ok(before), Ok(data)) = (Stamp::of(&job.src), std::fs::read(&job.src)) else {
            continue;
        };
        if Stamp::of(&job.src).ok().as_ref() == Some(&before)
            && before.mtime.0 < started - 1
            && before.ctime.0 < started - 1
        {
            out.insert(
                job.src,
                Early {
                    data,
                    stamp: before,
                },
            );
        }
    }
    Ok(out)
}

/// Non-InnoDB files copied under `BLOCK_COMMIT`.
fn other_jobs(l: &Layout) -> Result<Vec<Job>> {
    const EXT: &[&str] = &[
        "frm", "MYD", "MYI", "MAD", "MAI", "opt", "par", "TRG", "TRN", "ARZ", "ARM", "CSV", "CSM",
        "MRG",
    ];
    let mut jobs = Vec::new();
    for e in std::fs::read_dir(&l.datadir)
        .with_context(|| format!("listing {}", l.datadir.display()))?
        .flatten()
    {
        let n = e.file_name().to_string_lossy().into_owned();
        if n == "aria_log_control" || n.starts_with("aria_log.") {
            jobs.push(Job {
                src: e.path(),
                rel: format!("{FILES_DIR}/{n}"),
            });
        }
    }
    for (dir, sub) in db_dirs(&l.datadir)? {
        for e in std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .flatten()
        {
            let n = e.file_name().to_string_lossy().into_owned();
            let ext = n.rsplit('.').next().unwrap_or("");
            if n.contains('.') && EXT.contains(&ext) {
                jobs.push(Job {
                    src: e.path(),
                    rel: format!("{FILES_DIR}/{sub}/{n}"),
                });
            }
        }
    }
    Ok(jobs)
}

/// Takes a physical backup of `spec` into `repo`; on failure the set's
/// directory is removed and the backup stages are always ended.
pub fn backup(
    ctx: &Context,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    repo: &Repo,
    opts: &PhysOptions,
) -> Result<Manifest> {
    let started = manifest::now_unix();
    let t0 = Instant::now();
    let mut control = conn::connect(spec, copts)?;
    let server = Server::detect(&mut control)?;
    if server.flavor != Flavor::MariaDB {
        return super::clone::backup(ctx, spec, copts, repo, opts, control, &server);
    }
    let layout = preflight(&mut control, &server)?;
    crate::logical::backup::check_privileges(&mut control, &server)?;
    let pre_warnings = preflight_load(ctx, &mut control, &layout, repo.local_root(), opts)?;
    for w in &pre_warnings {
        log::warn!("{w}");
    }
    repo.take_set(started, t0, |id| {
        let take = Take {
            ctx,
            spec,
            copts,
            opts,
            layout: &layout,
            set: SetWriter {
                repo,
                id,
                level: opts.compress_level,
                key: opts.key.as_ref().map(|(k, _)| k),
            },
        };
        let m = Manifest::begin(
            id,
            Method::Physical,
            ServerInfo::of(&control, &server),
            started,
        );
        let mut m = take.run(m, &mut control, &server)?;
        m.warnings.splice(0..0, pre_warnings);
        Ok(m)
    })
}

/// One physical backup under way: what it was asked for, where the
/// server's files are, and the set it writes; shared by the control
/// thread, the redo copier and the file copiers.
struct Take<'a> {
    ctx: &'a Context,
    spec: &'a ConnSpec,
    copts: &'a ConnectOptions,
    opts: &'a PhysOptions,
    layout: &'a Layout,
    set: SetWriter<'a>,
}

/// What the backup stages produced.
struct Staged {
    /// Every file copied, the redo copy among them.
    files: Vec<FileEntry>,
    meta: PhysMeta,
    position: Position,
    /// Snapshots opened at the backup point, to checksum the tables in.
    snaps: Snapshots,
}

/// What `BLOCK_COMMIT` captured.
struct Point {
    position: Position,
    /// The non-InnoDB files, read into memory.
    others: Vec<Grabbed>,
    /// The end LSN: the backup point in the redo log.
    end: u64,
    /// Milliseconds commits were blocked.
    held: u64,
}

impl Take<'_> {
    /// The backup, in the order the module documentation gives; fills in
    /// `m` but for its end time.
    fn run(&self, mut m: Manifest, control: &mut Conn, server: &Server) -> Result<Manifest> {
        control
            .run(
                "BACKUP STAGE START (needs the RELOAD privilege)",
                "BACKUP STAGE START",
            )
            .context("starting the backup stages")?;
        let staged = self.staged(control, server);
        // Always end the stages (a no-op error when already ended).
        if staged.is_err() {
            let _ = control.run("BACKUP STAGE END", "BACKUP STAGE END");
        }
        let Staged {
            mut files,
            meta,
            mut position,
            snaps,
        } = staged?;
        m.tables = snaps.checksum(&self.ctx.cancel)?;
        let mut warnings = locate_xa(control, &mut position)?;
        match dump_buffer_pool(control, &self.layout.datadir, &self.set) {
            Ok(f) => files.push(f),
            Err(w) => warnings.push(w),
        }
        let meta = (META_FILE, serde_json::to_vec_pretty(&meta)?);
        seal(m, &self.set, self.opts, meta, files, position, warnings)
    }

    /// Under `BLOCK_DDL`: the redo copier follows the log from the
    /// checkpoint while the InnoDB files are copied, then the backup point
    /// is taken and the copier stopped exactly there.
    fn staged(&self, control: &mut Conn, server: &Server) -> Result<Staged> {
        control.run("BACKUP STAGE BLOCK_DDL", "BACKUP STAGE BLOCK_DDL")?;
        let mut lf = DirectFile::open(&self.layout.log_file)?;
        let st = redo::read_state(&mut lf)?;
        if st.header.encrypted {
            bail!(
                "the redo log is encrypted: --method physical does not handle encrypted redo yet"
            );
        }
        let state = Copier::new(st.checkpoint.lsn);
        let counts = PageCounts::default();
        std::thread::scope(|s| -> Result<Staged> {
            let copier = s.spawn(|| {
                let r = self.copy_redo(&state, &st);
                if let Err(e) = &r {
                    if let Ok(mut g) = state.failed.lock() {
                        *g = Some(format!("{e:#}"));
                    }
                }
                r
            });
            match self.copy_and_point(control, server, &state, &counts) {
                Ok((mut files, point, snaps)) => {
                    state.target.store(point.end, Ordering::SeqCst);
                    state.pause.store(false, Ordering::SeqCst);
                    let redo_entry = copier
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("redo copier panicked")))?;
                    files.push(redo_entry);
                    let meta = PhysMeta {
                        start_lsn: st.checkpoint.lsn,
                        checkpoint_end_lsn: st.checkpoint.end_lsn,
                        end_lsn: point.end,
                        source_first_lsn: st.geometry.first_lsn,
                        source_log_size: st.geometry.file_size,
                        page_size: self.layout.page_size,
                        creator: st.header.creator.clone(),
                        block_commit_ms: point.held,
                        pages_checked: counts.checked.load(Ordering::Relaxed),
                        pages_reread: counts.reread.load(Ordering::Relaxed),
                    };
                    Ok(Staged {
                        files,
                        meta,
                        position: point.position,
                        snaps,
                    })
                }
                Err(e) => {
                    state.stop.store(true, Ordering::SeqCst);
                    let _ = copier.join();
                    Err(e)
                }
            }
        })
    }

    /// Copies the InnoDB files, plans the table snapshots, catches the
    /// redo copier up and pauses it, takes the backup point and stores
    /// the files read under it.
    fn copy_and_point(
        &self,
        control: &mut Conn,
        server: &Server,
        state: &Copier,
        counts: &PageCounts,
    ) -> Result<(Vec<FileEntry>, Point, Snapshots)> {
        let mut files = self.copy_files(state, counts)?;
        // The tables to checksum at the backup point (their definitions
        // cannot change under BLOCK_DDL).
        let mut snaps = super::snapshot::plan(
            control,
            self.spec,
            self.copts,
            self.opts.threads,
            Function::Sha1.on(server),
        )?;
        // The non-InnoDB files, read ahead while commits still flow: under
        // BLOCK_COMMIT only the ones that changed since are read again.
        let mut early = read_ahead(self.layout)?;
        // Catch the copier up before blocking commits.
        let now = control.global_status("Innodb_lsn_current")?;
        flush_log(control);
        wait_copied(state, now, Duration::from_secs(600), self.ctx)?;
        state.pause()?;
        let point = self.point(control, server, &mut snaps, &mut early)?;
        for (rel, data) in &point.others {
            files.push(self.set.bytes(rel, data)?);
        }
        Ok((files, point, snaps))
    }

    /// The parallel page-checked copy of the InnoDB files.
    fn copy_files(&self, state: &Copier, counts: &PageCounts) -> Result<Vec<FileEntry>> {
        let jobs = Mutex::new(innodb_jobs(self.layout)?);
        let limit = self.opts.max_rate.map(repo::RateLimit::new);
        let mut copiers = vec![(); self.opts.threads.max(1)];
        crate::pool::run(&mut copiers, &self.ctx.cancel, &|_| {
            if let Some(e) = state.error() {
                bail!("redo copier failed: {e}");
            }
            let job = match jobs.lock() {
                Ok(mut g) => g.pop(),
                Err(_) => bail!("a copier thread panicked"),
            };
            job.map(|j| self.copy_pages(&j, state, counts, limit.as_ref()))
                .transpose()
        })
    }

    /// Under `BACKUP STAGE BLOCK_COMMIT`, held milliseconds: the binary
    /// log position and GTID, the snapshots opened, the XA transactions
    /// prepared, the non-InnoDB files read and the end LSN; then `BACKUP
    /// STAGE END`.
    fn point(
        &self,
        control: &mut Conn,
        server: &Server,
        snaps: &mut Snapshots,
        early: &mut HashMap<PathBuf, Early>,
    ) -> Result<Point> {
        let lock_start = Instant::now();
        control.run("BACKUP STAGE BLOCK_COMMIT", "BACKUP STAGE BLOCK_COMMIT")?;
        let point = (|| -> Result<(Position, Vec<Grabbed>, u64)> {
            let mut pos = Position::read(control, server, "BACKUP STAGE BLOCK_COMMIT")?;
            snaps.open()?;
            pos.xa_prepared = super::snapshot::prepared_xids(control)?
                .into_iter()
                .map(|xid| crate::manifest::XaPrepared {
                    xid,
                    ..Default::default()
                })
                .collect();
            // Read into memory only: compressing and fsyncing them waits
            // until commits flow again. (Listed again: a DML statement may
            // have started a new Aria log file.)
            let mut others = Vec::new();
            for job in other_jobs(self.layout)? {
                let data = match early.remove(&job.src) {
                    Some(e) if Stamp::of(&job.src).ok().as_ref() == Some(&e.stamp) => e.data,
                    _ => std::fs::read(&job.src)
                        .with_context(|| format!("reading {}", job.src.display()))?,
                };
                others.push((job.rel, data));
            }
            let end = control.global_status("Innodb_lsn_current")?;
            Ok((pos, others, end))
        })();
        let unlock = control.run("BACKUP STAGE END", "BACKUP STAGE END");
        let held = lock_start.elapsed().as_millis() as u64;
        // The copier stops at the end LSN once it is flushed.
        flush_log(control);
        let (mut position, others, end) = point?;
        unlock?;
        position.lock_ms = held;
        Ok(Point {
            position,
            others,
            end,
            held,
        })
    }

    /// The redo copier: reads `ib_logfile0` from the checkpoint of `st`
    /// on, keeping whole mini-transactions below the flushed LSN, until
    /// it reaches the end LSN the control thread sets; fails when the
    /// server overwrote what it had not read yet.
    fn copy_redo(&self, state: &Copier, st: &redo::LogState) -> Result<FileEntry> {
        let mut f = DirectFile::open(&self.layout.log_file)?;
        let mut c = conn::connect(self.spec, self.copts).context("redo copier: connecting")?;
        // Spool raw (no compression on the copier's hot path: it races the
        // server's writes around the circle); stored compressed at the end.
        // (In the set's directory; for an object store, in the temporary
        // directory of this host.)
        let spool_path = match self.set.repo.set_dir(self.set.id) {
            Some(d) => d.join("redo.spool"),
            None => std::env::temp_dir().join(format!(
                "oxk-redo-{}-{}.spool",
                self.set.id,
                std::process::id()
            )),
        };
        let mut spool = std::io::BufWriter::with_capacity(1 << 20, repo::create_file(&spool_path)?);
        let geo = st.geometry;
        let cap = geo.capacity();
        let mut lsn = st.checkpoint.lsn;
        let chunk = (cap / 4).clamp(64 << 10, 4 << 20) as usize;
        let mut advanced = Instant::now();
        let mut last_stop = redo::Stop::NeedMore;
        let mut logged = Instant::now();
        loop {
            let target = state.target.load(Ordering::SeqCst);
            if lsn == target {
                break;
            }
            if lsn > target {
                bail!("redo copier passed the end LSN {target} (at {lsn}): not a mini-transaction boundary");
            }
            if state.stop.load(Ordering::SeqCst) {
                bail!("redo copier stopped");
            }
            if target == NO_TARGET && state.pause.load(Ordering::SeqCst) {
                state.paused.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            // Only bytes below the flushed LSN are final in the file: past it,
            // the server's last block write carries stale log-buffer bytes
            // (whole, CRC-valid mini-transactions of this lap among them) that
            // are overwritten later; a copier taking them would be misaligned.
            let flushed = c.global_status("Innodb_lsn_flushed")?;
            if flushed <= lsn {
                // Caught up: nothing final to read yet. Poll gently (every
                // poll is a status query on the server and, otherwise, a read).
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let want = ((flushed - lsn) as usize).next_multiple_of(4096).min(chunk);
            let buf = redo::read_lsn_range(&geo, lsn, want, |o, b| f.read_at(o, b))?;
            // Only after the read: had the server written a whole capacity
            // past `lsn` before the read ended, the bytes read could be from a
            // later lap.
            let current = c.global_status("Innodb_lsn_current")?;
            if current >= lsn + cap {
                bail!(
                    "the redo log was overwritten before it was copied: the server is at LSN {current}, \
                     the copier at {lsn}, and the log holds only {cap} bytes; enlarge innodb_log_file_size \
                     (or back up when fewer writes run) [the copier last advanced {:.1}s ago; its last read \
                     stopped: {last_stop:?}]",
                    advanced.elapsed().as_secs_f64()
                );
            }
            let mut ends = Vec::new();
            let w = redo::walk_with(&buf, lsn, &geo, |i| ends.push(i));
            last_stop = w.stop;

            if logged.elapsed() > Duration::from_secs(1) {
                log::debug!(
                    "redo copier at LSN {lsn}, server at {current} ({} behind), read {} whole bytes, stopped: {:?}",
                    current.saturating_sub(lsn),
                    w.len,
                    w.stop
                );
                logged = Instant::now();
            }
            let mut take = ends
                .iter()
                .map(|&i| i + 5)
                .filter(|&e| lsn + e as u64 <= flushed)
                .max()
                .unwrap_or(0)
                .min(w.len);
            if target != NO_TARGET && lsn + take as u64 > target {
                let want = (target - lsn) as usize;
                if !ends.iter().any(|&i| i + 5 == want) {
                    bail!(
                        "the end LSN {target} is not a mini-transaction boundary in the redo log"
                    );
                }
                take = want;
            }
            if take > 0 {
                spool
                    .write_all(&buf[..take])
                    .context("writing the redo copy")?;
                lsn += take as u64;
                state.copied.store(lsn, Ordering::SeqCst);
                advanced = Instant::now();
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        drop(spool);
        let mut out = self.set.file(REDO_FILE, None)?;
        let mut f = std::fs::File::open(&spool_path)
            .with_context(|| format!("reading {}", spool_path.display()))?;
        std::io::copy(&mut f, &mut out).context("storing the redo copy")?;
        let _ = std::fs::remove_file(&spool_path);
        out.finish()
    }

    /// Copies one InnoDB file, checking every page.
    fn copy_pages(
        &self,
        job: &Job,
        state: &Copier,
        counts: &PageCounts,
        limit: Option<&repo::RateLimit>,
    ) -> Result<FileEntry> {
        let page_size = self.layout.page_size as usize;
        let mut f = DirectFile::open(&job.src)?;
        let size = f.len()?;
        if size % page_size as u64 != 0 {
            bail!(
                "{}: size {size} is not a multiple of the page size {page_size}",
                job.src.display()
            );
        }
        let mut out = self.set.file(&job.rel, None)?;
        let per = (1 << 20) / page_size.max(1);
        let per = per.max(1);
        let mut buf = vec![0u8; per * page_size];
        let mut off = 0u64;
        while off < size {
            self.ctx.cancel.check()?;
            if let Some(e) = state.error() {
                bail!("redo copier failed: {e}");
            }
            let n = (((size - off) / page_size as u64) as usize).min(per);
            let b = &mut buf[..n * page_size];
            // --max-rate paces what is read from the server's disk: that is
            // the I/O the backup adds to the database host.
            if let Some(l) = limit {
                l.take(b.len());
            }
            f.read_at(off, b)?;
            // An all-zero page 0 is a tablespace whose first page the server
            // has not flushed yet (the redo from the checkpoint rebuilds it);
            // its other pages are still checked.
            if off == 0 && b[..page_size].iter().any(|x| *x != 0) {
                match pages::format_of(&b[..page_size]) {
                    pages::Format::FullCrc32 => {}
                    pages::Format::FullCrc32Compressed => bail!(
                        "{}: page-compressed tablespaces are not handled by --method physical yet",
                        job.src.display()
                    ),
                    pages::Format::Legacy => bail!(
                        "{}: tablespace in a pre-full_crc32 page format; --method physical handles full_crc32 only",
                        job.src.display()
                    ),
                }
            }
            for (i, page) in b.chunks_mut(page_size).enumerate() {
                counts.checked.fetch_add(1, Ordering::Relaxed);
                if pages::page_ok(page) {
                    continue;
                }
                let at = off + (i * page_size) as u64;
                let mut good = false;
                for _ in 0..20 {
                    counts.reread.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                    f.read_at(at, page)?;
                    if pages::page_ok(page) {
                        good = true;
                        break;
                    }
                }
                if !good {
                    bail!(
                        "{}: page {} (offset {at}) fails its checksum on every read: the source is corrupted; no backup was made",
                        job.src.display(),
                        at / page_size as u64
                    );
                }
            }
            out.write_all(b)
                .with_context(|| format!("writing {}", job.rel))?;
            off += (n * page_size) as u64;
        }
        out.finish()
    }
}

/// The end of a physical take, either mechanism: its metadata file
/// stored, the files in path order, and the manifest filled in.
pub fn seal(
    mut m: Manifest,
    set: &SetWriter,
    opts: &PhysOptions,
    (meta_name, meta): (&str, Vec<u8>),
    mut files: Vec<FileEntry>,
    position: Position,
    warnings: Vec<String>,
) -> Result<Manifest> {
    files.push(set.bytes(meta_name, &meta)?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    m.position = position;
    m.options = Options {
        threads: opts.threads,
        chunk_rows: 0,
        compression: "zstd".into(),
        compress_level: set.level,
        users: true,
        filters: Vec::new(),
    };
    m.encryption = opts.key.as_ref().map(|(_, e)| e.clone());
    m.files = files;
    m.warnings = warnings;
    Ok(m)
}

/// Asks the server to dump its buffer pool page list (`ib_buffer_pool`)
/// and stores it, so the restored server loads the same pages at start-up.
/// Best effort: the error is the warning to record (the restored server
/// then starts cold).
pub fn dump_buffer_pool(
    c: &mut Conn,
    datadir: &Path,
    set: &SetWriter,
) -> std::result::Result<FileEntry, String> {
    let list = buffer_pool_list(c, datadir)?;
    set.bytes(&format!("{FILES_DIR}/ib_buffer_pool"), &list)
        .map_err(|e| {
            format!(
                "the buffer pool page list was not saved ({e:#}); the restored server starts cold"
            )
        })
}

/// The server's buffer pool page list, dumped now; the error is the
/// warning to record when it could not be had within 10 s.
pub fn buffer_pool_list(c: &mut Conn, datadir: &Path) -> std::result::Result<Vec<u8>, String> {
    let dumped = (|| -> Result<Option<Vec<u8>>> {
        let read_status = |c: &mut Conn| -> Result<String> {
            let row: Option<(String, String)> = c.row(
                "reading the buffer pool dump status",
                "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_dump_status'",
            )?;
            Ok(row.map(|(_, v)| v).unwrap_or_default())
        };
        let before = read_status(c)?;
        c.run(
            "dumping the buffer pool page list",
            "SET GLOBAL innodb_buffer_pool_dump_now = ON",
        )?;
        let t = Instant::now();
        loop {
            let now = read_status(c)?;
            if now != before && now.contains("completed") {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let name =
            var(c, "innodb_buffer_pool_filename")?.unwrap_or_else(|| "ib_buffer_pool".into());
        let data =
            std::fs::read(resolve(datadir, &name)).with_context(|| format!("reading {name}"))?;
        Ok(Some(data))
    })();
    match dumped {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(
            "the buffer pool page list was not dumped in time; the restored server starts cold"
                .into(),
        ),
        Err(e) => Err(format!(
            "the buffer pool page list was not saved ({e:#}); the restored server starts cold"
        )),
    }
}

/// The XA transactions prepared at the backup point, located in the
/// binary log for a later replay; a warning for each.
fn locate_xa(control: &mut Conn, position: &mut Position) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    if position.xa_prepared.is_empty() {
        return Ok(warnings);
    }
    let xids: Vec<String> = position.xa_prepared.iter().map(|x| x.xid.clone()).collect();
    if let (Some(f), Some(p)) = (&position.binlog_file, position.binlog_pos) {
        position.xa_prepared = super::snapshot::locate_xa(control, f, p, &xids)?;
    }
    for x in &position.xa_prepared {
        warnings.push(match &x.binlog_file {
            Some(f) => format!(
                "XA transaction {} was prepared at the backup point: a restore rolls it back; \
                 a point-in-time replay re-prepares it from {f}:{} first",
                x.xid,
                x.start.unwrap_or(0)
            ),
            None => format!(
                "XA transaction {} was prepared at the backup point: a restore rolls it back, and its \
                 XA PREPARE is not in the binary logs, so a point-in-time replay cannot apply its XA COMMIT",
                x.xid
            ),
        });
    }
    Ok(warnings)
}

/// Asks the server to write and flush its redo buffer (`FLUSH ENGINE
/// LOGS`), so the copier, which reads only flushed bytes, need not wait for
/// the next once-a-second flush. Best effort.
fn flush_log(c: &mut Conn) {
    if let Err(e) = c.run("flushing the redo log", "FLUSH ENGINE LOGS") {
        log::debug!("FLUSH ENGINE LOGS: {e}");
    }
}

fn wait_copied(state: &Copier, lsn: u64, limit: Duration, ctx: &Context) -> Result<()> {
    let t = Instant::now();
    while state.copied.load(Ordering::SeqCst) < lsn {
        if let Some(e) = state.error() {
            bail!("redo copier failed: {e}");
        }
        ctx.cancel.check()?;
        if t.elapsed() > limit {
            bail!(
                "the redo copier did not reach LSN {lsn} within {}s",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The start checkpoint of a set, for the prepare step.
pub fn checkpoint_of(m: &PhysMeta) -> Checkpoint {
    Checkpoint {
        lsn: m.start_lsn,
        end_lsn: m.checkpoint_end_lsn,
    }
}

#[cfg(test)]
mod tests {
    use super::redo_verdict;

    #[test]
    fn redo_verdict_refuses_only_a_log_lapped_within_a_quarter_second() {
        let mib = 1u64 << 20;
        // Idle server: nothing to say.
        assert!(redo_verdict(96 * mib, 0, 1 << 30, 200 * mib, false)
            .expect("verdict")
            .is_none());
        // 96 MiB at 5 MiB/s: 19 s of slack; wrapping during the copy is fine.
        assert!(redo_verdict(96 * mib, 5 * mib, 10 << 30, 200 * mib, false)
            .expect("verdict")
            .is_none());
        // 4 MiB at 1 MiB/s: a warning with the numbers.
        let w = redo_verdict(4 * mib, mib, 100 * mib, mib, true)
            .expect("verdict")
            .expect("warning");
        assert!(w.contains("4 MiB at 1.0 MiB/s"), "{w}");
        // 16 MiB at 21 MiB/s (a CI machine's single writer): 0.75 s of
        // slack is three dozen polls, a warning, not a refusal.
        let w = redo_verdict(16 * mib, 21 * mib, 96 * mib, 200 * mib, false)
            .expect("verdict")
            .expect("warning");
        assert!(w.contains("0.8s") && w.contains("0.5s"), "{w}");
        // 4 MiB at 32 MiB/s: refused, with the numbers.
        let e = redo_verdict(4 * mib, 32 * mib, 100 * mib, mib, true).expect_err("refused");
        let e = e.to_string();
        assert!(e.contains("too small") && e.contains("32.0 MiB/s"), "{e}");
    }
}
