//! Exit status: one small type shared by every tool, documented once.
//!
//! The bit meanings are Percona Toolkit's (pt-table-checksum, pt-table-sync),
//! so scripts written for pt-* keep working: bits are OR-ed together when a
//! run meets several conditions, and 255 (fatal) absorbs everything else.
//! The same table is rendered into every man page by `cargo xtask man`.

use std::ops::{BitOr, BitOrAssign};

/// A process exit status built from Percona-compatible flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Exit(u8);

impl Exit {
    /// Everything went well.
    pub const OK: Exit = Exit(0);
    /// A non-fatal error occurred, or the command line was invalid.
    pub const ERROR: Exit = Exit(1);
    /// Another instance is already running (`--pid` file in use).
    pub const ALREADY_RUNNING: Exit = Exit(2);
    /// Caught SIGINT/SIGTERM/SIGHUP; the run stopped early after cleaning up.
    pub const CAUGHT_SIGNAL: Exit = Exit(4);
    /// No replicas were found when replicas were needed.
    pub const NO_REPLICAS: Exit = Exit(8);
    /// Differences were found (drift, or drift left after a sync).
    pub const DIFFERENCES: Exit = Exit(16);
    /// At least one chunk was skipped.
    pub const CHUNK_SKIPPED: Exit = Exit(32);
    /// At least one table was skipped.
    pub const TABLE_SKIPPED: Exit = Exit(64);
    /// Replication is stopped on a replica that was needed.
    pub const REPLICATION_STOPPED: Exit = Exit(128);
    /// Fatal error: the run could not go on (cannot connect, bad server, ...).
    pub const FATAL: Exit = Exit(255);

    /// Every documented value with its meaning, in order. Man pages and
    /// `--help` are rendered from this one table.
    pub const TABLE: &'static [(Exit, &'static str)] = &[
        (Exit::OK, "success: nothing to report"),
        (
            Exit::ERROR,
            "a non-fatal error occurred, or the command line was invalid",
        ),
        (Exit::ALREADY_RUNNING, "another instance is already running"),
        (
            Exit::CAUGHT_SIGNAL,
            "caught SIGINT, SIGTERM or SIGHUP; stopped early after cleaning up",
        ),
        (
            Exit::NO_REPLICAS,
            "no replicas were found where replicas were needed",
        ),
        (Exit::DIFFERENCES, "differences were found"),
        (Exit::CHUNK_SKIPPED, "at least one chunk was skipped"),
        (Exit::TABLE_SKIPPED, "at least one table was skipped"),
        (
            Exit::REPLICATION_STOPPED,
            "replication is stopped on a replica that was needed",
        ),
        (
            Exit::FATAL,
            "fatal error: cannot connect, unsupported server, bad input, tool failure",
        ),
    ];

    /// Builds a status from a raw code.
    pub const fn from_code(code: u8) -> Exit {
        Exit(code)
    }

    /// The numeric exit code handed to the operating system.
    pub const fn code(self) -> u8 {
        self.0
    }

    /// True when every bit of `flag` is set (FATAL contains everything).
    pub fn contains(self, flag: Exit) -> bool {
        self.0 & flag.0 == flag.0
    }

    /// True for a clean run.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The meanings of the bits set in this status.
    pub fn describe(self) -> Vec<&'static str> {
        if self == Exit::FATAL {
            return vec![Exit::TABLE[Exit::TABLE.len() - 1].1];
        }
        Exit::TABLE
            .iter()
            .filter(|(e, _)| e.0 != 0 && *e != Exit::FATAL && self.contains(*e))
            .map(|(_, d)| *d)
            .collect()
    }
}

impl BitOr for Exit {
    type Output = Exit;
    /// Merges two statuses; fatal wins over everything.
    fn bitor(self, rhs: Exit) -> Exit {
        if self == Exit::FATAL || rhs == Exit::FATAL {
            Exit::FATAL
        } else {
            Exit(self.0 | rhs.0)
        }
    }
}

impl BitOrAssign for Exit {
    fn bitor_assign(&mut self, rhs: Exit) {
        *self = *self | rhs;
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_merge_like_percona() {
        let e = Exit::DIFFERENCES | Exit::TABLE_SKIPPED;
        assert_eq!(e.code(), 80);
        assert!(e.contains(Exit::DIFFERENCES));
        assert!(!e.contains(Exit::CHUNK_SKIPPED));
        let mut m = Exit::OK;
        m |= Exit::NO_REPLICAS;
        m |= Exit::NO_REPLICAS;
        assert_eq!(m.code(), 8);
        assert_eq!(
            m.describe(),
            vec!["no replicas were found where replicas were needed"]
        );
    }

    #[test]
    fn fatal_absorbs() {
        assert_eq!(Exit::FATAL | Exit::DIFFERENCES, Exit::FATAL);
        assert_eq!(Exit::CAUGHT_SIGNAL | Exit::FATAL, Exit::FATAL);
        assert_eq!(Exit::FATAL.describe().len(), 1);
    }

    #[test]
    fn table_is_ordered_and_distinct() {
        let codes: Vec<u8> = Exit::TABLE.iter().map(|(e, _)| e.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        // Every bit flag is a single bit.
        for (e, _) in Exit::TABLE {
            let c = e.code();
            assert!(c == 0 || c == 255 || c.is_power_of_two(), "{c}");
        }
    }
}
