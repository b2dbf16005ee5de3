//! Option files (`my.cnf`), read the way the mysql client reads them.
//!
//! An option file is a list of `[group]` sections holding `key=value` or bare
//! `key` lines. [`OptionFile::load`] parses one file, expanding `!include`
//! and `!includedir` in place; [`read_files`] reads a list of files in order
//! and keeps, for every key of the selected groups, the value set last (a
//! later line beats an earlier one, a later file beats an earlier file) with
//! the file and line it came from.
//!
//! Syntax, as MySQL documents and implements it: `#` or `;` at the start of
//! a line begins a comment, and so does a `#` anywhere outside quotes (so a
//! password containing `#` must be quoted); spaces around keys and values
//! are dropped; a value wrapped in matching single or double quotes loses
//! them; the escapes `\n \t \r \b \s \\ \" \'` are decoded (any other
//! backslash is kept); group names are case-insensitive; keys are
//! normalised with [`normalize_key`]. Lines before the first group header
//! are ignored. Two deliberate departures from libmysqlclient: a relative
//! include path is taken relative to the including file's directory, and an
//! unreadable included file or an include nested deeper than
//! [`MAX_INCLUDE_DEPTH`] is an error instead of being skipped silently.
//!
//! Invariant: error messages name a file and a line but never quote the
//! line, since a malformed line may hold a password. `Debug` output prints
//! `***` for the values of password keys.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// How deeply `!include` / `!includedir` may nest before reading stops with
/// an error (include cycles end here).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Lowercases an option name, turns `_` into `-` and drops a `loose-`
/// prefix, so `Default_Character_Set`, `default-character-set` and
/// `loose-default-character-set` are one key.
pub fn normalize_key(key: &str) -> String {
    let k = key.trim().to_ascii_lowercase().replace('_', "-");
    match k.strip_prefix("loose-") {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => k,
    }
}

/// True for keys whose values must never be printed.
fn is_secret_key(key: &str) -> bool {
    key.contains("password") || key.contains("passwd")
}

/// A value for `Debug` output: `***` for password keys.
struct Shown<'a>(&'a str, &'a Option<String>);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(_) if is_secret_key(self.0) => f.write_str("Some(***)"),
            v => write!(f, "{v:?}"),
        }
    }
}

/// One option line of a selected-or-not group, after includes are expanded.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// Group name, lowercased and trimmed (`client`, `mysqld`...).
    pub group: String,
    /// Option name, normalised by [`normalize_key`].
    pub key: String,
    /// The value, unquoted and unescaped; `None` for a bare `key` line.
    pub value: Option<String>,
    /// The file the line is in (an included file for included lines).
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("group", &self.group)
            .field("key", &self.key)
            .field("value", &Shown(&self.key, &self.value))
            .field("file", &self.file)
            .field("line", &self.line)
            .finish()
    }
}

/// One parsed option file, with `!include`d files expanded in place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionFile {
    /// The file that was loaded.
    pub path: PathBuf,
    /// Every option line of every group, in reading order.
    pub entries: Vec<Entry>,
}

impl OptionFile {
    /// Reads and parses `path`, following includes. Any unreadable file
    /// (this one or an included one) is an error naming it.
    pub fn load(path: &Path) -> Result<OptionFile> {
        let mut entries = Vec::new();
        load_into(path, 0, &mut entries)?;
        Ok(OptionFile {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Parses `text` as if read from `path` (which names it in errors and
    /// anchors relative include paths).
    pub fn parse(text: &str, path: &Path) -> Result<OptionFile> {
        let mut entries = Vec::new();
        parse_into(text, path, 0, &mut entries)?;
        Ok(OptionFile {
            path: path.to_path_buf(),
            entries,
        })
    }
}

/// Reads one file at include depth `depth`, appending its entries.
fn load_into(path: &Path, depth: usize, out: &mut Vec<Entry>) -> Result<()> {
    if world_writable(path) {
        log::warn!(
            "ignoring world-writable option file {} (as the mysql client does)",
            path.display()
        );
        return Ok(());
    }
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read option file {}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    parse_into(&text, path, depth, out)
}

/// True when `path` is writable by everybody; such files are skipped, as
/// anybody could have put options (a `host` to steal passwords) in them.
#[cfg(unix)]
fn world_writable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o002 != 0)
}

#[cfg(not(unix))]
fn world_writable(_path: &Path) -> bool {
    false
}

/// Cuts `line` at the first `#` outside quotes (libmysqlclient's
/// `remove_end_comment`: quotes are tracked from the start of the line and
/// a backslash escapes the next character inside quotes).
fn strip_end_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escape = false;
    for (i, c) in line.char_indices() {
        if (c == '\'' || c == '"') && !escape {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        } else if quote.is_none() && c == '#' {
            return &line[..i];
        }
        escape = quote.is_some() && c == '\\' && !escape;
    }
    line
}

/// Strips matching surrounding quotes and decodes backslash escapes.
fn unquote(value: &str) -> String {
    let mut v = value;
    let bytes = v.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        if (first == b'"' || first == b'\'') && first == last {
            v = &v[1..v.len() - 1];
        }
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some(e @ ('"' | '\'' | '\\')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

/// Where a directive's path points: relative paths hang off the including
/// file's directory.
fn include_target(including: &Path, arg: &str) -> PathBuf {
    let p = Path::new(arg);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match including.parent() {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

/// Parses `text` (read from `path`) at include depth `depth`.
fn parse_into(text: &str, path: &Path, depth: usize, out: &mut Vec<Entry>) -> Result<()> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at = |n: usize| format!("{}:{}", path.display(), n);
    let mut group: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let (word, arg) = directive
                .split_once(|c: char| c.is_whitespace())
                .map_or((directive, ""), |(w, a)| (w, a.trim()));
            if word != "include" && word != "includedir" {
                bail!(
                    "{}: unknown directive (only !include and !includedir exist)",
                    at(n)
                );
            }
            if arg.is_empty() {
                bail!("{}: !{word} without a path", at(n));
            }
            if depth >= MAX_INCLUDE_DEPTH {
                bail!(
                    "{}: includes nested more than {MAX_INCLUDE_DEPTH} deep (an include cycle?)",
                    at(n)
                );
            }
            let target = include_target(path, arg);
            if word == "include" {
                load_into(&target, depth + 1, out)
                    .with_context(|| format!("{}: !include", at(n)))?;
            } else {
                include_dir(&target, depth + 1, out)
                    .with_context(|| format!("{}: !includedir", at(n)))?;
            }
            continue;
        }
        let line = strip_end_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, _)) = rest.split_once(']') else {
                bail!("{}: group header without a closing ']'", at(n));
            };
            let name = name.trim();
            if name.is_empty() {
                bail!("{}: empty group name", at(n));
            }
            group = Some(name.to_ascii_lowercase());
            continue;
        }
        let Some(group) = &group else {
            // Lines before the first group header belong to nobody.
            continue;
        };
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(v.trim()))),
            None => (line, None),
        };
        if key.is_empty() {
            bail!("{}: option without a name (line starts with '=')", at(n));
        }
        if key.chars().any(char::is_whitespace) {
            bail!(
                "{}: not an option line (a name cannot contain spaces; missing '='?)",
                at(n)
            );
        }
        out.push(Entry {
            group: group.clone(),
            key: normalize_key(key),
            value,
            file: path.to_path_buf(),
            line: n,
        });
    }
    Ok(())
}

/// Reads every `*.cnf` file of `dir`, sorted by name.
fn include_dir(dir: &Path, depth: usize, out: &mut Vec<Entry>) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read option directory {}", dir.display()))?;
    let mut files = Vec::new();
    for ent in rd {
        let ent = ent.with_context(|| format!("cannot read option directory {}", dir.display()))?;
        let p = ent.path();
        if p.extension().is_some_and(|e| e == "cnf") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    for f in files {
        load_into(&f, depth, out)?;
    }
    Ok(())
}

/// The value a key ended up with, and where it was set.
#[derive(Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value; `None` for a bare `key` line.
    pub value: Option<String>,
    /// The file that set it.
    pub file: PathBuf,
    /// 1-based line number in `file`.
    pub line: usize,
    /// Reading order across all files (higher = read later), so settings
    /// of different keys (`ssl` against `skip-ssl`) can be ordered.
    pub seq: usize,
}

impl Setting {
    /// `file:line`, for messages.
    pub fn origin(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }
}

/// The merged options of the selected groups: normalised key to the
/// setting read last.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Options {
    values: BTreeMap<String, Setting>,
    files: Vec<PathBuf>,
    seq: usize,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, s) in &self.values {
            m.entry(
                k,
                &format_args!("{:?} ({})", Shown(k, &s.value), s.origin()),
            );
        }
        m.finish()
    }
}

impl Options {
    /// No options, no files.
    pub fn new() -> Options {
        Options::default()
    }

    /// Merges the entries of `file` that belong to one of `groups`
    /// (case-insensitive); a later entry replaces an earlier one.
    pub fn apply(&mut self, file: &OptionFile, groups: &[&str]) {
        self.files.push(file.path.clone());
        for e in &file.entries {
            if !groups.iter().any(|g| g.eq_ignore_ascii_case(&e.group)) {
                continue;
            }
            self.seq += 1;
            self.values.insert(
                e.key.clone(),
                Setting {
                    value: e.value.clone(),
                    file: e.file.clone(),
                    line: e.line,
                    seq: self.seq,
                },
            );
        }
    }

    /// The setting of `key` (normalised first), if any.
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.values.get(&normalize_key(key))
    }

    /// The value of `key`, if set with a value (a bare `key` gives `None`).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|s| s.value.as_deref())
    }

    /// Of `keys`, the one set last and its setting: for options spelled in
    /// several ways, such as `ssl`, `skip-ssl` and `disable-ssl`.
    pub fn latest<'a>(&'a self, keys: &[&'a str]) -> Option<(&'a str, &'a Setting)> {
        keys.iter()
            .filter_map(|k| self.get(k).map(|s| (*k, s)))
            .max_by_key(|(_, s)| s.seq)
    }

    /// Every key and its setting, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Setting)> {
        self.values.iter().map(|(k, s)| (k.as_str(), s))
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The top-level files actually read, in order (missing optional files
    /// are not listed).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// Reads `paths` in order and merges the options of `groups`. Each path
/// comes with a `required` flag: a required file that cannot be read is an
/// error; an optional one that does not exist, or whose directory may not
/// be searched, is skipped (and one that exists but cannot be read is
/// skipped with a warning; the mysql client skips both silently). Syntax
/// errors and unreadable included files are always errors.
pub fn read_files(paths: &[(PathBuf, bool)], groups: &[&str]) -> Result<Options> {
    let mut opts = Options::new();
    for (path, required) in paths {
        if !required {
            match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // A directory that may not be searched (`sudo -u other`
                // keeps the caller's `$HOME`): whether the file is even
                // there is unknowable, and the mysql client says nothing.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    log::debug!("skipping option file {}: {e}", path.display());
                    continue;
                }
                Err(e) => {
                    log::warn!("skipping option file {}: {e}", path.display());
                    continue;
                }
                Ok(m) if !m.is_file() => {
                    log::warn!(
                        "skipping option file {}: not a regular file",
                        path.display()
                    );
                    continue;
                }
                Ok(_) => {
                    if let Err(e) = std::fs::File::open(path) {
                        log::warn!("skipping option file {}: {e}", path.display());
                        continue;
                    }
                }
            }
        }
        let file = OptionFile::load(path)?;
        opts.apply(&file, groups);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const CLIENT: &[&str] = &["client", "oxkit"];

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(&p, text).expect("write");
        p
    }

    fn parse(text: &str) -> OptionFile {
        OptionFile::parse(text, Path::new("/virtual/my.cnf")).expect("parse")
    }

    fn merged(text: &str, groups: &[&str]) -> Options {
        let mut o = Options::new();
        o.apply(&parse(text), groups);
        o
    }

    #[test]
    fn basic_syntax() {
        let o = merged(
            "stray=ignored\n[client]\nuser=alice\nhost = db1 \n  port=3307\ncompress\n",
            CLIENT,
        );
        assert_eq!(o.value("user"), Some("alice"));
        assert_eq!(o.value("host"), Some("db1"));
        assert_eq!(o.value("port"), Some("3307"));
        assert_eq!(o.get("compress").map(|s| s.value.clone()), Some(None));
        assert!(
            o.get("stray").is_none(),
            "lines before any group are ignored"
        );
        assert_eq!(o.get("port").map(|s| s.line), Some(5));
    }

    #[test]
    fn keys_normalised_and_groups_case_insensitive() {
        let o = merged(
            "[CLIENT]\nDefault_Character_Set=utf8mb4\nloose-ssl_mode=REQUIRED\n",
            CLIENT,
        );
        assert_eq!(o.value("default-character-set"), Some("utf8mb4"));
        assert_eq!(o.value("default_character_set"), Some("utf8mb4"));
        assert_eq!(o.value("ssl-mode"), Some("REQUIRED"));
    }

    #[test]
    fn group_precedence_and_selection() {
        let text = "[client]\nuser=a\nhost=h1\n[mysqld]\nuser=mysql\nport=1\n\
                    [oxkit]\nuser=b\n[client]\nuser=c\n[mysql]\nhost=other\n";
        let o = merged(text, CLIENT);
        assert_eq!(o.value("user"), Some("c"), "later occurrence wins");
        assert_eq!(o.value("host"), Some("h1"), "[mysql] is not selected");
        assert!(o.get("port").is_none(), "[mysqld] is not selected");
        let o = merged(text, &["oxkit"]);
        assert_eq!(o.value("user"), Some("b"));
    }

    #[test]
    fn quotes_and_escapes() {
        let o = merged(
            "[client]\n\
             a=\"two words\"\n\
             b='single # not a comment'\n\
             c=tab\\there\n\
             d=\"quote \\\" inside\"\n\
             e=back\\\\slash\n\
             f=\\sspace\\s\n\
             g=C:\\path\n\
             h=\"unbalanced\n\
             i=\"\"\n\
             j='it\\'s'\n\
             k=line\\nbreak\n",
            CLIENT,
        );
        assert_eq!(o.value("a"), Some("two words"));
        assert_eq!(o.value("b"), Some("single # not a comment"));
        assert_eq!(o.value("c"), Some("tab\there"));
        assert_eq!(o.value("d"), Some("quote \" inside"));
        assert_eq!(o.value("e"), Some("back\\slash"));
        assert_eq!(o.value("f"), Some(" space "));
        assert_eq!(
            o.value("g"),
            Some("C:\\path"),
            "unknown escapes keep the backslash"
        );
        assert_eq!(o.value("h"), Some("\"unbalanced"));
        assert_eq!(o.value("i"), Some(""));
        assert_eq!(o.value("j"), Some("it's"));
        assert_eq!(o.value("k"), Some("line\nbreak"));
    }

    #[test]
    fn comments() {
        let o = merged(
            "# top\n[client] # the client group\n; semicolon comment\n  # indented\n\
             user=bob # inline comment\npassword=\"p#ss\" # after quotes\nhost=x#y\n\
             database=a;b\n",
            CLIENT,
        );
        assert_eq!(o.value("user"), Some("bob"));
        assert_eq!(o.value("password"), Some("p#ss"));
        assert_eq!(
            o.value("host"),
            Some("x"),
            "as in mysql, an unquoted # starts a comment"
        );
        assert_eq!(
            o.value("database"),
            Some("a;b"),
            "; only comments at line start"
        );
        assert_eq!(o.len(), 4);
    }

    #[test]
    fn include_relative_and_absolute() {
        let dir = tempfile::tempdir().expect("tempdir");
        let abs = write(dir.path(), "abs.cnf", "[client]\nhost=abs\n");
        write(dir.path(), "sub/rel.cnf", "[client]\nuser=rel\n");
        let main = write(
            dir.path(),
            "main.cnf",
            &format!(
                "[client]\nuser=main\nhost=main\n!include sub/rel.cnf\n!include {}\nport=1\n",
                abs.display()
            ),
        );
        let o = read_files(&[(main.clone(), true)], CLIENT).expect("read");
        assert_eq!(o.value("user"), Some("rel"));
        assert_eq!(o.value("host"), Some("abs"));
        assert_eq!(o.get("host").map(|s| s.file.clone()), Some(abs));
        // After the include, the including file's group is still in force.
        assert_eq!(o.value("port"), Some("1"));
        assert_eq!(o.files(), &[main]);
    }

    #[test]
    fn included_file_starts_outside_any_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "inc.cnf", "user=nogroup\n[mysqld]\nport=9\n");
        let main = write(
            dir.path(),
            "main.cnf",
            "[client]\n!include inc.cnf\nhost=h\n",
        );
        let o = read_files(&[(main, true)], CLIENT).expect("read");
        assert!(o.get("user").is_none());
        assert!(
            o.get("port").is_none(),
            "[mysqld] from the included file stays out"
        );
        assert_eq!(
            o.value("host"),
            Some("h"),
            "back in [client] after the include"
        );
    }

    #[test]
    fn includedir_reads_cnf_files_sorted() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "conf.d/20-b.cnf", "[client]\nuser=b\nhost=b\n");
        write(
            dir.path(),
            "conf.d/10-a.cnf",
            "[client]\nuser=a\nport=1\nhost=a\n",
        );
        write(dir.path(), "conf.d/30-c.cnf", "[client]\nuser=c\n");
        write(dir.path(), "conf.d/99-z.txt", "[client]\nuser=z\n");
        write(dir.path(), "conf.d/sub.cnf/x.cnf", "[client]\nuser=dir\n");
        let main = write(dir.path(), "my.cnf", "!includedir conf.d\n");
        let o = read_files(&[(main, true)], CLIENT).expect("read");
        assert_eq!(o.value("user"), Some("c"));
        assert_eq!(o.value("host"), Some("b"));
        assert_eq!(o.value("port"), Some("1"));
    }

    #[test]
    fn include_cycle_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "a.cnf", "[client]\n!include b.cnf\n");
        write(dir.path(), "b.cnf", "!include a.cnf\n");
        let a = dir.path().join("a.cnf");
        let err = read_files(&[(a, true)], CLIENT).expect_err("cycle");
        assert!(
            format!("{err:#}").contains("nested more than 10"),
            "{err:#}"
        );
    }

    #[test]
    fn unreadable_include_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = write(dir.path(), "main.cnf", "[client]\n!include missing.cnf\n");
        let err = read_files(&[(main, true)], CLIENT).expect_err("missing include");
        let msg = format!("{err:#}");
        assert!(msg.contains("missing.cnf"), "{msg}");
        assert!(msg.contains("main.cnf:2"), "{msg}");
        let main = write(dir.path(), "main2.cnf", "!includedir nodir\n");
        let err = read_files(&[(main, true)], CLIENT).expect_err("missing dir");
        assert!(format!("{err:#}").contains("nodir"), "{err:#}");
    }

    #[test]
    fn missing_files_required_or_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.cnf");
        let o = read_files(&[(missing.clone(), false)], CLIENT).expect("optional");
        assert!(o.is_empty() && o.files().is_empty());
        let err = read_files(&[(missing, true)], CLIENT).expect_err("required");
        assert!(format!("{err:#}").contains("nope.cnf"), "{err:#}");
    }

    #[test]
    fn later_files_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(dir.path(), "a.cnf", "[client]\nuser=a\nhost=a\n");
        let b = write(dir.path(), "b.cnf", "[client]\nuser=b\n");
        let o = read_files(&[(a, false), (b.clone(), false)], CLIENT).expect("read");
        assert_eq!(o.value("user"), Some("b"));
        assert_eq!(o.value("host"), Some("a"));
        assert_eq!(
            o.get("user").map(Setting::origin),
            Some(format!("{}:2", b.display()))
        );
    }

    #[test]
    fn latest_of_several_spellings() {
        let o = merged("[client]\nssl\nskip-ssl\n[oxkit]\nssl=1\n", CLIENT);
        assert_eq!(o.latest(&["ssl", "skip-ssl"]).map(|(k, _)| k), Some("ssl"));
        let o = merged("[client]\nssl\nskip_ssl\n", CLIENT);
        assert_eq!(
            o.latest(&["ssl", "skip-ssl"]).map(|(k, _)| k),
            Some("skip-ssl")
        );
        assert!(o.latest(&["enable-ssl"]).is_none());
    }

    #[test]
    fn garbage_lines_are_errors_with_file_and_line() {
        for (text, line, what) in [
            (
                "[client]\nuser=a\nthis is garbage\n",
                3,
                "cannot contain spaces",
            ),
            ("[client]\n=value\n", 2, "without a name"),
            ("[client\nuser=a\n", 1, "closing ']'"),
            ("[]\n", 1, "empty group"),
            ("[client]\n!frobnicate x\n", 2, "unknown directive"),
            ("[client]\n\n!include\n", 3, "without a path"),
        ] {
            let err = OptionFile::parse(text, Path::new("/etc/x.cnf")).expect_err(text);
            let msg = format!("{err:#}");
            assert!(msg.contains(&format!("/etc/x.cnf:{line}")), "{msg}");
            assert!(msg.contains(what), "{msg}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_passwords() {
        let err = OptionFile::parse("[client]\npassword SuperSecret42\n", Path::new("/x.cnf"))
            .expect_err("garbage");
        assert!(!format!("{err:#} {err:?}").contains("SuperSecret42"));
        let o = merged("[client]\npassword=SuperSecret42\nuser=u\n", CLIENT);
        let dbg = format!("{o:?} {:?}", parse("[client]\npassword=SuperSecret42\n"));
        assert!(!dbg.contains("SuperSecret42"), "{dbg}");
        assert!(dbg.contains("***"), "{dbg}");
    }

    #[test]
    fn crlf_and_bom() {
        let o = merged("\u{feff}[client]\r\nuser=win\r\n", CLIENT);
        assert_eq!(o.value("user"), Some("win"));
    }

    #[cfg(unix)]
    #[test]
    fn world_writable_files_are_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "ww.cnf", "[client]\nhost=evil\n");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).expect("chmod");
        let o = read_files(&[(p, true)], CLIENT).expect("read");
        assert!(o.get("host").is_none());
    }
}
