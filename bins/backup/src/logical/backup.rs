//! Taking a logical set: definitions and rows, read in consistent
//! snapshots that all sit at one binary log position.
//!
//! Order: the tables the filters select, each checked to be
//! transactional (InnoDB: other engines fail the backup unless
//! `--allow-non-transactional`), and a filter that matches nothing
//! refused; free space for half their data; the worker sessions and the
//! consistent point ([`super::point`]); the definitions
//! ([`super::schema`]), read by the first worker inside its snapshot; the
//! rows ([`super::dump`]); then the table list and every `SHOW CREATE
//! TABLE` again, so DDL during the dump fails the backup; the buffer
//! pool's page list ([`super::warm`]); the manifest, written last. On any
//! failure the set's directory is removed.

use super::dump::Dump;
use super::{point, schema, warm};
use crate::crypt::{Encryption, Key};
use crate::manifest::{Manifest, Method, Options, ServerInfo};
use crate::repo::{Repo, SetWriter};
use anyhow::{bail, Result};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::Context;
use oxkit::filter::TableFilter;
use oxkit::schema::Table;
use oxkit::server::Server;
use std::path::Path;
use std::time::Instant;

/// Settings of one backup.
pub struct BackupOptions {
    /// Worker connections.
    pub threads: usize,
    /// Rows per data file.
    pub chunk_rows: u64,
    /// zstd level.
    pub compress_level: i32,
    /// Key and its description, when encrypting.
    pub key: Option<(Key, Encryption)>,
    /// Which tables.
    pub filter: TableFilter,
    /// Filter options as typed (recorded).
    pub filter_words: Vec<String>,
    /// The filter options as parsed: each name in `--databases` and
    /// `--tables` must match something on the server.
    pub filter_args: oxkit::cli::FilterArgs,
    /// Back up non-InnoDB tables anyway (not consistent).
    pub allow_non_transactional: bool,
    /// Save users and grants.
    pub users: bool,
    /// Bytes per second written, at most.
    pub max_rate: Option<u64>,
}

/// Fails, naming what is missing, when the backup user lacks a privilege
/// a backup needs (both methods check the same ones).
pub(crate) fn check_privileges(conn: &mut Conn, server: &Server) -> Result<()> {
    let grants: Vec<String> = conn.rows("reading the backup user's grants", "SHOW GRANTS")?;
    let all = grants.join("\n").to_ascii_uppercase();
    let global: Vec<&String> = grants
        .iter()
        .filter(|g| g.to_ascii_uppercase().contains(" ON *.* "))
        .collect();
    let has = |p: &str| {
        global.iter().any(|g| {
            let u = g.to_ascii_uppercase();
            u.contains("ALL PRIVILEGES") || u.contains(p)
        })
    };
    let mut missing = Vec::new();
    if !has("RELOAD") {
        missing.push("RELOAD (to fix the consistent point)");
    }
    if !has("SELECT") {
        missing.push("SELECT on *.* (to read every table and definition)");
    }
    if server.log_bin && !has("BINLOG MONITOR") && !has("REPLICATION CLIENT") && !has("SUPER") {
        missing.push("BINLOG MONITOR or REPLICATION CLIENT (to read the binary log position)");
    }
    if !missing.is_empty() {
        bail!(
            "{} lacks privileges a backup needs: {} (has: {})",
            conn.label(),
            missing.join(", "),
            all.replace('\n', "; ")
        );
    }
    Ok(())
}

/// Fails when the filesystem of `dir` has less than `estimate` bytes free.
fn check_space(dir: &Path, estimate: u64) -> Result<()> {
    if let Some((_, free)) = crate::repo::free_space(dir) {
        if free < estimate {
            bail!(
                "not enough space in {}: {} free, the backup needs about {} (half the tables' data size)",
                dir.display(),
                oxkit::report::human_bytes(free),
                oxkit::report::human_bytes(estimate)
            );
        }
    }
    Ok(())
}

/// Takes a logical backup of `spec` into `repo`. On any failure the set's
/// directory is removed, so only finished sets have a manifest.
pub fn backup(
    ctx: &Context,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    repo: &Repo,
    opts: &BackupOptions,
) -> Result<Manifest> {
    let started = crate::manifest::now_unix();
    let t0 = Instant::now();
    let mut run = Run::connect(ctx, spec, copts, opts)?;
    repo.take_set(started, t0, |id| {
        let m = Manifest::begin(
            id,
            Method::Logical,
            ServerInfo::of(&run.control, &run.server),
            started,
        );
        run.take(m, repo)
    })
}

/// One logical backup: what it was asked for, and its control connection
/// to the server.
struct Run<'a> {
    ctx: &'a Context,
    spec: &'a ConnSpec,
    copts: &'a ConnectOptions,
    opts: &'a BackupOptions,
    control: Conn,
    server: Server,
}

/// The tables a backup takes, and the databases it recreates.
struct Selection {
    tables: Vec<Table>,
    dbs: Vec<String>,
    /// Every table of the server when the backup started.
    names: Vec<(String, String)>,
}

impl<'a> Run<'a> {
    /// Connects the control session and checks the privileges.
    fn connect(
        ctx: &'a Context,
        spec: &'a ConnSpec,
        copts: &'a ConnectOptions,
        opts: &'a BackupOptions,
    ) -> Result<Run<'a>> {
        let mut control = conn::connect(spec, copts)?;
        let server = Server::detect(&mut control)?;
        check_privileges(&mut control, &server)?;
        Ok(Run {
            ctx,
            spec,
            copts,
            opts,
            control,
            server,
        })
    }

    /// Writes set `m.id` into `repo` and fills in `m` (see the module
    /// documentation for the order).
    fn take(&mut self, mut m: Manifest, repo: &Repo) -> Result<Manifest> {
        let opts = self.opts;
        let mut warn: Vec<String> = Vec::new();
        let key = opts.key.as_ref().map(|(k, _)| k);
        let id = m.id.clone();
        let set = SetWriter {
            repo,
            id: &id,
            level: opts.compress_level,
            key,
        };
        let sel = self.select(&mut warn)?;
        if let Some(dir) = repo.set_dir(&id) {
            check_space(
                &dir,
                sel.tables.iter().map(|t| t.data_length).sum::<u64>() / 2,
            )?;
        }
        let dump = Dump::plan(&sel.tables, &self.server, opts.chunk_rows);
        let threads = opts.threads.max(1);
        let mut workers = point::workers(self.spec, self.copts, threads)?;
        let point = point::fix(&mut self.control, &self.server, &mut workers, &mut warn)?;

        // Definitions, read by the first worker in its snapshot.
        let users = opts.users.then_some(&self.server);
        let defs = schema::dump(
            &mut workers[0],
            &sel.dbs,
            &sel.tables,
            &opts.filter,
            users,
            &mut warn,
        )?;
        m.schema_file = schema::schema_path(key.is_some());
        m.files.push(set.json(&m.schema_file, &defs)?);

        let data = dump.run(self.ctx, &mut workers, set, opts.max_rate)?;
        warn.extend(data.warnings);
        for w in workers.iter_mut() {
            let _ = w.run("ending the snapshot", "COMMIT");
        }
        schema::check_unchanged(
            &mut self.control,
            &defs,
            &sel.tables,
            &sel.names,
            &opts.filter,
        )?;
        point.release(&mut self.control)?;

        // The buffer pool's page list by index, so a restored server can
        // warm up (restore --warm-up); a warning when unreadable.
        match warm::page_list(&mut self.control, &sel.tables) {
            Ok(hot) => m
                .files
                .push(set.json(&warm::buffer_pool_path(key.is_some()), &hot)?),
            Err(e) => warn.push(format!("buffer pool page list not saved: {e}")),
        }
        m.files.extend(data.files);
        m.tables = data.tables;
        m.position = point.position;
        m.options = Options {
            threads,
            chunk_rows: opts.chunk_rows,
            compression: "zstd".into(),
            compress_level: opts.compress_level,
            users: opts.users,
            filters: opts.filter_words.clone(),
        };
        m.encryption = opts.key.as_ref().map(|(_, e)| e.clone());
        m.warnings = warn;
        Ok(m)
    }

    /// The tables and databases the filters select; a non-transactional
    /// table fails the backup, or is a warning with
    /// `--allow-non-transactional`.
    fn select(&mut self, warn: &mut Vec<String>) -> Result<Selection> {
        let (opts, control) = (self.opts, &mut self.control);
        let all_dbs: Vec<String> = control.rows("listing databases", "SHOW DATABASES")?;
        let names: Vec<(String, String)> = oxkit::schema::list_tables(control, &[])?
            .into_iter()
            .filter(|(db, _)| {
                opts.filter.databases().is_empty() || opts.filter.databases().contains(db)
            })
            .collect();
        let mut tables = Vec::new();
        for table in oxkit::schema::load_named(control, &names)? {
            let (db, t) = (&table.db, &table.name);
            if !opts.filter.selects(db, t, table.engine.as_deref()) {
                continue;
            }
            let engine = table.engine.clone().unwrap_or_default();
            if !engine.eq_ignore_ascii_case("InnoDB") {
                if opts.allow_non_transactional {
                    warn.push(format!(
                        "{db}.{t} uses {engine}: not transactional, its rows may not match the backup's position"
                    ));
                } else {
                    bail!(
                        "{db}.{t} uses the {engine} engine, which a consistent snapshot does not cover; \
                         convert it to InnoDB, exclude it (--ignore-tables) or accept an inconsistent copy with --allow-non-transactional"
                    );
                }
            }
            tables.push(table);
        }
        let mut dbs: Vec<String> = all_dbs
            .iter()
            .filter(|d| !oxkit::schema::SYSTEM_SCHEMAS.contains(&d.as_str()))
            .filter(|d| {
                tables.iter().any(|t| t.db == **d)
                    || opts.filter_words.is_empty()
                    || opts.filter.selects(d, "", None)
            })
            .cloned()
            .collect();
        dbs.sort();
        check_selection(
            opts,
            &all_dbs,
            &names,
            tables.is_empty() && dbs.is_empty(),
            &oxkit::dsn::label(self.spec),
        )?;
        Ok(Selection { tables, dbs, names })
    }
}

/// A filter that matches nothing is a typo, not an empty backup: a run
/// that exited 0 with "complete: 0 tables" would be catalogued and counted
/// as a good backup. Every name given to `--databases` must be a database
/// and every `--tables` entry must match a table, and the filters together
/// must select something (`nothing`: no table and no database).
fn check_selection(
    opts: &BackupOptions,
    all_dbs: &[String],
    names: &[(String, String)],
    nothing: bool,
    server: &str,
) -> Result<()> {
    let f = &opts.filter_args;
    let mut problems = Vec::new();
    let no_db: Vec<&str> = f
        .databases
        .iter()
        .filter(|d| !all_dbs.contains(d))
        .map(String::as_str)
        .collect();
    if !no_db.is_empty() {
        problems.push(format!("--databases {}: no such database", no_db.join(",")));
    }
    let no_table: Vec<&str> = f
        .tables
        .iter()
        .filter(|t| {
            !names.iter().any(|(d, n)| match t.split_once('.') {
                Some((td, tn)) => td == d && tn == n,
                None => *t == n,
            })
        })
        .map(String::as_str)
        .collect();
    if !no_table.is_empty() {
        problems.push(format!("--tables {}: matches no table", no_table.join(",")));
    }
    if problems.is_empty() && nothing && !opts.filter_words.is_empty() {
        problems.push(format!(
            "{}: the filters select no table and no database",
            opts.filter_words.join(" ")
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(oxkit::entry::ExitError {
        exit: oxkit::Exit::ERROR,
        message: format!(
            "{} on {server}: nothing was backed up (a filter that matches nothing is an error; \
             names are case-sensitive, see SHOW DATABASES and SHOW TABLES)",
            problems.join("; ")
        ),
    }
    .into())
}
