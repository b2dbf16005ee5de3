//! Revert: `--keep-old-table`, `--revert`, `--drop-old-table`.
//!
//! With `--keep-old-table` the run does not end at the swap: the original,
//! renamed `_t_old`, is kept in sync with the new table by the same
//! binary log capture that kept the shadow in sync before the swap
//! ([`crate::capture`]), pointed the other way: the new table `t` is read
//! (its changed keys from the binary log, its rows by `INSERT ... SELECT`)
//! and `_t_old` is written, through the column pairs of the ALTER turned
//! around. The reader starts at the position the swap's catch-up reached
//! under the swap's write lock: every change to the original is applied
//! before it, and every change after it under the name `t` is a change to
//! the new table. The checkpoint table `_t_osc` stays, in phase `kept`,
//! with the position up to which the new table's changes are applied.
//!
//! The keeping run holds the run lock until it is stopped (Ctrl-C,
//! SIGTERM: exit 4; a kill -9 also leaves a usable state). `--revert` then
//! reads the same changes again from the saved position (applying a key
//! twice is harmless), catches up, and swaps `_t_old` back in with the
//! forward swap's own code ([`crate::cutover`]): writes stop, every change
//! up to the server's position is applied, and the tables are renamed, so
//! no acknowledged write is lost. The altered table goes aside as
//! `_t_rev` (dropped unless `--no-drop-old-table`). `--drop-old-table`
//! drops `_t_old` and the checkpoint instead.
//!
//! What can be reverted (checked before the copy starts, and again by
//! `--revert`): the applier rewrites each changed row of `_t_old` whole
//! from the new table's row, so every column of the original must be in
//! the new table with the same definition (renames allowed); every unique
//! key of the original must still be one (else rows the new table accepts
//! could collide in the old one and be dropped); rows are matched by the
//! copy's key, which must be a unique NOT NULL key of the new table; and no
//! child table may reference the table (re-pointing foreign keys back is
//! not built).

use crate::alter::Alter;
use crate::capture::Capture;
use crate::cutover::{binlog_swap, bounded, lock_rename_swap, SwapCtx};
use crate::engine::{Done, Job, Site};
use crate::names::Names;
use crate::plan::{child_keys, col_desc, copy_key, map_columns, refuse, ColumnPairs, Plan};
use crate::state::{self, Checkpoint, Phase};
use crate::{Action, Method};
use anyhow::{Context as _, Result};
use oxkit::conn::Conn;
use oxkit::entry::Cancel;
use oxkit::schema::{load_table, load_table_without_children, Index, Table};
use oxkit::server::Flavor;
use oxkit::Exit;
use serde::Serialize;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the keeping run applies the new table's changes.
const KEEP_EVERY: Duration = Duration::from_millis(200);

/// The names of the swap back: the kept original plays the shadow, and
/// the altered table goes aside as `_t_rev`.
pub fn reversed(n: &Names) -> Names {
    let mut r = n.clone();
    r.shadow = n.old.clone();
    r.old = format!("_{}_rev", n.table);
    r
}

/// Refuses, with the reason, an ALTER whose result cannot be mapped back
/// onto the original (see the module comment); returns the key of the new
/// table rows are matched by. `old` and `new` are the tables before and
/// after the ALTER, `pairs` their columns holding the same data, `key` the
/// original's key the copy walks.
pub fn revertible(
    old: &Table,
    new: &Table,
    pairs: &ColumnPairs,
    alter: &Alter,
    key: &Index,
) -> Result<Index> {
    let no = |why: String| refuse(format!("the ALTER cannot be reverted: {why}"));
    if let Some(fk) = child_keys(old).chain(child_keys(new)).next() {
        return Err(no(format!(
            "{}.{} references the table (constraint {}); re-pointing child foreign keys back is not built",
            fk.db, fk.table, fk.name
        )));
    }
    for c in old.data_columns() {
        if !pairs.iter().any(|(o, _)| o.name == c.name) {
            let how = if alter.drops_column(&c.name) {
                "drops"
            } else {
                "removes"
            };
            return Err(no(format!(
                "it {how} column {}: rows written after the swap have no value for it, and the kept table's rows are rewritten whole from the new table's, so their old values would be lost too",
                c.name
            )));
        }
    }
    for (o, n) in pairs {
        if col_desc(o) != col_desc(n) {
            return Err(no(format!(
                "column {} changes from {} to {}: a value the new definition accepts may not fit the old one (only ALTERs that keep every column's definition can be reverted: added columns, renamed columns, indexes, table options)",
                o.name,
                col_desc(o),
                col_desc(n)
            )));
        }
    }
    let new_name = |c: &str| -> Option<String> {
        pairs
            .iter()
            .find(|(o, _)| o.name.eq_ignore_ascii_case(c))
            .map(|(_, n)| n.name.clone())
    };
    let same_columns = |i: &Index, cols: &[(Option<String>, Option<u32>)]| {
        i.columns.len() == cols.len()
            && i.columns.iter().zip(cols).all(|(a, (b, p))| {
                b.as_deref()
                    .is_some_and(|b| a.name.eq_ignore_ascii_case(b) && a.sub_part == *p)
            })
    };
    for idx in old.indexes.iter().filter(|i| i.unique) {
        let cols: Vec<(Option<String>, Option<u32>)> = idx
            .columns
            .iter()
            .map(|c| (new_name(&c.name), c.sub_part))
            .collect();
        if !new
            .indexes
            .iter()
            .any(|i| i.unique && same_columns(i, &cols))
        {
            return Err(no(format!(
                "unique key {} is not a unique key of the new table: rows it accepts could collide in the kept table and be lost there",
                idx.name
            )));
        }
    }
    let cols: Vec<(Option<String>, Option<u32>)> = key
        .columns
        .iter()
        .map(|c| (new_name(&c.name), None))
        .collect();
    new.indexes
        .iter()
        .find(|i| i.unique && !i.nullable && same_columns(i, &cols))
        .cloned()
        .ok_or_else(|| {
            no(format!(
                "the new table has no unique NOT NULL key over the columns of {} ({}), which rows are matched by",
                key.name,
                key.column_names().join(", ")
            ))
        })
}

/// The new table `t`, and the plan that copies its rows into the kept
/// original `n.old` (the ALTER's column pairs turned around), checked by
/// [`revertible`].
fn reverse_plan(site: &Site<'_>, conn: &mut Conn, alter: &Alter) -> Result<(Table, Plan)> {
    let n = site.n;
    let new_table = load_table(conn, &n.db, &n.table)?;
    let old_table = load_table_without_children(conn, &n.db, &n.old)?;
    let key = copy_key(&old_table)?;
    let (pairs, _) = map_columns(alter, &old_table, &new_table, Some(&key))?;
    let rkey = revertible(&old_table, &new_table, &pairs, alter, &key)?;
    let plan = Plan {
        hash: oxkit::checksum::Function::Sha1.on(site.server),
        instant: false,
        nocopy: false,
        key: rkey,
        pairs: pairs.into_iter().map(|(o, n)| (n, o)).collect(),
        guards: Vec::new(),
        changed: Vec::new(),
        children: Vec::new(),
        user_triggers: crate::triggers::of_user(&new_table, n),
        new_table: old_table,
    };
    Ok((new_table, plan))
}

/// `--keep-old-table`, after the swap of `job` (the forward run): keeps
/// `_t_old` in sync with the new table until Ctrl-C or SIGTERM, saving the
/// position applied in the checkpoint. Returns when stopped; an error
/// leaves the state as it was last saved (`--revert` catches up from it).
pub fn keep(job: &Job<'_>, conn: &mut Conn, done: &Done) -> Result<()> {
    let n = job.n;
    let from = done
        .swapped_at
        .clone()
        .context("no binary log position after the swap")?;
    let rn = reversed(n);
    let site = Site { n: &rn, ..job.site };
    let (new_table, plan) = reverse_plan(&job.site, conn, &job.cfg.alter)?;
    let back = Job {
        site,
        table: &new_table,
        plan: &plan,
        method: Method::Binlog,
    };
    let mut cap = Capture::for_job(&back, from.clone(), false)?;
    let (mut session, _) = crate::copier::connect_copy(&back)?;
    let cancel = &job.ctx.cancel;
    log::warn!(
        "swapped; keeping {db}.{old} (the original) in sync with {db}.{t} from {from}: stop with Ctrl-C or SIGTERM, then run --revert to swap it back or --drop-old-table to drop it",
        db = n.db,
        old = n.old,
        t = n.table
    );
    let mut saved = from;
    let mut last_log = Instant::now();
    loop {
        if sleep_or_stopped(cancel, KEEP_EVERY) {
            break;
        }
        match cap.apply(&mut session, cancel) {
            Ok(_) => {}
            Err(_) if cancel.is_cancelled() => break,
            Err(e) => {
                return Err(e.context(format!(
                    "keeping {}.{} in sync (it is in sync up to {saved}; --revert catches up from there)",
                    n.db, n.old
                )))
            }
        }
        if cap.applied != saved {
            state::save_binlog(&mut session, n, &cap.applied)?;
            saved = cap.applied.clone();
        }
        if last_log.elapsed() >= Duration::from_secs(60) {
            last_log = Instant::now();
            log::info!(
                "keeping {}.{} in sync: {} keys applied, up to {saved}",
                n.db,
                n.old,
                cap.keys_applied
            );
        }
    }
    cap.stop();
    log::warn!(
        "stopped keeping {}.{}: in sync up to {saved} ({}.{} in phase kept); --revert swaps it back, --drop-old-table drops it",
        n.db,
        n.old,
        n.db,
        n.state
    );
    Ok(())
}

/// Sleeps `d`; true when Ctrl-C (or SIGTERM) came.
fn sleep_or_stopped(cancel: &Cancel, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if cancel.is_cancelled() {
            return true;
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    cancel.is_cancelled()
}

/// The kept state of `n`'s table: refused (exit 1) when there is none, it
/// is a checkpoint of a run that has not swapped, or the kept table is gone.
fn kept(conn: &mut Conn, n: &Names) -> Result<Checkpoint> {
    let cp = if n.exists(conn, "looking for the kept table", &n.state)? {
        state::load(conn, n)?
    } else {
        None
    };
    let cp = match cp {
        Some(cp) if cp.phase == Phase::Kept => cp,
        Some(cp) => {
            return Err(refuse(format!(
                "{}.{} is the checkpoint of a run in phase {} that has not swapped, not a kept table: nothing to revert (continue that run with --resume, or drop its leftovers)",
                n.db,
                n.state,
                cp.phase.name()
            )))
        }
        None => {
            return Err(refuse(format!(
                "nothing is kept for {}.{}: no state {}.{} in phase kept (run the ALTER with --keep-old-table to be able to revert it)",
                n.db, n.table, n.db, n.state
            )))
        }
    };
    if !n.exists(conn, "looking for the kept table", &n.old)? {
        return Err(refuse(format!(
            "{}.{}, the kept original, is gone; drop the state {}.{} by hand",
            n.db, n.old, n.db, n.state
        )));
    }
    Ok(cp)
}

/// What `--revert` and `--drop-old-table` print (`--format json` field
/// names are documented in the man page).
#[derive(Debug, Serialize)]
struct Outcome {
    db: String,
    table: String,
    action: &'static str,
    alter: String,
    executed: bool,
    kept_table: String,
    kept_position: String,
    binlog_keys_applied: u64,
    cut_over_attempts: u32,
    cut_over_seconds: f64,
    old_table: Option<String>,
    total_seconds: f64,
    exit_status: u8,
}

impl Outcome {
    fn new(site: &Site<'_>, cp: &Checkpoint) -> Outcome {
        let n = site.n;
        Outcome {
            db: n.db.clone(),
            table: n.table.clone(),
            action: match site.cfg.action {
                Action::DropOldTable => "drop_old_table",
                _ => "revert",
            },
            alter: cp.alter.clone(),
            executed: site.cfg.execute,
            kept_table: format!("{}.{}", n.db, n.old),
            kept_position: cp
                .binlog
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            binlog_keys_applied: 0,
            cut_over_attempts: 0,
            cut_over_seconds: 0.0,
            old_table: None,
            total_seconds: 0.0,
            exit_status: 0,
        }
    }

    fn emit(mut self, site: &Site<'_>, started: Instant) -> Result<Exit> {
        self.total_seconds = started.elapsed().as_secs_f64();
        oxkit::report::emit(site.cfg.format, &self, |w| self.text(w))?;
        Ok(Exit::OK)
    }

    fn text(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let mut t = oxkit::report::Table::new(["", ""]);
        t.row(["table", &format!("{}.{}", self.db, self.table)]);
        t.row(["alter", &self.alter]);
        t.row([
            "kept original",
            &format!("{} (in sync up to {})", self.kept_table, self.kept_position),
        ]);
        let revert = self.action == "revert";
        if !self.executed {
            t.row([
                "result",
                if revert {
                    "dry run: revertible; nothing changed (use --execute to swap the original back)"
                } else {
                    "dry run: nothing changed (use --execute to drop the kept original)"
                },
            ]);
            return write!(w, "{t}");
        }
        if revert {
            t.row([
                "caught up",
                &format!("{} keys applied", self.binlog_keys_applied),
            ]);
            t.row([
                "swap back",
                &format!(
                    "{} attempt(s), {:.2}s",
                    self.cut_over_attempts, self.cut_over_seconds
                ),
            ]);
            if let Some(o) = &self.old_table {
                t.row(["altered table kept", o]);
            }
        }
        t.row(["total time", &format!("{:.1}s", self.total_seconds)]);
        t.row([
            "result",
            if revert {
                "reverted: the original is back"
            } else {
                "kept original dropped"
            },
        ]);
        write!(w, "{t}")
    }
}

/// `--revert`: catches the kept original up with the new table and swaps
/// it back in with the forward swap's code (see the module comment).
pub fn revert(site: &Site<'_>, conn: &mut Conn, started: Instant) -> Result<Exit> {
    let n = site.n;
    let cp = kept(conn, n)?;
    let alter = Alter::parse(&cp.alter).context("the kept state's ALTER")?;
    let (new_table, plan) = reverse_plan(site, conn, &alter)?;
    let rn = reversed(n);
    for name in [&rn.old, &rn.del, &rn.swap_shadow] {
        if n.exists(conn, "looking for name clashes", name)? {
            return Err(refuse(format!(
                "{}.{name} exists; the swap back needs that name (drop it if an earlier run left it)",
                n.db
            )));
        }
    }
    let mut out = Outcome::new(site, &cp);
    if !site.cfg.execute {
        return out.emit(site, started);
    }
    let from = cp
        .binlog
        .clone()
        .context("the kept state holds no binary log position")?;
    let job = Job {
        site: Site { n: &rn, ..*site },
        table: &new_table,
        plan: &plan,
        method: Method::Binlog,
    };
    let cancel = &site.ctx.cancel;
    let mut cap = Capture::for_job(&job, from, false)?;
    let (mut session, _) = crate::copier::connect_copy(&job)?;
    // Catch up first, without locks: the keeping run may have been
    // stopped a while ago.
    log::warn!(
        "reverting: applying the changes made to {}.{} since {} to {}.{}",
        n.db,
        n.table,
        cap.applied,
        n.db,
        n.old
    );
    cap.apply(&mut session, cancel)?;
    state::save_binlog(&mut session, n, &cap.applied)?;
    let t = Instant::now();
    let sw = SwapCtx {
        spec: site.spec,
        opts: site.opts,
        n: &rn,
        bound: job.ddl_bound(),
        catch_up: Duration::from_secs(u64::from(site.cfg.lock_wait).max(2)),
    };
    let swapped = if site.server.flavor == Flavor::MariaDB {
        binlog_swap(conn, cancel, &sw, &mut cap)
    } else {
        lock_rename_swap(conn, cancel, &sw, &mut cap)
    };
    let attempts = match swapped {
        Ok(a) => a,
        Err(e) => {
            // Nothing swapped: the original stays kept, as far as applied.
            if !cancel.is_cancelled() || session.run("checking", "DO 1").is_ok() {
                let _ = state::save_binlog(&mut session, n, &cap.applied);
            }
            cap.stop();
            return Err(e.context(format!(
                "the swap back did not happen; {}.{} stays kept (run --revert again)",
                n.db, n.old
            )));
        }
    };
    out.cut_over_attempts = attempts;
    out.cut_over_seconds = t.elapsed().as_secs_f64();
    out.binlog_keys_applied = cap.keys_applied;
    cap.stop();
    let mut done = Done::default();
    crate::copier::after_swap(&job, conn, &mut done)?;
    out.old_table = done.old_table;
    out.emit(site, started)
}

/// `--drop-old-table`: drops the kept original and its state.
pub fn drop_old(site: &Site<'_>, conn: &mut Conn, started: Instant) -> Result<Exit> {
    let n = site.n;
    let cp = kept(conn, n)?;
    let out = Outcome::new(site, &cp);
    if !site.cfg.execute {
        return out.emit(site, started);
    }
    let after = Cancel::new();
    bounded(
        conn,
        &after,
        site.ddl_bound(),
        &[(&n.db, &n.old)],
        "dropping the kept original",
        &format!("DROP TABLE IF EXISTS {}", n.q(&n.old)),
    )?;
    conn.run(
        "dropping the kept state",
        &format!("DROP TABLE IF EXISTS {}", n.q(&n.state)),
    )?;
    out.emit(site, started)
}
