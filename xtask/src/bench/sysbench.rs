//! sysbench as the application load of a benchmark: how much does a tool
//! hurt the OLTP traffic that runs while it works?
//!
//! The benchmark tables are the ones [`super::load`] makes (the
//! sysbench `sbtest` shape), so there is no `sysbench prepare` step: a run
//! only needs `--tables` and `--table-size` to match what was loaded.
//!
//! A [`Load`] runs in the background with `--report-interval=1`, so every
//! second of the run is kept ([`Second`]) and a benchmark can ask what the
//! application saw inside any time window ([`Load::window`] after
//! [`Load::finish`]): while a schema change ran, while a backup copied.
//! Client errors are counted, not fatal (`--mysql-ignore-errors=all`): an
//! error the tool under test causes is a result, not a crash of the bench.
//!
//! Installs Debian's `sysbench` when it is missing.

use anyhow::{bail, Context as _, Result};
use oxkit::sandbox::Sandbox;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Installs sysbench when it is not on PATH.
pub fn ensure_installed() -> Result<()> {
    if oxkit::sandbox::find_program(&["sysbench"]).is_none() {
        crate::test::apt_install(&["sysbench"])?;
    }
    Ok(())
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// The sysbench test, e.g. `oltp_read_write`, `oltp_write_only`.
    pub script: String,
    /// Client threads.
    pub threads: u32,
    /// Transactions per second to issue (0: as fast as the server goes).
    pub rate: u32,
    /// Length of the run.
    pub seconds: u32,
    /// Number of `sbtest` tables loaded.
    pub tables: u32,
    /// Rows per table loaded.
    pub table_size: u64,
}

impl Options {
    /// `oltp_read_write` on the one table [`super::load`] makes.
    pub fn read_write(table_size: u64) -> Options {
        Options {
            script: "oltp_read_write".into(),
            threads: 4,
            rate: 0,
            seconds: 20,
            tables: 1,
            table_size,
        }
    }
}

/// One second of the run as sysbench reported it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Second {
    /// Seconds since the load started (end of the interval).
    pub at: f64,
    /// Transactions per second in this interval.
    pub tps: f64,
    /// 99th percentile latency in ms in this interval.
    pub p99_ms: f64,
    /// Errors per second.
    pub err_per_s: f64,
    /// Reconnects per second.
    pub reconn_per_s: f64,
}

/// What the application saw over a stretch of the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Seconds covered.
    pub seconds: f64,
    /// Mean transactions per second.
    pub tps: f64,
    /// Worst per-second 99th percentile latency, ms.
    pub p99_ms_max: f64,
    /// Median of the per-second 99th percentile latencies, ms.
    pub p99_ms_median: f64,
    /// Client errors (sysbench's ignored errors) in the stretch.
    pub errors: f64,
    /// Reconnects in the stretch.
    pub reconnects: f64,
}

impl Stats {
    fn of(secs: &[Second]) -> Stats {
        if secs.is_empty() {
            return Stats::default();
        }
        let n = secs.len() as f64;
        let mut p99: Vec<f64> = secs.iter().map(|s| s.p99_ms).collect();
        p99.sort_by(|a, b| a.total_cmp(b));
        Stats {
            seconds: n,
            tps: secs.iter().map(|s| s.tps).sum::<f64>() / n,
            p99_ms_max: p99[p99.len() - 1],
            p99_ms_median: p99[p99.len() / 2],
            errors: secs.iter().map(|s| s.err_per_s).sum(),
            reconnects: secs.iter().map(|s| s.reconn_per_s).sum(),
        }
    }

    /// One line for a benchmark report.
    pub fn line(&self) -> String {
        format!(
            "{:7.1} tps, p99 {:7.1} ms median / {:7.1} ms worst second, {} errors, {} reconnects ({} s)",
            self.tps,
            self.p99_ms_median,
            self.p99_ms_max,
            self.errors.round(),
            self.reconnects.round(),
            self.seconds
        )
    }
}

/// A client error sysbench ignored (`--verbosity=5` logs each one).
#[derive(Clone, Debug)]
pub struct ClientError {
    /// Seconds since the load started: the middle of the reported second
    /// it was logged in.
    pub at: f64,
    /// The server's (or client library's) error number.
    pub code: u32,
    /// Its message.
    pub message: String,
}

/// Parses sysbench's debug line `DEBUG: Ignoring error 1213 Deadlock found ..., `.
fn parse_ignored(line: &str, at: f64) -> Option<ClientError> {
    let rest = &line[line.find("Ignoring error ")? + "Ignoring error ".len()..];
    let (code, msg) = rest.split_once(' ').unwrap_or((rest, ""));
    Some(ClientError {
        at,
        code: code.trim().parse().ok()?,
        message: msg.trim().trim_end_matches(',').trim().to_string(),
    })
}

/// A sysbench run in the background.
pub struct Load {
    child: Child,
    started: Instant,
    seconds: Arc<Mutex<Vec<Second>>>,
    errors: Arc<Mutex<Vec<ClientError>>>,
    reader: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// A finished run: every second, and the whole run's totals.
pub struct Finished {
    started: Instant,
    /// Every reported second.
    pub seconds: Vec<Second>,
    /// sysbench's final summary text.
    pub summary: String,
    /// Every ignored client error, with its time.
    pub errors: Vec<ClientError>,
}

impl Load {
    /// Starts `opts` against `s` (root over its socket; sandboxes have no
    /// root password).
    pub fn start(s: &Sandbox, db: &str, opts: &Options) -> Result<Load> {
        ensure_installed()?;
        let mut cmd = Command::new("sysbench");
        cmd.arg(&opts.script)
            .arg("--db-driver=mysql")
            .arg(format!("--mysql-socket={}", s.socket().display()))
            .arg("--mysql-user=root")
            .arg(format!("--mysql-db={db}"))
            .arg(format!("--tables={}", opts.tables))
            .arg(format!("--table-size={}", opts.table_size))
            .arg(format!("--threads={}", opts.threads))
            .arg(format!("--rate={}", opts.rate))
            .arg(format!("--time={}", opts.seconds))
            .arg("--report-interval=1")
            .arg("--percentile=99")
            .arg("--mysql-ignore-errors=all")
            // Debug level: each ignored error is logged with its number,
            // so a bench can say which errors a tool caused.
            .arg("--verbosity=5")
            .arg("--db-ps-mode=disable")
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context("starting sysbench")?;
        let started = Instant::now();
        let seconds = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().context("sysbench stdout")?;
        let err = child.stderr.take().context("sysbench stderr")?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seconds);
        let esink = Arc::clone(&errors);
        let reader = std::thread::spawn(move || {
            let mut rest = String::new();
            // sysbench block-buffers its output into the pipe, so the time a
            // line is read says little; its place in the stream does: an
            // error logged after the interval line for second N happened in
            // second N+1.
            let mut last_at = 0.0;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(sec) = parse_second(&line) {
                    last_at = sec.at;
                    sink.lock().map(|mut v| v.push(sec)).unwrap_or(());
                } else if let Some(e) = parse_ignored(&line, last_at + 0.5) {
                    esink.lock().map(|mut v| v.push(e)).unwrap_or(());
                } else if !line.starts_with("DEBUG:") {
                    rest.push_str(&line);
                    rest.push('\n');
                }
            }
            rest
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Ok(Load {
            child,
            started,
            seconds,
            errors,
            reader: Some(reader),
            stderr: Some(stderr),
        })
    }

    /// Waits for the run to end (its `--time`) and collects what it saw.
    pub fn finish(mut self) -> Result<Finished> {
        let status = self.child.wait().context("waiting for sysbench")?;
        let summary = self
            .reader
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        if !status.success() {
            bail!("sysbench failed ({status}):\n{summary}\n{stderr}");
        }
        let seconds = self.seconds.lock().map(|v| v.clone()).unwrap_or_default();
        let errors = self.errors.lock().map(|v| v.clone()).unwrap_or_default();
        Ok(Finished {
            started: self.started,
            seconds,
            summary,
            errors,
        })
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // A bench that fails half way must not leave sysbench hammering.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Finished {
    /// The whole run.
    pub fn all(&self) -> Stats {
        Stats::of(&self.seconds)
    }

    /// The seconds that ended inside `[from, to]` (instants taken by the
    /// benchmark around the operation it measures).
    pub fn window(&self, from: Instant, to: Instant) -> Stats {
        let a = from.saturating_duration_since(self.started).as_secs_f64();
        let b = to.saturating_duration_since(self.started).as_secs_f64();
        // A second is in the window when most of it is.
        let inside: Vec<Second> = self
            .seconds
            .iter()
            .copied()
            .filter(|s| s.at - 0.5 >= a && s.at - 0.5 <= b)
            .collect();
        Stats::of(&inside)
    }
}

impl Finished {
    /// The client errors logged inside `[from, to]`, by error number:
    /// `1213 x3 (Deadlock found when trying to get lock; ...)`; empty when none.
    pub fn error_kinds(&self, from: Instant, to: Instant) -> String {
        let a = from.saturating_duration_since(self.started).as_secs_f64();
        let b = to.saturating_duration_since(self.started).as_secs_f64();
        let mut by: std::collections::BTreeMap<u32, (usize, &str)> = Default::default();
        // The same rule as `window`: an error belongs to its second.
        for e in self.errors.iter().filter(|e| e.at >= a && e.at <= b) {
            let slot = by.entry(e.code).or_insert((0, e.message.as_str()));
            slot.0 += 1;
        }
        by.iter()
            .map(|(code, (n, msg))| format!("{code} x{n} ({msg})"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Measures what the server sustains with `opts` unthrottled (`rate` 0) for
/// `seconds`, ignoring the first two seconds: the capacity a benchmark
/// takes half of for "about half capacity".
pub fn capacity(s: &Sandbox, db: &str, opts: &Options, seconds: u32) -> Result<f64> {
    let mut o = opts.clone();
    o.rate = 0;
    o.seconds = seconds;
    let run = Load::start(s, db, &o)?.finish()?;
    let steady: Vec<Second> = run.seconds.iter().copied().filter(|s| s.at > 2.0).collect();
    let tps = Stats::of(&steady).tps;
    if tps <= 0.0 {
        bail!("sysbench reported no transactions:\n{}", run.summary);
    }
    Ok(tps)
}

/// Parses one `--report-interval` line:
/// `[ 3s ] thds: 4 tps: 812.97 qps: 16263.42 (r/w/o: ...) lat (ms,99%): 9.73 err/s: 0.00 reconn/s: 0.00`
/// (with `--rate`, also `queue: N concurrency: M`).
fn parse_second(line: &str) -> Option<Second> {
    let l = line.trim();
    let rest = l.strip_prefix('[')?;
    let (at, rest) = rest.split_once("s ]")?;
    let at: f64 = at.trim().parse().ok()?;
    let field = |name: &str| -> Option<f64> {
        let i = rest.find(name)? + name.len();
        rest[i..].split_whitespace().next()?.parse().ok()
    };
    Some(Second {
        at,
        tps: field("tps:")?,
        p99_ms: field("lat (ms,99%):")?,
        err_per_s: field("err/s:").unwrap_or(0.0),
        reconn_per_s: field("reconn/s:").unwrap_or(0.0),
    })
}

/// `cargo xtask bench oltp`: the load alone — what one benchmark server
/// sustains unthrottled and what the application sees at half of that. The
/// baseline the tool benchmarks compare their "during" figures with.
pub fn bench(args: &super::Args) -> Result<()> {
    ensure_installed()?;
    let s = Sandbox::builder()
        .tcp(true)
        .binlog(true)
        .arg("--innodb-buffer-pool-size=2G")
        .arg("--innodb-log-file-size=512M")
        .start()?;
    eprintln!("server on port {}; loading {} rows", s.port(), args.rows);
    super::load(&s, args.rows)?;
    let opts = Options::read_write(args.rows);
    let cap = capacity(&s, "sbtest", &opts, 12)?;
    let mut half = opts.clone();
    half.rate = (cap / 2.0).round().max(1.0) as u32;
    let run = Load::start(&s, "sbtest", &half)?.finish()?;
    let steady = run.window(
        run.started + Duration::from_secs(2),
        run.started + Duration::from_secs(u64::from(half.seconds)),
    );
    let all = run.all();
    println!(
        "oltp_read_write, {} threads, {} rows",
        opts.threads, args.rows
    );
    println!("capacity (unthrottled):   {cap:7.1} tps");
    println!("at --rate={:<5}          {}", half.rate, all.line());
    println!("  after the first 2 s:    {}", steady.line());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interval_lines() {
        let s = parse_second(
            "[ 3s ] thds: 4 tps: 812.97 qps: 16263.42 (r/w/o: 11384.58/3252.90/1625.94) \
             lat (ms,99%): 9.73 err/s: 0.00 reconn/s: 0.00",
        )
        .expect("line");
        assert_eq!(s.at, 3.0);
        assert_eq!(s.tps, 812.97);
        assert_eq!(s.p99_ms, 9.73);
        let q = parse_second(
            "[ 10s ] queue length: 0, concurrency: 1 thds: 4 tps: 500.00 qps: 10000.00 \
             (r/w/o: 7000.00/2000.00/1000.00) lat (ms,99%): 5.00 err/s: 1.00 reconn/s: 0.00",
        )
        .expect("rate line");
        assert_eq!(q.err_per_s, 1.0);
        assert!(parse_second("SQL statistics:").is_none());
    }

    #[test]
    fn windows_split_the_run() {
        let f = Finished {
            started: Instant::now(),
            seconds: (1..=10)
                .map(|i| Second {
                    at: i as f64,
                    tps: if (4..=6).contains(&i) { 10.0 } else { 100.0 },
                    p99_ms: i as f64,
                    ..Second::default()
                })
                .collect(),
            summary: String::new(),
            errors: vec![
                parse_ignored(
                    "DEBUG: Ignoring error 1213 Deadlock found when trying to get lock; try restarting transaction, ",
                    4.5,
                )
                .expect("ignored"),
                parse_ignored("DEBUG: Ignoring error 1205 Lock wait timeout exceeded, ", 9.0)
                    .expect("ignored"),
            ],
        };
        let from = f.started + Duration::from_millis(3000);
        assert_eq!(
            f.error_kinds(from, f.started + Duration::from_millis(6000)),
            "1213 x1 (Deadlock found when trying to get lock; try restarting transaction)"
        );
        let to = f.started + Duration::from_millis(6000);
        let w = f.window(from, to);
        assert_eq!(w.seconds, 3.0);
        assert_eq!(w.tps, 10.0);
        assert_eq!(f.all().seconds, 10.0);
    }
}
