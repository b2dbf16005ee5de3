//! The one place SQL text is assembled from names and values.
//!
//! [`quote_ident`] quotes identifiers with backticks; [`quote_value`] renders
//! a value as a literal that means the same thing whatever the session's
//! `sql_mode` (`ANSI_QUOTES`, `NO_BACKSLASH_ESCAPES`): strings that hold a
//! backslash, a quote-like control character or invalid UTF-8 are written as
//! hex literals, so replayable SQL printed by a tool applies the same on any
//! server. Prefer bound parameters; use these where SQL must be text
//! (`--print`, DDL, `SHOW` statements that take no parameters).

use mysql::Value;

/// Keeps a read out of MariaDB's query cache: an executable comment only
/// MariaDB runs (`/*M!`), so MySQL 8+, which has no query cache and warns
/// about `SQL_NO_CACHE` (1681), never sees it.
pub const NO_CACHE: &str = "/*M!100000 SQL_NO_CACHE */";

/// Quotes one identifier: `` `a``b` `` for ``a`b``. Works for any Unicode name.
pub fn quote_ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('`');
    for c in name.chars() {
        if c == '`' {
            s.push('`');
        }
        s.push(c);
    }
    s.push('`');
    s
}

/// Quotes `db`.`table`.
pub fn quote_table(db: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(db), quote_ident(table))
}

/// A comma-separated list of quoted identifiers.
pub fn quote_idents<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| quote_ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quotes a string as a utf8mb4 literal that is read the same under every
/// `sql_mode`.
pub fn quote_str(s: &str) -> String {
    let plain = s
        .chars()
        .all(|c| c != '\\' && c != '\'' && c != '"' && !c.is_control());
    if plain {
        format!("'{s}'")
    } else if s.is_empty() {
        "''".to_string()
    } else {
        format!("_utf8mb4 X'{}'", crate::hex::encode_upper(s.as_bytes()))
    }
}

/// Quotes raw bytes: a utf8mb4 string literal when they are UTF-8, otherwise a
/// binary hex literal.
pub fn quote_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => quote_str(s),
        Err(_) => format!("X'{}'", crate::hex::encode_upper(b)),
    }
}

/// Quotes bytes as a binary string (`_binary X'..'`, or `''`), for BINARY,
/// VARBINARY and BLOB columns whose bytes must not be read through a charset.
pub fn quote_binary(b: &[u8]) -> String {
    if b.is_empty() {
        "_binary''".to_string()
    } else {
        format!("_binary X'{}'", crate::hex::encode_upper(b))
    }
}

/// Renders any value from the client library as an SQL literal.
pub fn quote_value(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".to_string(),
        Value::Bytes(b) => quote_bytes(b),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Double(d) => format!("{d:?}"),
        Value::Date(y, m, d, h, mi, s, us) => {
            if *us > 0 {
                format!("'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}'")
            } else {
                format!("'{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}'")
            }
        }
        Value::Time(neg, days, h, mi, s, us) => {
            let sign = if *neg { "-" } else { "" };
            let hours = u64::from(*days) * 24 + u64::from(*h);
            if *us > 0 {
                format!("'{sign}{hours:02}:{mi:02}:{s:02}.{us:06}'")
            } else {
                format!("'{sign}{hours:02}:{mi:02}:{s:02}'")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert_eq!(quote_ident("t"), "`t`");
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("``"), "``````");
        assert_eq!(quote_ident("my table"), "`my table`");
        assert_eq!(quote_ident("a.b"), "`a.b`");
        assert_eq!(quote_ident("naïve 🐬"), "`naïve 🐬`");
        assert_eq!(quote_table("d b", "t`"), "`d b`.`t```");
        assert_eq!(quote_idents(&["a", "b c"]), "`a`, `b c`");
    }

    #[test]
    fn values() {
        assert_eq!(quote_value(&Value::NULL), "NULL");
        assert_eq!(quote_value(&Value::Int(-5)), "-5");
        assert_eq!(quote_value(&Value::UInt(u64::MAX)), "18446744073709551615");
        assert_eq!(quote_value(&Value::Bytes(b"abc".to_vec())), "'abc'");
        assert_eq!(quote_value(&Value::Bytes(b"".to_vec())), "''");
        assert_eq!(
            quote_value(&Value::Bytes(b"it's".to_vec())),
            "_utf8mb4 X'69742773'"
        );
        assert_eq!(
            quote_value(&Value::Bytes(b"a\\b".to_vec())),
            "_utf8mb4 X'615C62'"
        );
        assert_eq!(quote_value(&Value::Bytes(vec![0xff, 0x00])), "X'FF00'");
        assert_eq!(quote_value(&Value::Bytes("é".as_bytes().to_vec())), "'é'");
        assert_eq!(
            quote_value(&Value::Date(2024, 2, 29, 23, 59, 1, 5)),
            "'2024-02-29 23:59:01.000005'"
        );
        assert_eq!(
            quote_value(&Value::Time(true, 1, 2, 3, 4, 0)),
            "'-26:03:04'"
        );
        assert_eq!(quote_binary(b"\x00a"), "_binary X'0061'");
        assert_eq!(quote_value(&Value::Double(0.1)), "0.1");
    }
}
