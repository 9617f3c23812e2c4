//! The `.npy` errors: each names its file, and its kind tells the failures apart.

use std::io;
use std::path::{Path, PathBuf};

use super::NpyDtype;

/// An `.npy` error: the file it concerns and what went wrong there.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct NpyError {
    /// The file (or, for a Criteo day, the file whose check failed).
    pub path: PathBuf,
    /// What went wrong.
    pub kind: NpyErrorKind,
}

/// What went wrong with an `.npy` file, for callers that must tell the failures apart.
#[derive(Debug, thiserror::Error)]
pub enum NpyErrorKind {
    /// Reading, writing or mapping the file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The file does not start with `\x93NUMPY`.
    #[error("not a NumPy .npy file: it does not start with the magic bytes \\x93NUMPY")]
    BadMagic,
    /// A format version other than 1.0, 2.0 or 3.0.
    #[error("unsupported .npy format version {0}.{1} (expected 1.0, 2.0 or 3.0)")]
    Version(u8, u8),
    /// The header is cut off or is not the dict numpy writes.
    #[error("malformed .npy header: {0}")]
    Header(String),
    /// `fortran_order` is True: the data is column-major.
    #[error(
        "the array is in Fortran (column-major) order; only C order is supported (save it with numpy.ascontiguousarray first)"
    )]
    FortranOrder,
    /// A dtype this reader does not handle (structured, complex, strings, float16, ...).
    #[error("unsupported dtype {0} (expected one of <i4 <i8 <u4 <u8 |u1 |i1 |b1 <f4 <f8)")]
    Dtype(String),
    /// A big-endian multi-byte dtype.
    #[error(
        "big-endian dtype '{0}' is not supported: convert it with arr.astype(arr.dtype.newbyteorder('<'))"
    )]
    BigEndian(String),
    /// A zero-dimensional or more than 2-dimensional shape.
    #[error("unsupported shape {0}: expected 1-D (rows,) or 2-D (rows, cols)")]
    Shape(String),
    /// Fewer data bytes after the header than the shape and dtype need.
    #[error(
        "truncated: shape {shape} of {dtype} needs {expected} data bytes after the header but the file has {actual}"
    )]
    Truncated {
        /// The header's shape, as numpy writes it.
        shape: String,
        /// The element type.
        dtype: NpyDtype,
        /// Data bytes the shape and dtype need.
        expected: u64,
        /// Data bytes the file holds after the header.
        actual: u64,
    },
    /// More data bytes than the shape and dtype need (a header not rewritten after appends).
    #[error(
        "shape {shape} of {dtype} needs {expected} data bytes after the header but the file has {actual}: {} bytes too many",
        actual - expected
    )]
    TrailingBytes {
        /// The header's shape, as numpy writes it.
        shape: String,
        /// The element type.
        dtype: NpyDtype,
        /// Data bytes the shape and dtype need.
        expected: u64,
        /// Data bytes the file holds after the header.
        actual: u64,
    },
    /// The shape's byte count does not fit in this machine's address space.
    #[error("shape {0} is too large to address")]
    TooLarge(String),
    /// A read past the last row.
    #[error("rows {start}..{end} are out of range: the array has {rows} rows")]
    RowRange {
        /// First row asked for.
        start: usize,
        /// One past the last row asked for.
        end: usize,
        /// Rows in the array.
        rows: usize,
    },
    /// An operation that needs another element type (integer ids from a float array, or a
    /// writer's method that does not match its dtype).
    #[error("{what} needs {expected} but the array's dtype is {dtype}")]
    WrongDtype {
        /// The operation.
        what: &'static str,
        /// The dtypes it accepts.
        expected: &'static str,
        /// The array's dtype.
        dtype: NpyDtype,
    },
    /// An unsigned 64-bit id above `i64::MAX`.
    #[error("row {row}: id {value} does not fit in a signed 64-bit integer")]
    IdOverflow {
        /// The row holding it.
        row: usize,
        /// The value.
        value: u64,
    },
    /// A label other than 0 or 1.
    #[error("row {row}: label {value} is not 0 or 1")]
    Label {
        /// The row holding it.
        row: usize,
        /// The value, as read.
        value: String,
    },
    /// A labels array with more than one column.
    #[error("labels must be 1-D (rows,) or (rows, 1), found {0} columns")]
    LabelColumns(usize),
    /// An array that must be 2-D (Criteo's sparse and dense arrays) is not.
    #[error("{name} must be 2-D (rows, cols), found shape {shape}")]
    NotMatrix {
        /// The file's name.
        name: String,
        /// Its shape.
        shape: String,
    },
    /// The arrays of one Criteo day disagree on the row count.
    #[error("{first} has {first_rows} rows but {other} has {other_rows}")]
    RowMismatch {
        /// The reference file's name (the sparse array).
        first: String,
        /// Its rows.
        first_rows: usize,
        /// The disagreeing file's name.
        other: String,
        /// Its rows.
        other_rows: usize,
    },
    /// A writer finished with a partial row.
    #[error("{values} values were written, not a whole number of rows of {cols}")]
    PartialRow {
        /// Values written.
        values: u64,
        /// Values per row.
        cols: usize,
    },
}

impl NpyErrorKind {
    /// Attaches the file the error concerns.
    pub(super) fn at(self, path: &Path) -> NpyError {
        NpyError {
            path: path.to_path_buf(),
            kind: self,
        }
    }
}
