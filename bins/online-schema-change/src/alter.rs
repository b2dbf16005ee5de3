//! Reading the `--alter` text: the ALTER TABLE clauses, as pt-osc takes them
//! (`ADD INDEX k (c), MODIFY v BIGINT`).
//!
//! The server parses and applies the clauses (on an empty clone first, see
//! the planner); this module only learns what the tool must know about them
//! beforehand: which columns are renamed (so rows copy into the right
//! column), which are dropped on purpose, which unique keys are added (a
//! duplicate check runs first), and clauses the tool cannot apply to a
//! shadow table (`RENAME TO`, `ALGORITHM=`, `LOCK=`, partition maintenance).

use anyhow::{bail, Result};

/// What the tool needs to know about an ALTER.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alter {
    /// The clauses as given, trimmed.
    pub text: String,
    /// Top-level clauses.
    pub clauses: Vec<String>,
    /// `(old, new)` for `CHANGE [COLUMN] old new ...` and `RENAME COLUMN old TO new`.
    pub renames: Vec<(String, String)>,
    /// Columns named by `DROP [COLUMN] c`.
    pub drops: Vec<String>,
    /// Column lists of `ADD UNIQUE ...` / `ADD CONSTRAINT x UNIQUE ...`
    /// (empty list when the columns could not be read: the check then
    /// runs on the shadow's new unique keys).
    pub unique_adds: Vec<Vec<String>>,
}

/// Splits on top-level commas, respecting quotes, backticks and
/// parentheses. Refuses what would end the tool's statement or hide its
/// rest outside a quoted string: a `;` (a second statement), comments (`#`,
/// `-- `, `/* */`, including `/*! */` which the server executes), an
/// unclosed quote and unbalanced parentheses. The tool appends its own
/// clauses (`, ALGORITHM=INSTANT`) to the text, so each of these could turn
/// `--alter` into SQL the tool did not mean to run.
fn split_top(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == '\\' && q != '`' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                } else if c == q {
                    if chars.peek() == Some(&q) {
                        cur.push(q);
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '(' => {
                    depth += 1;
                    cur.push(c);
                }
                ')' => {
                    depth -= 1;
                    if depth < 0 {
                        bail!("--alter has a ')' without its '('");
                    }
                    cur.push(c);
                }
                ';' => bail!(
                    "--alter holds a ';': it takes one ALTER TABLE clause list, not several statements"
                ),
                '#' => bail!("--alter holds a comment ('#'): leave comments out"),
                '-' if chars.peek() == Some(&'-') => {
                    chars.next();
                    if chars.peek().is_none_or(|n| n.is_whitespace() || n.is_control()) {
                        bail!("--alter holds a comment ('-- '): leave comments out");
                    }
                    cur.push_str("--");
                }
                '/' if chars.peek() == Some(&'*') => {
                    bail!("--alter holds a comment ('/*'): leave comments out")
                }
                ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            },
        }
    }
    if let Some(q) = quote {
        bail!("--alter has an unclosed {q} quote");
    }
    if depth != 0 {
        bail!("--alter has a '(' without its ')'");
    }
    out.push(cur);
    Ok(out
        .into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect())
}

/// Splits a clause into words: identifiers (backticks removed), quoted
/// strings kept whole, parentheses as their own words.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                flush(&mut cur, &mut out);
                let mut id = String::new();
                while let Some(n) = chars.next() {
                    if n == '`' {
                        if chars.peek() == Some(&'`') {
                            id.push('`');
                            chars.next();
                        } else {
                            break;
                        }
                    } else {
                        id.push(n);
                    }
                }
                out.push(id);
            }
            '\'' | '"' => {
                flush(&mut cur, &mut out);
                let mut lit = String::from(c);
                while let Some(n) = chars.next() {
                    lit.push(n);
                    if n == '\\' {
                        if let Some(m) = chars.next() {
                            lit.push(m);
                        }
                    } else if n == c {
                        break;
                    }
                }
                out.push(lit);
            }
            '(' | ')' | ',' => {
                flush(&mut cur, &mut out);
                out.push(c.to_string());
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            _ => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn is(w: Option<&String>, kw: &str) -> bool {
    w.is_some_and(|w| w.eq_ignore_ascii_case(kw))
}

/// The column names inside the first parenthesised list of `w` from `at`.
fn column_list(w: &[String], at: usize) -> Vec<String> {
    let Some(open) = w[at..].iter().position(|x| x == "(").map(|p| p + at) else {
        return vec![];
    };
    let mut cols = Vec::new();
    let mut depth = 0;
    let mut expect_name = true;
    for x in &w[open..] {
        match x.as_str() {
            "(" => {
                depth += 1;
                if depth > 1 {
                    expect_name = false;
                }
            }
            ")" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => expect_name = true,
            name if depth == 1 && expect_name => {
                cols.push(name.to_string());
                expect_name = false;
            }
            _ => {}
        }
    }
    cols
}

impl Alter {
    /// Parses `text`; errors name the clause the tool cannot apply.
    pub fn parse(text: &str) -> Result<Alter> {
        // One trailing ';' is how people end a statement; any other is refused below.
        let text = text.trim();
        let text = text.strip_suffix(';').unwrap_or(text).trim().to_string();
        if text.is_empty() {
            bail!("--alter is empty");
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("alter ") {
            bail!("--alter takes the clauses only (\"ADD INDEX k (c)\"), not a whole ALTER TABLE statement");
        }
        let clauses = split_top(&text)?;
        let mut a = Alter {
            text: text.clone(),
            clauses: clauses.clone(),
            ..Alter::default()
        };
        for c in &clauses {
            let w = words(c);
            let first = w
                .first()
                .map(|s| s.split('=').next().unwrap_or_default().to_ascii_uppercase())
                .unwrap_or_default();
            let second = w.get(1).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
            match (first.as_str(), second.as_str()) {
                ("RENAME", "TO" | "AS") => {
                    bail!("{c:?}: renaming the table is not an online change; use RENAME TABLE")
                }
                ("RENAME", "COLUMN") => {
                    // RENAME COLUMN old TO new
                    if let (Some(old), Some(new)) = (w.get(2), w.get(4)) {
                        a.renames.push((old.clone(), new.clone()));
                    }
                }
                ("RENAME", "INDEX" | "KEY") => {}
                ("RENAME", _) => {
                    bail!("{c:?}: renaming the table is not an online change; use RENAME TABLE")
                }
                ("ALGORITHM" | "LOCK", _) => {
                    bail!("{c:?}: the tool chooses ALGORITHM and LOCK itself; leave them out")
                }
                ("CHANGE", _) => {
                    let i = if second == "COLUMN" { 2 } else { 1 };
                    let i = if is(w.get(i), "IF") { i + 2 } else { i };
                    if let (Some(old), Some(new)) = (w.get(i), w.get(i + 1)) {
                        if !old.eq_ignore_ascii_case(new) {
                            a.renames.push((old.clone(), new.clone()));
                        }
                    }
                }
                ("DROP", "PRIMARY" | "INDEX" | "KEY" | "FOREIGN" | "CONSTRAINT" | "CHECK") => {}
                ("DROP", "PARTITION") | ("TRUNCATE", _) | ("DISCARD" | "IMPORT", _) => {
                    bail!("{c:?}: partition and tablespace maintenance is not a copy-and-swap change; run it directly")
                }
                ("DROP", _) => {
                    let i = if second == "COLUMN" { 2 } else { 1 };
                    let i = if is(w.get(i), "IF") { i + 2 } else { i };
                    if let Some(col) = w.get(i) {
                        a.drops.push(col.clone());
                    }
                }
                ("ADD", _) => {
                    let mut i = 1;
                    if is(w.get(i), "CONSTRAINT") {
                        i += 1;
                        if !is(w.get(i), "UNIQUE") && !is(w.get(i), "PRIMARY") {
                            i += 1;
                        }
                    }
                    if is(w.get(i), "UNIQUE") || is(w.get(i), "PRIMARY") {
                        a.unique_adds.push(column_list(&w, i));
                    }
                }
                _ => {}
            }
        }
        Ok(a)
    }

    /// The new name of `old` (itself when not renamed).
    pub fn new_name<'a>(&'a self, old: &'a str) -> &'a str {
        self.renames
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(old))
            .map(|(_, n)| n.as_str())
            .unwrap_or(old)
    }

    /// True when `col` is dropped by a `DROP [COLUMN]` clause.
    pub fn drops_column(&self, col: &str) -> bool {
        self.drops.iter().any(|d| d.eq_ignore_ascii_case(col))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_at_top_level() {
        let a = Alter::parse("ADD INDEX k (a, b), MODIFY e ENUM('x,y','z') NOT NULL, ADD COLUMN `c,d` INT DEFAULT 5;")
            .expect("parse");
        assert_eq!(a.clauses.len(), 3, "{:?}", a.clauses);
        assert_eq!(a.clauses[1], "MODIFY e ENUM('x,y','z') NOT NULL");
    }

    #[test]
    fn renames_drops_uniques() {
        let a = Alter::parse(
            "CHANGE COLUMN a b INT, RENAME COLUMN `x y` TO z, DROP COLUMN q, DROP r, DROP INDEX i, \
             ADD UNIQUE KEY u (m, `n`(10)), ADD CONSTRAINT c UNIQUE (p), ADD PRIMARY KEY (id), CHANGE s s BIGINT",
        )
        .expect("parse");
        assert_eq!(
            a.renames,
            vec![("a".into(), "b".into()), ("x y".into(), "z".into())]
        );
        assert_eq!(a.drops, vec!["q".to_string(), "r".to_string()]);
        assert_eq!(
            a.unique_adds,
            vec![
                vec!["m".to_string(), "n".to_string()],
                vec!["p".to_string()],
                vec!["id".to_string()]
            ]
        );
        assert_eq!(a.new_name("A"), "b");
        assert_eq!(a.new_name("s"), "s");
        assert!(a.drops_column("Q"));
    }

    #[test]
    fn refuses_what_cannot_be_copied() {
        for bad in [
            "",
            "RENAME TO t2",
            "ALGORITHM=INPLACE",
            "ADD INDEX (a), LOCK=NONE",
            "ALTER TABLE t ADD INDEX (a)",
            "DROP PARTITION p1",
        ] {
            assert!(Alter::parse(bad).is_err(), "{bad}");
        }
        assert!(Alter::parse("RENAME INDEX a TO b").is_ok());
    }

    /// Issue 21: `--alter` text must stay one clause list. A `;` or a
    /// comment outside quotes could run a second statement or cut off the
    /// clauses the tool appends; inside quotes they are data.
    #[test]
    fn refuses_separators_and_comments_outside_quotes() {
        for bad in [
            "ADD COLUMN x INT; CREATE TABLE shop.injected (i int) #",
            "ADD COLUMN x INT; DROP TABLE t",
            "ADD COLUMN x INT #",
            "ADD COLUMN x INT -- rest",
            "ADD COLUMN x INT --",
            "ADD COLUMN x INT /*! , DROP COLUMN y */",
            "ADD COLUMN x INT /* c */",
            "ADD COLUMN x VARCHAR(3) DEFAULT 'a",
            "ADD COLUMN x INT DEFAULT (1",
            "ADD COLUMN x INT DEFAULT 1)",
            "ADD COLUMN `x INT",
        ] {
            let e = Alter::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("--alter"), "{bad}: {e}");
        }
        for good in [
            "ADD COLUMN x VARCHAR(9) DEFAULT 'a;b#c-- d/*e'",
            "ADD COLUMN `we;ird#` INT",
            "ADD COLUMN x INT DEFAULT (2--1)",
            "MODIFY v TEXT COMMENT 'it''s \\' ok'",
            "ADD INDEX k (a);",
        ] {
            assert!(Alter::parse(good).is_ok(), "{good}");
        }
    }
}
