//! Waiting between chunks: replica lag (`--max-lag`), server load
//! (`--max-load` pauses, `--critical-load` aborts), a pause file, stopped
//! replication, and cancellation.
//!
//! Tools call [`Throttle::wait`] before each chunk. Checks hit the servers
//! at most once per `check_interval`, however many workers ask, and the
//! answer is shared. A stopped replica (either thread not running) pauses
//! the run until it runs again and is remembered, so the tool can set exit
//! flag 128; with `fail_on_stopped` it is an error instead. While a tool
//! stops replication on purpose (a snapshot sync) it holds
//! [`Throttle::quiet`], and replica checks wait for it, so they never see
//! the tool's own stop.

use crate::conn::Conn;
use crate::entry::{Cancel, Cancelled, ExitError};
use crate::server::Server;
use crate::topology::replica_status;
use crate::Exit;
use anyhow::{bail, Context as _, Result};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A status variable and its threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Global status variable name, e.g. `Threads_running`.
    pub variable: String,
    /// Pause (or abort) when the value exceeds this.
    pub limit: u64,
}

/// Parses `Threads_running=25,Threads_connected:400` (Percona accepts `=`
/// and `:`).
pub fn parse_thresholds(s: &str) -> Result<Vec<Threshold>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (var, limit) = p
                .split_once(['=', ':'])
                .with_context(|| format!("{p:?}: expected VARIABLE=NUMBER"))?;
            let var = var.trim();
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("{var:?} is not a status variable name");
            }
            Ok(Threshold {
                variable: var.to_string(),
                limit: limit
                    .trim()
                    .parse()
                    .with_context(|| format!("{p:?}: the limit is not a whole number"))?,
            })
        })
        .collect()
}

/// What to wait for.
#[derive(Clone, Debug)]
pub struct ThrottleOptions {
    /// Pause while any replica lags more than this.
    pub max_lag: Option<Duration>,
    /// Pause while a status variable on the primary exceeds its limit.
    pub max_load: Vec<Threshold>,
    /// Abort when a status variable exceeds its limit.
    pub critical_load: Vec<Threshold>,
    /// Pause while this file exists.
    pub pause_file: Option<PathBuf>,
    /// Fail instead of waiting when a replica's threads are stopped.
    pub fail_on_stopped: bool,
    /// How often servers are asked.
    pub check_interval: Duration,
}

impl Default for ThrottleOptions {
    fn default() -> ThrottleOptions {
        ThrottleOptions {
            max_lag: None,
            max_load: vec![],
            critical_load: vec![],
            pause_file: None,
            fail_on_stopped: false,
            check_interval: Duration::from_secs(1),
        }
    }
}

/// A replica the throttle watches.
pub struct Watched {
    /// `host:port` for messages.
    pub label: String,
    /// A connection used only for status checks.
    pub conn: Conn,
    /// What the server is.
    pub server: Server,
}

struct State {
    primary: Option<Conn>,
    replicas: Vec<Watched>,
    last: Option<Instant>,
    holding: Option<String>,
    /// The largest replica lag the last look saw (seconds).
    lag: Option<u64>,
}

/// Shared between workers; see the module documentation.
pub struct Throttle {
    opts: ThrottleOptions,
    state: Mutex<State>,
    quiet: Arc<Mutex<()>>,
    stopped_seen: AtomicBool,
    announced: Mutex<Option<String>>,
}

impl Throttle {
    /// A throttle checking `primary` for load and `replicas` for lag.
    pub fn new(opts: ThrottleOptions, primary: Option<Conn>, replicas: Vec<Watched>) -> Throttle {
        Throttle {
            opts,
            state: Mutex::new(State {
                primary,
                replicas,
                last: None,
                holding: None,
                lag: None,
            }),
            quiet: Arc::new(Mutex::new(())),
            stopped_seen: AtomicBool::new(false),
            announced: Mutex::new(None),
        }
    }

    /// Held while the tool stops replication itself.
    pub fn quiet(&self) -> Arc<Mutex<()>> {
        self.quiet.clone()
    }

    /// True once a replica was seen with a stopped thread.
    pub fn replication_stopped_seen(&self) -> bool {
        self.stopped_seen.load(Ordering::SeqCst)
    }

    /// The largest replica lag (seconds) the last check saw, if it read
    /// any: a tool can yield before `max_lag` is reached.
    pub fn last_lag(&self) -> Option<u64> {
        self.state.lock().ok().and_then(|st| st.lag)
    }

    /// Returns when nothing holds the run back; errors on critical load, on
    /// a stopped replica with `fail_on_stopped`, and on cancellation.
    pub fn wait(&self, cancel: &Cancel) -> Result<()> {
        loop {
            cancel.check()?;
            let reason = self.check()?;
            self.announce(reason.as_deref());
            if reason.is_none() {
                return Ok(());
            }
            let step = self.opts.check_interval.min(Duration::from_millis(250));
            let until = Instant::now() + self.opts.check_interval;
            while Instant::now() < until {
                if cancel.is_cancelled() {
                    return Err(Cancelled.into());
                }
                std::thread::sleep(step);
            }
        }
    }

    /// Logs a pause or resume once, however many workers see it.
    fn announce(&self, reason: Option<&str>) {
        let Ok(mut last) = self.announced.lock() else {
            return;
        };
        match (last.as_deref(), reason) {
            (Some(old), None) => log::warn!("resuming (was paused: {old})"),
            (old, Some(new)) if old != Some(new) => log::warn!("pausing: {new}"),
            _ => return,
        }
        *last = reason.map(str::to_string);
    }

    /// One (rate-limited) look at everything; `Some(reason)` to pause.
    fn check(&self) -> Result<Option<String>> {
        if let Some(f) = &self.opts.pause_file {
            if f.exists() {
                return Ok(Some(format!("pause file {} exists", f.display())));
            }
        }
        let mut st = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("throttle state poisoned"))?;
        if st
            .last
            .is_some_and(|t| t.elapsed() < self.opts.check_interval)
        {
            return Ok(st.holding.clone());
        }
        let reason = self.look(&mut st)?;
        st.last = Some(Instant::now());
        st.holding = reason.clone();
        Ok(reason)
    }

    fn look(&self, st: &mut State) -> Result<Option<String>> {
        if let Some(p) = st.primary.as_mut() {
            for (list, critical) in [
                (&self.opts.critical_load, true),
                (&self.opts.max_load, false),
            ] {
                for t in list {
                    let v = p.global_status(&t.variable)?;
                    if v > t.limit {
                        if critical {
                            return Err(ExitError {
                                exit: Exit::ERROR,
                                message: format!(
                                    "critical load on {}: {}={v} exceeds {} (--critical-load)",
                                    p.label(),
                                    t.variable,
                                    t.limit
                                ),
                            }
                            .into());
                        }
                        return Ok(Some(format!(
                            "{}={v} exceeds {} (--max-load)",
                            t.variable, t.limit
                        )));
                    }
                }
            }
        }
        let _quiet = self
            .quiet
            .lock()
            .map_err(|_| anyhow::anyhow!("replication lock poisoned"))?;
        st.lag = None;
        for r in st.replicas.iter_mut() {
            let status = replica_status(&mut r.conn, &r.server)?;
            let Some(s) = status.first() else {
                continue;
            };
            if let Some(l) = s.seconds_behind {
                st.lag = Some(st.lag.unwrap_or(0).max(l));
            }
            if s.is_stopped() {
                self.stopped_seen.store(true, Ordering::SeqCst);
                let why = format!(
                    "replication on {} is stopped (IO thread: {}, SQL thread: {}){}",
                    r.label,
                    s.io_running,
                    if s.sql_running { "Yes" } else { "No" },
                    [&s.last_io_error, &s.last_sql_error]
                        .iter()
                        .find(|e| !e.is_empty())
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                if self.opts.fail_on_stopped {
                    return Err(ExitError {
                        exit: Exit::REPLICATION_STOPPED,
                        message: format!("{why} (--fail-on-stopped-replication)"),
                    }
                    .into());
                }
                return Ok(Some(why));
            }
            if let (Some(max), Some(lag)) = (self.opts.max_lag, s.seconds_behind) {
                if lag > max.as_secs() {
                    return Ok(Some(format!(
                        "{} lags {lag}s behind its source (--max-lag {}s)",
                        r.label,
                        max.as_secs()
                    )));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(
            parse_thresholds("Threads_running=25,Threads_connected:400").unwrap_or_default(),
            vec![
                Threshold {
                    variable: "Threads_running".into(),
                    limit: 25
                },
                Threshold {
                    variable: "Threads_connected".into(),
                    limit: 400
                }
            ]
        );
        assert!(parse_thresholds("Threads_running").is_err());
        assert!(parse_thresholds("x'; DROP=1").is_err());
        assert!(parse_thresholds("Threads_running=lots").is_err());
    }

    #[test]
    fn pause_file_pauses_without_a_server() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("pause");
        let t = Throttle::new(
            ThrottleOptions {
                pause_file: Some(f.clone()),
                ..Default::default()
            },
            None,
            vec![],
        );
        assert_eq!(t.check().ok().flatten(), None);
        std::fs::write(&f, "").expect("write");
        assert!(t
            .check()
            .ok()
            .flatten()
            .is_some_and(|r| r.contains("pause file")));
    }
}
