//! The five oxkit tools, listed once so man pages, completions and the
//! package all cover the same set.

use clap::Command;

/// One tool: its binary name and its clap definition.
pub struct Tool {
    /// Binary name, also the cargo package name (`ox-table-checksum`).
    pub name: &'static str,
    /// The tool's own `command()` (without the global options).
    pub command: fn() -> Command,
}

impl Tool {
    /// The command exactly as the binary parses it, global options
    /// (`--help`, `--config`, `--no-config`, `-v`) included, so generated
    /// docs never drift from the real command line.
    pub fn full_command(&self) -> Command {
        oxkit::entry::full_command((self.command)())
    }
}

/// Every tool, in the order they are presented (README, SEE ALSO, package).
pub const TOOLS: &[Tool] = &[
    Tool {
        name: "ox-summary",
        command: ox_summary::command,
    },
    Tool {
        name: "ox-table-checksum",
        command: ox_table_checksum::command,
    },
    Tool {
        name: "ox-table-sync",
        command: ox_table_sync::command,
    },
    Tool {
        name: "ox-online-schema-change",
        command: ox_online_schema_change::command,
    },
    Tool {
        name: "ox-backup",
        command: ox_backup::command,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's names must be the names the commands give themselves,
    /// or man page file names and completions would not match the binary.
    #[test]
    fn names_match_commands() {
        for tool in TOOLS {
            assert_eq!(tool.full_command().get_name(), tool.name);
        }
    }

    /// clap's own consistency checks (duplicate flags, bad defaults...)
    /// on the full command of every tool.
    #[test]
    fn commands_are_valid() {
        for tool in TOOLS {
            tool.full_command().debug_assert();
        }
    }
}
