//! A copy run from the shadow table's creation to the swap, in the order
//! the checkpoint records it ([`crate::state::Phase`]): `init` (shadow
//! table and triggers created), `copying` (chunks copied, the binary log
//! capture applied after each), `checksum` (each chunk of the original
//! compared with the shadow, differing chunks copied again), `postponed`
//! (in sync while `--postpone-cut-over`'s file exists) and `cutover`.
//!
//! [`Copier`] owns the copy's session, the throttle and the capture, so
//! each phase is a method that takes only what changes per call. The
//! caller ([`crate::engine`]) cleans up when anything before the swap
//! fails; after the swap nothing is undone ([`after_swap`] says what is
//! left to do by hand when one of its steps fails).

use crate::capture::Capture;
use crate::copy::{compare_chunk, copy_chunk, recopy_chunk, trigger_sql};
use crate::cutover::{binlog_swap, bounded, lock_rename_swap, rebuild_fk_sql, swap_sql, SwapCtx};
use crate::engine::{Done, Job};
use crate::pace::Pacer;
use crate::plan::{child_keys, create_clone, show_create};
use crate::state::{self, Checkpoint, Phase};
use crate::{FkMethod, Method};
use anyhow::{Context as _, Result};
use oxkit::binlog::master_position;
use oxkit::conn::{self, Conn};
use oxkit::entry::{Cancel, ExitError};
use oxkit::nibble::{self, Chunk, ChunkKey, NibbleOptions, Nibbler};
use oxkit::progress::Progress;
use oxkit::server::{Flavor, Server};
use oxkit::throttle::{Throttle, Watched};
use oxkit::Exit;
use std::time::{Duration, Instant};

/// Lock-free compares of a differing chunk, each after catching up with the
/// binary log, before the locking exact compare.
const LAG_RETRIES: u32 = 10;

/// `(count, checksum)` of a chunk: the original's and the shadow's.
type Sums = ((u64, String), (u64, String));

/// The copy, the checksum and the swap; `Ok(true)` when replication was
/// seen stopped on a replica meanwhile. A failure leaves the cleanup to
/// the caller (nothing is swapped then).
pub fn copy_to_swap(
    job: &Job<'_>,
    conn: &mut Conn,
    checkpoint: Option<Checkpoint>,
    done: &mut Done,
) -> Result<bool> {
    let n = job.n;
    let mut nib = job.nibbler(job.cfg.chunk_time);
    let mut c = Copier::start(job, conn, checkpoint.as_ref())?;
    match &checkpoint {
        None => c.create_shadow(conn)?,
        Some(cp) => {
            log::warn!(
                "resuming {}.{}: {} rows copied in {} chunks by the earlier run",
                n.db,
                n.table,
                cp.rows,
                cp.chunk
            );
            done.rows_copied = cp.rows;
            if cp.chunk > 0 {
                nib.resume_after(cp.chunk, cp.upper.clone(), cp.upper_excl);
            }
        }
    }
    c.copy_rows(&mut nib, done)?;

    // Checksum, and again after a postponement.
    state::set_phase(conn, n, Phase::Checksum)?;
    c.checksum_pass(done)?;
    if let Some(f) = &job.cfg.postpone_cut_over {
        if f.exists() {
            state::set_phase(conn, n, Phase::Postponed)?;
            log::warn!(
                "copy complete and in sync; the swap waits until {} is removed",
                f.display()
            );
            while f.exists() {
                job.sleep(Duration::from_millis(200))?;
                c.apply_captured()?;
            }
            state::set_phase(conn, n, Phase::Checksum)?;
            c.checksum_pass(done)?;
        }
    }

    state::set_phase(conn, n, Phase::Cutover)?;
    c.swap(conn, done)
}

/// The copy's session and what keeps the shadow in sync with the original.
struct Copier<'a> {
    job: &'a Job<'a>,
    /// The session that copies, compares and applies captured changes.
    copy: Conn,
    /// It copies with share locks (see [`crate::copy`]).
    locking: bool,
    /// The other sessions chunks are copied and compared on
    /// (`--threads` - 1), set up as the copy's.
    workers: Vec<Conn>,
    throttle: Throttle,
    /// How long to yield after each round of the copy.
    pacer: Pacer,
    /// Binary log capture (`--method binlog`).
    capture: Option<Capture>,
}

impl<'a> Copier<'a> {
    /// Connects the copy's session and the throttle's, and with binary log
    /// capture starts reading the binary log: before the shadow table
    /// exists, so every change committed after the position read is seen
    /// and the copy (which starts later) sees everything committed before.
    fn start(
        job: &'a Job<'a>,
        conn: &mut Conn,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<Copier<'a>> {
        let (copy, mut locking) = connect_copy(job)?;
        let mut workers = Vec::new();
        for _ in 1..job.cfg.threads_for(job.method).max(1) {
            let (c, l) = connect_copy(job)?;
            locking |= l;
            workers.push(c);
        }
        let throttle = throttle(job)?;
        let mut capture = None;
        if job.method == Method::Binlog {
            let from = match checkpoint {
                Some(cp) => cp.binlog.clone().ok_or_else(|| {
                    anyhow::anyhow!("the checkpoint holds no binary log position")
                })?,
                None => master_position(conn, job.server)?,
            };
            capture = Some(Capture::for_job(job, from, job.cfg.allow_data_loss)?);
        }
        let pacer = Pacer::new(
            job.cfg.pace,
            job.cfg.sleep_ratio,
            conn::connect(job.spec, job.opts)?,
            probe_sql(job),
        )?;
        Ok(Copier {
            job,
            copy,
            locking,
            workers,
            throttle,
            pacer,
            capture,
        })
    }

    /// Phase `init`: the checkpoint, the shadow table (created like the
    /// original, then altered) and, with trigger capture, the triggers.
    fn create_shadow(&mut self, conn: &mut Conn) -> Result<()> {
        let job = self.job;
        let n = job.n;
        let from = self.capture.as_ref().map(|c| c.applied.clone());
        state::create(conn, n, &job.cfg.alter.text, job.method, from.as_ref())?;
        let create = show_create(conn, n, &n.table)?;
        create_clone(conn, n, &create, &n.shadow)?;
        conn.run_one(
            "applying the ALTER to the shadow table",
            &format!("ALTER TABLE {} {}", n.q(&n.shadow), job.cfg.alter.text),
        )?;
        if job.method == Method::Triggers {
            for sql in trigger_sql(n, job.plan) {
                job.ctx.cancel.check()?;
                bounded(
                    conn,
                    &job.ctx.cancel,
                    job.ddl_bound(),
                    &[(&n.db, &n.table)],
                    "creating a trigger",
                    &sql,
                )?;
            }
        }
        state::set_phase(conn, n, Phase::Copying)
    }

    /// Applies what the binary log capture read so far and records how
    /// far it got (nothing with trigger capture).
    fn apply_captured(&mut self) -> Result<()> {
        if let Some(cap) = self.capture.as_mut() {
            cap.apply(&mut self.copy, &self.job.ctx.cancel)?;
            state::save_binlog(&mut self.copy, self.job.n, &cap.applied)?;
        }
        Ok(())
    }

    /// The sessions chunks run on at once: the copy's own first, then
    /// the workers (`--threads` in all).
    fn sessions(&mut self) -> Vec<&mut Conn> {
        std::iter::once(&mut self.copy)
            .chain(self.workers.iter_mut())
            .collect()
    }

    /// The next round: up to `--threads` chunks of `nib`, consecutive and
    /// disjoint (boundaries read on the copy's session).
    fn round(&mut self, nib: &mut Nibbler) -> Result<Vec<(Chunk, String)>> {
        let mut round = Vec::new();
        while round.len() < self.job.cfg.threads_for(self.job.method).max(1) {
            let Some(chunk) = nib.next(&mut self.copy)? else {
                break;
            };
            let cond = nib.key.range_sql(&chunk.lower, &chunk.upper);
            round.push((chunk, cond));
        }
        Ok(round)
    }

    /// Phase `copying`: the chunks `nib` has left, in rounds of
    /// `--threads` chunks copied at once on as many sessions; each round
    /// is followed by the captured changes, checkpointed, and paced by
    /// `--sleep-ratio` and the throttle as one chunk was.
    ///
    /// Why rounds, with the binary log applier only between them (the
    /// applier's side is argued in [`crate::capture`]): applying a key
    /// while a chunk covering it is in flight could delete the shadow's
    /// row of a key the application deleted, after the chunk read the
    /// row and before it inserted it, and the chunk would then bring the
    /// deleted row back. Between rounds no chunk statement runs, so every
    /// chunk's read instant is before the apply that follows, exactly as
    /// with one session. The chunks of a round are consecutive, so the
    /// checkpoint after a round (the last chunk's upper key) covers every
    /// row below it; a run killed in a round copies the whole round again
    /// on `--resume` (INSERT IGNORE keeps the rows already there, and the
    /// capture re-reads from the position saved with the checkpoint).
    fn copy_rows(&mut self, nib: &mut Nibbler, done: &mut Done) -> Result<()> {
        let job = self.job;
        let (n, cancel, estimate) = (job.n, &job.ctx.cancel, job.table.row_estimate);
        let (plan, allow_data_loss, locking) = (job.plan, job.cfg.allow_data_loss, self.locking);
        let copy_start = Instant::now();
        let progress = Progress::new(job.ctx, estimate.max(1), "copying rows");
        let mut last_log = Instant::now();
        let mut copied_now = 0u64;
        loop {
            self.throttle.wait(cancel)?;
            let round = self.round(nib)?;
            let Some((last, _)) = round.last() else {
                break;
            };
            let t = Instant::now();
            let results = on_sessions(self.sessions(), &round, |c, (chunk, cond)| {
                let t = Instant::now();
                let rows = copy_chunk(c, cancel, n, plan, cond, allow_data_loss, locking)
                    .with_context(|| {
                        format!("table {}.{} chunk {}", n.db, n.table, chunk.number)
                    })?;
                Ok((rows, t.elapsed()))
            });
            let took = t.elapsed();
            for ((chunk, _), r) in round.iter().zip(results) {
                let (rows, chunk_took) = r?;
                nib.observe_chunk(chunk, rows, chunk_took);
                done.rows_copied += rows;
                done.chunks += 1;
                copied_now += rows;
                progress.inc(rows);
            }
            let (upper, excl) = match &last.upper {
                nibble::Bound::Open => (None, false),
                nibble::Bound::Incl(v) => (Some(v), false),
                nibble::Bound::Excl(v) => (Some(v), true),
            };
            // Everything captured so far, after the round (see above).
            self.apply_captured()?;
            state::save_chunk(
                &mut self.copy,
                n,
                last.number,
                upper,
                excl,
                done.rows_copied,
            )?;
            let rate = copied_now as f64 / copy_start.elapsed().as_secs_f64().max(0.001);
            progress.message(format!("{rate:.0} rows/s"));
            if last_log.elapsed() > Duration::from_secs(10) {
                last_log = Instant::now();
                let left = estimate.saturating_sub(done.rows_copied);
                log::info!(
                    "copied {} of ~{estimate} rows, {rate:.0} rows/s, ETA {:.0}s",
                    done.rows_copied,
                    left as f64 / rate.max(1.0)
                );
            }
            done.rounds += 1;
            let pause = self.pacer.after_round(took, &self.throttle)?;
            if !pause.is_zero() {
                done.rounds_yielded += 1;
                job.sleep(pause)?;
            }
        }
        progress.finish();
        done.copy_seconds = copy_start.elapsed().as_secs_f64();
        Ok(())
    }

    /// Phase `checksum`: every chunk of the original compared with the
    /// shadow; a differing chunk is copied again, and one that keeps
    /// differing refuses the swap (unless `--allow-data-loss`). The first
    /// compare of each chunk runs in rounds of `--threads` chunks at once
    /// (read-only snapshots: they cannot race the applier or each other);
    /// what follows for a differing chunk (catching up, compares under
    /// locks, recopies) runs on the copy's session alone, as before.
    fn checksum_pass(&mut self, done: &mut Done) -> Result<()> {
        let job = self.job;
        let (n, cancel, allow_data_loss) = (job.n, &job.ctx.cancel, job.cfg.allow_data_loss);
        let plan = job.plan;
        let start = Instant::now();
        // With binary log capture a chunk differs while a change to one of
        // its rows is not applied yet: the odds grow with the chunk's rows,
        // so the checksum walks chunks a fifth of --chunk-time (a lag
        // difference then clears on a lock-free retry far more often than
        // it reaches the locking compare).
        let chunk_time = if self.capture.is_some() {
            job.cfg.chunk_time / 5
        } else {
            job.cfg.chunk_time
        };
        let mut nib = job.nibbler(chunk_time);
        let mut differing = 0u32;
        loop {
            self.throttle.wait(cancel)?;
            let round = self.round(&mut nib)?;
            if round.is_empty() {
                break;
            }
            if let Some(cap) = self.capture.as_mut() {
                cap.apply(&mut self.copy, cancel)?;
            }
            let firsts = on_sessions(self.sessions(), &round, |c, (_, cond)| {
                let t = Instant::now();
                let sums = compare_chunk(c, cancel, n, plan, cond)?;
                Ok((sums, t.elapsed()))
            });
            for ((chunk, cond), r) in round.iter().zip(firsts) {
                let (first, took) = r?;
                nib.observe_chunk(chunk, first.0 .0, took);
                done.checksum_chunks += 1;
                let (mut a, mut b) = self.past_lag(first, cond, done)?;
                let mut tries = 0;
                let max_tries = if allow_data_loss { 1 } else { 3 };
                while a != b && tries < max_tries {
                    tries += 1;
                    // Expected now and then with lock-free copying (see crate::copy).
                    log::info!(
                        "chunk {} differs (original {} rows, copy {} rows); copying it again",
                        chunk.number,
                        a.0,
                        b.0
                    );
                    recopy_chunk(&mut self.copy, cancel, n, plan, cond)?;
                    done.chunks_recopied += 1;
                    (a, b) = match self.capture.as_mut() {
                        Some(cap) => cap.compare_exact(&mut self.copy, cancel, cond)?,
                        None => compare_chunk(&mut self.copy, cancel, n, plan, cond)?,
                    };
                }
                if a != b {
                    differing += 1;
                }
            }
        }
        done.checksum_seconds += start.elapsed().as_secs_f64();
        if differing > 0 && allow_data_loss {
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

    /// A chunk's sums once the binary log capture's lag is ruled out.
    ///
    /// Binary log capture lags the original by the changes not applied
    /// yet: a difference is most likely one of those. Catch up with the
    /// server's position and compare again, still without locks, a few
    /// times; only a chunk that keeps differing is compared exactly (the
    /// range share-locked, the capture caught up: Capture::compare_exact).
    /// The share locks can deadlock with the application's writes, and
    /// InnoDB then rolls back the application's transaction, so they are
    /// the last resort, not the first. With trigger capture (no lag) the
    /// first compare stands.
    fn past_lag(&mut self, first: Sums, cond: &str, done: &mut Done) -> Result<Sums> {
        let (cancel, plan, n) = (&self.job.ctx.cancel, self.job.plan, self.job.n);
        let Some(cap) = self.capture.as_mut() else {
            return Ok(first);
        };
        let mut sums = first;
        for _ in 0..LAG_RETRIES {
            if sums.0 == sums.1 {
                return Ok(sums);
            }
            cap.settle(&mut self.copy, cancel)?;
            sums = compare_chunk(&mut self.copy, cancel, n, plan, cond)?;
        }
        if sums.0 != sums.1 {
            done.exact_compares += 1;
            sums = cap.compare_exact(&mut self.copy, cancel, cond)?;
        }
        Ok(sums)
    }

    /// Phase `cutover`: the swap (see [`crate::cutover`]); `Ok(true)` when
    /// replication was seen stopped on a replica during the run.
    fn swap(mut self, conn: &mut Conn, done: &mut Done) -> Result<bool> {
        let job = self.job;
        let cancel = &job.ctx.cancel;
        let t = Instant::now();
        cancel.check()?;
        if let Some(cap) = self.capture.as_mut() {
            // Catch up with the writes still running, so the time writes
            // are stopped during the swap stays short.
            cap.apply(&mut self.copy, cancel)?;
            let sw = SwapCtx {
                spec: job.spec,
                opts: job.opts,
                n: job.n,
                bound: job.ddl_bound(),
                catch_up: Duration::from_secs(u64::from(job.cfg.lock_wait).max(2)),
            };
            done.cut_over_attempts = if job.server.flavor == Flavor::MariaDB {
                binlog_swap(conn, cancel, &sw, cap)?
            } else {
                lock_rename_swap(conn, cancel, &sw, cap)?
            };
            // Every change to the original is applied up to here, and
            // nothing after it touched the original under its name: the
            // new table's changes start here (see crate::keep).
            done.swapped_at = Some(cap.applied.clone());
            done.binlog_changes = cap.changes;
            done.binlog_keys_applied = cap.keys_applied;
            done.binlog_keys_waited = cap.keys_waited;
        } else {
            done.cut_over_attempts = bounded(
                conn,
                cancel,
                job.ddl_bound(),
                &[(&job.n.db, &job.n.table), (&job.n.db, &job.n.shadow)],
                "swapping the tables",
                &swap_sql(job.n),
            )?;
        }
        done.cut_over_seconds = t.elapsed().as_secs_f64();
        if let Some(cap) = self.capture.take() {
            cap.stop();
        }
        Ok(self.throttle.replication_stopped_seen())
    }
}

/// What is left after the swap: the old table's final name, the triggers,
/// child foreign keys, the old table and the checkpoint. Nothing may be
/// undone now; a failure says what is left to do by hand.
pub fn after_swap(job: &Job<'_>, conn: &mut Conn, done: &mut Done) -> Result<()> {
    let n = job.n;
    // Not cut short by Ctrl-C.
    let after = Cancel::new();
    if job.method == Method::Binlog && job.server.flavor == Flavor::MariaDB {
        // MariaDB's binary log swap renamed the original to the sentry's
        // name.
        bounded(
            conn,
            &after,
            job.ddl_bound(),
            &[(&n.db, &n.del)],
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
            job.ddl_bound(),
            &[(&n.db, &n.old)],
            "dropping a trigger",
            &format!("DROP TRIGGER IF EXISTS {}", n.q(trg)),
        )
        .with_context(|| format!("after the swap: drop trigger {}.{trg} by hand", n.db))?;
    }
    let keep_old = !repoint_children(job, conn, &after)?
        || job.cfg.no_drop_old_table
        || job.cfg.keep_old_table;
    if keep_old {
        done.old_table = Some(format!("{}.{}", n.db, n.old));
    } else {
        conn.run(
            "dropping the old table",
            &format!("DROP TABLE IF EXISTS {}", n.q(&n.old)),
        )?;
    }
    if job.cfg.keep_old_table {
        // The checkpoint stays: it is the kept table's state.
        let at = done.swapped_at.as_ref().ok_or_else(|| {
            anyhow::anyhow!("after the swap: no binary log position to keep the old table from")
        })?;
        return state::set_kept(conn, n, at).with_context(|| {
            format!(
                "after the swap: {}.{} is kept but its state could not be written; drop it and {}.{} by hand",
                n.db, n.old, n.db, n.state
            )
        });
    }
    conn.run(
        "dropping the checkpoint",
        &format!("DROP TABLE IF EXISTS {}", n.q(&n.state)),
    )?;
    Ok(())
}

/// Points the child tables' foreign keys at the new table; false when
/// `--alter-foreign-keys-method none` leaves them on the old one (which
/// must then be kept).
fn repoint_children(job: &Job<'_>, conn: &mut Conn, after: &Cancel) -> Result<bool> {
    let (n, table) = (job.n, job.table);
    let children: Vec<_> = child_keys(table).collect();
    if children.is_empty() {
        return Ok(true);
    }
    if job.cfg.fk_method == FkMethod::None {
        log::warn!(
            "--alter-foreign-keys-method none: child tables still reference {}.{}, which is kept",
            n.db,
            n.old
        );
        return Ok(false);
    }
    conn.run("session setup", "SET SESSION foreign_key_checks = 0")?;
    for fk in children {
        let sql = rebuild_fk_sql(fk, n, |c| job.cfg.alter.new_name(c).to_string());
        bounded(
            conn,
            after,
            job.ddl_bound(),
            &[(&fk.db, &fk.table)],
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
    Ok(true)
}

/// The copy's session and whether it copies with share locks (see
/// [`crate::copy`]).
pub fn connect_copy(job: &Job<'_>) -> Result<(Conn, bool)> {
    let mut c = conn::connect(job.spec, job.opts)?;
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

/// The pacer's latency probe: one row of the table read by its key.
fn probe_sql(job: &Job<'_>) -> String {
    let key = job.plan.key.column_names();
    let n = job.n;
    format!(
        "SELECT {} FROM {} FORCE INDEX ({}) ORDER BY {} LIMIT 1",
        oxkit::sql::quote_idents(&key),
        n.q(&n.table),
        oxkit::sql::quote_ident(&job.plan.key.name),
        oxkit::sql::quote_idents(&key)
    )
}

/// Runs `f` on each item at once, each on a session of its own
/// (`sessions` has at least as many), on scoped threads; one item runs on
/// the calling thread. The results come back in the items' order.
fn on_sessions<I: Sync, T: Send>(
    sessions: Vec<&mut Conn>,
    items: &[I],
    f: impl Fn(&mut Conn, &I) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    if sessions.len() < items.len() {
        // Never so (a round has at most --threads chunks): refused, not
        // left out.
        return items
            .iter()
            .map(|_| Err(anyhow::anyhow!("more chunks than sessions in a round")))
            .collect();
    }
    if let [item] = items {
        if let Some(c) = sessions.into_iter().next() {
            return vec![f(c, item)];
        }
        return Vec::new();
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = sessions
            .into_iter()
            .zip(items)
            .map(|(c, item)| s.spawn(move || f(c, item)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a copy thread panicked")))
            })
            .collect()
    })
}

/// The throttle, watching the replicas `--recursion-method` finds.
fn throttle(job: &Job<'_>) -> Result<Throttle> {
    let (spec, opts) = (job.spec, job.opts);
    let mut watched = Vec::new();
    match oxkit::topology::discover(spec, &job.cfg.recursion, 1, opts) {
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
        job.cfg.throttle.clone(),
        Some(conn::connect(spec, opts)?),
        watched,
    ))
}

impl Job<'_> {
    /// A walk over the table's key in chunks of about `chunk_time`.
    fn nibbler(&self, chunk_time: Duration) -> Nibbler {
        let target = (chunk_time > Duration::ZERO).then_some(chunk_time);
        Nibbler::new(
            self.table,
            ChunkKey::new(self.table, &self.plan.key),
            None,
            NibbleOptions {
                initial_rows: self.cfg.chunk_size,
                target,
                max_rows: 500_000,
            },
        )
    }

    /// Sleeps `d`, waking for Ctrl-C.
    fn sleep(&self, d: Duration) -> Result<()> {
        let until = Instant::now() + d;
        while Instant::now() < until {
            self.ctx.cancel.check()?;
            std::thread::sleep(
                until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(100)),
            );
        }
        Ok(())
    }
}
