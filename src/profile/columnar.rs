//! Scanning npy and Parquet inputs into batches.

use anyhow::{Result, bail};

use super::input::Input;
use super::scan::{Batch, Columns};

/// Reads npy or Parquet inputs (see [`super::scan::scan`]).
pub fn scan<S: Send>(
    input: &Input,
    _threads: usize,
    _init: &(impl Fn() -> S + Sync),
    _fold: &(impl Fn(&mut S, &Batch) -> Result<()> + Sync),
) -> Result<(Vec<S>, Columns)> {
    bail!("reading {} files is not built yet", input.format.name())
}
