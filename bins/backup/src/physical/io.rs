//! Reading live InnoDB files the way the server writes them.
//!
//! The server writes the redo log and data files with O_DIRECT; buffered
//! reads of a file another process writes that way can return stale
//! blocks from the page cache. [`DirectFile`] opens with O_DIRECT and reads
//! through an aligned bounce buffer (aligned by slicing, no unsafe code),
//! falling back to buffered reads on file systems that refuse O_DIRECT
//! (tmpfs), which then have no page cache of their own to go stale.

use anyhow::{Context as _, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Alignment of O_DIRECT offsets, lengths and buffers.
pub const ALIGN: usize = 4096;

/// A file opened for O_DIRECT reads.
pub struct DirectFile {
    file: File,
    path: PathBuf,
    direct: bool,
    bounce: Vec<u8>,
}

impl DirectFile {
    /// Opens `path` read-only, with O_DIRECT when the file system allows it.
    pub fn open(path: &Path) -> Result<DirectFile> {
        let direct = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(path);
        let (file, direct) = match direct {
            Ok(f) => (f, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (
                File::open(path).with_context(|| format!("opening {}", path.display()))?,
                false,
            ),
            Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
        };
        Ok(DirectFile {
            file,
            path: path.to_path_buf(),
            direct,
            bounce: Vec::new(),
        })
    }

    /// The file's current size.
    pub fn len(&self) -> Result<u64> {
        Ok(self
            .file
            .metadata()
            .with_context(|| format!("stat {}", self.path.display()))?
            .len())
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fills `out` from `offset`; fails when the file is shorter.
    pub fn read_at(&mut self, offset: u64, out: &mut [u8]) -> Result<()> {
        if !self.direct {
            return self
                .file
                .read_exact_at(out, offset)
                .with_context(|| format!("reading {} at {offset}", self.path.display()));
        }
        let start = offset - offset % ALIGN as u64;
        let end = (offset + out.len() as u64).div_ceil(ALIGN as u64) * ALIGN as u64;
        let n = (end - start) as usize;
        if self.bounce.len() < n + ALIGN {
            self.bounce = vec![0u8; n + ALIGN];
        }
        let skew = self.bounce.as_ptr().align_offset(ALIGN);
        let buf = &mut self.bounce[skew..skew + n];
        let mut got = 0usize;
        while got < n {
            let r = self
                .file
                .read_at(&mut buf[got..], start + got as u64)
                .with_context(|| format!("reading {} at {}", self.path.display(), start))?;
            if r == 0 {
                break;
            }
            got += r;
        }
        let skip = (offset - start) as usize;
        if got < skip + out.len() {
            anyhow::bail!(
                "{}: short read at {offset} ({} of {} bytes)",
                self.path.display(),
                got.saturating_sub(skip),
                out.len()
            );
        }
        out.copy_from_slice(&buf[skip..skip + out.len()]);
        Ok(())
    }
}
