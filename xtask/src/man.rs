//! `cargo xtask man`: one man page per tool in `man/man1/`.
//!
//! The top of each page (NAME, SYNOPSIS, DESCRIPTION, OPTIONS) is rendered
//! by clap_mangen from the tool's real command, so it cannot drift from
//! `--help`. The sections every tool shares (EXIT STATUS, ENVIRONMENT,
//! FILES, CONNECTION TARGETS, SECURITY, SEE ALSO) are written here once;
//! EXIT STATUS comes from `oxkit::Exit::TABLE`, the same table the code
//! uses. Per-tool prose lives in [`PAGES`].
//!
//! Hand-written text uses a tiny markup, see [`inline`]: `` `code` `` is
//! bold and `<placeholder>` is italic. Everything else is escaped.

use crate::generated::{self, Generated};
use crate::tools::{Tool, TOOLS};
use anyhow::{Context as _, Result};
use clap_mangen::roff::Roff;
use clap_mangen::Man;
use oxkit::Exit;
use std::io::Write;
use std::path::PathBuf;

/// Options of `cargo xtask man`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not write: fail if man/man1 differs from what would be generated
    #[arg(long)]
    check: bool,
}

/// The date in every page's title line. mandoc and groff want a real date
/// there, and a fixed one keeps the output reproducible: bump it when the
/// pages change in a release.
const DATE: &str = "2026-11-24";

/// Where the pages live, relative to the workspace root.
const DIR: &str = "man/man1";

/// Hand-written text for one tool's page.
struct PageText {
    /// The tool (`ox-summary`).
    tool: &'static str,
    /// Paragraphs appended to DESCRIPTION after the tool's `long_about`.
    description: &'static [&'static str],
    /// The Percona Toolkit (or other) pages it replaces, as `name(section)`.
    replaces: &'static [&'static str],
}

/// Per-tool prose. Describe what the tool is for; options are documented
/// by clap.
const PAGES: &[PageText] = &[
    PageText {
        tool: "ox-summary",
        // Sections and JSON keys are documented next to the code that
        // prints them (bins/summary/src/keys.rs), which tests check.
        description: ox_summary::keys::MAN_DESCRIPTION,
        replaces: &["pt-summary(1)", "pt-mysql-summary(1)"],
    },
    PageText {
        tool: "ox-table-checksum",
        description: ox_table_checksum::MAN_DESCRIPTION,
        replaces: &["pt-table-checksum(1)"],
    },
    PageText {
        tool: "ox-table-sync",
        description: ox_table_sync::MAN_DESCRIPTION,
        replaces: &["pt-table-sync(1)"],
    },
    PageText {
        tool: "ox-online-schema-change",
        description: ox_online_schema_change::MAN_DESCRIPTION,
        replaces: &["pt-online-schema-change(1)"],
    },
    PageText {
        tool: "ox-backup",
        description: ox_backup::MAN_DESCRIPTION,
        replaces: &["mariadb-backup(1)", "mydumper(1)"],
    },
];

/// Runs `cargo xtask man [--check]`.
pub fn run(args: &Args) -> Result<()> {
    let root = crate::workspace_root()?;
    let pages = generate()?;
    if args.check {
        generated::check(&root, &pages, "cargo xtask man")
    } else {
        generated::write(&root, &pages)
    }
}

/// Every page, rendered in memory, with its path under the workspace.
pub fn generate() -> Result<Vec<Generated>> {
    TOOLS
        .iter()
        .map(|tool| {
            Ok(Generated {
                path: PathBuf::from(DIR).join(format!("{}.1", tool.name)),
                contents: render(tool).with_context(|| format!("rendering {}.1", tool.name))?,
            })
        })
        .collect()
}

/// Renders one tool's page: clap_mangen's sections, then ours, then
/// VERSION.
pub fn render(tool: &Tool) -> Result<String> {
    let text = PAGES
        .iter()
        .find(|p| p.tool == tool.name)
        .with_context(|| format!("no entry for {} in man.rs PAGES", tool.name))?;
    let mut cmd = tool.full_command();
    cmd.build();
    let man = Man::new(cmd.clone())
        .title(tool.name.to_uppercase())
        .date(DATE)
        .source(format!("oxkit {}", crate::VERSION))
        .manual("oxkit Manual");

    // clap_mangen starts every rendered piece with the same preamble
    // (defining the apostrophe string); keep one copy at the very top.
    let mut out = Roff::new().render();
    out += &piece(|w| man.render_title(w))?;
    // No hyphenation: long option names and paths must not be split.
    out += ".nh\n";
    out += &piece(|w| man.render_name_section(w))?;
    out += &piece(|w| man.render_synopsis_section(w))?;
    out += &piece(|w| man.render_description_section(w))?;

    let mut page = Page::default();
    for para in text.description {
        page.para(para);
    }
    out += &page.out;

    if cmd.has_subcommands() {
        out += &actions_section(&cmd)?;
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        out += &piece(|w| man.render_options_section(w))?;
    }
    if cmd.get_after_help().is_some() || cmd.get_after_long_help().is_some() {
        out += &piece(|w| man.render_extra_section(w))?;
    }
    out += &common_sections(tool.name, text.replaces);
    if cmd.get_version().is_some() || cmd.get_long_version().is_some() {
        out += &piece(|w| man.render_version_section(w))?;
    }
    Ok(out)
}

/// ACTIONS, for a tool with one subcommand per action (ox-backup): each
/// action's synopsis, what it does, and the options only it takes; the
/// options every action shares are global and listed under OPTIONS.
fn actions_section(cmd: &clap::Command) -> Result<String> {
    let mut out = String::from(".SH ACTIONS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // The shared options are hidden here (they are under OPTIONS),
        // and the action's own are listed without their headings.
        let own = sub
            .clone()
            .bin_name(format!("{} {}", cmd.get_name(), sub.get_name()))
            .mut_args(|a| {
                if a.is_global_set() {
                    a.hide(true)
                } else {
                    a.help_heading(None)
                }
            });
        let man = Man::new(own.clone());
        out += &format!(".SS {}\n", sub.get_name());
        let synopsis = piece(|w| man.render_synopsis_section(w))?;
        out += synopsis.strip_prefix(".SH SYNOPSIS\n").unwrap_or(&synopsis);
        let mut page = Page::default();
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            page.para(&about.to_string());
        }
        out += &page.out;
        if own.get_arguments().any(|a| !a.is_hide_set()) {
            let options = piece(|w| man.render_options_section(w))?;
            out += options.strip_prefix(".SH OPTIONS\n").unwrap_or(&options);
        }
    }
    Ok(out)
}

/// SYSTEMD UNITS, on ox-backup's page: the units and timers the packages
/// install (disabled), what each runs and how to turn them on.
fn systemd_section(p: &mut Page) {
    p.heading("SYSTEMD UNITS");
    p.para(
        "The .deb and .rpm packages install three services with a timer each in \
         `/usr/lib/systemd/system`, all disabled. Each runs one ox-backup action as root, \
         with no options: the repository, the server and the rest come from \
         `/etc/oxkit/ox-backup.conf` (start from `/etc/oxkit/ox-backup.conf.example`), \
         which interactive runs read too, so what a timer does can be tried by hand first.",
    );
    p.item(
        &["`oxkit-backup.service`", "`oxkit-backup.timer`"],
        "`ox-backup backup`, nightly at 01:30 (spread over 30 minutes; a night missed while \
         the host was down is run at boot).",
    );
    p.item(
        &["`oxkit-verify.service`", "`oxkit-verify.timer`"],
        "`ox-backup verify`: the newest backup restored into a throwaway server and \
         compared, weekly on Sunday at 05:00. Needs a mariadbd or mysqld of the backup's \
         flavour and major version on the host.",
    );
    p.item(
        &["`oxkit-check.service`", "`oxkit-check.timer`"],
        "`ox-backup check`, hourly: the service fails when the newest verified backup is \
         older than `max-age` (default 26h), so `systemctl --failed` and monitoring that \
         watches units report it.",
    );
    p.item(
        &["`oxkit-binlog.service`"],
        "`ox-backup binlog --follow`, running all the time (no timer): the binary log \
         archived as the server writes it, for point-in-time recovery to seconds ago; it \
         resumes where the archive ends after a restart. Set `max-archive-lag=` (say 5m) in \
         `ox-backup.conf` and the hourly check alerts when the archive falls behind.",
    );
    p.para(
        "`check` measures the newest verified backup: with the default `max-age` of 26h, \
         verify every nightly backup at once (`verify` in `ox-backup.conf`, which makes \
         `backup` run `--verify`); a host that cannot afford that leaves verification to \
         the weekly timer and sets `max-age=8d`.",
    );
    p.para("To turn them on:");
    p.example(&[
        "cp /etc/oxkit/ox-backup.conf.example /etc/oxkit/ox-backup.conf",
        "editor /etc/oxkit/ox-backup.conf    # repo=, verify, encrypt-key-file=, ...",
        "ox-backup backup && ox-backup check # try it by hand",
        "systemctl enable --now oxkit-backup.timer oxkit-verify.timer oxkit-check.timer",
    ]);
    p.para(
        "`systemctl edit oxkit-backup.service` changes a unit (another `ExecStart=`, a \
         schedule with `systemctl edit oxkit-backup.timer`); `systemctl list-timers 'oxkit-*'` \
         shows when each runs next, `journalctl -u oxkit-backup` what it printed.",
    );
}

/// Runs one clap_mangen section renderer into a string, without the
/// preamble it repeats on every call.
fn piece(render: impl Fn(&mut dyn Write) -> std::io::Result<()>) -> Result<String> {
    let mut buf = Vec::new();
    render(&mut buf).context("rendering roff")?;
    let text = String::from_utf8(buf).context("clap_mangen produced invalid UTF-8")?;
    let preamble = Roff::new().render();
    Ok(text.strip_prefix(&preamble).unwrap_or(&text).to_string())
}

/// The hand-written sections shared by every page, with the tool's name
/// filled in where it matters (config file names, SEE ALSO).
fn common_sections(tool: &str, replaces: &[&str]) -> String {
    let mut p = Page::default();

    p.heading("EXIT STATUS");
    let example = Exit::DIFFERENCES | Exit::TABLE_SKIPPED;
    p.para(&format!(
        "The exit status is 0 after a clean run. Otherwise it is the sum of the values \
         below for the conditions the run met (for example {} = {} + {}: differences found \
         and a table skipped), except {}, which means a fatal error and replaces everything \
         else. The values are Percona Toolkit's, so scripts written for pt-* tools keep \
         working. Not every tool meets every condition.",
        example.code(),
        Exit::DIFFERENCES.code(),
        Exit::TABLE_SKIPPED.code(),
        Exit::FATAL.code(),
    ));
    for (exit, meaning) in Exit::TABLE {
        p.item(&[&format!("`{}`", exit.code())], &sentence(meaning));
    }

    p.heading("PERCONA TOOLKIT OPTIONS");
    p.para(
        "Scripts and config files written for pt-* tools keep working: options with the same \
         meaning have the same names, and these are accepted and ignored:",
    );
    for (opt, why) in oxkit::entry::PT_NO_OPS {
        p.item(&[&format!("`{opt}`")], &sentence(why));
    }
    p.para(
        "`--quiet` prints only errors on stderr. `--password VALUE` with a space, as pt-* tools \
         take it, is refused (exit 1) with how to write it here: `--password=VALUE`, `-pVALUE` \
         or `p=VALUE` in the DSN; `--password` or `--ask-pass` alone prompts, as the mysql \
         client does.",
    );

    p.heading("SIGNALS");
    p.para(&format!(
        "The first SIGINT (Ctrl-C), SIGTERM or SIGHUP asks the tool to stop: it finishes the \
         current step (a chunk, a table, a file), removes what it created (triggers, shadow \
         table, partial backup) and exits {caught}. If it is still running {grace} seconds \
         later, because it is waiting for a server that does not answer, its open database \
         connections are closed, which ends the wait: a statement cut this way is completed \
         or rolled back by the server, never half-applied, and the cleanup goes on over new \
         connections. If it is still running {backstop} seconds after that, it exits {caught} \
         at once. Neither happens during a step that only an open connection can undo \
         (replication stopped for a snapshot until it is restarted) or during a cleanup \
         under way: those are allowed to finish. A second signal exits {caught} at once, \
         without cleanup.",
        caught = Exit::CAUGHT_SIGNAL.code(),
        grace = oxkit::entry::SIGNAL_GRACE.as_secs(),
        backstop = oxkit::entry::SIGNAL_BACKSTOP.as_secs(),
    ));

    p.heading("ENVIRONMENT");
    p.item(
        &["`MYSQL_PWD`"],
        "The password, used when no DSN, URL, command-line option or option file gives one. \
         Other processes of the same user can read it; see SECURITY.",
    );
    p.item(
        &["`HOME`"],
        "Locates `~/.my.cnf`, and `~/.config/oxkit` when `XDG_CONFIG_HOME` is not set. A \
         `HOME` the user may not read (as after `sudo -u` without `-H`) is not an error: the \
         files in it are skipped.",
    );
    p.item(
        &["`XDG_CONFIG_HOME`"],
        "When set, the user's oxkit config files are read from `$XDG_CONFIG_HOME/oxkit` \
         instead of `~/.config/oxkit`.",
    );

    if tool == "ox-backup" {
        p.item(
            &["`OXKIT_SANDBOX_USER`"],
            "The unprivileged user the throwaway server of verify and of a physical restore \
             runs as when ox-backup runs as root (default `mysql`).",
        );
        p.item(
            &["`OXKIT_SANDBOX_CACHE`"],
            "Where the throwaway server's bootstrapped template datadir is cached (default \
             `/var/cache/oxkit/sandbox` for root, `$XDG_CACHE_HOME/oxkit/sandbox` or \
             `~/.cache/oxkit/sandbox` otherwise). It must be owned by the running user and \
             writable by no one else, or it is refused.",
        );
        p.item(
            &["`OXKIT_MARIADBD`"],
            "The `mariadbd` binary the throwaway server runs (default: `mariadbd` or \
             `mysqld` from `PATH` or `/usr/sbin`).",
        );
    }

    p.heading("FILES");
    p.item(
        &["`/etc/my.cnf`", "`/etc/mysql/my.cnf`", "`~/.my.cnf`"],
        "MySQL option files, read in this order as the mysql client reads them, from the \
         groups `[client]`, `[client-server]`, `[client-mariadb]` and `[oxkit]`. They supply \
         connection settings (host, user, password, socket, TLS...) that neither a DSN nor \
         the command line gives. `--defaults-file` reads only the named file, \
         `--defaults-extra-file` reads one more after these, and `--no-defaults` reads none.",
    );
    p.item(
        &[
            "`/etc/oxkit/oxkit.conf`",
            &format!("`/etc/oxkit/{tool}.conf`"),
        ],
        "System-wide oxkit config files: the first for every tool, the second for this one.",
    );
    p.item(
        &[
            "`~/.config/oxkit/oxkit.conf`",
            &format!("`~/.config/oxkit/{tool}.conf`"),
        ],
        "The same, for one user (under `$XDG_CONFIG_HOME/oxkit` when that is set).",
    );
    p.para(
        "oxkit config files hold command-line options: one long option per line without the \
         leading dashes, as `option=value`, or `option` alone for a flag; blank lines and \
         lines starting with `#` are ignored. They are read in the order above, later files \
         winning, and the command line wins over all of them. `--config` <file> is read \
         last, after them, and must exist; `--no-config` skips the four files above. \
         Options in `oxkit.conf` reach every tool, so keep tool-specific options in the \
         tool's own file.",
    );

    p.heading("CONNECTION TARGETS");
    p.para(
        "A server can be named by a DSN or a URL wherever a tool takes one, and by the \
         connection options (`--host`, `--user`...) otherwise.",
    );
    p.para(
        "A DSN is a comma-separated list of `key=value` pairs, as in Percona Toolkit. The \
         keys are case-sensitive:",
    );
    for (key, value, meaning) in [
        ("h", "host", "host name or IP address"),
        ("P", "port", "TCP port"),
        ("u", "user", "user name"),
        ("p", "password", "password"),
        ("S", "socket", "Unix socket file"),
        ("D", "database", "default database"),
        ("t", "table", "table, for tools that work on one table"),
        ("F", "file", "option file to read, as `--defaults-file`"),
        ("A", "charset", "connection character set"),
    ] {
        p.item(&[&format!("`{key}=`<{value}>")], &sentence(meaning));
    }
    p.para(
        "A bare word without `=` is a host name: `db1` means `h=db1`. Write `\\,` for a comma \
         inside a value. When a tool takes several DSNs, each later one inherits the keys it \
         leaves out from the first, so the second of these two DSNs means \
         `h=db2,P=3307,u=admin`:",
    );
    p.example(&["h=db1,P=3307,u=admin db2"]);
    p.para("A URL gives the same information in the form");
    p.example(&["mysql://user:pass@host:port/db?ssl-mode=REQUIRED"]);
    p.para(
        "where every part but the host is optional. For each setting the first source that \
         gives it wins: the DSN or URL, then the command line (including oxkit config \
         files), then the MySQL option files, then `MYSQL_PWD` for the password.",
    );

    p.heading("SECURITY");
    p.para(
        "A password on the command line, given with `--password` or inside a DSN or URL, can \
         be read by every user of the machine in the process list. Prefer an option file \
         that only you can read (`[client]` `password=...` in `~/.my.cnf`, mode 600), the \
         `MYSQL_PWD` environment variable, or `--ask-pass`, which prompts on the terminal.",
    );
    p.para(
        "Passwords are never printed: error messages, log lines and `--verbose` output name \
         servers without them.",
    );
    p.para(
        "TLS is controlled by `--ssl-mode` (DISABLED, PREFERRED, REQUIRED, VERIFY_CA or \
         VERIFY_IDENTITY), `--ssl-ca`, `--ssl-cert` and `--ssl-key`, or by `ssl-mode=` in a \
         URL. The default over TCP is PREFERRED: encrypted when the server supports it, but \
         without checking the server's certificate. Use VERIFY_IDENTITY with `--ssl-ca` to \
         make sure you reach the right server.",
    );

    if tool == "ox-backup" {
        p.para(
            "The throwaway server that verify (and `backup --verify`) restores into, and that \
             prepares a physical restore, has a `root` account without a password, so it is \
             kept out of reach instead: it listens on no TCP port, only on a Unix socket in a \
             directory of mode 0700 under `/tmp`; run as root, ox-backup starts it as an \
             unprivileged user (`mysql`, see `OXKIT_SANDBOX_USER`) through util-linux's \
             `setpriv`, lends it the files it serves for its lifetime and gives them back \
             afterwards (a restored datadir then goes to `--owner`). It is killed when \
             ox-backup dies, even by `kill -9` (parent-death signal), and a server left by a \
             dead ox-backup is killed by the next one. Run as root, `restore --to-datadir DIR` \
             needs DIR's parent to be reachable by that user.",
        );
    }

    if tool == "ox-backup" {
        systemd_section(&mut p);
    }

    p.heading("SEE ALSO");
    let refs: Vec<String> = TOOLS
        .iter()
        .filter(|t| t.name != tool)
        .map(|t| format!("{}(1)", t.name))
        .chain(replaces.iter().map(|r| r.to_string()))
        .collect();
    p.see_also(&refs);
    p.out
}

/// Capitalises a table entry and ends it with a full stop, so it reads as
/// a sentence in a list.
fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    let mut out = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A small roff writer for the hand-written sections: paragraphs, tagged
/// list items and literal examples, escaped properly and without the
/// paragraph macros mandoc flags as redundant.
#[derive(Default)]
struct Page {
    /// The roff source so far.
    out: String,
    /// True right after `.SH`, where a `.PP` would be redundant.
    after_heading: bool,
}

impl Page {
    /// Starts a section. Names are ours and plain ASCII, so no escaping.
    fn heading(&mut self, name: &str) {
        self.out += &format!(".SH \"{name}\"\n");
        self.after_heading = true;
    }

    /// A paragraph of marked-up text.
    fn para(&mut self, text: &str) {
        if !self.after_heading {
            self.out += ".PP\n";
        }
        self.out += &fill(&inline(text));
        self.after_heading = false;
    }

    /// A tagged list item: each term on its own line (`.TQ` joins extra
    /// terms to the first), then the text, indented.
    fn item(&mut self, terms: &[&str], text: &str) {
        for (i, term) in terms.iter().enumerate() {
            self.out += if i == 0 { ".TP\n" } else { ".TQ\n" };
            self.out += &line(&inline(term));
        }
        self.out += &fill(&inline(text));
        self.after_heading = false;
    }

    /// Literal lines (commands to type), indented and not filled.
    fn example(&mut self, lines: &[&str]) {
        if !self.after_heading {
            self.out += ".PP\n";
        }
        self.out += ".RS 4\n.nf\n";
        for l in lines {
            self.out += &line(&escape(l));
        }
        self.out += ".fi\n.RE\n";
        self.after_heading = false;
    }

    /// Cross references as `\fBname\fR(1)`, comma-separated.
    fn see_also(&mut self, refs: &[String]) {
        let rendered: Vec<String> = refs
            .iter()
            .map(|r| match r.split_once('(') {
                Some((name, rest)) => format!("\\fB{}\\fR({rest}", escape(name)),
                None => escape(r),
            })
            .collect();
        self.out += &line(&rendered.join(",\n"));
        self.after_heading = false;
    }
}

/// Breaks escaped text into input lines: each sentence starts a new line
/// (which is how roff recognises sentence ends) and lines are wrapped at
/// spaces to stay within 80 bytes, as mandoc's style check asks.
fn fill(text: &str) -> String {
    const WIDTH: usize = 78;
    let mut out = String::new();
    let mut current = String::new();
    let mut words = text.split(' ').filter(|w| !w.is_empty()).peekable();
    while let Some(word) = words.next() {
        if !current.is_empty() && current.len() + 1 + word.len() > WIDTH {
            out += &line(&current);
            current.clear();
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current += word;
        let ends_sentence = word.ends_with('.') || word.ends_with(".\\fR");
        let next_starts_sentence = words.peek().is_some_and(|n| {
            let n = n.trim_start_matches("\\fB");
            n.starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit())
                || n.starts_with("\\-")
        });
        if ends_sentence && next_starts_sentence {
            out += &line(&current);
            current.clear();
        }
    }
    if !current.is_empty() {
        out += &line(&current);
    }
    out
}

/// One text line: a line starting with `.` or `'` would be read as a
/// request, so it is guarded with the zero-width `\&`.
fn line(text: &str) -> String {
    if text.starts_with('.') || text.starts_with('\'') {
        format!("\\&{text}\n")
    } else {
        format!("{text}\n")
    }
}

/// Escapes plain text for roff: backslashes, hyphens (as `\-`, so options
/// and commands copy and paste as ASCII) and apostrophes (as the `Aq`
/// string clap_mangen's preamble defines). Newlines become spaces: every
/// paragraph is one input line.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out += "\\e",
            '-' => out += "\\-",
            '\'' => out += "\\*(Aq",
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes marked-up text: `` `code` `` becomes bold and `<word>` (letters,
/// digits, `-`, `_`) becomes italic; anything else is literal.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut bold = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            bold = !bold;
            out += if bold { "\\fB" } else { "\\fR" };
            rest = &rest[1..];
            continue;
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let word = &rest[1..end];
                if !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    out += &format!("\\fI{}{}", escape(word), if bold { "\\fB" } else { "\\fR" });
                    rest = &rest[end + 1..];
                    continue;
                }
            }
        }
        out += &escape(&rest[..c.len_utf8()]);
        rest = &rest[c.len_utf8()..];
    }
    if bold {
        out += "\\fR";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed pages must be what `cargo xtask man` renders today, so
    /// a change to an option's help text cannot ship with an old page.
    #[test]
    fn committed_pages_are_up_to_date() {
        let root = crate::workspace_root().expect("workspace root");
        let pages = generate().expect("render");
        let problems = generated::problems(&root, &pages).expect("compare");
        assert!(
            problems.is_empty(),
            "man pages in {DIR} are out of date; run `cargo xtask man` and commit the result:\n  {}",
            problems.join("\n  ")
        );
    }

    /// Every tool has hand-written text and every entry names a real tool.
    #[test]
    fn every_tool_has_page_text() {
        for tool in TOOLS {
            assert!(PAGES.iter().any(|p| p.tool == tool.name), "{}", tool.name);
        }
        for page in PAGES {
            assert!(TOOLS.iter().any(|t| t.name == page.tool), "{}", page.tool);
        }
    }

    /// Backticks must pair up, or the rest of a paragraph would be bold.
    #[test]
    fn markup_is_balanced() {
        for page in PAGES {
            for para in page.description {
                assert_eq!(para.matches('`').count() % 2, 0, "{para}");
            }
        }
        // Every paragraph and list item must end in the roman font.
        let common = common_sections("ox-x", &["pt-x(1)"]);
        let mut font = 'R';
        for l in common.lines() {
            if l.starts_with('.') {
                assert_eq!(font, 'R', "font left open before {l:?}");
            }
            for (i, _) in l.match_indices("\\f") {
                font = l[i + 2..].chars().next().unwrap_or('R');
            }
        }
        assert_eq!(font, 'R');
    }

    /// The escaping rules roff needs.
    #[test]
    fn escaping() {
        assert_eq!(inline("`--ask-pass`"), "\\fB\\-\\-ask\\-pass\\fR");
        assert_eq!(
            inline("`/etc/<tool>.conf`"),
            "\\fB/etc/\\fItool\\fB.conf\\fR"
        );
        assert_eq!(inline("a <b c> d"), "a <b c> d");
        assert_eq!(inline("write `\\,`"), "write \\fB\\e,\\fR");
        assert_eq!(inline("don't"), "don\\*(Aqt");
        assert_eq!(line(".my.cnf"), "\\&.my.cnf\n");
    }

    /// Every exit code appears in every page, from the one shared table.
    #[test]
    fn exit_status_lists_the_table() {
        let page = render(&TOOLS[0]).expect("render");
        for (exit, _) in Exit::TABLE {
            assert!(page.contains(&format!(".TP\n\\fB{}\\fR\n", exit.code())));
        }
        assert_eq!(page.matches(".ie \\n(.g").count(), 1, "one preamble");
    }
}
