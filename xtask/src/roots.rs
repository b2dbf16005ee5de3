//! The server matrix: which servers the suite and the demo run on, and the
//! provisioning of those the host's own packages do not have.
//!
//! MariaDB 10.11 is the host's package (Debian bookworm). MariaDB 11.8
//! (Debian trixie) and MySQL 9.7 (Debian sid) come from minimal Debian
//! roots built once with `debootstrap --variant=minbase` and cached in
//! `/var/cache/oxkit/roots` (or `$OXKIT_ROOTS`); the product's sandbox runs
//! a daemon inside such a root through the root's own loader (see
//! `oxkit::sandbox::Install`), so nothing is chrooted but MariaDB's
//! bootstrap script. A second run reuses the roots.

use crate::test::{apt_install, run};
use anyhow::{bail, Context as _, Result};
use oxkit::sandbox::{find_program, Install};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One server of the matrix.
#[derive(Debug)]
pub struct Flavour {
    /// `mariadb-11.8`: flavour and major version, as
    /// `oxkit::sandbox::Install::name` prints it.
    pub name: &'static str,
    /// Debian release the root is built from; None for the host's package.
    suite: Option<&'static str>,
    /// Packages debootstrap adds to the minimal root.
    packages: &'static str,
    /// A file of each package beyond the server's, by which an older root
    /// that lacks it is told (its package is then added with apt-get).
    extras: &'static [(&'static str, &'static str)],
    /// The daemon inside the root.
    daemon: &'static str,
    /// The variable that points the sandbox (tests, tools) at the daemon.
    env: &'static str,
}

/// Every server the suite runs on, the host's first.
pub const FLAVOURS: &[Flavour] = &[
    Flavour {
        name: "mariadb-10.11",
        suite: None,
        packages: "",
        extras: &[],
        daemon: "",
        env: "",
    },
    Flavour {
        name: "mariadb-11.8",
        suite: Some("trixie"),
        packages: "mariadb-server-core,mariadb-client-core,mariadb-client",
        extras: &[],
        daemon: "usr/sbin/mariadbd",
        env: oxkit::sandbox::MARIADBD_ENV,
    },
    Flavour {
        name: "mysql-9.7",
        suite: Some("sid"),
        // Percona Toolkit 3.7: the tests' cross-checks with pt-table-sync
        // and pt-table-checksum need a version that speaks to MySQL 8.4+
        // (Debian bookworm and trixie ship 3.2.1).
        packages: "mysql-server-core,mysql-client-core,percona-toolkit",
        extras: &[("percona-toolkit", "usr/bin/pt-table-checksum")],
        daemon: "usr/sbin/mysqld",
        env: oxkit::sandbox::MYSQLD_ENV,
    },
];

/// The flavours `OXKIT_SERVERS` names (comma-separated), or all of them.
pub fn selected() -> Result<Vec<&'static Flavour>> {
    let Some(list) = std::env::var("OXKIT_SERVERS")
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(FLAVOURS.iter().collect());
    };
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(by_name)
        .collect()
}

/// The flavour called `name`.
pub fn by_name(name: &str) -> Result<&'static Flavour> {
    FLAVOURS.iter().find(|f| f.name == name).with_context(|| {
        let all: Vec<&str> = FLAVOURS.iter().map(|f| f.name).collect();
        format!("unknown server {name:?}: one of {}", all.join(", "))
    })
}

/// Runs this xtask again with `args` in an environment that names
/// `server` (the sandboxes and the tools read it), after provisioning its
/// root; false when this process already is that run, which then goes on.
pub fn rerun_for(server: &str, args: &[String]) -> Result<bool> {
    let flavour = by_name(server)?;
    let env = flavour.provision()?;
    const MARKER: &str = "OXKIT_XTASK_SERVER";
    if std::env::var(MARKER).ok().as_deref() == Some(server) {
        return Ok(false);
    }
    let st = Command::new(std::env::current_exe()?)
        .args(args)
        .env(MARKER, server)
        .env_remove(oxkit::sandbox::MARIADBD_ENV)
        .env_remove(oxkit::sandbox::MYSQLD_ENV)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .status()
        .with_context(|| format!("running xtask {}", args.join(" ")))?;
    anyhow::ensure!(st.success(), "xtask {} failed ({st})", args.join(" "));
    Ok(true)
}

/// `cargo xtask roots`: provisions `names` (or the selected flavours) and
/// prints, for each, the variable and daemon the sandbox uses.
pub fn provision_and_show(names: &[String]) -> Result<()> {
    let flavours = if names.is_empty() {
        selected()?
    } else {
        names.iter().map(|n| by_name(n)).collect::<Result<_>>()?
    };
    for f in flavours {
        let env = f.provision()?;
        match env.first() {
            Some((k, v)) => println!("{}: {k}={}", f.name, v.display()),
            None => println!("{}: the host's own server", f.name),
        }
    }
    Ok(())
}

/// Where the roots live: `$OXKIT_ROOTS`, else `/var/cache/oxkit/roots`.
pub fn roots_dir() -> PathBuf {
    std::env::var_os("OXKIT_ROOTS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/oxkit/roots"))
}

/// Commands that need root run through `sudo -n` otherwise.
pub fn as_root(program: &str) -> Command {
    if oxkit::sandbox::is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    }
}

/// Installs `package` into an existing root with the root's own apt-get
/// (through chroot). A rolling suite's Release file can be past its
/// Valid-Until on a mirror snapshot; debootstrap does not check it, so
/// neither does this.
fn add_package(root: &Path, package: &str) -> Result<()> {
    eprintln!("xtask: adding {package} to {}", root.display());
    run(as_root("chroot").arg(root).args([
        "apt-get",
        "-q",
        "-o",
        "Acquire::Check-Valid-Until=false",
        "update",
    ]))?;
    run(as_root("chroot")
        .arg(root)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args([
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            package,
        ]))
}

impl Flavour {
    /// The environment that makes the sandbox run this flavour (empty for
    /// the host's own server), after building its root when missing.
    pub fn provision(&self) -> Result<Vec<(&'static str, PathBuf)>> {
        let Some(suite) = self.suite else {
            return Ok(Vec::new());
        };
        let root = roots_dir().join(self.name);
        let daemon = root.join(self.daemon);
        if !daemon.is_file() {
            self.build_root(suite, &root)?;
        }
        for (package, file) in self.extras {
            if !root.join(file).exists() {
                add_package(&root, package)?;
            }
        }
        let install = Install::at(&daemon)
            .with_context(|| format!("running the {} server of {}", self.name, root.display()))?;
        if install.name() != self.name {
            eprintln!(
                "xtask: warning: {} holds {} {}, not {}: Debian {suite} moved on; the tests run on it",
                root.display(),
                install.name(),
                install.version_string,
                self.name
            );
        }
        Ok(vec![(self.env, daemon)])
    }

    /// `debootstrap --variant=minbase` of `suite` with the server packages
    /// into `root`, which must then hold the daemon.
    fn build_root(&self, suite: &str, root: &Path) -> Result<()> {
        eprintln!(
            "xtask: building the {} root in {} (debootstrap {suite}, about a minute)",
            self.name,
            root.display()
        );
        debootstrap(suite, self.packages, root)?;
        if !root.join(self.daemon).is_file() {
            bail!(
                "the {} root was built but has no {}",
                self.name,
                self.daemon
            );
        }
        Ok(())
    }
}

/// `debootstrap --variant=minbase` of `suite` with `packages`
/// (comma-separated) into `root`, through a scratch directory renamed at
/// the end, so a half-built root is never taken for a good one. Installs
/// debootstrap when missing; `OXKIT_DEBIAN_MIRROR` picks the mirror.
pub fn debootstrap(suite: &str, packages: &str, root: &Path) -> Result<()> {
    if find_program(&["debootstrap"]).is_none() {
        apt_install(&["debootstrap"])?;
    }
    let parent = root.parent().context("roots directory")?;
    run(as_root("mkdir").arg("-p").arg(parent))?;
    let name = root.file_name().context("root has no name")?;
    let scratch = parent.join(format!("{}.tmp", name.to_string_lossy()));
    if scratch.exists() {
        run(as_root("rm").arg("-rf").arg(&scratch))?;
    }
    let mirror = std::env::var("OXKIT_DEBIAN_MIRROR")
        .unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let mut cmd = as_root("debootstrap");
    cmd.arg("--variant=minbase");
    if !packages.is_empty() {
        cmd.arg(format!("--include={packages}"));
    }
    cmd.arg(suite).arg(&scratch).arg(&mirror);
    if let Err(e) = run(&mut cmd) {
        let log = scratch.join("debootstrap/debootstrap.log");
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = tail.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{e:#}\n{}", tail.join("\n"));
    }
    run(as_root("mv").arg(&scratch).arg(root))
}
