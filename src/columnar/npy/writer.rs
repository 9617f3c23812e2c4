//! A streaming `.npy` writer whose header is rewritten in place with the final row count.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::header::header_dict;
use super::{ALIGN, MAGIC, NpyDtype, NpyError, NpyErrorKind};

/// Values converted per write call: bounds the writer's scratch buffer.
const WRITE_CHUNK: usize = 16 * 1024;

/// Writes an `.npy` array row by row, without knowing the row count in advance.
///
/// The header is written first with room for any row count (padded with spaces, as numpy's
/// own appending writers do), and [`NpyWriter::finish`] rewrites it in place with the final
/// shape; the data stays 64-byte aligned. A writer dropped without `finish` leaves a file
/// whose header says 0 rows, which readers reject.
#[derive(Debug)]
pub struct NpyWriter {
    path: PathBuf,
    file: BufWriter<File>,
    dtype: NpyDtype,
    /// None for a 1-D array.
    cols: Option<usize>,
    major: u8,
    header_len: usize,
    values: u64,
    scratch: Vec<u8>,
}

impl NpyWriter {
    /// Creates a 2-D `(rows, cols)` array of `dtype` at `path`; `cols` must be positive.
    pub fn create(path: impl AsRef<Path>, dtype: NpyDtype, cols: usize) -> Result<Self, NpyError> {
        let path = path.as_ref();
        if cols == 0 {
            return Err(NpyErrorKind::Shape("(rows, 0)".into()).at(path));
        }
        Self::new(path, dtype, Some(cols))
    }

    /// Creates a 1-D `(rows,)` array of `dtype` at `path` (labels).
    pub fn create_1d(path: impl AsRef<Path>, dtype: NpyDtype) -> Result<Self, NpyError> {
        Self::new(path.as_ref(), dtype, None)
    }

    fn new(path: &Path, dtype: NpyDtype, cols: Option<usize>) -> Result<Self, NpyError> {
        // Reserve room for the longest row count, so `finish` never has to move the data.
        let longest = header_dict(dtype, u64::MAX, cols).len() + 1;
        let (major, header_len) = if (10 + longest).next_multiple_of(ALIGN) - 10 <= 0xFFFF {
            (1, (10 + longest).next_multiple_of(ALIGN))
        } else {
            (2, (12 + longest).next_multiple_of(ALIGN))
        };
        let file = File::create(path).map_err(|e| NpyErrorKind::Io(e).at(path))?;
        let mut writer = NpyWriter {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            dtype,
            cols,
            major,
            header_len,
            values: 0,
            scratch: Vec::new(),
        };
        writer.write_header(0)?;
        Ok(writer)
    }

    fn write_header(&mut self, rows: u64) -> Result<(), NpyError> {
        let dict = header_dict(self.dtype, rows, self.cols);
        let mut header = Vec::with_capacity(self.header_len);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&[self.major, 0]);
        let prefix = if self.major == 1 { 10 } else { 12 };
        let dict_len = self.header_len - prefix;
        match u16::try_from(dict_len) {
            Ok(len) if self.major == 1 => header.extend_from_slice(&len.to_le_bytes()),
            _ => header.extend_from_slice(&(dict_len as u32).to_le_bytes()),
        }
        header.extend_from_slice(dict.as_bytes());
        header.resize(self.header_len - 1, b' ');
        header.push(b'\n');
        self.file
            .write_all(&header)
            .map_err(|e| NpyErrorKind::Io(e).at(&self.path))
    }

    /// Appends values of the writer's dtype, converted by `to_le` in bounded chunks.
    fn write_values<T: Copy, const N: usize>(
        &mut self,
        dtype: NpyDtype,
        values: &[T],
        to_le: impl Fn(T) -> [u8; N],
    ) -> Result<(), NpyError> {
        if dtype != self.dtype {
            return Err(NpyErrorKind::WrongDtype {
                what: "this write",
                expected: dtype.descr(),
                dtype: self.dtype,
            }
            .at(&self.path));
        }
        for chunk in values.chunks(WRITE_CHUNK) {
            self.scratch.clear();
            self.scratch.extend(chunk.iter().flat_map(|&v| to_le(v)));
            self.file
                .write_all(&self.scratch)
                .map_err(|e| NpyErrorKind::Io(e).at(&self.path))?;
        }
        self.values += values.len() as u64;
        Ok(())
    }

    /// Appends `<i4` values (whole rows or not; `finish` checks the total).
    pub fn write_i32(&mut self, values: &[i32]) -> Result<(), NpyError> {
        self.write_values(NpyDtype::I32, values, i32::to_le_bytes)
    }

    /// Appends `<i8` values.
    pub fn write_i64(&mut self, values: &[i64]) -> Result<(), NpyError> {
        self.write_values(NpyDtype::I64, values, i64::to_le_bytes)
    }

    /// Appends `<f4` values.
    pub fn write_f32(&mut self, values: &[f32]) -> Result<(), NpyError> {
        self.write_values(NpyDtype::F32, values, f32::to_le_bytes)
    }

    /// Appends `<f8` values.
    pub fn write_f64(&mut self, values: &[f64]) -> Result<(), NpyError> {
        self.write_values(NpyDtype::F64, values, f64::to_le_bytes)
    }

    /// Appends `|u1` values (or `|b1`, whose bytes must be 0 or 1).
    pub fn write_u8(&mut self, values: &[u8]) -> Result<(), NpyError> {
        let dtype = if self.dtype == NpyDtype::Bool {
            NpyDtype::Bool
        } else {
            NpyDtype::U8
        };
        self.write_values(dtype, values, |v| [v])
    }

    /// Rewrites the header with the final shape, flushes, and returns the row count.
    pub fn finish(mut self) -> Result<u64, NpyError> {
        let cols = self.cols.unwrap_or(1);
        if !self.values.is_multiple_of(cols as u64) {
            return Err(NpyErrorKind::PartialRow {
                values: self.values,
                cols,
            }
            .at(&self.path));
        }
        let rows = self.values / cols as u64;
        let path = self.path.clone();
        let io = |e| NpyErrorKind::Io(e).at(&path);
        self.file.flush().map_err(io)?;
        self.file.seek(SeekFrom::Start(0)).map_err(io)?;
        self.write_header(rows)?;
        self.file.flush().map_err(io)?;
        Ok(rows)
    }
}
