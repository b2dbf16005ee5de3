//! Metadata of awkward tables, read from a real server.

use oxkit::conn::ErrorKind;
use oxkit::schema::{list_tables, load_schema, load_table, load_table_without_children};
use oxkit_harness::{exec, single};

const DDL: &str = r#"
CREATE DATABASE `wéird db`;
USE `wéird db`;
CREATE TABLE parent (
  a INT NOT NULL, `b c` VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  PRIMARY KEY (a, `b c`)
) ENGINE=InnoDB;
CREATE TABLE `child ✓` (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  pa INT, pb VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  e ENUM('x','y z') DEFAULT 'x', s SET('r','w'), j JSON, bl BLOB, d DECIMAL(20,6),
  dt DATETIME(6), bin VARBINARY(16), f DOUBLE,
  g INT AS (CHAR_LENGTH(e) * 2) VIRTUAL, gs VARCHAR(20) AS (UPPER(e)) STORED,
  KEY k_parent (pa, pb),
  CONSTRAINT fk_parent FOREIGN KEY (pa, pb) REFERENCES parent (a, `b c`) ON DELETE CASCADE ON UPDATE SET NULL
) ENGINE=InnoDB;
CREATE TABLE nopk (x INT, y TEXT) ENGINE=InnoDB;
CREATE TABLE nullable_uk (x INT NULL, y INT NOT NULL, UNIQUE KEY uk (x), KEY ky (y)) ENGINE=InnoDB;
CREATE TABLE uks (a INT NOT NULL, b INT NOT NULL, c INT NOT NULL, n INT NULL,
  UNIQUE KEY wide (a, b), UNIQUE KEY narrow (c), UNIQUE KEY nul (n)) ENGINE=InnoDB;
CREATE TABLE prefix_pk (t VARCHAR(200) NOT NULL, PRIMARY KEY (t(10))) ENGINE=InnoDB;
CREATE TABLE tree (id INT PRIMARY KEY, up INT, KEY (up),
  CONSTRAINT fk_up FOREIGN KEY (up) REFERENCES tree (id) ON DELETE CASCADE) ENGINE=InnoDB;
CREATE VIEW v_parent AS SELECT a FROM parent;
CREATE TRIGGER trg_bi BEFORE INSERT ON `child ✓` FOR EACH ROW SET NEW.f = 1.5;
INSERT INTO parent VALUES (1, 'ünï 🐬');
"#;

#[test]
fn awkward_tables() {
    let s = single().expect("sandbox");
    let mut c = s.connect().expect("connect");
    exec(&mut c, DDL).expect("ddl");

    let p = load_table(&mut c, "wéird db", "parent").expect("parent");
    let pk = p.primary_key().expect("pk");
    assert_eq!(pk.column_names(), ["a", "b c"]);
    assert_eq!(p.best_key().map(|k| k.name.as_str()), Some("PRIMARY"));
    assert_eq!(p.engine.as_deref(), Some("InnoDB"));
    assert_eq!(
        p.column("b c").and_then(|c| c.collation.as_deref()),
        Some("utf8mb4_bin")
    );
    assert_eq!(p.referenced_by.len(), 1);
    assert_eq!(p.referenced_by[0].table, "child ✓");
    assert!(p.foreign_keys.is_empty());

    let ch = load_table(&mut c, "wéird db", "child ✓").expect("child");
    let types: Vec<&str> = ch.columns.iter().map(|c| c.data_type.as_str()).collect();
    // MySQL has a JSON type; MariaDB's JSON is LONGTEXT with a check.
    let json = if oxkit_harness::flavour().is_mysql() {
        "json"
    } else {
        "longtext"
    };
    assert_eq!(
        types,
        [
            "bigint",
            "int",
            "varchar",
            "enum",
            "set",
            json,
            "blob",
            "decimal",
            "datetime",
            "varbinary",
            "double",
            "int",
            "varchar"
        ],
        "JSON is LONGTEXT with a check on MariaDB, its own type on MySQL"
    );
    assert_eq!(
        ch.column("e").map(|c| c.column_type.as_str()),
        Some("enum('x','y z')")
    );
    assert_eq!(
        ch.column("d").map(|c| c.column_type.as_str()),
        Some("decimal(20,6)")
    );
    assert_eq!(
        ch.column("dt").map(|c| c.column_type.as_str()),
        Some("datetime(6)")
    );
    assert!(ch
        .column("id")
        .is_some_and(|c| c.auto_increment && !c.nullable));
    assert!(ch
        .column("pa")
        .is_some_and(|c| c.nullable && c.generated.is_none()));
    assert!(ch.column("bin").is_some_and(|c| c.is_binary()));
    assert!(ch.column("bl").is_some_and(|c| c.is_binary()));
    assert!(ch.column("f").is_some_and(|c| c.is_float()));
    let g = ch
        .column("g")
        .and_then(|c| c.generated.clone())
        .expect("g generated");
    assert!(!g.stored && g.expression.contains("`e`"), "{g:?}");
    let gs = ch
        .column("gs")
        .and_then(|c| c.generated.clone())
        .expect("gs generated");
    assert!(gs.stored, "{gs:?}");
    assert_eq!(ch.data_columns().count(), 11);
    assert_eq!(ch.foreign_keys.len(), 1);
    let fk = &ch.foreign_keys[0];
    assert_eq!(fk.name, "fk_parent");
    assert_eq!(fk.columns, ["pa", "pb"]);
    assert_eq!(fk.parent_columns, ["a", "b c"]);
    assert_eq!(
        (fk.on_delete.as_str(), fk.on_update.as_str()),
        ("CASCADE", "SET NULL")
    );
    assert_eq!(ch.triggers.len(), 1);
    assert_eq!(
        (
            ch.triggers[0].timing.as_str(),
            ch.triggers[0].event.as_str()
        ),
        ("BEFORE", "INSERT")
    );
    let k = ch
        .indexes
        .iter()
        .find(|i| i.name == "k_parent")
        .expect("k_parent");
    assert!(!k.unique && k.nullable);

    let nopk = load_table(&mut c, "wéird db", "nopk").expect("nopk");
    assert!(nopk.primary_key().is_none() && nopk.best_key().is_none());

    let nu = load_table(&mut c, "wéird db", "nullable_uk").expect("nullable_uk");
    let best = nu
        .best_key()
        .expect("nullable unique key is still the best there is");
    assert_eq!(best.name, "uk");
    assert!(best.nullable && best.unique && !best.primary);

    let uks = load_table(&mut c, "wéird db", "uks").expect("uks");
    assert_eq!(uks.best_key().map(|k| k.name.as_str()), Some("narrow"));

    let pp = load_table(&mut c, "wéird db", "prefix_pk").expect("prefix_pk");
    assert_eq!(
        pp.primary_key().and_then(|k| k.columns[0].sub_part),
        Some(10)
    );
    assert!(pp.best_key().is_none(), "prefix keys cannot bound a walk");

    let err = load_table(&mut c, "wéird db", "missing").expect_err("missing");
    assert_eq!(err.kind, ErrorKind::UnknownTable);
    assert!(err.message.contains("wéird db.missing"), "{}", err.message);

    let all = list_tables(&mut c, &[]).expect("list");
    assert_eq!(all.len(), 7);
    assert!(all.iter().all(|(d, _)| d == "wéird db"));

    // utf8mb4 data round-trips.
    let v: Option<String> = c
        .row("read", "SELECT `b c` FROM `wéird db`.parent")
        .expect("row");
    assert_eq!(v.as_deref(), Some("ünï 🐬"));

    // The whole schema in one read is the same as each table read alone
    // (the view is not a table), a self-reference included.
    let schema = load_schema(&mut c, "wéird db").expect("schema");
    let names: Vec<&str> = schema.iter().map(|t| t.name.as_str()).collect();
    let mut listed: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
    listed.sort();
    assert_eq!(names, listed);
    for t in &schema {
        let one = load_table_without_children(&mut c, "wéird db", &t.name).expect("one");
        assert_eq!(t, &one, "{}", t.name);
    }
    let tree = schema.iter().find(|t| t.name == "tree").expect("tree");
    assert_eq!(tree.foreign_keys.len(), 1);
    assert_eq!(tree.referenced_by.len(), 1, "a self-reference is both");
}
