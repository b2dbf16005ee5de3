//! Generated files that are committed to the repository (man pages,
//! completions): written by a task, and checked by `--check` and by tests
//! so a stale copy fails CI instead of shipping.

use anyhow::{Context as _, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One generated file: where it goes (relative to the workspace root) and
/// what it must contain.
pub struct Generated {
    /// Path relative to the workspace root.
    pub path: PathBuf,
    /// Exact contents.
    pub contents: String,
}

/// Writes every file that is missing or different (leaving up-to-date
/// files untouched, so their mtimes do not change) and reports stray files.
pub fn write(root: &Path, files: &[Generated]) -> Result<()> {
    for file in files {
        let path = root.join(&file.path);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", file.path.display());
    }
    for stray in strays(root, files)? {
        println!("warning: {stray} is not generated any more; remove it");
    }
    Ok(())
}

/// Lists every problem with the committed copies: missing files, files
/// whose contents differ, and files in the generated directories that
/// nothing generates. Empty means up to date.
pub fn problems(root: &Path, files: &[Generated]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        match std::fs::read_to_string(&path) {
            Ok(text) if text == file.contents => {}
            Ok(_) => out.push(format!("stale: {}", file.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.push(format!("missing: {}", file.path.display()))
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    out.extend(
        strays(root, files)?
            .into_iter()
            .map(|s| format!("not generated: {s}")),
    );
    Ok(out)
}

/// Fails with the list of [`problems`] and the command that fixes them.
pub fn check(root: &Path, files: &[Generated], fix: &str) -> Result<()> {
    let problems = problems(root, files)?;
    if problems.is_empty() {
        println!("{} generated files are up to date", files.len());
        return Ok(());
    }
    anyhow::bail!(
        "generated files are out of date (run `{fix}` and commit the result):\n  {}",
        problems.join("\n  ")
    )
}

/// Files sitting in the directories we generate into that are not in
/// `files` (a renamed tool's old page, say), relative to `root`.
fn strays(root: &Path, files: &[Generated]) -> Result<Vec<String>> {
    let expected: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let dirs: BTreeSet<&Path> = files.iter().filter_map(|f| f.path.parent()).collect();
    let mut out = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let rel = dir.join(entry.file_name());
            if entry.path().is_file() && !expected.contains(&rel) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    Ok(out)
}
