//! Hexadecimal text of bytes: digests and keys in manifests and
//! checkpoints (lowercase), binary values in SQL literals (uppercase,
//! through [`crate::sql`]).

/// Lowercase hexadecimal of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    encode_with(bytes, b"0123456789abcdef")
}

/// Uppercase hexadecimal of `bytes`.
pub fn encode_upper(bytes: &[u8]) -> String {
    encode_with(bytes, b"0123456789ABCDEF")
}

fn encode_with(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(digits[usize::from(b >> 4)]));
        s.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    s
}

/// The bytes of hexadecimal text (either case); `None` when it is not
/// whole bytes of hex digits.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    // from_str_radix alone would take a sign ("+1").
    if !s.len().is_multiple_of(2) || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let b = [0u8, 0x0f, 0xa5, 0xff];
        assert_eq!(encode(&b), "000fa5ff");
        assert_eq!(encode_upper(&b), "000FA5FF");
        assert_eq!(decode("000fA5FF").as_deref(), Some(&b[..]));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode("+1"), None);
    }
}
