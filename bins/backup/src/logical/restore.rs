//! Restore of a logical backup set into a running server.
//!
//! Order: databases; then, on every connection at once (see
//! [`super::schedule`]), each table is created, its data files are loaded
//! with `LOAD DATA LOCAL INFILE` (largest first across all tables; each
//! file's size and SHA-256 are checked before a byte of it is sent, so a
//! tampered file fails the restore and names the file), and its secondary
//! indexes and foreign keys are added with one `ALTER TABLE` as soon as its
//! last file is in, while other tables still load. A table that fits one
//! small data file is created with its indexes (a second DDL would cost
//! more than it saves). Then views (in dependency order, by retry),
//! routines, triggers (after the data, so they do not fire on it), events,
//! and users and grants when asked.
//!
//! `--first` runs that in two rounds: the tables asked for and the tables
//! they reference by foreign key, completely (rows, indexes, foreign keys,
//! their triggers), then the rest; the moment the first round is usable is
//! said on stderr and reported.
//!
//! Every session runs with `foreign_key_checks=0` (`unique_checks` stays
//! on, see `session`), and with `sql_log_bin=0` under `--no-binlog`.
//! `LOAD DATA LOCAL` turns data errors into warnings, so any warning, or a
//! row count different from the manifest's, fails the restore. Existing
//! tables are never overwritten: the restore stops before writing when one
//! of the tables it would create exists.

use super::schedule::{Job, Schedule, Unit};
use super::schema::{self, ObjectKind, SchemaDump, SchemaObject};
use crate::crypt::Key;
use crate::manifest::{Manifest, TableEntry};
use crate::repo::{self, Repo};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::Context;
use oxkit::filter::TableFilter;
use oxkit::sql::{quote_ident, quote_str, quote_table};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A progress line on stderr this often when it is not a terminal (for
/// logs and cron mail of long restores).
const LOG_EVERY: Duration = Duration::from_secs(30);

/// Settings of a restore.
#[derive(Clone)]
pub struct RestoreOptions {
    /// Parallel connections.
    pub threads: usize,
    /// `sql_log_bin=0` on every session.
    pub no_binlog: bool,
    /// Which tables and objects.
    pub filter: TableFilter,
    /// Restore users and grants too.
    pub users: bool,
    /// The key, for an encrypted set.
    pub key: Option<Key>,
    /// Read the indexes that were in the source's buffer pool afterwards.
    pub warm_up: bool,
    /// `--first`: tables (patterns) restored completely, with their
    /// foreign-key parents, before the others.
    pub first: Vec<String>,
}

impl RestoreOptions {
    /// Options for set `m` on `threads` connections, with its key (read
    /// from `key_file`) when it is encrypted, and everything else off:
    /// every table, binary logging on, no users, no warm-up.
    pub fn for_set(m: &Manifest, key_file: Option<&Path>, threads: usize) -> Result<Self> {
        Ok(RestoreOptions {
            threads,
            no_binlog: false,
            filter: TableFilter::default(),
            users: false,
            key: Key::for_set(m, key_file)?,
            warm_up: false,
            first: Vec::new(),
        })
    }
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    /// The set restored.
    pub backup: String,
    /// Where.
    pub target: String,
    /// Tables restored.
    pub tables: usize,
    /// Rows loaded.
    pub rows: u64,
    /// Bytes of data files read.
    pub bytes: u64,
    /// Seconds the restore took.
    pub duration_secs: f64,
    /// `--first`: the tables restored first (those asked for and their
    /// foreign-key parents).
    pub first_tables: Vec<String>,
    /// `--first`: seconds from the start until those tables were complete
    /// (rows, indexes, foreign keys, triggers) and usable.
    pub first_usable_secs: Option<f64>,
    /// Where the time went.
    pub profile: RestoreProfile,
    /// Seconds of the roll-forward through binary logs, when asked.
    pub binlog_secs: Option<f64>,
    /// Warnings (definitions that could not be restored exactly).
    pub warnings: Vec<String>,
}

/// A CREATE TABLE without its secondary indexes and foreign keys, and the
/// `ALTER TABLE` clauses that add them back.
pub fn split_create(sql: &str) -> (String, Vec<String>) {
    let lines: Vec<&str> = sql.lines().collect();
    let Some(close) = lines.iter().rposition(|l| l.starts_with(')')) else {
        return (sql.to_string(), Vec::new());
    };
    if close < 1 {
        return (sql.to_string(), Vec::new());
    }
    let body: Vec<&str> = lines[1..close]
        .iter()
        .map(|l| l.trim().trim_end_matches(','))
        .collect();
    let has_pk = body.iter().any(|l| l.starts_with("PRIMARY KEY "));
    // An AUTO_INCREMENT column must lead some key: keep everything unless
    // the primary key starts with it.
    let auto = body
        .iter()
        .find(|l| l.starts_with('`') && l.contains(" AUTO_INCREMENT"))
        .and_then(|l| l.split('`').nth(1));
    if let Some(a) = auto {
        let pk_first = body
            .iter()
            .find(|l| l.starts_with("PRIMARY KEY "))
            .and_then(|l| l.split('`').nth(1));
        if pk_first != Some(a) {
            return (sql.to_string(), Vec::new());
        }
    }
    let mut keep = Vec::new();
    let mut later = Vec::new();
    for l in body {
        let defer = l.starts_with("KEY ")
            || l.starts_with("FULLTEXT KEY ")
            || l.starts_with("SPATIAL KEY ")
            || (has_pk && l.starts_with("UNIQUE KEY "))
            || (l.starts_with("CONSTRAINT ") && l.contains(" FOREIGN KEY "));
        if defer {
            later.push(format!("ADD {l}"));
        } else {
            keep.push(format!("  {l}"));
        }
    }
    if keep.is_empty() {
        return (sql.to_string(), Vec::new());
    }
    let mut out = String::new();
    out.push_str(lines[0]);
    out.push('\n');
    out.push_str(&keep.join(",\n"));
    out.push('\n');
    out.push_str(&lines[close..].join("\n"));
    (out, later)
}

fn session(c: &mut Conn, no_binlog: bool) -> Result<()> {
    // unique_checks stays on: with both checks off, InnoDB (10.6+) loads
    // into an empty table in bulk mode under an exclusive table lock, which
    // serializes the parallel loads of one table's chunks (and made them
    // slower, measured). Lock waits are long: a restore has the tables to
    // itself.
    c.run(
        "setting up a restore session",
        "SET SESSION foreign_key_checks=0, innodb_lock_wait_timeout=86400, lock_wait_timeout=86400",
    )?;
    if no_binlog {
        c.run(
            "turning binary logging off for the restore (--no-binlog needs SUPER or BINLOG ADMIN)",
            "SET SESSION sql_log_bin=0",
        )?;
    }
    Ok(())
}

fn load_sql(t: &TableEntry) -> String {
    let mut cols = Vec::new();
    let mut sets = Vec::new();
    for (i, c) in t.columns.iter().enumerate() {
        if c.hex {
            cols.push(format!("@h{i}"));
            sets.push(format!("{} = UNHEX(@h{i})", quote_ident(&c.name)));
        } else {
            cols.push(quote_ident(&c.name));
        }
    }
    let mut sql = format!(
        "LOAD DATA LOCAL INFILE 'oxkit-chunk' INTO TABLE {} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        quote_table(&t.db, &t.name),
        cols.join(", ")
    );
    if !sets.is_empty() {
        sql.push_str(" SET ");
        sql.push_str(&sets.join(", "));
    }
    sql
}

fn run_object(c: &mut Conn, o: &SchemaObject, sql: &str) -> Result<()> {
    if !o.db.is_empty() {
        c.run(
            "choosing the database",
            &format!("USE {}", quote_ident(&o.db)),
        )?;
    }
    if let Some(mode) = &o.sql_mode {
        c.run(
            "setting the object's sql_mode",
            &format!("SET SESSION sql_mode = {}", quote_str(mode)),
        )?;
    }
    let what = format!("creating {} {}.{}", o.kind, o.db, o.name);
    let r = c.query_drop(sql).map_err(|e| conn::db_error(&what, &e));
    if o.sql_mode.is_some() {
        let d = conn::SessionOptions::default();
        c.run(
            "restoring sql_mode",
            &format!("SET SESSION sql_mode = {}", quote_str(&d.sql_mode)),
        )?;
    }
    r?;
    Ok(())
}

/// Restores set `m` into a new data directory `dir`: a throwaway server
/// on a fresh datadir is restored into, shut down cleanly and its datadir
/// moved to `dir`.
pub fn to_datadir(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    opts: &RestoreOptions,
    dir: &std::path::Path,
) -> Result<RestoreReport> {
    let sb = oxkit::sandbox::Sandbox::builder()
        .install(m.server.install()?)
        .keep(true)
        .start()?;
    let r = restore(
        ctx,
        repo,
        m,
        &sb.socket_spec(),
        &ConnectOptions::default(),
        opts,
    );
    let sdir = sb.stop_and_keep()?;
    let data = sdir.join("data");
    let mut r = match r {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&sdir);
            return Err(e);
        }
    };
    if std::fs::rename(&data, dir).is_err() {
        // Another file system: copy, then remove.
        let st = std::process::Command::new("cp")
            .arg("-a")
            .arg(&data)
            .arg(dir)
            .status()
            .context("running cp -a")?;
        if !st.success() {
            bail!("copying {} to {} failed", data.display(), dir.display());
        }
    }
    let _ = std::fs::remove_dir_all(&sdir);
    // A server's own data directory is private (it holds the password
    // hashes in mysql/global_priv); `dir` did not exist, so all of it is.
    repo::private_tree(dir, true)?;
    r.target = dir.display().to_string();
    Ok(r)
}

/// The rows are sent with `LOAD DATA LOCAL INFILE`, which a server with
/// `local_infile` off (MySQL's default since 8.0) refuses with ERROR 3948
/// once the tables exist: checked before anything is created, as MySQL
/// Shell's `loadDump` does, and an error with exit status 1 naming the
/// variable and how to turn it on.
pub fn check_local_infile(c: &mut Conn) -> Result<()> {
    let on: Option<Option<String>> = c.row(
        "reading local_infile",
        "SELECT CAST(@@GLOBAL.local_infile AS CHAR)",
    )?;
    let on = on.flatten().unwrap_or_default();
    if on == "1" || on.eq_ignore_ascii_case("ON") {
        return Ok(());
    }
    Err(oxkit::entry::ExitError {
        exit: oxkit::Exit::ERROR,
        message: format!(
            "{} has local_infile=OFF: a logical restore loads rows with LOAD DATA LOCAL INFILE, \
             which it refuses; enable it with SET GLOBAL local_infile = ON (needs \
             SYSTEM_VARIABLES_ADMIN or SUPER; or start the server with --local-infile=ON) and run \
             the restore again (nothing was restored)",
            c.label()
        ),
    }
    .into())
}

/// Restores set `m` into the server at `spec`. On failure (or Ctrl-C)
/// what the restore created is dropped again (databases it created, else
/// its tables, views, routines, triggers and events; users are kept), so
/// the server is left as it was found.
pub fn restore(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let load = Load {
        ctx,
        repo,
        m,
        files: m.files.iter().map(|f| (f.path.as_str(), f)).collect(),
        spec,
        copts,
        opts,
    };
    let mut undo = Vec::new();
    let r = load.run(&mut undo);
    if r.is_err() && !undo.is_empty() {
        let cleaned = conn::connect(spec, copts).map(|mut c| {
            let _ = session(&mut c, opts.no_binlog);
            undo.iter()
                .rev()
                .filter(|sql| c.run("undoing the partial restore", sql).is_err())
                .count()
        });
        return match cleaned {
            Ok(0) => r.context("the restore failed; what it had created was dropped again"),
            _ => r.context(format!(
                "the restore failed and could not drop everything it created; run: {}",
                undo.iter().rev().cloned().collect::<Vec<_>>().join("; ")
            )),
        };
    }
    r
}

/// One restore: the set, the server it goes into, and how.
struct Load<'a> {
    ctx: &'a Context,
    repo: &'a Repo,
    m: &'a Manifest,
    /// The set's files by path: looked up for every data file, so not by
    /// scanning the list (thousands of tables, thousands of files).
    files: std::collections::HashMap<&'a str, &'a crate::manifest::FileEntry>,
    spec: &'a ConnSpec,
    copts: &'a ConnectOptions,
    opts: &'a RestoreOptions,
}

/// What a restore recreates.
struct Selection<'a> {
    tables: Vec<&'a TableEntry>,
    views: Vec<&'a SchemaObject>,
    /// Routines, events, and the triggers of the tables.
    other: Vec<&'a SchemaObject>,
    dbs: BTreeSet<String>,
}

impl<'a> Selection<'a> {
    /// What of set `m` (definitions `schema`) the filter selects; an
    /// error when that is nothing.
    fn new(m: &'a Manifest, schema: &'a SchemaDump, filter: &TableFilter) -> Result<Self> {
        let tables: Vec<&TableEntry> = m
            .tables
            .iter()
            .filter(|t| filter.selects(&t.db, &t.name, Some(&t.engine)))
            .collect();
        let views: Vec<&SchemaObject> = schema
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::View && filter.selects(&o.db, &o.name, None))
            .collect();
        let other: Vec<&SchemaObject> = schema
            .objects
            .iter()
            .filter(|o| match o.kind {
                ObjectKind::Procedure | ObjectKind::Function | ObjectKind::Event => {
                    filter.selects(&o.db, &o.name, None)
                }
                ObjectKind::Trigger => tables
                    .iter()
                    .any(|t| t.db == o.db && Some(&t.name) == o.table.as_ref()),
                _ => false,
            })
            .collect();
        let mut dbs: BTreeSet<String> = tables.iter().map(|t| t.db.clone()).collect();
        dbs.extend(views.iter().map(|o| o.db.clone()));
        dbs.extend(other.iter().map(|o| o.db.clone()));
        for o in schema
            .objects
            .iter()
            .filter(|o| o.kind == ObjectKind::Database)
        {
            if filter.selects(&o.db, "", None) || filter.selects(&o.db, "*", None) {
                dbs.insert(o.db.clone());
            }
        }
        if tables.is_empty() && views.is_empty() && other.is_empty() && dbs.is_empty() {
            bail!("nothing in backup {} matches the filters", m.id);
        }
        Ok(Selection {
            tables,
            views,
            other,
            dbs,
        })
    }
}

/// `DROP <kind> IF EXISTS db.name`: what undoes a created object.
fn drop_sql(kind: ObjectKind, db: &str, name: &str) -> String {
    format!(
        "DROP {} IF EXISTS {}",
        kind.sql_word(),
        quote_table(db, name)
    )
}

/// A table of the restore: its definition as created (without the
/// secondary indexes and foreign keys when those are added after the
/// rows) and the `ALTER TABLE` clauses added then.
struct Table<'a> {
    t: &'a TableEntry,
    obj: &'a SchemaObject,
    create: String,
    later: Vec<String>,
}

/// A table whose rows fit one data file of at most this many stored bytes
/// is created with all its indexes: adding them afterwards would cost a
/// second DDL for no parallelism (many small tables is the common schema).
const SMALL_TABLE_BYTES: u64 = 16 << 20;

/// Small tables' data files loaded in one transaction (see `Load::job`).
const BATCH_FILES: usize = 64;

/// A loading connection and the small tables' files in its open
/// transaction.
struct Worker {
    c: Conn,
    batch: usize,
}

impl Worker {
    /// Commits the open batch, if any.
    fn commit(&mut self) -> Result<()> {
        if self.batch > 0 {
            self.c.run("committing a batch of small tables", "COMMIT")?;
            self.batch = 0;
        }
        Ok(())
    }
}

/// Seconds the workers spent, summed over workers, in each kind of job:
/// where a restore's time goes.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestoreProfile {
    /// Creating tables.
    pub create_secs: f64,
    /// Reading data files and checking their size and SHA-256.
    pub read_secs: f64,
    /// `LOAD DATA` statements (decompression and decryption stream into
    /// them, so they are part of this).
    pub load_secs: f64,
    /// Adding deferred indexes and foreign keys.
    pub index_secs: f64,
    /// Views, routines, triggers and events, and users.
    pub objects_secs: f64,
}

impl RestoreProfile {
    fn add(&mut self, job: Job, read: f64, secs: f64) {
        match job {
            Job::Create(_) => self.create_secs += secs,
            Job::Chunk(..) => {
                self.read_secs += read;
                self.load_secs += secs - read;
            }
            Job::Index(_) => self.index_secs += secs,
        }
    }
}

/// The tables of `sel` that `--first` asks for, with every table they
/// reference by foreign key (transitively, within the restore); an error
/// names a pattern that matches none.
fn first_closure(tables: &[Table], patterns: &[String]) -> Result<BTreeSet<usize>> {
    let mut want = BTreeSet::new();
    for p in patterns {
        let hits: Vec<usize> = (0..tables.len())
            .filter(|&i| table_pattern_matches(p, &tables[i].t.db, &tables[i].t.name))
            .collect();
        if hits.is_empty() {
            return Err(oxkit::entry::usage_error(format!(
                "--first {p}: no table of the restore matches it"
            )));
        }
        want.extend(hits);
    }
    let mut todo: Vec<usize> = want.iter().copied().collect();
    while let Some(i) = todo.pop() {
        let sql = tables[i].obj.sql.join("");
        for (db, name) in fk_parents(&sql, &tables[i].t.db) {
            if let Some(j) = tables.iter().position(|x| x.t.db == db && x.t.name == name) {
                if want.insert(j) {
                    todo.push(j);
                }
            }
        }
    }
    Ok(want)
}

/// `db.table` or `table` (every schema), `*` and `?` as wildcards.
fn table_pattern_matches(pattern: &str, db: &str, table: &str) -> bool {
    match pattern.split_once('.') {
        Some((d, t)) => glob(d, db) && glob(t, table),
        None => glob(pattern, table),
    }
}

fn glob(p: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (p.chars().collect(), s.chars().collect());
    // Classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(st) = star {
            i = st + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The tables a `CREATE TABLE` (as `SHOW CREATE TABLE` writes it)
/// references by foreign key, as (schema, table); `db` is the table's own
/// schema, for references without one.
pub fn fk_parents(create: &str, db: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = create;
    while let Some(at) = rest.find(" REFERENCES `") {
        rest = &rest[at + " REFERENCES ".len()..];
        let Some((first, after)) = backquoted(rest) else {
            break;
        };
        rest = after;
        match after.strip_prefix('.').and_then(backquoted) {
            Some((second, after2)) => {
                out.push((first, second));
                rest = after2;
            }
            None => out.push((db.to_string(), first)),
        }
    }
    out
}

/// The identifier at the start of `s` in backquotes (`` ` `` doubled
/// inside), and what follows it.
fn backquoted(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            if body[i + 1..].starts_with('`') {
                name.push('`');
                chars.next();
            } else {
                return Some((name, &body[i + 1..]));
            }
        } else {
            name.push(c);
        }
    }
    None
}

impl Load<'_> {
    /// Stored size of the set's file `path` (0 if the manifest lacks it;
    /// loading that file then fails by name).
    fn size(&self, path: &str) -> u64 {
        self.files.get(path).map_or(0, |f| f.size)
    }

    /// The restore, in the order the module documentation gives; every
    /// statement that undoes what it created goes to `undo`.
    fn run(&self, undo: &mut Vec<String>) -> Result<RestoreReport> {
        let t0 = Instant::now();
        let (m, opts) = (self.m, self.opts);
        let schema = schema::read(self.repo, m, opts.key.as_ref())?;
        let mut control = conn::connect(self.spec, self.copts)?;
        let target = control.label().to_string();
        session(&mut control, opts.no_binlog)?;
        let sel = Selection::new(m, &schema, &opts.filter)?;
        if !sel.tables.is_empty() {
            check_local_infile(&mut control)?;
        }
        check_absent(&mut control, &sel.tables, &target)?;
        let existing: BTreeSet<String> = control
            .rows::<String>("listing databases", "SHOW DATABASES")?
            .into_iter()
            .collect();
        let tables = self.tables(&schema, &sel)?;
        let first = first_closure(&tables, &opts.first)?;
        self.create_databases(&mut control, &schema, &sel, &existing, undo)?;
        for t in tables.iter().filter(|t| existing.contains(&t.t.db)) {
            undo.push(drop_sql(ObjectKind::Table, &t.t.db, &t.t.name));
        }

        let mut conns = (0..opts.threads.max(1))
            .map(|_| {
                let mut c = conn::connect(self.spec, self.copts)?;
                session(&mut c, opts.no_binlog)?;
                Ok(Worker { c, batch: 0 })
            })
            .collect::<Result<Vec<Worker>>>()?;
        let total: u64 = tables
            .iter()
            .flat_map(|t| &t.t.chunks)
            .map(|c| self.size(&c.file))
            .sum();
        let progress = oxkit::progress::Progress::bytes(self.ctx, total.max(1), "restore bytes")
            .with_log_lines(LOG_EVERY);
        let profile = Mutex::new(RestoreProfile::default());
        let (mut rows, mut bytes) = (0, 0);
        let mut first_usable = None;
        let mut objects_secs = 0.0;
        let is_first = |o: &SchemaObject| {
            o.kind == ObjectKind::Trigger
                && first
                    .iter()
                    .any(|&i| tables[i].t.db == o.db && Some(&tables[i].t.name) == o.table.as_ref())
        };
        let groups: Vec<Vec<&Table>> = if first.is_empty() {
            vec![tables.iter().collect()]
        } else {
            vec![
                first.iter().map(|&i| &tables[i]).collect(),
                (0..tables.len())
                    .filter(|i| !first.contains(i))
                    .map(|i| &tables[i])
                    .collect(),
            ]
        };
        for (g, group) in groups.iter().enumerate() {
            let (r, b) = self.load_group(&mut conns, group, &progress, &profile)?;
            rows += r;
            bytes += b;
            if g == 0 && !first.is_empty() {
                let t = Instant::now();
                for o in sel.other.iter().filter(|o| is_first(o)) {
                    run_object(&mut control, o, &o.sql.join(""))?;
                    if existing.contains(&o.db) {
                        undo.push(drop_sql(o.kind, &o.db, &o.name));
                    }
                }
                objects_secs += t.elapsed().as_secs_f64();
                let secs = t0.elapsed().as_secs_f64();
                progress.note(&format!(
                    "the first {} tables ({}) are restored and usable after {secs:.1}s; restoring the other {}",
                    group.len(),
                    group
                        .iter()
                        .map(|t| format!("{}.{}", t.t.db, t.t.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    tables.len() - group.len()
                ));
                first_usable = Some(secs);
            }
        }
        progress.finish();
        drop(conns);

        let t = Instant::now();
        create_views(&mut control, sel.views, &existing, undo)?;
        for o in sel.other.iter().filter(|o| !is_first(o)) {
            run_object(&mut control, o, &o.sql.join(""))?;
            if existing.contains(&o.db) {
                undo.push(drop_sql(o.kind, &o.db, &o.name));
            }
        }
        let mut warnings = Vec::new();
        if opts.users {
            restore_users(&mut control, &schema, &mut warnings);
        }
        let mut profile = profile.into_inner().unwrap_or_else(|e| e.into_inner());
        profile.objects_secs = objects_secs + t.elapsed().as_secs_f64();
        if opts.warm_up {
            let key = opts.key.as_ref();
            super::warm::warm_up(&mut control, self.repo, m, key, &sel.tables, &mut warnings)?;
        }
        Ok(RestoreReport {
            backup: m.id.clone(),
            target,
            tables: sel.tables.len(),
            rows,
            bytes,
            duration_secs: t0.elapsed().as_secs_f64(),
            first_tables: first
                .iter()
                .map(|&i| format!("{}.{}", tables[i].t.db, tables[i].t.name))
                .collect(),
            first_usable_secs: first_usable,
            binlog_secs: None,
            profile,
            warnings,
        })
    }

    /// The selected tables with their definitions split into what is
    /// created before the rows and what is added after them.
    fn tables<'s>(&self, schema: &'s SchemaDump, sel: &Selection<'s>) -> Result<Vec<Table<'s>>> {
        sel.tables
            .iter()
            .map(|&t| {
                let obj = schema
                    .objects
                    .iter()
                    .find(|o| o.kind == ObjectKind::Table && o.db == t.db && o.name == t.name)
                    .with_context(|| {
                        format!(
                            "backup {} has no definition for {}.{}",
                            self.m.id, t.db, t.name
                        )
                    })?;
                let sql = obj.sql.join("");
                let stored: u64 = t.chunks.iter().map(|c| self.size(&c.file)).sum();
                let (create, later) = if t.chunks.len() <= 1 && stored <= SMALL_TABLE_BYTES {
                    (sql, Vec::new())
                } else {
                    split_create(&sql)
                };
                Ok(Table {
                    t,
                    obj,
                    create,
                    later,
                })
            })
            .collect()
    }

    /// Creates the selected databases (those that did not exist are
    /// undone by dropping them).
    fn create_databases(
        &self,
        control: &mut Conn,
        schema: &SchemaDump,
        sel: &Selection,
        existing: &BTreeSet<String>,
        undo: &mut Vec<String>,
    ) -> Result<()> {
        for db in &sel.dbs {
            if !existing.contains(db) {
                undo.push(format!("DROP DATABASE IF EXISTS {}", quote_ident(db)));
            }
        }
        let databases = || {
            schema
                .objects
                .iter()
                .filter(|o| o.kind == ObjectKind::Database)
        };
        for o in databases().filter(|o| sel.dbs.contains(&o.db)) {
            let sql =
                o.sql
                    .join("")
                    .replacen("CREATE DATABASE ", "CREATE DATABASE IF NOT EXISTS ", 1);
            control.run(&format!("creating database {}", o.db), &sql)?;
        }
        for db in &sel.dbs {
            if !databases().any(|o| o.db == *db) {
                control.run(
                    "creating a database",
                    &format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(db)),
                )?;
            }
        }
        Ok(())
    }

    /// Creates, loads and indexes `group` on `conns` at once (see
    /// [`super::schedule`]); returns the rows and the stored bytes loaded.
    fn load_group(
        &self,
        conns: &mut [Worker],
        group: &[&Table],
        progress: &oxkit::progress::Progress,
        profile: &Mutex<RestoreProfile>,
    ) -> Result<(u64, u64)> {
        let sched = Schedule::new(
            group
                .iter()
                .map(|t| Unit {
                    chunks: t.t.chunks.iter().map(|c| self.size(&c.file)).collect(),
                    deferred: !t.later.is_empty(),
                })
                .collect(),
        );
        let cancel = &self.ctx.cancel;
        let loaded = crate::pool::run(conns, cancel, &|w| {
            let Some(job) = sched.next(cancel)? else {
                return Ok(None);
            };
            let start = Instant::now();
            let r = self.job(w, group, job);
            sched.done(job, r.is_ok());
            let (rows, bytes, read) = r?;
            progress.inc(bytes);
            if let Ok(mut p) = profile.lock() {
                p.add(job, read, start.elapsed().as_secs_f64());
            }
            Ok(Some((rows, bytes)))
        })?;
        for w in conns.iter_mut() {
            w.commit()?;
        }
        Ok((
            loaded.iter().map(|(r, _)| r).sum(),
            loaded.iter().map(|(_, b)| b).sum(),
        ))
    }

    /// Runs one job on `w`: rows, stored bytes and seconds spent reading.
    /// The data file of a table with nothing deferred (one small file)
    /// joins the worker's open transaction, committed every
    /// [`BATCH_FILES`] such files and before any other job: many small
    /// tables then cost a commit (a log flush) per batch, not per table.
    /// A table with deferred indexes is committed per file, so its
    /// `ALTER TABLE` never waits for another worker's open transaction.
    fn job(&self, w: &mut Worker, group: &[&Table], job: Job) -> Result<(u64, u64, f64)> {
        let batched = matches!(job, Job::Chunk(t, _) if group[t].later.is_empty() && group[t].t.chunks.len() == 1);
        if !batched {
            w.commit()?;
        } else if w.batch == 0 {
            w.c.run("starting a batch of small tables", "BEGIN")?;
        }
        let c = &mut w.c;
        let r = match job {
            Job::Create(t) => {
                run_object(c, group[t].obj, &group[t].create)?;
                Ok((0, 0, 0.0))
            }
            Job::Chunk(t, i) => self.load_chunk(c, group[t].t, i),
            Job::Index(t) => {
                let (db, name) = (&group[t].t.db, &group[t].t.name);
                c.run(
                    &format!("adding the indexes of {db}.{name}"),
                    &format!(
                        "ALTER TABLE {} {}",
                        quote_table(db, name),
                        group[t].later.join(", ")
                    ),
                )?;
                Ok((0, 0, 0.0))
            }
        };
        if batched {
            w.batch += 1;
            if w.batch >= BATCH_FILES {
                w.commit()?;
            }
        }
        r
    }

    /// Loads data file `i` of `t` through `c`: its size and SHA-256 are
    /// checked before a byte is sent, and a warning or a row count other
    /// than the manifest's fails it. Returns the rows, the stored bytes
    /// and the seconds spent reading and checking the file.
    fn load_chunk(&self, c: &mut Conn, t: &TableEntry, i: usize) -> Result<(u64, u64, f64)> {
        let ch = &t.chunks[i];
        let entry = *self
            .files
            .get(ch.file.as_str())
            .with_context(|| format!("the manifest lists no file {}", ch.file))?;
        let read = Instant::now();
        let data = self.repo.read_verified(&self.m.id, entry)?;
        let read = read.elapsed().as_secs_f64();
        let mut reader = repo::decoder(data, self.opts.key.as_ref(), &ch.file)?;
        let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let f2 = failure.clone();
        c.set_local_infile_handler(Some(mysql::LocalInfileHandler::new(move |_, w| {
            let r = std::io::copy(&mut reader, w).map(|_| ());
            if let Err(e) = &r {
                if let Ok(mut f) = f2.lock() {
                    *f = Some(e.to_string());
                }
            }
            r
        })));
        let what = format!("loading {} into {}.{}", ch.file, t.db, t.name);
        let r = c.query_drop(load_sql(t));
        c.set_local_infile_handler(None);
        if let Some(f) = failure.lock().ok().and_then(|f| f.clone()) {
            bail!("{what}: {f}");
        }
        r.map_err(|e| conn::db_error(&what, &e))?;
        let rows = c.affected_rows();
        let w = super::dump::warnings(c, &what);
        if !w.is_empty() {
            bail!(
                "{what}: the server changed data while loading it: {}",
                w.join("; ")
            );
        }
        if rows != ch.rows {
            bail!("{what}: loaded {rows} rows, the backup holds {}", ch.rows);
        }
        Ok((rows, entry.size, read))
    }
}

/// Never overwrite: fails when one of `tables` exists on the target.
fn check_absent(control: &mut Conn, tables: &[&TableEntry], target: &str) -> Result<()> {
    for t in tables {
        let n: Option<u64> = control.exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (t.db.as_str(), t.name.as_str()),
        ).map_err(|e| conn::db_error("checking the target", &e))?;
        if n.unwrap_or(0) > 0 {
            bail!(
                "{}.{} already exists on {target}; drop it or restore the others with --ignore-tables (a restore never overwrites)",
                t.db,
                t.name
            );
        }
    }
    Ok(())
}

/// Creates `views` in dependency order, by retrying those that failed
/// until a round creates none.
fn create_views(
    control: &mut Conn,
    views: Vec<&SchemaObject>,
    existing: &BTreeSet<String>,
    undo: &mut Vec<String>,
) -> Result<()> {
    let mut pending = views;
    while !pending.is_empty() {
        let mut left = Vec::new();
        let mut last_err = None;
        for o in pending.iter().copied() {
            match run_object(control, o, &o.sql.join("")) {
                Ok(()) if existing.contains(&o.db) => {
                    undo.push(drop_sql(ObjectKind::View, &o.db, &o.name))
                }
                Ok(()) => {}
                Err(e) => {
                    last_err = Some(e);
                    left.push(o);
                }
            }
        }
        if left.len() == pending.len() {
            return Err(last_err.unwrap_or_else(|| anyhow::anyhow!("views could not be created")));
        }
        pending = left;
    }
    Ok(())
}

/// Recreates the users and their grants; what fails is a warning.
fn restore_users(control: &mut Conn, schema: &SchemaDump, warnings: &mut Vec<String>) {
    for o in schema.objects.iter().filter(|o| o.kind == ObjectKind::User) {
        for (i, s) in o.sql.iter().enumerate() {
            let s = if i == 0 {
                s.replacen("CREATE USER ", "CREATE USER IF NOT EXISTS ", 1)
            } else {
                s.clone()
            };
            if let Err(e) = control.run(&format!("restoring user {}", o.name), &s) {
                warnings.push(format!("{e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defers_secondary_keys_and_fks() {
        let sql = "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`p`),\n  KEY `k` (`p`),\n  CONSTRAINT `f` FOREIGN KEY (`p`) REFERENCES `par` (`id`),\n  CONSTRAINT `CONSTRAINT_1` CHECK (`p` > 0)\n) ENGINE=InnoDB";
        let (c, later) = split_create(sql);
        assert_eq!(
            c,
            "CREATE TABLE `c` (\n  `id` int(11) NOT NULL,\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  CONSTRAINT `CONSTRAINT_1` CHECK (`p` > 0)\n) ENGINE=InnoDB"
        );
        assert_eq!(later.len(), 3);
        assert_eq!(later[1], "ADD KEY `k` (`p`)");
    }

    #[test]
    fn foreign_key_parents_and_first_patterns() {
        let sql = "CREATE TABLE `c` (\n  `id` int NOT NULL,\n  CONSTRAINT `a` FOREIGN KEY (`p`) REFERENCES `par` (`id`),\n  CONSTRAINT `b` FOREIGN KEY (`q`) REFERENCES `other`.`we``ird` (`id`)\n) ENGINE=InnoDB";
        assert_eq!(
            fk_parents(sql, "shop"),
            vec![
                ("shop".to_string(), "par".to_string()),
                ("other".to_string(), "we`ird".to_string())
            ]
        );
        assert!(fk_parents("CREATE TABLE `t` (`id` int)", "shop").is_empty());
        assert!(table_pattern_matches("shop.ord*", "shop", "orders"));
        assert!(table_pattern_matches("orders", "any", "orders"));
        assert!(table_pattern_matches("s?op.*", "shop", "x"));
        assert!(!table_pattern_matches("shop.ord*", "shop2", "orders"));
        assert!(!table_pattern_matches("shop.o", "shop", "orders"));
        assert!(table_pattern_matches("*.*s", "a", "orders"));
        assert!(!table_pattern_matches("*.*x", "a", "orders"));
    }

    #[test]
    fn keeps_keys_an_auto_increment_needs() {
        let sql = "CREATE TABLE `c` (\n  `a` int(11) NOT NULL,\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`),\n  KEY `k` (`id`)\n) ENGINE=InnoDB";
        assert_eq!(split_create(sql), (sql.to_string(), vec![]));
    }
}
