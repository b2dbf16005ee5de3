//! The checkpoint: one row in `_<table>_osc`, next to the original table.
//!
//! A table rather than a file because it lives where the shadow table and
//! the triggers live: whoever can see the leftovers of a killed run (on
//! that server, from any host) can see how far it got, and it is dropped
//! with them. It records the ALTER (a resume with another ALTER is
//! refused), the phase, and the upper key of the last chunk copied, each
//! key part hex-encoded (so any key type round-trips), `null` for NULL.

use crate::names::Names;
use crate::Method;
use anyhow::{Context as _, Result};
use oxkit::binlog::Position;
use oxkit::conn::Conn;
use oxkit::nibble::KeyValue;
use oxkit::sql::quote_str;

/// The server-side lock that makes one run per table: a named lock
/// (`GET_LOCK`) held by a connection of its own for the whole run, so a
/// second run on the table, a `--resume` of a run that is still alive, or
/// a dry run that would reuse the probe table's name is refused (exit 2)
/// instead of attaching to the live run and, on its Ctrl-C, dropping the
/// live run's shadow table. The server frees the lock when the holder's
/// connection ends, also when the run is killed, so a `--resume` after a
/// kill -9 finds it free.
pub struct RunLock {
    _conn: Conn,
}

impl RunLock {
    /// The lock's name: `oxkit-osc:db.table`, or a hash of it past the
    /// 64 characters MySQL allows.
    pub fn name(db: &str, table: &str) -> String {
        let full = format!("oxkit-osc:{db}.{table}");
        if full.chars().count() <= 64 {
            return full;
        }
        // FNV-1a: stable across versions and platforms, no dependency.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in full.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        let head: String = table.chars().take(36).collect();
        format!("oxkit-osc:{h:016x}:{head}")
    }

    /// Takes the lock for `names` on `conn` (which then belongs to the
    /// lock), without waiting. Another holder is an
    /// [`ExitError`](oxkit::entry::ExitError) with exit 2 naming the
    /// connection that holds it.
    pub fn take(mut conn: Conn, names: &Names) -> Result<RunLock> {
        let name = RunLock::name(&names.db, &names.table);
        // The holder sits idle for the whole run: keep the server from
        // ending it (and freeing the lock) after wait_timeout.
        conn.run(
            "keeping the run lock's session alive",
            "SET SESSION wait_timeout = 31536000",
        )?;
        let got: Option<Option<i64>> = conn.row(
            "taking the run lock",
            &format!("SELECT GET_LOCK({}, 0)", quote_str(&name)),
        )?;
        if got.flatten() == Some(1) {
            return Ok(RunLock { _conn: conn });
        }
        let holder: Option<Option<u64>> = conn.row(
            "reading the run lock's holder",
            &format!("SELECT IS_USED_LOCK({})", quote_str(&name)),
        )?;
        let holder = holder
            .flatten()
            .map(|id| format!("server connection {id}"))
            .unwrap_or_else(|| "another session".into());
        Err(oxkit::entry::ExitError {
            exit: oxkit::Exit::ALREADY_RUNNING,
            message: format!(
                "another ox-online-schema-change is working on {}.{} ({holder} holds the lock {name:?}); \
                 wait for it to finish or stop it first (a --resume is for a run that is no longer alive)",
                names.db, names.table
            ),
        }
        .into())
    }
}

/// How far a run got: the checkpoint's `phase` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Checkpoint, shadow table and triggers being created: nothing to resume.
    Init,
    /// Copying chunks.
    Copying,
    /// Comparing the original with the shadow.
    Checksum,
    /// Copied and in sync, waiting for `--postpone-cut-over`'s file to go.
    Postponed,
    /// Swapping the tables.
    Cutover,
    /// Swapped with `--keep-old-table`: the original is kept (as `_t_old`)
    /// and the binary log position says up to where the new table's
    /// changes are applied to it (see [`crate::keep`]).
    Kept,
}

impl Phase {
    const ALL: [Phase; 6] = [
        Phase::Init,
        Phase::Copying,
        Phase::Checksum,
        Phase::Postponed,
        Phase::Cutover,
        Phase::Kept,
    ];

    /// The spelling in the checkpoint row (read by scripts and tests: keep it).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Copying => "copying",
            Phase::Checksum => "checksum",
            Phase::Postponed => "postponed",
            Phase::Cutover => "cutover",
            Phase::Kept => "kept",
        }
    }

    fn from_name(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// What the checkpoint row holds.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// The ALTER of the run.
    pub alter: String,
    /// How far the run got.
    pub phase: Phase,
    /// Last chunk number copied (0: none).
    pub chunk: u32,
    /// Its upper key; `None` when it was open (the copy is complete) or none copied.
    pub upper: Option<KeyValue>,
    /// The last chunk's upper bound was exclusive (the chunk below the first key).
    pub upper_excl: bool,
    /// Rows copied so far.
    pub rows: u64,
    /// How the run captures changes.
    pub method: Method,
    /// Binary log capture: the position up to which changes are applied.
    pub binlog: Option<Position>,
}

/// Encodes a key value as JSON text.
pub fn encode_key(k: &KeyValue) -> String {
    let parts: Vec<serde_json::Value> = k
        .iter()
        .map(|p| match p {
            None => serde_json::Value::Null,
            Some(b) => serde_json::Value::String(oxkit::hex::encode(b)),
        })
        .collect();
    serde_json::Value::Array(parts).to_string()
}

/// Decodes [`encode_key`].
pub fn decode_key(s: &str) -> Option<KeyValue> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    v.as_array()?
        .iter()
        .map(|p| match p {
            serde_json::Value::Null => Some(None),
            serde_json::Value::String(h) => oxkit::hex::decode(h).map(Some),
            _ => None,
        })
        .collect()
}

/// Creates the checkpoint table with its row (phase `init`).
pub fn create(
    conn: &mut Conn,
    n: &Names,
    alter: &str,
    method: Method,
    binlog: Option<&Position>,
) -> Result<()> {
    let t = n.q(&n.state);
    conn.run(
        "creating the checkpoint table",
        &format!(
            "CREATE TABLE {t} (id TINYINT UNSIGNED NOT NULL PRIMARY KEY, alter_text LONGTEXT NOT NULL, \
             phase VARCHAR(16) NOT NULL, chunk INT UNSIGNED NOT NULL DEFAULT 0, upper_key LONGTEXT NULL, \
             upper_excl TINYINT NOT NULL DEFAULT 0, rows_copied BIGINT UNSIGNED NOT NULL DEFAULT 0, \
             method VARCHAR(16) NOT NULL DEFAULT 'triggers', binlog_file VARCHAR(512) NULL, binlog_pos BIGINT UNSIGNED NULL, \
             updated TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) ENGINE=InnoDB"
        ),
    )?;
    conn.run(
        "writing the checkpoint",
        &format!(
            "INSERT INTO {t} (id, alter_text, phase, method, binlog_file, binlog_pos) VALUES (1, {}, {}, {}, {})",
            quote_str(alter),
            quote_str(Phase::Init.name()),
            quote_str(method.name()),
            binlog_sql(binlog)
        ),
    )?;
    Ok(())
}

/// Sets the phase.
pub fn set_phase(conn: &mut Conn, n: &Names, phase: Phase) -> Result<()> {
    conn.run(
        "writing the checkpoint",
        &format!(
            "UPDATE {} SET phase = {} WHERE id = 1",
            n.q(&n.state),
            quote_str(phase.name())
        ),
    )?;
    Ok(())
}

fn binlog_sql(p: Option<&Position>) -> String {
    match p {
        Some(p) => format!("{}, {}", quote_str(&p.file), p.pos),
        None => "NULL, NULL".to_string(),
    }
}

/// Records the binary log position up to which changes are applied.
pub fn save_binlog(conn: &mut Conn, n: &Names, p: &Position) -> Result<()> {
    conn.run(
        "writing the checkpoint",
        &format!(
            "UPDATE {} SET binlog_file = {}, binlog_pos = {} WHERE id = 1",
            n.q(&n.state),
            quote_str(&p.file),
            p.pos
        ),
    )?;
    Ok(())
}

/// Phase `kept` from position `p`: the swap is done and the original is
/// kept in sync with the new table's changes from there on.
pub fn set_kept(conn: &mut Conn, n: &Names, p: &Position) -> Result<()> {
    conn.run(
        "writing the checkpoint",
        &format!(
            "UPDATE {} SET phase = {}, binlog_file = {}, binlog_pos = {} WHERE id = 1",
            n.q(&n.state),
            quote_str(Phase::Kept.name()),
            quote_str(&p.file),
            p.pos
        ),
    )?;
    Ok(())
}

/// Records chunk `number` (upper bound `upper`, exclusive or not) as copied.
pub fn save_chunk(
    conn: &mut Conn,
    n: &Names,
    number: u32,
    upper: Option<&KeyValue>,
    excl: bool,
    rows: u64,
) -> Result<()> {
    let key = upper
        .map(|k| quote_str(&encode_key(k)))
        .unwrap_or_else(|| "NULL".to_string());
    conn.run(
        "writing the checkpoint",
        &format!(
            "UPDATE {} SET chunk = {number}, upper_key = {key}, upper_excl = {}, rows_copied = {rows} WHERE id = 1",
            n.q(&n.state),
            u8::from(excl)
        ),
    )?;
    Ok(())
}

/// Reads the checkpoint; `None` when the table or its row is missing.
pub fn load(conn: &mut Conn, n: &Names) -> Result<Option<Checkpoint>> {
    type Row = (
        String,
        String,
        u32,
        Option<String>,
        u8,
        u64,
        String,
        Option<String>,
        Option<u64>,
    );
    let row: Option<Row> = conn
        .row(
            "reading the checkpoint",
            &format!(
                "SELECT alter_text, phase, chunk, upper_key, upper_excl, rows_copied, method, binlog_file, binlog_pos FROM {} WHERE id = 1",
                n.q(&n.state)
            ),
        )
        .ok()
        .flatten();
    let Some((alter, phase, chunk, upper, excl, rows, method, file, pos)) = row else {
        return Ok(None);
    };
    let upper = match upper {
        None => None,
        Some(s) => Some(decode_key(&s).context("the checkpoint's key is unreadable")?),
    };
    let phase = Phase::from_name(&phase).with_context(|| {
        format!("the checkpoint's phase {phase:?} is not one this version writes")
    })?;
    let method = Method::from_name(&method).with_context(|| {
        format!("the checkpoint's method {method:?} is not one this version writes")
    })?;
    Ok(Some(Checkpoint {
        alter,
        phase,
        chunk,
        upper,
        upper_excl: excl != 0,
        rows,
        method,
        binlog: match (file, pos) {
            (Some(file), Some(pos)) => Some(Position { file, pos }),
            _ => None,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let k: KeyValue = vec![Some(b"12".to_vec()), None, Some(vec![0, 0xff, b','])];
        let s = encode_key(&k);
        assert_eq!(s, r#"["3132",null,"00ff2c"]"#);
        assert_eq!(decode_key(&s), Some(k));
        assert_eq!(decode_key("[1]"), None);
        assert_eq!(decode_key("[\"0\"]"), None);
    }

    #[test]
    fn phases_round_trip() {
        for p in Phase::ALL {
            assert_eq!(Phase::from_name(p.name()), Some(p));
        }
        assert_eq!(Phase::Init.name(), "init");
        assert_eq!(Phase::from_name("Copying"), None);
    }
}
