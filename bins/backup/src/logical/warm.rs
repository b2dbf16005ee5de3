//! The buffer pool's page list of a logical set (buffer_pool.json): which
//! indexes were cached on the source at backup time, hottest first, so
//! `restore --warm-up` can read them and the restored server starts warm.
//! Reading the list needs PROCESS; a backup without it only records a
//! warning.

use crate::crypt::Key;
use crate::manifest::{Manifest, TableEntry};
use crate::repo::Repo;
use anyhow::Result;
use oxkit::conn::Conn;
use oxkit::schema::Table;
use oxkit::sql::{quote_ident, quote_table};
use serde::{Deserialize, Serialize};

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

/// Reads the source's page list by index (`INNODB_BUFFER_PAGE_LRU`) for
/// `tables`, hottest first.
pub fn page_list(conn: &mut Conn, tables: &[Table]) -> Result<Vec<HotIndex>> {
    let rows = conn.rows::<(Option<String>, Option<String>, u64)>(
        "reading the buffer pool's page list",
        "SELECT TABLE_NAME, INDEX_NAME, COUNT(*) FROM information_schema.INNODB_BUFFER_PAGE_LRU \
         WHERE TABLE_NAME IS NOT NULL GROUP BY TABLE_NAME, INDEX_NAME ORDER BY 3 DESC",
    )?;
    let hot = rows
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
    Ok(hot)
}

/// Reads the indexes listed in the set's buffer pool page list, hottest
/// first, so the restored server starts with them cached.
pub fn warm_up(
    c: &mut Conn,
    repo: &Repo,
    m: &Manifest,
    key: Option<&Key>,
    tables: &[&TableEntry],
    warnings: &mut Vec<String>,
) -> Result<()> {
    let rel = buffer_pool_path(key.is_some());
    if m.file(&rel).is_none() {
        warnings.push(format!(
            "backup {} has no buffer pool page list: no warm-up",
            m.id
        ));
        return Ok(());
    }
    let bytes = repo.read_all(m, &rel, key)?;
    let hot: Vec<HotIndex> = serde_json::from_slice(&bytes)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn innodb_names() {
        assert_eq!(
            split_innodb_name("`a`.`b``c`"),
            Some(("a".to_string(), "b`c".to_string()))
        );
        assert_eq!(split_innodb_name("`SYS_TABLES`"), None);
    }
}
