//! The catalogue: listing sets, the freshness check for monitoring, and
//! retention.
//!
//! Retention (`expire --keep-last N --keep-days D`) keeps a complete set
//! when it is among the N newest or younger than D days, and always keeps
//! the newest verified set, so the only proven backup is never deleted.
//! A set without a manifest is `running` while its backup holds the set's
//! lock, and `abandoned` once the lock is free (the run died: killed,
//! crashed, rebooted); `expire` removes abandoned sets at once and never
//! touches a running one. A set without a lock file (older versions) is
//! `unfinished` and removed once older than a day.

use crate::manifest::{self, Manifest, Method};
use crate::repo::{Liveness, Repo};
use anyhow::Result;
use serde::Serialize;

/// What a set in the repository is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// It has its manifest: a backup.
    Complete,
    /// No manifest yet, and its backup holds the set's lock.
    Running,
    /// No manifest, and the lock is free: its backup died.
    Abandoned,
    /// No manifest and no lock file to tell (or an unreadable manifest).
    Unfinished,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Complete => "complete",
            State::Running => "running",
            State::Abandoned => "abandoned",
            State::Unfinished => "unfinished",
        })
    }
}

/// One line of `list`.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Set id.
    pub id: String,
    /// `complete`, `running` (a backup is writing it), `abandoned` (its
    /// backup died), or `unfinished` (no manifest, no lock to tell).
    pub state: State,
    /// `logical`, `physical`.
    pub method: Option<Method>,
    /// Finished, UTC.
    pub finished_at: Option<String>,
    /// Seconds since it finished.
    pub age_secs: Option<u64>,
    /// Bytes stored.
    pub stored_bytes: Option<u64>,
    /// Seconds the backup took.
    pub duration_secs: Option<f64>,
    /// Tables.
    pub tables: Option<usize>,
    /// Encrypted.
    pub encrypted: bool,
    /// `passed`, `failed`, or `never`.
    pub verification: String,
    /// Seconds the last verification's restore took, or, when this set
    /// was never verified, an estimate (see `restore_estimated_from`).
    pub restore_secs: Option<f64>,
    /// When `restore_secs` is an estimate: the verified set of the same
    /// method, nearest in time, whose measured restore time it is, scaled
    /// by the stored sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_estimated_from: Option<String>,
    /// GTID of the consistent point.
    pub gtid: Option<String>,
    /// Warnings recorded.
    pub warnings: usize,
}

/// The state of a set without a manifest.
fn unfinished_state(repo: &Repo, id: &str) -> State {
    match repo.liveness(id, false).0 {
        Liveness::Running => State::Running,
        Liveness::Abandoned => State::Abandoned,
        Liveness::Unknown => State::Unfinished,
    }
}

fn entry(id: &str, m: Option<&Manifest>, now: u64, unfinished: State) -> Entry {
    match m {
        Some(m) => Entry {
            id: id.to_string(),
            state: State::Complete,
            method: Some(m.method),
            finished_at: Some(m.finished_at.clone()),
            age_secs: Some(now.saturating_sub(m.finished_unix)),
            stored_bytes: Some(m.stored_bytes),
            duration_secs: Some(m.duration_secs),
            tables: Some(m.tables.len()),
            encrypted: m.encryption.is_some(),
            verification: m
                .verification
                .as_ref()
                .map(|v| v.status.to_string())
                .unwrap_or_else(|| "never".into()),
            restore_secs: m
                .verification
                .as_ref()
                .map(|v| v.restore_secs)
                .filter(|s| *s > 0.0),
            restore_estimated_from: None,
            gtid: m.position.gtid.clone(),
            warnings: m.warnings.len(),
        },
        None => Entry {
            id: id.to_string(),
            state: unfinished,
            method: None,
            finished_at: None,
            age_secs: None,
            stored_bytes: None,
            duration_secs: None,
            tables: None,
            encrypted: false,
            verification: "never".into(),
            restore_secs: None,
            restore_estimated_from: None,
            gtid: None,
            warnings: 0,
        },
    }
}

/// Every set, oldest first, with restore times estimated where none was
/// measured.
pub fn list(repo: &Repo) -> Result<Vec<Entry>> {
    let now = manifest::now_unix();
    let mut list: Vec<Entry> = repo
        .sets()?
        .iter()
        .map(|s| {
            let state = if s.manifest.is_none() && s.error.is_none() {
                unfinished_state(repo, &s.id)
            } else {
                State::Unfinished
            };
            entry(&s.id, s.manifest.as_ref(), now, state)
        })
        .collect();
    estimate_restores(&mut list);
    Ok(list)
}

/// Gives each complete set without a measured restore time the measured
/// time of the nearest set (by finish time) of the same method that has
/// one, scaled by their stored sizes, and names that set: restore time
/// grows with the data to load, and a time the business can be told is
/// better marked as an estimate than missing.
pub fn estimate_restores(list: &mut [Entry]) {
    let measured: Vec<(usize, u64)> = list
        .iter()
        .enumerate()
        .filter(|(_, e)| e.restore_secs.is_some() && e.stored_bytes.is_some_and(|b| b > 0))
        .map(|(i, e)| (i, e.age_secs.unwrap_or(0)))
        .collect();
    for i in 0..list.len() {
        let e = &list[i];
        if e.state != State::Complete || e.restore_secs.is_some() {
            continue;
        }
        let age = e.age_secs.unwrap_or(0);
        let Some(&(j, _)) = measured
            .iter()
            .filter(|(j, _)| list[*j].method == e.method)
            .min_by_key(|(_, a)| a.abs_diff(age))
        else {
            continue;
        };
        let (base, from) = (&list[j], list[j].id.clone());
        let scale =
            e.stored_bytes.unwrap_or(0) as f64 / base.stored_bytes.unwrap_or(1).max(1) as f64;
        let secs = base.restore_secs.unwrap_or(0.0) * scale;
        list[i].restore_secs = Some(secs);
        list[i].restore_estimated_from = Some(from);
    }
}

/// `1d2h`, `3h4m`, `5m6s`.
pub fn human_age(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// Parses `26h`, `90m`, `2d`, `3600s`, `3600`.
pub fn parse_age(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'd' | 'D' => (&s[..s.len() - 1], 86400),
        'h' | 'H' => (&s[..s.len() - 1], 3600),
        'm' | 'M' => (&s[..s.len() - 1], 60),
        's' | 'S' => (&s[..s.len() - 1], 1),
        _ => (s, 1),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * mult as f64) as u64)
}

/// Result of `check`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The newest verified set.
    pub newest_verified: Option<String>,
    /// Its age in seconds.
    pub age_secs: Option<u64>,
    /// The limit.
    pub max_age_secs: u64,
    /// Fresh enough.
    pub ok: bool,
    /// Sets whose backup died before finishing (`expire` removes them).
    pub abandoned: Vec<String>,
    /// One line for humans and monitoring.
    pub message: String,
    /// With `--max-archive-lag`: the binary-log archives kept by `binlog
    /// --follow`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub archives: Vec<ArchiveLag>,
}

/// How far a followed binary-log archive is behind.
#[derive(Clone, Debug, Serialize)]
pub struct ArchiveLag {
    /// The server whose logs it holds.
    pub server_id: u32,
    /// Seconds since it last held all the server had written.
    pub lag_secs: u64,
    /// Its end (`log:byte`).
    pub end: String,
    /// Within the limit.
    pub ok: bool,
}

/// The followed binary-log archives of `repo` and their lag against
/// `max_lag`, with a note for the message: an archive too far behind, or
/// none at all, is critical.
fn archive_lags(repo: &Repo, max_lag: u64) -> Result<(Vec<ArchiveLag>, String, bool)> {
    let now = manifest::now_unix();
    let mut out = Vec::new();
    for id in repo.store().children("binlogs")? {
        let Ok(id) = id.parse::<u32>() else { continue };
        let index = crate::pitr::load_index(repo, id)?;
        if let Some(c) = index.current {
            let lag = now.saturating_sub(c.at_unix);
            out.push(ArchiveLag {
                server_id: id,
                lag_secs: lag,
                end: format!("{}:{}", c.file, c.pos),
                ok: lag <= max_lag,
            });
        }
    }
    if out.is_empty() {
        return Ok((
            out,
            "; no binary-log archive kept by `binlog --follow`".into(),
            false,
        ));
    }
    let ok = out.iter().all(|a| a.ok);
    let note = out
        .iter()
        .map(|a| {
            format!(
                "; binary-log archive of server {} {} {} behind (limit {}, at {})",
                a.server_id,
                if a.ok { "is" } else { "is CRITICALLY" },
                human_age(a.lag_secs),
                human_age(max_lag),
                a.end
            )
        })
        .collect();
    Ok((out, note, ok))
}

/// Is the newest verified set younger than `max_age`, and, with
/// `max_archive_lag`, every followed binary-log archive current enough?
pub fn check(repo: &Repo, max_age: u64, max_archive_lag: Option<u64>) -> Result<CheckReport> {
    let mut r = check_sets(repo, max_age)?;
    if let Some(max) = max_archive_lag {
        let (archives, note, ok) = archive_lags(repo, max)?;
        if !ok && r.ok {
            r.message = r.message.replacen("OK", "CRITICAL", 1);
        }
        r.ok &= ok;
        r.message.push_str(&note);
        r.archives = archives;
    }
    Ok(r)
}

fn check_sets(repo: &Repo, max_age: u64) -> Result<CheckReport> {
    let now = manifest::now_unix();
    let sets = repo.sets()?;
    let abandoned: Vec<String> = sets
        .iter()
        .filter(|s| s.manifest.is_none() && s.error.is_none())
        .filter(|s| unfinished_state(repo, &s.id) == State::Abandoned)
        .map(|s| s.id.clone())
        .collect();
    let note = if abandoned.is_empty() {
        String::new()
    } else {
        format!(
            "; {} abandoned set{} of a backup that died ({}): expire removes {}",
            abandoned.len(),
            if abandoned.len() == 1 { "" } else { "s" },
            abandoned.join(", "),
            if abandoned.len() == 1 { "it" } else { "them" }
        )
    };
    let newest = sets
        .into_iter()
        .filter_map(|s| s.manifest)
        .filter(|m| m.verified())
        .max_by_key(|m| m.finished_unix);
    Ok(match newest {
        None => CheckReport {
            newest_verified: None,
            age_secs: None,
            max_age_secs: max_age,
            ok: false,
            message: format!("CRITICAL: no verified backup in {}{note}", repo.url()),
            abandoned,
            archives: Vec::new(),
        },
        Some(m) => {
            let age = now.saturating_sub(m.finished_unix);
            let ok = age <= max_age;
            CheckReport {
                message: format!(
                    "{}: newest verified backup {} is {} old (limit {}){note}",
                    if ok { "OK" } else { "CRITICAL" },
                    m.id,
                    human_age(age),
                    human_age(max_age)
                ),
                abandoned,
                archives: Vec::new(),
                newest_verified: Some(m.id),
                age_secs: Some(age),
                max_age_secs: max_age,
                ok,
            }
        }
    })
}

/// One decision of `expire`.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// Set id.
    pub id: String,
    /// Kept.
    pub keep: bool,
    /// Why.
    pub reason: String,
}

/// Applies retention; with `dry_run` only decides.
pub fn expire(
    repo: &Repo,
    keep_last: Option<usize>,
    keep_days: Option<f64>,
    dry_run: bool,
) -> Result<Vec<Decision>> {
    let now = manifest::now_unix();
    let sets = repo.sets()?;
    let complete: Vec<&Manifest> = sets.iter().filter_map(|s| s.manifest.as_ref()).collect();
    let newest_verified = complete
        .iter()
        .filter(|m| m.verified())
        .max_by_key(|m| m.finished_unix)
        .map(|m| m.id.clone());
    let mut by_age: Vec<&&Manifest> = complete.iter().collect();
    by_age.sort_by_key(|m| std::cmp::Reverse(m.finished_unix));
    let mut out = Vec::new();
    // The locks of the abandoned sets to remove, held until they are gone
    // so no backup can take one of them meanwhile.
    let mut held = Vec::new();
    for s in &sets {
        let d = match &s.manifest {
            None if s.error.is_some() => Decision {
                id: s.id.clone(),
                keep: true,
                reason: "unreadable manifest: left for inspection".into(),
            },
            None => match repo.liveness(&s.id, !dry_run) {
                (Liveness::Running, _) => Decision {
                    id: s.id.clone(),
                    keep: true,
                    reason: "running: its backup holds the set's lock".into(),
                },
                (Liveness::Abandoned, lock) => {
                    held.extend(lock);
                    Decision {
                        id: s.id.clone(),
                        keep: false,
                        reason: "abandoned: its backup died before finishing".into(),
                    }
                }
                (Liveness::Unknown, _) => {
                    let old = repo
                        .set_modified(&s.id)
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|e| e.as_secs() > 86400);
                    Decision {
                        id: s.id.clone(),
                        keep: !old,
                        reason: if old {
                            "unfinished and older than a day".into()
                        } else {
                            "unfinished (may be running)".into()
                        },
                    }
                }
            },
            Some(m) => {
                let rank = by_age.iter().position(|x| x.id == m.id).unwrap_or(0);
                let age_days = now.saturating_sub(m.finished_unix) as f64 / 86400.0;
                if newest_verified.as_deref() == Some(&m.id) {
                    Decision {
                        id: m.id.clone(),
                        keep: true,
                        reason: "newest verified backup (never expired)".into(),
                    }
                } else if keep_last.is_some_and(|n| rank < n) {
                    Decision {
                        id: m.id.clone(),
                        keep: true,
                        reason: format!("among the {} newest", keep_last.unwrap_or(0)),
                    }
                } else if keep_days.is_some_and(|d| age_days < d) {
                    Decision {
                        id: m.id.clone(),
                        keep: true,
                        reason: format!("younger than {} days", keep_days.unwrap_or(0.0)),
                    }
                } else {
                    Decision {
                        id: m.id.clone(),
                        keep: false,
                        reason: "outside the retention".into(),
                    }
                }
            }
        };
        out.push(d);
    }
    if !dry_run {
        for d in out.iter().filter(|d| !d.keep) {
            repo.remove_set(&d.id)?;
        }
    }
    drop(held);
    let kept: Vec<&Manifest> = complete
        .iter()
        .copied()
        .filter(|m| out.iter().any(|d| d.id == m.id && d.keep))
        .collect();
    out.extend(expire_binlogs(repo, &kept, dry_run)?);
    Ok(out)
}

/// Binary-log retention: per server, the archived logs older than the
/// position of every kept backup of that server are removed (a kept
/// backup's roll-forward starts at its own position), except a log that
/// holds an XA transaction a kept backup recorded as prepared, the last
/// log of the archive and a log stored only in part (`binlog --follow`
/// may be writing it). A server with no kept backup keeps its logs. The
/// index is written before the files go, so it never names a missing one.
fn expire_binlogs(repo: &Repo, kept: &[&Manifest], dry_run: bool) -> Result<Vec<Decision>> {
    let mut out = Vec::new();
    for id in repo.store().children("binlogs")? {
        let Ok(id) = id.parse::<u32>() else { continue };
        let mine: Vec<&&Manifest> = kept.iter().filter(|m| m.server.server_id == id).collect();
        let Some(oldest) = mine
            .iter()
            .filter_map(|m| m.position.binlog_file.as_deref())
            .min()
        else {
            continue;
        };
        let xa: Vec<&str> = mine
            .iter()
            .flat_map(|m| &m.position.xa_prepared)
            .filter_map(|x| x.binlog_file.as_deref())
            .collect();
        let mut index = crate::pitr::load_index(repo, id)?;
        let last = index.files.last().map(|f| f.name.clone());
        let (gone, keep): (Vec<_>, Vec<_>) =
            std::mem::take(&mut index.files).into_iter().partition(|f| {
                f.name.as_str() < oldest
                    && f.complete
                    && Some(&f.name) != last.as_ref()
                    && !xa.contains(&f.name.as_str())
            });
        index.files = keep;
        if gone.is_empty() {
            continue;
        }
        if !dry_run {
            crate::pitr::save_index(repo, &index)?;
            let d = crate::pitr::dir(id);
            for f in &gone {
                for piece in f.pieces().unwrap_or_default() {
                    repo.store().delete(&format!("{d}/{}", piece.path))?;
                }
            }
        }
        out.extend(gone.iter().map(|f| Decision {
            id: format!("binlogs/{id}/{}", f.name),
            keep: false,
            reason: format!(
                "binary log older than every kept backup of server {id} (from {oldest})"
            ),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("26h"), Some(93600));
        assert_eq!(parse_age("2d"), Some(172800));
        assert_eq!(parse_age("90"), Some(90));
        assert_eq!(parse_age("x"), None);
        assert_eq!(human_age(93600), "1d2h");
    }

    fn set(id: &str, method: Method, age: u64, bytes: u64, restore: Option<f64>) -> Entry {
        Entry {
            id: id.into(),
            state: State::Complete,
            method: Some(method),
            finished_at: None,
            age_secs: Some(age),
            stored_bytes: Some(bytes),
            duration_secs: Some(1.0),
            tables: Some(1),
            encrypted: false,
            verification: (if restore.is_some() { "passed" } else { "never" }).into(),
            restore_secs: restore,
            restore_estimated_from: None,
            gtid: None,
            warnings: 0,
        }
    }

    /// An unverified set gets the nearest verified set's restore time of
    /// the same method, scaled by size, and says whose; measured times and
    /// sets with nothing to go by are left alone.
    #[test]
    fn restore_times_are_estimated_and_marked() {
        let mut l = vec![
            set("a", Method::Logical, 500, 100, Some(10.0)),
            set("b", Method::Physical, 400, 100, Some(3.0)),
            set("c", Method::Logical, 300, 100, Some(20.0)),
            set("d", Method::Logical, 100, 300, None),
            set("e", Method::Physical, 50, 50, None),
        ];
        l.push(Entry {
            state: State::Abandoned,
            ..set("f", Method::Logical, 0, 0, None)
        });
        estimate_restores(&mut l);
        assert_eq!(l[0].restore_secs, Some(10.0));
        assert_eq!(l[0].restore_estimated_from, None);
        // d: nearest logical is c (200 s apart), 3x its size.
        assert_eq!(l[3].restore_secs, Some(60.0));
        assert_eq!(l[3].restore_estimated_from.as_deref(), Some("c"));
        // e: only b is physical.
        assert_eq!(l[4].restore_secs, Some(1.5));
        assert_eq!(l[4].restore_estimated_from.as_deref(), Some("b"));
        assert_eq!(l[5].restore_secs, None);
        let json = serde_json::to_value(&l[3]).expect("json");
        assert_eq!(json["restore_estimated_from"], "c");
        assert!(serde_json::to_value(&l[0]).expect("json")["restore_estimated_from"].is_null());
    }
}
