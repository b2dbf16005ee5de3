//! The repository: backup sets in a directory or an object store
//! ([`crate::store`]), independent of the backup method. Every file is
//! written once, whole, and named by a relative key:
//!
//! ```text
//! REPO/oxkit-repository.json        {"format":1}
//! REPO/backups/<id>/manifest.json   written last (see crate::manifest)
//! REPO/backups/<id>/schema.json.zst[.enc]
//! REPO/backups/<id>/data/t0003.c0012.tsv.zst[.enc]
//! REPO/binlogs/<server_id>/index.json and copied binary logs
//! ```
//!
//! A backup marks its set as being written from the moment it claims it
//! until its manifest is written ([`SetLock`]: a `flock` on a local
//! repository, a renewed lease in an object store), so a set without a
//! manifest is told apart as `running` or `abandoned` (the run died, even
//! by `kill -9`).
//!
//! Directories are created 0700 and files 0600. Every stored file goes
//! through one writer stack (zstd, then optional encryption, then a SHA-256
//! and byte count of what is stored, then an optional rate limit), and
//! is read back through [`Repo::read_verified`], which checks size and hash
//! before anything is decoded: a changed byte fails with the file's name.

use crate::crypt::{DecReader, EncWriter, Key};
use crate::manifest::{FileEntry, Manifest};
use crate::store::{Location, Sink, Store};
use anyhow::{bail, Context as _, Result};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
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

/// The mark a running backup keeps on its set until its manifest is
/// written: on a local repository an exclusive `flock` on `.lock` (the
/// kernel drops it when the process dies, even by `kill -9`); in an
/// object store a lease, the `.lock` object rewritten every
/// [`LEASE_RENEW`] by a thread of the backup (a lease older than
/// [`LEASE_EXPIRES`] means its backup died).
#[derive(Debug)]
pub struct SetLock {
    kind: LockKind,
}

#[derive(Debug)]
enum LockKind {
    Flock {
        _file: File,
        path: PathBuf,
    },
    Lease {
        stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
        thread: Option<std::thread::JoinHandle<()>>,
        store: Arc<dyn Store>,
        key: String,
    },
}

/// How often a backup renews its set's lease in an object store.
pub const LEASE_RENEW: Duration = Duration::from_secs(15);
/// A lease not renewed for this long belongs to a dead backup.
pub const LEASE_EXPIRES: Duration = Duration::from_secs(120);

impl SetLock {
    /// Removes the lock once the set is complete (its manifest, not the
    /// lock, tells it apart then).
    pub fn finish(mut self) {
        match &mut self.kind {
            LockKind::Flock { path, .. } => {
                let _ = std::fs::remove_file(path);
            }
            LockKind::Lease {
                stop,
                thread,
                store,
                key,
            } => {
                if let Ok(mut s) = stop.0.lock() {
                    *s = true;
                }
                stop.1.notify_all();
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
                let _ = store.delete(key);
            }
        }
    }

    fn lease(store: Arc<dyn Store>, key: String) -> Result<SetLock> {
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let thread = {
            let (stop, store, key) = (stop.clone(), store.clone(), key.clone());
            std::thread::Builder::new()
                .name("set-lease".into())
                .spawn(move || loop {
                    let Ok(g) = stop.0.lock() else { return };
                    let Ok((g, _)) = stop.1.wait_timeout_while(g, LEASE_RENEW, |s| !*s) else {
                        return;
                    };
                    if *g {
                        return;
                    }
                    drop(g);
                    if let Err(e) = store.put(&key, lease_body().as_bytes()) {
                        log::warn!("renewing the lease of the set being written: {e:#}");
                    }
                })
                .context("starting the thread that renews the set's lease")?
        };
        Ok(SetLock {
            kind: LockKind::Lease {
                stop,
                thread: Some(thread),
                store,
                key,
            },
        })
    }
}

fn lease_body() -> String {
    format!(
        "{{\"pid\": {}, \"renewed_unix\": {}}}\n",
        std::process::id(),
        crate::manifest::now_unix()
    )
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
fn flock_liveness(set_dir: &Path, hold: bool) -> (Liveness, Option<File>) {
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

/// A repository: a directory on this host or a bucket (and prefix) of
/// an S3-compatible object store ([`crate::store`]).
#[derive(Clone, Debug)]
pub struct Repo {
    store: Arc<dyn Store>,
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

/// The key of set `id`'s file `rel`.
fn set_key(id: &str, rel: &str) -> String {
    if rel.is_empty() {
        format!("backups/{id}")
    } else {
        format!("backups/{id}/{rel}")
    }
}

impl Repo {
    /// Opens the repository `--repo` names, creating it when `create` is
    /// set.
    pub fn open(loc: &Location, create: bool) -> Result<Repo> {
        let store = crate::store::open(loc)?;
        store.probe()?;
        if store.get(MARKER)?.is_none() {
            if !create {
                bail!(
                    "{} is not an ox-backup repository (no {MARKER}); take a backup into it first",
                    store.url()
                );
            }
            if !store.is_empty()? {
                bail!(
                    "{} exists, is not empty and is not an ox-backup repository",
                    store.url()
                );
            }
            if let Some(root) = store.local() {
                mkdir(root)?;
                mkdir(&root.join("backups"))?;
            }
            store.put(
                MARKER,
                b"{\"format\": 1, \"kind\": \"oxkit-backup-repository\"}\n",
            )?;
        }
        Ok(Repo { store })
    }

    /// Where it is, for messages.
    pub fn url(&self) -> String {
        self.store.url()
    }

    /// Its directory, when it is a local repository.
    pub fn local_root(&self) -> Option<&Path> {
        self.store.local()
    }

    /// Its storage.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The directory of set `id` (a local repository).
    pub fn set_dir(&self, id: &str) -> Option<PathBuf> {
        self.local_root().map(|r| r.join("backups").join(id))
    }

    /// Takes the exclusive mark `key` (a running `binlog --follow`'s): a
    /// `flock` on a local repository, a lease in an object store (taken
    /// over once it is older than [`LEASE_EXPIRES`]: its holder died);
    /// `None` while another live process holds it.
    pub fn claim_mark(&self, key: &str) -> Result<Option<SetLock>> {
        if let Some(root) = self.local_root() {
            let path = root.join(key);
            if let Some(d) = path.parent() {
                mkdir(d)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            return match file.try_lock() {
                Ok(()) => Ok(Some(SetLock {
                    kind: LockKind::Flock { _file: file, path },
                })),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => {
                    Err(e).with_context(|| format!("locking {}", path.display()))
                }
            };
        }
        if !self.store.create_new(key, lease_body().as_bytes())? {
            let live = self
                .store
                .head(key)?
                .is_some_and(|m| m.modified.elapsed().unwrap_or_default() <= LEASE_EXPIRES);
            if live {
                return Ok(None);
            }
            self.store.put(key, lease_body().as_bytes())?;
        }
        Ok(Some(SetLock::lease(self.store.clone(), key.to_string())?))
    }

    /// How set `id`'s file `rel` is named in messages.
    pub fn name(&self, id: &str, rel: &str) -> String {
        format!("{}/{}", self.url(), set_key(id, rel))
    }

    /// Claims a new set for a backup started at `started` (unix seconds):
    /// its id is the time, with `-2`, `-3`... when that set exists, so two
    /// runs never share one; and it takes the mark that tells the set is
    /// being written ([`SetLock`]).
    fn claim_set(&self, started: u64) -> Result<(String, SetLock)> {
        let base = crate::manifest::id_for(started);
        if let Some(root) = self.local_root() {
            mkdir(&root.join("backups"))?;
        }
        for n in 1..10_000 {
            let id = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let Some(dir) = self.set_dir(&id) else {
                // An object store: the lease object is the claim.
                let key = set_key(&id, LOCK);
                if !self.store.list(&set_key(&id, ""))?.is_empty()
                    || !self.store.create_new(&key, lease_body().as_bytes())?
                {
                    continue;
                }
                return Ok((id, SetLock::lease(self.store.clone(), key)?));
            };
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
            return Ok((
                id,
                SetLock {
                    kind: LockKind::Flock { _file: file, path },
                },
            ));
        }
        bail!("no free set id for {base} in {}", self.url())
    }

    /// Whether the backup writing unfinished set `id` still runs. With
    /// `hold` (a local repository), a free lock is kept (returned) so no
    /// run can take the set while the caller removes it.
    pub fn liveness(&self, id: &str, hold: bool) -> (Liveness, Option<File>) {
        if let Some(dir) = self.set_dir(id) {
            return flock_liveness(&dir, hold);
        }
        match self.store.head(&set_key(id, LOCK)) {
            Ok(Some(m)) => {
                let age = m.modified.elapsed().unwrap_or_default();
                if age > LEASE_EXPIRES {
                    (Liveness::Abandoned, None)
                } else {
                    (Liveness::Running, None)
                }
            }
            _ => (Liveness::Unknown, None),
        }
    }

    /// When set `id` was last written to (its newest file).
    pub fn set_modified(&self, id: &str) -> Option<std::time::SystemTime> {
        if let Some(dir) = self.set_dir(id) {
            return std::fs::metadata(dir).and_then(|m| m.modified()).ok();
        }
        self.store
            .list(&set_key(id, ""))
            .ok()?
            .into_iter()
            .map(|m| m.modified)
            .max()
    }

    /// Removes set `id`: its manifest first, so a set interrupted halfway
    /// through deletion is unfinished, never a damaged "good" set.
    pub fn remove_set(&self, id: &str) -> Result<()> {
        self.store.delete(&set_key(id, MANIFEST))?;
        self.store.delete_tree(&set_key(id, ""))
    }

    /// Takes a new set, the one way both methods do: claims its id and
    /// lock ([`Repo::claim_set`]), lets `take` write the set, then dates
    /// the manifest `take` returns (`t0`: when the backup started) and
    /// writes it, last and atomically. On any failure the set is removed:
    /// the manifest is what makes a set good, so removing it is only
    /// tidiness, and no half-written set is left behind. The lock is held
    /// until then, so `list` and `expire` tell this run's set from a dead
    /// run's.
    pub fn take_set(
        &self,
        started: u64,
        t0: Instant,
        take: impl FnOnce(&str) -> Result<Manifest>,
    ) -> Result<Manifest> {
        let (id, lock) = self.claim_set(started)?;
        let result = take(&id).and_then(|m| {
            let m = m.finish(t0);
            self.write_manifest(&m)?;
            Ok(m)
        });
        if result.is_err() {
            let _ = self.store.delete_tree(&set_key(&id, ""));
        }
        lock.finish();
        result
    }

    /// Every set, oldest first (ids sort by time).
    pub fn sets(&self) -> Result<Vec<SetInfo>> {
        let mut out = Vec::new();
        for id in self.store.children("backups")? {
            let (manifest, error) = match self.store.get(&set_key(&id, MANIFEST)) {
                Ok(Some(b)) => match serde_json::from_slice::<Manifest>(&b) {
                    Ok(m) => (Some(m), None),
                    Err(e) => (None, Some(format!("unreadable manifest: {e}"))),
                },
                Ok(None) => (None, None),
                Err(e) => (None, Some(format!("unreadable manifest: {e:#}"))),
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
                let key = set_key(id, MANIFEST);
                let Some(b) = self.store.get(&key)? else {
                    bail!(
                        "no complete backup {id:?} in {} (no {})",
                        self.url(),
                        self.name(id, MANIFEST)
                    );
                };
                serde_json::from_slice(&b)
                    .with_context(|| format!("parsing {}", self.name(id, MANIFEST)))
            }
            None => self
                .sets()?
                .into_iter()
                .rev()
                .find_map(|s| s.manifest)
                .with_context(|| format!("no complete backup in {}", self.url())),
        }
    }

    /// Writes (or replaces) the manifest of its set, atomically.
    pub fn write_manifest(&self, m: &Manifest) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(m)?;
        text.push(b'\n');
        self.store.put(&set_key(&m.id, MANIFEST), &text)
    }

    /// Appends to the history (and sets the verdict) of set `id`, re-reading
    /// the manifest first so concurrent runs lose as little as possible.
    pub fn update_manifest(&self, id: &str, f: impl FnOnce(&mut Manifest)) -> Result<Manifest> {
        let mut m = self.manifest(Some(id))?;
        f(&mut m);
        self.write_manifest(&m)?;
        Ok(m)
    }

    /// Reads stored file `entry` of set `id` whole and checks its size and
    /// SHA-256 against the manifest.
    pub fn read_verified(&self, id: &str, entry: &FileEntry) -> Result<Vec<u8>> {
        self.read_key_verified(&set_key(id, &entry.path), entry)
    }

    /// Reads the stored file at `key` whole and checks its size and
    /// SHA-256 against `entry`.
    pub fn read_key_verified(&self, key: &str, entry: &FileEntry) -> Result<Vec<u8>> {
        let name = || format!("{}/{key}", self.url());
        let data = self
            .store
            .get(key)
            .with_context(|| format!("backup file {} is unreadable", name()))?
            .with_context(|| format!("backup file {} is missing", name()))?;
        check_verified(&name(), &data, entry)?;
        Ok(data)
    }

    /// Reads, verifies and decodes a whole stored file of set `m`.
    pub fn read_all(&self, m: &Manifest, rel: &str, key: Option<&Key>) -> Result<Vec<u8>> {
        let entry = m
            .file(rel)
            .with_context(|| format!("the manifest of {} lists no file {rel}", m.id))?;
        let data = self.read_verified(&m.id, entry)?;
        let mut out = Vec::new();
        decoder(data, key, rel)?
            .read_to_end(&mut out)
            .with_context(|| format!("decoding {}", self.name(&m.id, rel)))?;
        Ok(out)
    }
}

/// Checks `data`, read from `name`, against its manifest entry.
pub fn check_verified(name: &str, data: &[u8], entry: &FileEntry) -> Result<()> {
    if data.len() as u64 != entry.size {
        bail!(
            "backup file {name} is damaged: {} bytes, the manifest says {}",
            data.len(),
            entry.size
        );
    }
    let got = oxkit::hex::encode(&Sha256::digest(data));
    if got != entry.sha256 {
        bail!(
            "backup file {name} is damaged: its SHA-256 is {got}, the manifest recorded {}",
            entry.sha256
        );
    }
    Ok(())
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
    file: Box<dyn Sink>,
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
    name: String,
    raw: u64,
}

impl StoredWriter {
    /// Creates the file `key` of `store`; `rel` is its name in the set
    /// (and in the manifest).
    pub fn create(
        store: &dyn Store,
        key: &str,
        rel: &str,
        level: i32,
        key_: Option<&Key>,
        limit: Option<Arc<RateLimit>>,
    ) -> Result<StoredWriter> {
        let name = format!("{}/{key}", store.url());
        let hf = HashFile {
            file: store.create(key)?,
            hash: Sha256::new(),
            size: 0,
            limit,
        };
        let sealed = match key_ {
            Some(k) => Sealed::Enc(EncWriter::new(hf, k, rel)?),
            None => Sealed::Plain(hf),
        };
        let enc = zstd::stream::write::Encoder::new(sealed, level)
            .with_context(|| format!("starting zstd for {name}"))?;
        Ok(StoredWriter {
            enc,
            rel: rel.to_string(),
            name,
            raw: 0,
        })
    }

    /// Finishes the file (flush, fsync or upload) and describes it.
    pub fn finish(self) -> Result<FileEntry> {
        let name = self.name.clone();
        let ctx = || format!("writing {name}");
        let sealed = self.enc.finish().with_context(ctx)?;
        let hf = match sealed {
            Sealed::Plain(h) => h,
            Sealed::Enc(e) => e.finish().with_context(ctx)?,
        };
        let (size, sha256) = (hf.size, oxkit::hex::encode(&hf.hash.finalize()));
        hf.file.finish()?;
        Ok(FileEntry {
            path: self.rel,
            size,
            sha256,
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

/// Where a backup writes its set: the repository and the set's id, and
/// the zstd level and key every file of it is stored with.
#[derive(Clone, Copy)]
pub struct SetWriter<'a> {
    /// The repository.
    pub repo: &'a Repo,
    /// The set's id.
    pub id: &'a str,
    /// zstd level.
    pub level: i32,
    /// The key, when the set is encrypted.
    pub key: Option<&'a Key>,
}

impl SetWriter<'_> {
    /// A new stored file at `rel` in the set, written at most as fast as
    /// `limit` allows.
    pub fn file(&self, rel: &str, limit: Option<Arc<RateLimit>>) -> Result<StoredWriter> {
        StoredWriter::create(
            self.repo.store().as_ref(),
            &set_key(self.id, rel),
            rel,
            self.level,
            self.key,
            limit,
        )
    }

    /// How the set's file `rel` is named in messages.
    pub fn name(&self, rel: &str) -> String {
        self.repo.name(self.id, rel)
    }

    /// Stores `bytes` as the file `rel` of the set.
    pub fn bytes(&self, rel: &str, bytes: &[u8]) -> Result<FileEntry> {
        let mut w = self.file(rel, None)?;
        w.write_all(bytes)
            .with_context(|| format!("writing {}", self.name(rel)))?;
        w.finish()
    }

    /// Stores `value` as JSON in the file `rel` of the set.
    pub fn json<T: serde::Serialize + ?Sized>(&self, rel: &str, value: &T) -> Result<FileEntry> {
        self.bytes(rel, &serde_json::to_vec(value)?)
    }
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
