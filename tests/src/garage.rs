//! A real distributed S3 store for the tests: a Garage cluster of three
//! nodes on 127.0.0.1, replication factor 3, started per test in a temp
//! directory, its layout assigned and applied through Garage's own CLI,
//! with one bucket and one access key. Nodes can be killed (SIGKILL) and
//! started again in the middle of a test. Everything is ended by PID when
//! the value is dropped.
//!
//! The `garage` binary is found on `PATH` or in `~/.cargo/bin`; `cargo
//! xtask test` installs it (`cargo install garage --locked`) when missing.

use anyhow::{bail, Context as _, Result};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The version the project installs and tests with.
pub const VERSION: &str = "2.5.0";

/// The `garage` binary, if there is one.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = oxkit::sandbox::find_program(&["garage"]) {
        return Some(p);
    }
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cargo/bin/garage");
    p.is_file().then_some(p)
}

struct Node {
    config: PathBuf,
    log: PathBuf,
    s3_port: u16,
    rpc_port: u16,
    child: Option<Child>,
}

/// A running three-node cluster with a bucket and a key.
pub struct Garage {
    dir: tempfile::TempDir,
    bin: PathBuf,
    nodes: Vec<Node>,
    /// The bucket made for this test.
    pub bucket: String,
    /// The access key's id.
    pub key_id: String,
    /// The access key's secret.
    pub secret: String,
}

/// The region every test cluster is configured with.
pub const REGION: &str = "garage";

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

impl Garage {
    /// Starts the cluster and waits until it serves the bucket (bounded:
    /// an error names the step that did not finish).
    pub fn start() -> Result<Garage> {
        let bin = binary().context(
            "no garage binary (on PATH or in ~/.cargo/bin): `cargo xtask test` installs it \
             with `cargo install garage --locked`",
        )?;
        let dir = tempfile::Builder::new()
            .prefix("oxkgarage")
            .tempdir()
            .context("creating the Garage cluster's directory")?;
        let secret: String = {
            let mut b = [0u8; 32];
            getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("random rpc secret: {e}"))?;
            b.iter().map(|x| format!("{x:02x}")).collect()
        };
        let mut g = Garage {
            dir,
            bin,
            nodes: Vec::new(),
            bucket: "oxk-test".into(),
            key_id: String::new(),
            secret: String::new(),
        };
        for i in 0..3 {
            let nd = g.dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&nd)?;
            let (s3_port, rpc_port) = (free_port()?, free_port()?);
            let config = nd.join("garage.toml");
            std::fs::write(
                &config,
                format!(
                    "metadata_dir = \"{d}/meta\"\n\
                     data_dir = \"{d}/data\"\n\
                     db_engine = \"sqlite\"\n\
                     replication_factor = 3\n\
                     rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc_port}\"\n\
                     rpc_secret = \"{secret}\"\n\
                     [s3_api]\n\
                     s3_region = \"{REGION}\"\n\
                     api_bind_addr = \"127.0.0.1:{s3_port}\"\n\
                     root_domain = \".s3.garage.localhost\"\n",
                    d = nd.display()
                ),
            )?;
            std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600))?;
            g.nodes.push(Node {
                config,
                log: nd.join("garage.log"),
                s3_port,
                rpc_port,
                child: None,
            });
            g.start_node(i)?;
        }
        let ids = (0..3).map(|i| g.node_id(i)).collect::<Result<Vec<_>>>()?;
        for id in &ids[1..] {
            g.cli(0, &["node", "connect", id])?;
        }
        g.wait("all three nodes to be connected", |g| {
            let out = g.cli(0, &["status"])?;
            Ok(out.matches("127.0.0.1:").count() >= 3 && !out.contains("FAILED NODES"))
        })?;
        for id in &ids {
            let short = id.split('@').next().unwrap_or(id);
            g.cli(0, &["layout", "assign", "-z", "dc1", "-c", "1G", short])?;
        }
        g.cli(0, &["layout", "apply", "--version", "1"])?;
        g.cli(0, &["bucket", "create", &g.bucket.clone()])?;
        let key = g.cli(0, &["key", "create", "oxk-test-key"])?;
        let field = |name: &str| {
            key.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .with_context(|| format!("no {name:?} in `garage key create`'s output: {key}"))
        };
        g.key_id = field("Key ID:")?;
        g.secret = field("Secret key:")?;
        g.cli(
            0,
            &[
                "bucket",
                "allow",
                "--read",
                "--write",
                "--owner",
                &g.bucket.clone(),
                "--key",
                "oxk-test-key",
            ],
        )?;
        g.wait("the bucket to be known to every node", |g| {
            let out = g.cli(0, &["bucket", "info", &g.bucket])?;
            Ok(out.contains("oxk-test-key"))
        })?;
        Ok(g)
    }

    fn start_node(&mut self, i: usize) -> Result<()> {
        let n = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&n.log)?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&n.config)
            .arg("server")
            .env("RUST_LOG", "garage=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        n.child = Some(child);
        let port = n.rpc_port;
        self.wait(&format!("garage node {i} to listen on {port}"), |g| {
            Ok(g.cli(i, &["node", "id", "-q"]).is_ok())
        })
    }

    fn node_id(&self, i: usize) -> Result<String> {
        Ok(self.cli(i, &["node", "id", "-q"])?.trim().to_string())
    }

    /// Runs the Garage CLI against node `i`; its stdout, or an error with
    /// its stderr.
    pub fn cli(&self, i: usize, args: &[&str]) -> Result<String> {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.nodes[i].config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running garage {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "garage {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait(&self, what: &str, mut ok: impl FnMut(&Garage) -> Result<bool>) -> Result<()> {
        let t = Instant::now();
        let mut last = String::new();
        while t.elapsed() < Duration::from_secs(90) {
            match ok(self) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        bail!(
            "waited 90 s for {what}; last error: {last}; logs in {}",
            self.dir.path().display()
        )
    }

    /// The S3 endpoint of node `i` (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].s3_port)
    }

    /// Kills node `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        if let Some(mut c) = self.nodes[i].child.take() {
            c.kill().context("killing a garage node")?;
            c.wait()?;
        }
        Ok(())
    }

    /// Starts node `i` again (after [`Garage::kill`]) and waits until
    /// every node sees every other one again.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        self.start_node(i)?;
        let id = self.node_id(i)?;
        // Connections are asked again on every round: the first attempt
        // can come before the restarted node listens for its peers.
        self.wait("the restarted node to be connected to all others", |g| {
            for j in (0..g.nodes.len()).filter(|j| *j != i) {
                let _ = g.cli(j, &["node", "connect", &id]);
            }
            (0..g.nodes.len()).try_fold(true, |ok, j| {
                let out = g.cli(j, &["status"])?;
                Ok(ok && !out.contains("FAILED NODES"))
            })
        })
    }

    /// The PID of node `i`, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].child.as_ref().map(Child::id)
    }

    /// Writes the key into an AWS-format credentials file in `dir` (0600)
    /// and returns its path.
    pub fn credentials_file(&self, dir: &Path) -> Result<PathBuf> {
        let p = dir.join("s3-credentials");
        std::fs::write(
            &p,
            format!(
                "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
                self.key_id, self.secret
            ),
        )?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        Ok(p)
    }

    /// `--repo s3://BUCKET/PREFIX` and the `--s3-*` options for ox-backup
    /// through node 0, with the credentials in a file in `dir`.
    pub fn repo_args(&self, prefix: &str, dir: &Path) -> Result<Vec<String>> {
        Ok(vec![
            "--repo".into(),
            format!("s3://{}/{prefix}", self.bucket),
            "--s3-endpoint".into(),
            self.endpoint(0),
            "--s3-region".into(),
            REGION.into(),
            "--s3-credentials-file".into(),
            self.credentials_file(dir)?.display().to_string(),
        ])
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            let _ = self.kill(i);
        }
    }
}
