//! The differential drift fuzzer's case generator (issue 14): from one
//! seed, a table shape, its rows, the drift to make on the replicas and
//! how the tools are run. Everything here is a pure function of the seed
//! (a splitmix64 generator, no clock, no hash-map order), so a seed
//! printed by a failing run reproduces the same case anywhere.
//!
//! The runner that creates the tables, applies the drift and checks the
//! server's verdict lives in `tests/tests/fuzz_drift.rs`; `cargo xtask
//! fuzz-drift` runs that test with `OXKIT_FUZZ_CASES` / `OXKIT_FUZZ_SEED`.

use std::fmt::Write as _;

/// splitmix64: tiny, fast, and good enough to pick shapes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole stream follows from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x6F78_6B69_745F_667A)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

/// How the fuzzed table is keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `INT` primary key (negative and positive values, gaps of 3).
    Int,
    /// `BIGINT UNSIGNED` primary key just below 2^64.
    BigUnsigned,
    /// `CHAR(12)` primary key in a collation.
    Char(Coll),
    /// `VARCHAR(24)` primary key in a collation.
    Varchar(Coll),
    /// `BINARY(8)` primary key (bytes 00, 27, 5C included).
    Binary,
    /// `(VARCHAR, INT, DATETIME(6))` composite primary key.
    Composite,
    /// No index at all (duplicate rows included).
    NoKey,
    /// Only a `UNIQUE` key on a nullable column (several NULLs).
    UniqueNullable,
}

impl KeyKind {
    /// Single-column keys, the ones a child table can reference.
    pub fn single(self) -> bool {
        matches!(
            self,
            KeyKind::Int
                | KeyKind::BigUnsigned
                | KeyKind::Char(_)
                | KeyKind::Varchar(_)
                | KeyKind::Binary
        )
    }

    /// True when ox-table-sync has no unique NOT NULL key to match rows by.
    pub fn keyless(self) -> bool {
        matches!(self, KeyKind::NoKey | KeyKind::UniqueNullable)
    }
}

/// Character set and collation of a text column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coll {
    /// utf8mb4_general_ci: case-insensitive, PAD SPACE.
    Utf8Ci,
    /// utf8mb4_bin: binary order, PAD SPACE.
    Utf8Bin,
    /// utf8mb4_nopad_bin (MySQL: utf8mb4_0900_bin): binary, trailing
    /// spaces significant.
    Utf8NopadBin,
    /// utf8mb4_unicode_ci.
    Utf8UnicodeCi,
    /// latin1_swedish_ci.
    Latin1Ci,
    /// latin1_bin.
    Latin1Bin,
}

impl Coll {
    const ALL: [Coll; 6] = [
        Coll::Utf8Ci,
        Coll::Utf8Bin,
        Coll::Utf8NopadBin,
        Coll::Utf8UnicodeCi,
        Coll::Latin1Ci,
        Coll::Latin1Bin,
    ];

    /// `CHARACTER SET x COLLATE y`.
    pub fn sql(self) -> &'static str {
        match self {
            Coll::Utf8Ci => "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci",
            Coll::Utf8Bin => "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            Coll::Utf8NopadBin if crate::flavour().is_mysql() => {
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_bin"
            }
            Coll::Utf8NopadBin => "CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
            Coll::Utf8UnicodeCi => "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            Coll::Latin1Ci => "CHARACTER SET latin1 COLLATE latin1_swedish_ci",
            Coll::Latin1Bin => "CHARACTER SET latin1 COLLATE latin1_bin",
        }
    }

    fn utf8(self) -> bool {
        !matches!(self, Coll::Latin1Ci | Coll::Latin1Bin)
    }
}

/// A non-key column kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// VARCHAR(40) in a collation, with emoji when utf8mb4.
    Text(Coll),
    /// CHAR(10) utf8mb4.
    Char,
    /// BLOB with arbitrary bytes.
    Blob,
    /// JSON.
    Json,
    /// DECIMAL(14,4).
    Decimal,
    /// DOUBLE, extremes included.
    Double,
    /// DATETIME(6).
    DateTime,
    /// BIT(10).
    Bit,
    /// ENUM.
    Enum,
    /// SET.
    Set,
    /// A VIRTUAL generated column.
    GenVirtual,
    /// A STORED generated column.
    GenStored,
}

impl Col {
    const ALL: [Col; 12] = [
        Col::Text(Coll::Utf8Ci),
        Col::Char,
        Col::Blob,
        Col::Json,
        Col::Decimal,
        Col::Double,
        Col::DateTime,
        Col::Bit,
        Col::Enum,
        Col::Set,
        Col::GenVirtual,
        Col::GenStored,
    ];

    fn generated(self) -> bool {
        matches!(self, Col::GenVirtual | Col::GenStored)
    }

    fn ddl(self, name: &str) -> String {
        match self {
            Col::Text(c) => format!("`{name}` VARCHAR(40) {} NULL", c.sql()),
            Col::Char => format!("`{name}` CHAR(10) CHARACTER SET utf8mb4 NULL"),
            Col::Blob => format!("`{name}` BLOB NULL"),
            Col::Json => format!("`{name}` JSON NULL"),
            Col::Decimal => format!("`{name}` DECIMAL(14,4) NULL"),
            Col::Double => format!("`{name}` DOUBLE NULL"),
            Col::DateTime => format!("`{name}` DATETIME(6) NULL"),
            Col::Bit => format!("`{name}` BIT(10) NULL"),
            Col::Enum => format!("`{name}` ENUM('a','b','c d','é') NULL"),
            Col::Set => format!("`{name}` SET('x','y','z') NULL"),
            Col::GenVirtual => format!("`{name}` INT AS (`n` * 2) VIRTUAL"),
            Col::GenStored => {
                format!("`{name}` VARCHAR(30) CHARACTER SET utf8mb4 AS (CONCAT('g', `n`)) STORED")
            }
        }
    }

    /// A literal for row `i`.
    fn value(self, rng: &mut Rng, i: usize) -> String {
        if rng.chance(8) {
            return "NULL".into();
        }
        match self {
            Col::Text(c) => {
                let pad = if rng.chance(15) { "  " } else { "" };
                if c.utf8() {
                    let s = rng.pick(&["ñandú", "Straße", "ǅemal", "café", "abc", "ÀÉÎ"]);
                    let e = rng.pick(&[" 🐬", " 🦀", "", " 😀x"]);
                    format!("'{s}-{i}{e}{pad}'")
                } else {
                    let s = rng.pick(&["café", "naïve", "Øre", "abc", "ÿes"]);
                    format!("'{s}-{i}{pad}'")
                }
            }
            Col::Char => format!("'{}{i}'", rng.pick(&["ab", "Zé", "x 🐬", ""])),
            Col::Blob => {
                let n = rng.range(0, 40);
                let mut hex = String::new();
                for _ in 0..n {
                    let any = (rng.next_u64() & 0xff) as u8;
                    let b = rng.pick(&[0u8, 0x27, 0x5c, 0xff, 0x20, 0x41, any]);
                    let _ = write!(hex, "{b:02X}");
                }
                if hex.is_empty() {
                    "''".into()
                } else {
                    format!("X'{hex}'")
                }
            }
            Col::Json => format!(
                "'{{\"a\": {i}, \"s\": \"{}\", \"l\": [1, 2.5, null]}}'",
                rng.pick(&["🐬", "x", "é''q"])
            ),
            Col::Decimal => format!(
                "{}{}.{:04}",
                if rng.chance(30) { "-" } else { "" },
                rng.below(10_000_000),
                rng.below(10_000)
            ),
            Col::Double => rng
                .pick(&[
                    "0.1",
                    "-2.5e-300",
                    "1.7976931348623157e308",
                    "123456.789",
                    "3.141592653589793",
                    "1e15",
                    "0",
                ])
                .to_string(),
            Col::DateTime => format!(
                "'20{:02}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
                rng.below(40),
                1 + rng.below(12),
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1_000_000)
            ),
            Col::Bit => format!("b'{:b}'", rng.below(1024)),
            Col::Enum => format!("'{}'", rng.pick(&["a", "b", "c d", "é"])),
            Col::Set => format!("'{}'", rng.pick(&["", "x", "y,z", "x,y,z"])),
            Col::GenVirtual | Col::GenStored => "DEFAULT".into(),
        }
    }

    /// An expression that changes `col` (it may be a no-op on rare values;
    /// the runner asks the server whether drift really exists).
    fn mutate(self, rng: &mut Rng, col: &str) -> String {
        let c = format!("`{col}`");
        match self {
            Col::Text(coll) => match rng.below(4) {
                // Case-only and trailing-space differences.
                0 => format!("UPPER({c})"),
                1 => format!("CONCAT({c}, ' ')"),
                2 => "NULL".into(),
                _ => {
                    if coll.utf8() {
                        "'Zürich 🦀'".into()
                    } else {
                        "'Zürich'".into()
                    }
                }
            },
            Col::Char => rng.pick(&[format!("UPPER({c})"), "'zz'".into(), "NULL".into()]),
            Col::Blob => rng.pick(&[
                format!("CONCAT({c}, X'00')"),
                "X'5C27'".into(),
                "NULL".into(),
            ]),
            Col::Json => format!("JSON_SET(COALESCE({c}, '{{}}'), '$.a', 999)"),
            Col::Decimal => format!("COALESCE({c}, 0) + 0.0001"),
            Col::Double => rng
                .pick(&["0.30000000000000004", "-0.5", "2.2250738585072014e-308"])
                .to_string(),
            Col::DateTime => format!("COALESCE({c}, '2000-01-01') + INTERVAL 1 MICROSECOND"),
            Col::Bit => format!("COALESCE({c}, 0) ^ 1"),
            Col::Enum => "'é'".into(),
            Col::Set => "'x,z'".into(),
            Col::GenVirtual | Col::GenStored => c,
        }
    }
}

/// Which tool finds the rows to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `ox-table-sync --replicate TABLE PRIMARY` (all replicas at once).
    Replicate,
    /// `ox-table-sync --replicate TABLE --sync-to-master REPLICA`, per replica.
    ReplicateToMaster,
    /// `ox-table-sync --sync-to-master REPLICA`, per drifted replica.
    SyncToMaster,
    /// `ox-table-sync PRIMARY REPLICA`, per drifted replica (writes on it).
    Direct,
}

/// Where a drift lands in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// At the first key.
    First,
    /// In the middle.
    Middle,
    /// At the last key.
    Last,
    /// Beyond the last key (extra rows), or below the first.
    Beyond,
}

/// One kind of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Column values changed.
    Changed,
    /// Rows missing on the replica.
    Missing,
    /// Rows only on the replica.
    Extra,
    /// The key changed by case or trailing space only (same row under a
    /// `_ci` / PAD SPACE collation, a different one otherwise).
    KeyCase,
}

/// One drift: what, where, how many rows, on which replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Replica index (0 or 1).
    pub replica: usize,
    /// Kind.
    pub kind: Kind,
    /// Place.
    pub place: Place,
    /// Rows (1 = one row, more = a cluster).
    pub rows: usize,
    /// On the child table instead of the table itself.
    pub child: bool,
}

/// A whole case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The seed everything follows from.
    pub seed: u64,
    /// The key.
    pub key: KeyKind,
    /// Non-key columns (named c0, c1, ...), besides `n` and `w`.
    pub cols: Vec<Col>,
    /// A child table `ch` references the table with ON DELETE CASCADE.
    pub fk_child: bool,
    /// BEFORE INSERT/UPDATE triggers fill column `tr` from `n`.
    pub trigger: bool,
    /// Rows on the primary.
    pub rows: usize,
    /// The drift.
    pub drifts: Vec<Drift>,
    /// A writer runs on the primary during checksum and sync.
    pub writer: bool,
    /// `ox-table-checksum --method`.
    pub method: &'static str,
    /// `ox-table-checksum --function` (and ox-table-sync's).
    pub function: &'static str,
    /// `ox-table-checksum --chunk-size` (with `--chunk-time 0`).
    pub checksum_chunk: usize,
    /// How ox-table-sync finds the rows.
    pub source: Source,
    /// ox-table-sync `--chunk-size`, `--bucket-rows`, `--batch-size`.
    pub sync_chunk: usize,
    /// Rows per hash bucket.
    pub bucket_rows: usize,
    /// Rows per fix transaction.
    pub batch_size: usize,
    /// A `--dry-run` (checked to change nothing) precedes `--execute`.
    pub dry_run_first: bool,
    /// `--allow-no-key` is passed (matters for keyless shapes).
    pub allow_no_key: bool,
}

/// The SQL of one case, in the database the runner names.
#[derive(Debug, Clone)]
pub struct CaseSql {
    /// CREATE TABLE/TRIGGER and INSERT statements, in order.
    pub setup: Vec<String>,
    /// Per drift: (replica, statements).
    pub drift: Vec<(usize, Vec<String>)>,
    /// `WHERE` conditions of rows no drift touches (the writer's rows).
    pub writer_rows: Vec<String>,
    /// Tables of the case, `t` first.
    pub tables: Vec<&'static str>,
}

impl Case {
    /// The case of `seed`.
    pub fn generate(seed: u64) -> Case {
        let mut rng = Rng::new(seed);
        let key = match rng.below(9) {
            0 | 1 => KeyKind::Int,
            2 => KeyKind::BigUnsigned,
            3 => KeyKind::Char(rng.pick(&Coll::ALL)),
            4 => KeyKind::Varchar(rng.pick(&Coll::ALL)),
            5 => KeyKind::Binary,
            6 => KeyKind::Composite,
            7 => KeyKind::NoKey,
            _ => KeyKind::UniqueNullable,
        };
        let mut cols = Vec::new();
        for _ in 0..rng.range(0, 5) {
            let mut c = rng.pick(&Col::ALL);
            if let Col::Text(_) = c {
                c = Col::Text(rng.pick(&Coll::ALL));
            }
            cols.push(c);
        }
        let fk_child = key.single() && rng.chance(30);
        let trigger = rng.chance(20);
        let rows = rng.range(20, 300);
        let mut drifts = Vec::new();
        let n = if rng.chance(20) { rng.range(2, 4) } else { 1 };
        for _ in 0..n {
            let kind = match rng.below(10) {
                0..=2 => Kind::Changed,
                3..=5 => Kind::Missing,
                6..=8 => Kind::Extra,
                _ => Kind::KeyCase,
            };
            let place = match rng.below(4) {
                0 => Place::First,
                1 => Place::Middle,
                2 => Place::Last,
                _ => Place::Beyond,
            };
            let cluster = if rng.chance(60) { 1 } else { rng.range(2, 8) };
            drifts.push(Drift {
                replica: if rng.chance(25) { 1 } else { 0 },
                kind,
                place,
                rows: cluster,
                child: fk_child && rng.chance(30),
            });
        }
        let source = rng.pick(&[
            Source::Replicate,
            Source::ReplicateToMaster,
            Source::SyncToMaster,
            Source::Direct,
        ]);
        let mut case = Case {
            seed,
            key,
            cols,
            fk_child,
            trigger,
            rows,
            drifts,
            writer: rng.chance(40),
            method: rng.pick(&["replicate", "snapshot"]),
            function: rng.pick(&["sha1", "md5", "crc32"]),
            checksum_chunk: rng.pick(&[7, 20, 50, 1000]),
            source,
            sync_chunk: rng.pick(&[5, 30, 100, 200_000]),
            bucket_rows: rng.pick(&[1, 4, 16]),
            batch_size: rng.pick(&[1, 3, 200]),
            dry_run_first: rng.chance(30),
            allow_no_key: rng.chance(70),
        };
        // Drawn last, so the cases of earlier seeds (and the regression
        // seeds) stay what they were: half of the sha1 cases use
        // ox-table-checksum's default, sha1-crc32.
        if case.function == "sha1" && rng.chance(50) {
            case.function = "sha1-crc32";
        }
        case
    }

    /// One line describing the case, printed with its seed.
    pub fn describe(&self) -> String {
        format!(
            "seed {} key={:?} cols={:?} fk_child={} trigger={} rows={} drifts={:?} writer={} \
             method={} function={} checksum_chunk={} source={:?} sync_chunk={} bucket_rows={} \
             batch_size={} dry_run_first={} allow_no_key={}",
            self.seed,
            self.key,
            self.cols,
            self.fk_child,
            self.trigger,
            self.rows,
            self.drifts,
            self.writer,
            self.method,
            self.function,
            self.checksum_chunk,
            self.source,
            self.sync_chunk,
            self.bucket_rows,
            self.batch_size,
            self.dry_run_first,
            self.allow_no_key
        )
    }

    /// Key column definitions and the PRIMARY/UNIQUE clause.
    fn key_ddl(&self) -> (Vec<String>, Option<String>) {
        match self.key {
            KeyKind::Int => (
                vec!["`k` INT NOT NULL".into()],
                Some("PRIMARY KEY (`k`)".into()),
            ),
            KeyKind::BigUnsigned => (
                vec!["`k` BIGINT UNSIGNED NOT NULL".into()],
                Some("PRIMARY KEY (`k`)".into()),
            ),
            KeyKind::Char(c) => (
                vec![format!("`k` CHAR(12) {} NOT NULL", c.sql())],
                Some("PRIMARY KEY (`k`)".into()),
            ),
            KeyKind::Varchar(c) => (
                vec![format!("`k` VARCHAR(24) {} NOT NULL", c.sql())],
                Some("PRIMARY KEY (`k`)".into()),
            ),
            KeyKind::Binary => (
                vec!["`k` BINARY(8) NOT NULL".into()],
                Some("PRIMARY KEY (`k`)".into()),
            ),
            KeyKind::Composite => (
                vec![
                    "`ka` VARCHAR(8) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"
                        .into(),
                    "`kb` INT NOT NULL".into(),
                    "`kc` DATETIME(6) NOT NULL".into(),
                ],
                Some("PRIMARY KEY (`ka`, `kb`, `kc`)".into()),
            ),
            KeyKind::NoKey => (vec![], None),
            KeyKind::UniqueNullable => (
                vec!["`k` INT NULL".into()],
                Some("UNIQUE KEY `uk` (`k`)".into()),
            ),
        }
    }

    /// The key columns' type for a child's reference column.
    fn ref_type(&self) -> String {
        match self.key {
            KeyKind::Int => "INT".into(),
            KeyKind::BigUnsigned => "BIGINT UNSIGNED".into(),
            KeyKind::Char(c) => format!("CHAR(12) {}", c.sql()),
            KeyKind::Varchar(c) => format!("VARCHAR(24) {}", c.sql()),
            _ => "BINARY(8)".into(),
        }
    }

    /// Key literals of a position `p` in key order; positions are spaced
    /// so that `p` with a fraction (`half`) falls between two rows.
    fn key_lits(&self, p: i64, half: bool) -> Vec<String> {
        let h = i64::from(half);
        match self.key {
            KeyKind::Int | KeyKind::UniqueNullable => vec![(p * 3 + h - 300).to_string()],
            KeyKind::BigUnsigned => {
                // The last row sits 30 below 2^64 - 1: room above for extra rows.
                let top = u64::MAX - 30;
                let back = (self.rows as i64 - 1 - p) * 3 - h;
                let v = if back >= 0 {
                    top - back as u64
                } else {
                    top + (-back) as u64
                };
                vec![v.to_string()]
            }
            KeyKind::Char(_) | KeyKind::Varchar(_) => {
                let v = p + 1000;
                vec![format!("'k{v:05}{}'", if half { "m" } else { "" })]
            }
            KeyKind::Binary => {
                let v = ((p + 100) * 3 + h) as u64;
                // Bytes 27 and 5C (quote, backslash) in every key.
                vec![format!("X'275C{v:012X}'")]
            }
            KeyKind::Composite => {
                let g = p.div_euclid(10) + 500;
                let b = p.rem_euclid(10) * 2 + h;
                vec![
                    format!("'g{g}é'"),
                    b.to_string(),
                    format!("'2024-02-29 23:59:59.{:06}' ", (p.rem_euclid(7)) * 11),
                ]
            }
            KeyKind::NoKey => vec![],
        }
    }

    fn key_names(&self) -> Vec<&'static str> {
        match self.key {
            KeyKind::Composite => vec!["ka", "kb", "kc"],
            KeyKind::NoKey => vec![],
            _ => vec!["k"],
        }
    }

    /// The condition selecting row `p` (by key, or by `n` when keyless).
    fn row_cond(&self, p: i64) -> String {
        if self.key.keyless() {
            return format!("`n` = {p}");
        }
        self.key_names()
            .iter()
            .zip(self.key_lits(p, false))
            .map(|(k, v)| format!("`{k}` = {v}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    /// Column names of the table in order, with a flag for generated ones.
    fn columns(&self) -> Vec<(String, Option<Col>)> {
        let mut v: Vec<(String, Option<Col>)> = self
            .key_names()
            .iter()
            .map(|k| (k.to_string(), None))
            .collect();
        v.push(("n".into(), None));
        v.push(("w".into(), None));
        for (i, c) in self.cols.iter().enumerate() {
            v.push((format!("c{i}"), Some(*c)));
        }
        if self.trigger {
            v.push(("tr".into(), None));
        }
        v
    }

    /// The case's SQL (table names unqualified: the runner `USE`s its db).
    pub fn sql(&self) -> CaseSql {
        let mut rng = Rng::new(self.seed.wrapping_mul(31).wrapping_add(7));
        let mut setup = Vec::new();
        let (mut defs, key) = self.key_ddl();
        defs.push("`n` INT NOT NULL".into());
        defs.push("`w` INT NOT NULL DEFAULT 0".into());
        for (i, c) in self.cols.iter().enumerate() {
            defs.push(c.ddl(&format!("c{i}")));
        }
        if self.trigger {
            defs.push("`tr` VARCHAR(20) NULL".into());
        }
        defs.extend(key);
        setup.push(format!(
            "CREATE TABLE `t` ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            defs.join(", ")
        ));
        if self.trigger {
            setup.push(
                "CREATE TRIGGER `t_bi` BEFORE INSERT ON `t` FOR EACH ROW SET NEW.`tr` = CONCAT('T', NEW.`n`)"
                    .into(),
            );
            setup.push(
                "CREATE TRIGGER `t_bu` BEFORE UPDATE ON `t` FOR EACH ROW SET NEW.`tr` = CONCAT('T', NEW.`n`)"
                    .into(),
            );
        }
        let cols = self.columns();
        let insertable: Vec<&(String, Option<Col>)> = cols
            .iter()
            .filter(|(n, c)| n != "tr" && !c.is_some_and(Col::generated))
            .collect();
        let names = insertable
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let row_values = |rng: &mut Rng, p: i64| -> String {
            let mut vals = Vec::new();
            let mut key = self.key_lits(p, false).into_iter();
            for (name, col) in &insertable {
                let v = match (name.as_str(), col) {
                    ("n", _) => p.to_string(),
                    ("w", _) => "0".into(),
                    ("k", _) if self.key == KeyKind::UniqueNullable => {
                        let v = key.next().unwrap_or_default();
                        if p % 5 == 0 {
                            "NULL".into()
                        } else {
                            v
                        }
                    }
                    (_, None) => key.next().unwrap_or_default(),
                    (_, Some(c)) => c.value(rng, p as usize),
                };
                vals.push(v);
            }
            format!("({})", vals.join(", "))
        };
        let mut values = Vec::new();
        for p in 0..self.rows as i64 {
            values.push(row_values(&mut rng, p));
            if self.key == KeyKind::NoKey && p % 7 == 3 {
                // An exact duplicate row.
                let last = values.last().cloned().unwrap_or_default();
                values.push(last);
            }
        }
        setup.push(format!(
            "INSERT INTO `t` ({names}) VALUES {}",
            values.join(", ")
        ));
        if self.fk_child {
            setup.push(format!(
                "CREATE TABLE `ch` (`id` INT NOT NULL PRIMARY KEY, `pid` {} NOT NULL, `v` INT NOT NULL, \
                 FOREIGN KEY (`pid`) REFERENCES `t` (`k`) ON DELETE CASCADE) ENGINE=InnoDB",
                self.ref_type()
            ));
            let mut kids = Vec::new();
            for p in 0..self.rows as i64 {
                for j in 0..(p % 3) {
                    let k = self.key_lits(p, false).remove(0);
                    kids.push(format!("({}, {k}, {j})", p * 10 + j));
                }
            }
            if !kids.is_empty() {
                setup.push(format!("INSERT INTO `ch` VALUES {}", kids.join(", ")));
            }
        }
        setup.push(
            "CREATE TABLE `busy` (`id` INT AUTO_INCREMENT PRIMARY KEY, `v` INT NOT NULL) ENGINE=InnoDB"
                .into(),
        );
        setup.push("INSERT INTO `busy` (`v`) SELECT seq FROM seq_1_to_50".into());

        // The drift, and the rows it touches.
        let mut touched = std::collections::BTreeSet::new();
        let mut drift = Vec::new();
        let rows = self.rows as i64;
        let mutable: Vec<(usize, Col)> = self
            .cols
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, c)| !c.generated())
            .collect();
        let mut extra_id = 0i64;
        for d in &self.drifts {
            let len = d.rows as i64;
            let start = match d.place {
                Place::First => 0,
                Place::Middle => (rows / 2 - len / 2).max(0),
                Place::Last | Place::Beyond => (rows - len).max(0),
            };
            let span: Vec<i64> = (start..(start + len).min(rows)).collect();
            let mut stmts = Vec::new();
            if d.child {
                // Child rows: ids p*10+j for parents p with p % 3 > 0.
                for &p in &span {
                    let id = p * 10;
                    match d.kind {
                        Kind::Changed | Kind::KeyCase => {
                            stmts.push(format!(
                                "UPDATE `ch` SET `v` = `v` + 100 WHERE `pid` = {}",
                                self.key_lits(p, false).remove(0)
                            ));
                        }
                        Kind::Missing => {
                            stmts.push(format!("DELETE FROM `ch` WHERE `id` = {id}"));
                        }
                        Kind::Extra => {
                            stmts.push(format!(
                                "INSERT INTO `ch` VALUES ({}, {}, 7)",
                                id + 5,
                                self.key_lits(p, false).remove(0)
                            ));
                        }
                    }
                    touched.insert(p);
                }
                drift.push((d.replica, stmts));
                continue;
            }
            match d.kind {
                Kind::Changed => {
                    for &p in &span {
                        let set = if mutable.is_empty() || rng.chance(25) {
                            "`n` = `n` + 1000".to_string()
                        } else {
                            let (i, c) = mutable[rng.below(mutable.len())];
                            format!("`c{i}` = {}", c.mutate(&mut rng, &format!("c{i}")))
                        };
                        let limit = if self.key.keyless() { " LIMIT 1" } else { "" };
                        stmts.push(format!(
                            "UPDATE `t` SET {set} WHERE {}{limit}",
                            self.row_cond(p)
                        ));
                        touched.insert(p);
                    }
                }
                Kind::KeyCase => {
                    let expr = match self.key {
                        KeyKind::Char(_) => Some("UPPER(`k`)".to_string()),
                        KeyKind::Varchar(_) => Some(
                            rng.pick(&["UPPER(`k`)", "CONCAT(`k`, ' ')", "CONCAT(`k`, '  ')"])
                                .to_string(),
                        ),
                        KeyKind::Composite => {
                            Some(rng.pick(&["UPPER(`ka`)", "CONCAT(`ka`, ' ')"]).to_string())
                        }
                        _ => None,
                    };
                    for &p in &span {
                        let stmt = match &expr {
                            Some(e) => {
                                let col = if self.key == KeyKind::Composite {
                                    "ka"
                                } else {
                                    "k"
                                };
                                format!("UPDATE `t` SET `{col}` = {e} WHERE {}", self.row_cond(p))
                            }
                            None => format!(
                                "UPDATE `t` SET `n` = `n` + 1 WHERE {}{}",
                                self.row_cond(p),
                                if self.key.keyless() { " LIMIT 1" } else { "" }
                            ),
                        };
                        stmts.push(stmt);
                        touched.insert(p);
                    }
                }
                Kind::Missing => {
                    for &p in &span {
                        let limit = if self.key.keyless() { " LIMIT 1" } else { "" };
                        stmts.push(format!("DELETE FROM `t` WHERE {}{limit}", self.row_cond(p)));
                        touched.insert(p);
                    }
                }
                Kind::Extra => {
                    // New positions: between rows, beyond the last key, or
                    // below the first.
                    let ps: Vec<(i64, bool)> = match d.place {
                        Place::Beyond if rng.chance(50) => {
                            (0..len).map(|j| (rows + j, false)).collect()
                        }
                        Place::Beyond => (0..len).map(|j| (-1 - j, false)).collect(),
                        _ => span.iter().map(|&p| (p, true)).collect(),
                    };
                    for (p, half) in ps {
                        extra_id += 1;
                        let n = 100_000 + extra_id + 1000 * d.replica as i64;
                        if self.key.keyless() {
                            // A copy of an existing row, or a new one.
                            let src = p.clamp(0, rows - 1);
                            let ins: Vec<String> =
                                insertable.iter().map(|(n, _)| format!("`{n}`")).collect();
                            stmts.push(format!(
                                "INSERT INTO `t` ({}) SELECT {} FROM `t` WHERE `n` = {src} LIMIT 1",
                                ins.join(", "),
                                ins.join(", ")
                            ));
                            if self.key == KeyKind::UniqueNullable {
                                // The copy needs a NULL or new unique value.
                                stmts.pop();
                                stmts.push(format!(
                                    "INSERT INTO `t` (`k`, `n`) VALUES ({}, {n})",
                                    if half {
                                        "NULL".to_string()
                                    } else {
                                        (p * 3 + 1 - 300 + 100_000).to_string()
                                    }
                                ));
                            }
                            touched.insert(src);
                            continue;
                        }
                        let key = self.key_lits(p, half);
                        let knames = self.key_names();
                        stmts.push(format!(
                            "INSERT INTO `t` ({}, `n`) VALUES ({}, {n})",
                            knames
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            key.join(", ")
                        ));
                    }
                }
            }
            drift.push((d.replica, stmts));
        }
        let writer_rows = (0..rows)
            .filter(|p| !touched.contains(p) && !self.key.keyless())
            .map(|p| self.row_cond(p))
            .collect();
        let mut tables = vec!["t"];
        if self.fk_child {
            tables.push("ch");
        }
        tables.push("busy");
        CaseSql {
            setup,
            drift,
            writer_rows,
            tables,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed gives the same case and SQL; different seeds differ.
    #[test]
    fn cases_follow_from_their_seed() {
        for seed in 0..200 {
            let a = Case::generate(seed);
            let b = Case::generate(seed);
            assert_eq!(a.describe(), b.describe());
            assert_eq!(format!("{:?}", a.sql()), format!("{:?}", b.sql()));
        }
        assert_ne!(Case::generate(1).describe(), Case::generate(2).describe());
    }
}
