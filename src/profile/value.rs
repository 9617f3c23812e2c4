//! Raw categorical values packed into one 128-bit key, so counting never allocates.
//!
//! A value is either an **integer** (a canonical decimal string such as `31`, an integer
//! column of a `.npy` or Parquet file, or a Criteo hexadecimal id) or an opaque **string**.
//! The same integer read from any format is the same value: `31` in a TSV file, `31` in an
//! int32 or int64 array and `1f` in Criteo text are one value, so every format of the same
//! data gives the same vocabulary. A string that merely looks like a number in another
//! spelling (`031`, `+31`, `31.0`) stays a string: distinct strings stay distinct.
//!
//! Layout of a key (the top byte is the tag):
//! - tag 0..=15: a string of that many bytes, stored in the low bytes;
//! - tag [`INT_TAG`]: an integer in 0..2^64, in the low 8 bytes;
//! - tag [`LONG_TAG`]: a string of more than 15 bytes, stored in the batch's arena at
//!   the offset in the low 8 bytes, with its length in the next 4.

use std::fmt::Write as _;

/// Tag of an integer value.
pub const INT_TAG: u8 = 0x80;
/// Tag of a string longer than [`MAX_INLINE`] bytes, held in an arena.
pub const LONG_TAG: u8 = 0xFE;
/// The longest string stored inside the key itself.
pub const MAX_INLINE: usize = 15;

/// The key of a value as it is counted: inline, integer, or a long string's own bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// An integer, or a short string packed into the key ([`pack_str`]).
    Packed(u128),
    /// A string of more than [`MAX_INLINE`] bytes.
    Long(Box<[u8]>),
}

/// The tag byte of a packed key.
pub fn tag(key: u128) -> u8 {
    (key >> 120) as u8
}

/// The key of an integer value.
pub fn pack_int(v: u64) -> u128 {
    (u128::from(INT_TAG) << 120) | u128::from(v)
}

/// The key of a string of at most [`MAX_INLINE`] bytes, or `None` if it is longer.
pub fn pack_str(bytes: &[u8]) -> Option<u128> {
    if bytes.len() > MAX_INLINE {
        return None;
    }
    let mut buf = [0u8; 16];
    buf[..bytes.len()].copy_from_slice(bytes);
    buf[15] = bytes.len() as u8;
    Some(u128::from_le_bytes(buf))
}

/// The key of a long string stored at `offset..offset + len` of an arena.
pub fn pack_long(offset: usize, len: usize) -> u128 {
    (u128::from(LONG_TAG) << 120) | ((len as u128) << 64) | offset as u128
}

/// Where a [`LONG_TAG`] key's bytes lie in its arena.
pub fn long_range(key: u128) -> std::ops::Range<usize> {
    let offset = key as u64 as usize;
    let len = (key >> 64) as u32 as usize;
    offset..offset + len
}

/// The integer a canonical decimal string spells (`0`, or digits without a leading zero,
/// up to 2^64 − 1); `None` for anything else.
pub fn canonical_int(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 || (bytes[0] == b'0' && bytes.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &b in bytes {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// The key of a text field: an integer if it is a canonical decimal, else a string
/// (inline, or appended to `arena` when longer than [`MAX_INLINE`] bytes).
pub fn pack_text(bytes: &[u8], arena: &mut Vec<u8>) -> u128 {
    if let Some(v) = canonical_int(bytes) {
        return pack_int(v);
    }
    if let Some(k) = pack_str(bytes) {
        return k;
    }
    let offset = arena.len();
    arena.extend_from_slice(bytes);
    pack_long(offset, bytes.len())
}

/// The key of a Criteo categorical field: a hexadecimal id (at most 16 digits, either case)
/// is that integer, as TorchRec's preprocessing reads it; anything else (the empty field,
/// which is a value of its own) is kept as text.
#[inline]
pub fn pack_criteo(bytes: &[u8], arena: &mut Vec<u8>) -> u128 {
    // Criteo's ids are 8 hex digits: one SWAR pass instead of a loop over the bytes.
    if let Ok(eight) = <&[u8; 8]>::try_from(bytes)
        && let Some(v) = hex8(*eight)
    {
        return pack_int(v);
    }
    pack_criteo_other(bytes, arena)
}

/// Every other Criteo field: up to 16 hex digits as an integer, else text. Out of line, so
/// the 8-digit path above stays a few instructions with nothing to save and restore.
#[inline(never)]
fn pack_criteo_other(bytes: &[u8], arena: &mut Vec<u8>) -> u128 {
    if !bytes.is_empty() && bytes.len() <= 16 {
        let mut v: u64 = 0;
        let mut bad = 0u8;
        for &b in bytes {
            let d = HEX_DIGIT[usize::from(b)];
            bad |= d;
            v = (v << 4) | u64::from(d & 15);
        }
        // A non-hex byte maps to 0x80, so one test after the loop covers every byte.
        if bad & 0x80 == 0 {
            return pack_int(v);
        }
    }
    pack_text(bytes, arena)
}

/// Eight hexadecimal digits (either case) as their value, all bytes at once; `None` when
/// any byte is not a hex digit.
///
/// Each byte b is tested in the lanes of one u64: with the high bit clear, b + 0x50 sets it
/// iff b ≥ '0' and b + 0x46 iff b > '9'; with l = b | 0x20 (letters to lower case), l + 0x1F
/// sets it iff l ≥ 'a' and l + 0x19 iff l > 'f' (no lane overflows into the next). A digit's
/// value is its low nibble, plus 9 for letters (bit 6 set); three shifts then pack the
/// eight nibbles, first digit highest.
#[inline]
fn hex8(bytes: [u8; 8]) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x80 * ONES;
    let x = u64::from_be_bytes(bytes);
    if x & HIGH != 0 {
        return None;
    }
    let lower = x | (0x20 * ONES);
    let digit = (x + 0x50 * ONES) & !(x + 0x46 * ONES);
    let letter = (lower + 0x1F * ONES) & !(lower + 0x19 * ONES);
    if (digit | letter) & HIGH != HIGH {
        return None;
    }
    let nibbles = (x & (0x0F * ONES)) + 9 * ((x >> 6) & ONES);
    let pairs = ((nibbles >> 4) | nibbles) & 0x00FF_00FF_00FF_00FF;
    let quads = ((pairs >> 8) | pairs) & 0x0000_FFFF_0000_FFFF;
    Some(((quads >> 16) | quads) & 0xFFFF_FFFF)
}

/// The value of each hexadecimal digit byte; 0x80 for any other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The key of a signed integer (an array or column value): non-negative integers are
/// integer values, negative ones the string of their decimal spelling (as a text file
/// would hold them).
pub fn pack_i64(v: i64) -> u128 {
    if let Ok(u) = u64::try_from(v) {
        pack_int(u)
    } else {
        let mut s = String::with_capacity(20);
        let _ = write!(s, "{v}");
        pack_str(s.as_bytes()).expect("a negative i64 has at most 20 characters")
    }
}

/// Whether a key is the empty string (a missing value).
pub fn is_missing(key: u128) -> bool {
    key == 0
}

/// The text of a packed (non-long) key, as a vocabulary file writes it.
pub fn packed_text(key: u128) -> Vec<u8> {
    let t = tag(key);
    if t == INT_TAG {
        (key as u64).to_string().into_bytes()
    } else {
        let len = usize::from(t).min(MAX_INLINE);
        key.to_le_bytes()[..len].to_vec()
    }
}

/// The text of a value, as a vocabulary file writes it.
pub fn value_text(v: &Value) -> Vec<u8> {
    match v {
        Value::Packed(k) => packed_text(*k),
        Value::Long(b) => b.to_vec(),
    }
}

/// The value a vocabulary file's text names: the inverse of [`value_text`].
pub fn value_of_text(bytes: &[u8]) -> Value {
    if let Some(v) = canonical_int(bytes) {
        return Value::Packed(pack_int(v));
    }
    match pack_str(bytes) {
        Some(k) => Value::Packed(k),
        None => Value::Long(bytes.into()),
    }
}

/// Orders values for tie-breaks: integers by value first, then strings by their bytes.
pub fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let is_int = |v: &Value| matches!(v, Value::Packed(k) if tag(*k) == INT_TAG);
    match (is_int(a), is_int(b)) {
        (true, true) => a.cmp(b),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => value_text(a).cmp(&value_text(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_integer_in_every_spelling_is_one_value() {
        let mut arena = Vec::new();
        assert_eq!(pack_text(b"31", &mut arena), pack_int(31));
        assert_eq!(pack_criteo(b"1f", &mut arena), pack_int(31));
        assert_eq!(pack_criteo(b"0000001F", &mut arena), pack_int(31));
        assert_eq!(pack_i64(31), pack_int(31));
        assert_ne!(pack_text(b"031", &mut arena), pack_int(31));
        assert_eq!(pack_text(b"-5", &mut arena), pack_i64(-5));
        assert_eq!(pack_text(b"", &mut arena), 0);
        assert!(is_missing(pack_criteo(b"", &mut arena)));
        assert_eq!(
            pack_text(b"18446744073709551615", &mut arena),
            pack_int(u64::MAX)
        );
        assert_eq!(
            tag(pack_text(b"18446744073709551616", &mut arena)),
            LONG_TAG
        );
        assert!(arena.len() == 20);
    }

    proptest! {
        /// The SWAR parse of eight bytes agrees with the byte loop, hex or not.
        #[test]
        fn hex8_matches_the_byte_loop(bytes in proptest::array::uniform8(prop_oneof![
            0u8..=255,
            prop_oneof![Just(b'0'), Just(b'9'), Just(b'a'), Just(b'f'), Just(b'A'), Just(b'F'), Just(b'g'), Just(b'/'), Just(b':'), Just(b'@'), Just(b'`')],
        ])) {
            let expected = bytes
                .iter()
                .try_fold(0u64, |v, &b| (b as char).to_digit(16).map(|d| (v << 4) | u64::from(d)));
            prop_assert_eq!(hex8(bytes), expected);
        }

        #[test]
        fn text_round_trips(s in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut arena = Vec::new();
            let key = pack_text(&s, &mut arena);
            let value = if tag(key) == LONG_TAG {
                Value::Long(arena[long_range(key)].into())
            } else {
                Value::Packed(key)
            };
            prop_assert_eq!(value_text(&value), s.clone());
            prop_assert_eq!(value_of_text(&s), value);
        }
    }
}
