//! `cargo xtask dist`: release binaries, man pages, completions and the
//! example config assembled into one staging tree laid out as installed
//! (`target/dist/oxkit-<version>/usr/bin/...`), then a .deb built from it
//! when `dpkg-deb` is available. `packaging/oxkit.spec` builds an rpm from
//! the same tree. See `packaging/README.md`.

use crate::tools::TOOLS;
use crate::VERSION;
use anyhow::{Context as _, Result};
use clap_complete::aot::Shell;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `cargo xtask dist`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Reuse the release binaries already in target/release instead of building
    #[arg(long)]
    pub no_build: bool,
    /// Do not build the .deb
    #[arg(long)]
    pub no_deb: bool,
    /// Do not build the .rpm
    #[arg(long)]
    pub no_rpm: bool,
}

/// The repository URL, for the package's Homepage (the workspace's
/// `repository`).
pub const HOMEPAGE: &str = env!("CARGO_PKG_REPOSITORY");

/// The package maintainer: the workspace's first `authors` entry, the one
/// place it is written.
pub fn maintainer() -> &'static str {
    env!("CARGO_PKG_AUTHORS")
        .split(':')
        .next()
        .unwrap_or_default()
}

/// The maintainer without the address, as the copyright holder.
pub fn authors_name() -> &'static str {
    maintainer().split('<').next().unwrap_or_default().trim()
}

/// The example configs shipped in `/etc/oxkit` (conffiles): every tool's,
/// and ox-backup's (what the systemd units read).
const EXAMPLE_CONFIGS: &[(&str, &str)] = &[
    (
        "packaging/oxkit.conf.example",
        "etc/oxkit/oxkit.conf.example",
    ),
    (
        "packaging/ox-backup.conf.example",
        "etc/oxkit/ox-backup.conf.example",
    ),
];

/// The systemd units and timers, relative to the workspace root.
const SYSTEMD: &str = "packaging/systemd";

/// Where the units go (merged /usr: the path both Debian and rpm
/// distributions use).
pub const UNIT_DIR: &str = "usr/lib/systemd/system";

/// What `cargo xtask dist` made.
#[derive(Debug)]
pub struct Built {
    /// The staging tree, laid out as installed.
    pub stage: PathBuf,
    /// `target/dist`.
    pub dist: PathBuf,
    pub deb: Option<PathBuf>,
    pub rpm: Option<PathBuf>,
}

/// Runs `cargo xtask dist`.
pub fn run(args: &Args) -> Result<()> {
    let built = dist(args)?;
    if let Some(rpm) = &built.rpm {
        if let Some(report) = crate::rpm::lint(rpm)? {
            println!("rpmlint {}:\n{}", rpm.display(), report.trim_end());
        }
    }
    Ok(())
}

/// Builds the binaries (unless `no_build`), the staging tree, and the
/// packages asked for; when both are built, fails unless they hold the
/// same files.
pub fn dist(args: &Args) -> Result<Built> {
    let root = crate::workspace_root()?;
    let target = target_dir(&root);
    if !args.no_build {
        build_release(&root)?;
    }
    let dist = target.join("dist");
    let stage = dist.join(format!("oxkit-{VERSION}"));
    stage_tree(&root, &target.join("release"), &stage)?;
    println!(
        "staged {} ({} KiB)",
        stage.display(),
        tree_size(&stage)?.div_ceil(1024)
    );
    let mut built = Built {
        stage,
        dist,
        deb: None,
        rpm: None,
    };
    if !args.no_deb {
        let deb = crate::deb::build(
            &root,
            &built.stage,
            &built.dist,
            VERSION,
            crate::deb::Compression::Release,
        )?;
        println!("built {}", deb.display());
        built.deb = Some(deb);
    }
    if !args.no_rpm {
        let rpm = crate::rpm::build(&root, &built.stage, &built.dist)?;
        println!("built {}", rpm.display());
        built.rpm = Some(rpm);
    }
    if let (Some(deb), Some(rpm)) = (&built.deb, &built.rpm) {
        let n = crate::rpm::compare(deb, rpm)?;
        println!("the .deb and the .rpm hold the same {n} files");
    }
    Ok(built)
}

/// `$CARGO_TARGET_DIR`, or `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// `cargo build --release` of the five binaries, with the cargo that runs
/// us (so toolchain overrides apply).
fn build_release(root: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(["build", "--release", "--bins"]);
    // `cargo run` gave us xtask's own package variables; build scripts that
    // watch them (ring's does) would take them for a change and rebuild
    // what a plain `cargo build --release` already built.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&&*k)
        {
            cmd.env_remove(&key);
        }
    }
    for tool in TOOLS {
        cmd.args(["-p", tool.name]);
    }
    println!("running {cmd:?}");
    let status = cmd.status().context("running cargo build --release")?;
    anyhow::ensure!(status.success(), "cargo build --release failed: {status}");
    Ok(())
}

/// Where each shell loads completions from on Debian-like systems
/// (the rpm spec moves zsh's to site-functions).
fn completion_dir(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "usr/share/bash-completion/completions",
        Shell::Zsh => "usr/share/zsh/vendor-completions",
        _ => "usr/share/fish/vendor_completions.d",
    }
}

/// Builds the staging tree from scratch: binaries from `release`, man
/// pages and completions rendered now (so they cannot be stale), the
/// example configs and systemd units from `packaging/`, the copyright
/// file and changelog rendered from `cargo metadata` and `NEWS.md`.
fn stage_tree(root: &Path, release: &Path, stage: &Path) -> Result<()> {
    if stage.exists() {
        std::fs::remove_dir_all(stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    for tool in TOOLS {
        let bin = release.join(tool.name);
        let data = std::fs::read(&bin).with_context(|| {
            format!(
                "reading {} (run without --no-build to build it)",
                bin.display()
            )
        })?;
        put(&stage.join("usr/bin").join(tool.name), &data, 0o755)?;
    }
    for page in crate::man::generate()? {
        let name = page
            .path
            .file_name()
            .context("man page path has no file name")?;
        let dest = stage
            .join("usr/share/man/man1")
            .join(format!("{}.gz", name.to_string_lossy()));
        put(&dest, &gzip(page.contents.as_bytes())?, 0o644)?;
    }
    for file in crate::completions::generate_all()? {
        // packaging/completions/<shell>/<file>
        let shell_name = file
            .path
            .parent()
            .and_then(Path::file_name)
            .context("completion path has no shell directory")?;
        let shell: Shell = shell_name
            .to_string_lossy()
            .parse()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = file
            .path
            .file_name()
            .context("completion path has no file name")?;
        let dest = stage.join(completion_dir(shell)).join(name);
        put(&dest, file.contents.as_bytes(), 0o644)?;
    }
    for (from, to) in EXAMPLE_CONFIGS {
        let text = std::fs::read(root.join(from)).with_context(|| format!("reading {from}"))?;
        put(&stage.join(to), &text, 0o644)?;
    }
    for entry in
        std::fs::read_dir(root.join(SYSTEMD)).with_context(|| format!("listing {SYSTEMD}"))?
    {
        let entry = entry?;
        let name = entry.file_name();
        let text = std::fs::read(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?;
        put(&stage.join(UNIT_DIR).join(name), &text, 0o644)?;
    }
    let doc = stage.join("usr/share/doc/oxkit");
    let crates = crate::copyright::linked_crates(root)?;
    let copyright = crate::copyright::render(root, &crates)?;
    put(&doc.join("copyright"), copyright.as_bytes(), 0o644)?;
    let releases = crate::changelog::read(root)?;
    let changelog = crate::changelog::debian(&releases, VERSION, maintainer());
    put(
        &doc.join("changelog.gz"),
        &gzip(changelog.as_bytes())?,
        0o644,
    )?;
    Ok(())
}

/// Writes a file with explicit permissions (whatever the umask), creating
/// its directories as 0755.
pub fn put(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(())
}

/// gzip at maximum compression with no name and a zero timestamp (as
/// `gzip -n9`), so the package is reproducible.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(data).context("gzip")?;
    enc.finish().context("gzip")
}

/// Recursively copies `src` to `dst`, keeping file permissions.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).with_context(|| format!("creating {}", dst.display()))?;
    for entry in std::fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry.with_context(|| format!("listing {}", src.display()))?;
        let to = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Total size in bytes of the files under `dir`, for Installed-Size.
fn tree_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option the example config shows, once uncommented, must be
    /// accepted by every tool, since `oxkit.conf` reaches all of them.
    #[test]
    fn example_config_is_accepted_by_every_tool() {
        let words = example_words(EXAMPLE_CONFIGS[0].0);
        assert!(words.len() >= 5, "{words:?}");
        for tool in TOOLS {
            let argv = std::iter::once(tool.name.into()).chain(words.iter().cloned());
            // A tool that needs an action or a target says so; that is not
            // a rejection of the config's options.
            if let Err(e) = tool.full_command().try_get_matches_from(argv) {
                use clap::error::ErrorKind;
                if !matches!(
                    e.kind(),
                    ErrorKind::MissingRequiredArgument | ErrorKind::MissingSubcommand
                ) {
                    panic!("{} rejects the example config: {e}", tool.name);
                }
            }
        }
    }

    /// Reproducible compression: same input, same bytes, valid gzip magic.
    #[test]
    fn gzip_is_deterministic() {
        let a = gzip(b"hello").expect("gzip");
        assert_eq!(a, gzip(b"hello").expect("gzip"));
        assert_eq!(&a[..2], &[0x1f, 0x8b]);
    }

    /// The options an example config shows, uncommented, as command-line
    /// words.
    fn example_words(file: &str) -> Vec<std::ffi::OsString> {
        let root = crate::workspace_root().expect("root");
        let text = std::fs::read_to_string(root.join(file)).expect("example");
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .map(|l| format!("{l}\n"))
            .collect();
        oxkit::entry::parse_config_text(&uncommented, Path::new(file)).expect("example parses")
    }

    /// ox-backup's example, uncommented, is accepted by every action the
    /// systemd units run (and the others): the entry point hands each
    /// action the options it takes.
    #[test]
    fn backup_example_config_is_accepted_by_every_action() {
        let words = example_words(EXAMPLE_CONFIGS[1].0);
        assert!(words.len() >= 8, "{words:?}");
        let tool = TOOLS
            .iter()
            .find(|t| t.name == "ox-backup")
            .expect("ox-backup");
        let cmd = tool.full_command();
        for action in [
            "backup", "verify", "check", "list", "expire", "binlog", "restore",
        ] {
            let mut argv: Vec<std::ffi::OsString> = vec!["ox-backup".into()];
            argv.extend(words.iter().cloned());
            argv.push(action.into());
            let argv = oxkit::entry::config_words_to_action(&cmd, argv, words.len());
            if let Err(e) = cmd.clone().try_get_matches_from(argv) {
                use clap::error::ErrorKind;
                assert!(
                    matches!(e.kind(), ErrorKind::MissingRequiredArgument),
                    "ox-backup {action} rejects the example config: {e}"
                );
            }
        }
    }

    /// Every systemd unit names a Documentation= page, every service is a
    /// oneshot run of ox-backup, every timer has an [Install] section (they
    /// are enabled by hand) and a service to run.
    #[test]
    fn systemd_units_are_complete() {
        let root = crate::workspace_root().expect("root");
        let mut names = Vec::new();
        for entry in std::fs::read_dir(root.join(SYSTEMD)).expect("units") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).expect("read");
            assert!(
                text.contains("\nDocumentation=man:ox-backup(1)\n"),
                "{name}"
            );
            if name == "oxkit-binlog.service" {
                // The one long-running service: enabled by itself.
                assert!(text.contains("\nType=exec\n"), "{name}");
                assert!(text.contains("\nSuccessExitStatus=4\n"), "{name}");
                assert!(
                    text.contains("\n[Install]\nWantedBy=multi-user.target\n"),
                    "{name}"
                );
            } else if name.ends_with(".service") {
                assert!(text.contains("\nType=oneshot\n"), "{name}");
                assert!(text.contains("\nExecStart=/usr/bin/ox-backup "), "{name}");
            } else {
                assert!(name.ends_with(".timer"), "{name}");
                assert!(
                    text.contains("\n[Install]\nWantedBy=timers.target\n"),
                    "{name}"
                );
                let service = name.replace(".timer", ".service");
                assert!(root.join(SYSTEMD).join(service).is_file(), "{name}");
            }
            names.push(name);
        }
        names.sort();
        assert_eq!(
            names,
            [
                "oxkit-backup.service",
                "oxkit-backup.timer",
                "oxkit-binlog.service",
                "oxkit-check.service",
                "oxkit-check.timer",
                "oxkit-verify.service",
                "oxkit-verify.timer"
            ]
        );
    }
}
