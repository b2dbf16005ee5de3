//! Pairs sources with targets, walks their tables, and prints or applies
//! the fix; see the crate documentation and the man page for the rules.
//!
//! Invariants: nothing is written without `--execute`; every write batch
//! is one transaction, so an interrupted run leaves each batch applied or
//! not; through replication the source's rows are re-read under lock
//! before the fix is written, so rows the application changed after the
//! comparison keep the application's values.

use crate::compare::{compare_range, recheck, Bucketing, Diff, Shape};
use crate::fix;
use crate::Config;
use anyhow::{Context as _, Result};
use oxkit::cli::DbTable;
use oxkit::conn::{self, Conn, ConnectOptions, ErrorKind};
use oxkit::dsn::{self, ConnSpec};
use oxkit::entry::Context;
use oxkit::nibble::{chunk_index, Bound, ChunkKey, NibbleOptions, Nibbler};
use oxkit::report::Format;
use oxkit::schema::{list_tables, load_table, Table};
use oxkit::server::Server;
use oxkit::snapshot::open_pair;
use oxkit::throttle::{Throttle, Watched};
use oxkit::topology::{discover, replica_status};
use oxkit::Exit;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

/// One table's result.
#[derive(Debug, Default, Serialize)]
pub struct TableReport {
    db: String,
    table: String,
    target: String,
    key: Option<String>,
    fixed_on: Option<String>,
    ranges: u64,
    rows_read: u64,
    diff_buckets: u64,
    insert: u64,
    update: u64,
    delete: u64,
    /// Differences fixed and committed (`--execute`); fewer than found
    /// when the run was interrupted or failed part-way.
    fixed: Option<u64>,
    /// The run stopped (signal or error) while this table was worked on.
    interrupted: bool,
    left: Option<u64>,
    time: f64,
    skip_reason: Option<String>,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    source: Vec<String>,
    targets: Vec<String>,
    mode: &'static str,
    execute: bool,
    exit_status: u8,
    /// Why the run stopped early, when it did (as on stderr).
    error: Option<String>,
    tables: &'a [TableReport],
}

struct Pair {
    source: ConnSpec,
    target: ConnSpec,
    through: bool,
}

/// A range to compare: SQL condition and expected rows.
#[derive(Clone)]
struct Range {
    cond: String,
    estimate: u64,
    /// Inclusive integer key bounds, when the key is one integer column.
    span: Option<(i128, i128)>,
}

/// The inclusive integer bounds of `lower .. upper` over `index`, when it
/// is the shape's single integer key and both ends are known.
fn int_span(
    shape: &Shape,
    index: &oxkit::schema::Index,
    lower: &Bound,
    upper: &Bound,
) -> Option<(i128, i128)> {
    shape.int_col.as_ref()?;
    if shape.key_name.as_deref() != Some(index.name.as_str()) || index.columns.len() != 1 {
        return None;
    }
    let int = |v: &oxkit::nibble::KeyValue| -> Option<i128> {
        match v.as_slice() {
            [Some(b)] => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    };
    let lo = match lower {
        Bound::Incl(v) => int(v)?,
        Bound::Excl(v) => int(v)? + 1,
        Bound::Open => return None,
    };
    let hi = match upper {
        Bound::Incl(v) => int(v)?,
        Bound::Excl(v) => int(v)? - 1,
        Bound::Open => return None,
    };
    Some((lo, hi))
}

fn warn(msg: &str) {
    log::warn!("{msg}");
}

fn pairs(cfg: &Config, specs: &[ConnSpec], opts: &ConnectOptions) -> Result<Vec<Pair>> {
    let first = specs.first().context("no DSN given")?;
    if cfg.sync_to_master {
        let mut c = conn::connect(first, opts).context("connecting to the replica")?;
        let server = Server::detect(&mut c)?;
        let st = replica_status(&mut c, &server)?;
        let s = st.first().with_context(|| {
            format!(
                "{} is not a replica (--sync-to-master needs one)",
                c.label()
            )
        })?;
        let mut source = first.clone();
        source.host = Some(s.source_host.clone());
        source.port = Some(s.source_port);
        source.socket = None;
        return Ok(vec![Pair {
            source,
            target: first.clone(),
            through: true,
        }]);
    }
    if cfg.replicate.is_some() {
        let found = discover(first, &oxkit::topology::default_methods(), 1, opts)
            .context("finding replicas")?;
        if found.is_empty() {
            return Err(oxkit::entry::ExitError {
                exit: Exit::NO_REPLICAS,
                message: format!(
                    "no replicas found for {} (set report_host on them, or give one with --sync-to-master)",
                    dsn::label(first)
                ),
            }
            .into());
        }
        return Ok(found
            .into_iter()
            .map(|r| Pair {
                source: first.clone(),
                target: r.spec,
                through: true,
            })
            .collect());
    }
    let target = specs.get(1).context("no target DSN")?;
    Ok(vec![Pair {
        source: first.clone(),
        target: target.clone(),
        through: false,
    }])
}

/// Runs the whole sync.
pub fn run(ctx: &Context, cfg: &Config, specs: Vec<ConnSpec>) -> Result<Exit> {
    let opts = cfg.conn.options.clone();
    let pairs = pairs(cfg, &specs, &opts)?;
    let mut reports = Vec::new();
    let mut exit = Exit::OK;
    let mut fatal = None;
    for p in &pairs {
        match sync_pair(ctx, cfg, p, &opts, &mut reports) {
            Ok(e) => exit |= e,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        }
    }
    // The report states how the run ends: a signal or a failure part-way
    // is not a success, whatever the tables finished before it.
    let final_exit = match &fatal {
        Some(e) if e.downcast_ref::<oxkit::entry::Cancelled>().is_some() => {
            exit | Exit::CAUGHT_SIGNAL
        }
        Some(e) => match e.downcast_ref::<oxkit::entry::ExitError>() {
            Some(x) => exit | x.exit,
            None => Exit::FATAL,
        },
        None => exit,
    };
    if fatal.is_none() && reports.is_empty() {
        warn(&cfg.filter.nothing_matched());
    }
    let out_report = Report {
        source: pairs
            .iter()
            .map(|p| dsn::label(&p.source))
            .take(1)
            .collect(),
        targets: pairs.iter().map(|p| dsn::label(&p.target)).collect(),
        mode: if pairs.iter().any(|p| p.through) {
            "replication"
        } else {
            "direct"
        },
        execute: cfg.execute,
        exit_status: final_exit.code(),
        error: fatal.as_ref().map(oxkit::entry::render_error),
        tables: &reports,
    };
    print_report(cfg, &out_report)?;
    if let Some(e) = fatal {
        return Err(e);
    }
    Ok(exit)
}

fn print_report(cfg: &Config, r: &Report) -> Result<()> {
    let mut text = String::new();
    let mut t = oxkit::report::Table::new([
        "INSERT",
        "UPDATE",
        "DELETE",
        "ROWS_READ",
        "FIXED",
        "LEFT",
        "TIME",
        "FIXED_ON",
        "TARGET",
        "TABLE",
    ]);
    for x in r.tables {
        t.row([
            x.insert.to_string(),
            x.update.to_string(),
            x.delete.to_string(),
            x.rows_read.to_string(),
            x.fixed.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            match (x.left, x.interrupted) {
                (Some(l), _) => l.to_string(),
                (None, true) => "?".into(),
                (None, false) => "-".into(),
            },
            format!("{:.3}", x.time),
            match (&x.skip_reason, &x.fixed_on) {
                (Some(_), _) => "skipped".to_string(),
                (None, _) if x.interrupted => "interrupted".to_string(),
                (None, Some(f)) => f.clone(),
                (None, None) => "-".to_string(),
            },
            x.target.clone(),
            format!("{}.{}", x.db, x.table),
        ]);
    }
    if !r.tables.is_empty() {
        text.push_str(&t.to_string());
    }
    let json = serde_json::to_string_pretty(r)? + "\n";
    let body = match cfg.format {
        Format::Json => json,
        Format::Text => text,
    };
    if cfg.print {
        // stdout carries only the replayable SQL.
        let mut err = std::io::stderr().lock();
        err.write_all(body.as_bytes())?;
        err.flush()?;
    } else {
        oxkit::report::mark_stdout_used();
        let mut out = std::io::stdout().lock();
        out.write_all(body.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

struct Conns {
    src_read: Conn,
    src_write: Option<Conn>,
    src_server: Server,
    tgt_read: Conn,
    tgt_ctl: Conn,
    tgt_write: Option<Conn>,
    tgt_server: Server,
    /// Statement-format writes on the source are possible.
    statement_ok: bool,
    throttle: Throttle,
}

fn connect_pair(cfg: &Config, p: &Pair, opts: &ConnectOptions) -> Result<Conns> {
    let sl = dsn::label(&p.source);
    let tl = dsn::label(&p.target);
    let mut src_read =
        conn::connect(&p.source, opts).with_context(|| format!("connecting to source {sl}"))?;
    let src_server = Server::detect(&mut src_read)?;
    let mut tgt_ctl =
        conn::connect(&p.target, opts).with_context(|| format!("connecting to target {tl}"))?;
    let tgt_server = Server::detect(&mut tgt_ctl)?;
    let tgt_read = conn::connect(&p.target, opts)?;
    let tgt_is_replica = !replica_status(&mut tgt_ctl, &tgt_server)?.is_empty();
    let mut statement_ok = false;
    let mut src_write = None;
    let mut tgt_write = None;
    if cfg.execute {
        if p.through {
            let mut w = conn::connect(&p.source, opts)?;
            match w.run(
                "switching the session to statement-format binary logging",
                "SET SESSION binlog_format = 'STATEMENT'; \
                 SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                 SET SESSION foreign_key_checks = 0",
            ) {
                Ok(()) => statement_ok = true,
                Err(e) => warn(&format!(
                    "cannot write statement-format binary logs on the source ({e}); \
                     fixing {tl} directly instead of through replication"
                )),
            }
            src_write = Some(w);
        }
        let mut w = conn::connect(&p.target, opts)?;
        // Tables are synced one at a time: a child row may come before its
        // parent, and the tool's own deletes must not cascade.
        w.run(
            "turning foreign key checks off for the fix",
            "SET SESSION foreign_key_checks = 0",
        )?;
        if tgt_is_replica {
            // A local write logged on a replica would get a GTID of its own
            // and break gtid_strict_mode replication later.
            w.run(
                "turning binary logging off for direct fixes on a replica",
                "SET SESSION sql_log_bin = 0",
            )?;
        }
        tgt_write = Some(w);
    } else if p.through {
        statement_ok = true;
    }
    let throttle = if p.through {
        Throttle::new(
            cfg.throttle.clone(),
            Some(conn::connect(&p.source, opts)?),
            vec![Watched {
                label: tl.clone(),
                conn: conn::connect(&p.target, opts)?,
                server: tgt_server.clone(),
            }],
        )
    } else {
        Throttle::new(
            cfg.throttle.clone(),
            Some(conn::connect(&p.target, opts)?),
            vec![],
        )
    };
    Ok(Conns {
        src_read,
        src_write,
        src_server,
        tgt_read,
        tgt_ctl,
        tgt_write,
        tgt_server,
        statement_ok,
        throttle,
    })
}

/// A recorded differing chunk: index, lower and upper boundary text, rows.
type RecordedChunk = (Option<String>, Option<String>, Option<String>, u64);
type Recorded = BTreeMap<(String, String), Vec<RecordedChunk>>;

/// Differing chunks recorded in the checksum table on the target, by table.
fn recorded_chunks(c: &mut Conn, server: &Server, rt: &DbTable) -> Result<Recorded> {
    let rt = oxkit::checksum::ReplicateTable::open(c, server, &rt.db, &rt.table)?;
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        u64,
        Option<u64>,
    );
    let rows: Vec<Row> = c.rows(
        "reading differing chunks from the checksum table",
        &format!(
            "SELECT db, tbl, chunk_index, lower_boundary, upper_boundary, this_cnt, {} \
             FROM {rt} WHERE {} ORDER BY db, tbl, chunk",
            rt.source_cnt,
            rt.differs()
        ),
    )?;
    let mut out: Recorded = BTreeMap::new();
    for (db, tbl, idx, lo, hi, this, master) in rows {
        out.entry((db, tbl))
            .or_default()
            .push((idx, lo, hi, this.max(master.unwrap_or(0))));
    }
    Ok(out)
}

fn with_where(cfg: &Config, cond: String) -> String {
    match &cfg.r#where {
        Some(w) => format!("({cond}) AND ({w})"),
        None => cond,
    }
}

/// The ranges of a whole table: `--chunk-size` rows of its key at a time,
/// boundaries read on the source (in its snapshot).
fn table_ranges(cfg: &Config, c: &mut Conn, table: &Table, shape: &Shape) -> Result<Vec<Range>> {
    let Some(index) = chunk_index(table) else {
        return Ok(vec![Range {
            cond: with_where(cfg, "1=1".into()),
            estimate: table.row_estimate.max(1),
            span: None,
        }]);
    };
    let key = ChunkKey::new(table, index);
    let mut n = Nibbler::new(
        table,
        key.clone(),
        cfg.r#where.clone(),
        NibbleOptions {
            initial_rows: cfg.chunk_size,
            target: None,
            max_rows: cfg.chunk_size,
        },
    );
    let mut out = Vec::new();
    while let Some(ch) = n.next(c)? {
        let below = matches!(ch.lower, Bound::Open) && !matches!(ch.upper, Bound::Open);
        out.push(Range {
            cond: with_where(cfg, key.range_sql(&ch.lower, &ch.upper)),
            estimate: if below { 1 } else { cfg.chunk_size },
            span: int_span(shape, index, &ch.lower, &ch.upper),
        });
    }
    Ok(out)
}

/// The ranges of recorded differing chunks; `None` when a boundary cannot
/// be read back (then the whole table is compared).
fn recorded_ranges(
    cfg: &Config,
    table: &Table,
    shape: &Shape,
    chunks: &[RecordedChunk],
) -> Option<Vec<Range>> {
    let mut out = Vec::new();
    for (idx, lo, hi, cnt) in chunks {
        let mut span = None;
        let cond = match idx {
            None => "1=1".to_string(),
            Some(name) => {
                let index = table
                    .indexes
                    .iter()
                    .find(|i| i.name.eq_ignore_ascii_case(name))?;
                let key = ChunkKey::new(table, index);
                let bound = |s: &Option<String>| -> Option<Option<_>> {
                    match s {
                        None => Some(None),
                        Some(t) => key.parse_text(t).map(Some),
                    }
                };
                // The recorded lower boundary is the previous chunk's
                // (exclusive) upper one; reading it inclusively is a
                // harmless superset, as pt-table-sync does.
                let lower = bound(lo)?.map(Bound::Incl).unwrap_or(Bound::Open);
                let upper = bound(hi)?.map(Bound::Incl).unwrap_or(Bound::Open);
                span = int_span(shape, index, &lower, &upper);
                key.range_sql(&lower, &upper)
            }
        };
        out.push(Range {
            cond: with_where(cfg, cond),
            estimate: (*cnt).max(1),
            span,
        });
    }
    Some(out)
}

fn open_snapshots(run: &Run, c: &mut Conns) -> Result<()> {
    let (cfg, ctx) = (run.cfg, run.ctx);
    if run.p.through {
        open_pair(
            oxkit::snapshot::Pair {
                source: &mut c.src_read,
                source_server: &c.src_server,
                replica_control: &mut c.tgt_ctl,
                replica_server: &c.tgt_server,
                replica_read: &mut c.tgt_read,
            },
            cfg.replica_timeout,
            &ctx.cancel,
        )?;
    } else {
        for x in [&mut c.src_read, &mut c.tgt_read] {
            x.run(
                "opening a consistent snapshot",
                "COMMIT; START TRANSACTION WITH CONSISTENT SNAPSHOT",
            )?;
        }
    }
    Ok(())
}

fn close_snapshots(c: &mut Conns) -> Result<()> {
    c.src_read.run("ending the snapshot", "COMMIT")?;
    c.tgt_read.run("ending the snapshot", "COMMIT")?;
    Ok(())
}

fn sync_pair(
    ctx: &Context,
    cfg: &Config,
    p: &Pair,
    opts: &ConnectOptions,
    reports: &mut Vec<TableReport>,
) -> Result<Exit> {
    let mut c = connect_pair(cfg, p, opts)?;
    let tl = dsn::label(&p.target);
    let mut exit = Exit::OK;
    let recorded = match &cfg.replicate {
        Some(rt) => Some(recorded_chunks(&mut c.tgt_ctl, &c.tgt_server, rt)?),
        None => None,
    };
    let tables: Vec<(String, String)> = match &recorded {
        Some(r) => r.keys().cloned().collect(),
        None => list_tables(&mut c.src_read, cfg.filter.databases())?,
    };
    if cfg.print {
        oxkit::report::mark_stdout_used();
        let mut out = std::io::stdout().lock();
        if p.through && c.statement_ok {
            writeln!(
                out,
                "-- ox-table-sync: run on the source {}; the fix replicates to {tl}",
                dsn::label(&p.source)
            )?;
            writeln!(out, "SET SESSION binlog_format = 'STATEMENT';")?;
        } else {
            writeln!(out, "-- ox-table-sync: run on the target {tl}")?;
        }
        // The values below were read in this tool's session: the script
        // carries that session's settings (time_zone, sql_mode, names).
        let charset = p.source.charset.as_deref().unwrap_or("utf8mb4");
        for line in opts.session.script_preamble(charset) {
            writeln!(out, "{line}")?;
        }
        writeln!(out, "SET SESSION foreign_key_checks = 0;")?;
    }
    for (db, name) in tables {
        ctx.cancel.check()?;
        if let Some(rt) = &cfg.replicate {
            if db == rt.db && name == rt.table {
                continue;
            }
        }
        let table = match load_table(&mut c.src_read, &db, &name) {
            Ok(t) => t,
            Err(e) if e.kind == ErrorKind::UnknownTable => continue,
            Err(e) => return Err(e.into()),
        };
        if !cfg.filter.selects(&db, &name, table.engine.as_deref()) {
            continue;
        }
        let start = Instant::now();
        let mut rep = TableReport {
            db: db.clone(),
            table: name.clone(),
            target: tl.clone(),
            ..Default::default()
        };
        let run = Run { ctx, cfg, p };
        match sync_table(&run, &mut c, &table, recorded.as_ref(), &mut rep) {
            Ok(e) => exit |= e,
            Err(e) => {
                rep.interrupted = true;
                if e.downcast_ref::<oxkit::entry::Cancelled>().is_some() {
                    let _ = close_snapshots(&mut c);
                    rep.time = start.elapsed().as_secs_f64();
                    reports.push(rep);
                    return Err(e);
                }
                rep.time = start.elapsed().as_secs_f64();
                reports.push(rep);
                return Err(e.context(format!("table {db}.{name}")));
            }
        }
        rep.time = start.elapsed().as_secs_f64();
        reports.push(rep);
    }
    if c.throttle.replication_stopped_seen() {
        exit |= Exit::REPLICATION_STOPPED;
    }
    Ok(exit)
}

/// What every table of one source/target pair shares.
struct Run<'a> {
    ctx: &'a Context,
    cfg: &'a Config,
    p: &'a Pair,
}

/// A range that held differences: its condition, its buckets and the
/// differing ones (re-read after the fix).
type Touched = (String, Bucketing, Vec<i128>);

fn sync_table(
    run: &Run,
    c: &mut Conns,
    table: &Table,
    recorded: Option<&Recorded>,
    rep: &mut TableReport,
) -> Result<Exit> {
    let (cfg, p) = (run.cfg, run.p);
    let shape = match check_table(run, c, table, rep)? {
        Ok(shape) => shape,
        Err(exit) => return Ok(exit),
    };
    // Through replication only keyed tables can be fixed with statements
    // that are no-ops on the source.
    let on_source = p.through && c.statement_ok && shape.key.is_some();
    if p.through && shape.key.is_none() {
        let w = format!(
            "{}: no key, so the fix cannot go through the source; it is written on {} directly (binary log off there)",
            table.full_name(),
            rep.target
        );
        warn(&w);
        rep.warnings.push(w);
    }
    let recorded = recorded.and_then(|r| r.get(&(table.db.clone(), table.name.clone())));
    let (diffs, touched) = find_diffs(run, c, table, &shape, recorded, rep)?;
    if diffs.is_empty() {
        return Ok(Exit::OK);
    }
    if cfg.print {
        print_fixes(table, &shape, &diffs, on_source, rep)?;
    }
    if !cfg.execute {
        return Ok(Exit::DIFFERENCES);
    }
    rep.fixed_on = Some(if on_source { "source" } else { "target" }.into());
    let fixed = rep.fixed.insert(0);
    apply(run.ctx, c, &shape, &diffs, on_source, cfg.batch_size, fixed)?;
    verify_fix(run, c, table, &shape, &touched, rep)
}

/// The table's shape on the source, or the exit of a table that cannot be
/// synced (missing on the target, no key without --allow-no-key); warns
/// about child tables.
fn check_table(
    run: &Run,
    c: &mut Conns,
    table: &Table,
    rep: &mut TableReport,
) -> Result<Result<Shape, Exit>> {
    let cfg = run.cfg;
    let full = table.full_name();
    if let Err(e) = load_table(&mut c.tgt_read, &table.db, &table.name) {
        if e.kind == ErrorKind::UnknownTable {
            rep.skip_reason = Some("the table does not exist on the target".into());
            warn(&format!(
                "{full}: skipped: it does not exist on {}",
                rep.target
            ));
            return Ok(Err(Exit::TABLE_SKIPPED));
        }
        return Err(e.into());
    }
    let shape = Shape::new(table, cfg.function.on(&c.src_server));
    rep.key = shape.key_name.clone();
    if shape.key.is_none() && !cfg.allow_no_key {
        let why = "no unique NOT NULL key: rows cannot be matched by key (--allow-no-key syncs whole-row groups)";
        rep.skip_reason = Some(why.into());
        warn(&format!("{full}: skipped: {why}"));
        return Ok(Err(Exit::TABLE_SKIPPED));
    }
    if cfg.check_child_tables && !table.referenced_by.is_empty() {
        let kids: Vec<String> = table
            .referenced_by
            .iter()
            .map(|f| {
                format!(
                    "{}.{} ({}, ON DELETE {})",
                    f.db, f.table, f.name, f.on_delete
                )
            })
            .collect();
        let w = format!(
            "{full} has child tables: {}; ox-table-sync never uses REPLACE, but deleting a row the target has and the source lacks also applies its ON DELETE action on the target",
            kids.join(", ")
        );
        warn(&w);
        rep.warnings.push(w);
    }
    Ok(Ok(shape))
}

/// Compares the table's ranges (the recorded chunks, or the whole table)
/// in one pair of snapshots; returns the differences in the order they are
/// fixed (deletes, updates, inserts) and the ranges that held them.
fn find_diffs(
    run: &Run,
    c: &mut Conns,
    table: &Table,
    shape: &Shape,
    recorded: Option<&Vec<RecordedChunk>>,
    rep: &mut TableReport,
) -> Result<(Vec<Diff>, Vec<Touched>)> {
    let cfg = run.cfg;
    open_snapshots(run, c)?;
    let ranges = match recorded {
        Some(chunks) => match recorded_ranges(cfg, table, shape, chunks) {
            Some(r) => r,
            None => {
                warn(&format!(
                    "{}: a recorded chunk boundary cannot be read back; comparing the whole table",
                    table.full_name()
                ));
                table_ranges(cfg, &mut c.src_read, table, shape)?
            }
        },
        None => table_ranges(cfg, &mut c.src_read, table, shape)?,
    };
    let mut diffs: Vec<Diff> = Vec::new();
    let mut touched: Vec<Touched> = Vec::new();
    for r in &ranges {
        run.ctx.cancel.check()?;
        let res = compare_range(
            &mut c.src_read,
            &mut c.tgt_read,
            shape,
            &r.cond,
            r.estimate,
            r.span,
            cfg.bucket_rows,
        )?;
        rep.ranges += 1;
        rep.rows_read += res.rows_read;
        rep.diff_buckets += res.diff_buckets;
        if let (false, Some(b)) = (res.diffs.is_empty(), res.buckets) {
            touched.push((r.cond.clone(), b, res.differing));
        }
        diffs.extend(res.diffs);
    }
    close_snapshots(c)?;
    // Recorded chunks are read with inclusive lower boundaries, so two
    // ranges can share rows (a boundary row; on a nullable index every
    // NULL-keyed row). One snapshot served every range, so a difference
    // seen twice is the same rows: keep it once, or a whole-row group
    // would be inserted or deleted twice.
    let mut seen = std::collections::HashSet::new();
    diffs.retain(|d| seen.insert(format!("{d:?}")));
    // Deletes first, then updates, then inserts: a row the target has in
    // excess may hold a unique value a changed or missing row needs.
    diffs.sort_by_key(|d| match d {
        Diff::Extra(_) | Diff::ExtraCopies(..) => 0,
        Diff::Changed(..) => 1,
        Diff::Missing(_) | Diff::MissingCopies(..) => 2,
    });
    for d in &diffs {
        match d {
            Diff::Missing(_) | Diff::MissingCopies(..) => rep.insert += d.rows(),
            Diff::Changed(..) => rep.update += 1,
            Diff::Extra(_) | Diff::ExtraCopies(..) => rep.delete += d.rows(),
        }
    }
    Ok((diffs, touched))
}

/// `--print`: the statements that fix the table, on stdout.
fn print_fixes(
    table: &Table,
    shape: &Shape,
    diffs: &[Diff],
    on_source: bool,
    rep: &TableReport,
) -> Result<()> {
    oxkit::report::mark_stdout_used();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "-- {}: {} to insert, {} to update, {} to delete on {}",
        table.full_name(),
        rep.insert,
        rep.update,
        rep.delete,
        rep.target
    )?;
    for d in diffs {
        let stmts = if on_source {
            vec![fix::through_source_snapshot(shape, d)]
        } else {
            fix::direct(shape, d)
        };
        for s in stmts {
            writeln!(out, "{s};")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Re-reads what was touched once the target has every fix (through
/// replication: once it reached the source's position).
fn verify_fix(
    run: &Run,
    c: &mut Conns,
    table: &Table,
    shape: &Shape,
    touched: &[Touched],
    rep: &mut TableReport,
) -> Result<Exit> {
    if run.p.through {
        let w = c.src_write.as_mut().context("no source write connection")?;
        let pos = c.src_server.gtid_position(w)?;
        oxkit::topology::wait_applied(
            &mut c.tgt_ctl,
            &c.tgt_server,
            &pos,
            run.cfg.replica_timeout,
            &run.ctx.cancel,
        )?;
    }
    open_snapshots(run, c)?;
    let mut left = 0;
    for (cond, buckets, which) in touched {
        let (read, d) = recheck(
            &mut c.src_read,
            &mut c.tgt_read,
            shape,
            cond,
            *buckets,
            which,
        )?;
        rep.rows_read += read;
        left += d.iter().map(Diff::rows).sum::<u64>();
    }
    close_snapshots(c)?;
    rep.left = Some(left);
    if left > 0 {
        warn(&format!(
            "{}: {left} rows still differ on {} after the fix",
            table.full_name(),
            rep.target
        ));
        return Ok(Exit::DIFFERENCES);
    }
    Ok(Exit::OK)
}

/// Applies `diffs` in batches, each one transaction, counting in `fixed`
/// the differences of every committed batch (and only those).
fn apply(
    ctx: &Context,
    c: &mut Conns,
    shape: &Shape,
    diffs: &[Diff],
    on_source: bool,
    batch: usize,
    fixed: &mut u64,
) -> Result<()> {
    for part in diffs.chunks(batch) {
        c.throttle.wait(&ctx.cancel)?;
        let mut stmts: Vec<String> = Vec::new();
        if on_source {
            let w = c.src_write.as_mut().context("no source write connection")?;
            w.run("starting a fix transaction", "START TRANSACTION")?;
            let r = (|| -> Result<()> {
                for d in part {
                    let key = fix::key_row(d);
                    let sql = format!(
                        "SELECT {} FROM {} WHERE {} FOR UPDATE",
                        shape
                            .cols
                            .iter()
                            .map(|c| oxkit::sql::quote_ident(&c.name))
                            .collect::<Vec<_>>()
                            .join(", "),
                        shape.table_sql,
                        fix::key_where(shape, key)
                    );
                    let cur: Option<mysql::Row> =
                        w.row("reading the source's current row", &sql)?;
                    let cur = cur.map(|r| r.unwrap());
                    stmts.push(match (d, cur.as_ref()) {
                        // The source's row now, by key: UPDATE when the
                        // replica has the key, else an upsert.
                        (Diff::Changed(..), Some(cur)) => fix::through_source_snapshot(
                            shape,
                            &Diff::Changed(cur.clone(), cur.clone()),
                        ),
                        (_, cur) => fix::through_source(shape, key, cur),
                    });
                }
                w.run("fixing rows through the source", &stmts.join(";\n"))?;
                w.run("committing a fix batch", "COMMIT")?;
                Ok(())
            })();
            if r.is_err() {
                let _ = w.run("rolling back a fix batch", "ROLLBACK");
            }
            r?;
            *fixed += part.iter().map(Diff::rows).sum::<u64>();
        } else {
            let w = c.tgt_write.as_mut().context("no target write connection")?;
            for d in part {
                stmts.extend(fix::direct(shape, d));
            }
            w.run("starting a fix transaction", "START TRANSACTION")?;
            let r = w
                .run("fixing rows on the target", &stmts.join(";\n"))
                .and_then(|()| w.run("committing a fix batch", "COMMIT"));
            if r.is_err() {
                let _ = w.run("rolling back a fix batch", "ROLLBACK");
            }
            r?;
            *fixed += part.iter().map(Diff::rows).sum::<u64>();
        }
    }
    Ok(())
}
