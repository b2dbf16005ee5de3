//! The names of everything the tool creates next to one table: the
//! shadow, the old table after the swap, the checkpoint, the probe, the
//! swap's sentry and the triggers. Every module that touches one of them
//! takes it from here, so a name is spelled once; the constructor refuses
//! a table whose helper names would not fit MySQL's 64 characters.

use anyhow::Result;
use oxkit::conn::Conn;
use oxkit::sql::{quote_str, quote_table};

/// Names of everything the tool creates for one table.
#[derive(Clone, Debug)]
pub struct Names {
    /// The schema.
    pub db: String,
    /// The original table.
    pub table: String,
    /// The shadow table (`_t_new`).
    pub shadow: String,
    /// The original after the swap (`_t_old`).
    pub old: String,
    /// The checkpoint table (`_t_osc`).
    pub state: String,
    /// The empty clone the planner tries the ALTER on (`_t_osc_probe`).
    pub probe: String,
    /// The cut-over sentry of binary log capture (`t_osc_del`); the
    /// original is renamed to it by the swap. Like [`Names::swap_shadow`]
    /// its name starts with the table's, so it sorts after it: see
    /// [`crate::cutover::binlog_swap`].
    pub del: String,
    /// The shadow's name during a binary log cut-over (`t_osc_new`).
    pub swap_shadow: String,
    /// The three triggers (insert, update, delete).
    pub triggers: [String; 3],
}

impl Names {
    /// Names for `db`.`table`; errors when one would exceed 64 characters.
    pub fn new(db: &str, table: &str) -> Result<Names> {
        let n = Names {
            db: db.to_string(),
            table: table.to_string(),
            shadow: format!("_{table}_new"),
            old: format!("_{table}_old"),
            state: format!("_{table}_osc"),
            probe: format!("_{table}_osc_probe"),
            del: format!("{table}_osc_del"),
            swap_shadow: format!("{table}_osc_new"),
            triggers: [
                format!("osc_{table}_ins"),
                format!("osc_{table}_upd"),
                format!("osc_{table}_del"),
            ],
        };
        let longest = [&n.probe, &n.triggers[0]]
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0);
        if longest > 64 {
            anyhow::bail!(
                "the table name {table:?} is too long for the helper names the tool needs (64 characters at most)"
            );
        }
        Ok(n)
    }

    /// The scratch name of the `i`th user trigger tried on the probe
    /// (`_t_osc_pt0`, shorter than the probe's name; trigger names are
    /// unique per schema, so the original's cannot be reused).
    pub fn probe_trigger(&self, i: usize) -> String {
        format!("_{}_osc_pt{i}", self.table)
    }

    /// Quoted `db`.`name`.
    pub fn q(&self, name: &str) -> String {
        quote_table(&self.db, name)
    }

    /// Whether the schema holds a table (or view) called `name`; `what`
    /// says why it is asked, for the error.
    pub fn exists(&self, conn: &mut Conn, what: &str, name: &str) -> Result<bool> {
        let n: Option<u64> = conn.row(
            what,
            &format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
                quote_str(&self.db),
                quote_str(name)
            ),
        )?;
        Ok(n.unwrap_or(0) > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_names() {
        let n = Names::new("d", "t").expect("names");
        assert_eq!(n.shadow, "_t_new");
        assert_eq!(n.q(&n.old), "`d`.`_t_old`");
        assert!(Names::new("d", &"x".repeat(60)).is_err());
    }
}
