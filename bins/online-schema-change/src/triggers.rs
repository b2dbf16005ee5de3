//! The user's triggers, moved from the original table to the shadow at
//! the binary log swap.
//!
//! With binary log capture the tool puts no triggers of its own on the
//! table, so the user's triggers can follow the data: they stay on the
//! original for the whole copy, and move to the shadow inside the swap's
//! locked window ([`crate::cutover`]), in this order:
//!
//! 1. writes to the original are stopped by `LOCK TABLES ... WRITE` (every
//!    transaction that wrote it has committed: it kept its metadata lock
//!    until then), and the capture has applied every change up to the
//!    binary log's end;
//! 2. the triggers are read again (`information_schema.TRIGGERS`, which a
//!    session may read under `LOCK TABLES` without locking it), dropped
//!    from the original and created on the shadow in `ACTION_ORDER` (a
//!    trigger created later runs after those of the same timing and event,
//!    so the order is kept without FOLLOWS), each under the `sql_mode`,
//!    `character_set_client` and `collation_connection` it was created
//!    with, with its `DEFINER`;
//! 3. the rename makes the shadow the table, and the locks go.
//!
//! Why no write escapes the triggers and none fires them twice: every
//! write before step 1 ran on the original with its triggers, and their
//! effects on other tables are committed there (the capture applies only
//! this table's row events to the shadow, which carries no triggers while
//! it does, so nothing fires again); between 1 and 3 nobody but the swap's
//! session writes the table; after 3 every write opens the new table,
//! which has the triggers. `CREATE`/`DROP TRIGGER` are allowed under
//! `LOCK TABLES` on a table locked `WRITE` (MariaDB `sql_trigger.cc`
//! `mysql_create_or_drop_trigger`, MySQL `sql_cmd_ddl_trigger.cc`
//! `open_and_lock_subj_table`: "Under LOCK TABLES we must only accept
//! write locked tables"); they upgrade the lock to exclusive and downgrade
//! it again, and their implicit commit does not end `LOCK TABLES`.
//!
//! When anything fails before the rename the triggers are put back on the
//! original while the table is still locked ([`put_back`]), and the swap
//! says so. Triggers are not transactional: only if the locking session
//! itself is lost between 2 and 3 is the original left without them for
//! the moment it takes to put them back (said on stderr as an error).

use crate::names::Names;
use crate::plan::refuse;
use anyhow::{Context as _, Result};
use oxkit::conn::{Conn, ErrorKind};
use oxkit::schema::{load_table_without_children, Table, Trigger};
use oxkit::server::{Flavor, Server};
use oxkit::sql::{quote_ident, quote_str};

/// The triggers of `table` that are not the tool's own (trigger capture's),
/// in creation order: by timing and event, then `ACTION_ORDER`.
pub fn of_user(table: &Table, n: &Names) -> Vec<Trigger> {
    let mut v: Vec<Trigger> = table
        .triggers
        .iter()
        .filter(|t| !n.triggers.contains(&t.name))
        .cloned()
        .collect();
    v.sort_by(|a, b| (&a.timing, &a.event, a.order).cmp(&(&b.timing, &b.event, b.order)));
    v
}

/// The user's triggers on `db`.`table_name` as the server has them now.
pub fn read(conn: &mut Conn, n: &Names, table_name: &str) -> Result<Vec<Trigger>> {
    let t = load_table_without_children(conn, &n.db, table_name)
        .with_context(|| format!("reading the triggers of {}.{table_name}", n.db))?;
    Ok(of_user(&t, n))
}

/// `DEFINER=user@host` as SQL (a definer without `@` is a role).
fn definer_sql(definer: &str) -> String {
    match definer.rsplit_once('@') {
        Some((user, host)) => format!("{}@{}", quote_ident(user), quote_ident(host)),
        None => quote_ident(definer),
    }
}

/// The `CREATE TRIGGER` of `t`, named `name`, on `on` (a table of the
/// schema).
pub fn create_sql(n: &Names, t: &Trigger, name: &str, on: &str) -> String {
    format!(
        "CREATE DEFINER={} TRIGGER {} {} {} ON {} FOR EACH ROW {}",
        definer_sql(&t.definer),
        n.q(name),
        keyword(&t.timing),
        keyword(&t.event),
        n.q(on),
        t.statement
    )
}

/// The timing or event keyword, from a closed set.
fn keyword(s: &str) -> &'static str {
    match s.to_ascii_uppercase().as_str() {
        "BEFORE" => "BEFORE",
        "AFTER" => "AFTER",
        "INSERT" => "INSERT",
        "UPDATE" => "UPDATE",
        _ => "DELETE",
    }
}

/// Why `t` cannot be recreated exactly by this tool, if it cannot: its
/// body is sent as UTF-8, so a body with non-ASCII text written under
/// another client character set would change meaning.
pub fn unfaithful(t: &Trigger) -> Option<String> {
    let cs = t.character_set_client.to_ascii_lowercase();
    if !t.statement.is_ascii() && !cs.starts_with("utf8") {
        return Some(format!(
            "trigger {} was created with character_set_client {} and its body holds non-ASCII text, which this tool cannot recreate byte for byte",
            t.name, t.character_set_client
        ));
    }
    if !matches!(t.timing.to_ascii_uppercase().as_str(), "BEFORE" | "AFTER")
        || !matches!(
            t.event.to_ascii_uppercase().as_str(),
            "INSERT" | "UPDATE" | "DELETE"
        )
    {
        return Some(format!(
            "trigger {} has an unknown timing or event ({} {})",
            t.name, t.timing, t.event
        ));
    }
    None
}

/// Creates `t` as `name` on `on`, under the session settings it was
/// created with; the session's own are restored afterwards.
pub fn create(conn: &mut Conn, n: &Names, t: &Trigger, name: &str, on: &str) -> Result<()> {
    let saved: Option<(String, String, String)> = conn.row(
        "reading the session settings",
        "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection",
    )?;
    let set = |mode: &str, cs: &str, coll: &str| {
        format!(
            "SET SESSION sql_mode = {}, SESSION character_set_client = {}, SESSION collation_connection = {}",
            quote_str(mode),
            quote_str(cs),
            quote_str(coll)
        )
    };
    conn.run(
        "setting the trigger's session settings",
        &set(
            &t.sql_mode,
            &t.character_set_client,
            &t.collation_connection,
        ),
    )?;
    let r = conn.run(
        &format!("creating trigger {}", t.name),
        &create_sql(n, t, name, on),
    );
    if let Some((mode, cs, coll)) = saved {
        conn.run("restoring the session settings", &set(&mode, &cs, &coll))?;
    }
    r?;
    Ok(())
}

/// Drops `triggers` (wherever they are) and creates them on `on`, in
/// order.
fn recreate_on(conn: &mut Conn, n: &Names, triggers: &[Trigger], on: &str) -> Result<()> {
    for t in triggers {
        conn.run(
            "dropping a trigger",
            &format!("DROP TRIGGER IF EXISTS {}", n.q(&t.name)),
        )?;
    }
    for t in triggers {
        create(conn, n, t, &t.name, on)?;
    }
    Ok(())
}

/// Step 2 of the module comment, on the session holding the write locks
/// on the original and on `shadow`: `Ok(Ok(moved))` (empty: nothing to
/// do); `Ok(Err(why))` when they could not be moved and are back on the
/// original (the swap may be tried again); `Err` when they could not be
/// put back either (the run must stop: the cleanup tries again).
pub fn move_to_shadow(
    conn: &mut Conn,
    n: &Names,
    shadow: &str,
) -> Result<Result<Vec<Trigger>, anyhow::Error>> {
    let triggers = match read(conn, n, &n.table) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    if triggers.is_empty() {
        return Ok(Ok(triggers));
    }
    if let Some(why) = triggers.iter().find_map(unfaithful) {
        return Ok(Err(refuse(why)));
    }
    if let Err(e) = recreate_on(conn, n, &triggers, shadow) {
        put_back(conn, n, &triggers)?;
        return Ok(Err(e.context("moving the triggers to the new table")));
    }
    log::info!("moved the triggers to the new table: {}", names(&triggers));
    Ok(Ok(triggers))
}

/// Puts `triggers` back on the original (after a failure before the
/// rename); says what it did, and what to do by hand when it fails.
pub fn put_back(conn: &mut Conn, n: &Names, triggers: &[Trigger]) -> Result<()> {
    if triggers.is_empty() {
        return Ok(());
    }
    match recreate_on(conn, n, triggers, &n.table) {
        Ok(()) => {
            log::warn!(
                "the triggers ({}) are back on {}.{}",
                names(triggers),
                n.db,
                n.table
            );
            Ok(())
        }
        Err(e) => Err(e.context(format!(
            "putting the triggers ({}) back on {}.{} failed; recreate them by hand (SHOW CREATE TRIGGER shows each one where it is now)",
            names(triggers),
            n.db,
            n.table
        ))),
    }
}

fn names(triggers: &[Trigger]) -> String {
    triggers
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The privilege that lets an account create an object with another
/// account as its definer.
pub fn definer_privilege(server: &Server) -> &'static str {
    if server.flavor == Flavor::MariaDB {
        "SET USER (or SUPER)"
    } else {
        "SET_ANY_DEFINER (or SET_USER_ID / SUPER before MySQL 8.2)"
    }
}

/// Before any copy: each trigger is created (under a scratch name) on
/// `probe`, an empty table the ALTER was applied to, exactly as the swap
/// will create it. This proves the account may give it its definer, and
/// that its body still compiles against the changed columns.
pub fn preflight(
    conn: &mut Conn,
    server: &Server,
    n: &Names,
    triggers: &[Trigger],
    probe: &str,
) -> Result<()> {
    for (i, t) in triggers.iter().enumerate() {
        if let Some(why) = unfaithful(t) {
            return Err(refuse(why));
        }
        let scratch = n.probe_trigger(i);
        let r = create(conn, n, t, &scratch, probe);
        let _ = conn.run(
            "dropping a probe trigger",
            &format!("DROP TRIGGER IF EXISTS {}", n.q(&scratch)),
        );
        if let Err(e) = r {
            // 1419: creating a trigger with binary logging on needs SUPER
            // or log_bin_trust_function_creators.
            let denied = e
                .downcast_ref::<oxkit::conn::DbError>()
                .is_some_and(|d| d.kind == ErrorKind::AccessDenied || d.code == Some(1419));
            return Err(if denied {
                refuse(format!(
                    "{}.{} has trigger {} (DEFINER {}), and this account may not recreate it on the new table as the swap must ({e:#}): it needs the TRIGGER privilege, {} to keep the definer, and with the binary log on SUPER or log_bin_trust_function_creators = 1",
                    n.db,
                    n.table,
                    t.name,
                    t.definer,
                    definer_privilege(server)
                ))
            } else {
                refuse(format!(
                    "trigger {} cannot be created on the changed table ({e}); change the trigger first",
                    t.name
                ))
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sql_keeps_definer_and_body() {
        let n = Names::new("d", "t").expect("names");
        let t = Trigger {
            name: "t_ai".into(),
            event: "INSERT".into(),
            timing: "AFTER".into(),
            statement: "BEGIN INSERT INTO x VALUES (NEW.id); END".into(),
            order: 1,
            definer: "a@b@localhost".into(),
            sql_mode: String::new(),
            character_set_client: "utf8mb4".into(),
            collation_connection: "utf8mb4_general_ci".into(),
        };
        assert_eq!(
            create_sql(&n, &t, "t_ai", "_t_new"),
            "CREATE DEFINER=`a@b`@`localhost` TRIGGER `d`.`t_ai` AFTER INSERT ON `d`.`_t_new` FOR EACH ROW BEGIN INSERT INTO x VALUES (NEW.id); END"
        );
        assert!(unfaithful(&t).is_none());
        let latin = Trigger {
            character_set_client: "latin1".into(),
            statement: "SET NEW.s = 'caf\u{e9}'".into(),
            ..t
        };
        assert!(unfaithful(&latin).is_some());
    }
}
