//! `restore`: a set into a running server (then, optionally, rolled
//! forward through the copied binary logs), or into a new data directory.
//! A logical set loads into either; a physical set is prepared into a
//! directory, and rolled forward once a server runs on it.

use crate::cli::{Config, RestoreConfig, Target};
use crate::crypt::Key;
use crate::logical::restore::{RestoreOptions, RestoreReport};
use crate::manifest::{HistoryEntry, Manifest, Method};
use crate::physical::{owner, prepare};
use crate::pitr;
use crate::repo::Repo;
use anyhow::Result;
use oxkit::dsn::ConnSpec;
use oxkit::entry::{usage_error, Context};
use oxkit::report::emit;
use oxkit::Exit;
use std::path::Path;

/// Runs `restore`.
pub fn run(ctx: &Context, cfg: &Config, r: &RestoreConfig) -> Result<Exit> {
    let open = || -> Result<Restore> {
        let repo = Repo::open(&cfg.repo, false)?;
        let m = repo.manifest(r.args.set.backup.as_deref())?;
        Ok(Restore { cfg, r, repo, m })
    };
    match &r.target {
        Target::Datadir(dir) => {
            let job = open()?;
            match job.m.method {
                Method::Physical => job.physical_to_datadir(dir),
                Method::Logical => job.logical_to_datadir(ctx, dir),
            }
        }
        Target::Server => {
            let spec = r.args.server.resolve(&cfg.conn)?;
            let job = open()?;
            match job.m.method {
                Method::Physical => job.replay(&spec),
                Method::Logical => job.logical_to_server(ctx, &spec),
            }
        }
    }
}

/// One restore: the options as checked, and the set.
struct Restore<'a> {
    cfg: &'a Config,
    r: &'a RestoreConfig,
    repo: Repo,
    m: Manifest,
}

impl Restore<'_> {
    /// The logical restore's options, as given.
    fn options(&self) -> Result<RestoreOptions> {
        let a = &self.r.args;
        Ok(RestoreOptions {
            no_binlog: a.no_binlog,
            filter: self.r.filter.clone(),
            users: a.users.users,
            warm_up: a.warm_up,
            first: a.first.clone(),
            ..RestoreOptions::for_set(&self.m, self.key_file(), a.threads.threads)?
        })
    }

    /// `--encrypt-key-file`.
    fn key_file(&self) -> Option<&Path> {
        self.r.args.key.encrypt_key_file.as_deref()
    }

    /// Appends a line to the set's history.
    fn record(&self, h: HistoryEntry) -> Result<()> {
        self.repo
            .update_manifest(&self.m.id, |mm| mm.history.push(h))?;
        Ok(())
    }

    /// A logical set into the running server `spec`, rolled forward with
    /// `--until`/`--until-gtid`.
    fn logical_to_server(&self, ctx: &Context, spec: &ConnSpec) -> Result<Exit> {
        let (cfg, r, repo, m) = (self.cfg, self.r, &self.repo, &self.m);
        let copts = cfg.conn.connect_options()?;
        let ro = self.options()?;
        if let Some(u) = &r.until {
            pitr::check_until(repo, m, u)?;
        }
        let result = (|| -> Result<RestoreReport> {
            let mut rep = crate::logical::restore::restore(ctx, repo, m, spec, &copts, &ro)?;
            if let Some(u) = &r.until {
                let secs =
                    pitr::replay(repo, m, spec, u, &copts, self.key_file(), r.args.no_binlog)?;
                rep.binlog_secs = Some(secs);
                rep.duration_secs += secs;
            }
            Ok(rep)
        })();
        let (ok, secs, target, message) = match &result {
            Ok(rep) => (
                true,
                rep.duration_secs,
                rep.target.clone(),
                format!(
                    "{} tables, {} rows{}",
                    rep.tables,
                    rep.rows,
                    first_words(rep)
                ),
            ),
            Err(e) => (false, 0.0, oxkit::dsn::label(spec), format!("{e:#}")),
        };
        // Best effort after a failure: the failure is what to report.
        let _ = self.record(HistoryEntry::now("restore", ok, secs, target, message));
        let rep = result?;
        super::warn_all(&rep.warnings);
        emit(cfg.format, &rep, |w| {
            writeln!(
                w,
                "restored {} into {}: {} tables, {} rows in {:.1}s{}{}",
                rep.backup,
                rep.target,
                rep.tables,
                rep.rows,
                rep.duration_secs,
                first_words(&rep),
                rep.binlog_secs
                    .map(|s| format!(" (binary log replay {s:.1}s)"))
                    .unwrap_or_default()
            )
        })?;
        Ok(Exit::OK)
    }

    /// A logical set into a new data directory, through a throwaway
    /// server of the set's flavour and major version.
    fn logical_to_datadir(&self, ctx: &Context, dir: &Path) -> Result<Exit> {
        let m = &self.m;
        if self.r.args.owner.is_some() {
            return Err(usage_error(
                "--owner applies to physical backups (a logical --to-datadir restore leaves the files to the user running it)",
            ));
        }
        if dir.exists() {
            return Err(usage_error(format!(
                "--to-datadir {}: a logical restore needs a directory that does not exist yet",
                dir.display()
            )));
        }
        let ro = self.options()?;
        let rep = crate::logical::restore::to_datadir(ctx, &self.repo, m, &ro, dir)?;
        // The datadir is made by, and for, a server of the backup's flavour
        // and major version.
        let (flavor, v) = m.server.flavor_version();
        let server = match flavor {
            oxkit::server::Flavor::MariaDB => "mariadbd",
            _ => "mysqld",
        };
        self.record(HistoryEntry::now(
            "restore",
            true,
            rep.duration_secs,
            format!("datadir {}", rep.target),
            format!("{} tables, {} rows", rep.tables, rep.rows),
        ))?;
        emit(self.cfg.format, &rep, |w| {
            writeln!(
                w,
                "restored {} into the new datadir {} ({} tables, {} rows in {:.1}s); start {server} {}.{} with --datadir={}",
                rep.backup, rep.target, rep.tables, rep.rows, rep.duration_secs, v.major, v.minor, rep.target
            )
        })?;
        Ok(Exit::OK)
    }

    /// A physical set decoded into `dir` and prepared there.
    fn physical_to_datadir(&self, dir: &Path) -> Result<Exit> {
        let a = &self.r.args;
        if !a.first.is_empty() {
            return Err(usage_error(format!(
                "--first applies to logical backups; {} is physical (its files come back whole, every table at once)",
                self.m.id
            )));
        }
        let key = Key::for_set(&self.m, self.key_file())?;
        let owner = owner::wanted(a.owner.as_deref(), dir)?;
        let buffer_pool = &a.sandbox.verify_buffer_pool;
        let result = prepare::restore_to_dir(&self.repo, &self.m, key.as_ref(), dir, buffer_pool)
            .and_then(|mut rep| {
                if let Some(o) = &owner {
                    owner::chown_tree(dir, o)?;
                    rep.owner = Some(o.describe());
                }
                Ok(rep)
            });
        let (duration, message) = match &result {
            Ok(rep) => (
                rep.duration_secs,
                format!(
                    "prepared to LSN {} in {:.2}s",
                    rep.end_lsn, rep.prepare_secs
                ),
            ),
            Err(e) => (0.0, format!("{e:#}")),
        };
        let target = format!("datadir {}", dir.display());
        let h = HistoryEntry::now("restore", result.is_ok(), duration, target, message);
        let _ = self.record(h);
        let rep = result?;
        emit(self.cfg.format, &rep, |w| {
            writeln!(
                w,
                "restored {} into {}: files {:.1}s, prepare (crash recovery) {:.1}s, total {:.1}s; {} XA rolled back{}; \
                 start mariadbd with --datadir={}",
                rep.backup,
                rep.datadir,
                rep.copy_secs,
                rep.prepare_secs,
                rep.duration_secs,
                rep.xa_rolled_back,
                rep.owner
                    .as_deref()
                    .map(|o| format!("; files owned by {o}"))
                    .unwrap_or_default(),
                rep.datadir
            )
        })?;
        Ok(Exit::OK)
    }

    /// `restore DSN --until/--until-gtid` of a physical set: the set was
    /// restored with `--to-datadir` and a server started on it; the copied
    /// binary logs are replayed into it from the set's position.
    fn replay(&self, spec: &ConnSpec) -> Result<Exit> {
        let (cfg, r, m) = (self.cfg, self.r, &self.m);
        let Some(until) = &r.until else {
            anyhow::bail!(
                "backup {} is physical: it restores into a directory (restore --to-datadir DIR); \
                 to roll it forward, start a server on that directory and run restore DSN --until \
                 or --until-gtid against it (the binary logs are replayed from the backup's position)",
                m.id
            );
        };
        let result = pitr::replay(
            &self.repo,
            m,
            spec,
            until,
            &cfg.conn.connect_options()?,
            self.key_file(),
            r.args.no_binlog,
        );
        let target = oxkit::dsn::label(spec);
        let (secs, message) = match &result {
            Ok(s) => (
                *s,
                format!("binary logs replayed from the backup's position to {until:?}"),
            ),
            Err(e) => (0.0, format!("{e:#}")),
        };
        let h = HistoryEntry::now("replay", result.is_ok(), secs, target.clone(), message);
        let _ = self.record(h);
        let secs = result?;
        let rep = ReplayReport {
            backup: m.id.clone(),
            target,
            xa_reprepared: m.position.xa_prepared.len(),
            binlog_secs: secs,
        };
        emit(cfg.format, &rep, |w| {
            writeln!(
                w,
                "replayed the binary logs of {} into {} from the backup's position in {:.1}s ({} XA transactions re-prepared first)",
                rep.backup, rep.target, rep.binlog_secs, rep.xa_reprepared
            )
        })?;
        Ok(Exit::OK)
    }
}

/// `; the first N tables usable after S s` for a `--first` restore.
fn first_words(rep: &RestoreReport) -> String {
    rep.first_usable_secs
        .map(|s| {
            format!(
                "; the first {} tables usable after {s:.1}s",
                rep.first_tables.len()
            )
        })
        .unwrap_or_default()
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
