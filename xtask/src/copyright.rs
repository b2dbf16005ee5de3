//! The package's `copyright` file, in Debian's machine-readable format
//! (DEP-5): oxkit's own licence, then one paragraph for every crate
//! statically linked into the five binaries, and the text of every
//! licence they name.
//!
//! The crates come from `cargo metadata` at build time: the normal
//! (not build, not dev) dependencies of the binaries, for the target
//! platform, without proc-macro crates (they run in the compiler and are
//! not linked). Licence texts not in Debian's `/usr/share/common-licenses`
//! are committed in `packaging/licenses/<SPDX id>`; a crate naming a
//! licence with neither fails the build with the name to add, so a new
//! dependency cannot ship without its licence.

use anyhow::{bail, Context as _, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

/// Committed licence texts, relative to the workspace root.
const LICENSES: &str = "packaging/licenses";

/// Licences Debian ships in `/usr/share/common-licenses` (base-files,
/// bookworm and later), referred to instead of copied.
const COMMON: &[(&str, &str)] = &[
    ("Apache-2.0", "the Apache License, Version 2.0"),
    ("CC0-1.0", "the Creative Commons CC0 1.0 Universal licence"),
    ("MPL-2.0", "the Mozilla Public License, Version 2.0"),
];

/// The Rust standard library, linked into every binary but not in
/// `cargo metadata`.
const STD: &str = "Files: vendor/rust-std/*\n\
Copyright: The Rust Project Developers\n\
License: MIT or Apache-2.0, and Apache-2.0 with LLVM exception\n\
Comment: The Rust standard library (core, alloc, std and the crates they\n \
use), linked into every Rust program; its compiler-builtins crate carries\n \
code from LLVM's compiler-rt.\n";

/// One linked crate.
#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// The SPDX expression of `license`, or None when the crate gives a
    /// `license-file` instead.
    pub license: Option<String>,
    /// The text of `license-file`, when that is what the crate gives.
    pub license_text: Option<String>,
    pub authors: Vec<String>,
    pub repository: Option<String>,
}

/// The target triple the binaries are built for (the host's: dist builds
/// natively).
fn host_triple() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

/// Every crate linked into the five binaries, sorted by name and version,
/// oxkit's own crates left out.
pub fn linked_crates(root: &Path) -> Result<Vec<Crate>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(host_triple())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let bins: Vec<&str> = crate::tools::TOOLS.iter().map(|t| t.name).collect();
    from_metadata(&meta, &bins)
}

/// The walk of [`linked_crates`] over parsed metadata.
fn from_metadata(meta: &Value, bins: &[&str]) -> Result<Vec<Crate>> {
    let empty = Vec::new();
    let packages = meta["packages"].as_array().unwrap_or(&empty);
    let by_id: HashMap<&str, &Value> = packages
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .context("cargo metadata has no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let workspace: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut stack: Vec<&str> = packages
        .iter()
        .filter(|p| p["name"].as_str().is_some_and(|n| bins.contains(&n)))
        .filter_map(|p| p["id"].as_str())
        .collect();
    if stack.len() != bins.len() {
        bail!("cargo metadata lacks some of {bins:?}");
    }
    let is_proc_macro = |p: &Value| {
        p["targets"].as_array().is_some_and(|ts| {
            ts.iter().any(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "proc-macro"))
            })
        })
    };
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = nodes
            .get(id)
            .with_context(|| format!("{id} not resolved"))?;
        for dep in node["deps"].as_array().unwrap_or(&empty) {
            let normal = dep["dep_kinds"]
                .as_array()
                .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()));
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            let pkg = by_id
                .get(dep_id)
                .with_context(|| format!("{dep_id} missing"))?;
            if normal && !is_proc_macro(pkg) {
                stack.push(dep_id);
            }
        }
    }
    let mut out = Vec::new();
    for id in seen {
        if workspace.contains(id) {
            continue;
        }
        let p = by_id[id];
        let text = |key: &str| p[key].as_str().map(str::to_string);
        let license_text = match (p["license"].as_str(), p["license_file"].as_str()) {
            (None, Some(file)) => {
                let manifest = p["manifest_path"].as_str().context("no manifest_path")?;
                let path = Path::new(manifest)
                    .parent()
                    .context("manifest_path")?
                    .join(file);
                Some(
                    std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?,
                )
            }
            (None, None) => bail!("crate {} {} declares no licence", p["name"], p["version"]),
            _ => None,
        };
        out.push(Crate {
            name: text("name").unwrap_or_default(),
            version: text("version").unwrap_or_default(),
            license: text("license"),
            license_text,
            authors: p["authors"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            repository: text("repository"),
        });
    }
    out.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(out)
}

/// One term of a licence expression: a licence, with its exception.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Term {
    id: String,
    exception: Option<String>,
}

impl Term {
    /// The name of its License paragraph.
    fn dep5(&self) -> String {
        match &self.exception {
            Some(e) => format!("{} with {} exception", self.id, exception_name(e)),
            None => self.id.clone(),
        }
    }
}

/// `LLVM-exception` → `LLVM`, as DEP-5 writes `with LLVM exception`.
fn exception_name(spdx: &str) -> &str {
    spdx.strip_suffix("-exception").unwrap_or(spdx)
}

/// A crate's SPDX expression rendered for DEP-5 (lower-case operators,
/// `with X exception`, `(A OR B) AND C` as `A or B, and C`), with the
/// terms it names. Old-style `MIT/Apache-2.0` means OR.
fn dep5_expression(spdx: &str) -> Result<(String, Vec<Term>)> {
    let spdx = spdx.replace('/', " OR ");
    let spaced = spdx.replace('(', " ( ").replace(')', " ) ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out = String::new();
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match w {
            "(" => depth += 1,
            ")" => {
                depth = depth.checked_sub(1).context("unbalanced parentheses")?;
                // `(A OR B) AND C`: DEP-5's comma binds loosest.
                if depth == 0 && i + 1 < words.len() {
                    out.push(',');
                }
            }
            "OR" | "AND" => {
                out.push(' ');
                out.push_str(&w.to_lowercase());
            }
            "WITH" => {
                let e = words.get(i + 1).context("WITH without an exception")?;
                let last: &mut Term = terms.last_mut().context("WITH without a licence")?;
                last.exception = Some((*e).to_string());
                out.push_str(&format!(" with {} exception", exception_name(e)));
                i += 1;
            }
            id => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(id);
                terms.push(Term {
                    id: id.to_string(),
                    exception: None,
                });
            }
        }
        i += 1;
    }
    if depth != 0 {
        bail!("unbalanced parentheses in {spdx:?}");
    }
    if spdx.matches('(').count() > 1 || (spdx.contains('(') && !spdx.trim_start().starts_with('('))
    {
        bail!("licence expression {spdx:?} is too nested to write in DEP-5 here");
    }
    Ok((out, terms))
}

/// A DEP-5 field value over several lines: continuation lines start with
/// a space, blank lines become ` .`.
fn field_text(text: &str) -> String {
    let mut out = String::new();
    for line in text.trim_end().lines() {
        let line = line.trim_end();
        out += if line.is_empty() { " ." } else { " " };
        out += line;
        out.push('\n');
    }
    out
}

/// The licence paragraph for `term`.
fn license_paragraph(root: &Path, term: &Term) -> Result<String> {
    let mut body = match COMMON.iter().find(|(id, _)| *id == term.id) {
        Some((id, title)) => format!(
            "On Debian systems, the complete text of {title} can be found in\n\
             /usr/share/common-licenses/{id}.\n"
        ),
        None => {
            let path = root.join(LICENSES).join(&term.id);
            std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "no text for licence {}: add it as {} (or to COMMON in copyright.rs if Debian's /usr/share/common-licenses has it)",
                    term.id,
                    path.display()
                )
            })?
        }
    };
    if let Some(e) = &term.exception {
        let path = root.join(LICENSES).join(e);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("no text for exception {e}: add it as {}", path.display()))?;
        body = format!("{body}\n{text}");
    }
    Ok(format!("License: {}\n{}", term.dep5(), field_text(&body)))
}

/// The `Copyright:` value of a crate: its authors, else its name.
fn holders(c: &Crate) -> String {
    let authors: Vec<&str> = c
        .authors
        .iter()
        .map(String::as_str)
        .filter(|a| !a.trim().is_empty())
        .collect();
    if authors.is_empty() {
        format!("the {} authors", c.name)
    } else {
        authors.join("\n ")
    }
}

/// The whole copyright file for `crates`.
pub fn render(root: &Path, crates: &[Crate]) -> Result<String> {
    let maintainer = crate::dist::maintainer();
    let mut out = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: oxkit\n\
         Upstream-Contact: {maintainer}\n\
         Source: {}\n\
         Comment: The five programs are statically linked Rust binaries: besides\n \
         oxkit's own code they contain the Rust standard library and every crate\n \
         listed below (from crates.io, as `cargo metadata` resolved them for the\n \
         build). The `vendor/` paths name those crates' sources.\n\n",
        crate::dist::HOMEPAGE
    );
    let (own, mut terms) = dep5_expression(env!("CARGO_PKG_LICENSE"))?;
    out += &format!(
        "Files: *\nCopyright: {}\nLicense: {own}\n\n",
        crate::dist::authors_name()
    );
    out += STD;
    out.push('\n');
    terms.extend(dep5_expression("MIT OR Apache-2.0 AND Apache-2.0 WITH LLVM-exception")?.1);
    let mut refs: BTreeMap<String, String> = BTreeMap::new();
    for c in crates {
        let license = match (&c.license, &c.license_text) {
            (Some(spdx), _) => {
                let (text, t) = dep5_expression(spdx)
                    .with_context(|| format!("licence of {} {}", c.name, c.version))?;
                terms.extend(t);
                text
            }
            (None, Some(text)) => {
                let name = format!("{}-license", c.name);
                refs.insert(name.clone(), text.clone());
                name
            }
            (None, None) => bail!("{} has no licence", c.name),
        };
        out += &format!(
            "Files: vendor/{}-{}/*\nCopyright: {}\nLicense: {license}\n",
            c.name,
            c.version,
            holders(c)
        );
        if let Some(repo) = &c.repository {
            out += &format!("Comment: {repo}\n");
        }
        out.push('\n');
    }
    let terms: BTreeSet<Term> = terms.into_iter().collect();
    let mut paragraphs = Vec::new();
    for t in &terms {
        paragraphs.push(license_paragraph(root, t)?);
    }
    for (name, text) in refs {
        paragraphs.push(format!("License: {name}\n{}", field_text(&text)));
    }
    out += &paragraphs.join("\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(spdx: &str) -> (String, Vec<String>) {
        let (text, terms) = dep5_expression(spdx).expect("renders");
        (text, terms.iter().map(Term::dep5).collect())
    }

    #[test]
    fn spdx_to_dep5() {
        assert_eq!(
            names("MIT OR Apache-2.0"),
            (
                "MIT or Apache-2.0".into(),
                vec!["MIT".into(), "Apache-2.0".into()]
            )
        );
        assert_eq!(names("MIT/Apache-2.0").0, "MIT or Apache-2.0");
        assert_eq!(
            names("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"),
            (
                "Apache-2.0 with LLVM exception or Apache-2.0 or MIT".into(),
                vec![
                    "Apache-2.0 with LLVM exception".into(),
                    "Apache-2.0".into(),
                    "MIT".into()
                ]
            )
        );
        assert_eq!(
            names("(MIT OR Apache-2.0) AND Unicode-3.0").0,
            "MIT or Apache-2.0, and Unicode-3.0"
        );
        assert!(dep5_expression("(MIT OR (Apache-2.0 AND ISC))").is_err());
        assert!(dep5_expression("(MIT").is_err());
    }

    #[test]
    fn multi_line_fields() {
        assert_eq!(field_text("a\n\nb\n"), " a\n .\n b\n");
    }

    /// The crates the binaries link, and a copyright file naming each of
    /// them with every licence text present: a new dependency with a new
    /// licence fails here until its text is committed.
    #[test]
    fn every_linked_crate_and_licence_is_covered() {
        let root = crate::workspace_root().expect("root");
        let crates = linked_crates(&root).expect("cargo metadata");
        let names: BTreeSet<&str> = crates.iter().map(|c| c.name.as_str()).collect();
        for expected in ["mysql", "clap", "zstd-sys", "ring", "rustls", "libc"] {
            assert!(names.contains(expected), "{expected} missing: {names:?}");
        }
        for not_linked in ["clap_derive", "serde_derive", "cc", "oxkit", "xtask"] {
            assert!(!names.contains(not_linked), "{not_linked} is not linked");
        }
        let text = render(&root, &crates).expect("render");
        for c in &crates {
            assert!(
                text.contains(&format!("Files: vendor/{}-{}/*\n", c.name, c.version)),
                "{}",
                c.name
            );
        }
        // Every name used in a License: line has its own paragraph.
        let paragraphs: BTreeSet<&str> = text
            .split("\n\n")
            .filter_map(|p| p.strip_prefix("License: "))
            .filter_map(|p| p.lines().next())
            .collect();
        for line in text.lines().filter_map(|l| l.strip_prefix("License: ")) {
            for part in line.split([',']).flat_map(|p| p.split(" or ")) {
                for name in part.split(" and ") {
                    let name = name.trim();
                    if name.is_empty() {
                        continue;
                    }
                    assert!(paragraphs.contains(name), "no paragraph for {name:?}");
                }
            }
        }
        assert!(text.contains("/usr/share/common-licenses/Apache-2.0"));
    }
}
