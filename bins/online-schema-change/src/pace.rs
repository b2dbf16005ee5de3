//! How long the copy yields to the application after each round.
//!
//! `--pace always` sleeps `--sleep-ratio` times the round's time after
//! every round, whatever the server does. `--pace adaptive` (the default)
//! sleeps that long only after a round during which the application is
//! seen to suffer, and copies flat out otherwise, so an idle or lightly
//! loaded server is not made to wait for nothing. The signals, read after
//! each round (when the copy's own sessions are idle), against what they
//! were before the copy began:
//!
//! - a latency probe: the time the server takes to answer a one-row read
//!   of the table by its key (the application's kind of query), median of
//!   three; it suffers when that is over three times its value at rest
//!   and at least a millisecond more. Only when other sessions ran
//!   statements at rest (20 a second or more, from `Questions` less the
//!   probe's own): on a server nobody else uses, the copy would only be
//!   slowing itself down (the bench's idle runs yielded after a third of
//!   their rounds on the probe alone);
//! - `Threads_running` on the primary: more than four above its level at
//!   rest (the application's statements queue on the CPUs or on locks);
//! - replica lag: a watched replica at least one second behind (what
//!   `--max-lag` pauses on, caught before it gets there).
//!
//! A change of verdict is said on stderr. The throttle's hard limits
//! (`--max-lag`, `--max-load`, the pause file) still apply on top.

use anyhow::Result;
use oxkit::conn::Conn;
use oxkit::throttle::Throttle;
use std::time::{Duration, Instant};

/// `--pace`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pace {
    /// Sleep --sleep-ratio times each round's time only while the application suffers (latency probe, Threads_running, replica lag)
    Adaptive,
    /// Sleep --sleep-ratio times each round's time after every round
    Always,
}

/// Probes at rest, and the verdict of the last round.
pub struct Pacer {
    pace: Pace,
    ratio: f64,
    conn: Conn,
    probe: String,
    /// The probe's time at rest.
    rest_probe: Duration,
    /// `Threads_running` at rest.
    rest_running: u64,
    /// Other sessions ran statements at rest: the probe is heeded.
    app_at_rest: bool,
    /// The last verdict, said when it changes.
    suffering: Option<String>,
}

/// The median of three timed runs of `sql`.
fn probe_time(conn: &mut Conn, sql: &str) -> Result<Duration> {
    let mut v = Vec::with_capacity(3);
    for _ in 0..3 {
        let t = Instant::now();
        let _: Option<mysql::Row> = conn.row("probing latency", sql)?;
        v.push(t.elapsed());
    }
    v.sort();
    Ok(v[1])
}

impl Pacer {
    /// Measures the server at rest on `conn` (its own session); `probe`
    /// reads one row of the table by its key.
    pub fn new(pace: Pace, ratio: f64, mut conn: Conn, probe: String) -> Result<Pacer> {
        let (mut rest_probe, mut running, mut app_at_rest) = (Duration::MAX, Vec::new(), false);
        if pace == Pace::Adaptive && ratio > 0.0 {
            let (q0, t0) = (conn.global_status("Questions")?, Instant::now());
            for _ in 0..5 {
                rest_probe = rest_probe.min(probe_time(&mut conn, &probe)?);
                running.push(conn.global_status("Threads_running")?);
                std::thread::sleep(Duration::from_millis(20));
            }
            let q1 = conn.global_status("Questions")?;
            // Ours in between: 5 x (3 probes + 1 status read) and the last read.
            let others = q1.saturating_sub(q0).saturating_sub(21);
            let rate = others as f64 / t0.elapsed().as_secs_f64().max(0.001);
            app_at_rest = rate >= 20.0;
            log::info!(
                "pacing: other sessions ran {rate:.0} statements/s at rest; the latency probe is {}",
                if app_at_rest { "heeded" } else { "not heeded (nobody else to slow down)" }
            );
        }
        running.sort_unstable();
        let rest_running = running.get(running.len() / 2).copied().unwrap_or(0);
        Ok(Pacer {
            pace,
            ratio,
            conn,
            probe,
            rest_probe,
            rest_running,
            app_at_rest,
            suffering: None,
        })
    }

    /// Why the application is seen to suffer now, if it is.
    fn strain(&mut self, throttle: &Throttle) -> Result<Option<String>> {
        let p = probe_time(&mut self.conn, &self.probe)?;
        let limit = (self.rest_probe * 3).max(self.rest_probe + Duration::from_millis(1));
        if self.app_at_rest && p > limit {
            return Ok(Some(format!(
                "a one-row read takes {:.1} ms, {:.1} ms at rest",
                p.as_secs_f64() * 1e3,
                self.rest_probe.as_secs_f64() * 1e3
            )));
        }
        // This session's own statement is one of them.
        let running = self
            .conn
            .global_status("Threads_running")?
            .saturating_sub(1);
        if running > self.rest_running + 4 {
            return Ok(Some(format!(
                "Threads_running {running}, {} at rest",
                self.rest_running
            )));
        }
        if let Some(lag) = throttle.last_lag().filter(|l| *l >= 1) {
            return Ok(Some(format!("a replica lags {lag}s")));
        }
        Ok(None)
    }

    /// How long to sleep after a round that took `took`.
    pub fn after_round(&mut self, took: Duration, throttle: &Throttle) -> Result<Duration> {
        if self.ratio <= 0.0 {
            return Ok(Duration::ZERO);
        }
        if self.pace == Pace::Always {
            return Ok(took.mul_f64(self.ratio));
        }
        let now = self.strain(throttle)?;
        match (&self.suffering, &now) {
            (None, Some(why)) => log::warn!(
                "pacing: the application suffers ({why}); the copy yields {}x each round's time",
                self.ratio
            ),
            (Some(_), None) => {
                log::warn!("pacing: the application is back to its level at rest; copying flat out")
            }
            _ => {}
        }
        self.suffering = now;
        Ok(if self.suffering.is_some() {
            took.mul_f64(self.ratio)
        } else {
            Duration::ZERO
        })
    }
}
