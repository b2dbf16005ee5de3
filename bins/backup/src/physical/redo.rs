//! The MariaDB 10.8+ redo log (`ib_logfile0`, format "Phys"): header,
//! checkpoint blocks, the circular layout and the mini-transaction framing.
//!
//! Layout learned from the MariaDB 10.11 sources and checked against real
//! files written by the server (see the tests):
//! - bytes 0..512: header; u32 format (big-endian) `0x50687973`, u64 first
//!   LSN at 8, creator string at 16..48, encryption info from 48 on (all
//!   zero when the log is not encrypted), CRC-32C of bytes 0..508 at 508;
//! - checkpoint blocks at 0x1000 and 0x2000: u64 checkpoint LSN, u64 end LSN
//!   (where the `FILE_CHECKPOINT` record was written), CRC-32C of the first
//!   60 bytes at +60; the valid block with the larger checkpoint LSN wins;
//! - log bytes from [`START_OFFSET`]; the byte of LSN `lsn` lives at
//!   `START_OFFSET + (lsn - first_lsn) % capacity`, capacity being the file
//!   size minus `START_OFFSET`.
//!
//! A mini-transaction is a run of records (first byte: type in the high
//! nibble, length in the low one, 0 meaning a variable-length length
//! follows), then one termination byte equal to the "sequence bit" of the
//! lap its LSN falls in (1 on even laps, 0 on odd ones), then a big-endian
//! CRC-32C of the records. The end of the log is where the termination byte
//! or the CRC stops matching: bytes past the end are "not written yet"
//! (garbage of an earlier lap, or a partly written block).
//!
//! Invariant: nothing here applies redo; we only find whole
//! mini-transactions so that a copy can stop on a boundary and a prepared
//! log can be checked before a server is asked to recover it.

use anyhow::{bail, Context as _, Result};

/// `FORMAT_10_8`: "Phys".
pub const FORMAT_10_8: u32 = 0x5068_7973;
/// Where log data starts in `ib_logfile0`.
pub const START_OFFSET: u64 = 12288;
/// Size of the header block.
pub const HEADER_SIZE: usize = 512;
/// Offsets of the two checkpoint blocks.
pub const CHECKPOINT_OFFSETS: [u64; 2] = [0x1000, 0x2000];
/// `FILE_CHECKPOINT` record type (high nibble, with the 0x80 bit).
pub const FILE_CHECKPOINT: u8 = 0xf0;

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

/// The header block of `ib_logfile0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// LSN of the byte at [`START_OFFSET`] on the first lap.
    pub first_lsn: u64,
    /// Who created the file ("MariaDB 10.11.19").
    pub creator: String,
    /// Whether the log carries encryption info (v1 refuses these).
    pub encrypted: bool,
}

/// Parses and checks the 512-byte header block.
pub fn parse_header(b: &[u8]) -> Result<Header> {
    if b.len() < HEADER_SIZE {
        bail!("redo log header: only {} bytes", b.len());
    }
    let format = be32(b, 0);
    if format != FORMAT_10_8 {
        bail!(
            "redo log format {format:#010x} is not the MariaDB 10.8+ format {FORMAT_10_8:#010x} \
             (physical backups need MariaDB 10.8 or later)"
        );
    }
    let stored = be32(b, 508);
    let crc = crc32c::crc32c(&b[..508]);
    if stored != crc {
        bail!("redo log header: CRC-32C {crc:#010x} does not match the stored {stored:#010x}");
    }
    let creator = &b[16..48];
    let end = creator
        .iter()
        .position(|c| *c == 0)
        .unwrap_or(creator.len());
    Ok(Header {
        first_lsn: be64(b, 8),
        creator: String::from_utf8_lossy(&creator[..end]).into_owned(),
        encrypted: b[48..508].iter().any(|c| *c != 0),
    })
}

/// Builds a header block (for the log a prepare writes).
pub fn header_block(first_lsn: u64, creator: &str) -> [u8; HEADER_SIZE] {
    let mut b = [0u8; HEADER_SIZE];
    b[0..4].copy_from_slice(&FORMAT_10_8.to_be_bytes());
    b[8..16].copy_from_slice(&first_lsn.to_be_bytes());
    let c = creator.as_bytes();
    let n = c.len().min(31);
    b[16..16 + n].copy_from_slice(&c[..n]);
    let crc = crc32c::crc32c(&b[..508]);
    b[508..512].copy_from_slice(&crc.to_be_bytes());
    b
}

/// One checkpoint block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Recovery starts here.
    pub lsn: u64,
    /// Where the `FILE_CHECKPOINT` record of this checkpoint was written.
    pub end_lsn: u64,
}

/// Parses a checkpoint block; `None` when it is empty or its CRC is wrong.
pub fn parse_checkpoint(b: &[u8]) -> Option<Checkpoint> {
    if b.len() < 64 {
        return None;
    }
    if be32(b, 60) != crc32c::crc32c(&b[..60]) {
        return None;
    }
    let c = Checkpoint {
        lsn: be64(b, 0),
        end_lsn: be64(b, 8),
    };
    (c.lsn != 0 && c.end_lsn >= c.lsn).then_some(c)
}

/// Builds a checkpoint block (64 bytes; the rest of the 4 KiB stays zero).
pub fn checkpoint_block(c: Checkpoint) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0..8].copy_from_slice(&c.lsn.to_be_bytes());
    b[8..16].copy_from_slice(&c.end_lsn.to_be_bytes());
    let crc = crc32c::crc32c(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The newer of the two checkpoint blocks.
pub fn latest_checkpoint(a: &[u8], b: &[u8]) -> Option<Checkpoint> {
    match (parse_checkpoint(a), parse_checkpoint(b)) {
        (Some(x), Some(y)) => Some(if y.lsn > x.lsn { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// Where LSNs live in a log file of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// LSN at [`START_OFFSET`] on the first lap.
    pub first_lsn: u64,
    /// Size of `ib_logfile0` in bytes.
    pub file_size: u64,
}

impl Geometry {
    /// Checks the size.
    pub fn new(first_lsn: u64, file_size: u64) -> Result<Geometry> {
        if file_size <= START_OFFSET + 4096 || !file_size.is_multiple_of(4096) {
            bail!("redo log size {file_size} is not a plausible ib_logfile0 size");
        }
        Ok(Geometry {
            first_lsn,
            file_size,
        })
    }

    /// Bytes of log the file holds.
    pub fn capacity(&self) -> u64 {
        self.file_size - START_OFFSET
    }

    /// File offset of the byte at `lsn` (`lsn >= first_lsn`).
    pub fn offset(&self, lsn: u64) -> u64 {
        START_OFFSET + (lsn - self.first_lsn) % self.capacity()
    }

    /// The termination byte a mini-transaction ending at `lsn` carries.
    pub fn sequence_bit(&self, lsn: u64) -> u8 {
        u8::from(((lsn - self.first_lsn) / self.capacity()).is_multiple_of(2))
    }
}

/// Why a walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The buffer ended inside a mini-transaction: read more.
    NeedMore,
    /// A termination byte with the wrong sequence bit: end of written log.
    EndMarker,
    /// A complete-looking mini-transaction whose CRC does not match: end of
    /// written log (or corruption, when more log was expected).
    BadCrc,
}

/// The result of walking a run of log bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Walk {
    /// Bytes of whole, checked mini-transactions from the start.
    pub len: usize,
    /// How many mini-transactions.
    pub mtrs: u64,
    /// Why the walk stopped.
    pub stop: Stop,
    /// The checkpoint LSNs named by `FILE_CHECKPOINT` records seen.
    pub checkpoints: Vec<u64>,
}

/// Length of a varint from its first byte (MariaDB's `mlog` encoding).
fn varint_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0x80..=0xbf => 2,
        0xc0..=0xdf => 3,
        0xe0..=0xef => 4,
        _ => 5,
    }
}

/// Decodes a varint; `None` when the buffer is too short.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let n = varint_len(first);
    if b.len() < n {
        return None;
    }
    const MIN2: u64 = 1 << 7;
    const MIN3: u64 = MIN2 + (1 << 14);
    const MIN4: u64 = MIN3 + (1 << 21);
    const MIN5: u64 = MIN4 + (1 << 28);
    let tail = |k: usize| b[1..k].iter().fold(0u64, |a, c| a << 8 | u64::from(*c));
    let v = match n {
        1 => u64::from(first),
        2 => MIN2 + (u64::from(first & 0x3f) << 8 | tail(2)),
        3 => MIN3 + (u64::from(first & 0x1f) << 16 | tail(3)),
        4 => MIN4 + (u64::from(first & 0x0f) << 24 | tail(4)),
        _ => MIN5 + tail(5),
    };
    Some((v, n))
}

/// Walks whole mini-transactions in `buf`, whose first byte has LSN
/// `start_lsn`. Stops at the first incomplete, unterminated or
/// CRC-mismatching one; `len` counts only whole, checked ones.
pub fn walk(buf: &[u8], start_lsn: u64, geo: &Geometry) -> Walk {
    walk_with(buf, start_lsn, geo, |_| {})
}

/// [`walk`], calling `on_end(i)` with the buffer index of the termination
/// byte of every whole, checked mini-transaction.
pub fn walk_with(
    buf: &[u8],
    start_lsn: u64,
    geo: &Geometry,
    mut on_end: impl FnMut(usize),
) -> Walk {
    let mut w = Walk {
        len: 0,
        mtrs: 0,
        stop: Stop::NeedMore,
        checkpoints: Vec::new(),
    };
    let mut pos = 0usize;
    'mtr: loop {
        let begin = pos;
        let mut p = begin;
        let mut cps = Vec::new();
        loop {
            let Some(&b) = buf.get(p) else {
                w.stop = Stop::NeedMore;
                break 'mtr;
            };
            if b <= 1 {
                // A termination byte. An empty mini-transaction does not
                // exist: a bare terminator is the end of the log.
                if b != geo.sequence_bit(start_lsn + p as u64) || p == begin {
                    w.stop = Stop::EndMarker;
                    break 'mtr;
                }
                if buf.len() < p + 5 {
                    w.stop = Stop::NeedMore;
                    break 'mtr;
                }
                if be32(buf, p + 1) != crc32c::crc32c(&buf[begin..p]) {
                    w.stop = Stop::BadCrc;
                    break 'mtr;
                }
                on_end(p);
                pos = p + 5;
                w.len = pos;
                w.mtrs += 1;
                w.checkpoints.append(&mut cps);
                continue 'mtr;
            }
            let nib = usize::from(b & 0x0f);
            let rec_len = if nib != 0 {
                1 + nib
            } else {
                match varint(&buf[p + 1..]) {
                    // The stored value counts the bytes after the header
                    // byte, varint included, minus 15.
                    Some((v, _)) => 1 + 15 + v as usize,
                    None => {
                        w.stop = Stop::NeedMore;
                        break 'mtr;
                    }
                }
            };
            if b & 0xf0 == FILE_CHECKPOINT && nib == 10 && p + 11 <= buf.len() {
                // FILE_CHECKPOINT: space 0, page 0, then the 8-byte LSN.
                cps.push(be64(buf, p + 3));
            }
            p += rec_len;
        }
    }
    w
}

/// Reads `len` bytes of log starting at `lsn` out of a whole-file image or
/// a reader, unwrapping the circle. `read_at(offset, buf)` fills `buf` from
/// the file offset.
pub fn read_lsn_range(
    geo: &Geometry,
    lsn: u64,
    len: usize,
    mut read_at: impl FnMut(u64, &mut [u8]) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    let mut done = 0usize;
    while done < len {
        let l = lsn + done as u64;
        let off = geo.offset(l);
        let room = (geo.file_size - off) as usize;
        let n = room.min(len - done);
        read_at(off, &mut out[done..done + n])
            .with_context(|| format!("reading redo at offset {off} (LSN {l})"))?;
        done += n;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let b = header_block(0xaed8, "ox-backup");
        let h = parse_header(&b).expect("valid");
        assert_eq!(h.first_lsn, 0xaed8);
        assert_eq!(h.creator, "ox-backup");
        assert!(!h.encrypted);
        let mut bad = b;
        bad[20] ^= 1;
        assert!(parse_header(&bad).is_err());
        let mut enc = header_block(1, "x");
        enc[60] = 7;
        let crc = crc32c::crc32c(&enc[..508]);
        enc[508..].copy_from_slice(&crc.to_be_bytes());
        assert!(parse_header(&enc).expect("valid").encrypted);
    }

    #[test]
    fn checkpoints() {
        let a = checkpoint_block(Checkpoint {
            lsn: 100,
            end_lsn: 120,
        });
        let b = checkpoint_block(Checkpoint {
            lsn: 200,
            end_lsn: 230,
        });
        assert_eq!(latest_checkpoint(&a, &b).map(|c| c.lsn), Some(200));
        let mut bad = b;
        bad[3] ^= 1;
        assert_eq!(latest_checkpoint(&a, &bad).map(|c| c.lsn), Some(100));
        assert_eq!(parse_checkpoint(&[0u8; 64]), None);
    }

    #[test]
    fn geometry_laps() {
        let g = Geometry::new(1000, START_OFFSET + 8192).expect("size");
        assert_eq!(g.offset(1000), START_OFFSET);
        assert_eq!(g.offset(1000 + 8192), START_OFFSET);
        assert_eq!(g.sequence_bit(1000), 1);
        assert_eq!(g.sequence_bit(1000 + 8191), 1);
        assert_eq!(g.sequence_bit(1000 + 8192), 0);
        assert_eq!(g.sequence_bit(1000 + 2 * 8192), 1);
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]), Some((5, 1)));
        assert_eq!(varint(&[0x80, 0x00]), Some((128, 2)));
        assert_eq!(varint(&[0x81, 0x02]), Some((128 + 0x102, 2)));
        assert_eq!(varint(&[0xc0, 0, 0]), Some((128 + 16384, 3)));
        assert_eq!(varint(&[0x81]), None);
    }

    fn mtr(records: &[u8], bit: u8) -> Vec<u8> {
        let mut v = records.to_vec();
        v.push(bit);
        v.extend_from_slice(&crc32c::crc32c(records).to_be_bytes());
        v
    }

    #[test]
    fn walk_stops_at_end_and_bad_crc() {
        let g = Geometry::new(0, START_OFFSET + (1 << 20)).expect("size");
        let mut log = mtr(&[0x32, 0xaa, 0xbb], 1);
        log.extend(mtr(&[0x31, 0xcc], 1));
        let whole = log.len();
        log.extend_from_slice(&[0x00, 0, 0, 0, 0, 0x12, 0x34]);
        let w = walk(&log, 0, &g);
        assert_eq!((w.len, w.mtrs, w.stop), (whole, 2, Stop::EndMarker));
        let mut bad = log.clone();
        bad[1] ^= 0x40;
        let w = walk(&bad, 0, &g);
        assert_eq!((w.len, w.stop), (0, Stop::BadCrc));
        let w = walk(&log[..whole - 2], 0, &g);
        assert_eq!((w.len, w.mtrs, w.stop), (8, 1, Stop::NeedMore));
    }
}

/// What a reader learns from the fixed blocks of a live `ib_logfile0`.
#[derive(Clone, Debug)]
pub struct LogState {
    /// The header.
    pub header: Header,
    /// Where LSNs live.
    pub geometry: Geometry,
    /// The newest checkpoint.
    pub checkpoint: Checkpoint,
}

/// Reads the header and checkpoint blocks of `ib_logfile0`.
pub fn read_state(f: &mut super::io::DirectFile) -> Result<LogState> {
    let mut head = vec![0u8; START_OFFSET as usize];
    f.read_at(0, &mut head)?;
    let header = parse_header(&head[..HEADER_SIZE])?;
    let geometry = Geometry::new(header.first_lsn, f.len()?)?;
    let a = CHECKPOINT_OFFSETS[0] as usize;
    let b = CHECKPOINT_OFFSETS[1] as usize;
    let checkpoint = latest_checkpoint(&head[a..a + 64], &head[b..b + 64])
        .context("redo log: neither checkpoint block is valid")?;
    if checkpoint.lsn < header.first_lsn {
        bail!(
            "redo log: checkpoint LSN {} precedes the file's first LSN {}",
            checkpoint.lsn,
            header.first_lsn
        );
    }
    Ok(LogState {
        header,
        geometry,
        checkpoint,
    })
}
