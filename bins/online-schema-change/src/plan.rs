//! The planner: guards, then the ALTER tried on an empty clone.
//!
//! The server is the only reliable judge of what an ALTER does, so instead
//! of modelling every storage engine rule the planner asks it: it creates
//! an empty clone of the table, applies the ALTER with
//! `ALGORITHM=INSTANT`, then (on a fresh clone) with `NOCOPY`/`INPLACE`
//! and `LOCK=NONE`, and finally without restrictions, and reads the
//! resulting schema. That schema tells which columns the copy maps onto
//! which, which unique keys are new (their duplicates are looked for in
//! the original), and which column types changed.

use crate::alter::Alter;
use crate::names::Names;
use crate::Config;
use anyhow::Result;
use oxkit::checksum::Function;
use oxkit::conn::{Conn, DbError};
use oxkit::entry::ExitError;
use oxkit::schema::{
    load_table_without_children, Column, ForeignKey, Index, IndexKind, Table, Trigger,
};
use oxkit::server::{Flavor, Server};
use oxkit::sql::{quote_ident, quote_idents};
use oxkit::Exit;

/// A refusal: exit 1 with the reason.
pub fn refuse(msg: impl Into<String>) -> anyhow::Error {
    ExitError {
        exit: Exit::ERROR,
        message: format!("refusing: {}", msg.into()),
    }
    .into()
}

/// `(old, new)` columns holding the same data.
pub type ColumnPairs = Vec<(Column, Column)>;

/// The outcome of planning.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The row hash of the checksum before cut-over, as the server runs it.
    pub hash: Function,
    /// The server accepts the ALTER with ALGORITHM=INSTANT.
    pub instant: bool,
    /// The server accepts it without a table copy and LOCK=NONE (NOCOPY on
    /// MariaDB, INPLACE on MySQL): reported, not used.
    pub nocopy: bool,
    /// The key the copy walks and the triggers match rows by (an instant
    /// plan's is not used, and empty when the table has none).
    pub key: Index,
    /// `(old, new)` columns holding the same data.
    pub pairs: ColumnPairs,
    /// Warnings worth showing.
    pub guards: Vec<String>,
    /// Columns whose definition changes: `c: int(11) -> bigint(20)`.
    pub changed: Vec<String>,
    /// Child tables (`db.table (constraint)`).
    pub children: Vec<String>,
    /// The table's own triggers (not the tool's), in creation order.
    pub user_triggers: Vec<Trigger>,
    /// The table's schema after the ALTER (the probe's, or the shadow's
    /// when resuming).
    pub new_table: Table,
}

/// `SHOW CREATE TABLE` of `db`.`table`.
pub fn show_create(conn: &mut Conn, names: &Names, table: &str) -> Result<String, DbError> {
    let row: Option<(String, String)> = conn.row(
        "reading the table definition",
        &format!("SHOW CREATE TABLE {}", names.q(table)),
    )?;
    Ok(row.map(|r| r.1).unwrap_or_default())
}

/// Toggles the `_` prefix of a foreign key name (names are unique per
/// schema, so the copy's constraints cannot keep the original's).
pub fn toggle_fk_name(name: &str) -> String {
    match name.strip_prefix('_') {
        Some(rest) if !rest.is_empty() => rest.to_string(),
        _ => format!("_{name}"),
    }
}

/// Reads a backticked identifier at the start of `s`; returns it and the rest.
fn ident_at(s: &str) -> Option<(String, &str)> {
    let mut it = s.strip_prefix('`')?.char_indices().peekable();
    let mut out = String::new();
    let body = s.get(1..)?;
    while let Some((i, c)) = it.next() {
        if c == '`' {
            if it.peek().map(|p| p.1) == Some('`') {
                out.push('`');
                it.next();
            } else {
                return Some((out, body.get(i + 1..)?));
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// The `CREATE TABLE` for a copy of a table named `new` (qualified), from
/// the original's `SHOW CREATE TABLE` text: same columns, keys, options and
/// foreign keys, constraint names toggled.
pub fn clone_sql(create: &str, new_qualified: &str) -> Option<String> {
    let rest = create.strip_prefix("CREATE TABLE ")?;
    let (_, rest) = ident_at(rest)?;
    let mut out = format!("CREATE TABLE {new_qualified}");
    for (i, line) in rest.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        if let Some(after) = trimmed.strip_prefix("CONSTRAINT ") {
            if let Some((name, tail)) = ident_at(after) {
                if tail.trim_start().starts_with("FOREIGN KEY") {
                    let indent = &line[..line.len() - trimmed.len()];
                    out.push_str(&format!(
                        "{indent}CONSTRAINT {}{tail}",
                        quote_ident(&toggle_fk_name(&name))
                    ));
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    Some(out)
}

/// Creates `new` as a copy of the original's definition.
pub fn create_clone(
    conn: &mut Conn,
    names: &Names,
    create: &str,
    new: &str,
) -> Result<(), anyhow::Error> {
    let sql = clone_sql(create, &names.q(new))
        .ok_or_else(|| anyhow::anyhow!("cannot read SHOW CREATE TABLE output: {create}"))?;
    conn.run(&format!("creating {}.{new}", names.db), &sql)?;
    Ok(())
}

fn algo_clause(server: &Server) -> &'static str {
    if server.flavor == Flavor::MariaDB {
        "ALGORITHM=NOCOPY, LOCK=NONE"
    } else {
        "ALGORITHM=INPLACE, LOCK=NONE"
    }
}

/// Runs `f` on an empty clone of the table (the probe, named
/// [`Names::probe`]), kept out of the binary log when the account may, and
/// dropped afterwards whatever `f` returns.
fn with_probe<T>(
    conn: &mut Conn,
    names: &Names,
    create: &str,
    f: impl FnOnce(&mut Conn, &str) -> Result<T>,
) -> Result<T> {
    // The clone is scratch: keep it out of the binary log when allowed.
    let unlogged = conn
        .run("probe setup", "SET SESSION sql_log_bin = 0")
        .is_ok();
    let p = names.q(&names.probe);
    let result = conn
        .run(
            "dropping an old probe",
            &format!("DROP TABLE IF EXISTS {p}"),
        )
        .map_err(anyhow::Error::from)
        .and_then(|()| create_clone(conn, names, create, &names.probe))
        .and_then(|()| f(conn, &p));
    let _ = conn.run("dropping the probe", &format!("DROP TABLE IF EXISTS {p}"));
    if unlogged {
        let _ = conn.run("probe setup", "SET SESSION sql_log_bin = 1");
    }
    result
}

/// Tries the ALTER on empty clones; returns (instant, nocopy, schema after).
fn probe(
    conn: &mut Conn,
    server: &Server,
    names: &Names,
    alter: &Alter,
    create: &str,
) -> Result<(bool, bool, Table)> {
    with_probe(conn, names, create, |conn, p| {
        let instant = conn
            .run_one(
                "probe",
                &format!("ALTER TABLE {p} {}, ALGORITHM=INSTANT", alter.text),
            )
            .is_ok();
        let mut nocopy = instant;
        if !instant {
            nocopy = conn
                .run_one(
                    "probe",
                    &format!("ALTER TABLE {p} {}, {}", alter.text, algo_clause(server)),
                )
                .is_ok();
            if !nocopy {
                conn.run_one(
                    "trying the ALTER on an empty copy of the table",
                    &format!("ALTER TABLE {p} {}", alter.text),
                )
                .map_err(|e| ExitError {
                    exit: Exit::ERROR,
                    message: format!("the server rejects the ALTER: {e}"),
                })?;
            }
        }
        let t = load_table_without_children(conn, &names.db, &names.probe)?;
        Ok((instant, nocopy, t))
    })
}

/// Before any copy that will move the user's triggers to the new table:
/// each is created on an empty clone the ALTER was applied to, as the
/// swap will create it ([`crate::triggers::preflight`]).
pub fn preflight_triggers(
    conn: &mut Conn,
    server: &Server,
    names: &Names,
    alter: &Alter,
    create: &str,
    triggers: &[Trigger],
) -> Result<()> {
    if triggers.is_empty() {
        return Ok(());
    }
    with_probe(conn, names, create, |conn, p| {
        conn.run_one(
            "trying the ALTER on an empty copy of the table",
            &format!("ALTER TABLE {p} {}", alter.text),
        )?;
        crate::triggers::preflight(conn, server, names, triggers, &names.probe)
    })
}

pub fn col_desc(c: &Column) -> String {
    let mut s = c.column_type.clone();
    if let Some(cs) = &c.collation {
        s.push_str(&format!(" {cs}"));
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    s
}

/// The probe, then the guards. `create` is the original's `SHOW CREATE
/// TABLE`. A change the server makes with `ALGORITHM=INSTANT` (and no
/// `--force-copy`) is planned whatever the table has: the guards of the
/// copy (a key to walk, no self-reference, ...) apply only to a copy.
pub fn plan(
    conn: &mut Conn,
    server: &Server,
    cfg: &Config,
    names: &Names,
    table: &Table,
    create: &str,
    shadow: Option<Table>,
) -> Result<Plan> {
    let alter = &cfg.alter;
    base_table_guards(table)?;
    // Resuming: the shadow table is the ALTER's result already.
    let (instant, nocopy, new_table) = match shadow {
        Some(t) => (false, false, t),
        None => probe(conn, server, names, alter, create)?,
    };
    let user_triggers = crate::triggers::of_user(table, names);
    if instant && !cfg.force_copy {
        let (pairs, changed) = map_columns(alter, table, &new_table, None)?;
        return Ok(Plan {
            hash: Function::Sha1.on(server),
            instant,
            nocopy,
            key: table.best_key().cloned().unwrap_or_else(no_key),
            pairs,
            guards: Vec::new(),
            changed,
            children: Vec::new(),
            user_triggers,
            new_table,
        });
    }
    let key = copy_key(table)?;
    let (pairs, changed) = map_columns(alter, table, &new_table, Some(&key))?;
    let mut guards = unique_key_guards(conn, cfg, names, table, &new_table, &pairs)?;
    if !changed.is_empty() {
        guards.push(
            "column definitions change: every copied value is checked, and a value the new type would change (truncation, out of range) stops the run unless --allow-data-loss".to_string(),
        );
    }
    let children: Vec<String> = child_keys(table)
        .map(|f| format!("{}.{} ({})", f.db, f.table, f.name))
        .collect();
    if !children.is_empty() {
        guards.push(format!(
            "child tables reference this table: {}; their constraints are re-pointed after the swap",
            children.join(", ")
        ));
    }
    if !user_triggers.is_empty() {
        guards.push(format!(
            "the table's triggers ({}) stay on it during the copy and move to the new table inside the swap's locked window",
            user_triggers
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Plan {
        hash: Function::Sha1.on(server),
        instant,
        nocopy,
        key,
        pairs,
        guards,
        changed,
        children,
        user_triggers,
        new_table,
    })
}

/// The key of an instant plan on a table without one (never walked).
fn no_key() -> Index {
    Index {
        name: String::new(),
        unique: false,
        primary: false,
        columns: Vec::new(),
        kind: IndexKind::Btree,
        nullable: true,
    }
}

/// The foreign keys of other tables that reference `table` (its
/// children; a self-reference is refused by the guards).
pub fn child_keys(table: &Table) -> impl Iterator<Item = &ForeignKey> {
    table
        .referenced_by
        .iter()
        .filter(|f| !(f.db == table.db && f.table == table.name))
}

/// What no plan can change: a base InnoDB table.
fn base_table_guards(table: &Table) -> Result<()> {
    if table.kind != oxkit::schema::TableKind::Base {
        return Err(refuse(format!(
            "{} is a {}, not a base table",
            table.full_name(),
            table.kind
        )));
    }
    if !table
        .engine
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("InnoDB"))
    {
        return Err(refuse(format!(
            "{} uses the {} engine; only InnoDB tables can be changed online",
            table.full_name(),
            table.engine.as_deref().unwrap_or("unknown")
        )));
    }
    Ok(())
}

/// The guards of a copy; returns the key the copy walks. (The user's
/// triggers are the capture method's business: see
/// [`crate::engine`]'s method choice.)
pub fn copy_key(table: &Table) -> Result<Index> {
    let key = match table.best_key() {
        Some(k) if !k.nullable => k.clone(),
        _ => {
            return Err(refuse(format!(
                "{} has no primary key or unique key over NOT NULL columns: rows cannot be matched between the table and its copy",
                table.full_name()
            )))
        }
    };
    if table
        .foreign_keys
        .iter()
        .any(|f| f.parent_db == table.db && f.parent_table == table.name)
    {
        return Err(refuse(format!(
            "{} has a foreign key that references itself",
            table.full_name()
        )));
    }
    Ok(key)
}

/// `(old, new)` column pairs holding the same data, and the changed
/// definitions; refuses a column that disappears without a DROP and a key
/// column the ALTER drops or renames.
pub fn map_columns(
    alter: &Alter,
    table: &Table,
    new_table: &Table,
    key: Option<&Index>,
) -> Result<(ColumnPairs, Vec<String>)> {
    let mut pairs = Vec::new();
    let mut changed = Vec::new();
    for old in table.data_columns() {
        let new_name = alter.new_name(&old.name);
        match new_table
            .column(new_name)
            .filter(|c| c.generated.is_none())
        {
            Some(new) => {
                if col_desc(old) != col_desc(new) || old.name != new.name {
                    changed.push(format!(
                        "{}: {} -> {}{}",
                        old.name,
                        col_desc(old),
                        if old.name != new.name {
                            format!("{} ", new.name)
                        } else {
                            String::new()
                        },
                        col_desc(new)
                    ));
                }
                pairs.push((old.clone(), new.clone()));
            }
            None if alter.drops_column(&old.name) => {}
            None => {
                return Err(refuse(format!(
                    "column {} is not in the table after the ALTER, but no DROP COLUMN names it (renamed? use CHANGE old new ...)",
                    old.name
                )))
            }
        }
    }
    for kc in key.iter().flat_map(|k| k.column_names()) {
        let ok = pairs
            .iter()
            .any(|(o, n)| o.name.eq_ignore_ascii_case(kc) && n.name.eq_ignore_ascii_case(kc));
        if !ok {
            return Err(refuse(format!(
                "the ALTER drops or renames key column {kc} of key {}, which the copy matches rows by",
                key.map(|k| k.name.as_str()).unwrap_or_default()
            )));
        }
    }
    Ok((pairs, changed))
}

/// New unique keys over duplicated values would silently drop rows: each
/// new one over existing columns is looked for duplicates (refused unless
/// `--allow-data-loss`); returns the guards to show.
fn unique_key_guards(
    conn: &mut Conn,
    cfg: &Config,
    names: &Names,
    table: &Table,
    new_table: &Table,
    pairs: &[(Column, Column)],
) -> Result<Vec<String>> {
    let mut guards = Vec::new();
    let old_name = |new: &str| -> Option<String> {
        pairs
            .iter()
            .find(|(_, n)| n.name.eq_ignore_ascii_case(new))
            .map(|(o, _)| o.name.clone())
    };
    for idx in new_table.indexes.iter().filter(|i| i.unique) {
        let mapped: Option<Vec<(String, Option<u32>)>> = idx
            .columns
            .iter()
            .map(|c| old_name(&c.name).map(|o| (o, c.sub_part)))
            .collect();
        let Some(mapped) = mapped else {
            guards.push(format!(
                "unique key {} covers a new column: rows with equal values there are dropped by the copy; the checksum refuses the swap if any are",
                idx.name
            ));
            continue;
        };
        let existing = table.indexes.iter().any(|o| {
            o.unique
                && o.columns.len() == mapped.len()
                && o.columns.iter().zip(&mapped).all(|(a, (b, p))| {
                    a.name.eq_ignore_ascii_case(b) && (a.sub_part.is_none() || a.sub_part == *p)
                })
        });
        if existing {
            continue;
        }
        let exprs: Vec<String> = mapped
            .iter()
            .map(|(c, p)| match p {
                Some(n) => format!("LEFT({}, {n})", quote_ident(c)),
                None => quote_ident(c),
            })
            .collect();
        let not_null: Vec<String> = mapped
            .iter()
            .map(|(c, _)| format!("{} IS NOT NULL", quote_ident(c)))
            .collect();
        let sql = format!(
            "SELECT {} FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1 LIMIT 1",
            exprs.join(", "),
            names.q(&names.table),
            not_null.join(" AND "),
            exprs.join(", ")
        );
        let dup: Option<mysql::Row> =
            conn.row("looking for duplicates of a new unique key", &sql)?;
        if dup.is_some() {
            let cols: Vec<&str> = mapped.iter().map(|(c, _)| c.as_str()).collect();
            let msg = format!(
                "the new unique key {} over ({}) has duplicate values in the table; the copy would keep one row of each and drop the others",
                idx.name,
                quote_idents(&cols)
            );
            if !cfg.allow_data_loss {
                return Err(refuse(format!("{msg} (--allow-data-loss allows it)")));
            }
            guards.push(msg);
        }
    }
    Ok(guards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_renames_table_and_foreign_keys() {
        let create = "CREATE TABLE `c``t` (\n  `id` int(11) NOT NULL,\n  `pid` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  CONSTRAINT `fk` FOREIGN KEY (`pid`) REFERENCES `p` (`id`),\n  CONSTRAINT `_fk2` FOREIGN KEY (`pid`) REFERENCES `p` (`id`),\n  CONSTRAINT `chk` CHECK (`id` > 0)\n) ENGINE=InnoDB";
        let out = clone_sql(create, "`d`.`_c``t_new`").expect("clone");
        assert!(
            out.starts_with("CREATE TABLE `d`.`_c``t_new` (\n  `id`"),
            "{out}"
        );
        assert!(
            out.contains("CONSTRAINT `_fk` FOREIGN KEY (`pid`)"),
            "{out}"
        );
        assert!(out.contains("CONSTRAINT `fk2` FOREIGN KEY"), "{out}");
        assert!(out.contains("CONSTRAINT `chk` CHECK"), "{out}");
        assert!(out.ends_with(") ENGINE=InnoDB"));
        assert_eq!(toggle_fk_name("_"), "__");
    }
}
