//! `binlog`: copy the server's binary logs for point-in-time recovery.

use crate::cli::{BinlogArgs, Config};
use crate::pitr;
use crate::repo::Repo;
use anyhow::Result;
use oxkit::report::emit;
use oxkit::Exit;

/// Runs `binlog`.
pub fn run(ctx: &oxkit::entry::Context, cfg: &Config, a: &BinlogArgs) -> Result<Exit> {
    let spec = a.server.resolve(&cfg.conn)?;
    let copts = cfg.conn.connect_options()?;
    let repo = Repo::open(&cfg.repo, true)?;
    if a.follow {
        let r = crate::follow::follow(
            ctx,
            &repo,
            &spec,
            &copts,
            a.key.encrypt_key_file.as_deref(),
            &a.follow_options()?,
        )?;
        emit(cfg.format, &r, |w| {
            writeln!(
                w,
                "stopped following: {} segments ({} bytes) stored this run in {}; the archive ends at {} (last GTID {}), current {} ago",
                r.segments,
                r.bytes,
                r.dir,
                r.archived_to,
                r.last_gtid.as_deref().unwrap_or("-"),
                r.lag_secs.map_or("never".into(), |l| format!("{l} s"))
            )
        })?;
        return Ok(Exit::OK);
    }
    let r = pitr::copy(
        ctx,
        &repo,
        &spec,
        &copts,
        a.key.encrypt_key_file.as_deref(),
        a.compress.compress_level,
    )?;
    emit(cfg.format, &r, |w| {
        writeln!(
            w,
            "copied {} binary logs into {} ({} there now){}",
            r.copied.len(),
            r.dir,
            r.total,
            if r.copied.is_empty() {
                String::new()
            } else {
                format!(": {}", r.copied.join(", "))
            }
        )
    })?;
    Ok(Exit::OK)
}
