//! The definitions of a logical set (schema.json): reading them from the
//! server inside the backup's snapshot, telling DDL that ran during the
//! dump, and reading them back from a set for a restore.
//!
//! Everything a restore recreates is one [`SchemaObject`] of a known
//! [`ObjectKind`]: databases, tables, views, routines, triggers, events,
//! and users with their grants, each with the `sql_mode` and client
//! character set it was created under.

use crate::crypt::Key;
use crate::manifest::Manifest;
use crate::repo::Repo;
use anyhow::{bail, Context as _, Result};
use mysql::prelude::Queryable;
use oxkit::conn::{self, Conn};
use oxkit::filter::TableFilter;
use oxkit::schema::{self, Table};
use oxkit::server::Server;
use oxkit::sql::{quote_ident, quote_str, quote_table};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// Path of the definitions file in a set.
pub fn schema_path(encrypted: bool) -> String {
    format!("schema.json.zst{}", if encrypted { ".enc" } else { "" })
}

/// Reads and decodes the definitions of set `m`.
pub fn read(repo: &Repo, m: &Manifest, key: Option<&Key>) -> Result<SchemaDump> {
    let bytes = repo.read_all(m, &m.schema_file, key)?;
    serde_json::from_slice(&bytes).with_context(|| format!("parsing {} of {}", m.schema_file, m.id))
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
fn show_create_table(conn: &mut Conn, db: &str, name: &str) -> Result<String> {
    Ok(text(&show_create(conn, ObjectKind::Table, db, name)?, 1))
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

fn list_views(conn: &mut Conn) -> Result<Vec<(String, String)>> {
    let v: Vec<(String, String)> = conn.rows(
        "listing views",
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS ORDER BY 1, 2",
    )?;
    Ok(v)
}

impl SchemaObject {
    fn new(kind: ObjectKind, db: &str, name: impl Into<String>, sql: String) -> SchemaObject {
        SchemaObject {
            kind,
            db: db.to_string(),
            name: name.into(),
            table: None,
            sql: vec![sql],
            sql_mode: None,
            charset: None,
        }
    }

    /// With the `sql_mode` and `character_set_client` of its `SHOW CREATE`
    /// row (a column the row lacks stays unset).
    fn created_under(mut self, row: &mysql::Row) -> SchemaObject {
        self.sql_mode = col_by_name(row, "sql_mode");
        self.charset = col_by_name(row, "character_set_client");
        self
    }
}

/// The row of `SHOW CREATE <kind> db.name`.
fn show_create(conn: &mut Conn, kind: ObjectKind, db: &str, name: &str) -> Result<mysql::Row> {
    let rows = row_sql(
        conn,
        &format!("reading {kind} {db}.{name}"),
        &format!("SHOW CREATE {} {}", kind.sql_word(), quote_table(db, name)),
    )?;
    rows.into_iter()
        .next()
        .with_context(|| format!("no definition for {kind} {db}.{name}"))
}

/// Reads the definitions of `dbs` and `tables`, of the views the filter
/// selects in those databases, of their routines and events and of the
/// tables' triggers, and, when `users` is given, every account with its
/// grants (what could not be read exactly goes to `warn`).
pub fn dump(
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
        objs.push(SchemaObject::new(ObjectKind::Database, db, db, sql));
    }
    for t in tables {
        let sql = show_create_table(conn, &t.db, &t.name)?;
        objs.push(SchemaObject::new(ObjectKind::Table, &t.db, &t.name, sql));
    }
    for (db, v) in list_views(conn)? {
        if !dbs.contains(&db) || !filter.selects(&db, &v, None) {
            continue;
        }
        let r = show_create(conn, ObjectKind::View, &db, &v)?;
        objs.push(SchemaObject::new(ObjectKind::View, &db, v, text(&r, 1)).created_under(&r));
    }
    for db in dbs {
        objs.extend(routines(conn, db)?);
        objs.extend(triggers(conn, db, tables)?);
        objs.extend(events(conn, db)?);
    }
    if let Some(server) = users {
        objs.extend(dump_users(conn, server, warn)?);
    }
    Ok(SchemaDump { objects: objs })
}

/// The procedures and functions of `db`.
fn routines(conn: &mut Conn, db: &str) -> Result<Vec<SchemaObject>> {
    let mut objs = Vec::new();
    for kind in [ObjectKind::Procedure, ObjectKind::Function] {
        let word = kind.sql_word();
        let rows = row_sql(
            conn,
            "listing routines",
            &format!("SHOW {word} STATUS WHERE Db = {}", quote_str(db)),
        )?;
        for r in rows {
            let name = col_by_name(&r, "Name").unwrap_or_default();
            let d = show_create(conn, kind, db, &name)?;
            let sql = col_by_name(&d, &format!("Create {word}")).unwrap_or_default();
            if sql.is_empty() {
                bail!("cannot read the body of {word} {db}.{name}: the backup user needs SELECT on mysql.proc (or to be its definer)");
            }
            objs.push(SchemaObject::new(kind, db, name, sql).created_under(&d));
        }
    }
    Ok(objs)
}

/// The triggers of `db` on the tables backed up.
fn triggers(conn: &mut Conn, db: &str, tables: &[Table]) -> Result<Vec<SchemaObject>> {
    let rows = row_sql(
        conn,
        "listing triggers",
        &format!("SHOW TRIGGERS FROM {}", quote_ident(db)),
    )?;
    let mut objs = Vec::new();
    for r in rows {
        let name = col_by_name(&r, "Trigger").unwrap_or_default();
        let table = col_by_name(&r, "Table").unwrap_or_default();
        if !tables.iter().any(|t| t.db == db && t.name == table) {
            continue;
        }
        let d = show_create(conn, ObjectKind::Trigger, db, &name)?;
        let sql = col_by_name(&d, "SQL Original Statement").unwrap_or_default();
        let mut o = SchemaObject::new(ObjectKind::Trigger, db, name, sql).created_under(&d);
        o.table = Some(table);
        objs.push(o);
    }
    Ok(objs)
}

/// The events of `db`.
fn events(conn: &mut Conn, db: &str) -> Result<Vec<SchemaObject>> {
    let rows = row_sql(
        conn,
        "listing events",
        &format!("SHOW EVENTS FROM {}", quote_ident(db)),
    )?;
    let mut objs = Vec::new();
    for r in rows {
        let name = col_by_name(&r, "Name").unwrap_or_default();
        let d = show_create(conn, ObjectKind::Event, db, &name)?;
        let sql = col_by_name(&d, "Create Event").unwrap_or_default();
        objs.push(SchemaObject::new(ObjectKind::Event, db, name, sql).created_under(&d));
    }
    Ok(objs)
}

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
        let name = if role { u } else { format!("{u}@{h}") };
        let mut o = SchemaObject::new(ObjectKind::User, "", name, String::new());
        o.sql = sql;
        objs.push(o);
    }
    Ok(objs)
}

/// Fails when DDL ran during the dump: a table backed up is gone
/// (dropped or renamed) or its definition in `dump` no longer matches,
/// or a table the filter selects exists that was not in `names` before.
pub fn check_unchanged(
    conn: &mut Conn,
    dump: &SchemaDump,
    tables: &[Table],
    names: &[(String, String)],
    filter: &TableFilter,
) -> Result<()> {
    let before: BTreeMap<(&str, &str), String> = dump
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::Table)
        .map(|o| {
            (
                (o.db.as_str(), o.name.as_str()),
                without_counter(&o.sql.join("")),
            )
        })
        .collect();
    let names_after = schema::list_tables(conn, &[])?;
    for t in tables {
        if !names_after.iter().any(|(d, n)| *d == t.db && *n == t.name) {
            bail!(
                "{} was dropped or renamed during the backup (DDL during the dump); the backup is not usable, take it again",
                t.full_name()
            );
        }
        let now = without_counter(&show_create_table(conn, &t.db, &t.name)?);
        if before.get(&(t.db.as_str(), t.name.as_str())) != Some(&now) {
            bail!(
                "{} was altered during the backup (DDL during the dump); the backup is not usable, take it again",
                t.full_name()
            );
        }
    }
    for (d, n) in &names_after {
        if !names.contains(&(d.clone(), n.clone())) && filter.selects(d, n, None) {
            bail!("{d}.{n} was created during the backup (DDL during the dump); take the backup again");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_is_not_ddl() {
        assert_eq!(
            without_counter(
                "CREATE TABLE `t` (\n) ENGINE=InnoDB AUTO_INCREMENT=123 DEFAULT CHARSET=x"
            ),
            "CREATE TABLE `t` (\n) ENGINE=InnoDB DEFAULT CHARSET=x"
        );
    }

    /// schema.json of older sets keeps loading: the kinds are the words
    /// written before they were an enum.
    #[test]
    fn kinds_are_the_words_of_schema_json() {
        for (k, word) in [
            (ObjectKind::Database, "database"),
            (ObjectKind::Table, "table"),
            (ObjectKind::View, "view"),
            (ObjectKind::Procedure, "procedure"),
            (ObjectKind::Function, "function"),
            (ObjectKind::Trigger, "trigger"),
            (ObjectKind::Event, "event"),
            (ObjectKind::User, "user"),
        ] {
            assert_eq!(
                serde_json::to_string(&k).expect("json"),
                format!("\"{word}\"")
            );
            assert_eq!(k.to_string(), word);
            assert_eq!(k.sql_word(), word.to_ascii_uppercase());
        }
        let o: SchemaObject = serde_json::from_str(
            r#"{"kind":"trigger","db":"d","name":"tr","table":"t","sql":["CREATE TRIGGER tr"],"sql_mode":null,"charset":null}"#,
        )
        .expect("an older definition loads");
        assert_eq!(o.kind, ObjectKind::Trigger);
    }
}
