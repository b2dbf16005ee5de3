//! Table metadata from `information_schema`: columns, keys, foreign keys
//! (both directions), triggers, engine and size estimates.
//!
//! One [`load_table`] call runs a handful of indexed queries, all with bound
//! parameters, and returns a [`Table`] the tools consult: which key to walk
//! ([`Table::best_key`]), which columns are generated and must be skipped,
//! which child tables a write could cascade into. Identifier quoting lives
//! in [`crate::sql`].

use crate::conn::{db_error, Conn, DbError, ErrorKind};
use mysql::prelude::Queryable;
use serde::Serialize;

/// Schemas that hold server metadata, never user data.
pub const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// A generated column's definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Generated {
    /// The expression.
    pub expression: String,
    /// STORED (true) or VIRTUAL (false).
    pub stored: bool,
}

/// One column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
    /// Name.
    pub name: String,
    /// 1-based position.
    pub position: u32,
    /// Base type, lower case: `int`, `varchar`, `decimal`, `enum`, `json`...
    pub data_type: String,
    /// Full type: `int(10) unsigned`, `enum('a','b')`, `decimal(10,2)`.
    pub column_type: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// Default as `information_schema` shows it (flavour-specific quoting).
    pub default: Option<String>,
    /// Character set of a text column.
    pub charset: Option<String>,
    /// Collation of a text column.
    pub collation: Option<String>,
    /// Set for generated (computed) columns.
    pub generated: Option<Generated>,
    /// `auto_increment`.
    pub auto_increment: bool,
    /// `EXTRA` as the server shows it.
    pub extra: String,
}

impl Column {
    /// A plain stored column of `data_type` (no charset, default or
    /// generation), for metadata built by hand, as unit tests do.
    pub fn plain(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            position: 1,
            data_type: data_type.into(),
            column_type: data_type.into(),
            nullable,
            default: None,
            charset: None,
            collation: None,
            generated: None,
            auto_increment: false,
            extra: String::new(),
        }
    }

    /// What kind of value the column holds: the one classification of
    /// data types every tool uses (literals, row hashes, key comparisons,
    /// dumps), so they cannot drift apart.
    pub fn kind(&self) -> ColumnKind {
        ColumnKind::of(&self.data_type)
    }

    /// For an integer column, its width in bits (TINYINT 8 ... BIGINT 64).
    pub fn integer_bits(&self) -> Option<u32> {
        let bits = match self.data_type.as_str() {
            "tinyint" => 8,
            "smallint" => 16,
            "mediumint" => 24,
            "int" | "integer" => 32,
            _ => 64,
        };
        (self.kind() == ColumnKind::Integer).then_some(bits)
    }

    /// True for an UNSIGNED number column.
    pub fn unsigned(&self) -> bool {
        self.kind().is_number() && self.column_type.contains("unsigned")
    }

    /// True for binary string types, whose bytes must not go through a charset.
    pub fn is_binary(&self) -> bool {
        self.kind() == ColumnKind::Binary
    }

    /// True for the spatial types (GEOMETRY and its kinds).
    pub fn is_spatial(&self) -> bool {
        self.kind() == ColumnKind::Spatial
    }

    /// True for FLOAT and DOUBLE (approximate values).
    pub fn is_float(&self) -> bool {
        self.kind() == ColumnKind::Float
    }
}

/// The kinds of column values, from `information_schema.COLUMNS.DATA_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ColumnKind {
    /// TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT.
    Integer,
    /// Other exact numbers written as plain digits: DECIMAL, YEAR.
    Decimal,
    /// FLOAT and DOUBLE (approximate).
    Float,
    /// BIT(n): a big-endian byte string.
    Bit,
    /// Character strings in a character set: CHAR, VARCHAR, the TEXT
    /// types, ENUM and SET.
    Text,
    /// MySQL's JSON (MariaDB reports its JSON columns as LONGTEXT: Text).
    Json,
    /// Byte strings: BINARY, VARBINARY, the BLOB types.
    Binary,
    /// GEOMETRY and its kinds.
    Spatial,
    /// Everything else (dates and times): compared by its text form.
    Other,
}

impl ColumnKind {
    /// The kind of a (lower-case) `DATA_TYPE`.
    pub fn of(data_type: &str) -> ColumnKind {
        match data_type {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
                ColumnKind::Integer
            }
            "decimal" | "numeric" | "year" => ColumnKind::Decimal,
            "float" | "double" | "real" => ColumnKind::Float,
            "bit" => ColumnKind::Bit,
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum"
            | "set" => ColumnKind::Text,
            "json" => ColumnKind::Json,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
                ColumnKind::Binary
            }
            "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
            | "multipolygon" | "geometrycollection" => ColumnKind::Spatial,
            _ => ColumnKind::Other,
        }
    }

    /// Numbers the server prints as plain digits (integers, DECIMAL, YEAR,
    /// FLOAT, DOUBLE): usable unquoted in SQL.
    pub fn is_number(self) -> bool {
        matches!(
            self,
            ColumnKind::Integer | ColumnKind::Decimal | ColumnKind::Float
        )
    }

    /// Values that are bytes, not characters (BINARY/BLOB types and BIT).
    pub fn is_bytes(self) -> bool {
        matches!(self, ColumnKind::Binary | ColumnKind::Bit)
    }
}

/// How an index is built (`information_schema.STATISTICS.INDEX_TYPE`);
/// serialized as the server names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum IndexKind {
    /// `BTREE`: ordered, so it can bound a chunk walk.
    #[serde(rename = "BTREE")]
    Btree,
    /// `HASH`.
    #[serde(rename = "HASH")]
    Hash,
    /// `FULLTEXT`.
    #[serde(rename = "FULLTEXT")]
    Fulltext,
    /// `SPATIAL` (R-tree).
    #[serde(rename = "SPATIAL")]
    Spatial,
    /// Anything else, as the server named it.
    #[serde(untagged)]
    Other(String),
}

impl IndexKind {
    /// The kind the server names `index_type`.
    pub fn of(index_type: &str) -> IndexKind {
        match index_type {
            "BTREE" => IndexKind::Btree,
            "HASH" => IndexKind::Hash,
            "FULLTEXT" => IndexKind::Fulltext,
            "SPATIAL" => IndexKind::Spatial,
            other => IndexKind::Other(other.to_string()),
        }
    }
}

/// What kind of table (`information_schema.TABLES.TABLE_TYPE`); serialized
/// and shown as the server names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum TableKind {
    /// `BASE TABLE`.
    #[serde(rename = "BASE TABLE")]
    Base,
    /// `SYSTEM VERSIONED` (MariaDB): a base table that keeps row history.
    #[serde(rename = "SYSTEM VERSIONED")]
    SystemVersioned,
    /// `VIEW`.
    #[serde(rename = "VIEW")]
    View,
    /// `SEQUENCE` (MariaDB).
    #[serde(rename = "SEQUENCE")]
    Sequence,
    /// Anything else, as the server named it.
    #[serde(untagged)]
    Other(String),
}

impl TableKind {
    /// The kind the server names `table_type`.
    pub fn of(table_type: &str) -> TableKind {
        match table_type {
            "BASE TABLE" => TableKind::Base,
            "SYSTEM VERSIONED" => TableKind::SystemVersioned,
            "VIEW" => TableKind::View,
            "SEQUENCE" => TableKind::Sequence,
            other => TableKind::Other(other.to_string()),
        }
    }

    /// The server's name for it.
    pub fn name(&self) -> &str {
        match self {
            TableKind::Base => "BASE TABLE",
            TableKind::SystemVersioned => "SYSTEM VERSIONED",
            TableKind::View => "VIEW",
            TableKind::Sequence => "SEQUENCE",
            TableKind::Other(s) => s,
        }
    }
}

impl std::fmt::Display for TableKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One column of an index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexColumn {
    /// Column name.
    pub name: String,
    /// Prefix length for prefix indexes.
    pub sub_part: Option<u32>,
}

/// One index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Index {
    /// Name (`PRIMARY` for the primary key).
    pub name: String,
    /// Unique (primary keys are unique).
    pub unique: bool,
    /// The primary key.
    pub primary: bool,
    /// Columns in index order.
    pub columns: Vec<IndexColumn>,
    /// `BTREE`, `HASH`, `FULLTEXT`, `SPATIAL`.
    pub kind: IndexKind,
    /// At least one column accepts NULL (a unique index then allows
    /// several rows with NULL, so it does not identify rows).
    pub nullable: bool,
}

impl Index {
    /// Column names in index order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// True when the index can order and bound a chunk walk: B-tree, no
    /// prefix columns.
    pub fn walkable(&self) -> bool {
        self.kind == IndexKind::Btree && self.columns.iter().all(|c| c.sub_part.is_none())
    }
}

/// A foreign key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// Child schema.
    pub db: String,
    /// Child table.
    pub table: String,
    /// Child columns.
    pub columns: Vec<String>,
    /// Parent schema.
    pub parent_db: String,
    /// Parent table.
    pub parent_table: String,
    /// Parent columns.
    pub parent_columns: Vec<String>,
    /// `ON UPDATE` rule (`RESTRICT`, `CASCADE`, `SET NULL`, `NO ACTION`).
    pub on_update: String,
    /// `ON DELETE` rule.
    pub on_delete: String,
}

/// A trigger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// Name.
    pub name: String,
    /// `INSERT`, `UPDATE` or `DELETE`.
    pub event: String,
    /// `BEFORE` or `AFTER`.
    pub timing: String,
    /// The body.
    pub statement: String,
    /// `ACTION_ORDER`: its place among the table's triggers of the same
    /// timing and event (1 first).
    pub order: u64,
    /// `user@host` (or a role) whose privileges the body runs with.
    pub definer: String,
    /// The `sql_mode` it was created (and runs) under.
    pub sql_mode: String,
    /// `character_set_client` when it was created.
    pub character_set_client: String,
    /// `collation_connection` when it was created.
    pub collation_connection: String,
}

/// Everything the tools need to know about one table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Schema.
    pub db: String,
    /// Table name.
    pub name: String,
    /// Storage engine (`None` for views).
    pub engine: Option<String>,
    /// `BASE TABLE`, `VIEW`, `SYSTEM VERSIONED`, `SEQUENCE`.
    pub kind: TableKind,
    /// Estimated rows (InnoDB's estimate can be off by a factor of 2).
    pub row_estimate: u64,
    /// Bytes of data.
    pub data_length: u64,
    /// Bytes of indexes.
    pub index_length: u64,
    /// Default collation.
    pub collation: Option<String>,
    /// `CREATE_OPTIONS` (row format, partitioned, ...).
    pub create_options: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Indexes; the primary key first, then by name.
    pub indexes: Vec<Index>,
    /// Foreign keys of this table (it is the child).
    pub foreign_keys: Vec<ForeignKey>,
    /// Foreign keys of other tables that reference this one (it is the parent).
    pub referenced_by: Vec<ForeignKey>,
    /// Triggers on this table.
    pub triggers: Vec<Trigger>,
}

impl Table {
    /// The primary key.
    pub fn primary_key(&self) -> Option<&Index> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// The key that identifies rows best: the primary key, else the unique
    /// index over NOT NULL columns with the fewest columns, else a unique
    /// index with nullable columns (check [`Index::nullable`]: it does not
    /// identify rows holding NULL). Only walkable (B-tree, no prefix) keys.
    pub fn best_key(&self) -> Option<&Index> {
        if let Some(pk) = self.primary_key().filter(|k| k.walkable()) {
            return Some(pk);
        }
        let unique = || self.indexes.iter().filter(|i| i.unique && i.walkable());
        unique()
            .filter(|i| !i.nullable)
            .min_by_key(|i| i.columns.len())
            .or_else(|| unique().min_by_key(|i| i.columns.len()))
    }

    /// A column by name (case-insensitive, as MySQL column names are).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Columns that hold stored data (generated columns excluded).
    pub fn data_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.generated.is_none())
    }

    /// `db.table` for messages (not for SQL: use [`crate::sql::quote_table`]).
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }
}

fn s(row: &mysql::Row, i: usize) -> Option<String> {
    crate::conn::cell_text(row, i)
}

fn n(row: &mysql::Row, i: usize) -> u64 {
    s(row, i).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn query(
    conn: &mut Conn,
    what: &str,
    sql: &str,
    params: Vec<String>,
) -> Result<Vec<mysql::Row>, DbError> {
    let label = conn.label().to_string();
    conn.exec(sql, params)
        .map_err(|e| db_error(format_args!("{what} on {label}"), &e))
}

/// Loads the metadata of `db`.`table`. A missing table is an
/// [`ErrorKind::UnknownTable`] error naming it.
pub fn load_table(conn: &mut Conn, db: &str, table: &str) -> Result<Table, DbError> {
    load(conn, db, table, true)
}

/// [`load_table`] without looking for other tables' foreign keys that point
/// at this one (`referenced_by` then holds only self-references). That
/// search costs one query per schema; a tool that only reads the table
/// (a checksum) skips it.
pub fn load_table_without_children(
    conn: &mut Conn,
    db: &str,
    table: &str,
) -> Result<Table, DbError> {
    load(conn, db, table, false)
}

fn load(conn: &mut Conn, db: &str, table: &str, children: bool) -> Result<Table, DbError> {
    let Some(mut t) = read(conn, db, Some(table))?.pop() else {
        return Err(DbError {
            kind: ErrorKind::UnknownTable,
            code: Some(1146),
            message: format!("table {db}.{table} does not exist on {}", conn.label()),
        });
    };
    if children {
        let what = format!("reading metadata of {db}.{table}");
        let schemas: Vec<String> = conn.rows(
            &what,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME",
        )?;
        for schema in schemas
            .iter()
            .filter(|s| !SYSTEM_SCHEMAS.contains(&s.as_str()))
        {
            let rows = query(
                conn,
                &what,
                &format!(
                    "{FK_SQL} AND k.REFERENCED_TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME = ? \
                     AND NOT (k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ?){FK_ORDER}"
                ),
                vec![
                    schema.clone(),
                    schema.clone(),
                    db.to_string(),
                    table.to_string(),
                    db.to_string(),
                    table.to_string(),
                ],
            )?;
            t.referenced_by.extend(foreign_keys(&rows));
        }
    }
    Ok(t)
}

/// Every base table of `db` (system-versioned ones included), sorted by
/// name, each as [`load_table_without_children`] returns it. Five queries
/// for the whole schema instead of five per table: with a thousand small
/// tables the per-table round trips were most of a checksum's run.
pub fn load_schema(conn: &mut Conn, db: &str) -> Result<Vec<Table>, DbError> {
    read(conn, db, None)
}

/// The named tables of `db`, in the order named, each as
/// [`load_table_without_children`] returns it. A few are read one by one;
/// more are read with the whole schema ([`load_schema`]), which costs the
/// same five queries however many tables it holds. A named table that is
/// gone is an [`ErrorKind::UnknownTable`] error naming it.
pub fn load_tables(conn: &mut Conn, db: &str, names: &[String]) -> Result<Vec<Table>, DbError> {
    const ONE_BY_ONE: usize = 8;
    if names.len() <= ONE_BY_ONE {
        return names
            .iter()
            .map(|n| load_table_without_children(conn, db, n))
            .collect();
    }
    let mut all: std::collections::HashMap<String, Table> = read(conn, db, None)?
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    names
        .iter()
        .map(|n| match all.remove(n) {
            Some(t) => Ok(t),
            None => load_table_without_children(conn, db, n),
        })
        .collect()
}

/// The tables named as (schema, table), in the order named, each as
/// [`load_table_without_children`] returns it, read schema by schema with
/// [`load_tables`]: a few queries per schema, not five per table (a
/// thousand small tables is the common case). A table that is gone is an
/// [`ErrorKind::UnknownTable`] error naming it.
pub fn load_named(conn: &mut Conn, names: &[(String, String)]) -> Result<Vec<Table>, DbError> {
    let mut by_db: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (db, t) in names {
        by_db.entry(db).or_default().push(t.clone());
    }
    let mut loaded: std::collections::HashMap<(String, String), Table> = Default::default();
    for (db, tables) in by_db {
        for t in load_tables(conn, db, &tables)? {
            loaded.insert((t.db.clone(), t.name.clone()), t);
        }
    }
    Ok(names.iter().filter_map(|k| loaded.remove(k)).collect())
}

// Foreign keys and the columns they join. Every query names one
// TABLE_SCHEMA by equality, so the server opens only that schema's tables:
// a KEY_COLUMN_USAGE scan without it opens every table of every schema,
// information_schema's own included, and MariaDB 10.11 was seen crashing
// (signal 11 in create_tmp_table_for_schema's cleanup) on that path under
// load.
const FK_SQL: &str = "SELECT k.CONSTRAINT_NAME, k.TABLE_SCHEMA, k.TABLE_NAME, k.COLUMN_NAME, \
            k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, \
            r.UPDATE_RULE, r.DELETE_RULE \
     FROM information_schema.KEY_COLUMN_USAGE k \
     JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
       ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
      AND r.TABLE_NAME = k.TABLE_NAME \
     WHERE k.TABLE_SCHEMA = ? AND r.CONSTRAINT_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL";
const FK_ORDER: &str =
    " ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION";

/// Reads `db`.`table`, or every base table of `db` when `table` is `None`:
/// one query per `information_schema` view, each naming the schema (and
/// the table) by equality. Every row starts with its table's name, by which
/// the rows are grouped.
fn read(conn: &mut Conn, db: &str, table: Option<&str>) -> Result<Vec<Table>, DbError> {
    let what = match table {
        Some(t) => format!("reading metadata of {db}.{t}"),
        None => format!("reading metadata of the tables of {db}"),
    };
    // `AND <table column> = ?` and the parameters, for one table or none.
    let scope = |col: &str, schema_params: usize| {
        let mut params = vec![db.to_string(); schema_params];
        let cond = match table {
            Some(t) => {
                params.push(t.to_string());
                format!(" AND {col} = ?")
            }
            None => String::new(),
        };
        (cond, params)
    };
    let mut grouped = |sql: &str, col: &str, schema_params: usize, order: &str| {
        let (cond, params) = scope(col, schema_params);
        let rows = query(
            conn,
            &what,
            &format!("{sql}{cond} ORDER BY {order}"),
            params,
        )?;
        let mut by_table: std::collections::HashMap<String, Vec<mysql::Row>> = Default::default();
        for r in rows {
            by_table
                .entry(s(&r, 0).unwrap_or_default())
                .or_default()
                .push(r);
        }
        Ok::<_, DbError>(by_table)
    };
    let kinds = if table.is_some() {
        ""
    } else {
        " AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
    };
    let tables = grouped(
        &format!(
            "SELECT TABLE_NAME, ENGINE, TABLE_TYPE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH, \
             TABLE_COLLATION, CREATE_OPTIONS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ?{kinds}"
        ),
        "TABLE_NAME",
        1,
        "TABLE_NAME",
    )?;
    let mut columns = grouped(
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, \
         COLUMN_DEFAULT, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, GENERATION_EXPRESSION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?",
        "TABLE_NAME",
        1,
        "TABLE_NAME, ORDINAL_POSITION",
    )?;
    let mut stats = grouped(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, NULLABLE, INDEX_TYPE \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?",
        "TABLE_NAME",
        1,
        "TABLE_NAME, INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
    )?;
    let mut triggers = grouped(
        "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, \
         ACTION_STATEMENT, ACTION_ORDER, DEFINER, SQL_MODE, CHARACTER_SET_CLIENT, \
         COLLATION_CONNECTION FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ?",
        "EVENT_OBJECT_TABLE",
        1,
        "EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
    )?;
    // The foreign-key query names the table twice (its usage and its
    // constraint rows), and its rows start with the constraint's name.
    let fk_rows = {
        let (mut cond, mut params) = scope("k.TABLE_NAME", 2);
        if let Some(t) = table {
            cond.push_str(" AND r.TABLE_NAME = ?");
            params.push(t.to_string());
        }
        query(conn, &what, &format!("{FK_SQL}{cond}{FK_ORDER}"), params)?
    };
    let mut fks: std::collections::HashMap<String, Vec<ForeignKey>> = Default::default();
    for f in foreign_keys(&fk_rows) {
        fks.entry(f.table.clone()).or_default().push(f);
    }

    let mut names: Vec<&String> = tables.keys().collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let t = &tables[name][0];
        let foreign_keys = fks.remove(name).unwrap_or_default();
        // A self-referencing key is both a foreign key and a reference.
        let referenced_by = foreign_keys
            .iter()
            .filter(|f| f.parent_db == db && &f.parent_table == name)
            .cloned()
            .collect();
        out.push(Table {
            db: db.to_string(),
            name: name.clone(),
            engine: s(t, 1),
            kind: TableKind::of(&s(t, 2).unwrap_or_default()),
            row_estimate: n(t, 3),
            data_length: n(t, 4),
            index_length: n(t, 5),
            collation: s(t, 6),
            create_options: s(t, 7).unwrap_or_default(),
            columns: parse_columns(&columns.remove(name).unwrap_or_default()),
            indexes: parse_indexes(&stats.remove(name).unwrap_or_default()),
            foreign_keys,
            referenced_by,
            triggers: triggers
                .remove(name)
                .unwrap_or_default()
                .iter()
                .map(|r| Trigger {
                    name: s(r, 1).unwrap_or_default(),
                    event: s(r, 2).unwrap_or_default(),
                    timing: s(r, 3).unwrap_or_default(),
                    statement: s(r, 4).unwrap_or_default(),
                    order: n(r, 5),
                    definer: s(r, 6).unwrap_or_default(),
                    sql_mode: s(r, 7).unwrap_or_default(),
                    character_set_client: s(r, 8).unwrap_or_default(),
                    collation_connection: s(r, 9).unwrap_or_default(),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Columns from `information_schema.COLUMNS` rows (table name first).
fn parse_columns(rows: &[mysql::Row]) -> Vec<Column> {
    rows.iter()
        .map(|r| {
            let extra = s(r, 9).unwrap_or_default();
            let lower = extra.to_ascii_lowercase();
            let expr = s(r, 10).filter(|e| !e.is_empty());
            let is_generated = lower.contains("generated")
                || lower.contains("virtual")
                || lower.contains("persistent");
            Column {
                name: s(r, 1).unwrap_or_default(),
                position: n(r, 2) as u32,
                data_type: s(r, 3).unwrap_or_default().to_ascii_lowercase(),
                column_type: s(r, 4).unwrap_or_default(),
                nullable: s(r, 5).as_deref() == Some("YES"),
                default: s(r, 6),
                charset: s(r, 7),
                collation: s(r, 8),
                generated: if is_generated {
                    Some(Generated {
                        expression: expr.unwrap_or_default(),
                        stored: lower.contains("stored") || lower.contains("persistent"),
                    })
                } else {
                    None
                },
                auto_increment: lower.contains("auto_increment"),
                extra,
            }
        })
        .collect()
}

/// Indexes from `information_schema.STATISTICS` rows (table name first),
/// in index and column order.
fn parse_indexes(rows: &[mysql::Row]) -> Vec<Index> {
    let mut indexes: Vec<Index> = Vec::new();
    for r in rows {
        let name = s(r, 1).unwrap_or_default();
        let col = IndexColumn {
            name: s(r, 3).unwrap_or_default(),
            sub_part: s(r, 4).and_then(|v| v.parse().ok()),
        };
        let nullable = s(r, 5).as_deref() == Some("YES");
        match indexes.last_mut().filter(|i| i.name == name) {
            Some(i) => {
                i.columns.push(col);
                i.nullable |= nullable;
            }
            None => indexes.push(Index {
                primary: name == "PRIMARY",
                unique: n(r, 2) == 0,
                name,
                columns: vec![col],
                kind: IndexKind::of(&s(r, 6).unwrap_or_default()),
                nullable,
            }),
        }
    }
    indexes
}

/// Foreign keys from [`FK_SQL`] rows, one per constraint.
fn foreign_keys(rows: &[mysql::Row]) -> Vec<ForeignKey> {
    let mut fks: Vec<ForeignKey> = Vec::new();
    for r in rows {
        let (name, cdb, ctable) = (
            s(r, 0).unwrap_or_default(),
            s(r, 1).unwrap_or_default(),
            s(r, 2).unwrap_or_default(),
        );
        match fks
            .last_mut()
            .filter(|f| f.name == name && f.db == cdb && f.table == ctable)
        {
            Some(f) => {
                f.columns.push(s(r, 3).unwrap_or_default());
                f.parent_columns.push(s(r, 6).unwrap_or_default());
            }
            None => fks.push(ForeignKey {
                name,
                db: cdb,
                table: ctable,
                columns: vec![s(r, 3).unwrap_or_default()],
                parent_db: s(r, 4).unwrap_or_default(),
                parent_table: s(r, 5).unwrap_or_default(),
                parent_columns: vec![s(r, 6).unwrap_or_default()],
                on_update: s(r, 7).unwrap_or_default(),
                on_delete: s(r, 8).unwrap_or_default(),
            }),
        }
    }
    fks
}

/// Base tables of user schemas (system schemas excluded), optionally only in
/// `databases`, sorted by schema and name.
pub fn list_tables(
    conn: &mut Conn,
    databases: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    let rows: Vec<(String, String)> = conn.rows(
        "listing tables",
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') \
         ORDER BY TABLE_SCHEMA, TABLE_NAME",
    )?;
    Ok(rows
        .into_iter()
        .filter(|(d, _)| !SYSTEM_SCHEMAS.contains(&d.as_str()))
        .filter(|(d, _)| databases.is_empty() || databases.iter().any(|x| x == d))
        .collect())
}

#[cfg(test)]
mod kind_tests {
    use super::*;

    /// Every tool reads a column's kind here; the lists the seven copies
    /// had (issue 19) are all covered.
    #[test]
    fn kinds() {
        for (t, k) in [
            ("int", ColumnKind::Integer),
            ("bigint", ColumnKind::Integer),
            ("decimal", ColumnKind::Decimal),
            ("year", ColumnKind::Decimal),
            ("double", ColumnKind::Float),
            ("bit", ColumnKind::Bit),
            ("enum", ColumnKind::Text),
            ("longtext", ColumnKind::Text),
            ("json", ColumnKind::Json),
            ("varbinary", ColumnKind::Binary),
            ("longblob", ColumnKind::Binary),
            ("multipolygon", ColumnKind::Spatial),
            ("datetime", ColumnKind::Other),
        ] {
            assert_eq!(ColumnKind::of(t), k, "{t}");
        }
        assert!(ColumnKind::Decimal.is_number() && !ColumnKind::Bit.is_number());
        assert!(ColumnKind::Bit.is_bytes() && !ColumnKind::Text.is_bytes());
    }
}
