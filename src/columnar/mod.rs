//! Columnar data files: NumPy .npy arrays and Parquet tables.
//!
//! [`npy`] reads (memory-mapped) and writes the per-day arrays of TorchRec's Criteo
//! preprocessing a bounded window at a time, so a day (about 200 M rows) never sits in memory.

pub mod npy;

#[cfg(test)]
mod npy_tests;
