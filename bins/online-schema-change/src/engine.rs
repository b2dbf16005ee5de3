//! One run: connect, plan, and with `--execute` change the table.
//!
//! Phases of a copy, each recorded in the checkpoint ([`crate::state`]):
//! `init` (checkpoint table, shadow table and triggers being created),
//! `copying`, `checksum`, `postponed`, `cutover`. Anything that fails
//! before the swap is cleaned up here, in one place ([`cleanup`]), with a
//! fresh connection; a SIGKILL leaves everything for `--resume`.

use crate::capture::Capture;
use crate::copy::{compare_chunk, copy_chunk, recopy_chunk, trigger_sql};
use crate::cutover::{
    binlog_swap, bounded, instant_sql, lock_rename_swap, rebuild_fk_sql, swap_sql, Bound, SwapCtx,
};
use crate::names::Names;
use crate::plan::{create_clone, plan, refuse, show_create, Plan};
use crate::state::{self, Phase};
use crate::{Config, FkMethod, Method};
use anyhow::{Context as _, Result};
use oxkit::binlog::{master_position, Reader};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context, ExitError};
use oxkit::nibble::{self, ChunkKey, NibbleOptions, Nibbler};
use oxkit::progress::Progress;
use oxkit::schema::{load_table, load_table_without_children, Table};
use oxkit::server::Server;
use oxkit::throttle::{Throttle, Watched};
use oxkit::Exit;
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, Instant};

/// The summary printed at the end (`--format json` field names are
/// documented in the man page).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    db: String,
    table: String,
    alter: String,
    method: String,
    plan: String,
    nocopy_possible: bool,
    executed: bool,
    resumed: bool,
    rows_estimate: u64,
    estimated_seconds: f64,
    guards: Vec<String>,
    changed_columns: Vec<String>,
    children: Vec<String>,
    rows_copied: u64,
    chunks: u32,
    checksum_chunks: u32,
    chunks_recopied: u32,
    exact_compares: u32,
    copy_seconds: f64,
    checksum_seconds: f64,
    cut_over_attempts: u32,
    cut_over_seconds: f64,
    total_seconds: f64,
    old_table: Option<String>,
    binlog_changes: u64,
    binlog_keys_applied: u64,
    binlog_keys_waited: u64,
    method_note: Option<String>,
    exit_status: u8,
}

/// Rough time for copy and checksum: the rate `cargo xtask bench
/// online-schema-change` measured on a 2-core machine (4M sysbench rows,
/// copy and checksum together, unpaced: about 60k rows/s), slowed by the
/// pacing. Load, replica lag and row size change it a lot.
fn estimate_secs(rows: u64, cfg: &Config) -> f64 {
    rows as f64 / 60_000.0 * (1.0 + cfg.args.sleep_ratio)
}

/// Runs the tool against one table.
pub fn run(ctx: &Context, cfg: &Config, spec: ConnSpec) -> Result<Exit> {
    let started = Instant::now();
    let opts = cfg.args.conn.connect_options()?;
    let db = spec
        .database
        .clone()
        .ok_or_else(|| usage_error("the DSN names no database: add D=database"))?;
    let tname = spec
        .table
        .clone()
        .ok_or_else(|| usage_error("the DSN names no table: add t=table"))?;
    let names = Names::new(&db, &tname).map_err(|e| usage_error(format!("{e:#}")))?;
    let mut conn = conn::connect(&spec, &opts)?;
    crate::copy::classic_locking_reads(&mut conn);
    let server = Server::detect(&mut conn)?;
    let _run_lock = state::RunLock::take(conn::connect(&spec, &opts)?, &names)?;
    let table = load_table(&mut conn, &db, &tname)?;
    let create = show_create(&mut conn, &names, &tname)?;

    // Leftovers of an earlier run.
    let shadow_exists = names.exists(&mut conn, "looking for leftovers", &names.shadow)?;
    let state_exists = names.exists(&mut conn, "looking for leftovers", &names.state)?;
    let mut checkpoint = None;
    if shadow_exists || state_exists {
        if !cfg.args.resume {
            return Err(refuse(format!(
                "an earlier run left {}.{} / {}.{} behind; continue it with --resume, or drop them (and the osc_{tname}_* triggers) first",
                db, names.shadow, db, names.state
            )));
        }
        let cp = state::load(&mut conn, &names)?;
        let own_triggers = names
            .triggers
            .iter()
            .all(|n| table.triggers.iter().any(|t| &t.name == n));
        match cp {
            Some(cp)
                if cp.phase != Phase::Init
                    && shadow_exists
                    && (own_triggers || (cp.method == Method::Binlog && cp.binlog.is_some())) =>
            {
                if cp.alter != cfg.alter.text {
                    return Err(refuse(format!(
                        "the run to resume applied a different ALTER ({:?})",
                        cp.alter
                    )));
                }
                if cfg.args.method.is_some_and(|m| m != cp.method) {
                    return Err(refuse(format!(
                        "the run to resume used --method {}; resume it with that method",
                        cp.method.name()
                    )));
                }
                checkpoint = Some(cp);
            }
            _ => {
                log::warn!("the earlier run stopped before its copy began; starting over");
                cleanup(&spec, &opts, &names, ctx, cfg)?;
            }
        }
    } else if cfg.args.resume {
        log::warn!("--resume: nothing to resume for {db}.{tname}; starting a new run");
    }
    // Reload: a cleanup above removed the triggers.
    let table = if checkpoint.is_none() && (shadow_exists || state_exists) {
        load_table(&mut conn, &db, &tname)?
    } else {
        table
    };

    let shadow_schema = match &checkpoint {
        Some(_) => Some(load_table_without_children(&mut conn, &db, &names.shadow)?),
        None => None,
    };
    let plan = plan(
        &mut conn,
        &server,
        cfg,
        &names,
        &table,
        &create,
        shadow_schema,
    )?;
    let (method, method_note) = match &checkpoint {
        Some(cp) => (cp.method, None),
        None => choose_method(cfg, &mut conn, &server)?,
    };
    if let Some(note) = &method_note {
        eprintln!("ox-online-schema-change: note: {note}");
    }
    let mut report = Report {
        db: db.clone(),
        table: tname.clone(),
        alter: cfg.alter.text.clone(),
        method: method.name().into(),
        method_note,
        plan: if plan.instant && !cfg.args.force_copy {
            "instant".into()
        } else {
            "copy".into()
        },
        nocopy_possible: plan.nocopy,
        executed: cfg.args.execute,
        resumed: checkpoint.is_some(),
        rows_estimate: table.row_estimate,
        estimated_seconds: if plan.instant && !cfg.args.force_copy {
            0.0
        } else {
            estimate_secs(table.row_estimate, cfg)
        },
        guards: plan.guards.clone(),
        changed_columns: plan.changed.clone(),
        children: plan.children.clone(),
        ..Report::default()
    };

    let result = if cfg.args.dry_run {
        Ok(Exit::OK)
    } else if report.plan == "instant" {
        let bound = Bound {
            lock_wait: cfg.lock_wait,
            deadline: Instant::now() + cfg.cut_over_timeout,
        };
        let t = Instant::now();
        bounded(
            &mut conn,
            &ctx.cancel,
            bound,
            "instant ALTER",
            &instant_sql(&server, &names, &cfg.alter.text, cfg.lock_wait),
        )
        .map(|attempts| {
            report.cut_over_attempts = attempts;
            report.cut_over_seconds = t.elapsed().as_secs_f64();
            Exit::OK
        })
    } else {
        let mut swapped = false;
        let r = copy_and_swap(
            ctx,
            cfg,
            &spec,
            &opts,
            &server,
            &names,
            &table,
            &plan,
            checkpoint,
            method,
            &mut report,
            &mut swapped,
            &mut conn,
        );
        if let Err(e) = &r {
            if !swapped {
                log::warn!("cleaning up after: {e:#}");
                if let Err(c) = cleanup(&spec, &opts, &names, ctx, cfg) {
                    log::error!("cleanup failed: {c:#}; drop {db}.{}, {db}.{} and the osc_{tname}_* triggers by hand", names.shadow, names.state);
                }
            }
        }
        r
    };
    report.total_seconds = started.elapsed().as_secs_f64();
    let exit = match &result {
        Ok(e) => *e,
        Err(_) => return result,
    };
    report.exit_status = exit.code();
    oxkit::report::emit(cfg.args.output.format, &report, |w| print_text(w, &report))?;
    Ok(exit)
}

fn print_text(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let mut t = oxkit::report::Table::new(["", ""]);
    t.row(["table", &format!("{}.{}", r.db, r.table)]);
    t.row(["alter", &r.alter]);
    let plan = if r.plan == "instant" {
        "instant (ALGORITHM=INSTANT on the table itself; no copy)".to_string()
    } else {
        format!(
            "copy (method {}; without a copy and LOCK=NONE: {})",
            r.method,
            if r.nocopy_possible {
                "possible, but it locks replicas for its whole run"
            } else {
                "not possible"
            }
        )
    };
    t.row(["plan", &plan]);
    t.row(["rows (estimate)", &r.rows_estimate.to_string()]);
    if r.plan == "copy" {
        t.row([
            "copy time (estimate)",
            &format!("{:.0}s", r.estimated_seconds),
        ]);
    }
    for c in &r.changed_columns {
        t.row(["column change", c]);
    }
    for g in &r.guards {
        t.row(["note", g]);
    }
    if let Some(m) = &r.method_note {
        t.row(["note", m]);
    }
    if r.executed {
        if r.plan == "copy" {
            t.row(["rows copied", &r.rows_copied.to_string()]);
            t.row(["chunks", &r.chunks.to_string()]);
            t.row([
                "checksum",
                &format!(
                    "{} chunks, {} copied again",
                    r.checksum_chunks, r.chunks_recopied
                ),
            ]);
            t.row(["copy time", &format!("{:.1}s", r.copy_seconds)]);
            t.row(["checksum time", &format!("{:.1}s", r.checksum_seconds)]);
            if r.method == "binlog" {
                t.row([
                    "binary log",
                    &format!(
                        "{} row changes read, {} keys applied ({} one by one: locked or gone)",
                        r.binlog_changes, r.binlog_keys_applied, r.binlog_keys_waited
                    ),
                ]);
            }
        }
        t.row([
            "swap",
            &format!(
                "{} attempt(s), {:.2}s",
                r.cut_over_attempts, r.cut_over_seconds
            ),
        ]);
        if let Some(o) = &r.old_table {
            t.row(["old table kept", o]);
        }
        t.row(["total time", &format!("{:.1}s", r.total_seconds)]);
        t.row(["result", "done"]);
    } else {
        t.row(["result", "dry run: nothing changed (use --execute)"]);
    }
    write!(w, "{t}")
}

/// Drops what a run created before the swap: triggers first (they write
/// into the shadow), then the shadow and the checkpoint.
fn cleanup(
    spec: &ConnSpec,
    opts: &ConnectOptions,
    n: &Names,
    ctx: &Context,
    cfg: &Config,
) -> Result<()> {
    // Not cut short by the signal handling (it may have begun before the
    // signal): triggers left behind would keep writing into the shadow.
    let _critical = ctx.cancel.critical_section();
    let mut c = conn::connect(spec, opts).context("connecting to clean up")?;
    // Cleanup must finish even after Ctrl-C.
    let cancel = oxkit::entry::Cancel::new();
    let bound = Bound {
        lock_wait: cfg.lock_wait,
        deadline: Instant::now() + cfg.cut_over_timeout.max(Duration::from_secs(60)),
    };
    for t in &n.triggers {
        bounded(
            &mut c,
            &cancel,
            bound,
            "dropping a trigger",
            &format!("DROP TRIGGER IF EXISTS {}", n.q(t)),
        )?;
    }
    for t in [&n.shadow, &n.state] {
        c.run("cleaning up", &format!("DROP TABLE IF EXISTS {}", n.q(t)))?;
    }
    // The sentry only when it is one: after a swap whose run was killed
    // before the old table got its final name, that name holds the
    // original table.
    let sentry: Option<u64> = c.row(
        "cleaning up",
        &format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} AND TABLE_COMMENT = {}",
            oxkit::sql::quote_str(&n.db),
            oxkit::sql::quote_str(&n.del),
            oxkit::sql::quote_str(crate::cutover::SENTRY_COMMENT)
        ),
    )?;
    if sentry.unwrap_or(0) > 0 {
        c.run(
            "cleaning up",
            &format!("DROP TABLE IF EXISTS {}", n.q(&n.del)),
        )?;
    }
    Ok(())
}

/// The copy's session and whether it copies with share locks (see
/// [`crate::copy`]).
fn connect_copy(spec: &ConnSpec, opts: &ConnectOptions) -> Result<(Conn, bool)> {
    let mut c = conn::connect(spec, opts)?;
    crate::copy::classic_locking_reads(&mut c);
    c.run("session setup", "SET SESSION innodb_lock_wait_timeout = 3")?;
    let locking = !crate::copy::lock_free_session(&mut c);
    if locking {
        c.run(
            "session setup",
            "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        )?;
        log::info!("the copy reads with share locks (the session cannot use row-based logging)");
    }
    Ok((c, locking))
}

fn throttle(cfg: &Config, spec: &ConnSpec, opts: &ConnectOptions) -> Result<Throttle> {
    let mut watched = Vec::new();
    match oxkit::topology::discover(spec, &cfg.recursion, 1, opts) {
        Ok(found) => {
            for r in found {
                let mut c = conn::connect(&r.spec, opts)
                    .with_context(|| format!("connecting to replica {}", r.label))?;
                let server = Server::detect(&mut c)?;
                watched.push(Watched {
                    label: r.label.clone(),
                    conn: c,
                    server,
                });
            }
        }
        Err(e) => log::warn!("looking for replicas: {e:#}; replica lag is not watched"),
    }
    Ok(Throttle::new(
        cfg.throttle.clone(),
        Some(conn::connect(spec, opts)?),
        watched,
    ))
}

fn sleep_checking(ctx: &Context, d: Duration) -> Result<()> {
    let until = Instant::now() + d;
    while Instant::now() < until {
        ctx.cancel.check()?;
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
    Ok(())
}

fn nibbler(table: &Table, plan: &Plan, cfg: &Config) -> Nibbler {
    nibbler_timed(table, plan, cfg, cfg.chunk_time)
}

fn nibbler_timed(table: &Table, plan: &Plan, cfg: &Config, chunk_time: Duration) -> Nibbler {
    let target = (chunk_time > Duration::ZERO).then_some(chunk_time);
    Nibbler::new(
        table,
        ChunkKey::new(table, &plan.key),
        None,
        NibbleOptions {
            initial_rows: cfg.args.chunk_size,
            target,
            max_rows: 500_000,
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn copy_and_swap(
    ctx: &Context,
    cfg: &Config,
    spec: &ConnSpec,
    opts: &ConnectOptions,
    server: &Server,
    n: &Names,
    table: &Table,
    plan: &Plan,
    checkpoint: Option<state::Checkpoint>,
    method: Method,
    report: &mut Report,
    swapped: &mut bool,
    conn: &mut Conn,
) -> Result<Exit> {
    let cancel = &ctx.cancel;
    let ddl_bound = || Bound {
        lock_wait: cfg.lock_wait,
        deadline: Instant::now() + cfg.cut_over_timeout,
    };
    let (mut copy, locking) = connect_copy(spec, opts)?;
    let throttle = throttle(cfg, spec, opts)?;

    let mut nib = nibbler(table, plan, cfg);
    // Binary log capture starts before the shadow table exists: every
    // change committed after `from` is read, and the copy (which starts
    // later) sees everything committed before it.
    let mut capture = None;
    if method == Method::Binlog {
        let from = match &checkpoint {
            Some(cp) => cp
                .binlog
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the checkpoint holds no binary log position"))?,
            None => master_position(conn, server)?,
        };
        let reader = Reader::start(spec, opts, server, &n.db, &n.table, from.clone())
            .with_context(|| format!("reading the binary log from {from}"))?;
        let cap = Capture::start(reader, server, table, plan, from)?;
        capture = Some(cap);
    }
    match &checkpoint {
        None => {
            let from = capture.as_ref().map(|c| c.applied.clone());
            state::create(conn, n, &cfg.alter.text, method, from.as_ref())?;
            let create = show_create(conn, n, &n.table)?;
            create_clone(conn, n, &create, &n.shadow)?;
            conn.run_one(
                "applying the ALTER to the shadow table",
                &format!("ALTER TABLE {} {}", n.q(&n.shadow), cfg.alter.text),
            )?;
            if method == Method::Triggers {
                for sql in trigger_sql(n, plan) {
                    cancel.check()?;
                    bounded(conn, cancel, ddl_bound(), "creating a trigger", &sql)?;
                }
            }
            state::set_phase(conn, n, Phase::Copying)?;
        }
        Some(cp) => {
            log::warn!(
                "resuming {}.{}: {} rows copied in {} chunks by the earlier run",
                n.db,
                n.table,
                cp.rows,
                cp.chunk
            );
            report.rows_copied = cp.rows;
            if cp.chunk > 0 {
                nib.resume_after(cp.chunk, cp.upper.clone(), cp.upper_excl);
            }
        }
    }

    // The copy.
    let copy_start = Instant::now();
    let progress = Progress::new(ctx, table.row_estimate.max(1), "copying rows");
    let mut last_log = Instant::now();
    let mut copied_now = 0u64;
    loop {
        throttle.wait(cancel)?;
        let Some(chunk) = nib.next(&mut copy)? else {
            break;
        };
        let cond = nib.key.range_sql(&chunk.lower, &chunk.upper);
        let t = Instant::now();
        let rows = copy_chunk(
            &mut copy,
            cancel,
            n,
            plan,
            &cond,
            cfg.args.allow_data_loss,
            locking,
        )
        .with_context(|| format!("table {}.{} chunk {}", n.db, n.table, chunk.number))?;
        let took = t.elapsed();
        nib.observe_chunk(&chunk, rows, took);
        report.rows_copied += rows;
        report.chunks += 1;
        copied_now += rows;
        let (upper, excl) = match &chunk.upper {
            nibble::Bound::Open => (None, false),
            nibble::Bound::Incl(v) => (Some(v), false),
            nibble::Bound::Excl(v) => (Some(v), true),
        };
        if let Some(cap) = capture.as_mut() {
            // Everything read so far, after the chunk (see crate::capture).
            cap.apply(&mut copy, cancel, n, plan, cfg.args.allow_data_loss, false)?;
            state::save_binlog(&mut copy, n, &cap.applied)?;
        }
        state::save_chunk(&mut copy, n, chunk.number, upper, excl, report.rows_copied)?;
        let rate = copied_now as f64 / copy_start.elapsed().as_secs_f64().max(0.001);
        progress.inc(rows);
        progress.message(format!("{rate:.0} rows/s"));
        if last_log.elapsed() > Duration::from_secs(10) {
            last_log = Instant::now();
            let left = table.row_estimate.saturating_sub(report.rows_copied);
            log::info!(
                "copied {} of ~{} rows, {rate:.0} rows/s, ETA {:.0}s",
                report.rows_copied,
                table.row_estimate,
                left as f64 / rate.max(1.0)
            );
        }
        if cfg.args.sleep_ratio > 0.0 {
            sleep_checking(ctx, took.mul_f64(cfg.args.sleep_ratio))?;
        }
    }
    progress.finish();
    report.copy_seconds = copy_start.elapsed().as_secs_f64();

    // Checksum, and again after a postponement.
    state::set_phase(conn, n, Phase::Checksum)?;
    checksum_pass(
        ctx,
        cfg,
        &mut copy,
        &throttle,
        n,
        table,
        plan,
        report,
        capture.as_mut(),
    )?;
    if let Some(f) = &cfg.args.postpone_cut_over {
        if f.exists() {
            state::set_phase(conn, n, Phase::Postponed)?;
            log::warn!(
                "copy complete and in sync; the swap waits until {} is removed",
                f.display()
            );
            while f.exists() {
                sleep_checking(ctx, Duration::from_millis(200))?;
                if let Some(cap) = capture.as_mut() {
                    cap.apply(&mut copy, cancel, n, plan, cfg.args.allow_data_loss, false)?;
                    state::save_binlog(&mut copy, n, &cap.applied)?;
                }
            }
            state::set_phase(conn, n, Phase::Checksum)?;
            checksum_pass(
                ctx,
                cfg,
                &mut copy,
                &throttle,
                n,
                table,
                plan,
                report,
                capture.as_mut(),
            )?;
        }
    }

    // The swap.
    state::set_phase(conn, n, Phase::Cutover)?;
    let t = Instant::now();
    cancel.check()?;
    if let Some(cap) = capture.as_mut() {
        // Catch up with the writes still running, so the time writes are
        // stopped during the swap stays short.
        cap.apply(&mut copy, cancel, n, plan, cfg.args.allow_data_loss, false)?;
        let sw = SwapCtx {
            spec,
            opts,
            n,
            plan,
            allow_data_loss: cfg.args.allow_data_loss,
            bound: ddl_bound(),
            catch_up: Duration::from_secs(u64::from(cfg.lock_wait).max(2)),
        };
        report.cut_over_attempts = if server.flavor == oxkit::server::Flavor::MariaDB {
            binlog_swap(conn, cancel, &sw, cap)?
        } else {
            lock_rename_swap(conn, cancel, &sw, cap)?
        };
        *swapped = true;
        report.binlog_changes = cap.changes;
        report.binlog_keys_applied = cap.keys_applied;
        report.binlog_keys_waited = cap.keys_waited;
    } else {
        report.cut_over_attempts = bounded(
            conn,
            cancel,
            ddl_bound(),
            "swapping the tables",
            &swap_sql(server, n, cfg.lock_wait),
        )?;
        *swapped = true;
    }
    report.cut_over_seconds = t.elapsed().as_secs_f64();

    // After the swap nothing may be undone; failures are reported with
    // what is left to do.
    let after = oxkit::entry::Cancel::new();
    if let Some(cap) = capture.take() {
        cap.stop();
    }
    if method == Method::Binlog && server.flavor == oxkit::server::Flavor::MariaDB {
        // MariaDB's binary log swap renamed the original to the sentry's
        // name.
        bounded(
            conn,
            &after,
            ddl_bound(),
            "renaming the old table",
            &format!("RENAME TABLE {} TO {}", n.q(&n.del), n.q(&n.old)),
        )
        .with_context(|| {
            format!(
                "after the swap: the original table is {}.{}; rename or drop it by hand",
                n.db, n.del
            )
        })?;
    }
    for trg in &n.triggers {
        bounded(
            conn,
            &after,
            ddl_bound(),
            "dropping a trigger",
            &format!("DROP TRIGGER IF EXISTS {}", n.q(trg)),
        )
        .with_context(|| format!("after the swap: drop trigger {}.{trg} by hand", n.db))?;
    }
    let children: Vec<_> = table
        .referenced_by
        .iter()
        .filter(|f| !(f.db == table.db && f.table == table.name))
        .collect();
    let mut keep_old = cfg.args.no_drop_old_table;
    if !children.is_empty() {
        if cfg.args.alter_foreign_keys_method == FkMethod::None {
            log::warn!(
                "--alter-foreign-keys-method none: child tables still reference {}.{}, which is kept",
                n.db,
                n.old
            );
            keep_old = true;
        } else {
            conn.run("session setup", "SET SESSION foreign_key_checks = 0")?;
            for fk in children {
                let sql = rebuild_fk_sql(fk, n, |c| cfg.alter.new_name(c).to_string());
                bounded(
                    conn,
                    &after,
                    ddl_bound(),
                    "re-pointing a child foreign key",
                    &sql,
                )
                .with_context(|| {
                    format!(
                        "after the swap: {}.{} still references {}.{}; fix it with: {sql}",
                        fk.db, fk.table, n.db, n.old
                    )
                })?;
            }
            conn.run("session setup", "SET SESSION foreign_key_checks = 1")?;
        }
    }
    if keep_old {
        report.old_table = Some(format!("{}.{}", n.db, n.old));
    } else {
        conn.run(
            "dropping the old table",
            &format!("DROP TABLE IF EXISTS {}", n.q(&n.old)),
        )?;
    }
    conn.run(
        "dropping the checkpoint",
        &format!("DROP TABLE IF EXISTS {}", n.q(&n.state)),
    )?;
    Ok(if throttle.replication_stopped_seen() {
        log::warn!("replication was seen stopped on a replica during the run");
        Exit::REPLICATION_STOPPED
    } else {
        Exit::OK
    })
}

/// Lock-free compares of a differing chunk, each after catching up with the
/// binary log, before the locking exact compare.
const LAG_RETRIES: u32 = 10;

#[allow(clippy::too_many_arguments)]
fn checksum_pass(
    ctx: &Context,
    cfg: &Config,
    copy: &mut Conn,
    throttle: &Throttle,
    n: &Names,
    table: &Table,
    plan: &Plan,
    report: &mut Report,
    mut capture: Option<&mut Capture>,
) -> Result<()> {
    let start = Instant::now();
    // With binary log capture a chunk differs while a change to one of its
    // rows is not applied yet: the odds grow with the chunk's rows, so the
    // checksum walks chunks a fifth of --chunk-time (a lag difference then
    // clears on a lock-free retry far more often than it reaches the
    // locking compare).
    let chunk_time = if capture.is_some() {
        cfg.chunk_time / 5
    } else {
        cfg.chunk_time
    };
    let mut nib = nibbler_timed(table, plan, cfg, chunk_time);
    let mut differing = 0u32;
    while let Some(chunk) = nib.next(copy)? {
        throttle.wait(&ctx.cancel)?;
        let cond = nib.key.range_sql(&chunk.lower, &chunk.upper);
        let t = Instant::now();
        if let Some(cap) = capture.as_deref_mut() {
            cap.apply(copy, &ctx.cancel, n, plan, cfg.args.allow_data_loss, false)?;
        }
        let (mut a, mut b) = compare_chunk(copy, &ctx.cancel, n, plan, &cond)?;
        nib.observe_chunk(&chunk, a.0, t.elapsed());
        report.checksum_chunks += 1;
        // Binary log capture lags the original by the changes not applied
        // yet: a difference is most likely one of those. Catch up with the
        // server's position and compare again, still without locks, a few
        // times; only a chunk that keeps differing is compared exactly (the
        // range share-locked, the capture caught up: Capture::compare_exact).
        // The share locks can deadlock with the application's writes, and
        // InnoDB then rolls back the application's transaction, so they
        // are the last resort, not the first.
        if a != b {
            if let Some(cap) = capture.as_deref_mut() {
                for _ in 0..LAG_RETRIES {
                    cap.settle(copy, &ctx.cancel, n, plan, cfg.args.allow_data_loss)?;
                    (a, b) = compare_chunk(copy, &ctx.cancel, n, plan, &cond)?;
                    if a == b {
                        break;
                    }
                }
                if a != b {
                    report.exact_compares += 1;
                    (a, b) = cap.compare_exact(
                        copy,
                        &ctx.cancel,
                        n,
                        plan,
                        &cond,
                        cfg.args.allow_data_loss,
                    )?;
                }
            }
        }
        let mut tries = 0;
        let max_tries = if cfg.args.allow_data_loss { 1 } else { 3 };
        while a != b && tries < max_tries {
            tries += 1;
            // Expected now and then with lock-free copying (see crate::copy).
            log::info!(
                "chunk {} differs (original {} rows, copy {} rows); copying it again",
                chunk.number,
                a.0,
                b.0
            );
            recopy_chunk(copy, &ctx.cancel, n, plan, &cond)?;
            report.chunks_recopied += 1;
            (a, b) = match capture.as_deref_mut() {
                Some(cap) => {
                    cap.compare_exact(copy, &ctx.cancel, n, plan, &cond, cfg.args.allow_data_loss)?
                }
                None => compare_chunk(copy, &ctx.cancel, n, plan, &cond)?,
            };
        }
        if a != b {
            differing += 1;
        }
    }
    report.checksum_seconds += start.elapsed().as_secs_f64();
    if differing > 0 && cfg.args.allow_data_loss {
        log::warn!(
            "{differing} chunk(s) differ from the copy: rows or values the ALTER drops (--allow-data-loss)"
        );
        return Ok(());
    }
    if differing > 0 {
        return Err(ExitError {
            exit: Exit::DIFFERENCES,
            message: format!(
                "{differing} chunk(s) of {}.{} still differ from the copy after copying them again; refusing to swap (the ALTER may change values the checksum compares, or drop rows)",
                n.db, n.table
            ),
        }
        .into());
    }
    Ok(())
}

/// The change capture method: `--method`, or by default the binary log
/// when the server's can be read, else triggers (with a note saying why).
fn choose_method(
    cfg: &Config,
    conn: &mut Conn,
    server: &Server,
) -> Result<(Method, Option<String>)> {
    let why_not = if server.flavor != oxkit::server::Flavor::MariaDB
        && server.version < oxkit::server::Version::new(8, 0, 13)
    {
        // The swap renames under LOCK TABLES (see crate::cutover).
        Some(format!(
            "binary log capture's swap needs MySQL 8.0.13 or later (RENAME TABLE under LOCK TABLES), and the server is {}",
            server.describe()
        ))
    } else {
        oxkit::binlog::usable(conn, server)?
    };
    match (cfg.args.method, why_not) {
        (Some(Method::Triggers), _) => Ok((Method::Triggers, None)),
        (Some(Method::Binlog), None) => Ok((Method::Binlog, None)),
        (Some(Method::Binlog), Some(why)) => Err(refuse(format!("--method binlog: {why}"))),
        (None, None) => Ok((Method::Binlog, None)),
        (None, Some(why)) => Ok((
            Method::Triggers,
            Some(format!("using triggers, not the binary log: {why}")),
        )),
    }
}
