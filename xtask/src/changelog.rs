//! The package changelogs, rendered from one hand-written file,
//! `packaging/NEWS.md`: the Debian changelog (`changelog.gz` in
//! `/usr/share/doc/oxkit`, the name Debian gives a native package's) and
//! the rpm spec's `%changelog`. Both carry the maintainer from the
//! workspace's `authors`, like the control file and the spec.

use anyhow::{bail, Context as _, Result};
use std::path::Path;

/// Where the release notes live, relative to the workspace root.
pub const NEWS: &str = "packaging/NEWS.md";

/// One release of `NEWS.md`.
#[derive(Debug, PartialEq)]
pub struct Release {
    /// `0.1.0`.
    pub version: String,
    /// Year, month, day.
    pub date: (i64, u32, u32),
    /// The items, each one paragraph (continuation lines joined).
    pub items: Vec<String>,
}

/// Reads and parses `packaging/NEWS.md`.
pub fn read(root: &Path) -> Result<Vec<Release>> {
    let text =
        std::fs::read_to_string(root.join(NEWS)).with_context(|| format!("reading {NEWS}"))?;
    parse(&text).with_context(|| format!("parsing {NEWS}"))
}

/// Parses the release notes: `## VERSION (YYYY-MM-DD)` headings, each
/// followed by `- ` items; text before the first heading is ignored.
pub fn parse(text: &str) -> Result<Vec<Release>> {
    let mut out: Vec<Release> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(head) = line.strip_prefix("## ") {
            let (version, date) = head
                .split_once(" (")
                .and_then(|(v, d)| Some((v.trim(), d.strip_suffix(')')?)))
                .with_context(|| format!("line {n}: want `## VERSION (YYYY-MM-DD)`"))?;
            out.push(Release {
                version: version.to_string(),
                date: parse_date(date).with_context(|| format!("line {n}"))?,
                items: Vec::new(),
            });
        } else if let Some(release) = out.last_mut() {
            if let Some(item) = line.strip_prefix("- ") {
                release.items.push(item.trim().to_string());
            } else if let Some(more) = line.strip_prefix("  ") {
                let Some(item) = release.items.last_mut() else {
                    bail!("line {n}: continuation line before any `- ` item");
                };
                item.push(' ');
                item.push_str(more.trim());
            } else if !line.trim().is_empty() {
                bail!("line {n}: want a `- ` item, an indented continuation or a blank line");
            }
        }
    }
    if out.is_empty() {
        bail!("no `## VERSION (YYYY-MM-DD)` heading");
    }
    if let Some(r) = out.iter().find(|r| r.items.is_empty()) {
        bail!("release {} has no items", r.version);
    }
    Ok(out)
}

/// `YYYY-MM-DD`.
fn parse_date(s: &str) -> Result<(i64, u32, u32)> {
    let mut parts = s.split('-');
    let mut next = || parts.next().and_then(|p| p.parse::<i64>().ok());
    let (Some(y), Some(m), Some(d)) = (next(), next(), next()) else {
        bail!("bad date {s:?}: want YYYY-MM-DD");
    };
    let (m, d) = (u32::try_from(m)?, u32::try_from(d)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        bail!("bad date {s:?}");
    }
    Ok((y, m, d))
}

/// Day of the week, 0 = Sunday (Sakamoto's method).
fn weekday((y, m, d): (i64, u32, u32)) -> usize {
    const T: [i64; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let w = (y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + i64::from(d)).rem_euclid(7);
    w as usize
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Wraps `text` inside 80 columns, the first line after the prefix
/// `first`, the others after `rest`.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > 79 {
            out += line.trim_end();
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += word;
        empty = false;
    }
    out += line.trim_end();
    out.push('\n');
    out
}

/// The Debian changelog (`debian/changelog` format), newest first.
/// `version` replaces the newest release's version (the package test
/// builds a lower-versioned copy to upgrade from).
pub fn debian(releases: &[Release], version: &str, maintainer: &str) -> String {
    let mut out = String::new();
    for (i, r) in releases.iter().enumerate() {
        let v = if i == 0 { version } else { &r.version };
        out += &format!("oxkit ({v}) unstable; urgency=medium\n\n");
        for item in &r.items {
            out += &wrap(item, "  * ", "    ");
        }
        let (y, m, d) = r.date;
        out += &format!(
            "\n -- {maintainer}  {}, {d:02} {} {y} 00:00:00 +0000\n",
            DAYS[weekday(r.date)],
            MONTHS[(m - 1) as usize]
        );
        if i + 1 < releases.len() {
            out.push('\n');
        }
    }
    out
}

/// The rpm `%changelog` section, newest first (release 1 of each
/// version).
pub fn rpm(releases: &[Release], maintainer: &str) -> String {
    let mut out = String::from("%changelog\n");
    for (i, r) in releases.iter().enumerate() {
        let (y, m, d) = r.date;
        out += &format!(
            "* {} {} {d:02} {y} {maintainer} - {}-1\n",
            DAYS[weekday(r.date)],
            MONTHS[(m - 1) as usize],
            r.version
        );
        for item in &r.items {
            // `%` starts a macro in a spec file.
            out += &wrap(&item.replace('%', "%%"), "- ", "  ");
        }
        if i + 1 < releases.len() {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest release in NEWS.md is the version being packaged.
    #[test]
    fn news_names_the_workspace_version() {
        let root = crate::workspace_root().expect("root");
        let releases = read(&root).expect("NEWS.md parses");
        assert_eq!(
            releases[0].version,
            crate::VERSION,
            "add a `## {} (date)` section at the top of {NEWS}",
            crate::VERSION
        );
    }

    #[test]
    fn weekdays() {
        assert_eq!(DAYS[weekday((2026, 11, 24))], "Tue");
        assert_eq!(DAYS[weekday((2000, 1, 1))], "Sat");
        assert_eq!(DAYS[weekday((2024, 2, 29))], "Thu");
    }

    #[test]
    fn renders_both_formats() {
        let text = "intro\n\n## 1.2.0 (2026-11-24)\n\n- one\n  two\n- 100% done\n\n## 1.1.0 (2026-01-05)\n\n- old\n";
        let r = parse(text).expect("parse");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].items, vec!["one two", "100% done"]);
        let deb = debian(&r, "1.2.0", "A <a@b.c>");
        assert!(deb.starts_with("oxkit (1.2.0) unstable; urgency=medium\n\n  * one two\n"));
        assert!(deb.contains("\n -- A <a@b.c>  Tue, 24 Nov 2026 00:00:00 +0000\n\noxkit (1.1.0)"));
        assert!(deb.ends_with(" -- A <a@b.c>  Mon, 05 Jan 2026 00:00:00 +0000\n"));
        let spec = rpm(&r, "A <a@b.c>");
        assert!(spec.starts_with(
            "%changelog\n* Tue Nov 24 2026 A <a@b.c> - 1.2.0-1\n- one two\n- 100%% done\n"
        ));
    }

    #[test]
    fn refuses_malformed_notes() {
        assert!(parse("nothing").is_err());
        assert!(parse("## 1.0 (2026-13-01)\n- x\n").is_err());
        assert!(parse("## 1.0 (2026-01-01)\nstray\n").is_err());
        assert!(parse("## 1.0 (2026-01-01)\n").is_err());
    }

    /// Long items wrap inside 80 columns with the continuation indent.
    #[test]
    fn wraps() {
        let long = "word ".repeat(40);
        let out = wrap(&long, "  * ", "    ");
        assert!(out.lines().all(|l| l.len() < 80));
        assert!(out.lines().skip(1).all(|l| l.starts_with("    ")));
    }
}
