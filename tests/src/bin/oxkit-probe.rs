//! `oxkit-probe`: a test-only tool that goes through exactly the path every
//! oxkit tool uses (shared entry, config layering, connection options, DSN
//! resolution, connect, server detection, topology) and prints what it found
//! as JSON. The end-to-end tests of the shared library drive it; it is not
//! installed.

use clap::{CommandFactory, FromArgMatches, Parser};
use oxkit::cli::{ConnArgs, OutputArgs};
use oxkit::entry::Context;
use oxkit::{conn, dsn, server::Server, topology, Exit};

/// Connects to each target and reports its identity.
#[derive(Parser, Debug)]
#[command(name = "oxkit-probe", version)]
struct Args {
    /// Targets: DSNs (`h=,P=,u=,p=,S=`) or `mysql://` URLs; later ones
    /// inherit from the first.
    targets: Vec<String>,
    /// Also list the replicas of each target (`hosts,processlist`, `none`, `dsn=...`).
    #[arg(long, value_name = "METHODS")]
    recursion_method: Option<String>,
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    output: OutputArgs,
}

fn run(m: &clap::ArgMatches, _ctx: &Context) -> anyhow::Result<Exit> {
    let args = Args::from_arg_matches(m)?;
    let targets = if args.targets.is_empty() {
        vec![None]
    } else {
        dsn::parse_targets(&args.targets)?
            .into_iter()
            .map(Some)
            .collect()
    };
    let opts = args.conn.connect_options()?;
    let mut out = Vec::new();
    for t in targets {
        let spec = args.conn.resolve(t.as_ref())?;
        log::info!("connecting to {}", dsn::label(&spec));
        log::debug!("resolved target: {spec:?}");
        let mut c = conn::connect(&spec, &opts)?;
        let server = Server::detect(&mut c)?;
        log::debug!("server: {server:?}");
        let status = topology::replica_status(&mut c, &server)?;
        let via = match conn::transport(&spec) {
            conn::Transport::Socket(_) => "socket",
            conn::Transport::Tcp(..) => "tcp",
        };
        let tls: Option<(String, String)> = c.row(
            "reading TLS status",
            "SHOW SESSION STATUS LIKE 'Ssl_cipher'",
        )?;
        let mut item = serde_json::json!({
            "label": dsn::label(&spec),
            "via": via,
            "tls_cipher": tls.map(|(_, v)| v).unwrap_or_default(),
            "server": server,
            "replica_status": status,
            // What `ps` shows for this process.
            "cmdline": std::fs::read("/proc/self/cmdline")
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default(),
        });
        if let Some(methods) = &args.recursion_method {
            let methods = topology::parse_methods(methods)?;
            let replicas = topology::discover(&spec, &methods, 10, &opts)?;
            item["replicas"] = serde_json::to_value(replicas)?;
        }
        out.push(item);
    }
    oxkit::report::emit(args.output.format, &out, |w| {
        for item in &out {
            writeln!(
                w,
                "{} {} {}",
                item["label"], item["server"]["flavor"], item["server"]["version_string"]
            )?;
        }
        Ok(())
    })?;
    Ok(Exit::OK)
}

fn main() {
    oxkit::entry::main(Args::command(), run)
}
