//! Which tables a tool works on: `--databases`, `--tables`, their `ignore`
//! and regex forms, and `--engines`, checked before any table is touched.
//!
//! Names match exactly (schema and table names are case-sensitive on Linux);
//! a `--tables` entry without a dot matches that table in every schema.
//! Regexes are unanchored, as in Percona Toolkit; anchor them yourself.

use anyhow::{Context as _, Result};
use regex::Regex;

/// A compiled table filter.
#[derive(Clone, Debug, Default)]
pub struct TableFilter {
    databases: Vec<String>,
    tables: Vec<String>,
    ignore_databases: Vec<String>,
    ignore_tables: Vec<String>,
    databases_regex: Option<Regex>,
    tables_regex: Option<Regex>,
    ignore_databases_regex: Option<Regex>,
    ignore_tables_regex: Option<Regex>,
    engines: Vec<String>,
    ignore_engines: Vec<String>,
}

fn compile(what: &str, r: &Option<String>) -> Result<Option<Regex>> {
    r.as_deref()
        .map(|s| Regex::new(s).with_context(|| format!("{what}: invalid regular expression {s:?}")))
        .transpose()
}

fn table_matches(list: &[String], db: &str, table: &str) -> bool {
    list.iter().any(|t| match t.split_once('.') {
        Some((d, n)) => d == db && n == table,
        None => t == table,
    })
}

impl TableFilter {
    /// Builds the filter from the option values (see [`crate::cli::FilterArgs`]).
    pub fn new(a: &crate::cli::FilterArgs) -> Result<TableFilter> {
        Ok(TableFilter {
            databases: a.databases.clone(),
            tables: a.tables.clone(),
            ignore_databases: a.ignore_databases.clone(),
            ignore_tables: a.ignore_tables.clone(),
            databases_regex: compile("--databases-regex", &a.databases_regex)?,
            tables_regex: compile("--tables-regex", &a.tables_regex)?,
            ignore_databases_regex: compile("--ignore-databases-regex", &a.ignore_databases_regex)?,
            ignore_tables_regex: compile("--ignore-tables-regex", &a.ignore_tables_regex)?,
            engines: a.engines.iter().map(|e| e.to_ascii_lowercase()).collect(),
            ignore_engines: a
                .ignore_engines
                .iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
        })
    }

    /// `--databases` (empty: every database).
    pub fn databases(&self) -> &[String] {
        &self.databases
    }

    /// The selection options in effect as they are written on the command
    /// line (`--databases shop --ignore-tables shop.log`), for the message
    /// that says a selection matched no table; empty when nothing is
    /// filtered.
    pub fn describe(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut list = |opt: &str, v: &[String]| {
            if !v.is_empty() {
                out.push(format!("{opt} {}", v.join(",")));
            }
        };
        list("--databases", &self.databases);
        list("--tables", &self.tables);
        list("--ignore-databases", &self.ignore_databases);
        list("--ignore-tables", &self.ignore_tables);
        list("--engines", &self.engines);
        list("--ignore-engines", &self.ignore_engines);
        for (opt, r) in [
            ("--databases-regex", &self.databases_regex),
            ("--tables-regex", &self.tables_regex),
            ("--ignore-databases-regex", &self.ignore_databases_regex),
            ("--ignore-tables-regex", &self.ignore_tables_regex),
        ] {
            if let Some(r) = r {
                out.push(format!("{opt} {}", r.as_str()));
            }
        }
        out.join(" ")
    }

    /// The line for a run whose selection matched no table: what was
    /// asked for, so a typo shows.
    pub fn nothing_matched(&self) -> String {
        let d = self.describe();
        if d.is_empty() {
            "the server has no table to work on".to_string()
        } else {
            format!("no table matches {d}")
        }
    }

    /// True when `db`.`table` (stored in `engine`) is selected.
    pub fn selects(&self, db: &str, table: &str, engine: Option<&str>) -> bool {
        let engine = engine.unwrap_or("").to_ascii_lowercase();
        (self.databases.is_empty() || self.databases.iter().any(|d| d == db))
            && (self.tables.is_empty() || table_matches(&self.tables, db, table))
            && !self.ignore_databases.iter().any(|d| d == db)
            && !table_matches(&self.ignore_tables, db, table)
            && self.databases_regex.as_ref().is_none_or(|r| r.is_match(db))
            && self.tables_regex.as_ref().is_none_or(|r| r.is_match(table))
            && !self
                .ignore_databases_regex
                .as_ref()
                .is_some_and(|r| r.is_match(db))
            && !self
                .ignore_tables_regex
                .as_ref()
                .is_some_and(|r| r.is_match(table))
            && (self.engines.is_empty() || self.engines.contains(&engine))
            && !self.ignore_engines.contains(&engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::FilterArgs;

    #[test]
    fn selects() {
        let f = TableFilter::new(&FilterArgs {
            databases: vec!["app".into(), "shop".into()],
            ignore_tables: vec!["shop.log".into(), "tmp".into()],
            tables_regex: Some("^[a-z]".into()),
            ignore_engines: vec!["MyISAM".into()],
            ..Default::default()
        })
        .expect("filter");
        assert!(f.selects("app", "users", Some("InnoDB")));
        assert!(!f.selects("other", "users", Some("InnoDB")));
        assert!(!f.selects("shop", "log", Some("InnoDB")));
        assert!(f.selects("app", "log", Some("InnoDB")));
        assert!(!f.selects("app", "tmp", Some("InnoDB")));
        assert!(!f.selects("app", "Users", Some("InnoDB")));
        assert!(!f.selects("app", "users", Some("MyISAM")));
        assert_eq!(
            f.nothing_matched(),
            "no table matches --databases app,shop --ignore-tables shop.log,tmp \
             --ignore-engines myisam --tables-regex ^[a-z]"
        );
        assert_eq!(
            TableFilter::default().nothing_matched(),
            "the server has no table to work on"
        );
        assert!(TableFilter::new(&FilterArgs {
            tables_regex: Some("(".into()),
            ..Default::default()
        })
        .is_err());
    }
}
