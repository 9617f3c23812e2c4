//! The mutator: turns a corpus input into a new one with a few stacked random edits.
//!
//! Edits are byte-level (flip a bit, set a byte, delete, insert, duplicate or repeat a
//! range, truncate), structure-aware for the line-oriented text every target reads
//! (duplicate, delete or swap a line; replace a word or a number), and corpus-level
//! (splice in part of another input). Tokens come from [`INTERESTING`] (edge-case numbers,
//! punctuation, BOM, multi-byte and invalid UTF-8) and from the target's own dictionary of
//! keywords, so a mutation of a valid file often stays close to valid and reaches the
//! checks behind the syntax.

use crate::rng::Rng;

/// Tokens every target gets: numbers at the edges of integer and float ranges, empty and
/// special strings, TOML/JSON/CSV punctuation, whitespace and awkward Unicode.
pub const INTERESTING: &[&[u8]] = &[
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999999999999999999999",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775808",
    b"4294967295",
    b"4294967296",
    b"2147483648",
    b"65535",
    b"-1",
    b"0",
    b"-0",
    b"1",
    b"0.0",
    b"1e309",
    b"-1e309",
    b"1e-400",
    b"5e-324",
    b"1.7976931348623157e308",
    b"NaN",
    b"nan",
    b"inf",
    b"-inf",
    b"+inf",
    b"1_000",
    b"0x10",
    b"1.",
    b".5",
    b"1e3",
    b"\"\"",
    b"''",
    b"\"",
    b"'",
    b"\\",
    b"\\u0000",
    b"\\uD800",
    b"#",
    b"=",
    b":",
    b",",
    b".",
    b"[",
    b"]",
    b"{",
    b"}",
    b"[]",
    b"{}",
    b"[[feature]]",
    b"true",
    b"null",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b" ",
    b"\0",
    "\u{FEFF}".as_bytes(),
    "\u{200B}".as_bytes(),
    "é".as_bytes(),
    "日本".as_bytes(),
    "🦀".as_bytes(),
    "\u{10FFFF}".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
];

/// Single bytes worth trying in place of another.
const BYTES: &[u8] = b"\0\x01\x7f\x80\xff\n\r\t \"'#=,.:-+_[]{}0189aeE";

/// Stacks 1 to 16 random edits on `base` (most often 1 or 2), drawing tokens from
/// [`INTERESTING`] and `dictionary` and splice material from `pool`; the result is at most
/// `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    base: &[u8],
    pool: &[Vec<u8>],
    dictionary: &[&str],
    max_len: usize,
) -> Vec<u8> {
    let mut data = base.to_vec();
    for _ in 0..rng.small(16) {
        edit(rng, &mut data, pool, dictionary);
        data.truncate(max_len);
    }
    data
}

fn token<'a>(rng: &mut Rng, dictionary: &[&'a str]) -> &'a [u8] {
    if !dictionary.is_empty() && rng.one_in(2) {
        rng.pick(dictionary).as_bytes()
    } else {
        rng.pick::<&[u8]>(INTERESTING)
    }
}

/// A random range of `data` of length at least 1 (for non-empty data), short ones likelier.
fn range(rng: &mut Rng, data: &[u8]) -> (usize, usize) {
    let start = rng.below(data.len());
    let len = rng.small((data.len() - start).max(1));
    (start, (start + len).min(data.len()))
}

fn edit(rng: &mut Rng, data: &mut Vec<u8>, pool: &[Vec<u8>], dictionary: &[&str]) {
    let pos = rng.below(data.len() + 1);
    match rng.below(15) {
        0 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] ^= 1 << rng.below(8);
        }
        1 if !data.is_empty() => {
            let i = rng.below(data.len());
            data[i] = if rng.one_in(2) {
                *rng.pick(BYTES)
            } else {
                rng.next_u64() as u8
            };
        }
        2 if !data.is_empty() => {
            let (a, b) = range(rng, data);
            data.drain(a..b);
        }
        3 => {
            let bytes: Vec<u8> = (0..rng.small(8))
                .map(|_| {
                    if rng.one_in(4) {
                        rng.next_u64() as u8
                    } else {
                        b' ' + rng.below(95) as u8
                    }
                })
                .collect();
            data.splice(pos..pos, bytes);
        }
        4 if !data.is_empty() => {
            let (a, b) = range(rng, data);
            let copy = data[a..b].to_vec();
            let at = rng.below(data.len() + 1);
            data.splice(at..at, copy);
        }
        5 if !pool.is_empty() => {
            let other = rng.pick(pool);
            if other.is_empty() {
                return;
            }
            let (a, b) = range(rng, other);
            if rng.one_in(2) {
                data.splice(pos..pos, other[a..b].iter().copied());
            } else {
                data.truncate(pos);
                data.extend_from_slice(&other[a..]);
            }
        }
        6 | 7 => {
            let t = token(rng, dictionary);
            data.splice(pos..pos, t.iter().copied());
        }
        8 => {
            let t = token(rng, dictionary);
            replace_word(rng, data, t);
        }
        9 => replace_number(rng, data),
        10 => {
            // Long strings and deep nesting: one short range or token, repeated.
            let unit: Vec<u8> = if data.is_empty() || rng.one_in(2) {
                token(rng, dictionary).to_vec()
            } else {
                let (a, b) = range(rng, data);
                data[a..(b.min(a + 8))].to_vec()
            };
            let bits = 1 + rng.below(13);
            let times = 1 + rng.below(1 << bits);
            let repeated = unit.repeat(times);
            data.splice(pos..pos, repeated);
        }
        11 | 12 => line_edit(rng, data),
        13 => data.truncate(pos),
        _ => {
            let t = rng.pick(INTERESTING);
            data.splice(pos..pos, t.iter().copied());
        }
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.'
}

/// Overwrites the word (run of letters, digits, `_`, `-`, `.`) around a random position.
fn replace_word(rng: &mut Rng, data: &mut Vec<u8>, with: &[u8]) {
    if data.is_empty() {
        data.extend_from_slice(with);
        return;
    }
    let mut a = rng.below(data.len());
    let mut b = a;
    while a > 0 && is_word(data[a - 1]) {
        a -= 1;
    }
    while b < data.len() && is_word(data[b]) {
        b += 1;
    }
    data.splice(a..b, with.iter().copied());
}

/// Replaces a random run of digits with an edge-case number or a neighbour of itself.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    if starts.is_empty() {
        return;
    }
    let a = *rng.pick(&starts);
    let b = (a..data.len())
        .find(|&i| !data[i].is_ascii_digit())
        .unwrap_or(data.len());
    let old: u128 = std::str::from_utf8(&data[a..b])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let new: Vec<u8> = match rng.below(6) {
        0 => old.wrapping_add(1).to_string().into_bytes(),
        1 => old.wrapping_sub(1).to_string().into_bytes(),
        2 => old
            .wrapping_mul(1 << rng.below(64))
            .to_string()
            .into_bytes(),
        3 => rng.next_u64().to_string().into_bytes(),
        4 => (rng.next_u64() >> rng.below(64)).to_string().into_bytes(),
        _ => rng.pick(INTERESTING).to_vec(),
    };
    data.splice(a..b, new);
}

/// Duplicates, deletes or swaps whole lines.
fn line_edit(rng: &mut Rng, data: &mut Vec<u8>) {
    let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    let i = rng.below(lines.len());
    match rng.below(3) {
        0 => {
            let copy = lines[i].clone();
            let at = rng.below(lines.len() + 1);
            lines.insert(at, copy);
        }
        1 if lines.len() > 1 => {
            lines.remove(i);
        }
        _ => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
    }
    *data = lines.join(&b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_bounded_and_varied() {
        let base = b"dim = 16\n[[feature]]\nname = \"a\"\ncardinality = 10\n".to_vec();
        let pool = vec![base.clone(), b"0 1\n2 3\n".to_vec()];
        let run = |i| mutate(&mut Rng::for_input(3, "t", i), &base, &pool, &["qr"], 256);
        let a: Vec<Vec<u8>> = (0..500).map(run).collect();
        let b: Vec<Vec<u8>> = (0..500).map(run).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|m| m.len() <= 256));
        let distinct: std::collections::HashSet<&Vec<u8>> = a.iter().collect();
        assert!(distinct.len() > 400, "{}", distinct.len());
        assert!(a.iter().any(|m| m.windows(2).any(|w| w == b"qr")));
        assert!(a.iter().any(|m| std::str::from_utf8(m).is_err()));
    }

    #[test]
    fn number_and_word_replacements_hit_their_target() {
        let mut r = Rng::new(5);
        let mut d = b"m = 40".to_vec();
        replace_number(&mut r, &mut d);
        assert!(d.starts_with(b"m = ") && d != b"m = 40", "{d:?}");
        let results: std::collections::HashSet<Vec<u8>> = (0..64)
            .map(|seed| {
                let mut d = b"scheme = \"qr\"".to_vec();
                replace_word(&mut Rng::new(seed), &mut d, b"crt");
                d
            })
            .collect();
        assert!(results.contains(b"crt = \"qr\"".as_slice()));
        assert!(results.contains(b"scheme = \"crt\"".as_slice()));
        assert!(results.iter().all(|d| d.windows(3).any(|w| w == b"crt")));
    }
}
