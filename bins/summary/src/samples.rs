//! The raw inputs of one report: file contents read from /proc, /sys and
//! /etc, the few system calls that are not file reads (statvfs, interface
//! addresses), and SQL result sets as text.
//!
//! Invariant: everything the report shows is computed from a [`Samples`]
//! value alone, so `--save-samples` followed by `--read-samples` on another
//! machine renders the same report byte for byte. The capture time and the
//! measured sampling interval are samples too; nothing at render time reads
//! the clock or the machine.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the samples format; bumped when a change would make old
/// sample sets render wrongly.
pub const FORMAT: u32 = 1;

/// The file name inside a `--save-samples` directory.
pub const FILE_NAME: &str = "samples.json";

/// Everything captured by one run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Samples {
    /// [`FORMAT`] at capture time.
    pub format: u32,
    /// `ox-summary` version that captured them.
    pub tool_version: String,
    /// Capture time, seconds since the Unix epoch (UTC).
    pub captured_at: u64,
    /// `--sleep` asked for, in seconds.
    pub sleep: f64,
    /// The host half, when collected.
    pub system: Option<SystemSamples>,
    /// The server half, when asked for.
    pub server: Option<ServerSamples>,
    /// Why a half was not collected (for example the target is remote).
    pub skipped: BTreeMap<String, String>,
}

/// Inputs of the host half.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SystemSamples {
    /// Path → contents of every file read (absent when unreadable).
    pub files: BTreeMap<String, String>,
    /// The same for the files read again after the sampling interval.
    pub files_after: BTreeMap<String, String>,
    /// Path → target of symbolic links read (`/proc/PID/cwd`).
    pub links: BTreeMap<String, String>,
    /// Owner uid of each `/proc/PID` directory.
    pub proc_uids: BTreeMap<u32, u32>,
    /// Mount point → space figures (statvfs).
    pub statvfs: BTreeMap<String, FsSpace>,
    /// Interface addresses (getifaddrs).
    pub addresses: Vec<IfAddr>,
    /// Seconds between the first and second reading (0 without one).
    pub interval: f64,
    /// Clock ticks per second (`_SC_CLK_TCK`).
    pub clk_tck: u64,
    /// Page size in bytes.
    pub page_size: u64,
    /// Machine architecture of the capturing binary's host.
    pub arch: String,
}

/// Space on one mounted filesystem.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FsSpace {
    /// Bytes in the filesystem.
    pub total: u64,
    /// Bytes free for unprivileged users.
    pub avail: u64,
    /// Bytes free in all.
    pub free: u64,
}

/// One address of one network interface.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IfAddr {
    /// Interface name.
    pub interface: String,
    /// Address with prefix length (`10.0.0.5/24`).
    pub address: String,
}

/// Inputs of the server half.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ServerSamples {
    /// The target as `user@host:port`, never with the password.
    pub target: String,
    /// Why the server could not be reached, when it could not.
    pub connect_error: Option<String>,
    /// Query name → result.
    pub queries: BTreeMap<String, QueryResult>,
    /// `SHOW GLOBAL STATUS` after the sampling interval.
    pub status_after: Option<QueryResult>,
    /// Seconds between the two status readings (0 without a second one).
    pub interval: f64,
}

/// A result set as text.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct QueryResult {
    /// The statement.
    pub sql: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; NULL is `None`.
    pub rows: Vec<Vec<Option<String>>>,
    /// The error, when the statement failed.
    pub error: Option<String>,
    /// Warnings the statement raised (information_schema skips tables it
    /// cannot open, with a warning, instead of failing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl QueryResult {
    /// Index of a column by name, case-insensitively.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    /// Cell `name` of row `row`, NULL and missing as `None`.
    pub fn get(&self, row: usize, name: &str) -> Option<&str> {
        let i = self.col(name)?;
        self.rows.get(row)?.get(i)?.as_deref()
    }

    /// The first two columns as a name → value map (`SHOW VARIABLES`),
    /// names lower-cased.
    pub fn pairs(&self) -> BTreeMap<String, String> {
        self.rows
            .iter()
            .filter_map(|r| {
                let k = r.first()?.as_deref()?.to_ascii_lowercase();
                let v = r.get(1).cloned().flatten().unwrap_or_default();
                Some((k, v))
            })
            .collect()
    }
}

impl Samples {
    /// Writes the samples into `dir` (created 0700 if missing) as a 0600
    /// file: they hold the server's variables, process list and host
    /// details, which are nobody else's business. An existing directory
    /// keeps its mode (it is the user's).
    pub fn save(&self, dir: &Path) -> Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(FILE_NAME);
        let text = serde_json::to_string_pretty(self).context("encoding samples")?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)?;
            // `mode` applies to a new file only: an older samples file
            // being replaced is made private too.
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n")
        };
        write().with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Reads samples saved by [`Samples::save`].
    pub fn load(dir: &Path) -> Result<Samples> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading samples from {}", path.display()))?;
        let s: Samples = serde_json::from_str(&text)
            .with_context(|| format!("{} is not an ox-summary samples file", path.display()))?;
        if s.format != FORMAT {
            bail!(
                "{}: samples format {} is not the {} this version reads",
                path.display(),
                s.format,
                FORMAT
            );
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Samples {
            format: FORMAT,
            captured_at: 42,
            ..Samples::default()
        };
        let mut sys = SystemSamples::default();
        sys.files.insert("/proc/1/cmdline".into(), "a\0b\0".into());
        s.system = Some(sys);
        s.save(dir.path()).expect("save");
        assert_eq!(Samples::load(dir.path()).expect("load"), s);
    }

    #[test]
    fn saved_samples_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("new").join("samples");
        Samples::default().save(&dir).expect("save");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("new")), 0o700);
        assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
        // Replacing a world-readable samples file makes it private.
        std::fs::set_permissions(dir.join(FILE_NAME), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        Samples::default().save(&dir).expect("save again");
        assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
    }

    #[test]
    fn query_cells_by_name() {
        let q = QueryResult {
            columns: vec!["Variable_name".into(), "Value".into()],
            rows: vec![vec![Some("Log_Bin".into()), Some("ON".into())]],
            ..QueryResult::default()
        };
        assert_eq!(q.get(0, "value"), Some("ON"));
        assert_eq!(q.pairs().get("log_bin").map(String::as_str), Some("ON"));
        assert_eq!(q.get(1, "value"), None);
    }
}
