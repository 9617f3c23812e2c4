//! Columnar data files: NumPy .npy arrays and Parquet tables.
//!
//! [`npy`] reads (memory-mapped) and writes the per-day arrays of TorchRec's Criteo
//! preprocessing; [`parquet_io`] streams and writes NVTabular-style Parquet tables. Both read
//! a bounded window at a time, so a day of Criteo (about 200 M rows) never sits in memory.

pub mod npy;
pub mod parquet_io;

#[cfg(test)]
mod npy_tests;
#[cfg(test)]
mod parquet_tests;
