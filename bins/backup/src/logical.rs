//! Logical backup: definitions and rows, read in consistent snapshots that
//! all sit at one binary log position.
//!
//! The consistent point: a control connection blocks commits for an
//! instant (MariaDB `BACKUP STAGE START` + `BACKUP STAGE BLOCK_COMMIT`;
//! elsewhere `FLUSH TABLES WITH READ LOCK`, on MySQL 8+ after `LOCK
//! INSTANCE FOR BACKUP`, which keeps DDL out until the dump ends), every
//! worker opens `START
//! TRANSACTION WITH CONSISTENT SNAPSHOT`, the control connection reads the
//! GTID position and binary log coordinates, and the lock is released. On
//! MariaDB each worker's `binlog_snapshot_file/position` is checked against
//! that point, so a snapshot that slipped is an error, not a silent
//! inconsistency. Only transactional (InnoDB) tables are consistent this
//! way; other engines fail the backup unless `--allow-non-transactional`.
//!
//! Big tables are cut into key ranges with `oxkit::nibble`; each range
//! becomes one data file in the format `LOAD DATA` reads (tab-separated,
//! backslash escapes, `\N` for NULL; binary, bit and spatial columns as
//! hex), and its row count and checksum (`oxkit::checksum`, the same
//! expression `verify` recomputes on the restored server) are read in the
//! same snapshot. Chunk checksums are folded into the table's checksum
//! (XOR for tables with unique rows, sum otherwise, as the SQL folds do).
//! At the end the table list and every `SHOW CREATE TABLE` are read again:
//! DDL during the dump fails the backup.

use crate::crypt::{Encryption, Key};
use crate::manifest::{
    self, ChunkEntry, ColumnEntry, FileEntry, Manifest, Options, Position, ServerInfo, TableEntry,
};
use crate::repo::{self, RateLimit, Repo, StoredWriter};
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::checksum::{Function, RowOptions, TableChecksum};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::Context;
use oxkit::filter::TableFilter;
use oxkit::nibble::{chunk_index, ChunkKey, NibbleOptions, Nibbler};
use oxkit::schema::{self, Column, ColumnKind, Table};
use oxkit::server::{GtidStyle, Server};
use oxkit::sql::NO_CACHE;
use oxkit::sql::{quote_ident, quote_str, quote_table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a definition in schema.json creates (written in lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// `CREATE DATABASE`.
    Database,
    /// `CREATE TABLE`.
    Table,
    /// `CREATE VIEW`.
    View,
    /// `CREATE PROCEDURE`.
    Procedure,
    /// `CREATE FUNCTION`.
    Function,
    /// `CREATE TRIGGER`.
    Trigger,
    /// `CREATE EVENT`.
    Event,
    /// `CREATE USER` (or `CREATE ROLE`) and its grants.
    User,
}

impl ObjectKind {
    /// The SQL keyword (`PROCEDURE`), as in `SHOW CREATE` and `DROP`.
    pub fn sql_word(self) -> &'static str {
        match self {
            ObjectKind::Database => "DATABASE",
            ObjectKind::Table => "TABLE",
            ObjectKind::View => "VIEW",
            ObjectKind::Procedure => "PROCEDURE",
            ObjectKind::Function => "FUNCTION",
            ObjectKind::Trigger => "TRIGGER",
            ObjectKind::Event => "EVENT",
            ObjectKind::User => "USER",
        }
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql_word().to_ascii_lowercase())
    }
}

/// One definition in schema.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchemaObject {
    /// What it creates.
    pub kind: ObjectKind,
    /// Schema (empty for users).
    pub db: String,
    /// Name (for a trigger: its table is `table`).
    pub name: String,
    /// The table a trigger belongs to.
    pub table: Option<String>,
    /// The CREATE statement (for users: CREATE USER then GRANTs).
    pub sql: Vec<String>,
    /// `sql_mode` the object was created with.
    pub sql_mode: Option<String>,
    /// `character_set_client` it was created with.
    pub charset: Option<String>,
}

/// schema.json.
#[derive(Clone, Debug, Serialize, Deserialize, Default)]
pub struct SchemaDump {
    /// Objects in creation order (databases, tables, then the rest).
    pub objects: Vec<SchemaObject>,
}

/// One index of the buffer pool's page list (buffer_pool.json).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HotIndex {
    /// Schema.
    pub db: String,
    /// Table.
    pub table: String,
    /// Index (`PRIMARY`, `GEN_CLUST_INDEX` for tables without a key).
    pub index: String,
    /// Pages of it that were in the buffer pool.
    pub pages: u64,
}

/// Splits InnoDB's `` `db`.`table` `` (backticks doubled inside names).
pub fn split_innodb_name(s: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('`', false) => quoted = true,
            ('`', true) if chars.peek() == Some(&'`') => {
                chars.next();
                cur.push('`');
            }
            ('`', true) => {
                quoted = false;
                parts.push(std::mem::take(&mut cur));
            }
            ('.', false) => {}
            (c, true) => cur.push(c),
            _ => return None,
        }
    }
    match parts.as_slice() {
        [d, t] => Some((d.clone(), t.clone())),
        _ => None,
    }
}

/// Path of the buffer pool page list in a set.
pub fn buffer_pool_path(encrypted: bool) -> String {
    format!(
        "buffer_pool.json.zst{}",
        if encrypted { ".enc" } else { "" }
    )
}

/// Path of the definitions file in a set.
pub fn schema_path(encrypted: bool) -> String {
    format!("schema.json.zst{}", if encrypted { ".enc" } else { "" })
}

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

/// True when a column's values are written as hex.
pub fn hex_column(c: &Column) -> bool {
    matches!(
        c.kind(),
        ColumnKind::Binary | ColumnKind::Bit | ColumnKind::Spatial
    ) || c.charset.as_deref().is_some_and(|cs| {
        !matches!(
            cs,
            "utf8mb4" | "utf8mb3" | "utf8" | "ascii" | "latin1" | "binary"
        )
    })
}

/// Appends one value in LOAD DATA's escaped text form.
pub fn escape_into(out: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            _ => out.push(b),
        }
    }
}

struct Job {
    table: usize,
    chunk: usize,
    cond: String,
    force: String,
    walked: Option<oxkit::nibble::Chunk>,
}

/// Where a table's chunks come from: one whole-table chunk, or a walk
/// over its key run lazily by the workers in their snapshots (so a walk
/// across a sparse key range learns the density from the rows it finds).
enum Source {
    Whole(usize),
    Walk(usize, Box<Nibbler>, String),
}

/// Hands out the next chunk: the front table's next range.
fn next_job(sources: &Mutex<VecDeque<Source>>, conn: &mut Conn) -> Result<Option<Job>> {
    let Ok(mut q) = sources.lock() else {
        bail!("internal error: chunk queue poisoned");
    };
    loop {
        match q.front_mut() {
            None => return Ok(None),
            Some(Source::Whole(t)) => {
                let t = *t;
                q.pop_front();
                return Ok(Some(Job {
                    table: t,
                    chunk: 0,
                    cond: "1=1".into(),
                    force: String::new(),
                    walked: None,
                }));
            }
            Some(Source::Walk(t, nib, force)) => {
                let (t, force) = (*t, force.clone());
                match nib.next(conn)? {
                    Some(c) => {
                        log::trace!(
                            "chunk {t} {} {}",
                            c.number,
                            nib.key.range_sql(&c.lower, &c.upper)
                        );
                        return Ok(Some(Job {
                            table: t,
                            chunk: c.number as usize - 1,
                            cond: nib.key.range_sql(&c.lower, &c.upper),
                            force,
                            walked: Some(c),
                        }));
                    }
                    None => {
                        q.pop_front();
                    }
                }
            }
        }
    }
}

fn observe(sources: &Mutex<VecDeque<Source>>, job: &Job, rows: u64, elapsed: std::time::Duration) {
    let (Some(c), Ok(mut q)) = (&job.walked, sources.lock()) else {
        return;
    };
    for s in q.iter_mut() {
        if let Source::Walk(t, nib, _) = s {
            if *t == job.table {
                nib.observe_chunk(c, rows, elapsed);
            }
        }
    }
}

struct ChunkDone {
    table: usize,
    chunk: usize,
    rows: u64,
    crc: String,
    file: FileEntry,
    cond: String,
    force: String,
}

struct Plan {
    table: Table,
    columns: Vec<ColumnEntry>,
    select: String,
    checksum: TableChecksum,
    unique: bool,
}

fn row_sql(conn: &mut Conn, what: &str, sql: &str) -> Result<Vec<mysql::Row>> {
    let label = conn.label().to_string();
    conn.query(sql)
        .map_err(|e| conn::db_error(format_args!("{what} on {label}"), &e).into())
}

fn text(r: &mysql::Row, i: usize) -> String {
    conn::cell_text(r, i).unwrap_or_default()
}

fn col_by_name(r: &mysql::Row, name: &str) -> Option<String> {
    let i = r
        .columns_ref()
        .iter()
        .position(|c| c.name_str().eq_ignore_ascii_case(name))?;
    conn::cell_text(r, i)
}

/// `SHOW CREATE TABLE` text.
pub fn show_create_table(conn: &mut Conn, db: &str, name: &str) -> Result<String> {
    let rows = row_sql(
        conn,
        &format!("reading the definition of {db}.{name}"),
        &format!("SHOW CREATE TABLE {}", quote_table(db, name)),
    )?;
    rows.first()
        .map(|r| text(r, 1))
        .with_context(|| format!("no definition for {db}.{name}"))
}

/// A CREATE TABLE without its `AUTO_INCREMENT=n` option, which moves with
/// every insert and is no DDL.
fn without_counter(sql: &str) -> String {
    match sql.find(" AUTO_INCREMENT=") {
        Some(i) => {
            let rest = &sql[i + " AUTO_INCREMENT=".len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            format!("{}{}", &sql[..i], &rest[digits..])
        }
        None => sql.to_string(),
    }
}

/// Server warnings of the last statement on `conn`, as lines.
pub fn warnings(conn: &mut Conn, what: &str) -> Vec<String> {
    if conn.warnings() == 0 {
        return Vec::new();
    }
    let rows: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").unwrap_or_default();
    rows.into_iter()
        .map(|(l, c, m)| format!("{what}: {l} {c}: {m}"))
        .collect()
}

fn list_views(conn: &mut Conn) -> Result<Vec<(String, String)>> {
    let v: Vec<(String, String)> = conn.rows(
        "listing views",
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS ORDER BY 1, 2",
    )?;
    Ok(v)
}

fn dump_schema(
    conn: &mut Conn,
    dbs: &[String],
    tables: &[Table],
    filter: &TableFilter,
    users: Option<&Server>,
    warn: &mut Vec<String>,
) -> Result<SchemaDump> {
    let mut objs = Vec::new();
    for db in dbs {
        let rows = row_sql(
            conn,
            "reading a database definition",
            &format!("SHOW CREATE DATABASE {}", quote_ident(db)),
        )?;
        let sql = rows.first().map(|r| text(r, 1)).unwrap_or_default();
        objs.push(SchemaObject {
            kind: ObjectKind::Database,
            db: db.clone(),
            name: db.clone(),
            table: None,
            sql: vec![sql],
            sql_mode: None,
            charset: None,
        });
    }
    for t in tables {
        objs.push(SchemaObject {
            kind: ObjectKind::Table,
            db: t.db.clone(),
            name: t.name.clone(),
            table: None,
            sql: vec![show_create_table(conn, &t.db, &t.name)?],
            sql_mode: None,
            charset: None,
        });
    }
    for (db, v) in list_views(conn)? {
        if !dbs.contains(&db) || !filter.selects(&db, &v, None) {
            continue;
        }
        let rows = row_sql(
            conn,
            &format!("reading view {db}.{v}"),
            &format!("SHOW CREATE VIEW {}", quote_table(&db, &v)),
        )?;
        let r = rows.first().context("no view definition")?;
        objs.push(SchemaObject {
            kind: ObjectKind::View,
            db: db.clone(),
            name: v.clone(),
            table: None,
            sql: vec![text(r, 1)],
            sql_mode: None,
            charset: col_by_name(r, "character_set_client"),
        });
    }
    for db in dbs {
        for object in [ObjectKind::Procedure, ObjectKind::Function] {
            let kind = object.sql_word();
            let rows = row_sql(
                conn,
                "listing routines",
                &format!("SHOW {kind} STATUS WHERE Db = {}", quote_str(db)),
            )?;
            for r in rows {
                let name = col_by_name(&r, "Name").unwrap_or_default();
                let def = row_sql(
                    conn,
                    &format!("reading {kind} {db}.{name}"),
                    &format!("SHOW CREATE {kind} {}", quote_table(db, &name)),
                )?;
                let d = def.first().context("no routine definition")?;
                let sql = col_by_name(d, &format!("Create {kind}")).unwrap_or_default();
                if sql.is_empty() {
                    bail!("cannot read the body of {kind} {db}.{name}: the backup user needs SELECT on mysql.proc (or to be its definer)");
                }
                objs.push(SchemaObject {
                    kind: object,
                    db: db.clone(),
                    name,
                    table: None,
                    sql: vec![sql],
                    sql_mode: col_by_name(d, "sql_mode"),
                    charset: col_by_name(d, "character_set_client"),
                });
            }
        }
        let trig = row_sql(
            conn,
            "listing triggers",
            &format!("SHOW TRIGGERS FROM {}", quote_ident(db)),
        )?;
        for r in trig {
            let name = col_by_name(&r, "Trigger").unwrap_or_default();
            let table = col_by_name(&r, "Table").unwrap_or_default();
            if !tables.iter().any(|t| t.db == *db && t.name == table) {
                continue;
            }
            let def = row_sql(
                conn,
                &format!("reading trigger {db}.{name}"),
                &format!("SHOW CREATE TRIGGER {}", quote_table(db, &name)),
            )?;
            let d = def.first().context("no trigger definition")?;
            objs.push(SchemaObject {
                kind: ObjectKind::Trigger,
                db: db.clone(),
                name,
                table: Some(table),
                sql: vec![col_by_name(d, "SQL Original Statement").unwrap_or_default()],
                sql_mode: col_by_name(d, "sql_mode"),
                charset: col_by_name(d, "character_set_client"),
            });
        }
        let ev = row_sql(
            conn,
            "listing events",
            &format!("SHOW EVENTS FROM {}", quote_ident(db)),
        )?;
        for r in ev {
            let name = col_by_name(&r, "Name").unwrap_or_default();
            let def = row_sql(
                conn,
                &format!("reading event {db}.{name}"),
                &format!("SHOW CREATE EVENT {}", quote_table(db, &name)),
            )?;
            let d = def.first().context("no event definition")?;
            objs.push(SchemaObject {
                kind: ObjectKind::Event,
                db: db.clone(),
                name,
                table: None,
                sql: vec![col_by_name(d, "Create Event").unwrap_or_default()],
                sql_mode: col_by_name(d, "sql_mode"),
                charset: col_by_name(d, "character_set_client"),
            });
        }
    }
    if let Some(server) = users {
        objs.extend(dump_users(conn, server, warn)?);
    }
    Ok(SchemaDump { objects: objs })
}

/// Every account and role with what recreates it: `SHOW CREATE USER` and
/// `SHOW GRANTS`. MariaDB's roles (`is_role`) have no CREATE USER form:
/// `CREATE ROLE IF NOT EXISTS` and their grants; its built-in `PUBLIC`
/// (11.x) only its grants, when it has any. MySQL's roles are locked
/// accounts and its password hashes binary, printed as hex so they
/// survive as text.
fn dump_users(
    conn: &mut Conn,
    server: &Server,
    warn: &mut Vec<String>,
) -> Result<Vec<SchemaObject>> {
    let maria = server.flavor == oxkit::server::Flavor::MariaDB;
    let list = if maria {
        // Roles first: a user's grants name the roles granted to it.
        "SELECT User, Host, is_role = 'Y' FROM mysql.user ORDER BY 3 DESC, 1, 2"
    } else {
        conn.run(
            "printing password hashes as hex",
            "SET SESSION print_identified_with_as_hex = ON",
        )?;
        "SELECT u.User, u.Host, 0 FROM mysql.user u ORDER BY EXISTS (SELECT 1 \
         FROM mysql.role_edges e WHERE e.FROM_USER = u.User AND e.FROM_HOST = u.Host) DESC, 1, 2"
    };
    let us: Vec<(String, String, bool)> =
        conn.rows("listing users (needs SELECT on mysql.user)", list)?;
    let mut objs = Vec::new();
    for (u, h, role) in us {
        let public = role && u == "PUBLIC" && h.is_empty();
        let who = if role {
            quote_str(&u)
        } else {
            format!("{}@{}", quote_str(&u), quote_str(&h))
        };
        let mut sql = Vec::new();
        if role {
            if !public {
                sql.push(format!("CREATE ROLE IF NOT EXISTS {}", quote_ident(&u)));
            }
        } else {
            match conn.query::<String, _>(format!("SHOW CREATE USER {who}")) {
                Ok(v) => sql.extend(v),
                Err(e) => {
                    // The mariadb.sys pseudo-user may have no CREATE USER
                    // form; an account the server does not load (a
                    // host-name account under skip-name-resolve) is ERROR
                    // 1133.
                    let why = match &e {
                        mysql::Error::MySqlError(m) if m.code == 1133 => {
                            " (the server does not load this account: a host-name account while skip-name-resolve is on?)"
                        }
                        _ => "",
                    };
                    warn.push(format!(
                        "user {u}@{h} not saved: {}{why}",
                        oxkit::conn::error_detail(&e)
                    ));
                    continue;
                }
            }
        }
        let grants = if public { "PUBLIC".to_string() } else { who };
        match conn.query::<String, _>(format!("SHOW GRANTS FOR {grants}")) {
            Ok(v) => sql.extend(v),
            // PUBLIC without a grant has no row to show.
            Err(mysql::Error::MySqlError(m)) if public && m.code == 1133 => {}
            Err(e) => warn.push(format!(
                "grants of {u}@{h} not saved: {}",
                oxkit::conn::error_detail(&e)
            )),
        }
        if sql.is_empty() {
            continue;
        }
        objs.push(SchemaObject {
            kind: ObjectKind::User,
            db: String::new(),
            name: if role { u } else { format!("{u}@{h}") },
            table: None,
            sql,
            sql_mode: None,
            charset: None,
        });
    }
    Ok(objs)
}

pub fn fold(unique: bool, a: &str, b: &str) -> Result<String> {
    let p = |s: &str| -> Result<u128> {
        s.parse::<u128>()
            .with_context(|| format!("unexpected checksum value {s:?}"))
    };
    let (x, y) = (p(a)?, p(b)?);
    Ok(if unique {
        (x ^ y).to_string()
    } else {
        x.wrapping_add(y).to_string()
    })
}

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

pub(crate) fn check_space(dir: &Path, estimate: u64) -> Result<()> {
    if let Ok(st) = nix::sys::statvfs::statvfs(dir) {
        let free = st.blocks_available() * st.fragment_size();
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
    let started = manifest::now_unix();
    let t0 = Instant::now();
    let mut control = conn::connect(spec, copts)?;
    let server = Server::detect(&mut control)?;
    check_privileges(&mut control, &server)?;
    // Held until the manifest is written: `list` and `expire` tell this
    // run's set from a dead run's by it.
    let (id, lock) = repo.claim_set(started)?;
    let set_dir = repo.set_dir(&id);
    let result = repo::mkdir(&set_dir.join("data")).and_then(|()| {
        take(
            ctx,
            spec,
            copts,
            repo,
            opts,
            &mut control,
            &server,
            &id,
            started,
            t0,
        )
    });
    if result.is_err() {
        // Never leave a half-written set behind; the manifest is what makes a
        // set good, and it is written last, so removing is only tidiness.
        let _ = std::fs::remove_dir_all(&set_dir);
    }
    lock.finish();
    result
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

#[allow(clippy::too_many_arguments)]
fn take(
    ctx: &Context,
    spec: &ConnSpec,
    copts: &ConnectOptions,
    repo: &Repo,
    opts: &BackupOptions,
    control: &mut Conn,
    server: &Server,
    id: &str,
    started: u64,
    t0: Instant,
) -> Result<Manifest> {
    let set_dir = repo.set_dir(id);
    let mut warn: Vec<String> = Vec::new();
    let key = opts.key.as_ref().map(|(k, _)| k);

    // Tables and their metadata.
    let all_dbs: Vec<String> = control.rows("listing databases", "SHOW DATABASES")?;
    let existing_dbs = all_dbs.clone();
    let names = schema::list_tables(control, &[])?;
    let mut tables = Vec::new();
    for (db, t) in &names {
        let table = schema::load_table_without_children(control, db, t)?;
        if !opts.filter.selects(db, t, table.engine.as_deref()) {
            continue;
        }
        let engine = table.engine.clone().unwrap_or_default();
        if !engine.eq_ignore_ascii_case("InnoDB") {
            if opts.allow_non_transactional {
                warn.push(format!(
                    "{}.{t} uses {engine}: not transactional, its rows may not match the backup's position",
                    db
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
        .into_iter()
        .filter(|d| !schema::SYSTEM_SCHEMAS.contains(&d.as_str()))
        .filter(|d| {
            tables.iter().any(|t| t.db == *d)
                || (opts.filter_words.is_empty())
                || opts.filter.selects(d, "", None)
        })
        .collect();
    dbs.sort();
    check_selection(
        opts,
        &existing_dbs,
        &names,
        tables.is_empty() && dbs.is_empty(),
        &oxkit::dsn::label(spec),
    )?;
    let estimate: u64 = tables.iter().map(|t| t.data_length).sum::<u64>() / 2;
    check_space(&set_dir, estimate)?;

    // Plans: columns, select lists and chunk conditions.
    let mut plans = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        let cols: Vec<&Column> = t.data_columns().collect();
        let columns: Vec<ColumnEntry> = cols
            .iter()
            .map(|c| ColumnEntry {
                name: c.name.clone(),
                hex: hex_column(c),
            })
            .collect();
        let select = if cols.is_empty() {
            "1".to_string()
        } else {
            cols.iter()
                .map(|c| {
                    let q = quote_ident(&c.name);
                    if hex_column(c) {
                        format!("HEX({q})")
                    } else {
                        q
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let checksum = TableChecksum::new(t, Function::Sha1.on(server), &RowOptions::default());
        let unique = oxkit::checksum::rows_are_unique(t);
        let mut source = Source::Whole(ti);
        if t.row_estimate > opts.chunk_rows {
            if let Some(idx) = chunk_index(t) {
                let key = ChunkKey::new(t, idx);
                let force = key.force_index();
                let nib = Nibbler::new(
                    t,
                    key,
                    None,
                    NibbleOptions {
                        initial_rows: opts.chunk_rows,
                        target: None,
                        max_rows: opts.chunk_rows,
                    },
                );
                source = Source::Walk(ti, Box::new(nib), force);
            }
        }
        sources.push(source);
        plans.push(Plan {
            table: t.clone(),
            columns,
            select,
            checksum,
            unique,
        });
    }
    // Biggest tables first, so the last job is a small one.
    let size = |s: &Source| match s {
        Source::Whole(t) | Source::Walk(t, _, _) => plans[*t].table.data_length,
    };
    sources.sort_by_key(|s| std::cmp::Reverse(size(s)));

    // Worker connections, then the consistent point.
    let threads = opts.threads.max(1);
    let mut workers = Vec::new();
    for _ in 0..threads {
        let mut c = conn::connect(spec, copts)?;
        c.run(
            "setting up a backup session",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        )?;
        workers.push(c);
    }
    let lock_start = Instant::now();
    let mut lock_name = "FLUSH TABLES WITH READ LOCK";
    let mut lock_off = "UNLOCK TABLES";
    let mut staged = false;
    let mut instance_locked = false;
    if server.caps.backup_stage {
        // BACKUP STAGE BLOCK_COMMIT blocks only commits (not running
        // queries, as FTWRL's table flush does); fall back to FTWRL when
        // the server refuses it.
        match control.run(
            "blocking commits for an instant",
            "BACKUP STAGE START; BACKUP STAGE BLOCK_COMMIT",
        ) {
            Ok(()) => {
                staged = true;
                lock_name = "BACKUP STAGE BLOCK_COMMIT";
                lock_off = "BACKUP STAGE END";
            }
            Err(e) => {
                let _ = control.run("ending the backup stage", "BACKUP STAGE END");
                warn.push(format!(
                    "BACKUP STAGE unavailable ({e}); used FLUSH TABLES WITH READ LOCK"
                ));
            }
        }
    }
    if !staged {
        if server.caps.lock_instance_for_backup {
            // MySQL 8+: DDL waits until the backup ends (DML goes on), as
            // MariaDB's BACKUP STAGE BLOCK_DDL. Taken before the commit
            // block, so a running DDL delays only the backup. Without
            // BACKUP_ADMIN the DDL check at the end still fails a backup
            // that DDL changed.
            if let Err(e) = control.run("blocking DDL for the backup", "LOCK INSTANCE FOR BACKUP") {
                warn.push(format!(
                    "LOCK INSTANCE FOR BACKUP refused ({e}; it needs BACKUP_ADMIN): DDL during the \
                     dump is not blocked, only detected (it fails the backup)"
                ));
            } else {
                instance_locked = true;
            }
        }
        control.run("locking for an instant", "FLUSH TABLES WITH READ LOCK")?;
    }
    let point = (|| -> Result<Position> {
        for w in workers.iter_mut() {
            w.run(
                "opening a consistent snapshot",
                "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
            )?;
        }
        let mut pos = Position {
            lock: lock_name.into(),
            ..Position::default()
        };
        if server.log_bin {
            if let Some((file, at)) = oxkit::topology::binlog_file_position(control, server)? {
                pos.binlog_file = Some(file);
                pos.binlog_pos = Some(at);
            }
        }
        let gtid = server.gtid_position(control)?;
        pos.gtid = (!gtid.is_empty()).then_some(gtid);
        Ok(pos)
    })();
    let unlock = control.run("releasing the commit block", lock_off);
    let mut position = point?;
    unlock?;
    position.lock_ms = lock_start.elapsed().as_millis() as u64;
    if !server.log_bin {
        warn.push(
            "the binary log is off: this backup has no position to roll forward from (no point-in-time recovery)"
                .into(),
        );
    } else if server.caps.gtid_style == GtidStyle::MariaDB {
        for w in workers.iter_mut() {
            let (f, p) = oxkit::snapshot::binlog_snapshot_position(w)?;
            if Some(&f) != position.binlog_file.as_ref() || p != position.binlog_pos {
                bail!(
                    "a worker's snapshot is not at the backup's position ({f}:{p:?}, expected {:?}:{:?}); retry",
                    position.binlog_file,
                    position.binlog_pos
                );
            }
        }
    }

    // Definitions, read by the first worker.
    let schema = dump_schema(
        &mut workers[0],
        &dbs,
        &tables,
        &opts.filter,
        opts.users.then_some(server),
        &mut warn,
    )?;
    let create_before: BTreeMap<(String, String), String> = schema
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Table)
        .map(|o| {
            (
                (o.db.clone(), o.name.clone()),
                without_counter(&o.sql.join("")),
            )
        })
        .collect();
    let schema_rel = schema_path(key.is_some());
    let mut files: Vec<FileEntry> = Vec::new();
    {
        let mut w = StoredWriter::create(&set_dir, &schema_rel, opts.compress_level, key, None)?;
        w.write_all(&serde_json::to_vec(&schema)?)
            .with_context(|| format!("writing {}", set_dir.join(&schema_rel).display()))?;
        files.push(w.finish()?);
    }

    // Data, in parallel.
    let total_bytes: u64 = tables.iter().map(|t| t.data_length).sum();
    let progress = oxkit::progress::Progress::bytes(ctx, total_bytes.max(1), "backup bytes");
    let queue = Arc::new(Mutex::new(VecDeque::from(sources)));
    let failed = Arc::new(AtomicBool::new(false));
    let done_bytes = Arc::new(AtomicU64::new(0));
    let limit = opts.max_rate.map(|r| Arc::new(RateLimit::new(r)));
    let plans = Arc::new(plans);
    let results: Vec<Result<(Vec<ChunkDone>, Vec<String>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .iter_mut()
            .map(|w| {
                let queue = queue.clone();
                let failed = failed.clone();
                let plans = plans.clone();
                let limit = limit.clone();
                let done_bytes = done_bytes.clone();
                let set_dir = set_dir.clone();
                let progress = &progress;
                let cancel = ctx.cancel.clone();
                s.spawn(move || -> Result<(Vec<ChunkDone>, Vec<String>)> {
                    let mut out = Vec::new();
                    let mut warns = Vec::new();
                    loop {
                        if failed.load(Ordering::SeqCst) {
                            break;
                        }
                        let r = (|| -> Result<Option<ChunkDone>> {
                            cancel.check()?;
                            let Some(job) = next_job(&queue, w)? else {
                                return Ok(None);
                            };
                            let started = Instant::now();
                            let d = dump_chunk(
                                w,
                                &plans[job.table],
                                &job,
                                &set_dir,
                                opts.compress_level,
                                key,
                                limit.clone(),
                                &mut warns,
                                &|n| {
                                    done_bytes.fetch_add(n, Ordering::Relaxed);
                                    progress.inc(n);
                                },
                                &cancel,
                            )?;
                            observe(&queue, &job, d.rows, started.elapsed());
                            Ok(Some(d))
                        })();
                        match r {
                            Ok(Some(d)) => out.push(d),
                            Ok(None) => break,
                            Err(e) => {
                                failed.store(true, Ordering::SeqCst);
                                return Err(e);
                            }
                        }
                    }
                    Ok((out, warns))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a backup worker panicked")))
            })
            .collect()
    });
    progress.finish();
    let mut chunks = Vec::new();
    let mut first_err = None;
    for r in results {
        match r {
            Ok((c, w)) => {
                chunks.extend(c);
                warn.extend(w);
            }
            Err(e) if first_err.is_none() => first_err = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    for w in workers.iter_mut() {
        let _ = w.run("ending the snapshot", "COMMIT");
    }

    // DDL during the dump?
    let names_after = schema::list_tables(control, &[])?;
    for t in &tables {
        if !names_after.iter().any(|(d, n)| *d == t.db && *n == t.name) {
            bail!(
                "{} was dropped or renamed during the backup (DDL during the dump); the backup is not usable, take it again",
                t.full_name()
            );
        }
        let now = without_counter(&show_create_table(control, &t.db, &t.name)?);
        if create_before.get(&(t.db.clone(), t.name.clone())) != Some(&now) {
            bail!(
                "{} was altered during the backup (DDL during the dump); the backup is not usable, take it again",
                t.full_name()
            );
        }
    }
    for (d, n) in &names_after {
        if !names.contains(&(d.clone(), n.clone())) && opts.filter.selects(d, n, None) {
            bail!("{d}.{n} was created during the backup (DDL during the dump); take the backup again");
        }
    }
    if instance_locked {
        control.run("letting DDL run again", "UNLOCK INSTANCE")?;
    }

    // The buffer pool's page list by index, so a restored server can warm
    // up (restore --warm-up). Needs PROCESS; a warning when unreadable.
    match control.rows::<(Option<String>, Option<String>, u64)>(
        "reading the buffer pool's page list",
        "SELECT TABLE_NAME, INDEX_NAME, COUNT(*) FROM information_schema.INNODB_BUFFER_PAGE_LRU \
         WHERE TABLE_NAME IS NOT NULL GROUP BY TABLE_NAME, INDEX_NAME ORDER BY 3 DESC",
    ) {
        Ok(rows) => {
            let hot: Vec<HotIndex> = rows
                .into_iter()
                .filter_map(|(t, i, pages)| {
                    let (db, table) = split_innodb_name(&t?)?;
                    tables
                        .iter()
                        .any(|x| x.db == db && x.name == table)
                        .then_some(HotIndex {
                            db,
                            table,
                            index: i.unwrap_or_default(),
                            pages,
                        })
                })
                .collect();
            let rel = buffer_pool_path(key.is_some());
            let mut w = StoredWriter::create(&set_dir, &rel, opts.compress_level, key, None)?;
            w.write_all(&serde_json::to_vec(&hot)?)
                .with_context(|| format!("writing {}", set_dir.join(&rel).display()))?;
            files.push(w.finish()?);
        }
        Err(e) => warn.push(format!("buffer pool page list not saved: {e}")),
    }

    // Tables: fold chunk results.
    let plans = Arc::try_unwrap(plans)
        .map_err(|_| anyhow::anyhow!("internal error: backup workers still hold the plan"))?;
    let mut entries = Vec::new();
    for (ti, p) in plans.into_iter().enumerate() {
        let mut mine: Vec<&ChunkDone> = chunks.iter().filter(|c| c.table == ti).collect();
        mine.sort_by_key(|c| c.chunk);
        if mine.iter().enumerate().any(|(i, c)| c.chunk != i) || mine.is_empty() {
            bail!("internal error: chunks of {} missing", p.table.full_name());
        }
        let mut crc = "0".to_string();
        let mut rows = 0;
        let mut ch = Vec::new();
        for c in mine {
            crc = fold(p.unique, &crc, &c.crc)?;
            rows += c.rows;
            ch.push(ChunkEntry {
                file: c.file.path.clone(),
                rows: c.rows,
                checksum: Some(c.crc.clone()),
                range: Some(c.cond.clone()),
                force_index: Some(c.force.clone()),
            });
        }
        entries.push(TableEntry {
            db: p.table.db.clone(),
            name: p.table.name.clone(),
            engine: p.table.engine.clone().unwrap_or_default(),
            rows,
            checksum: crc,
            unique_rows: p.unique,
            columns: p.columns,
            chunks: ch,
        });
    }
    let mut chunk_files: Vec<FileEntry> = chunks.into_iter().map(|c| c.file).collect();
    chunk_files.sort_by(|a, b| a.path.cmp(&b.path));
    files.extend(chunk_files);

    let finished = manifest::now_unix();
    let m = Manifest {
        format: manifest::FORMAT,
        id: id.to_string(),
        method: manifest::Method::Logical,
        tool: "ox-backup".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        server: ServerInfo::of(control, server),
        started_at: manifest::utc(started),
        started_unix: started,
        finished_at: manifest::utc(finished),
        finished_unix: finished,
        duration_secs: t0.elapsed().as_secs_f64(),
        position,
        options: Options {
            threads,
            chunk_rows: opts.chunk_rows,
            compression: "zstd".into(),
            compress_level: opts.compress_level,
            users: opts.users,
            filters: opts.filter_words.clone(),
        },
        encryption: opts.key.as_ref().map(|(_, e)| e.clone()),
        checksum_function: "sha1".into(),
        tables: entries,
        schema_file: schema_rel,
        stored_bytes: files.iter().map(|f| f.size).sum(),
        raw_bytes: files.iter().map(|f| f.raw_size).sum(),
        files,
        warnings: warn,
        verification: None,
        history: Vec::new(),
    };
    repo.write_manifest(&m)?;
    Ok(m)
}

#[allow(clippy::too_many_arguments)]
fn dump_chunk(
    w: &mut Conn,
    plan: &Plan,
    job: &Job,
    set_dir: &Path,
    level: i32,
    key: Option<&Key>,
    limit: Option<Arc<RateLimit>>,
    warns: &mut Vec<String>,
    progress: &dyn Fn(u64),
    cancel: &oxkit::entry::Cancel,
) -> Result<ChunkDone> {
    let t = &plan.table;
    let rel = format!(
        "data/t{:04}.c{:05}.tsv.zst{}",
        job.table,
        job.chunk,
        if key.is_some() { ".enc" } else { "" }
    );
    let what = format!("{} chunk {}", t.full_name(), job.chunk + 1);
    let mut out = StoredWriter::create(set_dir, &rel, level, key, limit)?;
    let sql = format!(
        "SELECT {NO_CACHE} {} FROM {} {} WHERE {}",
        plan.select,
        quote_table(&t.db, &t.name),
        job.force,
        job.cond
    );
    let ncols = plan.columns.len();
    let mut rows = 0u64;
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let label = w.label().to_string();
    {
        let mut result = w
            .query_iter(&sql)
            .map_err(|e| conn::db_error(format_args!("reading {what} on {label}"), &e))?;
        while let Some(set) = result.iter() {
            for row in set {
                let row =
                    row.map_err(|e| conn::db_error(format_args!("reading {what} on {label}"), &e))?;
                for i in 0..ncols {
                    if i > 0 {
                        buf.push(b'\t');
                    }
                    match row.as_ref(i) {
                        None | Some(mysql::Value::NULL) => buf.extend_from_slice(b"\\N"),
                        Some(mysql::Value::Bytes(b)) => escape_into(&mut buf, b),
                        Some(v) => escape_into(&mut buf, oxkit::sql::quote_value(v).as_bytes()),
                    }
                }
                buf.push(b'\n');
                rows += 1;
                if buf.len() >= 1 << 20 {
                    out.write_all(&buf)
                        .with_context(|| format!("writing {}", set_dir.join(&rel).display()))?;
                    progress(buf.len() as u64);
                    buf.clear();
                    cancel.check()?;
                }
            }
        }
    }
    warns.extend(warnings(w, &what));
    out.write_all(&buf)
        .with_context(|| format!("writing {}", set_dir.join(&rel).display()))?;
    progress(buf.len() as u64);
    let file = out.finish()?;
    let sum: Option<(u64, String)> = w.row(
        &format!("checksumming {what}"),
        &plan.checksum.query(&job.force, &job.cond),
    )?;
    let (cnt, crc) = sum.unwrap_or((0, "0".into()));
    if cnt != rows {
        bail!("{what}: read {rows} rows but the checksum query counted {cnt} in the same snapshot");
    }
    Ok(ChunkDone {
        table: job.table,
        chunk: job.chunk,
        rows,
        crc,
        file,
        cond: job.cond.clone(),
        force: job.force.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_load_data() {
        let mut v = Vec::new();
        escape_into(&mut v, b"a\tb\nc\\d\0e\rf");
        assert_eq!(v, b"a\\tb\\nc\\\\d\\0e\\rf");
    }

    #[test]
    fn innodb_names() {
        assert_eq!(
            split_innodb_name("`a`.`b``c`"),
            Some(("a".to_string(), "b`c".to_string()))
        );
        assert_eq!(split_innodb_name("`SYS_TABLES`"), None);
    }

    #[test]
    fn counter_is_not_ddl() {
        assert_eq!(
            without_counter(
                "CREATE TABLE `t` (\n) ENGINE=InnoDB AUTO_INCREMENT=123 DEFAULT CHARSET=x"
            ),
            "CREATE TABLE `t` (\n) ENGINE=InnoDB DEFAULT CHARSET=x"
        );
    }

    #[test]
    fn folds_checksums() {
        assert_eq!(fold(true, "0", "5").expect("fold"), "5");
        assert_eq!(fold(true, "6", "5").expect("fold"), "3");
        assert_eq!(
            fold(false, "18446744073709551615", "1").expect("fold"),
            "18446744073709551616"
        );
    }
}
