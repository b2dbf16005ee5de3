//! The repository: a directory of backup sets, independent of the backup
//! method and meant to map onto object storage later (every file is
//! written once, whole, and named by a relative path).
//!
//! ```text
//! REPO/oxkit-repository.json        {"format":1}
//! REPO/backups/<id>/manifest.json   written last (see crate::manifest)
//! REPO/backups/<id>/schema.json.zst[.enc]
//! REPO/backups/<id>/data/t0003.c0012.tsv.zst[.enc]
//! REPO/binlogs/<server_id>/index.json and copied binary logs
//! ```
//!
//! A backup holds an exclusive `flock` on `backups/<id>/.lock` from the
//! moment it claims its set directory until its manifest is written, so a
//! set without a manifest is told apart as `running` (the lock is held)
//! or `abandoned` (the lock is free: the run died, even by `kill -9`,
//! since the kernel releases a dead process's locks).
//!
//! Directories are created 0700 and files 0600. Every stored file goes
//! through one writer stack (zstd, then optional encryption, then a SHA-256
//! and byte count of what hits the disk, then an optional rate limit), and
//! is read back through [`read_verified`], which checks size and hash
//! before anything is decoded: a changed byte fails with the file's name.

use crate::crypt::{DecReader, EncWriter, Key};
use crate::manifest::{FileEntry, Manifest};
use anyhow::{bail, Context as _, Result};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MARKER: &str = "oxkit-repository.json";
const MANIFEST: &str = "manifest.json";
/// The lock file a running backup holds in its set directory.
pub const LOCK: &str = ".lock";

/// Gives `dir` and everything below it the modes of a server's own data
/// directory: directories 0700, files 0600 (symbolic links are left
/// alone). The top directory itself is changed only with `top` set, so a
/// directory the user prepared keeps the mode the user gave it.
pub fn private_tree(dir: &Path, top: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let md =
        std::fs::symlink_metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if md.file_type().is_symlink() {
        return Ok(());
    }
    let mode = if md.is_dir() { 0o700 } else { 0o600 };
    if top || !md.is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("changing the mode of {}", dir.display()))?;
    }
    if md.is_dir() {
        for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            private_tree(&e?.path(), true)?;
        }
    }
    Ok(())
}

/// The exclusive lock a running backup holds on its set (released when
/// dropped, or by the kernel when the process dies).
#[derive(Debug)]
pub struct SetLock {
    file: File,
    path: PathBuf,
}

impl SetLock {
    /// Removes the lock file once the set is complete (its manifest, not
    /// the lock, tells it apart then); the lock itself goes with `self`.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

/// Whether the backup that made an unfinished set still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Its lock is held: a backup is writing it.
    Running,
    /// Its lock is free: the backup died (killed, crashed, host rebooted).
    Abandoned,
    /// No lock file (a set from an older version, or the instant between
    /// creating the directory and locking it), or it cannot be read.
    Unknown,
}

/// Tells a live backup's set from a dead one's by trying its lock. With
/// `hold`, a free lock is kept (returned) so no run can take the set while
/// the caller removes it.
pub fn liveness(set_dir: &Path, hold: bool) -> (Liveness, Option<File>) {
    let Ok(f) = File::open(set_dir.join(LOCK)) else {
        return (Liveness::Unknown, None);
    };
    match f.try_lock() {
        Ok(()) => {
            if hold {
                (Liveness::Abandoned, Some(f))
            } else {
                let _ = f.unlock();
                (Liveness::Abandoned, None)
            }
        }
        Err(std::fs::TryLockError::WouldBlock) => (Liveness::Running, None),
        Err(std::fs::TryLockError::Error(_)) => (Liveness::Unknown, None),
    }
}

/// The bytes free to an unprivileged writer on the filesystem that holds
/// `dir` (or, when it does not exist yet, its nearest existing parent),
/// with the directory asked; None when the filesystem cannot tell.
pub fn free_space(dir: &Path) -> Option<(PathBuf, u64)> {
    let probe = dir.ancestors().find(|p| p.exists())?;
    let st = nix::sys::statvfs::statvfs(probe).ok()?;
    Some((
        probe.to_path_buf(),
        st.blocks_available() * st.fragment_size(),
    ))
}

/// Creates `dir` and its parents with mode 0700.
pub fn mkdir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Creates a new file with mode 0600 (fails if it exists).
pub fn create_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Writes `bytes` to `path` atomically: a 0600 temp file, fsync, rename,
/// fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let r = (|| -> Result<()> {
        let mut f = create_file(&tmp)?;
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// A repository on the local file system.
#[derive(Clone, Debug)]
pub struct Repo {
    /// Its root directory.
    pub root: PathBuf,
}

/// One set found in the repository.
#[derive(Debug)]
pub struct SetInfo {
    /// Directory name.
    pub id: String,
    /// The manifest; `None` for an unfinished set.
    pub manifest: Option<Manifest>,
    /// Why the manifest could not be read, if it exists but is unreadable.
    pub error: Option<String>,
}

impl Repo {
    /// Opens the repository at `root`, creating it when `create` is set.
    pub fn open(root: &Path, create: bool) -> Result<Repo> {
        let marker = root.join(MARKER);
        if !marker.is_file() {
            if !create {
                bail!(
                    "{} is not an ox-backup repository (no {MARKER}); take a backup into it first",
                    root.display()
                );
            }
            if root.exists()
                && std::fs::read_dir(root)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(false)
            {
                bail!(
                    "{} exists, is not empty and is not an ox-backup repository",
                    root.display()
                );
            }
            mkdir(root)?;
            mkdir(&root.join("backups"))?;
            write_atomic(
                &marker,
                b"{\"format\": 1, \"kind\": \"oxkit-backup-repository\"}\n",
            )?;
        }
        Ok(Repo {
            root: root.to_path_buf(),
        })
    }

    /// The directory of set `id`.
    pub fn set_dir(&self, id: &str) -> PathBuf {
        self.root.join("backups").join(id)
    }

    /// Claims a new set for a backup started at `started` (unix seconds):
    /// creates its directory (0700; the id is the time, with `-2`, `-3`...
    /// when that directory exists, so two runs never share one) and takes
    /// the exclusive lock that marks the set as being written.
    fn claim_set(&self, started: u64) -> Result<(String, SetLock)> {
        let base = crate::manifest::id_for(started);
        mkdir(&self.root.join("backups"))?;
        for n in 1..10_000 {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let dir = self.set_dir(&id);
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
            // Locked under a temporary name and then renamed (the lock is
            // on the inode): whoever finds `.lock` finds it held, never in
            // the instant between its creation and its locking.
            let path = dir.join(LOCK);
            let tmp = dir.join(format!("{LOCK}.tmp-{}", std::process::id()));
            let file = create_file(&tmp)?;
            file.lock()
                .with_context(|| format!("locking {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("renaming {} to {LOCK}", tmp.display()))?;
            return Ok((id, SetLock { file, path }));
        }
        bail!("no free set id for {base} in {}", self.root.display())
    }

    /// Takes a new set, the one way both methods do: claims its id and
    /// lock ([`Repo::claim_set`]), lets `take` write the set into its
    /// directory, then dates the manifest `take` returns (`t0`: when the
    /// backup started) and writes it, last and atomically. On any failure
    /// the set's directory is removed: the manifest is what makes a set
    /// good, so removing it is only tidiness, and no half-written set is
    /// left behind. The lock is held until then, so `list` and `expire`
    /// tell this run's set from a dead run's.
    pub fn take_set(
        &self,
        started: u64,
        t0: Instant,
        take: impl FnOnce(&str, &Path) -> Result<Manifest>,
    ) -> Result<Manifest> {
        let (id, lock) = self.claim_set(started)?;
        let set_dir = self.set_dir(&id);
        let result = take(&id, &set_dir).and_then(|m| {
            let m = m.finish(t0);
            self.write_manifest(&m)?;
            Ok(m)
        });
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&set_dir);
        }
        lock.finish();
        result
    }

    /// Every set, oldest first (ids sort by time).
    pub fn sets(&self) -> Result<Vec<SetInfo>> {
        let dir = self.root.join("backups");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            if !e.file_type()?.is_dir() {
                continue;
            }
            let id = e.file_name().to_string_lossy().into_owned();
            let mpath = e.path().join(MANIFEST);
            let (manifest, error) = if mpath.is_file() {
                match std::fs::read(&mpath)
                    .map_err(anyhow::Error::from)
                    .and_then(|b| Ok(serde_json::from_slice::<Manifest>(&b)?))
                {
                    Ok(m) => (Some(m), None),
                    Err(e) => (None, Some(format!("unreadable manifest: {e}"))),
                }
            } else {
                (None, None)
            };
            out.push(SetInfo {
                id,
                manifest,
                error,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The manifest of set `id`, or of the newest complete set.
    pub fn manifest(&self, id: Option<&str>) -> Result<Manifest> {
        match id {
            Some(id) => {
                let p = self.set_dir(id).join(MANIFEST);
                if !p.is_file() {
                    bail!(
                        "no complete backup {id:?} in {} (no {})",
                        self.root.display(),
                        p.display()
                    );
                }
                let b = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_slice(&b).with_context(|| format!("parsing {}", p.display()))
            }
            None => self
                .sets()?
                .into_iter()
                .rev()
                .find_map(|s| s.manifest)
                .with_context(|| format!("no complete backup in {}", self.root.display())),
        }
    }

    /// Writes (or replaces) the manifest of its set, atomically.
    pub fn write_manifest(&self, m: &Manifest) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(m)?;
        text.push(b'\n');
        write_atomic(&self.set_dir(&m.id).join(MANIFEST), &text)
    }

    /// Appends to the history (and sets the verdict) of set `id`, re-reading
    /// the manifest first so concurrent runs lose as little as possible.
    pub fn update_manifest(&self, id: &str, f: impl FnOnce(&mut Manifest)) -> Result<Manifest> {
        let mut m = self.manifest(Some(id))?;
        f(&mut m);
        self.write_manifest(&m)?;
        Ok(m)
    }
}

/// Limits the bytes per second written by all workers together.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    state: Mutex<(Instant, f64)>,
}

impl RateLimit {
    /// `bytes_per_sec` over all callers.
    pub fn new(bytes_per_sec: u64) -> RateLimit {
        RateLimit {
            rate: bytes_per_sec.max(1) as f64,
            state: Mutex::new((Instant::now(), 0.0)),
        }
    }

    /// Accounts `n` bytes and sleeps as long as the budget is exceeded.
    pub fn take(&self, n: usize) {
        let wait = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            let elapsed = s.0.elapsed().as_secs_f64();
            s.1 += n as f64;
            let ahead = s.1 / self.rate - elapsed;
            if elapsed > 10.0 {
                // Forget old history so a pause does not build up credit.
                let used = (elapsed * self.rate).min(s.1);
                s.1 -= used;
                s.0 = Instant::now();
            }
            ahead
        };
        if wait > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(wait.min(5.0)));
        }
    }
}

/// Counts, hashes and (optionally) rate-limits what reaches the file.
pub struct HashFile {
    file: BufWriter<File>,
    hash: Sha256,
    size: u64,
    limit: Option<Arc<RateLimit>>,
}

impl Write for HashFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.hash.update(&data[..n]);
        self.size += n as u64;
        if let Some(l) = &self.limit {
            l.take(n);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Sealed {
    Plain(HashFile),
    Enc(EncWriter<HashFile>),
}

impl Write for Sealed {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Sealed::Plain(w) => w.write(data),
            Sealed::Enc(w) => w.write(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sealed::Plain(w) => w.flush(),
            Sealed::Enc(w) => w.flush(),
        }
    }
}

/// Writes one stored file: raw bytes in, zstd (+ encryption) out.
pub struct StoredWriter {
    enc: zstd::stream::write::Encoder<'static, Sealed>,
    rel: String,
    path: PathBuf,
    raw: u64,
}

impl StoredWriter {
    /// Creates `set_dir/rel` (0600).
    pub fn create(
        set_dir: &Path,
        rel: &str,
        level: i32,
        key: Option<&Key>,
        limit: Option<Arc<RateLimit>>,
    ) -> Result<StoredWriter> {
        let path = set_dir.join(rel);
        let file = create_file(&path)?;
        let hf = HashFile {
            file: BufWriter::with_capacity(256 * 1024, file),
            hash: Sha256::new(),
            size: 0,
            limit,
        };
        let sealed = match key {
            Some(k) => Sealed::Enc(EncWriter::new(hf, k, rel)?),
            None => Sealed::Plain(hf),
        };
        let enc = zstd::stream::write::Encoder::new(sealed, level)
            .with_context(|| format!("starting zstd for {}", path.display()))?;
        Ok(StoredWriter {
            enc,
            rel: rel.to_string(),
            path,
            raw: 0,
        })
    }

    /// Finishes the file (flush, fsync) and describes it.
    pub fn finish(self) -> Result<FileEntry> {
        let path = self.path.clone();
        let ctx = || format!("writing {}", path.display());
        let sealed = self.enc.finish().with_context(ctx)?;
        let mut hf = match sealed {
            Sealed::Plain(h) => h,
            Sealed::Enc(e) => e.finish().with_context(ctx)?,
        };
        hf.file.flush().with_context(ctx)?;
        hf.file.get_ref().sync_all().with_context(ctx)?;
        Ok(FileEntry {
            path: self.rel,
            size: hf.size,
            sha256: oxkit::hex::encode(&hf.hash.finalize()),
            raw_size: self.raw,
        })
    }
}

impl Write for StoredWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.enc.write(data)?;
        self.raw += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.enc.flush()
    }
}

/// Where a backup writes its set: the set's directory, and the zstd level
/// and key every file of it is stored with.
#[derive(Clone, Copy)]
pub struct SetWriter<'a> {
    /// The set's directory.
    pub dir: &'a Path,
    /// zstd level.
    pub level: i32,
    /// The key, when the set is encrypted.
    pub key: Option<&'a Key>,
}

impl SetWriter<'_> {
    /// A new stored file at `rel` in the set (its directory created
    /// first), written at most as fast as `limit` allows.
    pub fn file(&self, rel: &str, limit: Option<Arc<RateLimit>>) -> Result<StoredWriter> {
        if let Some(parent) = self.dir.join(rel).parent() {
            mkdir(parent)?;
        }
        StoredWriter::create(self.dir, rel, self.level, self.key, limit)
    }

    /// Stores `bytes` as the file `rel` of the set.
    pub fn bytes(&self, rel: &str, bytes: &[u8]) -> Result<FileEntry> {
        let mut w = self.file(rel, None)?;
        w.write_all(bytes)
            .with_context(|| format!("writing {}", self.dir.join(rel).display()))?;
        w.finish()
    }

    /// Stores `value` as JSON in the file `rel` of the set.
    pub fn json<T: serde::Serialize + ?Sized>(&self, rel: &str, value: &T) -> Result<FileEntry> {
        self.bytes(rel, &serde_json::to_vec(value)?)
    }
}

/// Reads stored file `entry` of the set in `set_dir` whole and checks its
/// size and SHA-256 against the manifest.
pub fn read_verified(set_dir: &Path, entry: &FileEntry) -> Result<Vec<u8>> {
    let path = set_dir.join(&entry.path);
    let data = std::fs::read(&path)
        .with_context(|| format!("backup file {} is missing or unreadable", path.display()))?;
    if data.len() as u64 != entry.size {
        bail!(
            "backup file {} is damaged: {} bytes, the manifest says {}",
            path.display(),
            data.len(),
            entry.size
        );
    }
    let got = oxkit::hex::encode(&Sha256::digest(&data));
    if got != entry.sha256 {
        bail!(
            "backup file {} is damaged: its SHA-256 is {got}, the manifest recorded {}",
            path.display(),
            entry.sha256
        );
    }
    Ok(data)
}

/// A reader of the raw bytes of a verified stored file.
pub fn decoder(data: Vec<u8>, key: Option<&Key>, rel: &str) -> Result<Box<dyn Read + Send>> {
    let inner: Box<dyn Read + Send> = match key {
        Some(k) => Box::new(DecReader::new(data, k, rel)?),
        None => Box::new(io::Cursor::new(data)),
    };
    Ok(Box::new(
        zstd::stream::read::Decoder::new(inner).with_context(|| format!("{rel}: starting zstd"))?,
    ))
}

/// Reads, verifies and decodes a whole stored file.
pub fn read_all(set_dir: &Path, m: &Manifest, rel: &str, key: Option<&Key>) -> Result<Vec<u8>> {
    let entry = m
        .file(rel)
        .with_context(|| format!("the manifest of {} lists no file {rel}", m.id))?;
    let data = read_verified(set_dir, entry)?;
    let mut out = Vec::new();
    decoder(data, key, rel)?
        .read_to_end(&mut out)
        .with_context(|| format!("decoding {}", set_dir.join(rel).display()))?;
    Ok(out)
}
