//! `cargo xtask completions`: bash, zsh and fish completions for every
//! tool, committed under `packaging/completions/` so packagers need no
//! Rust toolchain to ship them and reviewers see what changes.

use crate::generated::{self, Generated};
use crate::tools::{Tool, TOOLS};
use anyhow::{Context as _, Result};
use clap_complete::aot::{generate, Shell};
use std::path::PathBuf;

/// Options of `cargo xtask completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not write: fail if packaging/completions differs from what would be generated
    #[arg(long)]
    check: bool,
}

/// Where the scripts live, relative to the workspace root.
const DIR: &str = "packaging/completions";

/// The shells we ship completions for, with the file name each expects
/// in its standard completion directory.
const SHELLS: &[Shell] = &[Shell::Bash, Shell::Zsh, Shell::Fish];

/// Runs `cargo xtask completions [--check]`.
pub fn run(args: &Args) -> Result<()> {
    let root = crate::workspace_root()?;
    let files = generate_all()?;
    if args.check {
        generated::check(&root, &files, "cargo xtask completions")
    } else {
        generated::write(&root, &files)
    }
}

/// Every completion script, rendered in memory, at
/// `packaging/completions/<shell>/<file>`.
pub fn generate_all() -> Result<Vec<Generated>> {
    let mut out = Vec::new();
    for tool in TOOLS {
        for &shell in SHELLS {
            out.push(Generated {
                path: PathBuf::from(DIR)
                    .join(shell.to_string())
                    .join(file_name(shell, tool.name)),
                contents: render(shell, tool)?,
            });
        }
    }
    Ok(out)
}

/// The name each shell's completion directory expects: bash-completion
/// loads `<command>`, zsh `_<command>`, fish `<command>.fish`.
pub fn file_name(shell: Shell, tool: &str) -> String {
    match shell {
        Shell::Bash => tool.to_string(),
        Shell::Zsh => format!("_{tool}"),
        _ => format!("{tool}.{shell}"),
    }
}

/// One tool's script for one shell, from the command the binary parses.
fn render(shell: Shell, tool: &Tool) -> Result<String> {
    let mut cmd = tool.full_command();
    let mut buf = Vec::new();
    generate(shell, &mut cmd, tool.name, &mut buf);
    String::from_utf8(buf).with_context(|| format!("{shell} completions for {}", tool.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed scripts must match the current command lines.
    #[test]
    fn committed_completions_are_up_to_date() {
        let root = crate::workspace_root().expect("workspace root");
        let files = generate_all().expect("render");
        let problems = generated::problems(&root, &files).expect("compare");
        assert!(
            problems.is_empty(),
            "completions in {DIR} are out of date; run `cargo xtask completions` and commit the result:\n  {}",
            problems.join("\n  ")
        );
    }
}
