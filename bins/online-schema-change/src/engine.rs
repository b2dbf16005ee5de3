//! One run: connect, look for an earlier run's leftovers, plan, and with
//! `--execute` either make the change instantly or copy the table
//! ([`crate::copier`]) and swap.
//!
//! Anything that fails before the swap is cleaned up here, in one place
//! ([`Site::cleanup`]), with a fresh connection; a SIGKILL leaves
//! everything for `--resume`.

use crate::cutover::{bounded, instant_sql, Ask, Bound};
use crate::names::Names;
use crate::plan::{plan, refuse, show_create, Plan};
use crate::state::{self, Checkpoint, Phase};
use crate::{Action, Config, Method};
use anyhow::{Context as _, Result};
use oxkit::conn::{self, Conn, ConnectOptions};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::schema::{load_table, load_table_without_children, Table};
use oxkit::server::Server;
use oxkit::Exit;
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, Instant};

/// The summary printed at the end (`--format json` field names are
/// documented in the man page).
#[derive(Debug, Serialize)]
pub struct Report {
    db: String,
    table: String,
    alter: String,
    method: Method,
    plan: PlanKind,
    nocopy_possible: bool,
    executed: bool,
    resumed: bool,
    rows_estimate: u64,
    estimated_seconds: f64,
    guards: Vec<String>,
    changed_columns: Vec<String>,
    children: Vec<String>,
    #[serde(flatten)]
    done: Done,
    method_note: Option<String>,
    exit_status: u8,
}

/// What an executed run did (zero for a dry run); the fields are the
/// man page's (OUTPUT).
#[derive(Debug, Default, Serialize)]
pub struct Done {
    pub rows_copied: u64,
    pub chunks: u32,
    pub rounds: u32,
    pub rounds_yielded: u32,
    pub checksum_chunks: u32,
    pub chunks_recopied: u32,
    pub exact_compares: u32,
    pub copy_seconds: f64,
    pub checksum_seconds: f64,
    pub cut_over_attempts: u32,
    pub cut_over_seconds: f64,
    pub total_seconds: f64,
    pub old_table: Option<String>,
    pub binlog_changes: u64,
    pub binlog_keys_applied: u64,
    pub binlog_keys_waited: u64,
    /// Binary log capture: the position the swap caught up to (where the
    /// new table's changes begin).
    #[serde(skip)]
    pub swapped_at: Option<oxkit::binlog::Position>,
}

/// How the change is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanKind {
    /// `ALGORITHM=INSTANT` on the table itself.
    Instant,
    /// A shadow table, copied and swapped in.
    Copy,
}

/// Where a run works and with which settings: enough to clean up.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    /// Ctrl-C and the progress display.
    pub ctx: &'a Context,
    pub cfg: &'a Config,
    /// The server (the DSN).
    pub spec: &'a ConnSpec,
    pub opts: &'a ConnectOptions,
    /// The table's and its helpers' names.
    pub n: &'a Names,
    /// The server's flavour and version.
    pub server: &'a Server,
}

impl Site<'_> {
    /// The limits of one DDL on the live table.
    pub fn ddl_bound(&self) -> Bound {
        Bound {
            lock_wait: self.cfg.lock_wait,
            deadline: Instant::now() + self.cfg.cut_over_timeout,
            ask: Ask::of(self.server),
        }
    }

    /// Looks for an earlier run's shadow table and checkpoint: refused
    /// without `--resume`; with it, the checkpoint to continue from, or
    /// (when the earlier run stopped before its copy began) nothing, after
    /// cleaning up. Returns the table, read again after a cleanup (which
    /// drops the triggers).
    fn leftovers(&self, conn: &mut Conn, table: Table) -> Result<(Table, Option<Checkpoint>)> {
        let (cfg, n) = (self.cfg, self.n);
        let shadow_exists = n.exists(conn, "looking for leftovers", &n.shadow)?;
        let state_exists = n.exists(conn, "looking for leftovers", &n.state)?;
        if !(shadow_exists || state_exists) {
            if cfg.resume {
                log::warn!(
                    "--resume: nothing to resume for {}.{}; starting a new run",
                    n.db,
                    n.table
                );
            }
            return Ok((table, None));
        }
        if state_exists {
            if let Some(cp) = state::load(conn, n)?.filter(|cp| cp.phase == Phase::Kept) {
                return Err(refuse(format!(
                    "{}.{} is kept for --revert ({}.{} in phase kept, ALTER {:?}); run --revert or --drop-old-table first",
                    n.db, n.old, n.db, n.state, cp.alter
                )));
            }
        }
        if !cfg.resume {
            return Err(refuse(format!(
                "an earlier run left {}.{} / {}.{} behind; continue it with --resume, or drop them (and the osc_{}_* triggers) first",
                n.db, n.shadow, n.db, n.state, n.table
            )));
        }
        let own_triggers = n
            .triggers
            .iter()
            .all(|name| table.triggers.iter().any(|t| &t.name == name));
        match state::load(conn, n)? {
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
                if cfg.method.is_some_and(|m| m != cp.method) {
                    return Err(refuse(format!(
                        "the run to resume used --method {}; resume it with that method",
                        cp.method.name()
                    )));
                }
                // Killed inside the swap's locked window: the user's
                // triggers go back on the original before anything is
                // applied to the shadow again (they would fire there).
                let moved = crate::triggers::read(conn, n, &n.shadow)?;
                crate::triggers::put_back(conn, n, &moved)?;
                let table = if moved.is_empty() {
                    table
                } else {
                    load_table(conn, &n.db, &n.table)?
                };
                Ok((table, Some(cp)))
            }
            _ => {
                log::warn!("the earlier run stopped before its copy began; starting over");
                self.cleanup()?;
                Ok((load_table(conn, &n.db, &n.table)?, None))
            }
        }
    }

    /// Drops what a run created before the swap: triggers first (they
    /// write into the shadow), then the shadow and the checkpoint.
    fn cleanup(&self) -> Result<()> {
        let Site {
            ctx,
            cfg,
            spec,
            opts,
            n,
            server,
        } = *self;
        // Not cut short by the signal handling (it may have begun before the
        // signal): triggers left behind would keep writing into the shadow.
        let _critical = ctx.cancel.critical_section();
        let mut c = conn::connect(spec, opts).context("connecting to clean up")?;
        // Cleanup must finish even after Ctrl-C.
        let cancel = oxkit::entry::Cancel::new();
        let bound = Bound {
            lock_wait: cfg.lock_wait,
            deadline: Instant::now() + cfg.cut_over_timeout.max(Duration::from_secs(60)),
            ask: Ask::of(server),
        };
        for t in &n.triggers {
            bounded(
                &mut c,
                &cancel,
                bound,
                &[(&n.db, &n.table)],
                "dropping a trigger",
                &format!("DROP TRIGGER IF EXISTS {}", n.q(t)),
            )?;
        }
        // A run stopped inside the swap's locked window may have left the
        // user's triggers on the shadow: they go back on the original
        // before the shadow is dropped.
        if n.exists(&mut c, "cleaning up", &n.shadow)? {
            let moved = crate::triggers::read(&mut c, n, &n.shadow)?;
            crate::triggers::put_back(&mut c, n, &moved)?;
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
}

/// A planned run: the [`Site`] and what planning learned.
pub struct Job<'a> {
    pub site: Site<'a>,
    /// The original table.
    pub table: &'a Table,
    pub plan: &'a Plan,
    /// How changes reach the shadow table.
    pub method: Method,
}

impl<'a> std::ops::Deref for Job<'a> {
    type Target = Site<'a>;
    fn deref(&self) -> &Site<'a> {
        &self.site
    }
}

/// Rough time for copy and checksum: the rate `cargo xtask bench
/// online-schema-change` measured on a 2-core machine (4M sysbench rows,
/// copy and checksum together, unpaced: about 60k rows/s), slowed by the
/// pacing. Load, replica lag and row size change it a lot.
fn estimate_secs(rows: u64, cfg: &Config) -> f64 {
    rows as f64 / 60_000.0 * (1.0 + cfg.sleep_ratio)
}

/// The names of the table the DSN names.
fn target_names(spec: &ConnSpec) -> Result<Names> {
    let db = spec
        .database
        .as_deref()
        .ok_or_else(|| usage_error("the DSN names no database: add D=database"))?;
    let table = spec
        .table
        .as_deref()
        .ok_or_else(|| usage_error("the DSN names no table: add t=table"))?;
    Names::new(db, table).map_err(|e| usage_error(format!("{e:#}")))
}

/// Runs the tool against one table.
pub fn run(ctx: &Context, cfg: &Config, spec: ConnSpec) -> Result<Exit> {
    let started = Instant::now();
    let opts = cfg.conn.options.clone();
    let names = target_names(&spec)?;
    let mut conn = conn::connect(&spec, &opts)?;
    crate::copy::classic_locking_reads(&mut conn);
    let server = Server::detect(&mut conn)?;
    let site = Site {
        ctx,
        cfg,
        spec: &spec,
        opts: &opts,
        n: &names,
        server: &server,
    };
    let _run_lock = state::RunLock::take(conn::connect(&spec, &opts)?, &names)?;
    match cfg.action {
        Action::Revert => return crate::keep::revert(&site, &mut conn, started),
        Action::DropOldTable => return crate::keep::drop_old(&site, &mut conn, started),
        Action::Alter => {}
    }
    let table = load_table(&mut conn, &names.db, &names.table)?;
    let create = show_create(&mut conn, &names, &names.table)?;
    let (table, checkpoint) = site.leftovers(&mut conn, table)?;

    let shadow_schema = match &checkpoint {
        Some(_) => Some(load_table_without_children(
            &mut conn,
            &names.db,
            &names.shadow,
        )?),
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
    let copy = !plan.instant || cfg.force_copy;
    let keep_triggers = copy && !plan.user_triggers.is_empty();
    let (method, method_note) = match &checkpoint {
        Some(cp) => (cp.method, None),
        None => choose_method(cfg, &mut conn, &server, keep_triggers.then_some(&table))?,
    };
    if keep_triggers {
        if method == Method::Triggers {
            return Err(refuse(trigger_method_refusal(&table, &plan)));
        }
        crate::plan::preflight_triggers(
            &mut conn,
            &server,
            &names,
            &cfg.alter,
            &create,
            &plan.user_triggers,
        )?;
    }
    if cfg.keep_old_table {
        if method != Method::Binlog {
            return Err(refuse(format!(
                "--keep-old-table keeps the original in sync from the binary log, and the run uses triggers: {}",
                method_note.as_deref().unwrap_or("--method triggers")
            )));
        }
        crate::keep::revertible(&table, &plan.new_table, &plan.pairs, &cfg.alter, &plan.key)?;
    }
    if let Some(note) = &method_note {
        log::warn!("note: {note}");
    }
    let job = Job {
        site,
        table: &table,
        plan: &plan,
        method,
    };
    let mut report = Report::planned(&job, method_note, checkpoint.is_some());
    let exit = if !cfg.execute {
        Exit::OK
    } else if report.plan == PlanKind::Instant {
        instant(&job, &mut conn, &mut report.done)?
    } else {
        copy_and_swap(&job, &mut conn, checkpoint, &mut report.done)?
    };
    report.done.total_seconds = started.elapsed().as_secs_f64();
    report.exit_status = exit.code();
    oxkit::report::emit(cfg.format, &report, |w| print_text(w, &report))?;
    Ok(exit)
}

impl Report {
    /// The report of a planned run, before anything is done.
    fn planned(job: &Job<'_>, method_note: Option<String>, resumed: bool) -> Report {
        let (cfg, plan, table) = (job.cfg, job.plan, job.table);
        let instant = plan.instant && !cfg.force_copy;
        Report {
            db: job.n.db.clone(),
            table: job.n.table.clone(),
            alter: cfg.alter.text.clone(),
            method: job.method,
            method_note,
            plan: if instant {
                PlanKind::Instant
            } else {
                PlanKind::Copy
            },
            nocopy_possible: plan.nocopy,
            executed: cfg.execute,
            resumed,
            rows_estimate: table.row_estimate,
            estimated_seconds: if instant {
                0.0
            } else {
                estimate_secs(table.row_estimate, cfg)
            },
            guards: plan.guards.clone(),
            changed_columns: plan.changed.clone(),
            children: plan.children.clone(),
            done: Done::default(),
            exit_status: 0,
        }
    }
}

/// The instant ALTER on the table itself.
fn instant(job: &Job<'_>, conn: &mut Conn, done: &mut Done) -> Result<Exit> {
    let t = Instant::now();
    done.cut_over_attempts = bounded(
        conn,
        &job.ctx.cancel,
        job.ddl_bound(),
        &[(&job.n.db, &job.n.table)],
        "instant ALTER",
        &instant_sql(job.n, &job.cfg.alter.text),
    )?;
    done.cut_over_seconds = t.elapsed().as_secs_f64();
    Ok(Exit::OK)
}

/// The copy and the swap, cleaned up when anything before the swap
/// fails, then what is left after the swap.
fn copy_and_swap(
    job: &Job<'_>,
    conn: &mut Conn,
    checkpoint: Option<Checkpoint>,
    done: &mut Done,
) -> Result<Exit> {
    let replication_stopped = match crate::copier::copy_to_swap(job, conn, checkpoint, done) {
        Ok(stopped) => stopped,
        Err(e) => {
            log::warn!("cleaning up after: {e:#}");
            if let Err(c) = job.cleanup() {
                let n = job.n;
                log::error!(
                    "cleanup failed: {c:#}; drop {db}.{}, {db}.{} and the osc_{}_* triggers by hand",
                    n.shadow,
                    n.state,
                    n.table,
                    db = n.db
                );
            }
            return Err(e);
        }
    };
    crate::copier::after_swap(job, conn, done)?;
    if job.cfg.keep_old_table {
        crate::keep::keep(job, conn, done)?;
    }
    Ok(if replication_stopped {
        log::warn!("replication was seen stopped on a replica during the run");
        Exit::REPLICATION_STOPPED
    } else {
        Exit::OK
    })
}

fn print_text(w: &mut dyn Write, r: &Report) -> std::io::Result<()> {
    let d = &r.done;
    let mut t = oxkit::report::Table::new(["", ""]);
    t.row(["table", &format!("{}.{}", r.db, r.table)]);
    t.row(["alter", &r.alter]);
    let plan = if r.plan == PlanKind::Instant {
        "instant (ALGORITHM=INSTANT on the table itself; no copy)".to_string()
    } else {
        format!(
            "copy (method {}; without a copy and LOCK=NONE: {})",
            r.method.name(),
            if r.nocopy_possible {
                "possible, but it locks replicas for its whole run"
            } else {
                "not possible"
            }
        )
    };
    t.row(["plan", &plan]);
    t.row(["rows (estimate)", &r.rows_estimate.to_string()]);
    if r.plan == PlanKind::Copy {
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
        if r.plan == PlanKind::Copy {
            t.row(["rows copied", &d.rows_copied.to_string()]);
            t.row([
                "chunks",
                &format!(
                    "{} in {} rounds, yielded after {}",
                    d.chunks, d.rounds, d.rounds_yielded
                ),
            ]);
            t.row([
                "checksum",
                &format!(
                    "{} chunks, {} copied again",
                    d.checksum_chunks, d.chunks_recopied
                ),
            ]);
            t.row(["copy time", &format!("{:.1}s", d.copy_seconds)]);
            t.row(["checksum time", &format!("{:.1}s", d.checksum_seconds)]);
            if r.method == Method::Binlog {
                t.row([
                    "binary log",
                    &format!(
                        "{} row changes read, {} keys applied ({} one by one: locked or gone)",
                        d.binlog_changes, d.binlog_keys_applied, d.binlog_keys_waited
                    ),
                ]);
            }
        }
        t.row([
            "swap",
            &format!(
                "{} attempt(s), {:.2}s",
                d.cut_over_attempts, d.cut_over_seconds
            ),
        ]);
        if let Some(o) = &d.old_table {
            t.row(["old table kept", o]);
        }
        t.row(["total time", &format!("{:.1}s", d.total_seconds)]);
        t.row(["result", "done"]);
    } else {
        t.row(["result", "dry run: nothing changed (use --execute)"]);
    }
    write!(w, "{t}")
}

/// The names of a table's own triggers, for messages.
fn trigger_list(plan: &Plan) -> String {
    plan.user_triggers
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why trigger capture cannot copy a table that has triggers of its own.
fn trigger_method_refusal(table: &Table, plan: &Plan) -> String {
    format!(
        "{} has triggers ({}); --method triggers cannot keep them: its swap is a bare RENAME with no locked window to move them in, so they would have to be on the shadow table during the copy, where they would fire a second time for every row the copy and the capture triggers write (their effects on other tables applied twice), or be created after the swap, letting writes in between escape them. Use --method binlog (binlog_format=ROW, binlog_row_image=FULL), which moves them inside the swap's write lock",
        table.full_name(),
        trigger_list(plan)
    )
}

/// The change capture method: `--method`, or by default the binary log
/// when the server's can be read, else triggers (with a note saying why).
/// A copy of `with_triggers` (a table with triggers of its own) needs the
/// binary log: without it the default is a refusal saying what to change.
fn choose_method(
    cfg: &Config,
    conn: &mut Conn,
    server: &Server,
    with_triggers: Option<&Table>,
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
    match (cfg.method, why_not) {
        (Some(Method::Triggers), _) => Ok((Method::Triggers, None)),
        (Some(Method::Binlog), None) => Ok((Method::Binlog, None)),
        (Some(Method::Binlog), Some(why)) => Err(refuse(format!("--method binlog: {why}"))),
        (None, None) => Ok((Method::Binlog, None)),
        (None, Some(why)) => match with_triggers {
            Some(t) => Err(refuse(format!(
                "{} has triggers; a copy keeps them only with binary log capture (they move to the new table inside the swap's write lock), and it is not usable: {why}. Fix that and run again (trigger capture cannot keep them)",
                t.full_name()
            ))),
            None => Ok((
                Method::Triggers,
                Some(format!("using triggers, not the binary log: {why}")),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `--format json` document keeps its field names and order
    /// (scripts and the man page rely on them).
    #[test]
    fn report_fields_in_order() {
        let r = Report {
            db: "d".into(),
            table: "t".into(),
            alter: "ADD INDEX (a)".into(),
            method: Method::Binlog,
            plan: PlanKind::Copy,
            nocopy_possible: false,
            executed: true,
            resumed: false,
            rows_estimate: 1,
            estimated_seconds: 0.0,
            guards: vec![],
            changed_columns: vec![],
            children: vec![],
            done: Done::default(),
            method_note: None,
            exit_status: 0,
        };
        let json = serde_json::to_string(&r).expect("json");
        let keys: Vec<&str> = json
            .split(&['{', ','][..])
            .filter_map(|part| part.strip_prefix('"')?.split_once("\":").map(|k| k.0))
            .collect();
        assert_eq!(
            keys.join(" "),
            "db table alter method plan nocopy_possible executed resumed rows_estimate \
             estimated_seconds guards changed_columns children rows_copied chunks \
             rounds rounds_yielded checksum_chunks chunks_recopied exact_compares copy_seconds checksum_seconds \
             cut_over_attempts cut_over_seconds total_seconds old_table binlog_changes \
             binlog_keys_applied binlog_keys_waited method_note exit_status"
        );
        assert!(
            json.contains(r#""method":"binlog","plan":"copy""#),
            "{json}"
        );
        let instant = serde_json::to_string(&PlanKind::Instant).expect("json");
        assert_eq!(instant, r#""instant""#);
    }
}
