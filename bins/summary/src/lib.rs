//! `ox-summary`: the host and the server at a glance
//!
//! The binary's `main.rs` hands [`command`] and [`run`] to
//! `oxkit::entry::main`; everything the tool does lives here so tests and
//! the man page generator can call it as a library.
//!
//! Work is split in two: [`collect`] reads the machine and queries the
//! server into a serializable [`samples::Samples`] (the only code that
//! touches the outside world), and [`report::analyze`] plus [`render`] turn
//! samples into the report as a pure function. `--save-samples` writes the
//! first half's output, `--read-samples` feeds the second half from it.

pub mod collect;
pub mod keys;
pub mod render;
pub mod report;
pub mod samples;
pub mod server;
pub mod system;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, Connection, OutputArgs};
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::report::Format;
use oxkit::Exit;
use report::{Part, Section};
use samples::Samples;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// the host and the server at a glance
#[derive(Parser, Debug)]
#[command(
    name = "ox-summary",
    version,
    about = "the host and the server at a glance",
    long_about = "Summarises the database host (CPU, memory, disks, kernel settings) and the MySQL or MariaDB server on it (version, replication, InnoDB, binary log, schemas, accounts), with notes that point at problems. Replaces pt-summary and pt-mysql-summary."
)]
pub struct Args {
    /// The server to summarise: a Percona-style DSN (h=host,P=port,u=user) or a mysql:// URL; without one, the local server (default socket, or the socket of a mysqld/mariadbd running here)
    #[arg(value_name = "DSN")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub summary: SummaryArgs,
}

/// The tool's own options.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Summary")]
pub struct SummaryArgs {
    /// Seconds between the two readings of status counters and CPU use; 0 reports rates since start-up at once
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    pub sleep: f64,
    /// Sections to show, comma-separated, in report order whatever the order given (default: all)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_enum)]
    pub sections: Vec<Section>,
    /// Do not summarise the host (automatic when the server is on another host)
    #[arg(long)]
    pub no_system: bool,
    /// Do not connect to a server: the host only
    #[arg(long)]
    pub no_server: bool,
    /// Also write the raw inputs (files read, query results) to DIR/samples.json
    #[arg(long, value_name = "DIR")]
    pub save_samples: Option<PathBuf>,
    /// Render the report from DIR/samples.json instead of reading this host and server
    #[arg(long, value_name = "DIR", conflicts_with = "save_samples")]
    pub read_samples: Option<PathBuf>,
}

/// The clap definition of the command line (also used for the man page).
pub fn command() -> clap::Command {
    Args::command()
}

/// The checked configuration: every option the collection and the report
/// read, checked once here.
#[derive(Debug)]
pub struct Config {
    /// The connection options: targets are resolved over them.
    pub conn: Connection,
    /// The DSN given (none: the local server).
    pub target: Option<ConnSpec>,
    /// The sections to report, in report order.
    pub sections: Vec<Section>,
    /// Read the host.
    pub system: bool,
    /// Read the server.
    pub server: bool,
    /// `--sleep`, in seconds (kept as given: the samples record it).
    pub sleep_secs: f64,
    /// `--sleep`.
    pub sleep: Duration,
    /// `--save-samples`.
    pub save_samples: Option<PathBuf>,
    /// `--read-samples`.
    pub read_samples: Option<PathBuf>,
    /// `--format`.
    pub format: Format,
}

impl Config {
    /// Checks the arguments; fails fast with a usage error, before any
    /// I/O.
    pub fn new(a: Args) -> Result<Config> {
        let s = &a.summary;
        if !(0.0..=3600.0).contains(&s.sleep) {
            return Err(usage_error(format!(
                "--sleep {}: expected seconds between 0 and 3600",
                s.sleep
            )));
        }
        if s.no_system && s.no_server {
            return Err(usage_error(
                "--no-system and --no-server together leave nothing to report",
            ));
        }
        if a.targets.len() > 1 {
            return Err(usage_error(
                "ox-summary summarises one server at a time: give one DSN",
            ));
        }
        if s.read_samples.is_some() && !a.targets.is_empty() {
            return Err(usage_error(
                "--read-samples renders saved samples: a DSN makes no sense with it",
            ));
        }
        let chosen: Vec<Section> = Section::ALL
            .iter()
            .copied()
            .filter(|n| s.sections.is_empty() || s.sections.contains(n))
            .filter(|n| !(s.no_system && n.part() == Part::System))
            .filter(|n| !(s.no_server && n.part() == Part::Server))
            .collect();
        if chosen.is_empty() {
            return Err(usage_error(
                "the sections chosen are all excluded by --no-system/--no-server",
            ));
        }
        let notes = chosen.contains(&Section::Notes);
        let system = !s.no_system && (notes || chosen.iter().any(|n| n.part() == Part::System));
        let server = !s.no_server && (notes || chosen.iter().any(|n| n.part() == Part::Server));
        let target = a
            .targets
            .first()
            .map(|t| oxkit::dsn::parse_target(t))
            .transpose()
            .map_err(|e| usage_error(format!("{e:#}")))?;
        Ok(Config {
            target,
            sections: chosen,
            system,
            server,
            sleep_secs: s.sleep,
            sleep: Duration::from_secs_f64(s.sleep),
            save_samples: a.summary.save_samples,
            read_samples: a.summary.read_samples,
            format: a.output.format,
            conn: Connection::new(a.conn)?,
        })
    }
}

/// Runs the tool.
pub fn run(matches: &clap::ArgMatches, ctx: &Context) -> Result<Exit> {
    let cfg = Config::new(Args::from_arg_matches(matches)?)?;
    let samples = match &cfg.read_samples {
        Some(dir) => Samples::load(dir)?,
        None => gather(&cfg, ctx)?,
    };
    if let Some(dir) = &cfg.save_samples {
        samples.save(dir)?;
    }
    let report = report::analyze(&samples, &cfg.sections);
    oxkit::report::emit(cfg.format, &report, |w| {
        w.write_all(render::text(&report).as_bytes())
    })?;
    if report.server_unreachable {
        for e in &report.errors {
            log::warn!("{e}");
        }
        return Ok(Exit::ERROR);
    }
    Ok(Exit::OK)
}

fn sleep_until(deadline: Instant, ctx: &Context) -> Result<()> {
    while Instant::now() < deadline {
        ctx.cancel.check()?;
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
    Ok(())
}

/// Collects the samples: server first reading, host first reading, the
/// interval, then both second readings.
fn gather(cfg: &Config, ctx: &Context) -> Result<Samples> {
    let captured_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut samples = Samples {
        format: samples::FORMAT,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        captured_at,
        sleep: cfg.sleep_secs,
        ..Samples::default()
    };
    let start = Instant::now();
    let mut sys = cfg.system.then(collect::system_first);
    let mut server = None;
    if cfg.server {
        let mut spec = cfg.conn.resolve(cfg.target.as_ref())?;
        if let Some(s) = &sys {
            if spec.host.is_none()
                && spec.socket.is_none()
                && spec.port.is_none()
                && !oxkit::conn::DEFAULT_SOCKETS
                    .iter()
                    .any(|p| std::path::Path::new(p).exists())
            {
                if let Some(sock) = collect::local_sockets(s)
                    .into_iter()
                    .find(|p| std::path::Path::new(p).exists())
                {
                    spec.socket = Some(sock.into());
                }
            }
            let hostname = s
                .files
                .get("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default();
            if !collect::is_local(&spec, &hostname, &s.addresses) {
                samples.skipped.insert(
                    "system".into(),
                    format!(
                        "the server {} is not on this host (the host half describes the machine ox-summary runs on)",
                        oxkit::dsn::label(&spec)
                    ),
                );
                sys = None;
            }
        }
        let mut c = collect::ServerCollector::connect(&spec, &cfg.conn.options);
        c.first();
        server = Some(c);
    }
    ctx.cancel.check()?;
    let wants_rates = cfg.sections.iter().any(|s| {
        matches!(
            s,
            Section::Status | Section::Processes | Section::Cpu | Section::Notes
        )
    });
    if wants_rates && !cfg.sleep.is_zero() {
        // The interval runs from the later of the two first readings: a
        // slow connect must not shorten the server's interval below --sleep.
        let from = server
            .as_ref()
            .and_then(|c| c.started())
            .map_or(start, |t| t.max(start));
        sleep_until(from + cfg.sleep, ctx)?;
        if let Some(s) = sys.as_mut() {
            collect::system_second(s, start.elapsed().as_secs_f64());
        }
        if let Some(c) = server.as_mut() {
            if c.connected() {
                c.second();
            }
        }
    }
    samples.system = sys;
    samples.server = server.map(|c| c.samples);
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config> {
        let mut all = vec!["ox-summary"];
        all.extend_from_slice(args);
        let m = oxkit::entry::full_command(command()).try_get_matches_from(all)?;
        Config::new(Args::from_arg_matches(&m)?)
    }

    #[test]
    fn options_validate_before_any_io() {
        let c = parse(&[]).expect("defaults");
        assert_eq!(c.sections.len(), Section::ALL.len());
        assert!(c.system && c.server);
        let c = parse(&["--sections", "cpu,memory"]).expect("system only");
        assert!(c.system && !c.server);
        let c = parse(&["--no-system"]).expect("server only");
        assert!(!c.system && c.server && !c.sections.contains(&Section::Cpu));
        assert!(parse(&["--no-system", "--no-server"]).is_err());
        assert!(parse(&["--sleep", "-1"]).is_err());
        assert!(parse(&["--sections", "bogus"]).is_err());
        assert!(parse(&["h=a", "h=b"]).is_err());
        assert!(parse(&["--no-server", "--sections", "innodb"]).is_err());
        assert!(parse(&["--read-samples", "x", "--save-samples", "y"]).is_err());
    }

    /// What `Config::new` refuses, with which message (before any I/O).
    #[test]
    fn config_refuses_with_its_reason() {
        let refusal = |argv: &[&str]| {
            oxkit::entry::refusal(command(), argv, |m| Config::new(Args::from_arg_matches(m)?))
                .unwrap_or_else(|| panic!("{argv:?} was accepted"))
        };
        let cases: &[(&[&str], &str)] = &[
            (
                &["--sleep", "3601"],
                "--sleep 3601: expected seconds between 0 and 3600",
            ),
            (
                &["--sleep=-1"],
                "--sleep -1: expected seconds between 0 and 3600",
            ),
            (
                &["--no-system", "--no-server"],
                "--no-system and --no-server together leave nothing to report",
            ),
            (
                &["h=a", "h=b"],
                "ox-summary summarises one server at a time: give one DSN",
            ),
            (
                &["--read-samples", "x", "h=a"],
                "--read-samples renders saved samples: a DSN makes no sense with it",
            ),
            (
                &["--no-server", "--sections", "innodb"],
                "the sections chosen are all excluded by --no-system/--no-server",
            ),
            (&["--set-vars", "nonsense"], "--set-vars: "),
            (&["--sections", "bogus"], "clap: error: invalid value 'bogus'"),
            (
                &["--read-samples", "x", "--save-samples", "y"],
                "clap: error: the argument '--read-samples <DIR>' cannot be used with '--save-samples <DIR>'",
            ),
        ];
        for (argv, want) in cases {
            let got = refusal(argv);
            assert!(got.starts_with(want), "{argv:?}: {got}");
        }
    }
}
