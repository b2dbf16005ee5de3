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
