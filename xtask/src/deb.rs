//! The Debian package, built from the staging tree of `cargo xtask dist`
//! with dpkg's own tools: the tree is copied to
//! `target/dist/deb/<name>/debian/oxkit` (the layout `dpkg-shlibdeps`
//! expects), given `DEBIAN/` (control with `Depends` from
//! `dpkg-shlibdeps`, conffiles, md5sums, maintainer scripts for the
//! systemd units) and packed by `dpkg-deb --root-owner-group --build`.
//!
//! A version other than the workspace's can be asked for: the package
//! test builds a lower-versioned copy to upgrade from.

use crate::dist::{gzip, put};
use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The config files under `/etc`, kept across upgrades and removed only
/// by purge.
pub const CONFFILES: &[&str] = &[
    "/etc/oxkit/oxkit.conf.example",
    "/etc/oxkit/ox-backup.conf.example",
];

/// What the tools call but do not need to start: the client programs
/// `ox-backup restore --until` runs for point-in-time recovery
/// (`mariadb-binlog`/`mysqlbinlog` piped into `mariadb`/`mysql`).
const RECOMMENDS: &str = "mariadb-client | default-mysql-client";

/// What `ox-backup verify` and `restore --to-datadir` start a throwaway
/// server with, usually already on a database host.
const SUGGESTS: &str = "mariadb-server | default-mysql-server";

/// The Debian name of the architecture the binaries were built for.
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        other => other,
    }
}

/// The systemd units an administrator enables, for the maintainer
/// scripts: the timers (each with its service), and a service with no
/// timer (the binary-log archive).
fn timers(stage: &Path) -> Result<Vec<String>> {
    let dir = stage.join(crate::dist::UNIT_DIR);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let timed = name
            .strip_suffix(".service")
            .is_some_and(|b| dir.join(format!("{b}.timer")).exists());
        if name.ends_with(".timer") || (name.ends_with(".service") && !timed) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// How the package's data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// xz, dpkg's default: the package people download.
    Release,
    /// gzip -1: a package built only to be installed at once (the package
    /// test's older copy), in a second instead of half a minute.
    Fast,
}

/// Builds `oxkit_<version>_<arch>.deb` in `out_dir` from the staging tree
/// `stage`, and returns its path.
pub fn build(
    root: &Path,
    stage: &Path,
    out_dir: &Path,
    version: &str,
    compression: Compression,
) -> Result<PathBuf> {
    for program in ["dpkg-deb", "dpkg-shlibdeps", "md5sum"] {
        if oxkit::sandbox::find_program(&[program]).is_none() {
            bail!(
                "{program} not found: install it (apt-get install dpkg-dev), or leave the .deb out with --no-deb"
            );
        }
    }
    let arch = arch();
    let name = format!("oxkit_{version}_{arch}");
    let work = out_dir.join("deb").join(&name);
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("removing {}", work.display()))?;
    }
    let pkg = work.join("debian/oxkit");
    crate::dist::copy_tree(stage, &pkg)?;
    // The changelog names the package's version.
    let releases = crate::changelog::read(root)?;
    let changelog = crate::changelog::debian(&releases, version, crate::dist::maintainer());
    put(
        &pkg.join("usr/share/doc/oxkit/changelog.gz"),
        &gzip(changelog.as_bytes())?,
        0o644,
    )?;
    let depends = shlibdeps(&work, &pkg)?;
    let installed_kib = installed_size(&pkg)?;
    put(
        &pkg.join("DEBIAN/control"),
        control(version, arch, installed_kib, &depends).as_bytes(),
        0o644,
    )?;
    let conffiles: String = CONFFILES.iter().map(|c| format!("{c}\n")).collect();
    put(&pkg.join("DEBIAN/conffiles"), conffiles.as_bytes(), 0o644)?;
    let timers = timers(stage)?;
    for (script, text) in maintainer_scripts(&timers) {
        put(&pkg.join("DEBIAN").join(script), text.as_bytes(), 0o755)?;
    }
    let sums = md5sums(&pkg)?;
    put(&pkg.join("DEBIAN/md5sums"), sums.as_bytes(), 0o644)?;
    let out = out_dir.join(format!("{name}.deb"));
    let compress: &[&str] = match compression {
        Compression::Release => &["-Zxz"],
        Compression::Fast => &["-Zgzip", "-z1"],
    };
    let status = Command::new("dpkg-deb")
        .arg("--root-owner-group")
        .args(compress)
        .arg("--build")
        .arg(&pkg)
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running dpkg-deb")?;
    anyhow::ensure!(status.success(), "dpkg-deb --build failed: {status}");
    Ok(out)
}

/// `Depends` as `dpkg-shlibdeps` computes it from the shared libraries the
/// binaries load (libc6 and libgcc-s1, with the lowest versions whose
/// symbols they use). It runs in `work`, which holds the package tree at
/// `debian/oxkit` and the `debian/control` it insists on reading.
fn shlibdeps(work: &Path, pkg: &Path) -> Result<String> {
    std::fs::write(work.join("debian/control"), "")
        .with_context(|| format!("writing {}/debian/control", work.display()))?;
    let mut cmd = Command::new("dpkg-shlibdeps");
    cmd.current_dir(work).arg("-O");
    for tool in crate::tools::TOOLS {
        cmd.arg(pkg.join("usr/bin").join(tool.name));
    }
    let out = cmd.output().context("running dpkg-shlibdeps")?;
    if !out.status.success() {
        bail!(
            "dpkg-shlibdeps failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("shlibs:Depends="))
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .with_context(|| format!("dpkg-shlibdeps printed no shlibs:Depends: {text}"))
}

/// `Installed-Size` as dpkg-gencontrol counts it: KiB, each file rounded
/// up to a whole KiB, directories one each.
fn installed_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            1 + installed_size(&entry.path())?
        } else {
            meta.len().div_ceil(1024)
        };
    }
    Ok(total)
}

/// `DEBIAN/md5sums`: the md5 of every file, by path relative to the root.
fn md5sums(pkg: &Path) -> Result<String> {
    let mut files = Vec::new();
    list_files(pkg, Path::new(""), &mut files)?;
    files.retain(|f| !f.starts_with("DEBIAN"));
    files.sort();
    let out = Command::new("md5sum")
        .current_dir(pkg)
        .arg("--")
        .args(&files)
        .output()
        .context("running md5sum")?;
    if !out.status.success() {
        bail!("md5sum failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    String::from_utf8(out.stdout).context("md5sum output")
}

/// Every regular file under `dir`, relative to it.
pub fn list_files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            list_files(&entry.path(), &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The `DEBIAN/control` file. The long description lists each tool with
/// its one-line `about` from clap.
pub fn control(version: &str, arch: &str, installed_kib: u64, depends: &str) -> String {
    let mut tools = String::new();
    for tool in crate::tools::TOOLS {
        let cmd = (tool.command)();
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        tools += &format!("  {}: {about}\n", tool.name);
    }
    format!(
        "Package: oxkit\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {maintainer}\n\
         Installed-Size: {installed_kib}\n\
         Depends: {depends}\n\
         Recommends: {RECOMMENDS}\n\
         Suggests: {SUGGESTS}\n\
         Section: database\n\
         Priority: optional\n\
         Homepage: {homepage}\n\
         Description: command-line tools for MySQL and MariaDB DBAs\n \
         oxkit replaces the most used Percona Toolkit tools with five programs\n \
         that share one connection syntax (DSNs, URLs, my.cnf), one config file\n \
         format and one set of exit codes:\n\
         {tools} \
         .\n \
         systemd timers for nightly backups, weekly verification and an hourly\n \
         freshness check, and a service archiving the binary log continuously,\n \
         are included, disabled.\n",
        maintainer = crate::dist::maintainer(),
        homepage = crate::dist::HOMEPAGE,
    )
}

/// The maintainer scripts: what debhelper's `dh_installsystemd
/// --no-enable` would write for the timers (record their state so purge
/// can remove links an administrator made, stop them on removal, reload
/// systemd), through `deb-systemd-helper`/`deb-systemd-invoke` when
/// installed (init-system-helpers; without systemd there is nothing to
/// do). `postrm purge` also removes the throwaway server's template cache
/// ox-backup keeps for root (`/var/cache/oxkit/sandbox`).
fn maintainer_scripts(timers: &[String]) -> Vec<(&'static str, String)> {
    let units: String = timers
        .iter()
        .map(|t| format!("'{t}' "))
        .collect::<String>()
        .trim_end()
        .to_string();
    let postinst = format!(
        "#!/bin/sh\n\
         set -e\n\
         # The units and timers are installed disabled: record their state\n\
         # (so purge can undo an administrator's `systemctl enable`) and let\n\
         # systemd see the new files. Nothing is enabled or started.\n\
         if [ \"$1\" = configure ] || [ \"$1\" = abort-upgrade ] || [ \"$1\" = abort-deconfigure ] || [ \"$1\" = abort-remove ]; then\n\
         \tif command -v deb-systemd-helper >/dev/null; then\n\
         \t\tfor unit in {units}; do\n\
         \t\t\tdeb-systemd-helper update-state \"$unit\" >/dev/null || true\n\
         \t\tdone\n\
         \tfi\n\
         \tif [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
         \t\tsystemctl --system daemon-reload >/dev/null || true\n\
         \tfi\n\
         fi\n"
    );
    let prerm = format!(
        "#!/bin/sh\n\
         set -e\n\
         # Stop the timers an administrator enabled before their program goes.\n\
         if [ -z \"${{DPKG_ROOT:-}}\" ] && [ \"$1\" = remove ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null; then\n\
         \tdeb-systemd-invoke stop {units} >/dev/null || true\n\
         fi\n"
    );
    let postrm = format!(
        "#!/bin/sh\n\
         set -e\n\
         if [ -z \"${{DPKG_ROOT:-}}\" ] && [ -d /run/systemd/system ]; then\n\
         \tsystemctl --system daemon-reload >/dev/null || true\n\
         fi\n\
         if [ \"$1\" = purge ]; then\n\
         \tif command -v deb-systemd-helper >/dev/null; then\n\
         \t\tfor unit in {units}; do\n\
         \t\t\tdeb-systemd-helper purge \"$unit\" >/dev/null || true\n\
         \t\tdone\n\
         \tfi\n\
         \t# ox-backup's cache of a bootstrapped datadir (verify, run as root).\n\
         \trm -rf /var/cache/oxkit/sandbox\n\
         \trmdir /var/cache/oxkit 2>/dev/null || true\n\
         fi\n"
    );
    vec![("postinst", postinst), ("prerm", prerm), ("postrm", postrm)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dpkg rejects a control file whose continuation lines are malformed.
    #[test]
    fn control_is_well_formed() {
        let c = control("0.1.0", "amd64", 1, "libc6 (>= 2.34)");
        assert!(c.ends_with('\n'));
        for line in c
            .lines()
            .skip_while(|l| !l.starts_with("Description:"))
            .skip(1)
        {
            assert!(line.starts_with(' ') && line.trim() != "", "{line:?}");
            assert!(line.len() <= 80, "{line:?}");
        }
        assert!(c.contains("  ox-table-sync: "));
        assert!(c.contains("\nDepends: libc6 (>= 2.34)\n"));
        assert!(c.contains("\nRecommends: mariadb-client | default-mysql-client\n"));
    }

    /// The scripts are POSIX sh that `sh -n` accepts, and name every timer.
    #[test]
    fn maintainer_scripts_parse() {
        let timers = vec!["a.timer".to_string(), "b.timer".to_string()];
        for (name, text) in maintainer_scripts(&timers) {
            assert!(text.starts_with("#!/bin/sh\nset -e\n"), "{name}");
            let out = Command::new("sh")
                .args(["-n", "-c", &text])
                .output()
                .expect("sh");
            assert!(out.status.success(), "{name}: {out:?}\n{text}");
            if name != "postinst" || text.contains("update-state") {
                assert!(text.contains("'a.timer' 'b.timer'"), "{name}");
            }
        }
    }
}
