//! Progress bars on stderr, drawn only when stderr is a terminal, so cron
//! mail and `2>file` stay clean. The ETA is indicatif's moving estimate.

use crate::entry::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that is a no-op unless stderr is a terminal.
pub struct Progress(ProgressBar);

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
        Progress(bar)
    }

    /// A bar counting `total` bytes, with the rate (bytes/s) and ETA.
    pub fn bytes(ctx: &Context, total: u64, what: &str) -> Progress {
        let p = Progress::new(ctx, total, what);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} ({elapsed}, ETA {eta})",
        ) {
            p.0.set_style(style.progress_chars("=> "));
        }
        p
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    /// Sets the short message after the counter (the current table, say).
    pub fn message(&self, msg: impl Into<String>) {
        self.0.set_message(msg.into());
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }

    /// True when the bar is drawn (stderr is a terminal).
    pub fn is_visible(&self) -> bool {
        !self.0.is_hidden()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
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
}
