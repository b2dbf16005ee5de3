//! InnoDB page checksums (`innodb_checksum_algorithm=full_crc32`, the
//! default since MariaDB 10.5): the last 4 bytes of a page hold the
//! big-endian CRC-32C of the rest. An all-zero page (allocated, never
//! written) is valid. The tablespace flags on page 0 (FSP header at 38,
//! flags at +16) carry the full_crc32 marker bit (1 << 4); files in the
//! older formats are refused rather than copied unchecked.

/// Offset of the tablespace flags in page 0.
const FSP_FLAGS: usize = 38 + 16;
/// The full_crc32 marker in the flags.
const FCRC32_MARKER: u32 = 1 << 4;
/// Bits 5..7: page_compressed algorithm (full_crc32 format).
const FCRC32_COMPRESSED_ALGO: u32 = 7 << 5;

/// Whether `page` (one whole page) passes the full_crc32 check.
pub fn page_ok(page: &[u8]) -> bool {
    let n = page.len();
    if n < 8 {
        return false;
    }
    let stored = u32::from_be_bytes([page[n - 4], page[n - 3], page[n - 2], page[n - 1]]);
    if stored == crc32c::crc32c(&page[..n - 4]) {
        return true;
    }
    page.iter().all(|b| *b == 0)
}

/// What page 0's flags say about a tablespace's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// full_crc32, uncompressed: every page can be checked.
    FullCrc32,
    /// full_crc32 with page compression (checked by a different rule; v1
    /// refuses these).
    FullCrc32Compressed,
    /// An older checksum format (v1 refuses these).
    Legacy,
}

/// Reads the format from page 0.
pub fn format_of(page0: &[u8]) -> Format {
    if page0.len() < FSP_FLAGS + 4 {
        return Format::Legacy;
    }
    let f = u32::from_be_bytes([
        page0[FSP_FLAGS],
        page0[FSP_FLAGS + 1],
        page0[FSP_FLAGS + 2],
        page0[FSP_FLAGS + 3],
    ]);
    if f & FCRC32_MARKER == 0 {
        Format::Legacy
    } else if f & FCRC32_COMPRESSED_ALGO != 0 {
        Format::FullCrc32Compressed
    } else {
        Format::FullCrc32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_crc32_pages() {
        let mut p = vec![7u8; 16384];
        let crc = crc32c::crc32c(&p[..16380]);
        p[16380..].copy_from_slice(&crc.to_be_bytes());
        assert!(page_ok(&p));
        p[100] ^= 1;
        assert!(!page_ok(&p));
        assert!(page_ok(&[0u8; 16384]));
        let mut p0 = vec![0u8; 16384];
        p0[FSP_FLAGS + 3] = 0x15;
        assert_eq!(format_of(&p0), Format::FullCrc32);
        p0[FSP_FLAGS + 3] = 0x05;
        assert_eq!(format_of(&p0), Format::Legacy);
        p0[FSP_FLAGS + 3] = 0x35;
        assert_eq!(format_of(&p0), Format::FullCrc32Compressed);
    }
}
