//! The RPM, built with `rpmbuild` from the same staging tree as the .deb
//! (`packaging/oxkit.spec`, with `%changelog` appended from
//! `packaging/NEWS.md`), and the check that both packages hold the same
//! files: `rpm -qp` and `dpkg-deb -c` listings compared path by path and
//! mode by mode, the one deliberate difference (zsh completions in
//! `site-functions` on rpm systems, `vendor-completions` on Debian)
//! mapped.

use anyhow::{bail, Context as _, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The committed spec, relative to the workspace root.
pub const SPEC: &str = "packaging/oxkit.spec";

/// rpm's name for the build architecture.
fn arch() -> &'static str {
    std::env::consts::ARCH
}

/// Builds `oxkit-<version>-1.<arch>.rpm` in `out_dir` from `stage`, and
/// returns its path.
pub fn build(root: &Path, stage: &Path, out_dir: &Path) -> Result<PathBuf> {
    if oxkit::sandbox::find_program(&["rpmbuild"]).is_none() {
        bail!("rpmbuild not found: install it (apt-get install rpm), or leave the .rpm out with --no-rpm");
    }
    let top = out_dir.join("rpm");
    if top.exists() {
        std::fs::remove_dir_all(&top).with_context(|| format!("removing {}", top.display()))?;
    }
    std::fs::create_dir_all(top.join("SPECS"))?;
    let spec_text =
        std::fs::read_to_string(root.join(SPEC)).with_context(|| format!("reading {SPEC}"))?;
    let releases = crate::changelog::read(root)?;
    let spec_text = format!(
        "{}\n{}",
        spec_text.trim_end(),
        crate::changelog::rpm(&releases, crate::dist::maintainer())
    );
    let spec = top.join("SPECS/oxkit.spec");
    std::fs::write(&spec, spec_text).with_context(|| format!("writing {}", spec.display()))?;
    let define = |k: &str, v: &Path| format!("{k} {}", v.display());
    let out = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--nodeps")
        .arg("--define")
        .arg(define("_topdir", &top))
        .arg("--define")
        .arg(define("stagedir", stage))
        .arg("--define")
        .arg(format!("packager {}", crate::dist::maintainer()))
        // Reproducible: file times from the changelog, no build host name.
        .args(["--define", "use_source_date_epoch_as_buildtime 1"])
        .args(["--define", "clamp_mtime_to_source_date_epoch 1"])
        .arg(&spec)
        .env("SOURCE_DATE_EPOCH", source_date_epoch(&releases))
        .output()
        .context("running rpmbuild")?;
    if !out.status.success() {
        bail!(
            "rpmbuild failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let name = format!("oxkit-{}-1.{}.rpm", crate::VERSION, arch());
    let built = top.join("RPMS").join(arch()).join(&name);
    let dest = out_dir.join(&name);
    std::fs::copy(&built, &dest).with_context(|| format!("copying {}", built.display()))?;
    Ok(dest)
}

/// The newest release's date as seconds since the epoch (midnight UTC).
fn source_date_epoch(releases: &[crate::changelog::Release]) -> String {
    let Some((y, m, d)) = releases.first().map(|r| r.date) else {
        return "0".into();
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400).to_string()
}

/// One entry of a package: its permission string and its path from `/`.
type Entry = (String, String);

/// The non-directory entries of a .deb (`dpkg-deb -c`), zsh completions
/// moved to where the rpm has them.
pub fn deb_files(deb: &Path) -> Result<BTreeSet<Entry>> {
    let out = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .context("running dpkg-deb -c")?;
    if !out.status.success() {
        bail!("dpkg-deb -c: {}", String::from_utf8_lossy(&out.stderr));
    }
    let mut set = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // drwxr-xr-x root/root 0 2026-11-24 00:00 ./usr/bin/
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(perms), Some(path)) = (fields.first(), fields.get(5)) else {
            continue;
        };
        if perms.starts_with('d') {
            continue;
        }
        let path = path.trim_start_matches('.').replace(
            "/usr/share/zsh/vendor-completions/",
            "/usr/share/zsh/site-functions/",
        );
        set.insert((perms.to_string(), path));
    }
    Ok(set)
}

/// The non-directory entries of an .rpm (`rpm -qp`).
pub fn rpm_files(rpm: &Path) -> Result<BTreeSet<Entry>> {
    let out = Command::new("rpm")
        .args(["-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\\n]"])
        .arg(rpm)
        .output()
        .context("running rpm -qp")?;
    if !out.status.success() {
        bail!("rpm -qp: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(perms, _)| !perms.starts_with('d'))
        .map(|(p, f)| (p.to_string(), f.to_string()))
        .collect())
}

/// Fails, listing the differences, unless the two packages hold the same
/// files with the same modes. Returns how many files each holds.
pub fn compare(deb: &Path, rpm: &Path) -> Result<usize> {
    let d = deb_files(deb)?;
    let r = rpm_files(rpm)?;
    if d.len() < 20 {
        bail!("{} lists only {} files", deb.display(), d.len());
    }
    let only_deb: Vec<String> = d.difference(&r).map(|(p, f)| format!("{p} {f}")).collect();
    let only_rpm: Vec<String> = r.difference(&d).map(|(p, f)| format!("{p} {f}")).collect();
    if !only_deb.is_empty() || !only_rpm.is_empty() {
        bail!(
            "the .deb and the .rpm differ:\n  only in the .deb: {}\n  only in the .rpm: {}",
            only_deb.join("\n    "),
            only_rpm.join("\n    ")
        );
    }
    Ok(d.len())
}

/// rpmlint's settings for the package, relative to the workspace root.
pub const RPMLINT_CONFIG: &str = "packaging/rpmlint.toml";

/// `rpmlint` on the package when it is installed (Debian's `rpmlint`),
/// with `packaging/rpmlint.toml`; its report, or None when it is not
/// installed.
pub fn lint(rpm: &Path) -> Result<Option<String>> {
    if oxkit::sandbox::find_program(&["rpmlint"]).is_none() {
        return Ok(None);
    }
    let root = crate::workspace_root()?;
    let out = Command::new("rpmlint")
        .arg("--config")
        .arg(root.join(RPMLINT_CONFIG))
        .arg(rpm)
        .output()
        .context("running rpmlint")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spec states version and URL by hand; keep them in step.
    #[test]
    fn spec_matches_workspace() {
        let root = crate::workspace_root().expect("root");
        let spec = std::fs::read_to_string(root.join(SPEC)).expect("spec");
        let field = |name: &str| {
            spec.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .map(str::to_string)
        };
        assert_eq!(
            field("Version:").as_deref(),
            Some(crate::VERSION),
            "update Version: in {SPEC}"
        );
        assert_eq!(
            field("URL:").as_deref(),
            Some(crate::dist::HOMEPAGE),
            "update URL: in {SPEC}"
        );
        assert_eq!(
            field("License:").as_deref(),
            Some(env!("CARGO_PKG_LICENSE")),
            "update License: in {SPEC}"
        );
    }

    #[test]
    fn epoch_of_a_date() {
        let r = crate::changelog::parse("## 1 (2026-11-24)\n- x\n").expect("parse");
        assert_eq!(source_date_epoch(&r), "1795478400");
        let r = crate::changelog::parse("## 1 (1970-01-02)\n- x\n").expect("parse");
        assert_eq!(source_date_epoch(&r), "86400");
    }
}
