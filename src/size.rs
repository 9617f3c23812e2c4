//! Byte sizes in and out: exact parsing of SI and IEC units, IEC formatting.
//!
//! Parsing uses integer arithmetic only: `1.5 TiB` is 1.5 × 2^40 computed as
//! 15 × 2^40 / 10, and a fractional result that is not a whole number of bytes
//! is rejected rather than rounded.

use std::fmt;

/// A byte count. Exact; arithmetic on it is checked by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

/// The units `parse_bytes` accepts, for error messages and help text.
pub const ACCEPTED_UNITS: &str = "B, kB/KB, MB, GB, TB, PB, EB (powers of 1000) or KiB, MiB, GiB, TiB, PiB, EiB (powers of 1024)";

/// Why a byte size did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError {
    input: String,
    why: String,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quote at most 40 characters: a runaway value should not flood the terminal.
        let shown: String = self.input.chars().take(40).collect();
        let more = if self.input.chars().count() > 40 {
            "…"
        } else {
            ""
        };
        write!(
            f,
            "invalid byte size '{shown}{more}': {}; expected a number and a unit such as 4GiB, 512MB or '1.5 TiB' (accepted units: {})",
            self.why, ACCEPTED_UNITS
        )
    }
}

impl std::error::Error for SizeError {}

fn unit_multiplier(unit: &str) -> Option<u128> {
    let u = unit.to_ascii_lowercase();
    let m: u128 = match u.as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "pb" => 1_000_000_000_000_000,
        "eb" => 1_000_000_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "pib" => 1 << 50,
        "eib" => 1 << 60,
        _ => return None,
    };
    Some(m)
}

/// Parses a byte size such as `4GiB`, `512MB`, `1.5 TiB` or `1000` (bytes), exactly.
pub fn parse_bytes(input: &str) -> Result<Bytes, SizeError> {
    let err = |why: &str| SizeError {
        input: input.to_string(),
        why: why.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim_start();
    let number: String = number.chars().filter(|&c| c != '_').collect();
    if number.is_empty() {
        return Err(err("it does not start with a number"));
    }
    // A lower-case b means bits by convention (Gb, Mbit): refuse rather than guess.
    if unit.ends_with('b') && unit_multiplier(unit).is_some() {
        let prefix = unit[..unit.len() - 1].trim_end_matches(['i', 'I']);
        let fix = if prefix.is_empty() {
            "B".to_string()
        } else {
            let p = prefix.to_ascii_uppercase();
            let si = if p == "K" { "k" } else { p.as_str() };
            format!("{si}B (powers of 1000) or {p}iB (powers of 1024)")
        };
        return Err(err(&format!(
            "'{unit}' with a lower-case b means bits; write {fix} for bytes"
        )));
    }
    let multiplier = unit_multiplier(unit).ok_or_else(|| {
        if unit.eq_ignore_ascii_case("k")
            || unit.eq_ignore_ascii_case("m")
            || unit.eq_ignore_ascii_case("g")
            || unit.eq_ignore_ascii_case("t")
        {
            err(&format!(
                "the unit '{unit}' is ambiguous (write {}B for powers of 1000 or {}iB for powers of 1024)",
                unit.to_ascii_uppercase(),
                unit.to_ascii_uppercase()
            ))
        } else {
            err(&format!("unknown unit '{unit}'"))
        }
    })?;
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number.as_str(), ""),
    };
    if frac_part.contains('.') {
        return Err(err("the number has more than one decimal point"));
    }
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(err("it does not start with a number"));
    }
    if frac_part.len() > 30 {
        return Err(err("too many decimal digits"));
    }
    let too_large = || err("it is larger than 2^64 - 1 bytes");
    let digits = format!("{int_part}{frac_part}");
    let mantissa: u128 = digits.parse().map_err(|_| too_large())?;
    let scale = 10u128.pow(frac_part.len() as u32);
    let scaled = mantissa.checked_mul(multiplier).ok_or_else(too_large)?;
    if scaled % scale != 0 {
        return Err(err("it is not a whole number of bytes"));
    }
    let value = u64::try_from(scaled / scale).map_err(|_| too_large())?;
    Ok(Bytes(value))
}

/// Formats a byte count in IEC units with two decimals (e.g. `3.91 GiB`); below 1 KiB as `N B`.
pub fn format_iec(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

/// Formats an integer with thousands separators (e.g. `1,234,567`).
pub fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_iec(self.0))
    }
}

impl std::str::FromStr for Bytes {
    type Err = SizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_bytes(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_si_and_iec_exactly() {
        assert_eq!(parse_bytes("4GiB").unwrap(), Bytes(4 << 30));
        assert_eq!(parse_bytes("512MB").unwrap(), Bytes(512_000_000));
        assert_eq!(parse_bytes("1.5 TiB").unwrap(), Bytes(3 << 39));
        assert_eq!(parse_bytes("  100 ").unwrap(), Bytes(100));
        assert_eq!(parse_bytes("1kB").unwrap(), Bytes(1000));
        assert_eq!(parse_bytes("1KB").unwrap(), Bytes(1000));
        assert_eq!(parse_bytes("0.5KiB").unwrap(), Bytes(512));
        assert_eq!(parse_bytes("15EiB").unwrap(), Bytes(15 << 60));
        assert_eq!(parse_bytes("1_000 B").unwrap(), Bytes(1000));
    }

    #[test]
    fn rejects_bad_sizes_with_reasons() {
        for (input, why) in [
            ("", "empty"),
            ("GiB", "does not start with a number"),
            ("4G", "ambiguous"),
            ("4 parsecs", "unknown unit 'parsecs'"),
            ("16EiB", "larger than 2^64"),
            ("1.1.1GB", "more than one decimal point"),
            ("0.3B", "not a whole number"),
            ("-1GB", "does not start with a number"),
            // Regression: a lower-case b (bits by convention) was read as bytes.
            (
                "4Gb",
                "'Gb' with a lower-case b means bits; write GB (powers of 1000) or GiB",
            ),
            ("4mb", "'mb' with a lower-case b means bits; write MB"),
            ("4 gib", "means bits; write GB (powers of 1000) or GiB"),
            ("4kb", "write kB (powers of 1000) or KiB"),
            ("100b", "write B for bytes"),
        ] {
            let msg = parse_bytes(input).unwrap_err().to_string();
            assert!(msg.contains(why), "{input}: {msg}");
            assert!(msg.contains("accepted units"), "{msg}");
        }
    }

    #[test]
    fn formats_iec() {
        assert_eq!(format_iec(0), "0 B");
        assert_eq!(format_iec(1023), "1023 B");
        assert_eq!(format_iec(1536), "1.50 KiB");
        assert_eq!(format_iec(4 << 30), "4.00 GiB");
        assert_eq!(format_iec(u64::MAX), "16.00 EiB");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
        assert_eq!(group_thousands(12), "12");
    }
}
