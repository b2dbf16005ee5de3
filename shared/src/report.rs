//! Output: human tables on stdout, `--format json` for scripts.
//!
//! Tools build one serializable report value and hand it to [`emit`]; text
//! rendering is the tool's own `Display`-like closure over [`Table`]s, JSON is
//! serde. Field names in JSON are part of the interface: renaming one is a
//! breaking change and must be documented in the tool's man page.

use comfy_table::{Cell, ContentArrangement, LineStyle, Table as CTable, TableStyle};
use std::io::Write;

/// Output format chosen with `--format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Format {
    /// Human-readable tables.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// A text table with the house style: ASCII, no outer border, header underline,
/// so it reads well over ssh and pastes cleanly into tickets.
pub struct Table(CTable);

impl Table {
    /// A table with the given column headers.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut t = CTable::new();
        // No borders, no row separators: only a dashed line under the header.
        let style = TableStyle::new().header_separator(LineStyle::none().fill('-').junction(' '));
        t.load_style(style)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header.into_iter().map(|s| Cell::new(s.into())));
        Table(t)
    }

    /// Appends a row.
    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.0
            .add_row(cells.into_iter().map(|c| Cell::new(c.to_string())));
        self
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.0.row_count()
    }

    /// True when the table has no data rows.
    pub fn is_empty(&self) -> bool {
        self.0.row_count() == 0
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // comfy-table pads every line; trailing blanks are noise in a terminal.
        for line in self.0.to_string().lines() {
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Set once a tool has written anything to stdout.
static STDOUT_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes that the tool wrote to stdout, so a failure afterwards does not
/// add a second document there (see [`stdout_used`]).
pub fn mark_stdout_used() {
    STDOUT_USED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// True once the tool wrote to stdout: the entry then reports a failure on
/// stderr only; before, with `--format json`, it also prints a JSON error
/// object on stdout so scripts always get one document.
pub fn stdout_used() -> bool {
    STDOUT_USED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Writes `value` as pretty JSON followed by a newline.
pub fn write_json<W: Write, T: serde::Serialize + ?Sized>(
    mut w: W,
    value: &T,
) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut w, value)?;
    writeln!(w)?;
    Ok(())
}

/// Prints a report on stdout in the chosen format: JSON through serde, text
/// through `text`.
pub fn emit<T: serde::Serialize + ?Sized>(
    format: Format,
    value: &T,
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    mark_stdout_used();
    match format {
        Format::Json => write_json(&mut out, value)?,
        Format::Text => text(&mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// The UTC calendar date and time of `secs` after the Unix epoch, as
/// `(year, month, day, hour, minute, second)`: no time zone database, no
/// clock (Howard Hinnant's civil-from-days).
pub fn utc_parts(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Formats a byte count for people: `1.5 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_renders_plain() {
        let mut t = Table::new(["db", "rows"]);
        t.row(["sbtest", "100"]).row(["a b", "7"]);
        let s = t.to_string();
        assert!(s.contains("sbtest"), "{s}");
        assert!(s.lines().all(|l| l == l.trim_end()));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn json_is_one_document() {
        let mut buf = Vec::new();
        write_json(&mut buf, &serde_json::json!({"a": 1})).expect("json");
        let v: serde_json::Value = serde_json::from_slice(&buf).expect("parse");
        assert_eq!(v["a"], 1);
    }
}
