//! Where a repository's files live: a local directory, or a bucket (and
//! prefix) of an S3-compatible object store. The repository
//! ([`crate::repo`]) sees only this small interface, so everything it does
//! (manifest written last, per-file SHA-256, compression, encryption,
//! `list`, `check`, `expire`, `verify`, `restore`) is the same on both.
//!
//! Keys are relative, `/`-separated paths (`backups/<id>/manifest.json`).
//! Every file is written once, whole, by one writer: a local file is
//! fsynced before the writer says it is done; an object exists only once
//! its upload completed (a single PUT below [`PART`] bytes, else a
//! multipart upload of [`PART`]-byte parts with at most [`IN_FLIGHT`] parts
//! on the wire per file, so one writer holds at most
//! `PART * (IN_FLIGHT + 1)` bytes, whatever the file's size).
//!
//! The S3 protocol (signing, multipart, retries with backoff on throttling
//! and lost connections) is the `object_store` crate's; its async calls
//! run on one small tokio runtime per repository, driven from the tool's
//! own worker threads with `block_on`. Every request has a time limit, and
//! retries end after [`RETRY_FOR`]: a store that stops answering ends in an
//! error naming the object, never a hang.

use anyhow::{bail, Context as _, Result};
use futures::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt as _, PutMode, PutPayload, RetryConfig,
    WriteMultipart,
};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Size of one part of a multipart upload (and the largest object sent in
/// a single PUT).
pub const PART: usize = 8 << 20;
/// Parts of one file on the wire at once.
pub const IN_FLIGHT: usize = 2;
/// How long one request may take before it is retried.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long retries of one request go on before the error is returned.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// One file being written; it exists (under its key) only after `finish`.
pub trait Sink: Write + Send {
    /// Completes the file: flushed and durable (fsync), or the upload
    /// completed.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// An object's name and when it was last written.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Its key, relative to the repository.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

/// A repository's storage.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Where it is, for messages (`/srv/backups`, `s3://bucket/prefix`).
    fn url(&self) -> String;
    /// The root directory, when the store is a local one.
    fn local(&self) -> Option<&Path>;
    /// A new file at `key` (written whole through the returned sink).
    fn create(&self, key: &str) -> Result<Box<dyn Sink>>;
    /// Writes `bytes` at `key` atomically (replacing what is there).
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()>;
    /// Writes `bytes` at `key` unless something is there already: false
    /// when it was (a store without conditional writes checks first).
    fn create_new(&self, key: &str, bytes: &[u8]) -> Result<bool>;
    /// The bytes at `key`, None when there is nothing.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// When `key` was last written and its size, None when absent.
    fn head(&self, key: &str) -> Result<Option<Meta>>;
    /// The names one level below `prefix` that have files below them
    /// (`children("backups")` gives the set ids), sorted.
    fn children(&self, prefix: &str) -> Result<Vec<String>>;
    /// Every file below `prefix`, sorted by key.
    fn list(&self, prefix: &str) -> Result<Vec<Meta>>;
    /// Removes `key` (nothing there is not an error).
    fn delete(&self, key: &str) -> Result<()>;
    /// Removes everything below `prefix`.
    fn delete_tree(&self, prefix: &str) -> Result<()>;
    /// Whether the store holds no file at all.
    fn is_empty(&self) -> Result<bool>;
    /// Fails at once, saying why, when the store cannot be reached or
    /// the credentials are refused (before any action starts its work).
    fn probe(&self) -> Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------- local

/// A directory on this host: directories 0700, files 0600.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The store rooted at `root` (which need not exist yet).
    pub fn new(root: &Path) -> LocalStore {
        LocalStore {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

struct LocalSink {
    file: BufWriter<File>,
    path: PathBuf,
}

impl Write for LocalSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.file.write(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Sink for LocalSink {
    fn finish(mut self: Box<Self>) -> Result<()> {
        let path = self.path.clone();
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all())
            .with_context(|| format!("writing {}", path.display()))
    }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Store for LocalStore {
    fn url(&self) -> String {
        self.root.display().to_string()
    }
    fn local(&self) -> Option<&Path> {
        Some(&self.root)
    }
    fn create(&self, key: &str) -> Result<Box<dyn Sink>> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            crate::repo::mkdir(parent)?;
        }
        let file = crate::repo::create_file(&path)?;
        Ok(Box::new(LocalSink {
            file: BufWriter::with_capacity(256 * 1024, file),
            path,
        }))
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            crate::repo::mkdir(parent)?;
        }
        crate::repo::write_atomic(&path, bytes)
    }
    fn create_new(&self, key: &str, bytes: &[u8]) -> Result<bool> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            crate::repo::mkdir(parent)?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    fn head(&self, key: &str) -> Result<Option<Meta>> {
        let path = self.path(key);
        match std::fs::metadata(&path) {
            Ok(md) => Ok(Some(Meta {
                key: key.to_string(),
                size: md.len(),
                modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    fn children(&self, prefix: &str) -> Result<Vec<String>> {
        let dir = self.path(prefix);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if not_found(&e) => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.with_context(|| format!("reading {}", dir.display()))?;
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        Ok(out)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Meta>> {
        fn walk(store: &LocalStore, key: &str, out: &mut Vec<Meta>) -> Result<()> {
            let dir = store.path(key);
            let rd = match std::fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if not_found(&e) => return Ok(()),
                Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
            };
            for e in rd {
                let e = e.with_context(|| format!("reading {}", dir.display()))?;
                let name = e.file_name().to_string_lossy().into_owned();
                let k = if key.is_empty() {
                    name
                } else {
                    format!("{key}/{name}")
                };
                let md = e.metadata()?;
                if md.is_dir() {
                    walk(store, &k, out)?;
                } else {
                    out.push(Meta {
                        key: k,
                        size: md.len(),
                        modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(self, prefix.trim_end_matches('/'), &mut out)?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Err(e) if !not_found(&e) => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }
    fn delete_tree(&self, prefix: &str) -> Result<()> {
        let path = self.path(prefix);
        match std::fs::remove_dir_all(&path) {
            Err(e) if !not_found(&e) => {
                Err(e).with_context(|| format!("removing {}", path.display()))
            }
            _ => Ok(()),
        }
    }
    fn is_empty(&self) -> Result<bool> {
        match std::fs::read_dir(&self.root) {
            Ok(mut d) => Ok(d.next().is_none()),
            Err(e) if not_found(&e) => Ok(true),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.root.display())),
        }
    }
}

// ------------------------------------------------------------------- S3

/// Where and how to reach an S3-compatible store. The credentials are
/// never taken from the command line (see [`S3Config::credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The prefix inside it (no leading or trailing `/`; may be empty).
    pub prefix: String,
    /// `--s3-endpoint` (a self-hosted store; path-style addressing).
    pub endpoint: Option<String>,
    /// `--s3-region`.
    pub region: Option<String>,
    /// `--s3-credentials-file`.
    pub credentials_file: Option<PathBuf>,
}

impl S3Config {
    /// Parses `s3://BUCKET[/PREFIX]`; None when `url` is no s3:// URL.
    pub fn parse(url: &str) -> Option<Result<S3Config>> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Some(Err(anyhow::anyhow!(
                "--repo {url}: expected s3://BUCKET or s3://BUCKET/PREFIX"
            )));
        }
        Some(Ok(S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            endpoint: None,
            region: None,
            credentials_file: None,
        }))
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    /// The access key id, secret and session token, from (in this order)
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
    /// `--s3-credentials-file`, `AWS_SHARED_CREDENTIALS_FILE`, or
    /// `~/.aws/credentials` (profile `AWS_PROFILE`, else `default`).
    pub fn credentials(&self) -> Result<(String, String, Option<String>)> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            return Ok((id, secret, env("AWS_SESSION_TOKEN")));
        }
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let (file, named) = match (&self.credentials_file, env("AWS_SHARED_CREDENTIALS_FILE")) {
            (Some(f), _) => (f.clone(), true),
            (None, Some(f)) => (PathBuf::from(f), true),
            (None, None) => match env("HOME") {
                Some(h) => (Path::new(&h).join(".aws/credentials"), false),
                None => bail!(
                    "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                     or name a credentials file with --s3-credentials-file"
                ),
            },
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if !named && not_found(&e) => bail!(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or name a credentials file with --s3-credentials-file ({} does not exist)",
                file.display()
            ),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the S3 credentials file {}", file.display()))
            }
        };
        let ini = parse_ini(&text);
        let get = |k: &str| ini.get(&(profile.clone(), k.to_string())).cloned();
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => Ok((id, secret, get("aws_session_token"))),
            _ => bail!(
                "the S3 credentials file {} has no aws_access_key_id and \
                 aws_secret_access_key in profile [{profile}]",
                file.display()
            ),
        }
    }
}

/// `[section]` and `key = value` lines, keyed by (section, key).
fn parse_ini(text: &str) -> std::collections::HashMap<(String, String), String> {
    let mut out = std::collections::HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().trim_start_matches("profile ").trim().to_string();
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(
                (section.clone(), k.trim().to_string()),
                v.trim().to_string(),
            );
        }
    }
    out
}

/// A bucket (and prefix) of an S3-compatible store.
pub struct S3Store {
    cfg: S3Config,
    s3: Arc<AmazonS3>,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.cfg.url())
    }
}

impl S3Store {
    /// Connects (lazily: the first request goes out with the first call).
    pub fn open(cfg: &S3Config) -> Result<S3Store> {
        // The HTTP client's TLS uses the process's provider (ring), the
        // same one as the connections to the servers.
        oxkit::conn::tls_provider();
        let (id, secret, token) = cfg.credentials()?;
        let region = cfg
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&cfg.bucket)
            .with_region(region)
            .with_access_key_id(id)
            .with_secret_access_key(secret)
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                // Bounded by time, not count: a node restarting or a
                // throttled bucket gets the whole window.
                max_retries: 100,
                retry_timeout: RETRY_FOR,
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_allow_http(
                        cfg.endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        if let Some(t) = token {
            b = b.with_token(t);
        }
        if let Some(e) = &cfg.endpoint {
            b = b.with_endpoint(e);
        }
        let s3 = b
            .build()
            .with_context(|| format!("configuring the S3 client for {}", cfg.url()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ox-s3")
            .enable_all()
            .build()
            .context("starting the S3 client's runtime")?;
        Ok(S3Store {
            cfg: cfg.clone(),
            s3: Arc::new(s3),
            rt,
        })
    }

    fn path(&self, key: &str) -> ObjPath {
        let key = key.trim_matches('/');
        match (self.cfg.prefix.is_empty(), key.is_empty()) {
            (true, _) => ObjPath::from(key),
            (false, true) => ObjPath::from(self.cfg.prefix.as_str()),
            (false, false) => ObjPath::from(format!("{}/{key}", self.cfg.prefix)),
        }
    }

    /// `key` relative to the repository, from an object's full path.
    fn key_of(&self, p: &ObjPath) -> String {
        let s = p.as_ref();
        if self.cfg.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.cfg.prefix)
                .map(|r| r.trim_start_matches('/'))
                .unwrap_or(s)
                .to_string()
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}/{}", self.cfg.url(), key)
    }
}

/// Runs `fut` on the store's runtime from a tool thread. A call still
/// going after [`SAY_AFTER`] (the store retries: throttling, a lost node,
/// a lost connection) is said on stderr every [`SAY_AFTER`] with what it
/// is and how long retries go on, so a slow store is never a silent hang.
fn wait<T>(
    handle: &tokio::runtime::Handle,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    handle.block_on(async {
        let mut fut = std::pin::pin!(fut);
        let mut waited = Duration::ZERO;
        loop {
            match tokio::time::timeout(SAY_AFTER, fut.as_mut()).await {
                Ok(r) => return r,
                Err(_) => {
                    waited += SAY_AFTER;
                    log::warn!(
                        "waiting for the object store: {what}, {} s so far (each request is \
                         retried for up to {} s, then fails)",
                        waited.as_secs(),
                        RETRY_FOR.as_secs()
                    );
                }
            }
        }
    })
}

/// How long the first request to a store may take before the action
/// fails (a wrong endpoint, a store that is down).
const PROBE_FOR: Duration = Duration::from_secs(20);

/// When a call to the store that has not answered is first said.
const SAY_AFTER: Duration = Duration::from_secs(10);

/// The store's error, shortened to what a person needs: the request, the
/// HTTP status and the store's own code and message (object_store repeats
/// the server's whole answer once per layer of its error chain).
fn short(e: object_store::Error) -> anyhow::Error {
    let text = e.to_string();
    let between = |a: &str, b: &str| {
        let i = text.find(a)? + a.len();
        let n = text[i..].find(b)?;
        Some(text[i..i + n].trim().to_string())
    };
    let request = between("Error performing ", " in ");
    let status = between("status code: ", ":").or_else(|| between("status code: ", "\n"));
    let code = between("<Code>", "</Code>");
    let message = between("<Message>", "</Message>");
    let parts: Vec<String> = [request, status, code, message]
        .into_iter()
        .flatten()
        .collect();
    if parts.is_empty() {
        let mut out: String = text.chars().take(600).collect();
        if out.len() < text.len() {
            out.push('…');
        }
        return anyhow::anyhow!(out);
    }
    anyhow::anyhow!(parts.join(": "))
}

struct S3Sink {
    s3: Arc<AmazonS3>,
    handle: tokio::runtime::Handle,
    path: ObjPath,
    name: String,
    /// What is written before the first part is full.
    head: Vec<u8>,
    upload: Option<WriteMultipart>,
}

impl S3Sink {
    fn io_err(e: impl std::fmt::Display) -> io::Error {
        io::Error::other(e.to_string())
    }
}

impl Write for S3Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.upload.is_none() {
            if self.head.len() + data.len() <= PART {
                self.head.extend_from_slice(data);
                return Ok(data.len());
            }
            let up = wait(
                &self.handle,
                &format!("starting the upload of {}", self.name),
                self.s3.put_multipart(&self.path),
            )
            .map_err(|e| Self::io_err(short(e)))?;
            let mut w = WriteMultipart::new_with_chunk_size(up, PART);
            let _g = self.handle.enter();
            w.write(&std::mem::take(&mut self.head));
            self.upload = Some(w);
        }
        let Some(w) = self.upload.as_mut() else {
            return Err(io::Error::other("upload missing"));
        };
        wait(
            &self.handle,
            &format!("uploading a part of {}", self.name),
            w.wait_for_capacity(IN_FLIGHT),
        )
        .map_err(|e| Self::io_err(short(e)))?;
        let _g = self.handle.enter();
        w.write(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for S3Sink {
    fn finish(mut self: Box<Self>) -> Result<()> {
        let name = self.name.clone();
        match self.upload.take() {
            None => {
                let payload = PutPayload::from(std::mem::take(&mut self.head));
                wait(
                    &self.handle,
                    &format!("uploading {name}"),
                    self.s3.put(&self.path, payload),
                )
                .map_err(short)
                .with_context(|| format!("uploading {name}"))?;
            }
            Some(w) => {
                wait(
                    &self.handle,
                    &format!("completing the upload of {name}"),
                    w.finish(),
                )
                .map_err(short)
                .with_context(|| format!("uploading {name}"))?;
            }
        }
        Ok(())
    }
}

impl Drop for S3Sink {
    /// A file given up (an error, Ctrl-C) leaves no parts behind.
    fn drop(&mut self) {
        if let Some(w) = self.upload.take() {
            let _ = wait(
                &self.handle,
                &format!("aborting the upload of {} (at most 30 s)", self.name),
                tokio::time::timeout(Duration::from_secs(30), w.abort()),
            );
        }
    }
}

impl Store for S3Store {
    fn url(&self) -> String {
        self.cfg.url()
    }
    fn probe(&self) -> Result<()> {
        let p = self.path("");
        let first = self.rt.block_on(async {
            tokio::time::timeout(PROBE_FOR, async {
                let mut s = self.s3.list(Some(&p));
                s.next().await
            })
            .await
        });
        log::debug!("probe of {}: {first:?}", self.cfg.url());
        let endpoint = self.cfg.endpoint.as_deref().unwrap_or("AWS S3");
        match first {
            Err(_) => bail!(
                "{} did not answer within {} s (endpoint {endpoint}): check --s3-endpoint and \
                 that the store is up",
                self.cfg.url(),
                PROBE_FOR.as_secs()
            ),
            Ok(Some(Err(e))) => Err(short(e)).with_context(|| {
                format!("{} cannot be read (endpoint {endpoint})", self.cfg.url())
            }),
            Ok(_) => Ok(()),
        }
    }
    fn local(&self) -> Option<&Path> {
        None
    }
    fn create(&self, key: &str) -> Result<Box<dyn Sink>> {
        Ok(Box::new(S3Sink {
            s3: self.s3.clone(),
            handle: self.rt.handle().clone(),
            path: self.path(key),
            name: self.name(key),
            head: Vec::new(),
            upload: None,
        }))
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let name = self.name(key);
        wait(
            self.rt.handle(),
            &format!("uploading {name}"),
            self.s3
                .put(&self.path(key), PutPayload::from(bytes.to_vec())),
        )
        .map_err(short)
        .with_context(|| format!("uploading {name}"))?;
        Ok(())
    }
    fn create_new(&self, key: &str, bytes: &[u8]) -> Result<bool> {
        let payload = PutPayload::from(bytes.to_vec());
        let r = wait(
            self.rt.handle(),
            &format!("creating {}", self.name(key)),
            self.s3
                .put_opts(&self.path(key), payload, PutMode::Create.into()),
        );
        match r {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(object_store::Error::NotImplemented { .. })
            | Err(object_store::Error::NotSupported { .. }) => {
                // No conditional writes: check, then write (two runs
                // claiming the same set in the same instant is the only
                // race left, and set ids carry the second they start).
                if self.head(key)?.is_some() {
                    return Ok(false);
                }
                self.put(key, bytes)?;
                Ok(true)
            }
            Err(e) => Err(short(e)).with_context(|| format!("uploading {}", self.name(key))),
        }
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key);
        let r = wait(
            self.rt.handle(),
            &format!("downloading {}", self.name(key)),
            async {
                let g = self.s3.get(&path).await?;
                g.bytes().await
            },
        );
        match r {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(short(e)).with_context(|| format!("downloading {}", self.name(key))),
        }
    }
    fn head(&self, key: &str) -> Result<Option<Meta>> {
        match wait(
            self.rt.handle(),
            &format!("reading {}", self.name(key)),
            self.s3.head(&self.path(key)),
        ) {
            Ok(m) => Ok(Some(Meta {
                key: key.to_string(),
                size: m.size,
                modified: m.last_modified.into(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(short(e)).with_context(|| format!("reading {}", self.name(key))),
        }
    }
    fn children(&self, prefix: &str) -> Result<Vec<String>> {
        let p = self.path(prefix);
        let r = wait(
            self.rt.handle(),
            &format!("listing {}", self.name(prefix)),
            self.s3.list_with_delimiter(Some(&p)),
        )
        .map_err(short)
        .with_context(|| format!("listing {}", self.name(prefix)))?;
        let mut out: Vec<String> = r
            .common_prefixes
            .iter()
            .filter_map(|c| c.filename().map(str::to_string))
            .collect();
        out.sort();
        Ok(out)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Meta>> {
        let p = self.path(prefix);
        let metas: Vec<_> = wait(
            self.rt.handle(),
            &format!("listing {}", self.name(prefix)),
            self.s3.list(Some(&p)).collect::<Vec<_>>(),
        )
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(short)
        .with_context(|| format!("listing {}", self.name(prefix)))?;
        let mut out: Vec<Meta> = metas
            .into_iter()
            .map(|m: object_store::ObjectMeta| Meta {
                key: self.key_of(&m.location),
                size: m.size,
                modified: m.last_modified.into(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
    fn delete(&self, key: &str) -> Result<()> {
        match wait(
            self.rt.handle(),
            &format!("deleting {}", self.name(key)),
            self.s3.delete(&self.path(key)),
        ) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(short(e)).with_context(|| format!("deleting {}", self.name(key))),
        }
    }
    fn delete_tree(&self, prefix: &str) -> Result<()> {
        for m in self.list(prefix)? {
            self.delete(&m.key)?;
        }
        Ok(())
    }
    fn is_empty(&self) -> Result<bool> {
        let p = self.path("");
        let first = wait(
            self.rt.handle(),
            &format!("listing {}", self.cfg.url()),
            async {
                let mut s = self.s3.list(Some(&p));
                s.next().await
            },
        );
        match first {
            None => Ok(true),
            Some(Ok(_)) => Ok(false),
            Some(Err(e)) => Err(short(e)).with_context(|| format!("listing {}", self.cfg.url())),
        }
    }
}

/// The store `--repo` names: `s3://…` or a directory.
pub fn open(loc: &Location) -> Result<Arc<dyn Store>> {
    Ok(match loc {
        Location::Dir(d) => Arc::new(LocalStore::new(d)),
        Location::S3(c) => Arc::new(S3Store::open(c)?),
    })
}

/// What `--repo` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this host.
    Dir(PathBuf),
    /// A bucket and prefix of an S3-compatible store.
    S3(S3Config),
}

impl Location {
    /// For messages.
    pub fn url(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::S3(c) => c.url(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        let c = S3Config::parse("s3://b/p/q/").expect("s3").expect("ok");
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("b", "p/q"));
        assert_eq!(c.url(), "s3://b/p/q");
        let c = S3Config::parse("s3://b").expect("s3").expect("ok");
        assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("b", ""));
        assert!(S3Config::parse("s3:///x").expect("s3").is_err());
        assert!(S3Config::parse("/srv/backups").is_none());
    }

    #[test]
    fn credentials_file_profiles() {
        let ini = parse_ini(
            "# comment\n[default]\naws_access_key_id = A\naws_secret_access_key=S\n\
             [profile other]\naws_access_key_id = B\n",
        );
        assert_eq!(
            ini.get(&("default".into(), "aws_access_key_id".into())),
            Some(&"A".to_string())
        );
        assert_eq!(
            ini.get(&("other".into(), "aws_access_key_id".into())),
            Some(&"B".to_string())
        );
    }

    #[test]
    fn local_store_round_trip() {
        let d = tempfile::tempdir().expect("tmp");
        let s = LocalStore::new(&d.path().join("r"));
        assert!(s.is_empty().expect("empty"));
        let mut w = s.create("backups/x/data/a").expect("create");
        w.write_all(b"hello").expect("write");
        w.finish().expect("finish");
        s.put("backups/x/manifest.json", b"{}").expect("put");
        assert!(!s.create_new("backups/x/manifest.json", b"").expect("cn"));
        assert!(s.create_new("backups/y/.lock", b"").expect("cn"));
        assert_eq!(s.children("backups").expect("ls"), vec!["x", "y"]);
        let keys: Vec<_> = s
            .list("backups/x")
            .expect("list")
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, vec!["backups/x/data/a", "backups/x/manifest.json"]);
        assert_eq!(
            s.get("backups/x/data/a").expect("get"),
            Some(b"hello".to_vec())
        );
        assert_eq!(s.get("backups/x/none").expect("get"), None);
        s.delete_tree("backups/x").expect("rm");
        assert_eq!(s.children("backups").expect("ls"), vec!["y"]);
    }
}
