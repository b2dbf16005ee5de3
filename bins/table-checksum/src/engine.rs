//! The worker pool: connects, finds replicas, plans tables, and runs
//! `--threads` workers that take chunks from whichever table still has
//! some (so a big table is checksummed by several workers at once), check
//! the throttle before each, and finish a table when its last chunk is in.
//!
//! Each worker owns its connections: one to the primary and one to each
//! replica. With the snapshot method they hold consistent snapshots at one
//! replication position, reopened every `--snapshot-refresh`; chunk
//! boundaries read in one worker's snapshot are valid ranges in any other,
//! because a range's checksum is compared only between servers inside the
//! same worker's snapshot pair.

use crate::output::{self, DiffChunk, IndexCheck, TableResult};
use crate::plan::{plan_tables, TablePlan, Walk};
use crate::{replicate, snapshot, Config, Method};
use anyhow::{anyhow, Context as _, Result};
use oxkit::checksum::{aggregate, row_string, RowOptions};
use oxkit::conn::{self, Conn, DbError};
use oxkit::dsn::{self, ConnSpec};
use oxkit::entry::Context;
use oxkit::nibble::{Bound, Chunk, Nibbler};
use oxkit::progress::Progress;
use oxkit::server::Server;
use oxkit::sql::quote_ident;
use oxkit::sql::NO_CACHE;
use oxkit::throttle::{Throttle, Watched};
use oxkit::topology::{discover, source_position};
use oxkit::Exit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A replica being compared.
pub struct ReplicaInfo {
    /// `host:port`.
    pub label: String,
    /// How to connect.
    pub spec: ConnSpec,
    /// What it is.
    pub server: Server,
}

#[derive(Default)]
struct TableState {
    nibbler: Option<Nibbler>,
    issued_all: bool,
    started: u32,
    done: u32,
    finalized: bool,
    rows: u64,
    chunk_skips: u32,
    errors: Vec<String>,
    diffs: Vec<DiffChunk>,
    began: Option<Instant>,
    /// Continues a previous run's chunks (the replicate method's totals
    /// then come from the checksum table).
    resumed: bool,
}

struct TableWork {
    plan: TablePlan,
    state: Mutex<TableState>,
}

/// State shared by the workers.
pub struct Shared<'a> {
    pub cfg: &'a Config,
    pub ctx: &'a Context,
    pub method: Method,
    pub primary_server: Server,
    pub replicas: Vec<ReplicaInfo>,
    /// One control connection per replica (stop/start replication).
    pub controls: Mutex<Vec<Conn>>,
    pub throttle: Throttle,
    tables: Vec<Arc<TableWork>>,
    next_table: AtomicUsize,
    active: Mutex<Vec<Arc<TableWork>>>,
    results: mpsc::Sender<TableResult>,
    progress: Progress,
    abort: AtomicBool,
    rt: oxkit::checksum::ReplicateTable,
    primary_label: String,
    /// Finished tables waiting for [`check_replicas`], with when they
    /// finished.
    pending: Mutex<Vec<(Instant, TableResult)>>,
}

struct WorkerConns {
    primary: Conn,
    replicas: Vec<Conn>,
    snapshot_at: Option<Instant>,
}

fn lock<'a, T>(m: &'a Mutex<T>, what: &str) -> Result<std::sync::MutexGuard<'a, T>> {
    m.lock().map_err(|_| anyhow!("{what}: a worker panicked"))
}

fn default_threads(conn: &mut Conn) -> usize {
    // MariaDB sizes thread_pool_size to the server's CPUs.
    let cpus: Option<u64> = conn
        .row("reading @@thread_pool_size", "SELECT @@thread_pool_size")
        .ok()
        .flatten();
    (cpus.unwrap_or(4) as usize / 2).clamp(2, 8)
}

/// How many transactions a replica applies at once (parallel replication
/// threads, at least 1).
fn replica_appliers(conn: &mut Conn) -> usize {
    for sql in [
        "SELECT @@GLOBAL.slave_parallel_threads",
        "SELECT @@GLOBAL.replica_parallel_workers",
        "SELECT @@GLOBAL.slave_parallel_workers",
    ] {
        if let Ok(Some(n)) = conn.row::<u64>("reading parallel replication", sql) {
            return (n as usize).max(1);
        }
    }
    1
}

/// The replicas to compare, each with a control connection (stop/start
/// replication) and one the throttle watches.
struct Replicas {
    infos: Vec<ReplicaInfo>,
    controls: Vec<Conn>,
    watched: Vec<Watched>,
}

/// Connects to the replicas named on the command line, or found from the
/// primary.
fn connect_replicas(
    cfg: &Config,
    primary_spec: &ConnSpec,
    replica_specs: Vec<ConnSpec>,
    opts: &conn::ConnectOptions,
) -> Result<Replicas> {
    let replica_specs = if replica_specs.is_empty() {
        discover(primary_spec, &cfg.recursion, cfg.recurse, opts)
            .context("finding replicas")?
            .into_iter()
            .map(|r| r.spec)
            .collect()
    } else {
        replica_specs
    };
    let mut out = Replicas {
        infos: Vec::new(),
        controls: Vec::new(),
        watched: Vec::new(),
    };
    for spec in replica_specs {
        let label = dsn::label(&spec);
        let mut c =
            conn::connect(&spec, opts).with_context(|| format!("connecting to replica {label}"))?;
        let server = Server::detect(&mut c)?;
        let w = conn::connect(&spec, opts)?;
        out.watched.push(Watched {
            label: label.clone(),
            conn: w,
            server: server.clone(),
        });
        out.controls.push(c);
        out.infos.push(ReplicaInfo {
            label,
            spec,
            server,
        });
    }
    if out.infos.is_empty() {
        log::warn!(
            "no replicas found for {} (--recursion-method {}): checksumming the primary only",
            dsn::label(primary_spec),
            cfg.recursion_method
        );
    }
    Ok(out)
}

/// `--method` as it will run: auto becomes replicate when the primary logs
/// and allows statement-format sessions, snapshot otherwise.
fn choose_method(cfg: &Config, main_conn: &mut Conn, primary: &Server) -> Result<Method> {
    Ok(match cfg.method {
        Method::Snapshot => Method::Snapshot,
        Method::Replicate => {
            replicate::session_setup(main_conn).map_err(|e| {
                anyhow!("{e}: the replicate method needs statement-format binary logging (SUPER or BINLOG ADMIN); use --method snapshot")
            })?;
            Method::Replicate
        }
        Method::Auto => match replicate::session_setup(main_conn) {
            Ok(()) if primary.log_bin => Method::Replicate,
            Ok(()) => Method::Snapshot,
            Err(e) => {
                log::info!("using the snapshot method: {e}");
                Method::Snapshot
            }
        },
    })
}

/// How many workers run: `--threads`, or half the primary's CPUs (2 to 8),
/// no more than the slowest replica applies at once with the replicate
/// method, and no more than there are tables.
fn worker_count(
    cfg: &Config,
    main_conn: &mut Conn,
    controls: &mut [Conn],
    method: Method,
    tables: usize,
) -> usize {
    let mut threads = cfg.threads.unwrap_or_else(|| default_threads(main_conn));
    if cfg.threads.is_none() && method == Method::Replicate {
        // Every chunk is re-executed by each replica's applier: more
        // workers than the slowest replica applies in parallel only make
        // it lag (and the run pause on --max-lag).
        let appliers = controls
            .iter_mut()
            .map(replica_appliers)
            .min()
            .unwrap_or(usize::MAX);
        threads = threads.min(appliers);
    }
    threads.min(tables.max(1))
}

/// Opens every worker's connections before any work, so a bad password or
/// a missing grant fails at once.
fn open_workers(
    threads: usize,
    method: Method,
    primary_spec: &ConnSpec,
    replicas: &[ReplicaInfo],
    opts: &conn::ConnectOptions,
) -> Result<Vec<WorkerConns>> {
    let mut workers = Vec::new();
    for _ in 0..threads {
        let mut p = conn::connect(primary_spec, opts)?;
        match method {
            Method::Replicate => replicate::session_setup(&mut p)?,
            _ => p.run(
                "setting isolation",
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            )?,
        }
        let mut rs = Vec::new();
        for r in replicas {
            let mut c = conn::connect(&r.spec, opts)?;
            c.run(
                "setting isolation",
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            )?;
            rs.push(c);
        }
        workers.push(WorkerConns {
            primary: p,
            replicas: rs,
            snapshot_at: None,
        });
    }
    Ok(workers)
}

/// Runs the whole checksum.
pub fn run(
    ctx: &Context,
    cfg: &Config,
    primary_spec: ConnSpec,
    replica_specs: Vec<ConnSpec>,
) -> Result<Exit> {
    let opts = cfg.conn.options.clone();
    let mut main_conn = conn::connect(&primary_spec, &opts)?;
    let primary_server = Server::detect(&mut main_conn)?;
    let Replicas {
        infos: replicas,
        mut controls,
        watched,
    } = connect_replicas(cfg, &primary_spec, replica_specs, &opts)?;
    let method = choose_method(cfg, &mut main_conn, &primary_server)?;
    let (rdb, rtbl) = (&cfg.replicate_table.db, &cfg.replicate_table.table);
    let rt = oxkit::checksum::ReplicateTable::open(&mut main_conn, &primary_server, rdb, rtbl)?;
    if method == Method::Replicate {
        main_conn.run("creating the checksum table", &rt.create_sql())?;
    }

    let plans = plan_tables(&mut main_conn, cfg, cfg.function.on(&primary_server))?;
    if plans.is_empty() {
        log::warn!("{}", cfg.filter.nothing_matched());
    }
    let total_rows: u64 = plans.iter().map(|p| p.table.row_estimate).sum();
    let threads = worker_count(cfg, &mut main_conn, &mut controls, method, plans.len());
    log::info!(
        "{} tables, method {:?}, {} replicas, {threads} threads",
        plans.len(),
        method,
        replicas.len()
    );
    let workers = open_workers(threads, method, &primary_spec, &replicas, &opts)?;

    let throttle_primary = conn::connect(&primary_spec, &opts)?;
    let (tx, rx) = mpsc::channel();
    let shared = Shared {
        cfg,
        ctx,
        method,
        primary_server,
        replicas,
        controls: Mutex::new(controls),
        throttle: Throttle::new(cfg.throttle.clone(), Some(throttle_primary), watched),
        tables: plans
            .into_iter()
            .map(|plan| {
                Arc::new(TableWork {
                    plan,
                    state: Mutex::new(TableState::default()),
                })
            })
            .collect(),
        next_table: AtomicUsize::new(0),
        active: Mutex::new(Vec::new()),
        results: tx,
        progress: Progress::new(ctx, total_rows, "rows"),
        abort: AtomicBool::new(false),
        rt,
        primary_label: dsn::label(&primary_spec),
        pending: Mutex::new(Vec::new()),
    };

    let (mut results, worker_errors) = run_workers(&shared, workers, rx);
    shared.progress.finish();

    // Cancellation and fatal errors: report the first (cancellation wins,
    // so Ctrl-C exits 4), after every worker restarted what it stopped.
    if worker_errors
        .iter()
        .any(|e| e.downcast_ref::<oxkit::entry::Cancelled>().is_some())
    {
        return Err(oxkit::entry::Cancelled.into());
    }
    if let Some(e) = worker_errors.into_iter().next() {
        return Err(e);
    }

    let exit = exit_status(&shared, &results);
    if cfg.format == oxkit::report::Format::Json {
        results.sort_by(|a, b| (&a.db, &a.table).cmp(&(&b.db, &b.table)));
        let doc = serde_json::json!({
            "method": method,
            "function": cfg.function.on(&shared.primary_server),
            "primary": dsn::label(&primary_spec),
            "replicas": shared.replicas.iter().map(|r| r.label.clone()).collect::<Vec<_>>(),
            "tables": results,
            "exit_status": exit.code(),
        });
        oxkit::report::mark_stdout_used();
        oxkit::report::write_json(&mut std::io::stdout().lock(), &doc)?;
    }
    Ok(exit)
}

/// Runs the workers and prints each table's result as it arrives; returns
/// the results and the workers' errors.
fn run_workers(
    shared: &Shared,
    workers: Vec<WorkerConns>,
    rx: mpsc::Receiver<TableResult>,
) -> (Vec<TableResult>, Vec<anyhow::Error>) {
    let mut results = Vec::new();
    let errors = std::thread::scope(|s| {
        let handles: Vec<_> = workers
            .into_iter()
            .map(|w| {
                s.spawn(move || {
                    let r = worker(shared, w);
                    if r.is_err() {
                        shared.abort.store(true, Ordering::SeqCst);
                    }
                    r
                })
            })
            .collect();
        let text = shared.cfg.format == oxkit::report::Format::Text;
        let mut out = std::io::stdout().lock();
        oxkit::report::mark_stdout_used();
        // One handling for every result, whether it arrives while workers
        // run or is drained after they finished: its line, then its warnings.
        let mut take = |r: TableResult, results: &mut Vec<TableResult>| {
            if text {
                let _ = output::print_line(&mut out, results.is_empty(), &r);
            }
            warn_result(&r);
            results.push(r);
        };
        // Every worker holds a clone of the sender through `shared`; stop
        // reading when all workers are gone.
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(r) => take(r, &mut results),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if handles.iter().all(|h| h.is_finished()) {
                        while let Ok(r) = rx.try_recv() {
                            take(r, &mut results);
                        }
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some(anyhow!("a worker thread panicked")),
            })
            .collect()
    });
    (results, errors)
}

/// The exit status the results add up to (pt-table-checksum's bits).
fn exit_status(shared: &Shared, results: &[TableResult]) -> Exit {
    let mut exit = Exit::OK;
    for r in results {
        if r.diffs > 0 || r.index_checks.iter().any(|c| !c.ok) {
            exit |= Exit::DIFFERENCES;
        }
        if r.skip_reason.is_some() {
            exit |= Exit::TABLE_SKIPPED;
        }
        if r.skipped > 0 {
            exit |= Exit::CHUNK_SKIPPED;
        }
        if r.errors > 0 {
            exit |= Exit::ERROR;
        }
    }
    if shared.replicas.is_empty() {
        exit |= Exit::NO_REPLICAS;
    }
    if shared.throttle.replication_stopped_seen() {
        exit |= Exit::REPLICATION_STOPPED;
    }
    exit
}

/// Takes the next chunk of any table with chunks left, starting the next
/// table when none has.
fn next_chunk(shared: &Shared, w: &mut WorkerConns) -> Result<Option<(Arc<TableWork>, Chunk)>> {
    loop {
        let active: Vec<Arc<TableWork>> = lock(&shared.active, "table list")?.clone();
        for t in active {
            if let Some(c) = take_chunk(shared, &t, &mut w.primary)? {
                return Ok(Some((t, c)));
            }
        }
        let i = shared.next_table.fetch_add(1, Ordering::SeqCst);
        let Some(t) = shared.tables.get(i).cloned() else {
            return Ok(None);
        };
        if begin_table(shared, &t, w)? {
            lock(&shared.active, "table list")?.push(t);
        }
    }
}

/// Prepares a table; returns false when it needs no chunks (skipped or
/// already done in a resumed run), having finished it.
fn begin_table(shared: &Shared, t: &Arc<TableWork>, w: &mut WorkerConns) -> Result<bool> {
    let plan = &t.plan;
    let mut st = lock(&t.state, "table state")?;
    st.began = Some(Instant::now());
    let key = match &plan.walk {
        Walk::Skip(_) => {
            st.issued_all = true;
            st.finalized = true;
            drop(st);
            finish(shared, t, w)?;
            return Ok(false);
        }
        Walk::Whole => None,
        Walk::Chunked(k) => Some(k.clone()),
    };
    let mut nibbler = key.as_ref().map(|k| {
        Nibbler::new(
            &plan.table,
            k.clone(),
            shared.cfg.r#where.clone(),
            shared.cfg.nibble.clone(),
        )
    });
    if shared.method == Method::Replicate {
        match replicate::begin_table(
            &mut w.primary,
            &shared.rt,
            plan,
            key.as_ref(),
            shared.cfg.resume,
        )? {
            replicate::Resume::Fresh => {}
            replicate::Resume::Done => {
                log::info!("{}: finished in the previous run", plan.table.full_name());
                st.resumed = true;
                st.issued_all = true;
                st.finalized = true;
                drop(st);
                finish(shared, t, w)?;
                return Ok(false);
            }
            replicate::Resume::After(n, v, below) => {
                log::info!("{}: resuming after chunk {n}", plan.table.full_name());
                st.resumed = true;
                if let Some(nb) = nibbler.as_mut() {
                    nb.resume_after(n, Some(v), below);
                }
            }
        }
    }
    // A table that fits one chunk is checksummed in one, without
    // boundaries, as pt-table-checksum does: walked, it would cost three
    // chunks (below its first key, its rows, above its last) and their
    // boundary reads, more than its rows. The optimizer's estimate spares
    // big tables the count; the count keeps a stale estimate harmless.
    let initial = shared.cfg.nibble.initial_rows;
    if nibbler.as_ref().is_some_and(|n| n.next_number() == 1)
        && plan.table.row_estimate <= initial.saturating_mul(4)
        && crate::plan::count_up_to(
            &mut w.primary,
            &plan.table,
            shared.cfg.r#where.as_deref(),
            initial + 1,
        )? <= initial
    {
        nibbler = None;
    }
    st.nibbler = nibbler;
    Ok(true)
}

fn take_chunk(shared: &Shared, t: &TableWork, primary: &mut Conn) -> Result<Option<Chunk>> {
    let mut st = lock(&t.state, "table state")?;
    if st.issued_all {
        return Ok(None);
    }
    let chunk = match st.nibbler.as_mut() {
        Some(n) => match n.next(primary) {
            Ok(c) => {
                if n.is_done() {
                    st.issued_all = true;
                }
                c
            }
            Err(e) => {
                // The table cannot be walked (dropped meanwhile, say).
                st.errors.push(e.to_string());
                st.issued_all = true;
                None
            }
        },
        None => {
            st.issued_all = true;
            Some(Chunk {
                number: 1,
                lower: Bound::Open,
                upper: Bound::Open,
            })
        }
    };
    if chunk.is_some() {
        st.started += 1;
    } else if st.done == st.started && !st.finalized {
        // Nothing more to hand out and nothing running: the walk ended
        // early (error). The caller's loop finishes it on its next pass.
        st.issued_all = true;
    }
    let _ = shared;
    Ok(chunk)
}

fn query_chunk(conn: &mut Conn, sql: &str) -> Result<(u64, String, Duration), DbError> {
    let start = Instant::now();
    let r: Option<(u64, String)> = conn.row("checksumming a chunk", sql)?;
    let (cnt, crc) = r.unwrap_or((0, "0".into()));
    Ok((cnt, crc, start.elapsed()))
}

/// Runs `f` up to three times while it fails with a lock wait or deadlock.
fn retry<T>(mut f: impl FnMut() -> Result<T, DbError>) -> Result<T, DbError> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.kind.is_retryable() && tries < 2 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100 * tries));
            }
            r => return r,
        }
    }
}

fn worker(shared: &Shared, mut w: WorkerConns) -> Result<()> {
    let cancel = &shared.ctx.cancel;
    loop {
        if shared.abort.load(Ordering::SeqCst) {
            return Ok(());
        }
        cancel.check()?;
        shared.throttle.wait(cancel)?;
        if shared.method == Method::Snapshot
            && !shared.replicas.is_empty()
            && w.snapshot_at
                .is_none_or(|t| t.elapsed() > shared.cfg.snapshot_refresh)
        {
            match snapshot::open(shared, &mut w.primary, &mut w.replicas)? {
                Some(pos) => {
                    log::debug!("snapshots open at {pos}");
                    w.snapshot_at = Some(Instant::now());
                }
                None => {
                    std::thread::sleep(shared.cfg.throttle.check_interval);
                    continue;
                }
            }
        }
        let Some((t, chunk)) = next_chunk(shared, &mut w)? else {
            finish_idle_tables(shared, &mut w)?;
            return check_replicas(shared, &mut w, true);
        };
        let outcome = checksum_chunk(shared, &t, &chunk, &mut w);
        let last = {
            let mut st = lock(&t.state, "table state")?;
            st.done += 1;
            match outcome {
                Ok((rows, diffs)) => {
                    st.rows += rows;
                    st.diffs.extend(diffs);
                    shared.progress.inc(rows);
                }
                Err(e) => {
                    if let Some(ce) = e.downcast_ref::<DbError>() {
                        if ce.kind == conn::ErrorKind::LostConnection {
                            return Err(e);
                        }
                    }
                    st.chunk_skips += 1;
                    st.errors.push(format!("chunk {}: {e:#}", chunk.number));
                }
            }
            let last = st.issued_all && st.done == st.started && !st.finalized;
            if last {
                st.finalized = true;
            }
            last
        };
        if last {
            finish(shared, &t, &mut w)?;
        }
    }
}

/// Finishes tables whose walk ended without a last chunk (an error while
/// reading boundaries).
fn finish_idle_tables(shared: &Shared, w: &mut WorkerConns) -> Result<()> {
    let active: Vec<Arc<TableWork>> = lock(&shared.active, "table list")?.clone();
    for t in active {
        let go = {
            let mut st = lock(&t.state, "table state")?;
            let go = st.issued_all && st.done == st.started && !st.finalized;
            if go {
                st.finalized = true;
            }
            go
        };
        if go {
            finish(shared, &t, w)?;
        }
    }
    Ok(())
}

/// Checksums one chunk; returns the primary's row count and the replicas
/// whose checksum differs (snapshot method; the replicate method compares
/// when the table is finished).
fn checksum_chunk(
    shared: &Shared,
    t: &TableWork,
    chunk: &Chunk,
    w: &mut WorkerConns,
) -> Result<(u64, Vec<DiffChunk>)> {
    let plan = &t.plan;
    let key = match &plan.walk {
        Walk::Chunked(k) => Some(k),
        _ => None,
    };
    let mut cond = match key {
        Some(k) => k.range_sql(&chunk.lower, &chunk.upper),
        None => "1=1".to_string(),
    };
    if let Some(f) = &shared.cfg.r#where {
        cond = format!("({cond}) AND ({f})");
    }
    let force = key.map(|k| k.force_index()).unwrap_or_default();
    let started = Instant::now();
    let (rows, diffs) = match shared.method {
        Method::Replicate => {
            let (cnt, crc) = retry(|| {
                replicate::checksum_chunk(
                    &mut w.primary,
                    &shared.rt,
                    plan,
                    key,
                    chunk,
                    &force,
                    &cond,
                )
            })?;
            let secs = started.elapsed().as_secs_f64();
            replicate::record_master(
                &mut w.primary,
                &shared.rt,
                plan,
                chunk.number,
                cnt,
                &crc,
                secs,
            )?;
            (cnt, vec![])
        }
        _ => {
            let sql = plan.checksum.query(&force, &cond);
            let results: Vec<Result<(u64, String, Duration), DbError>> = std::thread::scope(|s| {
                let hs: Vec<_> = std::iter::once(&mut w.primary)
                    .chain(w.replicas.iter_mut())
                    .map(|c| {
                        let sql = &sql;
                        s.spawn(move || query_chunk(c, sql))
                    })
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(DbError {
                                kind: conn::ErrorKind::Other,
                                code: None,
                                message: "checksum thread panicked".into(),
                            })
                        })
                    })
                    .collect()
            });
            let mut it = results.into_iter();
            let (pcnt, pcrc, _) = it.next().context("no primary result")??;
            let mut diffs = Vec::new();
            for (r, res) in shared.replicas.iter().zip(it) {
                let (rcnt, rcrc, _) = res.with_context(|| format!("on replica {}", r.label))?;
                if rcnt != pcnt || rcrc != pcrc {
                    diffs.push(DiffChunk {
                        chunk: chunk.number,
                        index: key.map(|k| k.index.clone()),
                        lower_boundary: key.zip(chunk.lower.value()).map(|(k, v)| k.to_text(v)),
                        upper_boundary: key.zip(chunk.upper.value()).map(|(k, v)| k.to_text(v)),
                        host: r.label.clone(),
                        primary_rows: pcnt,
                        replica_rows: rcnt,
                        primary_crc: pcrc.clone(),
                        replica_crc: rcrc,
                    });
                }
            }
            (pcnt, diffs)
        }
    };
    if let Ok(mut st) = t.state.lock() {
        if let Some(n) = st.nibbler.as_mut() {
            n.observe_chunk(chunk, rows, started.elapsed());
        }
    }
    Ok((rows, diffs))
}

/// The warnings one table's result carries: each differing chunk, each
/// index that disagrees with its table, each error.
fn warn_result(r: &TableResult) {
    for d in &r.diff_chunks {
        log::warn!(
            "{}.{} chunk {} differs on {}: rows {} vs {}, checksum {} vs {} (index {}, lower {}, upper {})",
            r.db,
            r.table,
            d.chunk,
            d.host,
            d.primary_rows,
            d.replica_rows,
            d.primary_crc,
            d.replica_crc,
            d.index.as_deref().unwrap_or("none"),
            d.lower_boundary.as_deref().unwrap_or("open"),
            d.upper_boundary.as_deref().unwrap_or("open"),
        );
    }
    for c in r.index_checks.iter().filter(|c| !c.ok) {
        log::warn!(
            "{}.{} index {} on {} disagrees with its table: {} rows through the index, {} through the table",
            r.db, r.table, c.index, c.host, c.index_rows, c.table_rows
        );
    }
    for e in &r.error_messages {
        log::warn!("{}.{}: {e}", r.db, r.table);
    }
}

/// Completes a table: its index checks and its result, which the replicate
/// method leaves for [`check_replicas`] to compare.
fn finish(shared: &Shared, t: &TableWork, w: &mut WorkerConns) -> Result<()> {
    let plan = &t.plan;
    let (mut rows, chunk_skips, mut errors, diffs, began, mut chunks, resumed) = {
        let st = lock(&t.state, "table state")?;
        (
            st.rows,
            st.chunk_skips,
            st.errors.clone(),
            st.diffs.clone(),
            st.began.unwrap_or_else(Instant::now),
            st.started,
            st.resumed,
        )
    };
    let skip_reason = match &plan.walk {
        Walk::Skip(r) => Some(r.clone()),
        _ => None,
    };
    let compare_later =
        shared.method == Method::Replicate && skip_reason.is_none() && !shared.replicas.is_empty();
    if shared.method == Method::Replicate && skip_reason.is_none() && resumed {
        let (r, c) = replicate::totals(&mut w.primary, &shared.rt, plan)?;
        rows = r;
        chunks = c as u32;
    }
    let mut index_checks = Vec::new();
    if shared.cfg.verify_indexes && skip_reason.is_none() {
        let snapshot = shared.method == Method::Snapshot && !shared.replicas.is_empty();
        let labels: Vec<String> = std::iter::once(shared.primary_label.clone())
            .chain(shared.replicas.iter().map(|r| r.label.clone()))
            .collect();
        for (label, c) in labels
            .iter()
            .zip(std::iter::once(&mut w.primary).chain(w.replicas.iter_mut()))
        {
            match verify_indexes(
                c,
                plan,
                &shared.cfg.row,
                shared.cfg.function.on(&shared.primary_server),
                snapshot,
                label,
            ) {
                Ok(v) => index_checks.extend(v),
                Err(e) => errors.push(format!("verifying indexes on {label}: {e:#}")),
            }
        }
    }
    let result = TableResult {
        db: plan.table.db.clone(),
        table: plan.table.name.clone(),
        index: match &plan.walk {
            Walk::Chunked(k) => Some(k.index.clone()),
            _ => None,
        },
        errors: 0,
        diffs: 0,
        rows,
        diff_rows: 0,
        chunks,
        skipped: chunk_skips,
        time: began.elapsed().as_secs_f64(),
        skip_reason,
        error_messages: errors,
        diff_chunks: diffs,
        index_checks,
    };
    if compare_later {
        lock(&shared.pending, "pending tables")?.push((Instant::now(), result));
        return check_replicas(shared, w, false);
    }
    send(shared, result)
}

/// Compares finished tables on the replicas, in batches: once the oldest
/// waited a second, a hundred are waiting, or with `all`. One wait for the
/// primary's position and one read of the checksum table per replica serve
/// the whole batch; waiting table by table left the worker idle for each
/// replica's apply of the table's last chunk, most of a small table's time.
fn check_replicas(shared: &Shared, w: &mut WorkerConns, all: bool) -> Result<()> {
    let batch = {
        let mut pending = lock(&shared.pending, "pending tables")?;
        let due = all
            || pending.len() >= 100
            || pending
                .first()
                .is_some_and(|(at, _)| at.elapsed() >= Duration::from_secs(1));
        if !due || pending.is_empty() {
            return Ok(());
        }
        std::mem::take(&mut *pending)
    };
    let mut results: Vec<TableResult> = batch.into_iter().map(|(_, r)| r).collect();
    let names: Vec<(String, String)> = results
        .iter()
        .map(|r| (r.db.clone(), r.table.clone()))
        .collect();
    let pos = source_position(&mut w.primary, &shared.primary_server)?.gtid;
    for (r, rc) in shared.replicas.iter().zip(w.replicas.iter_mut()) {
        if let Err(e) = oxkit::topology::wait_applied(
            rc,
            &r.server,
            &pos,
            shared.cfg.replica_timeout,
            &shared.ctx.cancel,
        ) {
            if e.downcast_ref::<oxkit::entry::Cancelled>().is_some() {
                return Err(e);
            }
            for res in &mut results {
                res.error_messages
                    .push(format!("replica {}: {e:#}", r.label));
            }
            continue;
        }
        for d in replicate::replica_diffs(rc, &shared.rt, &names)? {
            let Some(res) = results
                .iter_mut()
                .find(|res| res.db == d.db && res.table == d.table)
            else {
                continue;
            };
            res.diff_chunks.push(DiffChunk {
                chunk: d.chunk,
                index: d.index,
                lower_boundary: d.lower,
                upper_boundary: d.upper,
                host: r.label.clone(),
                primary_rows: d.master_cnt.unwrap_or(0),
                replica_rows: d.this_cnt,
                primary_crc: d.master_crc.unwrap_or_default(),
                replica_crc: d.this_crc,
            });
        }
    }
    results.into_iter().try_for_each(|r| send(shared, r))
}

/// Sends a table's result to the printer, its counts taken from its
/// differing chunks and errors.
fn send(shared: &Shared, mut result: TableResult) -> Result<()> {
    result
        .diff_chunks
        .sort_by(|a, b| (a.chunk, &a.host).cmp(&(b.chunk, &b.host)));
    let mut per_chunk: std::collections::BTreeMap<u32, u64> = Default::default();
    for d in &result.diff_chunks {
        let delta = d.primary_rows.abs_diff(d.replica_rows);
        let e = per_chunk.entry(d.chunk).or_default();
        *e = (*e).max(delta);
    }
    result.diffs = per_chunk.len() as u32;
    result.diff_rows = per_chunk.values().sum();
    result.errors = result.error_messages.len() as u32;
    shared
        .results
        .send(result)
        .map_err(|_| anyhow!("result channel closed"))
}

/// Reads `plan`'s table through each secondary index (covering: the index
/// columns and the primary key) and through the clustered index, and
/// compares count and checksum.
fn verify_indexes(
    conn: &mut Conn,
    plan: &TablePlan,
    row: &RowOptions,
    func: oxkit::checksum::Function,
    in_snapshot: bool,
    label: &str,
) -> Result<Vec<IndexCheck>> {
    let table = &plan.table;
    let pk = table.primary_key();
    let mut out = Vec::new();
    if !in_snapshot {
        conn.run("ending the previous snapshot", "COMMIT")?;
        conn.run(
            "opening a snapshot",
            "START TRANSACTION WITH CONSISTENT SNAPSHOT",
        )?;
    }
    for idx in table
        .indexes
        .iter()
        .filter(|i| !i.primary && i.kind == oxkit::schema::IndexKind::Btree)
    {
        let mut cols = Vec::new();
        for ic in &idx.columns {
            if let Some(c) = table.column(&ic.name) {
                cols.push((c, ic.sub_part));
            }
        }
        if let Some(pk) = pk {
            for ic in &pk.columns {
                if !idx
                    .columns
                    .iter()
                    .any(|x| x.name.eq_ignore_ascii_case(&ic.name))
                {
                    if let Some(c) = table.column(&ic.name) {
                        cols.push((c, ic.sub_part));
                    }
                }
            }
        }
        let select = aggregate(func, &row_string(&cols, row), false);
        let through = |force: &str| {
            format!(
                "SELECT {NO_CACHE} {select} FROM {} {force}",
                plan.checksum.table_sql
            )
        };
        let a: Option<(u64, String)> = conn.row(
            "reading through the index",
            &through(&format!("FORCE INDEX ({})", quote_ident(&idx.name))),
        )?;
        let b: Option<(u64, String)> =
            conn.row("reading through the table", &through("USE INDEX ()"))?;
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        out.push(IndexCheck {
            host: label.to_string(),
            index: idx.name.clone(),
            index_rows: a.0,
            table_rows: b.0,
            ok: a == b,
        });
    }
    if !in_snapshot {
        conn.run("ending the snapshot", "COMMIT")?;
    }
    Ok(out)
}
