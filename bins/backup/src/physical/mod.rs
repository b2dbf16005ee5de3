//! The physical method: a hot copy of a MariaDB 10.8+ data directory
//! (InnoDB files plus the redo written during the copy), prepared by a
//! throwaway stock server's own crash recovery.
//!
//! [`redo`] knows the redo log format, [`pages`] the page checksums,
//! [`io`] reads with O_DIRECT, [`copy`] takes the backup and [`prepare`]
//! turns a set back into a recovered data directory.

pub mod copy;
pub mod io;
pub mod owner;
pub mod pages;
pub mod prepare;
pub mod redo;
pub mod snapshot;
pub mod verify;

pub use verify::verify;

use crate::manifest::Manifest;
use anyhow::Result;
use oxkit::entry::usage_error;

/// Refuses `--method physical` where it means nothing.
pub fn check_method(method: crate::manifest::Method, taking_backup: bool) -> Result<()> {
    if method == crate::manifest::Method::Physical && !taking_backup {
        return Err(usage_error(
            "--method applies to backup only (restore and verify follow the backup's own method)",
        ));
    }
    Ok(())
}

/// The key of an existing set, if it is encrypted.
pub fn key_for(
    m: &Manifest,
    key_file: Option<&std::path::Path>,
) -> Result<Option<crate::crypt::Key>> {
    m.encryption
        .as_ref()
        .map(|e| crate::crypt::Key::for_existing(key_file, e, &format!("backup {}", m.id)))
        .transpose()
}

/// `backup --method physical`.
pub fn run_backup(
    ctx: &oxkit::entry::Context,
    cfg: &crate::Config,
    spec: &oxkit::dsn::ConnSpec,
    copts: &oxkit::conn::ConnectOptions,
    repo: &crate::repo::Repo,
    key: Option<(crate::crypt::Key, crate::crypt::Encryption)>,
    format: oxkit::report::Format,
) -> Result<oxkit::Exit> {
    let opts = copy::PhysOptions {
        threads: cfg.args.threads,
        compress_level: cfg.args.compress_level,
        key,
        max_rate: cfg.max_rate,
    };
    let m = copy::backup(ctx, spec, copts, repo, &opts)?;
    let vr = if cfg.args.verify {
        let k = key_for(&m, cfg.args.encrypt_key_file.as_deref())?;
        Some(
            verify(ctx, repo, &m, k.as_ref(), &cfg.args.verify_buffer_pool)
                .map_err(|e| crate::verify_interrupted_note(&m.id, e))?,
        )
    } else {
        None
    };
    #[derive(serde::Serialize)]
    struct Out<'a> {
        backup: &'a Manifest,
        verify: Option<&'a crate::verify::VerifyReport>,
    }
    oxkit::report::emit(
        format,
        &Out {
            backup: &m,
            verify: vr.as_ref(),
        },
        |w| {
            writeln!(
                w,
                "backup {} complete (physical): {} stored ({} raw) in {:.1}s, BLOCK_COMMIT held {} ms, position {}",
                m.id,
                oxkit::report::human_bytes(m.stored_bytes),
                oxkit::report::human_bytes(m.raw_bytes),
                m.duration_secs,
                m.position.lock_ms,
                m.position.gtid.as_deref().unwrap_or("-")
            )?;
            if let Some(v) = &vr {
                writeln!(w, "verify: {} ({})", v.status, v.message)?;
            }
            Ok(())
        },
    )?;
    if vr
        .as_ref()
        .is_some_and(|v| v.status != crate::manifest::Verdict::Passed)
    {
        return Ok(oxkit::Exit::DIFFERENCES);
    }
    Ok(oxkit::Exit::OK)
}

/// `restore --to-datadir DIR` of a physical set.
pub fn run_restore(
    cfg: &crate::Config,
    repo: &crate::repo::Repo,
    m: &Manifest,
    dir: &std::path::Path,
    format: oxkit::report::Format,
) -> Result<oxkit::Exit> {
    let key = key_for(m, cfg.args.encrypt_key_file.as_deref())?;
    let owner = owner::wanted(cfg.args.owner.as_deref(), dir)?;
    let result = prepare::restore_to_dir(repo, m, key.as_ref(), dir, &cfg.args.verify_buffer_pool)
        .and_then(|mut r| {
            if let Some(o) = &owner {
                owner::chown_tree(dir, o)?;
                r.owner = Some(o.describe());
            }
            Ok(r)
        });
    let now = crate::manifest::now_unix();
    let _ = repo.update_manifest(&m.id, |mm| {
        mm.history.push(crate::manifest::HistoryEntry {
            action: "restore".into(),
            at: crate::manifest::utc(now),
            at_unix: now,
            ok: result.is_ok(),
            duration_secs: result.as_ref().map(|r| r.duration_secs).unwrap_or(0.0),
            target: format!("datadir {}", dir.display()),
            message: match &result {
                Ok(r) => format!("prepared to LSN {} in {:.2}s", r.end_lsn, r.prepare_secs),
                Err(e) => format!("{e:#}"),
            },
        })
    });
    let r = result?;
    oxkit::report::emit(format, &r, |w| {
        writeln!(
            w,
            "restored {} into {}: files {:.1}s, prepare (crash recovery) {:.1}s, total {:.1}s; {} XA rolled back{}; \
             start mariadbd with --datadir={}",
            r.backup,
            r.datadir,
            r.copy_secs,
            r.prepare_secs,
            r.duration_secs,
            r.xa_rolled_back,
            r.owner
                .as_deref()
                .map(|o| format!("; files owned by {o}"))
                .unwrap_or_default(),
            r.datadir
        )
    })?;
    Ok(oxkit::Exit::OK)
}

/// What a physical roll-forward did.
#[derive(serde::Serialize)]
pub struct ReplayReport {
    /// The set.
    pub backup: String,
    /// The server replayed into.
    pub target: String,
    /// XA transactions re-prepared before the replay.
    pub xa_reprepared: usize,
    /// Seconds the replay took.
    pub binlog_secs: f64,
}

/// `restore DSN --until/--until-gtid` of a physical set: the set was
/// restored with `--to-datadir` and a server started on it; the copied
/// binary logs are replayed into it from the set's position.
pub fn run_replay(
    cfg: &crate::Config,
    repo: &crate::repo::Repo,
    m: &Manifest,
    spec: &oxkit::dsn::ConnSpec,
    until: &crate::pitr::Until,
    format: oxkit::report::Format,
) -> Result<oxkit::Exit> {
    let result = crate::pitr::replay(
        repo,
        m,
        spec,
        until,
        &cfg.args.conn.connect_options()?,
        cfg.args.encrypt_key_file.as_deref(),
        cfg.args.no_binlog,
    );
    let now = crate::manifest::now_unix();
    let target = oxkit::dsn::label(spec);
    let _ = repo.update_manifest(&m.id, |mm| {
        mm.history.push(crate::manifest::HistoryEntry {
            action: "replay".into(),
            at: crate::manifest::utc(now),
            at_unix: now,
            ok: result.is_ok(),
            duration_secs: *result.as_ref().unwrap_or(&0.0),
            target: target.clone(),
            message: match &result {
                Ok(_) => format!("binary logs replayed from the backup's position to {until:?}"),
                Err(e) => format!("{e:#}"),
            },
        })
    });
    let secs = result?;
    let r = ReplayReport {
        backup: m.id.clone(),
        target,
        xa_reprepared: m.position.xa_prepared.len(),
        binlog_secs: secs,
    };
    oxkit::report::emit(format, &r, |w| {
        writeln!(
            w,
            "replayed the binary logs of {} into {} from the backup's position in {:.1}s ({} XA transactions re-prepared first)",
            r.backup, r.target, r.binlog_secs, r.xa_reprepared
        )
    })?;
    Ok(oxkit::Exit::OK)
}
