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
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Reuse the release binaries already in target/release instead of building
    #[arg(long)]
    no_build: bool,
    /// Assemble the staging tree only; do not build the .deb
    #[arg(long)]
    no_deb: bool,
}

/// Package maintainer for the .deb control file (Debian requires one).
/// The workspace's `authors` has no address yet, hence the placeholder.
const MAINTAINER: &str = "oxkit developers <oxkit@example.invalid>";

/// The repository URL, for the package's Homepage.
const HOMEPAGE: &str = env!("CARGO_PKG_REPOSITORY");

/// The example config shipped as `/etc/oxkit/oxkit.conf.example`.
const EXAMPLE_CONFIG: &str = "packaging/oxkit.conf.example";

/// Runs `cargo xtask dist`.
pub fn run(args: &Args) -> Result<()> {
    let root = crate::workspace_root()?;
    let target = target_dir(&root);
    if !args.no_build {
        build_release(&root)?;
    }
    let dist = target.join("dist");
    let stage = dist.join(format!("oxkit-{VERSION}"));
    stage_tree(&root, &target.join("release"), &stage)?;
    println!("staged {}", stage.display());
    if args.no_deb {
        return Ok(());
    }
    if !has_program("dpkg-deb") {
        println!("dpkg-deb not found: skipping the .deb");
        return Ok(());
    }
    let deb = build_deb(&stage, &dist)?;
    println!("built {}", deb.display());
    Ok(())
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
/// example config from `packaging/`.
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
    let example = std::fs::read(root.join(EXAMPLE_CONFIG))
        .with_context(|| format!("reading {EXAMPLE_CONFIG}"))?;
    put(&stage.join("etc/oxkit/oxkit.conf.example"), &example, 0o644)?;
    Ok(())
}

/// Writes a file with explicit permissions (whatever the umask), creating
/// its directories as 0755.
fn put(path: &Path, data: &[u8], mode: u32) -> Result<()> {
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
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut enc: GzEncoder<Vec<u8>> = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    enc.write_all(data).context("gzip")?;
    enc.finish().context("gzip")
}

/// True when `program` is on `$PATH`.
fn has_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The Debian name of the architecture the binaries were built for.
fn deb_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        other => other,
    }
}

/// Copies the staging tree into a package root next to it, adds
/// `DEBIAN/control` and `DEBIAN/conffiles`, and runs `dpkg-deb --build`.
/// The staging tree itself stays free of Debian metadata for rpm.
fn build_deb(stage: &Path, dist: &Path) -> Result<PathBuf> {
    let arch = deb_arch();
    let name = format!("oxkit_{VERSION}_{arch}");
    let pkg_root = dist.join("deb").join(&name);
    if pkg_root.exists() {
        std::fs::remove_dir_all(&pkg_root)
            .with_context(|| format!("removing {}", pkg_root.display()))?;
    }
    copy_tree(stage, &pkg_root)?;
    let installed_kib = tree_size(&pkg_root)?.div_ceil(1024);
    put(
        &pkg_root.join("DEBIAN/control"),
        control(arch, installed_kib).as_bytes(),
        0o644,
    )?;
    put(
        &pkg_root.join("DEBIAN/conffiles"),
        b"/etc/oxkit/oxkit.conf.example\n",
        0o644,
    )?;
    let out = dist.join(format!("{name}.deb"));
    let status = Command::new("dpkg-deb")
        .arg("--root-owner-group")
        .arg("--build")
        .arg(&pkg_root)
        .arg(&out)
        .status()
        .context("running dpkg-deb")?;
    anyhow::ensure!(status.success(), "dpkg-deb --build failed: {status}");
    Ok(out)
}

/// The `DEBIAN/control` file. The long description lists each tool with
/// its one-line `about` from clap.
fn control(arch: &str, installed_kib: u64) -> String {
    let mut tools = String::new();
    for tool in TOOLS {
        let cmd = (tool.command)();
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        tools += &format!("  {}: {about}\n", tool.name);
    }
    format!(
        "Package: oxkit\n\
         Version: {VERSION}\n\
         Architecture: {arch}\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\n\
         Depends: libc6\n\
         Recommends: mariadb-client | default-mysql-client\n\
         Section: database\n\
         Priority: optional\n\
         Homepage: {HOMEPAGE}\n\
         Description: command-line tools for MySQL and MariaDB DBAs\n \
         oxkit replaces the most used Percona Toolkit tools with five programs\n \
         that share one connection syntax (DSNs, URLs, my.cnf), one config file\n \
         format and one set of exit codes:\n\
         {tools}"
    )
}

/// Recursively copies `src` to `dst`, keeping file permissions.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
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

    /// The rpm spec states the version by hand; keep it in step.
    #[test]
    fn spec_version_matches_workspace() {
        let root = crate::workspace_root().expect("root");
        let spec = std::fs::read_to_string(root.join("packaging/oxkit.spec")).expect("spec");
        let version = spec
            .lines()
            .find_map(|l| l.strip_prefix("Version:"))
            .map(str::trim);
        assert_eq!(
            version,
            Some(VERSION),
            "update Version: in packaging/oxkit.spec"
        );
    }

    /// Every option the example config shows, once uncommented, must be
    /// accepted by every tool, since `oxkit.conf` reaches all of them.
    #[test]
    fn example_config_is_accepted_by_every_tool() {
        let root = crate::workspace_root().expect("root");
        let text = std::fs::read_to_string(root.join(EXAMPLE_CONFIG)).expect("example");
        let uncommented: String = text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .map(|l| format!("{l}\n"))
            .collect();
        let words = oxkit::entry::parse_config_text(&uncommented, Path::new(EXAMPLE_CONFIG))
            .expect("example parses");
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

    /// dpkg rejects a control file whose continuation lines are malformed.
    #[test]
    fn control_is_well_formed() {
        let c = control("amd64", 1);
        assert!(c.ends_with('\n'));
        for line in c
            .lines()
            .skip_while(|l| !l.starts_with("Description:"))
            .skip(1)
        {
            assert!(line.starts_with(' ') && line.trim() != "", "{line:?}");
        }
        assert!(c.contains("  ox-table-sync: "));
    }
}
