//! Restore of a logical backup set into a running server.
//!
//! Order: databases; tables created without their secondary indexes and
//! foreign keys; data files loaded in parallel with `LOAD DATA LOCAL
//! INFILE` (each file's size and SHA-256 are checked before a byte of it
//! is sent, so a tampered file fails the restore and names the file); the
//! deferred indexes and foreign keys added with one `ALTER TABLE` per table,
//! in parallel; then views (in dependency order, by retry), routines,
//! triggers (after the data, so they do not fire on it), events, and users
//! and grants when asked. Every session runs with `foreign_key_checks=0`
//! (`unique_checks` stays on, see `session`), and with `sql_log_bin=0`
//! under `--no-binlog`.
//! `LOAD DATA LOCAL` turns data errors into warnings, so any warning, or a
//! row count different from the manifest's, fails the restore. Existing
//! tables are never overwritten: the restore stops before writing when one
//! of the tables it would create exists.

use crate::crypt::Key;
use crate::logical::{ObjectKind, SchemaDump, SchemaObject};
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
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

/// Runs `f` over `jobs` on `conns`, one thread per connection; the first
/// error stops the others and is returned.
fn parallel<J: Send, R: Send>(
    conns: &mut [Conn],
    jobs: Vec<J>,
    cancel: &oxkit::entry::Cancel,
    f: &(dyn Fn(&mut Conn, J) -> Result<R> + Sync),
) -> Result<Vec<R>> {
    let queue = Mutex::new(VecDeque::from(jobs));
    let failed = AtomicBool::new(false);
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|s| {
        let hs: Vec<_> = conns
            .iter_mut()
            .map(|c| {
                let (queue, failed) = (&queue, &failed);
                s.spawn(move || -> Result<Vec<R>> {
                    let mut out = Vec::new();
                    while !failed.load(Ordering::SeqCst) {
                        let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                        let Some(job) = job else { break };
                        let r = cancel
                            .check()
                            .map_err(anyhow::Error::from)
                            .and_then(|()| f(c, job));
                        match r {
                            Ok(v) => out.push(v),
                            Err(e) => {
                                failed.store(true, Ordering::SeqCst);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a restore worker panicked")))
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
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

/// Reads the indexes listed in the set's buffer pool page list, hottest
/// first, so the restored server starts with them cached.
fn warm_up(
    c: &mut Conn,
    repo: &Repo,
    m: &Manifest,
    key: Option<&Key>,
    tables: &[&TableEntry],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let rel = crate::logical::buffer_pool_path(key.is_some());
    if m.file(&rel).is_none() {
        warnings.push(format!(
            "backup {} has no buffer pool page list: no warm-up",
            m.id
        ));
        return Ok(());
    }
    let bytes = repo::read_all(&repo.set_dir(&m.id), m, &rel, key)?;
    let hot: Vec<crate::logical::HotIndex> = serde_json::from_slice(&bytes)?;
    for h in hot {
        if !tables.iter().any(|t| t.db == h.db && t.name == h.table) {
            continue;
        }
        let force = match h.index.as_str() {
            "GEN_CLUST_INDEX" | "" => String::new(),
            i => format!("FORCE INDEX ({})", quote_ident(i)),
        };
        let sql = format!(
            "SELECT COUNT(*) FROM {} {force}",
            quote_table(&h.db, &h.table)
        );
        if let Err(e) = c.rows::<u64>("warming up", &sql) {
            warnings.push(format!("warm-up of {}.{} {}: {e}", h.db, h.table, h.index));
        }
    }
    Ok(())
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

/// Reads and decodes the definitions of set `m`.
pub fn read_schema(repo: &Repo, m: &Manifest, key: Option<&Key>) -> Result<SchemaDump> {
    let bytes = repo::read_all(&repo.set_dir(&m.id), m, &m.schema_file, key)?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {} of {}", m.schema_file, m.id))
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
    let mut undo = Vec::new();
    let r = restore_inner(ctx, repo, m, spec, copts, opts, &mut undo);
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

#[allow(clippy::too_many_arguments)]
fn restore_inner(
    ctx: &Context,
    repo: &Repo,
    m: &Manifest,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    opts: &RestoreOptions,
    undo: &mut Vec<String>,
) -> Result<RestoreReport> {
    let t0 = Instant::now();
    let key = opts.key.as_ref();
    let set_dir = repo.set_dir(&m.id);
    let schema = read_schema(repo, m, key)?;
    let mut control = conn::connect(spec, copts)?;
    let target = control.label().to_string();
    session(&mut control, opts.no_binlog)?;
    let mut warnings = Vec::new();

    let tables: Vec<&TableEntry> = m
        .tables
        .iter()
        .filter(|t| opts.filter.selects(&t.db, &t.name, Some(&t.engine)))
        .collect();
    let views: Vec<&SchemaObject> = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::View && opts.filter.selects(&o.db, &o.name, None))
        .collect();
    let other: Vec<&SchemaObject> = schema
        .objects
        .iter()
        .filter(|o| match o.kind {
            ObjectKind::Procedure | ObjectKind::Function | ObjectKind::Event => {
                opts.filter.selects(&o.db, &o.name, None)
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
        if opts.filter.selects(&o.db, "", None) || opts.filter.selects(&o.db, "*", None) {
            dbs.insert(o.db.clone());
        }
    }
    if tables.is_empty() && views.is_empty() && other.is_empty() && dbs.is_empty() {
        bail!("nothing in backup {} matches the filters", m.id);
    }
    if !tables.is_empty() {
        check_local_infile(&mut control)?;
    }

    // Never overwrite.
    for t in &tables {
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

    let existing: BTreeSet<String> = control
        .rows::<String>("listing databases", "SHOW DATABASES")?
        .into_iter()
        .collect();
    for db in &dbs {
        if !existing.contains(db) {
            undo.push(format!("DROP DATABASE IF EXISTS {}", quote_ident(db)));
        }
    }
    let drop_sql = |kind: ObjectKind, db: &str, name: &str| {
        format!(
            "DROP {} IF EXISTS {}",
            kind.sql_word(),
            quote_table(db, name)
        )
    };
    for o in schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Database && dbs.contains(&o.db))
    {
        let sql = o
            .sql
            .join("")
            .replacen("CREATE DATABASE ", "CREATE DATABASE IF NOT EXISTS ", 1);
        control.run(&format!("creating database {}", o.db), &sql)?;
    }
    for db in &dbs {
        if !schema
            .objects
            .iter()
            .any(|o| o.kind == ObjectKind::Database && o.db == *db)
        {
            control.run(
                "creating a database",
                &format!("CREATE DATABASE IF NOT EXISTS {}", quote_ident(db)),
            )?;
        }
    }
    let mut deferred = Vec::new();
    for t in &tables {
        let o = schema
            .objects
            .iter()
            .find(|o| o.kind == ObjectKind::Table && o.db == t.db && o.name == t.name)
            .with_context(|| {
                format!("backup {} has no definition for {}.{}", m.id, t.db, t.name)
            })?;
        let (create, later) = split_create(&o.sql.join(""));
        run_object(&mut control, o, &create)?;
        if existing.contains(&t.db) {
            undo.push(drop_sql(ObjectKind::Table, &t.db, &t.name));
        }
        if !later.is_empty() {
            deferred.push((t.db.clone(), t.name.clone(), later));
        }
    }

    // Data.
    let threads = opts.threads.max(1);
    let mut conns = Vec::new();
    for _ in 0..threads {
        let mut c = conn::connect(spec, copts)?;
        session(&mut c, opts.no_binlog)?;
        conns.push(c);
    }
    let mut jobs: Vec<(&TableEntry, usize)> = Vec::new();
    for t in &tables {
        for i in 0..t.chunks.len() {
            jobs.push((t, i));
        }
    }
    let size =
        |j: &(&TableEntry, usize)| m.file(&j.0.chunks[j.1].file).map(|f| f.size).unwrap_or(0);
    jobs.sort_by_key(|j| std::cmp::Reverse(size(j)));
    let total: u64 = jobs.iter().map(size).sum();
    let progress = oxkit::progress::Progress::bytes(ctx, total.max(1), "restore bytes");
    let loaded = parallel(&mut conns, jobs, &ctx.cancel, &|c, (t, i)| {
        let ch = &t.chunks[i];
        let entry = m
            .file(&ch.file)
            .with_context(|| format!("the manifest lists no file {}", ch.file))?;
        let data = repo::read_verified(&set_dir, entry)?;
        let mut reader = repo::decoder(data, key, &ch.file)?;
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
        let w = crate::logical::warnings(c, &what);
        if !w.is_empty() {
            bail!(
                "{what}: the server changed data while loading it: {}",
                w.join("; ")
            );
        }
        if rows != ch.rows {
            bail!("{what}: loaded {rows} rows, the backup holds {}", ch.rows);
        }
        progress.inc(entry.size);
        Ok((rows, entry.size))
    })?;
    progress.finish();
    let rows: u64 = loaded.iter().map(|(r, _)| r).sum();
    let bytes: u64 = loaded.iter().map(|(_, b)| b).sum();

    // Indexes and foreign keys.
    parallel(
        &mut conns,
        deferred,
        &ctx.cancel,
        &|c, (db, name, later)| {
            c.run(
                &format!("adding the indexes of {db}.{name}"),
                &format!(
                    "ALTER TABLE {} {}",
                    quote_table(&db, &name),
                    later.join(", ")
                ),
            )?;
            Ok(())
        },
    )?;
    drop(conns);

    // Views, in dependency order by retrying.
    let mut pending: Vec<&SchemaObject> = views;
    while !pending.is_empty() {
        let mut left = Vec::new();
        let mut last_err = None;
        for o in pending.iter().copied() {
            match run_object(&mut control, o, &o.sql.join("")) {
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
    for o in other {
        run_object(&mut control, o, &o.sql.join(""))?;
        if existing.contains(&o.db) {
            undo.push(drop_sql(o.kind, &o.db, &o.name));
        }
    }
    if opts.users {
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
    if opts.warm_up {
        warm_up(&mut control, repo, m, key, &tables, &mut warnings)?;
    }
    Ok(RestoreReport {
        backup: m.id.clone(),
        target,
        tables: tables.len(),
        rows,
        bytes,
        duration_secs: t0.elapsed().as_secs_f64(),
        binlog_secs: None,
        warnings,
    })
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
    fn keeps_keys_an_auto_increment_needs() {
        let sql = "CREATE TABLE `c` (\n  `a` int(11) NOT NULL,\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`a`),\n  KEY `k` (`id`)\n) ENGINE=InnoDB";
        assert_eq!(split_create(sql), (sql.to_string(), vec![]));
    }
}
