//! Value parsers for numeric flags: errors in the user's words ("expected a whole number
//! from 1 to 4294967295, found 'x'"), never Rust's ("invalid digit found in string").

/// Integer types a flag can hold, with the bounds shown in errors.
pub trait Whole: Copy + TryFrom<u128> + Send + Sync + 'static {
    /// The largest value, widened.
    const MAX: u128;
}

impl Whole for u32 {
    const MAX: u128 = u32::MAX as u128;
}
impl Whole for u64 {
    const MAX: u128 = u64::MAX as u128;
}
impl Whole for usize {
    const MAX: u128 = usize::MAX as u128;
}

/// Parses a whole number in `[min, T::MAX]` (underscores allowed as digit separators).
fn whole_in<T: Whole>(s: &str, min: u128) -> Result<T, String> {
    let max = T::MAX;
    let expected = format!("expected a whole number from {min} to {max}");
    let digits: String = s.trim().chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{expected}, found '{s}'"));
    }
    let value: u128 = digits
        .parse()
        .map_err(|_| format!("{expected}, found '{s}', which is too large"))?;
    if value < min {
        return Err(format!("{expected}, found {value}"));
    }
    T::try_from(value).map_err(|_| format!("{expected}, found {value}, which is too large"))
}

/// A whole number ≥ 0.
pub fn whole<T: Whole>(s: &str) -> Result<T, String> {
    whole_in(s, 0)
}

/// A whole number ≥ 1.
pub fn positive<T: Whole>(s: &str) -> Result<T, String> {
    whole_in(s, 1)
}

/// A byte size such as `4GiB` or `512MB` (see [`embplan::size::parse_bytes`]).
pub fn byte_size(s: &str) -> Result<u64, String> {
    embplan::size::parse_bytes(s)
        .map(|b| b.0)
        .map_err(|e| e.to_string())
}

/// Hidden layer widths of an MLP, parsed as one value (an empty list is no hidden layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Widths(pub Vec<usize>);

/// Comma-separated positive layer widths, e.g. `64,32`; empty for no hidden layer.
pub fn widths(s: &str) -> Result<Widths, String> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| positive::<usize>(w).map_err(|e| format!("layer widths: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Widths)
}

/// A count that must be at least 1, typed so (`--epochs`, `--batch`, `--threads`, rows).
pub fn count(s: &str) -> Result<std::num::NonZeroUsize, String> {
    positive::<usize>(s).map(|n| std::num::NonZeroUsize::new(n).expect("positive"))
}

/// A u64 that must be at least 1, typed so (`--repeats`).
pub fn count_u64(s: &str) -> Result<std::num::NonZeroU64, String> {
    positive::<u64>(s).map(|n| std::num::NonZeroU64::new(n).expect("positive"))
}

/// A finite decimal number, e.g. `0.05` or `1e-3`.
pub fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("expected a number such as 0.05 or 1e-3, found '{s}'"))
}

/// A finite decimal number for an f32 setting.
pub fn number_f32(s: &str) -> Result<f32, String> {
    let v = number(s)?;
    let narrowed = v as f32;
    if narrowed.is_finite() {
        Ok(narrowed)
    } else {
        Err(format!(
            "expected a number such as 0.05 or 1e-3, found '{s}', which is too large"
        ))
    }
}

/// A duration: a number with s, m or h (`90s`, `10m`, `1.5h`), at least one second.
pub fn duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let scale = match unit.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{s}': expected a duration such as 90s, 10m or 1h")),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("'{s}': expected a duration such as 90s, 10m or 1h"))?;
    let seconds = value * scale;
    if !(1.0..=1e9).contains(&seconds) {
        return Err(format!("'{s}': expected a duration of at least 1s"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_explained_in_user_words() {
        assert_eq!(positive::<u64>("1_000"), Ok(1000));
        assert_eq!(whole::<u32>("0"), Ok(0));
        assert_eq!(
            positive::<u64>("0").unwrap_err(),
            "expected a whole number from 1 to 18446744073709551615, found 0"
        );
        assert_eq!(
            whole::<u32>("4294967296").unwrap_err(),
            "expected a whole number from 0 to 4294967295, found 4294967296, which is too large"
        );
        let e = positive::<u64>("99999999999999999999999999999999999999999").unwrap_err();
        assert!(e.ends_with("which is too large"), "{e}");
        assert!(positive::<usize>("x").unwrap_err().ends_with("found 'x'"));
        assert!(positive::<usize>("-1").unwrap_err().ends_with("found '-1'"));
        assert!(
            positive::<usize>("1.5")
                .unwrap_err()
                .ends_with("found '1.5'")
        );
        assert_eq!(number("1e-3"), Ok(0.001));
        assert!(number("nan").is_err() && number("inf").is_err() && number("x").is_err());
        assert!(number_f32("1e300").is_err());
        for e in [positive::<u64>("x").unwrap_err(), number("x").unwrap_err()] {
            assert!(
                !e.contains("invalid digit") && !e.contains("float literal"),
                "{e}"
            );
        }
    }

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(duration("90s"), Ok(std::time::Duration::from_secs(90)));
        assert_eq!(duration("10m"), Ok(std::time::Duration::from_secs(600)));
        assert_eq!(duration(" 1.5h "), Ok(std::time::Duration::from_secs(5400)));
        for bad in ["10", "5d", "m", "-3s", "0.5s", "nans"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
