//! Progress bars on stderr, drawn only when stderr is a terminal, so cron
//! mail and `2>file` stay clean. The ETA is indicatif's moving estimate.
//! A long run that wants its progress in a log asks for
//! [`Progress::with_log_lines`]: when stderr is not a terminal, one line
//! with the figures and the ETA at most that often.

#![allow(
    clippy::print_stderr,
    reason = "progress lines and notes for logs go to stderr, as the bar does"
)]

use crate::entry::Context;
use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A progress bar that is a no-op unless stderr is a terminal.
pub struct Progress {
    bar: ProgressBar,
    tool: String,
    what: String,
    bytes: bool,
    /// With log lines: how often, and when the last was written.
    log: Option<(Duration, Mutex<Instant>)>,
}

impl Progress {
    /// A bar of `total` units (rows, bytes, chunks) labelled `what`.
    pub fn new(ctx: &Context, total: u64, what: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some(total),
            if ctx.stderr_is_terminal {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(what.to_string());
        Progress {
            bar,
            tool: ctx.tool.clone(),
            what: what.to_string(),
            bytes: false,
            log: None,
        }
    }

    /// A bar counting `total` bytes, with the rate (bytes/s) and ETA.
    pub fn bytes(ctx: &Context, total: u64, what: &str) -> Progress {
        let mut p = Progress::new(ctx, total, what);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} ({elapsed}, ETA {eta})",
        ) {
            p.bar.set_style(style.progress_chars("=> "));
        }
        p.bytes = true;
        p
    }

    /// When stderr is not a terminal, also writes a progress line (done,
    /// total, percent, rate, elapsed, ETA) at most every `every`.
    pub fn with_log_lines(mut self, every: Duration) -> Progress {
        if self.bar.is_hidden() {
            self.log = Some((every, Mutex::new(Instant::now())));
        }
        self
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if let Some((every, last)) = &self.log {
            let Ok(mut last) = last.lock() else { return };
            if last.elapsed() >= *every {
                *last = Instant::now();
                eprintln!("{}: {}", self.tool, self.line());
            }
        }
    }

    /// The log line: `restore bytes: 1.2 GiB of 4.0 GiB (30%), 41 MiB/s,
    /// 30s elapsed, ETA 1m`.
    pub fn line(&self) -> String {
        let (pos, len) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let secs = self.bar.elapsed().as_secs_f64();
        let rate = pos as f64 / secs.max(0.001);
        let show = |n: u64| {
            if self.bytes {
                HumanBytes(n).to_string()
            } else {
                n.to_string()
            }
        };
        let eta = if rate > 0.0 && len > pos {
            HumanDuration(Duration::from_secs_f64((len - pos) as f64 / rate)).to_string()
        } else {
            "unknown".to_string()
        };
        format!(
            "{}: {} of {} ({:.0}%), {}/s, {} elapsed, ETA {eta}",
            self.what,
            show(pos),
            show(len),
            100.0 * pos as f64 / (len.max(1)) as f64,
            show(rate as u64),
            HumanDuration(self.bar.elapsed()),
        )
    }

    /// Writes `note` on stderr as its own line, above the bar when one is
    /// drawn: a moment the user waits for (tables usable), whatever the
    /// verbosity.
    pub fn note(&self, note: &str) {
        self.bar.suspend(|| eprintln!("{}: {note}", self.tool));
    }

    /// Sets the short message after the counter (the current table, say).
    pub fn message(&self, msg: impl Into<String>) {
        self.bar.set_message(msg.into());
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// True when the bar is drawn (stderr is a terminal).
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_when_not_a_terminal() {
        let ctx = Context::for_tests("ox-test");
        let p = Progress::new(&ctx, 10, "rows");
        p.inc(3);
        assert!(!p.is_visible());
    }

    #[test]
    fn log_lines_carry_the_figures() {
        let ctx = Context::for_tests("ox-test");
        let p = Progress::bytes(&ctx, 4 << 20, "restore bytes").with_log_lines(Duration::ZERO);
        p.inc(1 << 20);
        let l = p.line();
        assert!(
            l.starts_with("restore bytes: 1.00 MiB of 4.00 MiB (25%), "),
            "{l}"
        );
        assert!(l.contains("elapsed, ETA "), "{l}");
        let rows = Progress::new(&ctx, 10, "rows");
        rows.inc(10);
        assert!(
            rows.line().starts_with("rows: 10 of 10 (100%), "),
            "{}",
            rows.line()
        );
        assert!(rows.line().ends_with("ETA unknown"), "{}", rows.line());
    }
}
