//! Secrets (passwords) that must never reach a terminal, a log or a panic message.
//!
//! A [`Secret`] prints as `***` through `Debug` and `Display`; the only way to
//! read it is [`Secret::expose`], which connection code calls at the last
//! moment. Every secret created is also registered process-wide so that the
//! error printer and the logger can scrub it from any text as a second line of
//! defence (an error message from a library that echoes its input, say).

use std::sync::{Mutex, OnceLock};

/// A password or passphrase. Never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

fn registry() -> &'static Mutex<Vec<String>> {
    static REG: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    REG.get_or_init(|| Mutex::new(Vec::new()))
}

impl Secret {
    /// Wraps `value` and registers it for redaction.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        // Very short secrets would make redaction scrub ordinary words;
        // they are still never printed through Debug/Display.
        if value.len() >= 3 {
            if let Ok(mut reg) = registry().lock() {
                if !reg.contains(&value) {
                    reg.push(value.clone());
                }
            }
        }
        Secret(value)
    }

    /// The secret itself, for handing to the client library.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    if let Ok(reg) = registry().lock() {
        // Longest first, so a secret that contains another is scrubbed whole.
        let mut secrets: Vec<&String> = reg.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for s in secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redacts_registered_secrets() {
        let _s = Secret::new("p@ss,word");
        assert_eq!(
            redact("Access denied for p@ss,word at host"),
            "Access denied for *** at host"
        );
    }
}
