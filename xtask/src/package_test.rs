//! `cargo xtask package-test`: the packages as a user gets them.
//!
//! Builds both packages (`cargo xtask dist`, which also checks that the
//! .deb and the .rpm hold the same files), runs lintian on the .deb (no
//! error, and every warning one that `packaging/README.md` lists with why
//! it stays), rpmlint on the .rpm (the same rule), then, in a fresh copy
//! of a minimal Debian root of each suite (bookworm, trixie; built once
//! by [`crate::roots::debootstrap`] with man-db and bash-completion, cached
//! next to the server roots in `/var/cache/oxkit/roots`):
//!
//! 1. installs a copy of the package with a lower version, edits a
//!    conffile, and upgrades to the real package over it (the edit must
//!    survive);
//! 2. runs every tool's `--version` (which must print the version) and
//!    `--help`, `man -w ox-backup`, and bash completion of an action and
//!    an option;
//! 3. checks the systemd units are there and not enabled;
//! 4. removes the package (only the conffiles stay), purges it, and
//!    compares every path in the root with the list taken before the
//!    install: nothing may be left but the state dpkg and man-db keep
//!    ([`VOLATILE`]).
//!
//! Everything runs through chroot, so it needs root (or passwordless
//! sudo), like the server roots.

use crate::roots::{as_root, debootstrap, roots_dir};
use crate::test::{apt_install, run};
use crate::tools::TOOLS;
use crate::VERSION;
use anyhow::{bail, Context as _, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Options of `cargo xtask package-test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Reuse the release binaries already in target/release instead of building
    #[arg(long)]
    pub no_build: bool,
    /// Debian suites to install into (default: bookworm trixie)
    pub suites: Vec<String>,
}

/// The suites the package must install on.
pub const SUITES: &[&str] = &["bookworm", "trixie"];

/// What the test roots hold beyond minbase: what the test runs.
const ROOT_PACKAGES: &str = "man-db,bash-completion";

/// Paths that change in a root by installing and purging any package:
/// dpkg's and debconf's state, logs, man-db's index (its trigger runs
/// when man pages come and go), and the test's own files in /tmp. Purge
/// must leave nothing else behind.
pub const VOLATILE: &[&str] = &[
    "var/lib/dpkg/",
    "var/log/",
    "var/cache/man/",
    "var/cache/debconf/",
    "tmp/",
];

/// Host tools the test needs, by the Debian package that has them.
const HOST_TOOLS: &[(&str, &str)] = &[
    ("dpkg-shlibdeps", "dpkg-dev"),
    ("lintian", "lintian"),
    ("rpmbuild", "rpm"),
    ("rpmlint", "rpmlint"),
    ("debootstrap", "debootstrap"),
];

/// Runs `cargo xtask package-test`.
pub fn run_args(args: &Args) -> Result<()> {
    let suites: Vec<&str> = if args.suites.is_empty() {
        SUITES.to_vec()
    } else {
        args.suites.iter().map(String::as_str).collect()
    };
    package_test(args.no_build, &suites)
}

/// The whole test, on `suites`.
pub fn package_test(no_build: bool, suites: &[&str]) -> Result<()> {
    let start = Instant::now();
    let root = crate::workspace_root()?;
    let missing: Vec<&str> = HOST_TOOLS
        .iter()
        .filter(|(program, _)| oxkit::sandbox::find_program(&[program]).is_none())
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        eprintln!("xtask: installing {}", missing.join(" "));
        apt_install(&missing)?;
    }
    let built = crate::dist::dist(&crate::dist::Args {
        no_build,
        ..Default::default()
    })?;
    let deb = built.deb.clone().context("no .deb built")?;
    let rpm = built.rpm.clone().context("no .rpm built")?;
    let documented = std::fs::read_to_string(root.join("packaging/README.md"))
        .context("reading packaging/README.md")?;
    println!("package-test: packages built in {:.0?}", start.elapsed());
    let t = Instant::now();
    lintian(&deb, &documented)?;
    rpmlint(&rpm, &documented)?;
    println!("package-test: linted in {:.0?}", t.elapsed());
    // The package to upgrade from: the same tree under a lower version.
    let prev_dir = built.dist.join("previous");
    let prev_version = format!("{VERSION}~pkgtest");
    let prev = crate::deb::build(
        &root,
        &built.stage,
        &prev_dir,
        &prev_version,
        crate::deb::Compression::Fast,
    )?;
    println!(
        "package-test: ready to install after {:.0?}",
        start.elapsed()
    );
    let mut failures = Vec::new();
    for suite in suites {
        let t = Instant::now();
        match in_root(suite, &deb, &prev, &prev_version) {
            Ok(()) => println!("package-test: {suite}: passed in {:.0?}", t.elapsed()),
            Err(e) => {
                println!("package-test: {suite}: FAILED: {e:#}");
                failures.push(format!("{suite}: {e:#}"));
            }
        }
    }
    println!(
        "package-test: {} passed, {} failed ({:.0?} in all)",
        suites.len() - failures.len(),
        failures.len(),
        start.elapsed()
    );
    if !failures.is_empty() {
        bail!("the package test failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

/// The tags of lintian or rpmlint output lines of `level` (`E`, `W`):
/// `W: oxkit: tag-name details` and rpmlint's `oxkit.x86_64: W: tag-name
/// details` alike.
fn tags(output: &str, level: &str) -> BTreeSet<String> {
    let marker = format!("{level}: ");
    output
        .lines()
        .filter_map(|l| {
            let rest = if let Some(r) = l.strip_prefix(&marker) {
                r.split_once(": ").map(|(_, r)| r)?
            } else {
                l.split_once(&format!(": {marker}")).map(|(_, r)| r)?
            };
            rest.split_whitespace().next().map(str::to_string)
        })
        .collect()
}

/// Fails on any error (but those `documented` names, when
/// `documented_errors`), and on a warning whose tag `documented` (the
/// packaging README) does not name.
fn judge(tool: &str, output: &str, documented: &str, documented_errors: bool) -> Result<()> {
    let errors: BTreeSet<String> = tags(output, "E")
        .into_iter()
        .filter(|t| !(documented_errors && documented.contains(&format!("`{t}`"))))
        .collect();
    let undocumented: Vec<String> = tags(output, "W")
        .into_iter()
        .filter(|t| !documented.contains(&format!("`{t}`")))
        .collect();
    if !errors.is_empty() || !undocumented.is_empty() {
        bail!(
            "{tool}: errors {errors:?}, warnings not listed in packaging/README.md {undocumented:?}:\n{output}"
        );
    }
    Ok(())
}

/// lintian on the .deb (its default profile, every tag up to warnings).
fn lintian(deb: &Path, documented: &str) -> Result<()> {
    let out = Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .arg(deb)
        .output()
        .context("running lintian")?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("lintian {}:\n{}", deb.display(), text.trim_end());
    judge("lintian", &text, documented, false)
}

/// rpmlint on the .rpm.
fn rpmlint(rpm: &Path, documented: &str) -> Result<()> {
    let Some(text) = crate::rpm::lint(rpm)? else {
        println!("rpmlint not installed: skipped");
        return Ok(());
    };
    println!("rpmlint {}:\n{}", rpm.display(), text.trim_end());
    // An unsigned package is an rpmlint error; signing takes the
    // publisher's key (`rpm --addsign`), so that one error is documented.
    judge("rpmlint", &text, documented, true)
}

/// The cached minimal root of `suite`, built when missing.
fn base_root(suite: &str) -> Result<PathBuf> {
    let root = roots_dir().join(format!("pkgtest-{suite}"));
    let ready = root
        .join("usr/share/bash-completion/bash_completion")
        .is_file()
        && root.join("usr/bin/man").is_file();
    if !ready {
        if root.exists() {
            run(as_root("rm").arg("-rf").arg(&root))?;
        }
        eprintln!(
            "xtask: building the {suite} package-test root in {} (debootstrap, about a minute)",
            root.display()
        );
        debootstrap(suite, ROOT_PACKAGES, &root)?;
    }
    Ok(root)
}

/// A command run inside `root` (chroot, a clean environment, no input).
fn chroot(root: &Path, args: &[&str]) -> Command {
    let mut cmd = as_root("chroot");
    cmd.arg(root)
        .args(["env", "-i", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"])
        .arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .arg("DEBIAN_FRONTEND=noninteractive")
        .args(args)
        .stdin(Stdio::null());
    cmd
}

/// Runs `args` in `root`, failing with its output; returns its stdout.
fn sh(root: &Path, args: &[&str]) -> Result<String> {
    let out = chroot(root, args)
        .output()
        .with_context(|| format!("running {args:?} in {}", root.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "{args:?} failed ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Every path under `root` (relative, directories with a trailing `/`),
/// skipping [`VOLATILE`] ones.
fn snapshot(root: &Path) -> Result<BTreeSet<String>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeSet<String>) -> Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type()?.is_dir();
            let path = if is_dir {
                format!("{rel}{name}/")
            } else {
                format!("{rel}{name}")
            };
            if VOLATILE.iter().any(|v| path.starts_with(v)) || path == "proc/" || path == "dev/" {
                continue;
            }
            if is_dir {
                walk(&entry.path(), &path, out)?;
            }
            out.insert(path);
        }
        Ok(())
    }
    let mut out = BTreeSet::new();
    walk(root, "", &mut out)?;
    Ok(out)
}

/// The installed version of oxkit in `root`, with its dpkg status.
fn status(root: &Path) -> Result<String> {
    Ok(sh(
        root,
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Version} ${db:Status-Abbrev}",
            "oxkit",
        ],
    )?
    .trim()
    .to_string())
}

/// The whole test in a fresh copy of the `suite` root.
fn in_root(suite: &str, deb: &Path, prev: &Path, prev_version: &str) -> Result<()> {
    let base = base_root(suite)?;
    let root = roots_dir().join(format!("pkgtest-{suite}.run"));
    if root.exists() {
        run(as_root("rm").arg("-rf").arg(&root))?;
    }
    run(as_root("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&base)
        .arg(&root))?;
    let result = steps(&root, deb, prev, prev_version);
    if result.is_ok() || std::env::var_os("OXKIT_KEEP_SANDBOX").is_none() {
        run(as_root("rm").arg("-rf").arg(&root))?;
    } else {
        eprintln!("xtask: kept {} (OXKIT_KEEP_SANDBOX)", root.display());
    }
    result
}

/// The steps of the test in `root`, a root nothing else uses.
fn steps(root: &Path, deb: &Path, prev: &Path, prev_version: &str) -> Result<()> {
    let suite_release = sh(root, &["cat", "/etc/debian_version"])?;
    println!(
        "package-test: Debian {} in {}",
        suite_release.trim(),
        root.display()
    );
    let before = snapshot(root)?;
    for (from, name) in [(prev, "prev.deb"), (deb, "oxkit.deb")] {
        std::fs::copy(from, root.join("tmp").join(name))
            .with_context(|| format!("copying {} into the root", from.display()))?;
    }

    // 1. Install the older copy, edit a conffile, upgrade over it.
    sh(root, &["dpkg", "-i", "/tmp/prev.deb"])?;
    let s = status(root)?;
    anyhow::ensure!(
        s == format!("{prev_version} ii"),
        "after installing the old copy: {s}"
    );
    let conf = root.join("etc/oxkit/ox-backup.conf.example");
    let mut text = std::fs::read_to_string(&conf).context("the conffile was not installed")?;
    text += "# a local edit\n";
    std::fs::write(&conf, &text).context("editing the conffile")?;
    sh(root, &["dpkg", "-i", "/tmp/oxkit.deb"])?;
    let s = status(root)?;
    anyhow::ensure!(s == format!("{VERSION} ii"), "after the upgrade: {s}");
    let kept = std::fs::read_to_string(&conf)?;
    anyhow::ensure!(
        kept == text,
        "the upgrade lost the local edit of {}",
        conf.display()
    );
    sh(root, &["dpkg", "--audit"])?;

    // 2. What a user runs first.
    for tool in TOOLS {
        let path = format!("/usr/bin/{}", tool.name);
        let v = sh(root, &[&path, "--version"])?;
        anyhow::ensure!(
            v.contains(VERSION),
            "{} --version printed {v:?}, not the version {VERSION}",
            tool.name
        );
        let help = sh(root, &[&path, "--help"])?;
        anyhow::ensure!(
            help.contains("Usage:"),
            "{} --help printed no usage",
            tool.name
        );
    }
    let page = sh(root, &["man", "-w", "ox-backup"])?;
    anyhow::ensure!(
        page.trim() == "/usr/share/man/man1/ox-backup.1.gz",
        "man -w ox-backup: {page:?}"
    );
    let rendered = sh(
        root,
        &[
            "sh",
            "-c",
            "MANWIDTH=80 man ox-backup | grep -c oxkit-backup.timer",
        ],
    )?;
    anyhow::ensure!(
        rendered.trim() != "0",
        "man ox-backup does not render the systemd units"
    );
    for (line, want) in [
        ("ox-backup ver", "verify"),
        ("ox-backup backup --max-r", "--max-rate"),
    ] {
        let got = complete(root, line)?;
        anyhow::ensure!(
            got.iter().any(|w| w == want),
            "bash completion of {line:?} offers {got:?}, not {want}"
        );
    }

    // 3. The units are there, and nothing is enabled.
    for unit in ["oxkit-backup", "oxkit-verify", "oxkit-check"] {
        for kind in ["service", "timer"] {
            let path = root.join(format!("usr/lib/systemd/system/{unit}.{kind}"));
            anyhow::ensure!(path.is_file(), "{} missing", path.display());
        }
    }
    let path = root.join("usr/lib/systemd/system/oxkit-binlog.service");
    anyhow::ensure!(path.is_file(), "{} missing", path.display());
    for target in ["timers.target.wants", "multi-user.target.wants"] {
        let wants = root.join("etc/systemd/system").join(target);
        if let Ok(entries) = std::fs::read_dir(&wants) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                anyhow::ensure!(
                    !name.starts_with("oxkit-"),
                    "{name} was enabled by the install"
                );
            }
        }
    }

    // 4. Remove keeps only the conffiles; purge leaves nothing.
    sh(root, &["dpkg", "--remove", "oxkit"])?;
    let s = status(root)?;
    anyhow::ensure!(s.ends_with(" rc"), "after remove: {s}");
    anyhow::ensure!(
        !root.join("usr/bin/ox-backup").exists(),
        "remove left /usr/bin/ox-backup"
    );
    for c in crate::deb::CONFFILES {
        let path = root.join(c.trim_start_matches('/'));
        anyhow::ensure!(path.is_file(), "remove took the conffile {c}");
    }
    sh(root, &["dpkg", "--purge", "oxkit"])?;
    let gone = chroot(root, &["dpkg-query", "-W", "oxkit"])
        .output()
        .context("dpkg-query")?;
    anyhow::ensure!(!gone.status.success(), "dpkg still knows oxkit after purge");
    for name in ["prev.deb", "oxkit.deb"] {
        let _ = std::fs::remove_file(root.join("tmp").join(name));
    }
    let after = snapshot(root)?;
    let left: Vec<&String> = after.difference(&before).collect();
    let lost: Vec<&String> = before.difference(&after).collect();
    if !left.is_empty() || !lost.is_empty() {
        bail!("after purge the root differs from before the install:\n  left behind: {left:?}\n  gone: {lost:?}");
    }
    Ok(())
}

/// What bash completion offers for the last word of `line`, through the
/// installed script loaded the way an interactive shell loads it
/// (bash-completion's on-demand loader).
fn complete(root: &Path, line: &str) -> Result<Vec<String>> {
    let script = r#"
. /usr/share/bash-completion/bash_completion
read -ra COMP_WORDS <<< "$LINE"
cmd=${COMP_WORDS[0]}
if declare -F _comp_load >/dev/null; then _comp_load "$cmd"; else _completion_loader "$cmd"; fi
spec=$(complete -p "$cmd") || exit 3
fn=$(printf '%s\n' "$spec" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
[ -n "$fn" ] || exit 4
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE=$LINE
COMP_POINT=${#LINE}
"$fn" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let env_line = format!("LINE={line}");
    let out = sh(root, &[&env_line, "bash", "-c", script])?;
    Ok(out.lines().map(|l| l.trim().to_string()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lintian_and_rpmlint_tags() {
        let lintian = "E: oxkit: no-copyright-file\nW: oxkit: binary-without-manpage [usr/bin/x]\nN: note\nI: oxkit: info-tag\n";
        assert_eq!(
            tags(lintian, "E"),
            BTreeSet::from(["no-copyright-file".to_string()])
        );
        assert_eq!(
            tags(lintian, "W"),
            BTreeSet::from(["binary-without-manpage".to_string()])
        );
        let rpmlint = "oxkit.x86_64: W: no-documentation\noxkit.x86_64: E: invalid-license MIT\n1 packages and 0 specfiles checked; 1 errors, 1 warnings.\n";
        assert_eq!(
            tags(rpmlint, "W"),
            BTreeSet::from(["no-documentation".to_string()])
        );
        assert_eq!(
            tags(rpmlint, "E"),
            BTreeSet::from(["invalid-license".to_string()])
        );
        assert!(judge(
            "x",
            "W: oxkit: documented-one\n",
            "`documented-one`: why",
            false
        )
        .is_ok());
        assert!(judge("x", "W: oxkit: another\n", "`documented-one`", false).is_err());
        let both = "`no-documentation` `invalid-license`";
        assert!(judge("x", rpmlint, both, false).is_err());
        assert!(judge("x", rpmlint, both, true).is_ok());
    }

    #[test]
    fn volatile_paths_are_relative_directories() {
        for v in VOLATILE {
            assert!(!v.starts_with('/') && v.ends_with('/'), "{v}");
        }
    }
}
