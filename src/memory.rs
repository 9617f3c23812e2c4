//! Large allocations: sized before they are made, checked against the machine, fallible.
//!
//! Rust aborts the process when an allocation fails. Every buffer whose size comes from user
//! input (tables, data sets, bitsets) is first compared with the memory the OS reports as
//! available, then reserved with `try_reserve_exact`, so a size that cannot be met is an
//! error naming the size and the option to change, never an abort.

use anyhow::{Result, bail};

use crate::size::format_iec;

/// Bytes of memory the OS reports as available now (Linux `MemAvailable`), if known.
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Errors when `bytes` (None: beyond u64) exceed the memory available, naming `what` needs
/// it and `hint`, the option that changes it.
pub fn check_fits(bytes: Option<u64>, what: &str, hint: &str) -> Result<()> {
    let Some(bytes) = bytes else {
        bail!("{what} would need more than 16 EiB of memory; {hint}");
    };
    if let Some(avail) = available()
        && bytes > avail
    {
        bail!(
            "{what} would need {} of memory but only {} is available; {hint}",
            format_iec(bytes),
            format_iec(avail)
        );
    }
    Ok(())
}

/// A vector of `len` default values, or an error naming its size and `what` it is for.
pub fn try_filled<T: Clone + Default>(len: u64, what: &str) -> Result<Vec<T>> {
    let bytes = len.checked_mul(std::mem::size_of::<T>() as u64);
    let mut v = Vec::new();
    let reserved = usize::try_from(len)
        .ok()
        .filter(|_| bytes.is_some())
        .and_then(|l| v.try_reserve_exact(l).ok());
    if reserved.is_none() {
        bail!(
            "cannot allocate {} for {what}",
            bytes.map_or_else(|| "more than 16 EiB".to_string(), format_iec)
        );
    }
    // Written element by element, so pages are mapped now rather than on first touch.
    v.resize(len as usize, T::default());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        let e = try_filled::<u64>(u64::MAX / 4, "a test buffer").unwrap_err();
        assert!(e.to_string().starts_with("cannot allocate"), "{e}");
        let e = check_fits(Some(u64::MAX), "a test", "use less").unwrap_err();
        if available().is_some() {
            assert!(e.to_string().contains("of memory but only"), "{e}");
        }
        assert!(check_fits(None, "a test", "use less").is_err());
        assert_eq!(try_filled::<u32>(3, "x").unwrap(), vec![0, 0, 0]);
    }
}
