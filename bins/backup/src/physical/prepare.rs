//! Turning copied redo into an `ib_logfile0` a stock server recovers.
//!
//! The copy holds the log bytes from the start checkpoint LSN to the end
//! LSN, in LSN order, as the source wrote them: each mini-transaction's
//! termination byte carries the sequence bit of the lap it was written in
//! on the *source's* circle. The new file has its own geometry (first LSN =
//! the start checkpoint, big enough that every copied byte sits on its first
//! lap), so every termination byte is rewritten to that lap's bit. The
//! CRC-32C of a mini-transaction covers its records only, not the
//! termination byte, so the rewrite keeps every CRC valid; the rest of the
//! file is zero, which reads as "end of log" on the first lap.
//!
//! We never apply redo: the server's own crash recovery does.

use super::redo::{self, Checkpoint, Geometry, Stop, START_OFFSET};
use anyhow::{bail, Result};

/// Smallest file we write (a server refuses tiny logs).
const MIN_FILE: u64 = 8 << 20;

/// The size of a fresh log that holds `len` bytes of redo on its first lap
/// with room to spare, rounded up to a MiB.
pub fn file_size_for(len: u64) -> u64 {
    let want = START_OFFSET + len + len / 4 + (1 << 20);
    want.div_ceil(1 << 20).max(MIN_FILE >> 20) << 20
}

/// Builds a whole `ib_logfile0` image from `redo` (bytes `[cp.lsn, end)`,
/// laid out as the source wrote them on a circle of geometry `src`).
/// Fails when the copy does not walk as whole, checked mini-transactions
/// up to its last byte, or does not cover the checkpoint's
/// `FILE_CHECKPOINT` record.
pub fn build_log(redo: &[u8], cp: Checkpoint, src: &Geometry, creator: &str) -> Result<Vec<u8>> {
    let len = redo.len() as u64;
    if cp.end_lsn > cp.lsn + len {
        bail!(
            "copied redo ends at LSN {} before the checkpoint's end LSN {}",
            cp.lsn + len,
            cp.end_lsn
        );
    }
    let size = file_size_for(len);
    let dst = Geometry::new(cp.lsn, size)?;
    let mut img = vec![0u8; size as usize];
    let body = &mut img[START_OFFSET as usize..START_OFFSET as usize + redo.len()];
    body.copy_from_slice(redo);
    let mut ends = Vec::new();
    let w = redo::walk_with(redo, cp.lsn, src, |i| ends.push(i));
    if w.len != redo.len() {
        let lsn = cp.lsn + w.len as u64;
        let why = match w.stop {
            Stop::BadCrc => "a mini-transaction with a wrong CRC-32C",
            Stop::EndMarker => "an unexpected end-of-log marker",
            Stop::NeedMore => "a truncated mini-transaction",
        };
        bail!(
            "backup redo is damaged: {why} at LSN {lsn} ({} of {} bytes are whole mini-transactions)",
            w.len,
            redo.len()
        );
    }
    for i in ends {
        body[i] = dst.sequence_bit(cp.lsn + i as u64);
    }
    img[..redo::HEADER_SIZE].copy_from_slice(&redo::header_block(cp.lsn, creator));
    let at = redo::CHECKPOINT_OFFSETS[0] as usize;
    img[at..at + 64].copy_from_slice(&redo::checkpoint_block(cp));
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mtr(records: &[u8], bit: u8) -> Vec<u8> {
        let mut v = records.to_vec();
        v.push(bit);
        v.extend_from_slice(&crc32c::crc32c(records).to_be_bytes());
        v
    }

    #[test]
    fn rewrites_lap_bits_and_keeps_crcs() {
        // A source circle of 64 bytes of capacity: the second mini-transaction
        // ends on the second lap (bit 0).
        let src = Geometry {
            first_lsn: 0,
            file_size: START_OFFSET + 64,
        };
        let start = 40;
        let mut redo = mtr(&[0x32, 1, 2, 0xfa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40], 1);
        redo.extend(mtr(&[0x35, 9, 9, 9, 9, 9, 0x31, 7], 0));
        let cp = Checkpoint {
            lsn: start,
            end_lsn: start,
        };
        let img = build_log(&redo, cp, &src, "ox-backup").expect("build");
        let h = redo::parse_header(&img).expect("header");
        assert_eq!(h.first_lsn, start);
        let got = redo::parse_checkpoint(&img[0x1000..0x1040]).expect("checkpoint");
        assert_eq!(got, cp);
        let dst = Geometry::new(start, img.len() as u64).expect("geo");
        let body = &img[START_OFFSET as usize..];
        let w = redo::walk(body, start, &dst);
        assert_eq!(
            (w.len, w.mtrs, w.stop),
            (redo.len(), 2, redo::Stop::EndMarker)
        );
        assert_eq!(w.checkpoints, vec![40]);

        let mut bad = redo.clone();
        bad[20] ^= 0x10;
        let e = build_log(&bad, cp, &src, "x").expect_err("damaged");
        assert!(e.to_string().contains("damaged"), "{e}");
    }
}

/// What a physical restore did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PhysRestore {
    /// The backup.
    pub backup: String,
    /// Where the prepared data directory is.
    pub datadir: String,
    /// Seconds decoding the files.
    pub copy_secs: f64,
    /// Seconds the throwaway server's crash recovery and clean shutdown took.
    pub prepare_secs: f64,
    /// The whole restore.
    pub duration_secs: f64,
    /// The backup point.
    pub end_lsn: u64,
    /// XA transactions left prepared at the backup point, rolled back.
    pub xa_rolled_back: usize,
    /// Who owns the files (`--owner`, or the target's owner, as root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Decodes a physical set into `target` (absent or empty), writes the
/// prepared `ib_logfile0`, lets a throwaway stock mariadbd recover it and
/// shuts that server down cleanly. The directory is then a normal, cleanly
/// shut down data directory.
pub fn restore_to_dir(
    repo: &crate::repo::Repo,
    m: &crate::manifest::Manifest,
    key: Option<&crate::crypt::Key>,
    target: &std::path::Path,
    buffer_pool: &str,
) -> Result<PhysRestore> {
    use super::copy::{PhysMeta, META_FILE, REDO_FILE};
    use anyhow::Context as _;
    use std::io::Read as _;
    let t0 = std::time::Instant::now();
    if m.method != crate::manifest::Method::Physical {
        bail!(
            "backup {} is a {} backup, not a physical one",
            m.id,
            m.method
        );
    }
    // The prepare step's server runs unprivileged when we are root: find
    // out now, not after copying every file, that it cannot reach target.
    oxkit::sandbox::check_reachable(target)?;
    if target.exists()
        && std::fs::read_dir(target)
            .with_context(|| format!("reading {}", target.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty: a physical restore needs a new or empty directory",
            target.display()
        );
    }
    // Like mariadb-install-db: a directory made here is 0700; one the user
    // prepared keeps its mode. Everything inside is 0700/0600 (the
    // password hashes in mysql/global_priv among it).
    let created = !target.exists();
    crate::repo::mkdir(target)?;
    decode_files(repo, m, key, target)?;
    if super::clone::is_clone_set(m) {
        // A clone was recovered and shut down cleanly when it was taken.
        crate::repo::private_tree(target, created)?;
        let secs = t0.elapsed().as_secs_f64();
        return Ok(PhysRestore {
            backup: m.id.clone(),
            datadir: target.display().to_string(),
            copy_secs: secs,
            prepare_secs: 0.0,
            duration_secs: secs,
            end_lsn: 0,
            xa_rolled_back: 0,
            owner: None,
        });
    }
    let meta: PhysMeta = serde_json::from_slice(&repo.read_all(m, META_FILE, key)?)
        .context("reading the physical metadata")?;
    let mut redo_bytes = Vec::new();
    {
        let entry = m.file(REDO_FILE).context("the set has no redo copy")?;
        let data = repo.read_verified(&m.id, entry)?;
        crate::repo::decoder(data, key, REDO_FILE)?
            .read_to_end(&mut redo_bytes)
            .context("decoding the redo copy")?;
    }
    if redo_bytes.len() as u64 != meta.end_lsn - meta.start_lsn {
        bail!(
            "the redo copy holds {} bytes, the backup recorded {} (LSN {}..{})",
            redo_bytes.len(),
            meta.end_lsn - meta.start_lsn,
            meta.start_lsn,
            meta.end_lsn
        );
    }
    let src = Geometry {
        first_lsn: meta.source_first_lsn,
        file_size: meta.source_log_size,
    };
    let cp = super::copy::checkpoint_of(&meta);
    let img = build_log(&redo_bytes, cp, &src, "ox-backup")?;
    {
        use std::io::Write as _;
        crate::repo::create_file(&target.join("ib_logfile0"))?
            .write_all(&img)
            .context("writing ib_logfile0")?;
    }
    let copy_secs = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let xa = prepare_dir(target, &meta, buffer_pool)?;
    // The recovering server created files of its own (undo, temporary
    // tablespace, logs) with its own umask.
    crate::repo::private_tree(target, created)?;
    Ok(PhysRestore {
        backup: m.id.clone(),
        datadir: target.display().to_string(),
        copy_secs,
        prepare_secs: t1.elapsed().as_secs_f64(),
        duration_secs: t0.elapsed().as_secs_f64(),
        end_lsn: meta.end_lsn,
        xa_rolled_back: xa,
        owner: None,
    })
}

/// Starts a throwaway server on `dir` (crash recovery applies the redo),
/// checks it recovered to the backup point, rolls back XA transactions left
/// prepared, and shuts it down cleanly.
fn prepare_dir(
    dir: &std::path::Path,
    meta: &super::copy::PhysMeta,
    buffer_pool: &str,
) -> Result<usize> {
    // Crash recovery parses the redo into the buffer pool: one too small
    // for the copied redo recovers in several slow batches.
    let mut sb = oxkit::sandbox::Sandbox::builder()
        .from_datadir(dir)
        .arg(format!("--innodb-buffer-pool-size={buffer_pool}"))
        .start()
        .map_err(|e| e.context("prepare: the server's crash recovery of the backup failed"))?;
    let log = sb.error_log_tail(400);
    let want = format!(
        "Starting crash recovery from checkpoint LSN={}",
        meta.start_lsn
    );
    // A copy whose redo after the checkpoint holds no page change (only the
    // checkpoint's FILE_MODIFY/FILE_CHECKPOINT records: an idle source)
    // needs no crash recovery, and MariaDB 11.x then says only where the log
    // ends: exactly the backup's end LSN is as good a proof that the server
    // read the relaid log.
    let clean = format!("End of log at LSN={}\n", meta.end_lsn);
    if !log.contains(&want) && !log.contains(&clean) {
        bail!(
            "prepare: the server did not recover from the backup's checkpoint LSN {}:\n{log}",
            meta.start_lsn
        );
    }
    let mut c = sb.connect()?;
    let lsn = c.global_status("Innodb_lsn_current")?;
    if lsn < meta.end_lsn {
        bail!(
            "prepare: recovery ended at LSN {lsn}, before the backup point {}",
            meta.end_lsn
        );
    }
    // FORMAT='SQL' gives each xid as the server's own literal for XA ROLLBACK.
    let xids: Vec<mysql::Row> = c.rows(
        "listing prepared XA transactions",
        "XA RECOVER FORMAT='SQL'",
    )?;
    let mut n = 0;
    for x in &xids {
        if let Some(data) = oxkit::conn::cell_text(x, 3) {
            c.run(
                "rolling back a prepared XA transaction",
                &format!("XA ROLLBACK {data}"),
            )?;
            n += 1;
        }
    }
    drop(c);
    sb.shutdown()?;
    Ok(n)
}

/// Decodes the data directory files of a physical set into `target`.
fn decode_files(
    repo: &crate::repo::Repo,
    m: &crate::manifest::Manifest,
    key: Option<&crate::crypt::Key>,
    target: &std::path::Path,
) -> Result<()> {
    use anyhow::Context as _;
    let prefix = format!("{}/", super::copy::FILES_DIR);
    for f in &m.files {
        let Some(rel) = f.path.strip_prefix(&prefix) else {
            continue;
        };
        let dest = target.join(rel);
        if let Some(dir) = dest.parent() {
            crate::repo::mkdir(dir)?;
        }
        let data = repo.read_verified(&m.id, f)?;
        let mut r = crate::repo::decoder(data, key, &f.path)?;
        let mut out = crate::repo::create_file(&dest)?;
        std::io::copy(&mut r, &mut out).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(())
}
