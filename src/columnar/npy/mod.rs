//! NumPy `.npy` arrays: a memory-mapped reader and a streaming writer, for the per-day arrays
//! of TorchRec's Criteo preprocessing (`day_{i}_sparse.npy`, `day_{i}_dense.npy`,
//! `day_{i}_labels.npy`).
//!
//! The format (numpy's `lib/format.py`): the magic `\x93NUMPY`, a version byte pair, the
//! header length (u16 for 1.0, u32 for 2.0 and 3.0), a Python dict literal padded with spaces
//! and ending in `\n` so the data starts 64-byte aligned, then the raw elements.

mod criteo;
mod error;
mod header;
mod writer;

use std::fmt;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

pub use criteo::CriteoNpyDay;
pub use error::{NpyError, NpyErrorKind};
pub use writer::NpyWriter;

use header::{parse_prefix, shape_text};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy pads the header so the data starts at a multiple of this (a mapped array is aligned).
const ALIGN: usize = 64;

/// The element type of a supported `.npy` array; multi-byte types are little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// `|b1`: numpy's bool, one byte holding 0 or 1.
    Bool,
    /// `|i1`
    I8,
    /// `|u1`
    U8,
    /// `<i4`
    I32,
    /// `<u4`
    U32,
    /// `<i8`
    I64,
    /// `<u8`
    U64,
    /// `<f4`
    F32,
    /// `<f8`
    F64,
}

impl NpyDtype {
    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            Self::Bool | Self::I8 | Self::U8 => 1,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }

    /// The descriptor numpy writes for this type, e.g. `<i8`.
    pub fn descr(self) -> &'static str {
        match self {
            Self::Bool => "|b1",
            Self::I8 => "|i1",
            Self::U8 => "|u1",
            Self::I32 => "<i4",
            Self::U32 => "<u4",
            Self::I64 => "<i8",
            Self::U64 => "<u8",
            Self::F32 => "<f4",
            Self::F64 => "<f8",
        }
    }

    /// Whether the elements are integers (bool included: it is stored as 0 or 1).
    pub fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }

    /// Parses a descriptor such as `<i8`, `|u1` or `=f4`.
    fn parse(descr: &str) -> Result<Self, NpyErrorKind> {
        let unsupported = || NpyErrorKind::Dtype(descr.to_string());
        let mut chars = descr.chars();
        let order = chars.next().ok_or_else(unsupported)?;
        let dtype = match chars.as_str() {
            "b1" | "?" => Self::Bool,
            "i1" | "b" => Self::I8,
            "u1" | "B" => Self::U8,
            "i4" => Self::I32,
            "u4" => Self::U32,
            "i8" => Self::I64,
            "u8" => Self::U64,
            "f4" => Self::F32,
            "f8" => Self::F64,
            _ => return Err(unsupported()),
        };
        // Byte order matters only for multi-byte types. `=` and `|` mean the writer's native
        // order, which numpy itself reads as this machine's: unambiguous here only on a
        // little-endian machine (every platform numpy ships wheels for but s390x).
        match order {
            '<' => Ok(dtype),
            _ if dtype.itemsize() == 1 && matches!(order, '>' | '|' | '=') => Ok(dtype),
            '=' | '|' if cfg!(target_endian = "little") => Ok(dtype),
            '>' => Err(NpyErrorKind::BigEndian(descr.to_string())),
            _ => Err(unsupported()),
        }
    }
}

impl fmt::Display for NpyDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.descr())
    }
}

/// A memory-mapped, validated `.npy` array (C order, 1-D or 2-D, little-endian).
///
/// The file must not change while it is open: the map reads it in place.
#[derive(Debug)]
pub struct NpyArray {
    path: PathBuf,
    map: Mmap,
    data_offset: usize,
    dtype: NpyDtype,
    rows: usize,
    cols: usize,
    /// `cols × itemsize`, checked at open.
    row_bytes: usize,
    ndim: usize,
}

impl NpyArray {
    /// Opens, maps and validates `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<NpyArray, NpyError> {
        let path = path.as_ref();
        Self::open_inner(path).map_err(|kind| kind.at(path))
    }

    fn open_inner(path: &Path) -> Result<NpyArray, NpyErrorKind> {
        let file = File::open(path)?;
        // SAFETY: the map is only read, and only as bytes; the type documents that the file
        // must not be modified or truncated while open (as every mmap reader requires).
        let map = unsafe { Mmap::map(&file)? };
        let (header, data_offset) = parse_prefix(&map)?;
        let dtype = NpyDtype::parse(&header.descr)?;
        if header.fortran_order {
            return Err(NpyErrorKind::FortranOrder);
        }
        let shape = shape_text(&header.shape);
        let (rows, cols) = match header.shape[..] {
            [rows] => (rows, 1),
            [rows, cols] => (rows, cols),
            _ => return Err(NpyErrorKind::Shape(shape)),
        };
        // Row bytes are checked on their own too: (0, 2^62) holds no data but would
        // overflow every offset computed from it.
        let row_bytes = cols
            .checked_mul(dtype.itemsize() as u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| NpyErrorKind::TooLarge(shape.clone()))?;
        let expected = rows
            .checked_mul(row_bytes as u64)
            .ok_or_else(|| NpyErrorKind::TooLarge(shape.clone()))?;
        let actual = (map.len() - data_offset) as u64;
        if actual < expected {
            return Err(NpyErrorKind::Truncated {
                shape,
                dtype,
                expected,
                actual,
            });
        }
        if actual > expected {
            return Err(NpyErrorKind::TrailingBytes {
                shape,
                dtype,
                expected,
                actual,
            });
        }
        // The data fits in the map, so both counts fit in usize.
        let too_large = || NpyErrorKind::TooLarge(shape_text(&header.shape));
        Ok(NpyArray {
            path: path.to_path_buf(),
            map,
            data_offset,
            dtype,
            rows: usize::try_from(rows).map_err(|_| too_large())?,
            cols: usize::try_from(cols).map_err(|_| too_large())?,
            row_bytes,
            ndim: header.shape.len(),
        })
    }

    /// The file it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of rows (the first dimension).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Values per row: the second dimension, or 1 for a 1-D array.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// 1 or 2.
    pub fn ndim(&self) -> usize {
        self.ndim
    }

    /// The element type.
    pub fn dtype(&self) -> NpyDtype {
        self.dtype
    }

    /// The shape as numpy prints it, for messages.
    pub fn shape_text(&self) -> String {
        match self.ndim {
            1 => shape_text(&[self.rows as u64]),
            _ => shape_text(&[self.rows as u64, self.cols as u64]),
        }
    }

    pub(super) fn err(&self, kind: NpyErrorKind) -> NpyError {
        kind.at(&self.path)
    }

    /// The raw bytes of `rows`, after checking the range.
    fn bytes(&self, rows: &Range<usize>) -> Result<&[u8], NpyError> {
        if rows.start > rows.end || rows.end > self.rows {
            return Err(self.err(NpyErrorKind::RowRange {
                start: rows.start,
                end: rows.end,
                rows: self.rows,
            }));
        }
        // Cannot overflow: rows × row_bytes was checked against the file size at open.
        let start = self.data_offset + rows.start * self.row_bytes;
        Ok(&self.map[start..start + rows.len() * self.row_bytes])
    }

    /// Replaces `out` with the values of `rows`, row-major, for integer (and bool) dtypes.
    pub fn ints(&self, rows: Range<usize>, out: &mut Vec<i64>) -> Result<(), NpyError> {
        let bytes = self.bytes(&rows)?;
        out.clear();
        out.reserve(bytes.len() / self.dtype.itemsize());
        match self.dtype {
            NpyDtype::Bool | NpyDtype::U8 => out.extend(bytes.iter().map(|&b| i64::from(b))),
            NpyDtype::I8 => out.extend(bytes.iter().map(|&b| i64::from(b.cast_signed()))),
            NpyDtype::I32 => decode(bytes, out, |c| i64::from(i32::from_le_bytes(c))),
            NpyDtype::U32 => decode(bytes, out, |c| i64::from(u32::from_le_bytes(c))),
            NpyDtype::I64 => decode(bytes, out, i64::from_le_bytes),
            NpyDtype::U64 => {
                let (chunks, _) = bytes.as_chunks::<8>();
                for (i, &chunk) in chunks.iter().enumerate() {
                    let value = u64::from_le_bytes(chunk);
                    let Ok(id) = i64::try_from(value) else {
                        let row = rows.start + i / self.cols;
                        return Err(self.err(NpyErrorKind::IdOverflow { row, value }));
                    };
                    out.push(id);
                }
            }
            NpyDtype::F32 | NpyDtype::F64 => {
                return Err(self.err(NpyErrorKind::WrongDtype {
                    what: "reading integer ids",
                    expected: "an integer or bool dtype",
                    dtype: self.dtype,
                }));
            }
        }
        Ok(())
    }

    /// Replaces `out` with the values of `rows` as f32, row-major (f64 and integers are
    /// converted, as dense features are used in f32).
    pub fn floats(&self, rows: Range<usize>, out: &mut Vec<f32>) -> Result<(), NpyError> {
        let bytes = self.bytes(&rows)?;
        out.clear();
        out.reserve(bytes.len() / self.dtype.itemsize());
        match self.dtype {
            NpyDtype::Bool | NpyDtype::U8 => out.extend(bytes.iter().map(|&b| f32::from(b))),
            NpyDtype::I8 => out.extend(bytes.iter().map(|&b| f32::from(b.cast_signed()))),
            NpyDtype::I32 => decode(bytes, out, |c| i32::from_le_bytes(c) as f32),
            NpyDtype::U32 => decode(bytes, out, |c| u32::from_le_bytes(c) as f32),
            NpyDtype::I64 => decode(bytes, out, |c| i64::from_le_bytes(c) as f32),
            NpyDtype::U64 => decode(bytes, out, |c| u64::from_le_bytes(c) as f32),
            NpyDtype::F32 => decode(bytes, out, f32::from_le_bytes),
            NpyDtype::F64 => decode(bytes, out, |c| f64::from_le_bytes(c) as f32),
        }
        Ok(())
    }

    /// Replaces `out` with the labels of `rows` as 0.0/1.0; any other value is an error naming
    /// its row. The array must be 1-D or have one column.
    pub fn labels(&self, rows: Range<usize>, out: &mut Vec<f32>) -> Result<(), NpyError> {
        if self.cols != 1 {
            return Err(self.err(NpyErrorKind::LabelColumns(self.cols)));
        }
        let bytes = self.bytes(&rows)?;
        out.clear();
        out.reserve(bytes.len() / self.dtype.itemsize());
        let first = rows.start;
        let result = match self.dtype {
            NpyDtype::Bool | NpyDtype::U8 => {
                binary(bytes.as_chunks::<1>().0, first, out, |c| i128::from(c[0]))
            }
            NpyDtype::I8 => binary(bytes.as_chunks::<1>().0, first, out, |c| {
                i128::from(c[0].cast_signed())
            }),
            NpyDtype::I32 => binary(bytes.as_chunks().0, first, out, |c| {
                i128::from(i32::from_le_bytes(c))
            }),
            NpyDtype::U32 => binary(bytes.as_chunks().0, first, out, |c| {
                i128::from(u32::from_le_bytes(c))
            }),
            NpyDtype::I64 => binary(bytes.as_chunks().0, first, out, |c| {
                i128::from(i64::from_le_bytes(c))
            }),
            NpyDtype::U64 => binary(bytes.as_chunks().0, first, out, |c| {
                i128::from(u64::from_le_bytes(c))
            }),
            NpyDtype::F32 => binary(bytes.as_chunks().0, first, out, |c| {
                f64::from(f32::from_le_bytes(c))
            }),
            NpyDtype::F64 => binary(bytes.as_chunks().0, first, out, f64::from_le_bytes),
        };
        result.map_err(|kind| self.err(kind))
    }
}

/// Decodes little-endian `N`-byte elements into `out`: one tight loop the compiler vectorizes
/// (`as_chunks` gives fixed-size arrays, so there is no per-element bounds check).
#[inline]
fn decode<const N: usize, T>(bytes: &[u8], out: &mut Vec<T>, f: impl Fn([u8; N]) -> T) {
    let (chunks, _) = bytes.as_chunks::<N>();
    out.extend(chunks.iter().map(|&c| f(c)));
}

/// A value a label can be compared with 0 and 1 in, exactly (i128 holds every integer dtype,
/// f64 every float one), so 1.0000001 or 2^32 + 1 is not mistaken for 1.
trait Binary: Copy + PartialEq + fmt::Display {
    const ZERO: Self;
    const ONE: Self;
}

impl Binary for i128 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
}

impl Binary for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// Decodes labels into 0.0/1.0, failing on the first other value with its row.
fn binary<const N: usize, V: Binary>(
    chunks: &[[u8; N]],
    first_row: usize,
    out: &mut Vec<f32>,
    f: impl Fn([u8; N]) -> V,
) -> Result<(), NpyErrorKind> {
    for (i, &chunk) in chunks.iter().enumerate() {
        let value = f(chunk);
        if value == V::ZERO {
            out.push(0.0);
        } else if value == V::ONE {
            out.push(1.0);
        } else {
            return Err(NpyErrorKind::Label {
                row: first_row + i,
                value: value.to_string(),
            });
        }
    }
    Ok(())
}
