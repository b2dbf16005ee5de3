//! Authenticated encryption of repository files.
//!
//! Every file of an encrypted backup set is sealed on its own with
//! XChaCha20-Poly1305 in the STREAM construction (Hoang, Reyhanitabar,
//! Rogaway, Vizár): the plaintext is cut into 64 KiB segments, each sealed
//! with the nonce `prefix(19 random bytes) || counter(4, big-endian) ||
//! last(1)`, and the file's path inside the set is the associated data. A
//! flipped byte, a reordered, dropped or appended segment, a truncated file
//! or a file moved to another name all fail to open.
//!
//! The key comes from `--encrypt-key-file`: 32 raw bytes or 64 hex digits
//! are the key itself; anything else is a passphrase stretched with
//! Argon2id and a per-backup random salt. The key is never written to the
//! repository: the manifest holds only the salt and a short check value
//! (a SHA-256 of the derived key under a fixed label), so a wrong key is
//! reported before any file is read.

use anyhow::{bail, Context as _, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::Path;

/// Plaintext bytes per sealed segment.
pub const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"OXKENC01";
const PREFIX: usize = 19;
/// Bytes before the first segment.
pub const HEADER: usize = MAGIC.len() + PREFIX;

/// How a backup set is encrypted (stored in the manifest; holds no secret).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Encryption {
    /// `xchacha20poly1305-stream64k`.
    pub cipher: String,
    /// `raw` (the key file holds the key) or `argon2id` (a passphrase).
    pub kdf: Kdf,
    /// Hex salt for `argon2id`.
    pub salt: Option<String>,
    /// Hex check value of the derived key (first 16 bytes of a SHA-256).
    pub key_check: String,
}

/// How the key of a set comes from its key file (written as `raw` or
/// `argon2id`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kdf {
    /// The file holds the key.
    Raw,
    /// The file holds a passphrase, stretched with Argon2id.
    Argon2id,
}

/// A 256-bit key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(***)")
    }
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    Ok(b)
}

fn key_check(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(b"oxkit-backup key check v1");
    h.update(key);
    oxkit::hex::encode(&h.finalize()[..16])
}

enum Material {
    Raw([u8; 32]),
    Passphrase(Vec<u8>),
}

fn read_material(path: &Path) -> Result<Material> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("--encrypt-key-file {}: cannot read it", path.display()))?;
    if bytes.len() == 32 {
        let mut k = [0u8; 32];
        k.copy_from_slice(&bytes);
        return Ok(Material::Raw(k));
    }
    let text = String::from_utf8_lossy(&bytes);
    let t = text.trim();
    if t.len() == 64 {
        if let Some(v) = oxkit::hex::decode(t) {
            let mut k = [0u8; 32];
            k.copy_from_slice(&v);
            return Ok(Material::Raw(k));
        }
    }
    let pass = t.as_bytes().to_vec();
    if pass.len() < 8 {
        bail!(
            "--encrypt-key-file {}: a passphrase must have at least 8 characters (or give 32 raw bytes / 64 hex digits)",
            path.display()
        );
    }
    Ok(Material::Passphrase(pass))
}

fn argon(pass: &[u8], salt: &[u8]) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    argon2::Argon2::default()
        .hash_password_into(pass, salt, &mut out)
        .map_err(|e| anyhow::anyhow!("deriving the key from the passphrase: {e}"))?;
    Ok(out)
}

impl Key {
    /// Reads the key file for a new backup; returns the key and what the
    /// manifest records about it.
    pub fn for_new_backup(path: &Path) -> Result<(Key, Encryption)> {
        let (k, kdf, salt) = match read_material(path)? {
            Material::Raw(k) => (k, Kdf::Raw, None),
            Material::Passphrase(p) => {
                let salt = random_bytes(16)?;
                (
                    argon(&p, &salt)?,
                    Kdf::Argon2id,
                    Some(oxkit::hex::encode(&salt)),
                )
            }
        };
        Ok((
            Key(k),
            Encryption {
                cipher: "xchacha20poly1305-stream64k".into(),
                kdf,
                salt,
                key_check: key_check(&k),
            },
        ))
    }

    /// Reads the key file for an existing backup and checks it is the
    /// right one.
    pub fn for_existing(path: Option<&Path>, enc: &Encryption, what: &str) -> Result<Key> {
        let Some(path) = path else {
            bail!("{what} is encrypted: give its key with --encrypt-key-file");
        };
        let k = match (read_material(path)?, enc.kdf) {
            (Material::Raw(k), Kdf::Raw) => k,
            (Material::Passphrase(p), Kdf::Argon2id) => {
                let salt = enc
                    .salt
                    .as_deref()
                    .and_then(oxkit::hex::decode)
                    .context("the manifest's salt is damaged")?;
                argon(&p, &salt)?
            }
            (Material::Raw(_), _) => bail!(
                "wrong key: {what} was encrypted with a passphrase, but {} holds a raw key",
                path.display()
            ),
            (Material::Passphrase(_), _) => bail!(
                "wrong key: {what} was encrypted with a raw 256-bit key, but {} holds a passphrase",
                path.display()
            ),
        };
        if key_check(&k) != enc.key_check {
            bail!(
                "wrong key: {} does not decrypt {what} (the key check in its manifest does not match)",
                path.display()
            );
        }
        Ok(Key(k))
    }

    /// The key of set `m` from `path`, when the set is encrypted.
    pub fn for_set(m: &crate::manifest::Manifest, path: Option<&Path>) -> Result<Option<Key>> {
        m.encryption
            .as_ref()
            .map(|e| Key::for_existing(path, e, &format!("backup {}", m.id)))
            .transpose()
    }

    /// Key material for a fresh key file (tests, the demo).
    pub fn check_value(&self) -> String {
        key_check(&self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

fn nonce(prefix: &[u8], counter: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&counter.to_be_bytes());
    n[23] = u8::from(last);
    n.into()
}

/// Seals what is written into `inner`; [`EncWriter::finish`] seals the last
/// segment and must be called.
pub struct EncWriter<W: Write> {
    inner: W,
    cipher: XChaCha20Poly1305,
    prefix: Vec<u8>,
    counter: u32,
    buf: Vec<u8>,
    aad: Vec<u8>,
}

impl<W: Write> EncWriter<W> {
    /// Starts a sealed file whose associated data is `aad` (its path).
    pub fn new(mut inner: W, key: &Key, aad: &str) -> Result<EncWriter<W>> {
        let prefix = random_bytes(PREFIX)?;
        inner.write_all(MAGIC)?;
        inner.write_all(&prefix)?;
        Ok(EncWriter {
            inner,
            cipher: key.cipher(),
            prefix,
            counter: 0,
            buf: Vec::with_capacity(SEGMENT * 2),
            aad: aad.as_bytes().to_vec(),
        })
    }

    fn seal(&mut self, n: usize, last: bool) -> io::Result<()> {
        let nonce = nonce(&self.prefix, self.counter, last);
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &self.buf[..n],
                    aad: &self.aad,
                },
            )
            .map_err(|_| io::Error::other("encryption failed"))?;
        self.inner.write_all(&ct)?;
        self.buf.drain(..n);
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("file too large to encrypt (2^32 segments)"))?;
        Ok(())
    }

    /// Seals the last segment and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let n = self.buf.len();
        self.seal(n, true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        // Strictly more than a segment: the last one is sealed by finish.
        while self.buf.len() > SEGMENT {
            self.seal(SEGMENT, false)?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a sealed file held in memory, segment by segment.
pub struct DecReader {
    data: Vec<u8>,
    pos: usize,
    cipher: XChaCha20Poly1305,
    prefix: Vec<u8>,
    counter: u32,
    out: Vec<u8>,
    out_pos: usize,
    done: bool,
    aad: Vec<u8>,
    name: String,
}

impl DecReader {
    /// `data` is the whole stored file; `aad` its path in the set.
    pub fn new(data: Vec<u8>, key: &Key, aad: &str) -> Result<DecReader> {
        if data.len() < HEADER + TAG || &data[..MAGIC.len()] != MAGIC {
            bail!("{aad}: not an encrypted oxkit file (bad header or truncated)");
        }
        Ok(DecReader {
            prefix: data[MAGIC.len()..HEADER].to_vec(),
            pos: HEADER,
            data,
            cipher: key.cipher(),
            counter: 0,
            out: Vec::new(),
            out_pos: 0,
            done: false,
            aad: aad.as_bytes().to_vec(),
            name: aad.to_string(),
        })
    }

    fn next_segment(&mut self) -> io::Result<()> {
        let rest = self.data.len() - self.pos;
        let seg = SEGMENT + TAG;
        let (n, last) = if rest <= seg {
            (rest, true)
        } else {
            (seg, false)
        };
        let nonce = nonce(&self.prefix, self.counter, last);
        let pt = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &self.data[self.pos..self.pos + n],
                    aad: &self.aad,
                },
            )
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: decryption failed at segment {} (the file was altered, truncated or renamed, or the key is wrong)",
                        self.name, self.counter
                    ),
                )
            })?;
        self.pos += n;
        self.counter += 1;
        self.out = pt;
        self.out_pos = 0;
        self.done = last;
        Ok(())
    }
}

impl Read for DecReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos >= self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.next_segment()?;
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key([7u8; 32])
    }

    fn seal(data: &[u8], aad: &str) -> Vec<u8> {
        let mut w = EncWriter::new(Vec::new(), &key(), aad).expect("new");
        for c in data.chunks(1000) {
            w.write_all(c).expect("write");
        }
        w.finish().expect("finish")
    }

    fn open(data: Vec<u8>, aad: &str) -> io::Result<Vec<u8>> {
        let mut r = DecReader::new(data, &key(), aad).map_err(io::Error::other)?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn kdf_words_are_unchanged() {
        for (k, word) in [(Kdf::Raw, "\"raw\""), (Kdf::Argon2id, "\"argon2id\"")] {
            assert_eq!(serde_json::to_string(&k).expect("json"), word);
            assert_eq!(serde_json::from_str::<Kdf>(word).expect("parse"), k);
        }
    }

    #[test]
    fn round_trips_any_size() {
        for n in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
            let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
            let sealed = seal(&data, "a");
            assert_eq!(open(sealed, "a").expect("open"), data, "{n}");
        }
    }

    #[test]
    fn tamper_truncate_rename_fail() {
        let data = vec![1u8; 2 * SEGMENT + 5];
        let sealed = seal(&data, "a");
        let mut bad = sealed.clone();
        bad[HEADER + 10] ^= 1;
        assert!(open(bad, "a").is_err());
        assert!(open(sealed[..HEADER + SEGMENT + TAG].to_vec(), "a").is_err());
        assert!(open(sealed.clone(), "b").is_err());
        let k2 = Key([8u8; 32]);
        let mut r = DecReader::new(sealed, &k2, "a").expect("header");
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
    }
}
