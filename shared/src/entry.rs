//! The one `main()` every tool runs through.
//!
//! Order of work: layer config files under the command line, parse with clap
//! (usage errors exit 1, `--help`/`--version` exit 0), install the signal
//! handler that turns SIGINT/SIGTERM/SIGHUP into a cancellation flag, run the
//! tool, and print any error once, as one line with its whole context chain,
//! with registered secrets scrubbed. Library code never exits the process;
//! only this module does.
//!
//! Config files are read in this order, later ones winning, and all of them
//! lose to the command line: `/etc/oxkit/oxkit.conf`, `/etc/oxkit/<tool>.conf`,
//! `$XDG_CONFIG_HOME/oxkit/oxkit.conf` (or `~/.config/oxkit/...`), the tool's
//! own file there, then `--config FILE`. `--no-config` skips the first four.
//! Those four are optional: one that is missing, or that cannot be reached
//! (a `$HOME` the user may not read, as after `sudo -u other` without `-H`),
//! is skipped; one that exists but cannot be read is skipped with a warning;
//! one that is read but malformed is an error, as is any problem with
//! `--config`. The format is Percona Toolkit's: one `option` or
//! `option=value` a line, `#` comments.
//!
//! # Signals
//!
//! The first SIGINT, SIGTERM or SIGHUP sets the [`Cancel`] flag, which tools
//! check between units of work (a chunk, a table, a file): a tool that is
//! not blocked stops at the next boundary, cleans up (drops its triggers and
//! shadow table, rolls back, removes a partial backup) and exits 4. A tool
//! can be blocked instead: in a read from a server that stopped answering,
//! or in a connect. If the run has not ended [`SIGNAL_GRACE`] after the
//! signal, every database connection open at that moment is shut down
//! ([`crate::conn::interrupt_io`]) and connects in progress are abandoned, so
//! the blocked call fails at once and the tool unwinds through its normal
//! error and cleanup path, on fresh connections; the run then exits 4 and
//! says it stopped. If it has still not ended [`SIGNAL_BACKSTOP`] later, the
//! process exits 4 with a message, without waiting for the rest.
//!
//! Why this order is the safe one for tools that write: a statement cut by
//! a closed connection is either finished by the server (autocommit) or
//! rolled back with its transaction, never half-applied; locks die with
//! the connection; the copy, sync and backup steps are all restartable; and
//! cleanups that only need the server (ox-online-schema-change dropping its
//! triggers and shadow table) connect anew. What must not be cut is a span
//! whose undo needs a connection that is already open: replication stopped
//! by a snapshot (ox-table-checksum, ox-table-sync) until it is restarted,
//! or a cleanup under way when the signal came. Such a span holds a
//! [`CriticalSection`]; while one is held neither the connection cut nor
//! the exit happens, and both timers restart when the last is released. A
//! second signal always exits 4 at once, without cleanup: the operator's
//! explicit choice.

#![allow(
    clippy::print_stderr,
    reason = "the one main: usage errors, the error line, signal notes and the logger are printed on stderr here"
)]

use crate::exit::Exit;
use crate::secret::redact;
use anyhow::{Context as _, Result};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Signature of a tool's entry point.
pub type RunFn = fn(&ArgMatches, &Context) -> Result<Exit>;

/// After the first signal, how long a tool has to stop on its own before
/// its open database connections are cut (see the module documentation).
pub const SIGNAL_GRACE: Duration = Duration::from_secs(2);

/// After the connections were cut, how long the tool has to finish before
/// the process exits anyway (unless a [`CriticalSection`] is held).
pub const SIGNAL_BACKSTOP: Duration = Duration::from_secs(2);

/// A cancellation flag set by the signal handler and checked by tools between
/// units of work (chunks, tables, files).
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    critical: AtomicUsize,
}

/// Held while cutting the run's connections would leave the server in a
/// state only an already-open connection can undo: the signal handling
/// neither cuts connections nor exits while one is alive (see
/// [`Cancel::critical_section`]).
#[derive(Debug)]
#[must_use = "the section is protected only while the guard is alive"]
pub struct CriticalSection(Cancel);

impl Drop for CriticalSection {
    fn drop(&mut self) {
        (self.0).0.critical.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Returned (inside anyhow) when a run stops because it was cancelled.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by signal")]
pub struct Cancelled;

impl Cancel {
    /// A new flag, not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }
    /// Sets the flag.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }
    /// True once a signal arrived.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }
    /// Marks a span the signal handling must not cut short: replication
    /// stopped until this run restarts it, a cleanup under way. Until the
    /// guard is dropped, connections are not cut and the process does not
    /// exit on the first signal (a tool blocked inside the span then needs
    /// a second signal, which exits at once). Keep spans short.
    pub fn critical_section(&self) -> CriticalSection {
        self.0.critical.fetch_add(1, Ordering::SeqCst);
        CriticalSection(self.clone())
    }
    /// True while a [`CriticalSection`] is held.
    pub fn in_critical_section(&self) -> bool {
        self.0.critical.load(Ordering::SeqCst) > 0
    }
    /// `Err(Cancelled)` once a signal arrived: `cancel.check()?` between chunks.
    pub fn check(&self) -> std::result::Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// What the entry hands to a tool's `run()`.
#[derive(Clone, Debug)]
pub struct Context {
    /// The tool's name (`ox-table-checksum`).
    pub tool: String,
    /// Set when SIGINT/SIGTERM/SIGHUP arrives.
    pub cancel: Cancel,
    /// `-v` count: 0 warnings only, 1 info, 2 debug, 3 trace.
    pub verbosity: u8,
    /// True when stderr is a terminal (progress bars go there only then).
    pub stderr_is_terminal: bool,
}

impl Context {
    /// A context for tests and library callers: no signals, not a terminal.
    pub fn for_tests(tool: &str) -> Context {
        Context {
            tool: tool.to_string(),
            cancel: Cancel::new(),
            verbosity: 0,
            stderr_is_terminal: false,
        }
    }
}

/// How a command line is refused before any I/O, parsed as [`main`]
/// parses it: `Some("clap: ...")` when the parser refuses it,
/// `Some(message)` when `check` (a tool's `Config::new`) refuses it with a
/// [`UsageError`], `None` when it is accepted. For the tools' unit tests of
/// their checks; any other error comes back as `"not a usage error: ..."`.
pub fn refusal<T>(
    cmd: Command,
    argv: &[&str],
    check: impl FnOnce(&clap::ArgMatches) -> Result<T>,
) -> Option<String> {
    let name = cmd.get_name().to_string();
    let full = std::iter::once(name.as_str()).chain(argv.iter().copied());
    let m = match full_command(cmd).try_get_matches_from(full) {
        Ok(m) => m,
        Err(e) => return Some(format!("clap: {e}")),
    };
    match check(&m) {
        Ok(_) => None,
        Err(e) if e.downcast_ref::<UsageError>().is_some() => Some(format!("{e:#}")),
        Err(e) => Some(format!("not a usage error: {e:#}")),
    }
}

/// Adds the options every tool has (`--config`, `--no-config`, `--verbose`,
/// `--help` without `-h`, which is `--host` as in the mysql client and
/// Percona Toolkit). Used by [`main`] and by the man page generator so both
/// see the same command.
pub fn full_command(cmd: Command) -> Command {
    // Config files are prepended to argv, so a later (command-line) value
    // must replace an earlier one instead of being a usage error. The
    // options below are global: a tool with one subcommand per action
    // (ox-backup) takes them after the action too.
    cmd.disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .arg(
            Arg::new("help")
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .help("Print help")
                .help_heading("General"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Print version")
                .help_heading("General"),
        )
        .arg(
            Arg::new("config")
                .global(true)
                .long("config")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Read options from FILE (one option=value a line) after the global and user config files")
                .help_heading("General"),
        )
        .arg(
            Arg::new("no-config")
                .global(true)
                .long("no-config")
                .action(ArgAction::SetTrue)
                .help("Do not read /etc/oxkit or ~/.config/oxkit config files")
                .help_heading("General"),
        )
        .arg(
            Arg::new("verbose")
                .global(true)
                .short('v')
                .long("verbose")
                .action(ArgAction::Count)
                .help("More messages on stderr (repeat for more); passwords are never shown")
                .help_heading("General"),
        )
        .arg(
            Arg::new("quiet")
                .global(true)
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Only errors on stderr: no warnings or notes (Percona Toolkit's --quiet)")
                .help_heading("General"),
        )
        // Percona Toolkit options with nothing to do here, accepted so pt
        // users' scripts and config files keep working: oxkit never phones
        // home, and draws progress on stderr whenever it is a terminal.
        .arg(
            Arg::new("version-check")
                .global(true)
                .long("version-check")
                .action(ArgAction::SetTrue)
                .hide(true),
        )
        .arg(
            Arg::new("no-version-check")
                .global(true)
                .long("no-version-check")
                .action(ArgAction::SetTrue)
                .hide(true),
        )
        .arg(
            Arg::new("check-replication-filters")
                .global(true)
                .long("check-replication-filters")
                .alias("nocheck-replication-filters")
                .alias("no-check-replication-filters")
                .action(ArgAction::SetTrue)
                .hide(true),
        )
        .arg(
            Arg::new("progress")
                .global(true)
                .long("progress")
                .num_args(0..=1)
                .require_equals(true)
                .value_name("SPEC")
                .hide(true),
        )
}

/// The Percona Toolkit options every tool accepts and ignores, with why
/// (rendered into the man pages).
pub const PT_NO_OPS: &[(&str, &str)] = &[
    (
        "--version-check, --no-version-check",
        "oxkit never contacts a version server",
    ),
    (
        "--progress[=SPEC]",
        "progress is drawn on stderr whenever it is a terminal",
    ),
    (
        "--[no]check-replication-filters",
        "oxkit does not inspect replicas' replication filters; the snapshot method of \
         ox-table-checksum does not depend on them",
    ),
];

/// Parses a config file into command-line words: `opt=value` → `--opt=value`,
/// `opt` → `--opt`. Blank lines and `#` comments are skipped; a line `--`
/// ends the options (Percona Toolkit's format).
pub fn parse_config_text(text: &str, origin: &Path) -> Result<Vec<OsString>> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "--" {
            break;
        }
        let line = line.trim_start_matches('-');
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (line, None),
        };
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            anyhow::bail!("{}:{}: not an option: {raw:?}", origin.display(), n + 1);
        }
        let key = key.replace('_', "-");
        out.push(match value {
            Some(v) => OsString::from(format!("--{key}={v}")),
            None => OsString::from(format!("--{key}")),
        });
    }
    Ok(out)
}

fn config_files(tool: &str, no_config: bool, explicit: Option<PathBuf>) -> Vec<(PathBuf, bool)> {
    let mut files = Vec::new();
    if !no_config {
        files.push((PathBuf::from("/etc/oxkit/oxkit.conf"), false));
        files.push((PathBuf::from(format!("/etc/oxkit/{tool}.conf")), false));
        let user_dir = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(dir) = user_dir {
            files.push((dir.join("oxkit/oxkit.conf"), false));
            files.push((dir.join(format!("oxkit/{tool}.conf")), false));
        }
    }
    if let Some(p) = explicit {
        files.push((p, true));
    }
    files
}

/// Why an optional config file that could not be read is skipped, when that
/// is worth a warning: never for a file that is not there or whose
/// directory may not be searched (`sudo -u other` keeps the caller's
/// `$HOME`, and every run would warn); yes for a file that exists but
/// cannot be read, or is not a file.
fn skipped_config_warning(path: &Path, e: &std::io::Error) -> Option<String> {
    // Only a successful stat proves the file is there.
    let meta = std::fs::metadata(path).ok()?;
    let why = if meta.is_dir() {
        "it is a directory".to_string()
    } else {
        e.to_string()
    };
    Some(format!("skipping config file {}: {why}", path.display()))
}

/// Returns argv with config-file options inserted right after the program
/// name, so anything on the command line overrides them.
pub fn layered_args(tool: &str, args: Vec<OsString>) -> Result<Vec<OsString>> {
    let mut explicit = None;
    let mut no_config = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        } else if s == "--no-config" {
            no_config = true;
        } else if s == "--config" {
            explicit = it.next().map(PathBuf::from);
        } else if let Some(v) = s.strip_prefix("--config=") {
            explicit = Some(PathBuf::from(v));
        }
    }
    let mut injected = Vec::new();
    for (path, required) in config_files(tool, no_config, explicit) {
        match std::fs::read_to_string(&path) {
            Ok(text) => injected.extend(parse_config_text(&text, &path)?),
            Err(e) if !required => {
                if let Some(why) = skipped_config_warning(&path, &e) {
                    // The logger is not set up yet (the verbosity is in
                    // the options being read).
                    eprintln!("{tool}: warning: {why}");
                }
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading config file {}", path.display()))
            }
        }
    }
    let mut out = Vec::with_capacity(args.len() + injected.len());
    let mut args = args.into_iter();
    out.extend(args.next());
    out.extend(injected);
    out.extend(args);
    Ok(out)
}

/// In a tool with one subcommand per action, moves the `n` config-file
/// words [`layered_args`] put after the program name: a word naming an
/// option that only actions take goes right after the action named on the
/// command line, or is left out when that action does not take it but
/// another one does, so `/etc/oxkit/ox-backup.conf` can hold `threads=8`
/// for the actions that use it and `list` still runs. The tool's own
/// (global) options, and options no action knows, stay in front, where
/// clap reads or refuses them. Other tools' arguments are returned as
/// they are.
pub fn config_words_to_action(cmd: &Command, mut args: Vec<OsString>, n: usize) -> Vec<OsString> {
    if !cmd.has_subcommands() || n == 0 || args.len() <= n {
        return args;
    }
    let mut cmd = cmd.clone();
    cmd.build();
    let words: Vec<OsString> = args.drain(1..=n).collect();
    let action =
        action_position(&cmd, &args).and_then(|i| Some((i, cmd.find_subcommand(&args[i])?)));
    let (mut front, mut behind) = (Vec::new(), Vec::new());
    for w in words {
        let text = w.to_string_lossy();
        let name = text.trim_start_matches('-');
        let name = name.split('=').next().unwrap_or_default().to_string();
        if takes_long(&cmd, &name) || !cmd.get_subcommands().any(|s| takes_long(s, &name)) {
            front.push(w);
        } else if action.is_some_and(|(_, s)| takes_long(s, &name)) {
            behind.push(w);
        }
    }
    if let Some((i, _)) = action {
        args.splice(i + 1..i + 1, behind);
    }
    args.splice(1..1, front);
    args
}

/// True when `cmd` has an option `--name` (or an alias of that name).
fn takes_long(cmd: &Command, name: &str) -> bool {
    cmd.get_arguments().any(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
    })
}

/// Where `args` name a subcommand of `cmd`: the first word that is not
/// an option of `cmd` or the separate value of one.
fn action_position(cmd: &Command, args: &[OsString]) -> Option<usize> {
    let separate_value = |a: &Arg| {
        a.get_action().takes_values()
            && !a.is_require_equals_set()
            && a.get_num_args().is_some_and(|r| r.min_values() > 0)
    };
    let mut i = 1;
    while i < args.len() {
        let word = args[i].to_string_lossy();
        if word == "--" {
            return None;
        }
        if let Some(long) = word.strip_prefix("--") {
            let value_follows = !long.contains('=')
                && cmd
                    .get_arguments()
                    .any(|a| a.get_long() == Some(long) && separate_value(a));
            i += usize::from(value_follows);
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (k, c) in shorts.char_indices() {
                let Some(a) = cmd.get_arguments().find(|a| a.get_short() == Some(c)) else {
                    continue;
                };
                if a.get_action().takes_values() {
                    // The rest of the word is its value, or the next word is.
                    let last = k + c.len_utf8() == shorts.len();
                    i += usize::from(last && separate_value(a));
                    break;
                }
            }
        } else {
            return cmd.find_subcommand(&*word).map(|_| i);
        }
        i += 1;
    }
    None
}

struct StderrLogger {
    tool: String,
    level: log::LevelFilter,
}

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= self.level && (m.target().starts_with("ox") || m.level() <= log::Level::Warn)
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let msg = redact(&r.args().to_string());
            let lvl = match r.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            eprintln!("{}: {lvl}: {msg}", self.tool);
        }
    }
    fn flush(&self) {}
}

/// Renders an error with its whole context chain on one line, secrets
/// scrubbed. A client-library error in the chain is put in words
/// ([`crate::conn::error_detail`]) instead of its debug-like wrapper
/// (`CodecError { IO error: ... }`).
pub fn render_error(err: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    for cause in err.chain() {
        if let Some(m) = cause.downcast_ref::<mysql::Error>() {
            let (kind, _) = crate::conn::classify(m);
            let words = crate::conn::error_detail(m);
            parts.push(match kind {
                crate::conn::ErrorKind::Other => words,
                k => format!("{}: {words}", crate::conn::describe(k)),
            });
            // Its own causes repeat what was just said.
            break;
        }
        parts.push(cause.to_string());
    }
    redact(&parts.join(": "))
}

/// Installs the stderr logger at the level for `verbosity`. Safe to call once.
pub fn init_logging(tool: &str, verbosity: u8) {
    let level = match verbosity {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    init_logging_level(tool, level);
}

/// Installs the stderr logger at `level`. Safe to call once.
pub fn init_logging_level(tool: &str, level: log::LevelFilter) {
    let logger = Box::new(StderrLogger {
        tool: tool.to_string(),
        level,
    });
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// Environment variable carrying the real argv across the re-exec that
/// hides passwords from the process list.
const ARGV_ENV: &str = "OXKIT_ARGV_HIDDEN";

/// Returns `arg` with any password in it replaced by `***`: `--password=x`,
/// `-px`, `-p=x`, the `p=` part of a DSN and the password of a URL. `None`
/// when there is nothing to hide.
pub fn mask_password_arg(arg: &str) -> Option<String> {
    if let Some(v) = arg.strip_prefix("--password=") {
        return (!v.is_empty()).then(|| "--password=***".to_string());
    }
    if arg.len() > 2 && arg.starts_with("-p") && !arg.starts_with("--") {
        return Some("-p***".to_string());
    }
    if let Some(i) = arg.find("://") {
        let rest = &arg[i + 3..];
        let auth_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                return Some(format!(
                    "{}{}:***{}",
                    &arg[..i + 3],
                    &rest[..colon],
                    &rest[at..]
                ));
            }
        }
        return None;
    }
    // A DSN: comma-separated key=value parts, `\,` escaping a comma.
    if arg.contains('=') && (arg.starts_with("p=") || arg.contains(",p=")) {
        let mut out = String::new();
        let mut parts = Vec::new();
        let mut cur = String::new();
        let mut chars = arg.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    cur.push(c);
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ',' => parts.push(std::mem::take(&mut cur)),
                _ => cur.push(c),
            }
        }
        parts.push(cur);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if p.starts_with("p=") {
                out.push_str("p=***");
            } else {
                out.push_str(p);
            }
        }
        return Some(out);
    }
    None
}

/// On Unix, when a password was given on the command line, re-executes the
/// program with the password masked in its argv (what `ps` shows) and the
/// real arguments handed over in the environment, which only the same user
/// and root can read. The mysql client overwrites argv in place instead;
/// Rust has no safe way to do that. Returns the real arguments.
fn hide_passwords(args: Vec<OsString>) -> Vec<OsString> {
    if let Some(hidden) = std::env::var_os(ARGV_ENV) {
        // The re-executed process: take the real arguments back.
        #[allow(deprecated)]
        std::env::remove_var(ARGV_ENV);
        let text = hidden.to_string_lossy().into_owned();
        if let Ok(real) = serde_json::from_str::<Vec<String>>(&text) {
            return real.into_iter().map(OsString::from).collect();
        }
        return args;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let masked: Vec<Option<String>> = args
            .iter()
            .skip(1)
            .map(|a| a.to_str().and_then(mask_password_arg))
            .collect();
        if masked.iter().any(Option::is_some) {
            let joined: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            if let Ok(exe) = std::env::current_exe() {
                let shown: Vec<OsString> = args
                    .iter()
                    .skip(1)
                    .zip(masked)
                    .map(|(a, m)| m.map(OsString::from).unwrap_or_else(|| a.clone()))
                    .collect();
                let err = std::process::Command::new(exe)
                    .arg0(&args[0])
                    .args(shown)
                    .env(ARGV_ENV, serde_json::to_string(&joined).unwrap_or_default())
                    .exec();
                // exec only returns on failure: carry on with the password visible.
                log::debug!("could not re-execute to hide the password: {err}");
            }
        }
    }
    args
}

/// `-pSECRET` means the password SECRET, as in the mysql client, while a
/// bare `-p` prompts; clap cannot express both with `--password[=PASS]`, so
/// the attached form is rewritten before parsing.
fn attached_short_password(cmd: &Command, args: Vec<OsString>) -> Vec<OsString> {
    let has_p = cmd
        .get_arguments()
        .any(|a| a.get_short() == Some('p') && a.get_id() == "password");
    if !has_p {
        return args;
    }
    let mut out = Vec::with_capacity(args.len());
    let mut done = false;
    for (i, a) in args.into_iter().enumerate() {
        let s = a.to_string_lossy();
        if s == "--" {
            done = true;
        }
        if i > 0 && !done && s.len() > 2 && s.starts_with("-p") && !s.starts_with("--") {
            let v = s
                .strip_prefix("-p")
                .unwrap_or_default()
                .trim_start_matches('=');
            out.push(OsString::from(format!("--password={v}")));
        } else {
            out.push(a);
        }
    }
    out
}

/// `--password VALUE`, as Percona Toolkit writes it, is refused with how to
/// write it here: clap would read VALUE as a DSN (a password shown in
/// messages as a host name) and prompt, as the mysql client does for a bare
/// `--password`. The value is never repeated in the message.
fn separate_password_value(args: &[OsString]) -> Result<(), String> {
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--password" {
            if let Some(next) = it.next() {
                if !next.starts_with('-') {
                    return Err(
                        "--password takes its value attached: write --password=VALUE \
                                (or -pVALUE, or p=VALUE in the DSN), or --password / --ask-pass \
                                alone to be prompted; the word after --password was not used"
                            .to_string(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Parses arguments, runs the tool and exits the process with its status.
pub fn main(cmd: Command, run: RunFn) -> ! {
    let cmd = full_command(cmd);
    let tool = cmd.get_name().to_string();
    let args = attached_short_password(&cmd, hide_passwords(std::env::args_os().collect()));
    let has_password = cmd.get_arguments().any(|a| a.get_id() == "password");
    if has_password {
        if let Err(msg) = separate_password_value(&args) {
            eprintln!("{tool}: error: {msg}");
            eprintln!("For more information, try '--help'.");
            std::process::exit(Exit::ERROR.code().into());
        }
    }
    let given = args.len();
    let args = match layered_args(&tool, args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{tool}: error: {}", render_error(&e));
            std::process::exit(Exit::ERROR.code().into());
        }
    };
    let injected = args.len() - given;
    let args = config_words_to_action(&cmd, args, injected);
    let matches = match cmd.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::ERROR.code()
            } else {
                0
            };
            let _ = e.print();
            std::process::exit(code.into());
        }
    };
    let verbosity = matches.get_count("verbose");
    if matches.get_flag("quiet") {
        init_logging_level(&tool, log::LevelFilter::Error);
    } else {
        init_logging(&tool, verbosity);
    }
    let ctx = Context {
        tool: tool.clone(),
        cancel: Cancel::new(),
        verbosity,
        stderr_is_terminal: std::io::stderr().is_terminal(),
    };
    install_signal_handler(&tool, ctx.cancel.clone());
    quiet_on_broken_pipe();
    let status = match run(&matches, &ctx) {
        Ok(status) if ctx.cancel.is_cancelled() => status | Exit::CAUGHT_SIGNAL,
        Ok(status) => status,
        Err(e) => {
            let status = exit_for_error(&tool, &e, &ctx);
            let json = matches
                .try_get_one::<crate::report::Format>("format")
                .ok()
                .flatten()
                .is_some_and(|f| *f == crate::report::Format::Json);
            if json && status != Exit::OK && !crate::report::stdout_used() {
                json_error(&e, status);
            }
            status
        }
    };
    std::process::exit(status.code().into())
}

/// An error that asks for a specific exit status instead of FATAL
/// (for example a usage problem found while validating options: exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ExitError {
    /// The status to exit with.
    pub exit: Exit,
    /// What went wrong.
    pub message: String,
}

/// Bad or conflicting options found while building a config: exits 1 with
/// a hint to `--help`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A [`UsageError`] as an `anyhow::Error`.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// With `--format json`, a run that fails before printing its document
/// prints this one instead, so a script always reads one JSON object:
/// `{"error": "...", "exit_status": N}` (secrets scrubbed as on stderr).
fn json_error(e: &anyhow::Error, status: Exit) {
    let doc = serde_json::json!({
        "error": render_error(e),
        "exit_status": status.code(),
    });
    let _ = crate::report::write_json(std::io::stdout().lock(), &doc);
}

/// True when `e` comes from writing to a pipe whose reader went away
/// (`ox-table-sync --print | head -1`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A reader that stopped reading (`| head -1`) ends the tool quietly with
/// status 0, as grep and ripgrep do: `print!` panics on a closed stdout
/// (Rust ignores SIGPIPE), and that panic is turned into a plain exit here
/// instead of a panic message; every other panic keeps the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn exit_for_error(tool: &str, e: &anyhow::Error, ctx: &Context) -> Exit {
    if is_broken_pipe(e) {
        return Exit::OK;
    }
    // After a signal, an error from a connection the signal handling cut
    // (or any interrupted query) is the signal's doing: exit 4.
    if e.downcast_ref::<Cancelled>().is_some()
        || (ctx.cancel.is_cancelled()
            && (crate::conn::is_interrupted(e) || crate::conn::io_interrupted()))
    {
        eprintln!("{tool}: stopped: {}", render_error(e));
        return Exit::CAUGHT_SIGNAL;
    }
    eprintln!("{tool}: error: {}", render_error(e));
    if e.downcast_ref::<UsageError>().is_some() {
        eprintln!("For more information, try '--help'.");
        return Exit::ERROR;
    }
    if let Some(x) = e.downcast_ref::<ExitError>() {
        return x.exit;
    }
    Exit::FATAL
}

fn install_signal_handler(tool: &str, cancel: Cancel) {
    let tool = tool.to_string();
    let hits = AtomicUsize::new(0);
    let _ = ctrlc::set_handler(move || {
        if hits.fetch_add(1, Ordering::SeqCst) == 0 {
            cancel.cancel();
            eprintln!("{tool}: caught signal: finishing the current step and cleaning up (again to abort at once)");
            // The handler runs on ctrlc's own thread, which must stay free
            // to take the second signal: the timers run on another.
            let (tool, cancel, at) = (tool.clone(), cancel.clone(), std::time::Instant::now());
            let _ = std::thread::Builder::new()
                .name("ox-signal".into())
                .spawn(move || escalate(&tool, &cancel, at));
        } else {
            eprintln!("{tool}: caught second signal: exiting without cleanup");
            std::process::exit(Exit::CAUGHT_SIGNAL.code().into());
        }
    });
}

/// What happens after the first signal when the run does not end by itself
/// (it only returns by the process exiting): cut blocked I/O after
/// [`SIGNAL_GRACE`], exit after [`SIGNAL_BACKSTOP`] more, never while a
/// [`CriticalSection`] is held.
fn escalate(tool: &str, cancel: &Cancel, signalled: std::time::Instant) {
    settle(cancel, SIGNAL_GRACE);
    crate::conn::interrupt_io();
    settle(cancel, SIGNAL_BACKSTOP);
    eprintln!(
        "{tool}: stopped: still running {:.0}s after the signal; exiting without waiting for it",
        signalled.elapsed().as_secs_f64()
    );
    std::process::exit(Exit::CAUGHT_SIGNAL.code().into());
}

/// Sleeps `period`, then for as long as a critical section is held, and
/// again `period` after each one ends: a cleanup that just finished is
/// followed by the tool's own exit, which deserves its moment.
fn settle(cancel: &Cancel, period: Duration) {
    loop {
        std::thread::sleep(period);
        if !cancel.in_critical_section() {
            return;
        }
        while cancel.in_critical_section() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_text_becomes_long_options() {
        let words = parse_config_text(
            "# comment\nhost=db1\n\nno-version-check\nchunk_time = 0.5\n--\nignored=1\n",
            Path::new("x.conf"),
        )
        .expect("parses");
        let words: Vec<String> = words
            .into_iter()
            .map(|w| w.into_string().expect("utf8"))
            .collect();
        assert_eq!(
            words,
            ["--host=db1", "--no-version-check", "--chunk-time=0.5"]
        );
    }

    #[test]
    fn config_text_rejects_garbage() {
        let err = parse_config_text("host db1 && rm\n", Path::new("x.conf")).expect_err("garbage");
        assert!(err.to_string().contains("x.conf:1"), "{err}");
    }

    #[test]
    fn explicit_config_goes_before_command_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("c.conf");
        std::fs::write(&f, "port=3307\n").expect("write");
        let args: Vec<OsString> = [
            "ox-x",
            "--no-config",
            "--config",
            f.to_str().expect("utf8"),
            "--port=4000",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let out = layered_args("ox-x", args).expect("layered");
        assert_eq!(out[1], OsString::from("--port=3307"));
        assert_eq!(out.last(), Some(&OsString::from("--port=4000")));
    }

    /// A tool with one subcommand per action: config-file options only
    /// actions take follow the action given (past the values of the
    /// tool's own options), or stay out when it does not take them.
    #[test]
    fn config_words_follow_the_action() {
        let cmd = Command::new("ox-x")
            .version("1")
            .arg(Arg::new("host").short('h').long("host").global(true))
            .arg(
                Arg::new("password")
                    .short('p')
                    .long("password")
                    .num_args(0..=1)
                    .require_equals(true)
                    .global(true),
            )
            .subcommand(Command::new("backup").arg(Arg::new("threads").long("threads")))
            .subcommand(Command::new("list"));
        let cmd = full_command(cmd);
        let words = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let config = ["--threads=8", "--host=db", "--bogus=1"];
        let run = |line: &[&str]| {
            let mut args = words(&line[..1]);
            args.extend(words(&config));
            args.extend(words(&line[1..]));
            config_words_to_action(&cmd, args, config.len())
        };
        assert_eq!(
            run(&["ox-x", "-h", "backup", "list"]),
            words(&["ox-x", "--host=db", "--bogus=1", "-h", "backup", "list"])
        );
        assert_eq!(
            run(&["ox-x", "-p", "-v", "backup", "--threads", "2"]),
            words(&[
                "ox-x",
                "--host=db",
                "--bogus=1",
                "-p",
                "-v",
                "backup",
                "--threads=8",
                "--threads",
                "2"
            ])
        );
        assert_eq!(
            run(&["ox-x", "--host", "list", "list"]),
            words(&["ox-x", "--host=db", "--bogus=1", "--host", "list", "list"])
        );
        assert_eq!(
            run(&["ox-x", "--", "backup"]),
            words(&["ox-x", "--host=db", "--bogus=1", "--", "backup"])
        );
        // A tool without subcommands keeps the words where they were.
        let flat = full_command(
            Command::new("ox-y")
                .version("1")
                .arg(Arg::new("threads").long("threads")),
        );
        let args = words(&["ox-y", "--threads=8", "x"]);
        assert_eq!(config_words_to_action(&flat, args.clone(), 1), args);
        // The general options are accepted after the action.
        let m = cmd
            .clone()
            .try_get_matches_from(["ox-x", "backup", "-vv", "--quiet", "--no-config"])
            .expect("global");
        assert_eq!(m.get_count("verbose"), 2);
        assert!(m.get_flag("quiet"));
    }

    #[test]
    fn passwords_masked_for_the_process_list() {
        assert_eq!(
            mask_password_arg("--password=s3cret").as_deref(),
            Some("--password=***")
        );
        assert_eq!(mask_password_arg("-ps3cret").as_deref(), Some("-p***"));
        assert_eq!(mask_password_arg("-p"), None);
        assert_eq!(mask_password_arg("--password"), None);
        assert_eq!(
            mask_password_arg("h=db1,u=me,p=a\\,b,P=3306").as_deref(),
            Some("h=db1,u=me,p=***,P=3306")
        );
        assert_eq!(
            mask_password_arg("mysql://me:pw@db1:3306/x?ssl-mode=REQUIRED").as_deref(),
            Some("mysql://me:***@db1:3306/x?ssl-mode=REQUIRED")
        );
        assert_eq!(mask_password_arg("mysql://me@db1/x"), None);
        assert_eq!(mask_password_arg("h=db1,u=me"), None);
        assert_eq!(mask_password_arg("--host=db1"), None);
    }

    #[test]
    fn library_errors_rendered_in_words() {
        use mysql::mysql_common::proto::codec::error::PacketCodecError;
        let io = std::io::Error::new(std::io::ErrorKind::WouldBlock, "os error 11");
        let e = anyhow::Error::new(mysql::Error::CodecError(PacketCodecError::Io(io)))
            .context("reading table t.x");
        assert_eq!(
            render_error(&e),
            "reading table t.x: lost connection: the server did not answer within the socket read/write timeout"
        );
    }

    #[test]
    fn critical_sections_count() {
        let c = Cancel::new();
        assert!(!c.in_critical_section());
        let g = c.critical_section();
        let g2 = c.clone().critical_section();
        assert!(c.in_critical_section());
        drop(g);
        assert!(c.in_critical_section());
        drop(g2);
        assert!(!c.in_critical_section());
    }

    #[test]
    fn missing_optional_config_dir_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        // HOME is a file: every file "under" it fails with ENOTDIR.
        let not_a_dir = dir.path().join("f");
        std::fs::write(&not_a_dir, "").expect("write");
        let e = std::fs::read_to_string(not_a_dir.join(".config/oxkit/oxkit.conf"))
            .expect_err("not a dir");
        assert_eq!(
            skipped_config_warning(&not_a_dir.join(".config/oxkit/oxkit.conf"), &e),
            None
        );
        let d = dir.path().join("d.conf");
        std::fs::create_dir(&d).expect("mkdir");
        let e = std::fs::read_to_string(&d).expect_err("a dir");
        assert!(skipped_config_warning(&d, &e)
            .is_some_and(|w| w.ends_with("d.conf: it is a directory")));
    }

    #[test]
    fn missing_explicit_config_is_an_error() {
        let args: Vec<OsString> = ["ox-x", "--no-config", "--config=/nonexistent/oxkit.conf"]
            .iter()
            .map(OsString::from)
            .collect();
        assert!(layered_args("ox-x", args).is_err());
    }
}
