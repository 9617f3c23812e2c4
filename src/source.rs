//! Input text with its origin, so errors can name `file:line:col`.

use std::fmt;
use std::ops::Range;

/// A named input text (a file, or `<stdin>`/`<inline>`), used to place errors.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// How the input is named in errors (usually its path).
    pub origin: &'a str,
    /// The full text.
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// Wraps `text` read from `origin`.
    pub fn new(origin: &'a str, text: &'a str) -> Self {
        Source { origin, text }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    /// An error located at the start of `span`: `origin:line:col: message`.
    pub fn error_at(
        &self,
        span: Option<Range<usize>>,
        message: impl fmt::Display,
    ) -> anyhow::Error {
        match span {
            Some(span) => {
                let (line, col) = self.line_col(span.start);
                anyhow::anyhow!("{}:{line}:{col}: {message}", self.origin)
            }
            None => anyhow::anyhow!("{}: {message}", self.origin),
        }
    }

    /// Turns a `toml` deserialization error into a located one, with a did-you-mean hint.
    pub fn toml_error(&self, err: &toml::de::Error) -> anyhow::Error {
        let message = in_user_words(err.message().trim_end());
        let hint = suggestion_for_serde_message(&message)
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        self.error_at(err.span(), format!("{message}{hint}"))
    }
}

/// Rewrites serde's Rust-typed wording ("invalid value: integer `-1`, expected u32") in the
/// user's terms ("expected a whole number from 0 to 4294967295, found -1").
pub fn in_user_words(message: &str) -> String {
    const TYPES: [(&str, &str); 8] = [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number from 0 to 18446744073709551615"),
        ("usize", "a whole number from 0 to 18446744073709551615"),
        ("i64", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
    ];
    let Some((found, expected)) = message.split_once(", expected ") else {
        return message.to_string();
    };
    let expected = TYPES
        .iter()
        .find(|(ty, _)| *ty == expected.trim())
        .map_or(expected, |(_, words)| words);
    // "invalid value: integer `-1`" / "invalid type: floating point `4.5`" / "invalid type:
    // string \"x\"": keep the value, drop the Rust category.
    let value = found.split_once(": ").map(|(_, v)| v).map(|v| {
        v.trim_start_matches("integer ")
            .trim_start_matches("floating point ")
            .trim_start_matches("string ")
            .trim_matches('`')
    });
    match value {
        Some(v) if found.starts_with("invalid ") => format!("expected {expected}, found {v}"),
        _ => format!("{found}, expected {expected}"),
    }
}

/// The 64-bit FNV-1a hash of `bytes`: a stable fingerprint (same bytes, same value, on
/// every platform and version), not a cryptographic one.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod user_words_tests {
    use super::in_user_words;

    #[test]
    fn serde_type_names_become_words() {
        assert_eq!(
            in_user_words("invalid value: integer `-1`, expected u32"),
            "expected a whole number from 0 to 4294967295, found -1"
        );
        assert_eq!(
            in_user_words("invalid type: floating point `4.5`, expected u32"),
            "expected a whole number from 0 to 4294967295, found 4.5"
        );
        assert_eq!(
            in_user_words("invalid type: string \"x\", expected f64"),
            "expected a number, found \"x\""
        );
        assert_eq!(
            in_user_words("unknown field `dimm`, expected one of `dim`"),
            "unknown field `dimm`, expected one of `dim`"
        );
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely misspelling.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_ascii_lowercase();
    let len = lower.chars().count();
    let max_distance = |c: &str| (c.len().max(3) / 3).max(1) + 1;
    candidates
        .into_iter()
        // The distance is at least the difference in length: skipping candidates whose
        // length rules them out keeps a huge word (a binary file's "header") from costing
        // its length times every candidate's.
        .filter(|c| len.abs_diff(c.chars().count()) <= max_distance(c))
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|&(d, c)| d <= max_distance(c) && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// ` (did you mean 'x'?)` for the candidate closest to `word`, or an empty string.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" style messages, the closest expected word.
fn suggestion_for_serde_message(message: &str) -> Option<String> {
    let first_tick = message.find('`')?;
    let expected_at = message.find("expected")?;
    // Only a word quoted before "expected" is the user's (TOML syntax errors such as
    // "key with no value, expected `=`" quote only what was expected).
    if first_tick > expected_at {
        return None;
    }
    let rest = &message[first_tick + 1..];
    let word = &rest[..rest.find('`')?];
    let expected = &message[expected_at..];
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    closest(word, candidates.iter().copied()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let s = Source::new("x.toml", "a = 1\nbb = 2\n");
        assert_eq!(s.line_col(0), (1, 1));
        assert_eq!(s.line_col(6), (2, 1));
        assert_eq!(s.line_col(9), (2, 4));
    }

    #[test]
    fn suggests_closest_word() {
        assert_eq!(
            closest("cardnality", ["name", "cardinality", "dim"]),
            Some("cardinality")
        );
        assert_eq!(
            closest("adagard", ["adagrad", "adam", "sgd"]),
            Some("adagrad")
        );
        assert_eq!(closest("zzzzzz", ["name", "dim"]), None);
        assert_eq!(
            closest("cardinalityy", ["cardinality"]),
            Some("cardinality")
        );
        let msg = "unknown field `cardnality`, expected one of `name`, `cardinality`";
        assert_eq!(
            suggestion_for_serde_message(msg).as_deref(),
            Some("cardinality")
        );
    }

    #[test]
    fn syntax_errors_get_no_did_you_mean_hint() {
        for message in [
            "key with no value, expected `=`",
            "unclosed array table, expected `]]`",
            "invalid unquoted key, expected letters, numbers, `-`, `_`",
        ] {
            assert_eq!(suggestion_for_serde_message(message), None, "{message}");
        }
        let src = Source::new("s.toml", "[[feature]\nname = \"a\"\n");
        let err = toml::from_str::<toml::Table>(src.text).unwrap_err();
        let e = src.toml_error(&err).to_string();
        assert!(
            e.starts_with("s.toml:1:") && !e.contains("did you mean"),
            "{e}"
        );
    }

    #[test]
    fn closest_skips_words_far_longer_than_any_candidate() {
        let huge = "x".repeat(1_000_000);
        let candidates: Vec<String> = (0..100).map(|i| format!("feature{i}")).collect();
        let start = std::time::Instant::now();
        assert_eq!(closest(&huge, candidates.iter().map(String::as_str)), None);
        // Comparing the word with every candidate would take seconds; the length bound, a
        // millisecond.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }
}
