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
    let text =
        String::from_utf8(buf).with_context(|| format!("{shell} completions for {}", tool.name))?;
    Ok(match shell {
        Shell::Bash => fix_bash_subcommand_states(&text, tool.name),
        _ => text,
    })
}

/// clap_complete's bash script names the state after an action one way
/// in the loop that walks the words (`ox__backup__subcmd__verify`) and
/// another in the `case` arms that complete it
/// (`ox__subcmd__backup__subcmd__verify`) when the binary's name has a
/// hyphen, so no action's options ever completed (clap-rs/clap#6421, open
/// in clap_complete 4.6.11). Spell the arms as the loop does.
fn fix_bash_subcommand_states(text: &str, bin: &str) -> String {
    let sep = "__subcmd__";
    let wrong = format!("{}{sep}", bin.replace('-', sep));
    let right = format!("{}{sep}", bin.replace('-', "__"));
    text.replace(&wrong, &right)
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

    /// What bash offers for the last word of `line`, from the generated
    /// script alone (the package test does the same through
    /// bash-completion's loader in Debian roots).
    fn bash_offers(tool: &Tool, line: &str) -> Vec<String> {
        let script = render(Shell::Bash, tool).expect("render");
        let test = format!(
            r#"{script}
read -ra COMP_WORDS <<< "$LINE"
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMP_LINE=$LINE; COMP_POINT=${{#LINE}}
fn=$(complete -p {name} | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
"$fn" {name} "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
            name = tool.name
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &test])
            .env("LINE", line)
            .output()
            .expect("bash");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Actions and their own options complete (the hyphenated-name bug
    /// above would offer nothing after the action).
    #[test]
    fn bash_completes_actions_and_their_options() {
        let backup = TOOLS
            .iter()
            .find(|t| t.name == "ox-backup")
            .expect("ox-backup");
        assert!(bash_offers(backup, "ox-backup ver").contains(&"verify".to_string()));
        let offered = bash_offers(backup, "ox-backup backup --max-r");
        assert_eq!(offered, vec!["--max-rate".to_string()]);
        let offered = bash_offers(backup, "ox-backup check --max-");
        assert_eq!(offered, ["--max-age", "--max-archive-lag"]);
        let sync = TOOLS
            .iter()
            .find(|t| t.name == "ox-table-sync")
            .expect("sync");
        assert!(bash_offers(sync, "ox-table-sync --dry").contains(&"--dry-run".to_string()));
    }
}
