//! `backup`: take a set by either method, verify it at once when asked
//! (`--verify`), and report it.

use super::verify::Proof;
use crate::cli::{BackupConfig, Config};
use crate::crypt::Key;
use crate::manifest::{Manifest, Method, Verdict};
use crate::repo::Repo;
use crate::verify::VerifyReport;
use crate::{logical, physical};
use anyhow::Result;
use oxkit::entry::Context;
use oxkit::report::{emit, human_bytes};
use oxkit::Exit;
use std::io::Write;

/// `backup` output (JSON: the manifest, plus the verification).
#[derive(serde::Serialize)]
struct BackupOut<'a> {
    backup: &'a Manifest,
    verify: Option<&'a VerifyReport>,
}

/// Runs `backup`: exit 16 when `--verify` finds the set does not restore
/// to what was recorded.
pub fn run(ctx: &Context, cfg: &Config, b: &BackupConfig) -> Result<Exit> {
    let a = &b.args;
    let spec = a.server.resolve(&cfg.conn)?;
    let copts = cfg.conn.connect_options()?;
    let key = match &a.key.encrypt_key_file {
        Some(p) => Some(Key::for_new_backup(p)?),
        None => None,
    };
    let repo = Repo::open(&cfg.repo, true)?;
    let m = match a.method {
        Method::Logical => {
            let opts = logical::BackupOptions {
                threads: a.threads.threads,
                chunk_rows: a.chunk_rows,
                compress_level: a.compress.compress_level,
                key,
                filter: b.filter.clone(),
                filter_words: b.filter_words.clone(),
                filter_args: a.filter.clone(),
                allow_non_transactional: a.allow_non_transactional,
                users: !a.no_users,
                max_rate: b.max_rate,
            };
            let m = logical::backup(ctx, &spec, &copts, &repo, &opts)?;
            super::warn_all(&m.warnings);
            m
        }
        Method::Physical => {
            let opts = physical::copy::PhysOptions {
                threads: a.threads.threads,
                compress_level: a.compress.compress_level,
                key,
                max_rate: b.max_rate,
                buffer_pool: a.sandbox.verify_buffer_pool.clone(),
                staging_dir: a.staging_dir.clone(),
            };
            physical::copy::backup(ctx, &spec, &copts, &repo, &opts)?
        }
    };
    let vr = if a.verify {
        let proof = Proof {
            threads: a.threads.threads,
            key_file: a.key.encrypt_key_file.as_deref(),
            users: a.users.users,
            buffer_pool: &a.sandbox.verify_buffer_pool,
        };
        Some(
            proof
                .verify(ctx, &repo, &m)
                .map_err(|e| verify_interrupted_note(&m.id, e))?,
        )
    } else {
        None
    };
    let out = BackupOut {
        backup: &m,
        verify: vr.as_ref(),
    };
    emit(cfg.format, &out, |w| match m.method {
        Method::Logical => logical_text(w, &m, vr.as_ref()),
        Method::Physical => physical_text(w, &m, vr.as_ref()),
    })?;
    Ok(match vr {
        Some(v) if v.status != Verdict::Passed => Exit::DIFFERENCES,
        _ => Exit::OK,
    })
}

/// `backup --verify` stopped during its verify step: the backup itself is
/// complete and catalogued (unverified), which the error alone would hide.
fn verify_interrupted_note(id: &str, e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<oxkit::entry::Cancelled>().is_some() {
        log::warn!(
            "backup {id} is complete and catalogued; its verification was interrupted \
             (run verify --backup {id} later)"
        );
    }
    e
}

fn logical_text(w: &mut dyn Write, m: &Manifest, vr: Option<&VerifyReport>) -> std::io::Result<()> {
    let rows: u64 = m.tables.iter().map(|t| t.rows).sum();
    writeln!(
        w,
        "backup {} complete: {} tables, {} rows, {} stored ({} raw) in {:.1}s",
        m.id,
        m.tables.len(),
        rows,
        human_bytes(m.stored_bytes),
        human_bytes(m.raw_bytes),
        m.duration_secs
    )?;
    writeln!(
        w,
        "position: gtid {} binlog {}:{} ({} held {} ms)",
        m.position.gtid.as_deref().unwrap_or("-"),
        m.position.binlog_file.as_deref().unwrap_or("-"),
        m.position.binlog_pos.unwrap_or(0),
        m.position.lock,
        m.position.lock_ms
    )?;
    if let Some(v) = vr {
        writeln!(
            w,
            "verify: {} (restore {:.1}s): {}",
            v.status, v.restore_secs, v.message
        )?;
    }
    if !m.warnings.is_empty() {
        writeln!(w, "{} warnings:", m.warnings.len())?;
        for x in &m.warnings {
            writeln!(w, "  {x}")?;
        }
    }
    Ok(())
}

fn physical_text(
    w: &mut dyn Write,
    m: &Manifest,
    vr: Option<&VerifyReport>,
) -> std::io::Result<()> {
    writeln!(
        w,
        "backup {} complete (physical): {} stored ({} raw) in {:.1}s, BLOCK_COMMIT held {} ms, position {}",
        m.id,
        human_bytes(m.stored_bytes),
        human_bytes(m.raw_bytes),
        m.duration_secs,
        m.position.lock_ms,
        m.position.gtid.as_deref().unwrap_or("-")
    )?;
    if let Some(v) = vr {
        writeln!(w, "verify: {} ({})", v.status, v.message)?;
    }
    Ok(())
}
