//! `verify`: restore a set into a throwaway server and compare; the
//! verdict goes into the manifest. `backup --verify` runs the same proof.

use crate::cli::{Config, VerifyArgs};
use crate::crypt::Key;
use crate::logical::restore::RestoreOptions;
use crate::manifest::{Manifest, Method, Verdict};
use crate::repo::Repo;
use crate::verify::VerifyReport;
use anyhow::Result;
use oxkit::entry::Context;
use oxkit::report::{emit, Table};
use oxkit::Exit;
use std::path::Path;

/// How a set is proven restorable.
pub struct Proof<'a> {
    /// Connections restoring and checksumming (logical sets).
    pub threads: usize,
    /// The key file, for an encrypted set.
    pub key_file: Option<&'a Path>,
    /// Restore the users and grants too (logical sets).
    pub users: bool,
    /// `--innodb-buffer-pool-size` of the throwaway server.
    pub buffer_pool: &'a str,
}

impl Proof<'_> {
    /// Verifies `m` by its own method and records the verdict.
    pub fn verify(&self, ctx: &Context, repo: &Repo, m: &Manifest) -> Result<VerifyReport> {
        match m.method {
            Method::Logical => {
                let ro = RestoreOptions {
                    users: self.users,
                    ..RestoreOptions::for_set(m, self.key_file, self.threads)?
                };
                crate::logical::verify::verify(ctx, repo, m, &ro, self.buffer_pool)
            }
            Method::Physical => {
                let key = Key::for_set(m, self.key_file)?;
                crate::physical::verify(ctx, repo, m, key.as_ref(), self.buffer_pool)
            }
        }
    }
}

/// Runs `verify`: exit 16 when the set does not restore to what was
/// recorded.
pub fn run(ctx: &Context, cfg: &Config, a: &VerifyArgs) -> Result<Exit> {
    let repo = Repo::open(&cfg.repo, false)?;
    let m = repo.manifest(a.set.backup.as_deref())?;
    let proof = Proof {
        threads: a.threads.threads,
        key_file: a.key.encrypt_key_file.as_deref(),
        users: a.users.users,
        buffer_pool: &a.sandbox.verify_buffer_pool,
    };
    let r = proof.verify(ctx, &repo, &m)?;
    emit(cfg.format, &r, |w| {
        writeln!(
            w,
            "verify {}: {} (restore {:.1}s, total {:.1}s)",
            r.backup, r.status, r.restore_secs, r.duration_secs
        )?;
        writeln!(w, "{}", r.message)?;
        let mut t = Table::new(["table", "rows", "restored", "checksum", "ok"]);
        for c in &r.tables {
            t.row([
                format!("{}.{}", c.db, c.table),
                c.rows_expected.to_string(),
                c.rows_restored.to_string(),
                c.checksum_expected.clone(),
                if c.ok { "yes".into() } else { "NO".to_string() },
            ]);
        }
        write!(w, "{t}")
    })?;
    if r.status != Verdict::Passed {
        log::error!("verify of {} FAILED: {}", r.backup, r.message);
        return Ok(Exit::DIFFERENCES);
    }
    Ok(Exit::OK)
}
