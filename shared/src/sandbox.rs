//! Throwaway `mariadbd` instances: tests, the demo, `ox-backup verify` and
//! the physical restore's prepare step.
//!
//! Each sandbox lives in its own short private directory (`/tmp/oxkXXXXXX/`,
//! mode 0700, short enough for the 108-byte socket path limit) holding the
//! datadir, socket, pid file, tmpdir and error log. It counts as ready only
//! once a real connection succeeds, and shuts down (SQL `SHUTDOWN`, then a
//! kill of the PID it started) when dropped. The directory is removed unless
//! `keep` was asked for or the thread is panicking (a failing test), in which
//! case its path is printed.
//!
//! Its `root` account has every privilege and no password, so who can reach
//! the server is the whole of its security:
//! - By default (what the product uses) the server has no network at all
//!   (`--skip-networking`): its only door is the Unix socket inside the 0700
//!   directory, which only the server's own user and root can open. Test
//!   topologies, the demo and the benches opt in to TCP on 127.0.0.1 with
//!   [`Builder::tcp`] (replication and tool DSNs need it); those servers
//!   hold throwaway data only.
//! - No password is set on top: against the only users who can reach the
//!   socket (root, the server's own uid) it would protect nothing, and it
//!   would have to be written into the grant tables of datadirs we hand back
//!   (`restore --to-datadir`) or that come from the source (physical restore).
//! - Started by root, the server never runs as root: it runs as an
//!   unprivileged user (`mysql`, or `$OXKIT_SANDBOX_USER`) through util-linux's
//!   `setpriv`, on files lent to that user for the server's lifetime (the
//!   sandbox directory, and a caller's datadir). When the server stops, a
//!   caller's datadir is given back, as one tree, to the owner its top
//!   directory had, and the contents of a kept sandbox directory to the
//!   tool's user (the directory itself stays the sandbox user's, 0700).
//! - The server dies with the tool: `setpriv --pdeathsig=KILL` sets the
//!   parent-death signal *after* dropping privileges (Linux clears it on a
//!   credential change, so `mariadbd --user=` would lose it), and the server
//!   is spawned from one thread that lives as long as the process, because
//!   the signal fires when the spawning *thread* exits, not the process. As
//!   a second line, every start reaps stale sandboxes: a directory of ours
//!   records its owner's PID and start time, and a server whose owner is
//!   gone is killed (only a process of the directory's owner whose command
//!   line names that directory's pid file) and its directory removed,
//!   unless it was kept on purpose.
//!
//! A freshly bootstrapped datadir (`mariadb-install-db`, users added) is made
//! once per server version and cached in a private directory: `/var/cache/
//! oxkit/sandbox` for root, `$XDG_CACHE_HOME/oxkit/sandbox` or
//! `~/.cache/oxkit/sandbox` otherwise, or `$OXKIT_SANDBOX_CACHE`. That
//! directory is created mode 0700 and trusted only when it is owned by the
//! tool's user and writable by no one else; every sandbox starts from a copy.

use crate::conn::{self, Conn, ConnectOptions};
use crate::dsn::ConnSpec;
use crate::server::{Flavor, Version};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the directory for cached template datadirs.
pub const CACHE_ENV: &str = "OXKIT_SANDBOX_CACHE";
/// Environment variable naming the `mariadbd` binary to use.
pub const MARIADBD_ENV: &str = "OXKIT_MARIADBD";
/// Environment variable that, when set to 1, keeps sandbox directories.
pub const KEEP_ENV: &str = "OXKIT_KEEP_SANDBOX";
/// Environment variable naming the unprivileged user a sandbox runs as when
/// the tool runs as root (default `mysql`).
pub const USER_ENV: &str = "OXKIT_SANDBOX_USER";

/// The user every sandbox has, with all privileges and no password, for
/// `localhost` (socket) and `127.0.0.1` (TCP, when [`Builder::tcp`] is on).
pub const ROOT_USER: &str = "root";

/// Where sandbox directories are made (short, for the socket path limit).
const SANDBOX_PARENT: &str = "/tmp";
/// Prefix of every sandbox directory's name.
const SANDBOX_PREFIX: &str = "oxk";
/// File in a sandbox directory naming the process that owns the server.
const OWNER_FILE: &str = "owner";
/// The server's pid file, inside the sandbox directory.
const PID_FILE: &str = "mariadbd.pid";
/// Marks a sandbox directory kept on purpose (`keep`, a failing test), which
/// the reaper leaves in place after its owner is gone.
const KEPT_FILE: &str = "kept";

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

/// Environment variable naming the MySQL `mysqld` to use (a program on
/// the host, or `ROOT/usr/sbin/mysqld` inside an unpacked root).
pub const MYSQLD_ENV: &str = "OXKIT_MYSQLD";

/// A server installation a sandbox can run: its daemon, what it is, and the
/// root it lives in.
///
/// Most are the host's own packages (root `/`). A server can also live in an
/// unpacked distribution root (`debootstrap` of another Debian release,
/// where MariaDB 11.8 or MySQL 9.7 is packaged): a daemon at
/// `ROOT/usr/sbin/NAME` whose `ROOT` holds its own dynamic loader is run
/// through that loader with the root's libraries, so its datadir, socket
/// and files stay ordinary host paths and no chroot is needed to serve
/// (MariaDB's bootstrap script is the one step run inside the root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// MariaDB or MySQL (Percona Server counts as MySQL here).
    pub flavor: Flavor,
    /// `major.minor.patch`.
    pub version: Version,
    /// The version as `--version` prints it (`10.11.6-MariaDB-0+deb12u1`).
    pub version_string: String,
    program: PathBuf,
    root: PathBuf,
    /// The root's loader and library path, when not the host's.
    loader: Option<(PathBuf, std::ffi::OsString)>,
}

impl Install {
    /// The installation whose daemon is `program`, asked for its version
    /// once per process (every sandbox start and [`Install::find`] asks
    /// again; `--version` of a server costs a process start).
    pub fn at(program: &Path) -> Result<Install> {
        static SEEN: std::sync::Mutex<Vec<Install>> = std::sync::Mutex::new(Vec::new());
        if let Some(i) = SEEN
            .lock()
            .ok()
            .and_then(|s| s.iter().find(|i| i.program == program).cloned())
        {
            return Ok(i);
        }
        let i = Install::probe(program)?;
        if let Ok(mut s) = SEEN.lock() {
            s.push(i.clone());
        }
        Ok(i)
    }

    fn probe(program: &Path) -> Result<Install> {
        let (root, loader) = match root_of(program) {
            Some((root, loader, libs)) => (root, Some((loader, libs))),
            None => (PathBuf::from("/"), None),
        };
        let mut probe = Install {
            flavor: Flavor::MariaDB,
            version: Version::new(0, 0, 0),
            version_string: String::new(),
            program: program.to_path_buf(),
            root,
            loader,
        };
        let out = probe
            .command(program)
            .arg("--version")
            .output()
            .with_context(|| format!("running {} --version", program.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let ver = text
            .split_whitespace()
            .skip_while(|w| *w != "Ver")
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let Some(version) = Version::parse(&ver) else {
            bail!(
                "{} --version printed no version ({}): not a MariaDB or MySQL server? {}",
                program.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        };
        probe.flavor = family(Flavor::of(&ver, &text));
        probe.version = version;
        probe.version_string = ver;
        Ok(probe)
    }

    /// The servers this host offers, in order of preference:
    /// `$OXKIT_MARIADBD`, `$OXKIT_MYSQLD`, then `mariadbd` and `mysqld` on
    /// `PATH` and in the usual system directories.
    pub fn candidates() -> Vec<PathBuf> {
        let mut c: Vec<PathBuf> = [MARIADBD_ENV, MYSQLD_ENV]
            .iter()
            .filter_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()))
            .map(PathBuf::from)
            .collect();
        c.extend(find_program(&["mariadbd"]));
        c.extend(find_program(&["mysqld"]));
        c
    }

    /// The first server of [`Install::candidates`], or the first of the
    /// given flavour and major version (`verify` of a backup needs a server
    /// like its source). The error names what was found instead.
    pub fn find(flavor: Option<Flavor>, major: Option<(u16, u16)>) -> Result<Install> {
        let mut seen = Vec::new();
        for p in Install::candidates() {
            let Ok(i) = Install::at(&p) else { continue };
            let flavor_ok = flavor.is_none_or(|f| i.flavor == family(f));
            let major_ok = major.is_none_or(|m| (i.version.major, i.version.minor) == m);
            if flavor_ok && major_ok {
                return Ok(i);
            }
            let name = i.name();
            seen.push(format!("{} ({name})", p.display()));
        }
        let want = match (flavor, major) {
            (None, _) => "no MariaDB or MySQL server".to_string(),
            (Some(f), None) => format!("no {} server", family(f)),
            (Some(f), Some((a, b))) => format!("no {} {a}.{b} server", family(f)),
        };
        let found = if seen.is_empty() {
            String::new()
        } else {
            format!(" (found only {})", seen.join(", "))
        };
        bail!(
            "{want} found on PATH or in /usr/sbin{found}: install one (Debian/Ubuntu: \
             apt-get install mariadb-server), or name its daemon in {MARIADBD_ENV} or {MYSQLD_ENV}"
        )
    }

    /// `mariadb-10.11`, `mysql-9.7`: flavour and major version.
    pub fn name(&self) -> String {
        let f = if self.is_mysql() { "mysql" } else { "mariadb" };
        format!("{f}-{}.{}", self.version.major, self.version.minor)
    }

    /// The daemon.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The root the server lives in (`/` for the host's own).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True for MySQL (and Percona Server).
    pub fn is_mysql(&self) -> bool {
        self.flavor != Flavor::MariaDB
    }

    /// A command running `program` (a file of this installation) as the
    /// installation runs it: through the root's loader when it has one.
    pub fn command(&self, program: &Path) -> Command {
        let mut argv = self.argv(program);
        let mut cmd = Command::new(argv.remove(0));
        cmd.args(argv);
        cmd
    }

    fn argv(&self, program: &Path) -> Vec<std::ffi::OsString> {
        match &self.loader {
            Some((loader, libs)) => vec![
                loader.clone().into(),
                "--library-path".into(),
                libs.clone(),
                program.into(),
            ],
            None => vec![program.into()],
        }
    }

    /// A client program of this installation (`mysqlbinlog`, `mariadb`),
    /// the first of `names` found: in the root's `/usr/bin` for a root,
    /// else on `PATH`. Run it with [`Install::command`].
    pub fn client(&self, names: &[&str]) -> Option<PathBuf> {
        if self.loader.is_none() {
            return find_program(names);
        }
        names
            .iter()
            .map(|n| self.root.join("usr/bin").join(n))
            .find(|p| p.is_file())
    }

    /// The installation's shared files (error messages, character sets).
    fn share(&self) -> PathBuf {
        let base = self.root.join("usr/share");
        ["mariadb", "mysql"]
            .iter()
            .map(|d| base.join(d))
            .find(|d| d.join("charsets").is_dir())
            .unwrap_or_else(|| base.join("mysql"))
    }

    /// Options that point the daemon at its own files. For a root, its
    /// error messages, character sets and plugins instead of the host's,
    /// which belong to another server.
    fn path_args(&self) -> Vec<String> {
        if self.loader.is_none() {
            return self
                .program
                .parent()
                .and_then(Path::parent)
                .map(|b| vec![format!("--basedir={}", b.display())])
                .unwrap_or_default();
        }
        let share = self.share();
        let mut a = vec![
            format!("--basedir={}", self.root.join("usr").display()),
            format!("--lc-messages-dir={}", share.display()),
            format!("--character-sets-dir={}", share.join("charsets").display()),
        ];
        let plugins = self.root.join("usr/lib/mysql/plugin");
        if plugins.is_dir() {
            a.push(format!("--plugin-dir={}", plugins.display()));
        }
        a
    }
}

/// The product a flavour runs as (Percona Server runs as MySQL does).
fn family(f: Flavor) -> Flavor {
    if f == Flavor::MariaDB {
        Flavor::MariaDB
    } else {
        Flavor::MySQL
    }
}

/// For a daemon at `ROOT/usr/{sbin,bin,libexec}/NAME` in an unpacked root
/// other than `/` that has its own loader: the root, the loader and the
/// library path.
fn root_of(program: &Path) -> Option<(PathBuf, PathBuf, std::ffi::OsString)> {
    let usr = program.parent()?.parent()?;
    if usr.file_name()? != "usr" {
        return None;
    }
    let root = usr.parent()?;
    if root == Path::new("/") || root.as_os_str().is_empty() {
        return None;
    }
    let loader = [
        "lib64/ld-linux-x86-64.so.2",
        "lib/ld-linux-aarch64.so.1",
        "lib/ld-linux-x86-64.so.2",
    ]
    .iter()
    .map(|l| root.join(l))
    .find(|l| l.exists())?;
    let mut dirs = Vec::new();
    for base in ["usr/lib", "lib"] {
        if let Ok(rd) = std::fs::read_dir(root.join(base)) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().ends_with("-linux-gnu") {
                    dirs.push(e.path());
                }
            }
        }
    }
    dirs.push(root.join("usr/lib/mysql/private"));
    let libs = std::env::join_paths(dirs.iter().filter(|d| d.is_dir())).ok()?;
    Some((root.to_path_buf(), loader, libs))
}

/// The daemon of the default server ([`Install::find`] with no preference).
pub fn mariadbd() -> Result<PathBuf> {
    Ok(Install::find(None, None)?.program)
}

/// True when this process runs as root (sandboxes then run as an
/// unprivileged user; package installs need no sudo).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The unprivileged account a sandbox runs as when the tool runs as root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// The user sandboxes run as: None when the tool is not root (the server
/// then runs as the tool's own user), else `$OXKIT_SANDBOX_USER` or `mysql`.
/// Fails when that user does not exist or is root: a throwaway server with a
/// passwordless root account must not hold OS root too.
pub fn server_user() -> Result<Option<ServerUser>> {
    if !is_root() {
        return Ok(None);
    }
    let name = std::env::var(USER_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "mysql".into());
    let Some(u) = nix::unistd::User::from_name(&name).ok().flatten() else {
        bail!(
            "running as root, the throwaway server runs as the unprivileged user {name:?}, \
             which does not exist on this host: install the server package (it creates `mysql`), \
             or name another unprivileged user in {USER_ENV}"
        );
    };
    if u.uid.is_root() {
        bail!("{USER_ENV}={name} names root: the throwaway server must not run as root");
    }
    Ok(Some(ServerUser {
        name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
    }))
}

/// Hands directory `dir` itself (not its contents) to the sandbox user, so
/// a datadir the caller creates inside it can be served by a sandbox while
/// `dir` stays private (mode 0700). A no-op when the tool is not root.
pub fn give_dir_to_server(dir: &Path) -> Result<()> {
    if let Some(u) = server_user()? {
        std::os::unix::fs::chown(dir, Some(u.uid), Some(u.gid))
            .with_context(|| format!("giving {} to {}", dir.display(), u.name))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", dir.display()))?;
    }
    Ok(())
}

/// Fails, before anything is written, when a sandbox could not serve a
/// datadir at `dir` because the sandbox user cannot search the directories
/// above it (a target under `/root`, say). Nothing to check when the tool
/// is not root. `dir` need not exist yet: its nearest existing ancestor is
/// what counts.
pub fn check_reachable(dir: &Path) -> Result<()> {
    let Some(u) = server_user()? else {
        return Ok(());
    };
    if let Some(above) = unreachable_by(dir, &u)? {
        bail!(
            "the throwaway server runs as {} and cannot reach {}: {} (or a directory above it) \
             is not searchable by {}; use a directory it can reach (under /var/lib, say)",
            u.name,
            dir.display(),
            above.display(),
            u.name
        );
    }
    Ok(())
}

/// The nearest existing directory above `dir` when `user` cannot search
/// it (or one of its parents), so could not create or open `dir`; None
/// when it can. Asks the kernel as that user (`test -x`): the only exact
/// answer, with groups and ACLs. Needs root to run as another user.
pub fn unreachable_by(dir: &Path, user: &ServerUser) -> Result<Option<PathBuf>> {
    let abs = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(dir)
    };
    let Some(above) = abs.ancestors().skip(1).find(|p| p.exists()) else {
        return Ok(None);
    };
    let ok = privileged_command(vec!["test".into()], Some(user), false)?
        .arg("-x")
        .arg(above)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running test as {}", user.name))?
        .success();
    Ok((!ok).then(|| above.to_path_buf()))
}

impl ServerUser {
    /// The account that owns `path` (a running server's datadir: the
    /// user that server runs as).
    pub fn owner_of(path: &Path) -> Result<ServerUser> {
        let md = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        let uid = nix::unistd::Uid::from_raw(md.uid());
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| md.uid().to_string(), |u| u.name);
        Ok(ServerUser {
            name,
            uid: md.uid(),
            gid: md.gid(),
        })
    }
}

/// A command running `program` as `user` (when given) with the
/// parent-death signal set (when `pdeathsig`), through util-linux's
/// `setpriv`: the workspace has no unsafe code for a `pre_exec`, and the
/// signal must be set after the credential change, which clears it.
fn privileged_command(
    argv: Vec<std::ffi::OsString>,
    user: Option<&ServerUser>,
    pdeathsig: bool,
) -> Result<Command> {
    let direct = |mut argv: Vec<std::ffi::OsString>| {
        let mut cmd = Command::new(argv.remove(0));
        cmd.args(argv);
        cmd
    };
    let setpriv = find_program(&["setpriv"]);
    let Some(setpriv) = setpriv else {
        if user.is_some() {
            bail!(
                "running as root, the throwaway server is started as an unprivileged user \
                 through setpriv, which is missing: install util-linux"
            );
        }
        // Not root and no setpriv: no death signal; the reaper at the next
        // start is the remaining safety net.
        return Ok(direct(argv));
    };
    if user.is_none() && !pdeathsig {
        return Ok(direct(argv));
    }
    let mut cmd = Command::new(setpriv);
    if let Some(u) = user {
        cmd.arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.gid))
            .arg("--init-groups");
    }
    if pdeathsig {
        cmd.arg("--pdeathsig=KILL");
    }
    cmd.arg("--").args(argv);
    Ok(cmd)
}

type SpawnRequest = (Command, std::sync::mpsc::Sender<std::io::Result<Child>>);

/// Spawns `cmd` from one thread that lives as long as the process. The
/// parent-death signal fires when the thread that forked the child exits,
/// so a server spawned from a short-lived thread (a test's, a scoped
/// worker's) would be killed under a sandbox that is still in use.
fn spawn_from_long_lived_thread(mut cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<SpawnRequest>>> =
        std::sync::OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("oxkit-sandbox-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop never ends:
                // the thread stays until the process exits.
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .ok()
            .map(|_| tx)
    });
    let Some(tx) = tx else {
        return cmd.spawn();
    };
    let (reply_tx, reply_rx) = std::sync::mpsc::channel();
    if let Err(std::sync::mpsc::SendError((mut cmd, _))) = tx.send((cmd, reply_tx)) {
        return cmd.spawn();
    }
    reply_rx
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the sandbox spawner thread is gone")))
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

/// A new directory `/tmp/oxkXXXXXX`, mode 0700 from its creation on
/// (tempfile's default follows the umask: 0755 here, which left the
/// socket inside open to every local user).
fn private_tempdir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(SANDBOX_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(SANDBOX_PARENT)
}

/// Gives `path` and everything under it to `uid:gid` (symlinks themselves,
/// never their targets).
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("changing the owner of {}", path.display()))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for e in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            chown_tree(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Where the template cache lives: `$OXKIT_SANDBOX_CACHE`, else a per-user
/// place that no other user shares (never a fixed path in `/tmp`, which
/// anyone can create first).
fn cache_root() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(CACHE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if is_root() {
        return Ok(PathBuf::from("/var/cache/oxkit/sandbox"));
    }
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    match (xdg, home) {
        (Some(x), _) => Ok(x.join("oxkit").join("sandbox")),
        (None, Some(h)) => Ok(h.join(".cache").join("oxkit").join("sandbox")),
        (None, None) => bail!(
            "no private place for the sandbox template: set HOME, XDG_CACHE_HOME or {CACHE_ENV}"
        ),
    }
}

/// The directory holding the cached template datadirs, created (mode 0700)
/// when missing and checked before it is trusted: a directory, owned by us,
/// writable by no one else. A template someone else could write would be a
/// datadir they control, served by our next sandbox (its grant tables, its
/// plugins).
pub fn cache_dir() -> Result<PathBuf> {
    let root = cache_root()?;
    if !root.exists() {
        if let Some(parent) = root.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        match std::fs::create_dir(&root) {
            Ok(()) => std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private", root.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", root.display())),
        }
    }
    let md =
        std::fs::symlink_metadata(&root).with_context(|| format!("reading {}", root.display()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !md.is_dir() {
        bail!(
            "the sandbox template cache {} is not a directory (a symlink?): remove it",
            root.display()
        );
    }
    if md.uid() != me {
        bail!(
            "the sandbox template cache {} is owned by uid {}, not by this user (uid {me}): \
             it is not trusted; remove it or set {CACHE_ENV}",
            root.display(),
            md.uid()
        );
    }
    if md.mode() & 0o022 != 0 {
        bail!(
            "the sandbox template cache {} is writable by others (mode {:o}): \
             it is not trusted; remove it or chmod 700 it",
            root.display(),
            md.mode() & 0o7777
        );
    }
    Ok(root)
}

/// Size of the redo log every sandbox is created with (resizing at start-up
/// would cost time).
pub const REDO_SIZE: &str = "32M";

/// Version of the template's contents (accounts, options used to bootstrap).
const TEMPLATE_FORMAT: u32 = 4;

/// Returns the cached template datadir for `install`, creating it on first
/// use. Safe against concurrent callers (file lock, atomic rename). The
/// template is owned by the tool's user; sandboxes get copies.
pub fn template_datadir(install: &Install) -> Result<PathBuf> {
    let version = format!("{}-{}", install.name(), install.version_string);
    let root = cache_dir()?;
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
    // MariaDB's bootstrap script of a root runs inside it (chroot), so its
    // scratch datadir must be there too.
    let in_root = install.loader.is_some() && !install.is_mysql();
    let parent = if in_root {
        install.root.join("tmp")
    } else {
        PathBuf::from(SANDBOX_PARENT)
    };
    let work = tempfile::Builder::new()
        .prefix(SANDBOX_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(&parent)
        .with_context(|| format!("creating a bootstrap directory in {}", parent.display()))?;
    give_dir_to_server(work.path())?;
    let data = work.path().join("data");
    bootstrap(install, &data)?;
    // Start it once to add the TCP root account (used only by sandboxes
    // that opt in to TCP), then shut down cleanly so every copy starts
    // without crash recovery.
    {
        let sb = Builder::new()
            .install(install.clone())
            .from_datadir(&data)
            .start()?;
        let mut c = sb.connect()?;
        c.run(
            "creating sandbox accounts",
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; \
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
        )?;
        // The bootstrap may add root accounts for the host's own name,
        // which a server under --skip-name-resolve never loads (and a
        // backup of the sandbox could not save): only the socket's and
        // 127.0.0.1's are kept.
        let extra: Vec<String> = c.rows(
            "listing sandbox accounts",
            "SELECT Host FROM mysql.user WHERE User = 'root' \
             AND Host NOT IN ('localhost', '127.0.0.1')",
        )?;
        for host in extra {
            c.run(
                "dropping an unused sandbox account",
                &format!(
                    "DROP USER IF EXISTS 'root'@{}",
                    crate::sql::quote_str(&host)
                ),
            )?;
        }
        drop(c);
        sb.stop()?;
    }
    let staging = root.join(format!("template-{version}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    copy_dir(&data, &staging)?;
    // auto.cnf holds a MySQL server's UUID, which must differ between
    // replicas: each copy makes its own.
    for leftover in [PID_FILE, "error.log", "auto.cnf"] {
        let _ = std::fs::remove_file(staging.join(leftover));
    }
    std::fs::rename(&staging, &dest)
        .with_context(|| format!("moving template to {}", dest.display()))?;
    Ok(dest)
}

/// Creates a fresh datadir `data` for `install` (system tables, a `root`
/// account with no password), running as the sandbox user: MySQL's
/// `mysqld --initialize-insecure`; MariaDB's `mariadb-install-db` script,
/// inside the root (chroot, which needs root) when the server lives in one.
fn bootstrap(install: &Install, data: &Path) -> Result<()> {
    let user = server_user()?;
    let (what, mut cmd) = if install.is_mysql() {
        let mut argv = install.argv(&install.program);
        argv.extend(
            [
                "--no-defaults".to_string(),
                "--initialize-insecure".into(),
                format!("--datadir={}", data.display()),
                format!("--innodb-redo-log-capacity={REDO_SIZE}"),
                "--skip-log-bin".into(),
            ]
            .into_iter()
            .chain(install.path_args())
            .map(Into::into),
        );
        (
            format!("{} --initialize-insecure", install.program.display()),
            privileged_command(argv, user.as_ref(), true)?,
        )
    } else {
        let script_args = |datadir: &Path, basedir: &Path| -> Vec<std::ffi::OsString> {
            [
                "--no-defaults".to_string(),
                format!("--datadir={}", datadir.display()),
                "--auth-root-authentication-method=normal".into(),
                "--skip-test-db".into(),
                // No accounts for the host's name (which a root without
                // /etc/hosts cannot resolve, and which no sandbox uses).
                "--skip-name-resolve".into(),
                format!("--innodb-log-file-size={REDO_SIZE}"),
                format!("--basedir={}", basedir.display()),
            ]
            .into_iter()
            .map(Into::into)
            .collect()
        };
        if install.loader.is_some() {
            let Some(u) = &user else {
                bail!(
                    "MariaDB in {} is bootstrapped by its mariadb-install-db inside that root \
                     (chroot), which needs root: run as root once to make the template",
                    install.root.display()
                );
            };
            let inside = Path::new("/").join(data.strip_prefix(&install.root)?);
            let mut argv: Vec<std::ffi::OsString> = vec![
                "chroot".into(),
                format!("--userspec={}:{}", u.uid, u.gid).into(),
                install.root.clone().into(),
                "/usr/bin/mariadb-install-db".into(),
            ];
            argv.extend(script_args(&inside, Path::new("/usr")));
            // A minimal root has no /etc/hosts, so the script's check that
            // `localhost` resolves fails; no account uses a host name.
            argv.push("--force".into());
            (
                format!("mariadb-install-db in {}", install.root.display()),
                privileged_command(argv, None, true)?,
            )
        } else {
            let script =
                find_program(&["mariadb-install-db", "mysql_install_db"]).ok_or_else(|| {
                    anyhow::anyhow!("no mariadb-install-db found: install mariadb-server")
                })?;
            let base = install
                .program
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/usr"));
            let mut argv = vec![script.clone().into()];
            argv.extend(script_args(data, base));
            // The bootstrap runs as the sandbox user too (no `--user=`,
            // which would have the server itself start as root and switch).
            (
                script.display().to_string(),
                privileged_command(argv, user.as_ref(), true)?,
            )
        }
    };
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), which tells a live owner from a reused PID.
fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// `PID START_TIME` of this process, as written to a sandbox's owner file.
fn owner_record() -> String {
    let pid = std::process::id();
    format!("{pid} {}\n", process_start_time(pid).unwrap_or(0))
}

fn owner_alive(record: &str) -> bool {
    let mut it = record.split_whitespace();
    let (Some(pid), Some(start)) = (
        it.next().and_then(|p| p.parse::<u32>().ok()),
        it.next().and_then(|s| s.parse::<u64>().ok()),
    ) else {
        // Unreadable: assume alive rather than kill a server in use.
        return true;
    };
    if start == 0 {
        // Written without a readable start time: the PID alone decides.
        return Path::new(&format!("/proc/{pid}")).exists();
    }
    process_start_time(pid).is_some_and(|s| s == start)
}

/// Kills servers left behind by sandboxes whose owning process is gone (a
/// `kill -9` before the parent-death signal was armed, a host without
/// setpriv), and removes those sandboxes' directories (copies of restored
/// data) unless they were kept on purpose. Only directories owned by us or
/// by the sandbox user and holding an owner record are touched, and only a
/// process of the directory's owner whose command line names the
/// directory's own pid file is killed, so a forged pid file cannot aim this
/// at anything else. Returns the PIDs killed.
pub fn reap_orphans() -> Vec<u32> {
    let mut killed = Vec::new();
    let me = nix::unistd::geteuid().as_raw();
    let other = server_user().ok().flatten().map(|u| u.uid);
    let Ok(entries) = std::fs::read_dir(SANDBOX_PARENT) else {
        return killed;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(SANDBOX_PREFIX) {
            continue;
        }
        let dir = e.path();
        let Ok(md) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if !md.is_dir() || (md.uid() != me && Some(md.uid()) != other) {
            continue;
        }
        let Ok(record) = std::fs::read_to_string(dir.join(OWNER_FILE)) else {
            continue;
        };
        if owner_alive(&record) {
            continue;
        }
        if let Some(pid) = orphan_server(&dir, md.uid()) {
            let ok = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                killed.push(pid);
            }
        }
        if !dir.join(KEPT_FILE).exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    killed
}

/// The PID of the server still running in sandbox directory `dir` (owned
/// by `uid`): named by the pid file inside, run by `uid`, with that very
/// pid file on its command line.
fn orphan_server(dir: &Path, uid: u32) -> Option<u32> {
    let pid_file = dir.join(PID_FILE);
    let pid = std::fs::read_to_string(&pid_file)
        .ok()?
        .trim()
        .parse::<u32>()
        .ok()?;
    let pmd = std::fs::metadata(format!("/proc/{pid}")).ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let want = format!("--pid-file={}", pid_file.display());
    let names_it = cmdline.split(|b| *b == 0).any(|a| a == want.as_bytes());
    (pmd.uid() == uid && names_it).then_some(pid)
}

/// Configures a sandbox before it starts.
#[derive(Clone, Debug)]
pub struct Builder {
    server_id: u32,
    binlog: bool,
    keep: bool,
    tcp: bool,
    port: Option<u16>,
    datadir: Option<PathBuf>,
    args: Vec<String>,
    install: Option<Install>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: server id 1, no binary log, no TCP (socket only), small
    /// buffer pool, directory removed on drop.
    pub fn new() -> Builder {
        Builder {
            server_id: 1,
            binlog: false,
            keep: std::env::var(KEEP_ENV).is_ok_and(|v| v == "1"),
            tcp: false,
            port: None,
            datadir: None,
            args: Vec::new(),
            install: None,
        }
    }

    /// `--server-id`.
    pub fn server_id(mut self, id: u32) -> Builder {
        self.server_id = id;
        self
    }

    /// Binary log in ROW format with GTID strict mode and
    /// `log_slave_updates` (and `report_host`/`report_port` with TCP), as a
    /// replication member needs.
    pub fn binlog(mut self, on: bool) -> Builder {
        self.binlog = on;
        self
    }

    /// Also listen on TCP, 127.0.0.1 on a free port, where any local user
    /// can reach the passwordless root account. Only for servers holding
    /// throwaway data (test topologies, the demo, benches): replication and
    /// DSNs handed to other tools need it. The product never asks for it.
    pub fn tcp(mut self, on: bool) -> Builder {
        self.tcp = on;
        self
    }

    /// Keep the directory (datadir, error log) after the sandbox stops.
    pub fn keep(mut self, keep: bool) -> Builder {
        self.keep = keep;
        self
    }

    /// Listen on TCP on this port of 127.0.0.1 (a server restarted where
    /// its clients expect it).
    pub fn port(mut self, port: u16) -> Builder {
        self.tcp = true;
        self.port = Some(port);
        self
    }

    /// Start on an existing datadir instead of a copy of the template (a
    /// restored backup, say). That directory is never removed; when the tool
    /// runs as root it is lent to the sandbox user while the server runs
    /// and given back afterwards (see the module doc).
    pub fn from_datadir(mut self, dir: &Path) -> Builder {
        self.datadir = Some(dir.to_path_buf());
        self
    }

    /// The server to run (default: [`Install::find`] with no preference).
    pub fn install(mut self, install: Install) -> Builder {
        self.install = Some(install);
        self
    }

    /// An extra server option (`--innodb-buffer-pool-size=256M`).
    pub fn arg(mut self, a: impl Into<String>) -> Builder {
        self.args.push(a.into());
        self
    }

    /// Starts the server and waits until it accepts a real connection.
    pub fn start(self) -> Result<Sandbox> {
        let install = match &self.install {
            Some(i) => i.clone(),
            None => Install::find(None, None)?,
        };
        let user = server_user()?;
        reap_orphans();
        let dir = private_tempdir().context("creating sandbox directory")?;
        // The owner record first: from here on a dead tool's server can be
        // told from a live one's.
        std::fs::write(dir.path().join(OWNER_FILE), owner_record())
            .context("writing the sandbox owner file")?;
        // Each server gets its own tmpdir: temporary tables in a shared /tmp
        // are exposed to anything else that cleans /tmp while tests run.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut lent = None;
        let datadir = match &self.datadir {
            Some(d) => {
                if let Some(u) = &user {
                    check_reachable(d)?;
                    let md = std::fs::metadata(d)
                        .with_context(|| format!("reading the owner of {}", d.display()))?;
                    lent = Some((d.clone(), md.uid(), md.gid()));
                    chown_tree(d, u.uid, u.gid)?;
                }
                d.clone()
            }
            None => {
                let d = dir.path().join("data");
                copy_dir(&template_datadir(&install)?, &d)?;
                d
            }
        };
        let mut sb = Sandbox {
            child: None,
            dir: Some(dir),
            datadir,
            port: 0,
            keep: self.keep,
            lent,
            user,
            install,
            builder: self.clone(),
        };
        if let Some(u) = &sb.user {
            // The directory stays 0700: the socket inside is reachable only
            // by the server's user and root.
            chown_tree(sb.dir(), u.uid, u.gid)?;
        }
        let mut last_err = None;
        for _ in 0..3 {
            let _ = std::fs::remove_file(sb.dir().join("error.log"));
            let (mut child, port) =
                self.spawn(&sb.install, sb.dir(), &sb.datadir, sb.user.as_ref())?;
            match wait_ready(&mut child, sb.dir(), Duration::from_secs(60)) {
                Ok(()) => {
                    sb.child = Some(child);
                    sb.port = port;
                    return Ok(sb);
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // Another process took the port between our probe and
                    // the server's bind: try another one.
                    if !self.tcp || !sb.error_log_tail(30).contains("Bind on TCP/IP port") {
                        sb.keep = true;
                        let kept = sb.dir().to_path_buf();
                        drop(sb);
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

    fn spawn(
        &self,
        install: &Install,
        dir: &Path,
        datadir: &Path,
        user: Option<&ServerUser>,
    ) -> Result<(Child, u16)> {
        let mysql = install.is_mysql();
        let mut a: Vec<String> = vec![
            "--no-defaults".into(),
            format!("--datadir={}", datadir.display()),
            format!("--tmpdir={}", dir.join("tmp").display()),
            format!("--socket={}", dir.join("mysqld.sock").display()),
            format!("--pid-file={}", dir.join(PID_FILE).display()),
            format!("--log-error={}", dir.join("error.log").display()),
            "--skip-name-resolve".into(),
            format!("--server-id={}", self.server_id),
            "--innodb-buffer-pool-size=64M".into(),
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--max-connections=300".into(),
        ];
        a.extend(install.path_args());
        if mysql {
            // No X Protocol listener (a fixed port shared by every server
            // on the host), and LOAD DATA / SELECT INTO OUTFILE only in the
            // sandbox's own tmpdir (the packaged default directory does
            // not exist here).
            a.extend([
                format!("--innodb-redo-log-capacity={REDO_SIZE}"),
                "--mysqlx=OFF".into(),
                format!("--secure-file-priv={}", dir.join("tmp").display()),
                // What ox-backup's restore loads with (LOAD DATA LOCAL),
                // off by default since MySQL 8.0.
                "--local-infile=ON".into(),
            ]);
        } else {
            a.push(format!("--innodb-log-file-size={REDO_SIZE}"));
        }
        let port = if self.tcp {
            let port = match self.port {
                Some(p) => p,
                None => free_port()?,
            };
            a.extend([format!("--port={port}"), "--bind-address=127.0.0.1".into()]);
            port
        } else {
            a.push("--skip-networking".into());
            0
        };
        if self.binlog {
            a.extend([
                format!("--log-bin={}", datadir.join("mysql-bin").display()),
                "--binlog-format=ROW".into(),
            ]);
            if mysql {
                a.extend([
                    "--log-replica-updates".into(),
                    "--gtid-mode=ON".into(),
                    "--enforce-gtid-consistency=ON".into(),
                ]);
            } else {
                a.extend(["--log-slave-updates".into(), "--gtid-strict-mode=1".into()]);
            }
            if self.tcp {
                a.extend([
                    "--report-host=127.0.0.1".into(),
                    format!("--report-port={port}"),
                ]);
            }
        } else if mysql {
            // MySQL writes a binary log unless told not to.
            a.push("--skip-log-bin".into());
        }
        a.extend(self.args.iter().cloned());
        let mut argv = install.argv(&install.program);
        argv.extend(a.into_iter().map(Into::into));
        let mut cmd = privileged_command(argv, user, true)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_from_long_lived_thread(cmd)
            .with_context(|| format!("starting {}", install.program.display()))?;
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
    /// A caller's datadir lent to the sandbox user, and its owner before.
    lent: Option<(PathBuf, u32, u32)>,
    user: Option<ServerUser>,
    install: Install,
    /// How it was started (for [`Sandbox::restart`]).
    builder: Builder,
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
    /// A sandbox from the template with default settings (socket only).
    pub fn start() -> Result<Sandbox> {
        Builder::new().start()
    }

    /// A builder.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// TCP port on 127.0.0.1, or 0 when the sandbox has no TCP listener
    /// (the default; see [`Builder::tcp`]).
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

    /// The server installation this sandbox runs.
    pub fn install(&self) -> &Install {
        &self.install
    }

    /// The unprivileged user the server runs as, when the tool is root.
    pub fn user(&self) -> Option<&ServerUser> {
        self.user.as_ref()
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

    /// A spec reaching the server as root over TCP on 127.0.0.1 (which
    /// fails to connect unless the sandbox was built with TCP on).
    pub fn tcp_spec(&self) -> ConnSpec {
        ConnSpec {
            host: Some("127.0.0.1".into()),
            port: Some(self.port),
            user: Some(ROOT_USER.into()),
            ..ConnSpec::default()
        }
    }

    /// A Percona-style DSN for this server as root: over TCP when the
    /// sandbox listens there, else over its socket.
    pub fn dsn(&self) -> String {
        if self.port != 0 {
            format!("h=127.0.0.1,P={},u={ROOT_USER}", self.port)
        } else {
            format!("S={},u={ROOT_USER}", self.socket().display())
        }
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
    /// before killing the process it started, then gives a lent datadir
    /// back to its owner.
    pub fn shutdown(&mut self) -> Result<()> {
        let stopped = self.stop_server();
        let given = self.give_back();
        stopped.and(given)
    }

    fn stop_server(&mut self) -> Result<()> {
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

    /// Once the server is down: a caller's datadir goes back to its owner,
    /// and the contents of a directory that outlives the sandbox to the
    /// tool's user, so what the tool reads or hands on afterwards is as it
    /// would be without the privilege drop.
    fn give_back(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        if let Some((dir, uid, gid)) = self.lent.take() {
            chown_tree(&dir, uid, gid)?;
        }
        if self.keep {
            if let (Some(u), Some(d)) = (self.user.take(), &self.dir) {
                chown_tree(
                    d.path(),
                    nix::unistd::geteuid().as_raw(),
                    nix::unistd::getegid().as_raw(),
                )?;
                // The directory itself stays the sandbox user's (still 0700,
                // as give_dir_to_server leaves one), so a later sandbox can
                // be started on the datadir kept inside it.
                std::os::unix::fs::chown(d.path(), Some(u.uid), Some(u.gid))
                    .with_context(|| format!("giving {} to {}", d.path().display(), u.name))?;
            }
        }
        Ok(())
    }

    /// Kills the server with SIGKILL, as a crash would end it; the
    /// directory stays for [`Sandbox::restart`].
    pub fn crash(&mut self) {
        self.kill();
    }

    /// Starts the server again on the same directory, options and port
    /// (after [`Sandbox::crash`]: crash recovery runs).
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            bail!("the sandbox server is running");
        }
        let mut b = self.builder.clone();
        if self.port != 0 {
            b = b.port(self.port);
        }
        let (mut child, _) =
            b.spawn(&self.install, self.dir(), &self.datadir, self.user.as_ref())?;
        if let Err(e) = wait_ready(&mut child, self.dir(), Duration::from_secs(120)) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.context("restarting the sandbox server"));
        }
        self.child = Some(child);
        Ok(())
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
    #[allow(
        clippy::print_stderr,
        reason = "a drop cannot return its error, and a kept datadir is for a human to find"
    )]
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        if failing {
            self.keep = true;
        }
        if self.stop_server().is_err() {
            self.kill();
        }
        if let Err(e) = self.give_back() {
            eprintln!("sandbox: {e:#}");
        }
        // Dropping the TempDir removes it (with the datadir when it is our
        // copy; a caller's datadir lives elsewhere and is never touched).
        if let Some(dir) = self.dir.take() {
            if self.keep {
                let _ = std::fs::write(dir.path().join(KEPT_FILE), "");
                let path = dir.keep();
                eprintln!("sandbox kept: {} (port {})", path.display(), self.port);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_record_tells_a_live_owner_from_a_reused_pid() {
        let mine = owner_record();
        assert!(owner_alive(&mine), "{mine}");
        // Same PID, another start time: the PID was reused.
        let pid = std::process::id();
        assert!(!owner_alive(&format!("{pid} 1")));
        // Unreadable records are taken as alive: never kill on doubt.
        assert!(owner_alive("garbage"));
    }

    #[test]
    fn start_time_is_read_past_a_command_name_with_spaces() {
        assert!(process_start_time(std::process::id()).is_some());
        assert!(process_start_time(u32::MAX).is_none());
    }
}
