//! NVTabular-style Parquet tables: flat columns of integer categorical ids, strings and
//! floats, read in bounded batches and written in row groups (for synthetic data).
//!
//! Built on the `parquet` crate's column API, without its Arrow layer: a batch decodes
//! straight into the plain vectors below, and the Arrow crates would triple the build time.

mod writer;

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail, ensure};
use parquet::basic::{Compression, ConvertedType, LogicalType, Type as ParquetType};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

/// A column's Parquet physical type (INT32, INT64, BYTE_ARRAY, ...).
pub use parquet::basic::Type as PhysicalType;
pub use writer::{Codec, ColumnSpec, ColumnType, ParquetTableWriter, write_table};

/// One column of a Parquet table's schema.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// The column's name (dotted path for a nested column).
    pub name: String,
    /// How the values are stored.
    pub physical_type: PhysicalType,
    /// Whether the column may hold nulls (OPTIONAL).
    pub optional: bool,
    /// Whether integers are unsigned (an unsigned INT logical or converted type).
    pub unsigned: bool,
    /// Whether this reader can read it: flat and of a supported physical type.
    pub readable: bool,
}

/// A batch of one column's values, one per row (nulls hold 0, 0.0 or an empty string).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// INT32, INT64 (signed or unsigned) and BOOLEAN columns.
    Ints(Vec<i64>),
    /// FLOAT and DOUBLE columns.
    Floats(Vec<f64>),
    /// BYTE_ARRAY columns: row `i` is `bytes[offsets[i]..offsets[i + 1]]`.
    Strings {
        /// The values, concatenated.
        bytes: Vec<u8>,
        /// Row boundaries into `bytes`: one more than the rows, starting at 0.
        offsets: Vec<usize>,
    },
}

impl Values {
    /// Rows held.
    pub fn len(&self) -> usize {
        match self {
            Values::Ints(v) => v.len(),
            Values::Floats(v) => v.len(),
            Values::Strings { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    /// Whether no rows are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `row` of a string column.
    pub fn string(&self, row: usize) -> Option<&[u8]> {
        match self {
            Values::Strings { bytes, offsets } => {
                bytes.get(*offsets.get(row)?..*offsets.get(row + 1)?)
            }
            _ => None,
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Ints(v) => v.clear(),
            Values::Floats(v) => v.clear(),
            Values::Strings { bytes, offsets } => {
                bytes.clear();
                offsets.clear();
                offsets.push(0);
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Values::Ints(_) => "integers",
            Values::Floats(_) => "floats",
            Values::Strings { .. } => "strings",
        }
    }
}

/// One column of a batch: its values and, for an optional column, which rows are null.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnData {
    /// One value per row.
    pub values: Values,
    /// `nulls[i]` is true where row `i` is null; `None` for a required column.
    pub nulls: Option<Vec<bool>>,
}

/// A batch of rows of the requested columns, in the order they were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnBatch {
    /// Rows in this batch.
    pub rows: usize,
    /// Rows of the table before this batch.
    pub first_row: u64,
    /// The requested column names.
    pub names: Vec<String>,
    /// The requested columns' data, parallel to `names`.
    pub columns: Vec<ColumnData>,
}

impl ColumnBatch {
    /// The data of the column called `name`, if it was requested.
    pub fn column(&self, name: &str) -> Option<&ColumnData> {
        let index = self.names.iter().position(|n| n == name)?;
        self.columns.get(index)
    }
}

/// A column name that the table does not have (a caller may downcast to it).
#[derive(Debug, thiserror::Error)]
#[error("{}: no column '{column}'; the columns are: {}", path.display(), available.join(", "))]
pub struct UnknownColumn {
    /// The table's file.
    pub path: PathBuf,
    /// The name asked for.
    pub column: String,
    /// The table's column names.
    pub available: Vec<String>,
}

/// A Parquet file opened for reading: its schema is parsed, its data is read on demand.
pub struct ParquetTable {
    path: PathBuf,
    reader: SerializedFileReader<File>,
    columns: Vec<ColumnInfo>,
}

impl fmt::Debug for ParquetTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetTable")
            .field("path", &self.path)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

fn column_info(descr: &ColumnDescriptor) -> ColumnInfo {
    let unsigned = matches!(
        descr.logical_type_ref(),
        Some(LogicalType::Integer(int)) if !int.is_signed
    ) || matches!(
        descr.converted_type(),
        ConvertedType::UINT_8
            | ConvertedType::UINT_16
            | ConvertedType::UINT_32
            | ConvertedType::UINT_64
    );
    let physical_type = descr.physical_type();
    ColumnInfo {
        name: descr.path().string(),
        physical_type,
        optional: descr.max_def_level() > 0,
        unsigned,
        readable: descr.max_rep_level() == 0
            && descr.max_def_level() <= 1
            && !matches!(
                physical_type,
                ParquetType::INT96 | ParquetType::FIXED_LEN_BYTE_ARRAY
            ),
    }
}

/// Runs `work`, turning a panic inside the `parquet` crate (which panics on some corrupt
/// files, found by fuzzing) into an error naming the file.
fn guarded<T>(path: &Path, work: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the decoder failed");
        Err(anyhow::anyhow!(
            "{}: not a readable Parquet file ({why})",
            path.display()
        ))
    })
}

impl ParquetTable {
    /// Opens `path` and reads its footer (schema and row groups).
    pub fn open(path: impl AsRef<Path>) -> Result<ParquetTable> {
        let path = path.as_ref();
        guarded(path, || Self::open_unguarded(path))
    }

    fn open_unguarded(path: &Path) -> Result<ParquetTable> {
        let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
        let reader = SerializedFileReader::new(file)
            .with_context(|| format!("{}: not a readable Parquet file", path.display()))?;
        let columns = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|descr| column_info(descr))
            .collect();
        Ok(ParquetTable {
            path: path.to_path_buf(),
            reader,
            columns,
        })
    }

    /// The file it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema's leaf columns, in file order.
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }

    /// Rows in the table, as the footer says.
    pub fn rows(&self) -> u64 {
        u64::try_from(self.reader.metadata().file_metadata().num_rows()).unwrap_or(0)
    }

    /// Row groups in the file.
    pub fn row_groups(&self) -> usize {
        self.reader.num_row_groups()
    }

    /// Streams the columns `names`, at most `batch_rows` rows at a time and never across a
    /// row group, to `f`; memory stays bounded by a batch (plus a decoded page per column).
    pub fn read_columns(
        &self,
        names: &[&str],
        batch_rows: usize,
        f: impl FnMut(&ColumnBatch) -> Result<()>,
    ) -> Result<()> {
        guarded(&self.path, || {
            self.read_columns_unguarded(names, batch_rows, f)
        })
    }

    /// The indices of the columns named, each checked readable.
    fn select(&self, names: &[&str]) -> Result<Vec<usize>> {
        let mut selected = Vec::with_capacity(names.len());
        for &name in names {
            let index = self
                .columns
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| UnknownColumn {
                    path: self.path.clone(),
                    column: name.to_string(),
                    available: self.columns.iter().map(|c| c.name.clone()).collect(),
                })?;
            let info = &self.columns[index];
            ensure!(
                info.readable,
                "{}: column '{name}' ({}) cannot be read: expected a flat (not nested or repeated) INT32, INT64, BOOLEAN, FLOAT, DOUBLE or BYTE_ARRAY column",
                self.path.display(),
                info.physical_type,
            );
            selected.push(index);
        }
        Ok(selected)
    }

    fn read_columns_unguarded(
        &self,
        names: &[&str],
        batch_rows: usize,
        mut f: impl FnMut(&ColumnBatch) -> Result<()>,
    ) -> Result<()> {
        ensure!(
            batch_rows > 0,
            "{}: batch_rows must be positive",
            self.path.display()
        );
        let selected = self.select(names)?;
        let mut batch = ColumnBatch {
            rows: 0,
            first_row: 0,
            names: names.iter().map(ToString::to_string).collect(),
            columns: selected
                .iter()
                .map(|&i| ColumnData {
                    values: empty_values(self.columns[i].physical_type),
                    nulls: self.columns[i].optional.then(Vec::new),
                })
                .collect(),
        };
        let mut scratch = Scratch::default();
        for group in 0..self.reader.num_row_groups() {
            let at = || format!("{}: row group {group}", self.path.display());
            let group_reader = self.reader.get_row_group(group).with_context(at)?;
            let group_rows = usize::try_from(group_reader.metadata().num_rows())
                .map_err(|_| anyhow!("negative row count"))
                .with_context(at)?;
            let mut readers = Vec::with_capacity(selected.len());
            for &i in &selected {
                // Name the codec and the fix rather than the crate's "disabled feature".
                let codec = group_reader.metadata().column(i).compression();
                ensure!(
                    matches!(
                        codec,
                        Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_)
                    ),
                    "{}: column '{}' is compressed with {codec}; this build reads uncompressed, SNAPPY and ZSTD Parquet (rewrite it with compression='snappy')",
                    at(),
                    self.columns[i].name
                );
                readers.push(group_reader.get_column_reader(i).with_context(at)?);
            }
            let mut done = 0;
            while done < group_rows {
                let rows = batch_rows.min(group_rows - done);
                for ((reader, data), &i) in
                    readers.iter_mut().zip(&mut batch.columns).zip(&selected)
                {
                    let info = &self.columns[i];
                    read_batch(reader, info, rows, data, &mut scratch).with_context(|| {
                        format!(
                            "{}: column '{}', rows {}..{} of row group {group}",
                            self.path.display(),
                            info.name,
                            done,
                            done + rows
                        )
                    })?;
                }
                batch.rows = rows;
                f(&batch)?;
                batch.first_row += rows as u64;
                done += rows;
            }
        }
        Ok(())
    }
}

fn empty_values(physical: ParquetType) -> Values {
    match physical {
        ParquetType::FLOAT | ParquetType::DOUBLE => Values::Floats(Vec::new()),
        ParquetType::BYTE_ARRAY => Values::Strings {
            bytes: Vec::new(),
            offsets: vec![0],
        },
        _ => Values::Ints(Vec::new()),
    }
}

/// Decoding buffers reused across batches and columns.
#[derive(Default)]
struct Scratch {
    def: Vec<i16>,
    bools: Vec<bool>,
    i32s: Vec<i32>,
    i64s: Vec<i64>,
    f32s: Vec<f32>,
    f64s: Vec<f64>,
    strings: Vec<ByteArray>,
}

/// Reads exactly `rows` records of `column` into `data`.
fn read_records<T: DataType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    optional: bool,
    def: &mut Vec<i16>,
    values: &mut Vec<T::T>,
) -> Result<()> {
    def.clear();
    values.clear();
    let (records, _, _) = reader.read_records(rows, optional.then_some(def), None, values)?;
    ensure!(
        records == rows,
        "the column chunk ends after {records} of {rows} rows"
    );
    Ok(())
}

/// Spreads the non-null `values` over the rows (placeholders where a level says null).
fn spread<T: Copy, U>(
    def: &[i16],
    values: &[T],
    nulls: Option<&mut Vec<bool>>,
    out: &mut Vec<U>,
    null: U,
    mut map: impl FnMut(T) -> Result<U>,
) -> Result<()>
where
    U: Copy,
{
    match nulls {
        None => {
            for &v in values {
                out.push(map(v)?);
            }
        }
        Some(nulls) => {
            nulls.clear();
            let mut values = values.iter();
            for &level in def {
                let is_null = level == 0;
                nulls.push(is_null);
                out.push(if is_null {
                    null
                } else {
                    map(*values
                        .next()
                        .ok_or_else(|| anyhow!("fewer values than non-null levels"))?)?
                });
            }
        }
    }
    Ok(())
}

fn read_batch(
    reader: &mut ColumnReader,
    info: &ColumnInfo,
    rows: usize,
    data: &mut ColumnData,
    s: &mut Scratch,
) -> Result<()> {
    data.values.clear();
    let nulls = data.nulls.as_mut();
    let optional = info.optional;
    match (reader, &mut data.values) {
        (ColumnReader::BoolColumnReader(r), Values::Ints(out)) => {
            read_records(r, rows, optional, &mut s.def, &mut s.bools)?;
            spread(&s.def, &s.bools, nulls, out, 0, |v| Ok(i64::from(v)))
        }
        (ColumnReader::Int32ColumnReader(r), Values::Ints(out)) => {
            read_records(r, rows, optional, &mut s.def, &mut s.i32s)?;
            if info.unsigned {
                spread(&s.def, &s.i32s, nulls, out, 0, |v| {
                    Ok(i64::from(v.cast_unsigned()))
                })
            } else {
                spread(&s.def, &s.i32s, nulls, out, 0, |v| Ok(i64::from(v)))
            }
        }
        (ColumnReader::Int64ColumnReader(r), Values::Ints(out)) => {
            read_records(r, rows, optional, &mut s.def, &mut s.i64s)?;
            if info.unsigned {
                spread(&s.def, &s.i64s, nulls, out, 0, |v| {
                    // An unsigned id ≥ 2^63 is stored with the sign bit set.
                    ensure!(
                        v >= 0,
                        "unsigned value {} does not fit in i64",
                        v.cast_unsigned()
                    );
                    Ok(v)
                })
            } else {
                spread(&s.def, &s.i64s, nulls, out, 0, Ok)
            }
        }
        (ColumnReader::FloatColumnReader(r), Values::Floats(out)) => {
            read_records(r, rows, optional, &mut s.def, &mut s.f32s)?;
            spread(&s.def, &s.f32s, nulls, out, 0.0, |v| Ok(f64::from(v)))
        }
        (ColumnReader::DoubleColumnReader(r), Values::Floats(out)) => {
            read_records(r, rows, optional, &mut s.def, &mut s.f64s)?;
            spread(&s.def, &s.f64s, nulls, out, 0.0, Ok)
        }
        (ColumnReader::ByteArrayColumnReader(r), Values::Strings { bytes, offsets }) => {
            read_records(r, rows, optional, &mut s.def, &mut s.strings)?;
            let total: usize = s.strings.iter().map(ByteArray::len).sum();
            bytes.reserve(total);
            offsets.reserve(rows);
            let mut strings = s.strings.iter();
            let mut push = |value: Option<&ByteArray>| {
                if let Some(value) = value {
                    bytes.extend_from_slice(value.data());
                }
                offsets.push(bytes.len());
            };
            match nulls {
                None => strings.for_each(|v| push(Some(v))),
                Some(nulls) => {
                    nulls.clear();
                    for &level in &s.def {
                        nulls.push(level == 0);
                        if level == 0 {
                            push(None);
                        } else {
                            push(Some(strings.next().ok_or_else(|| {
                                anyhow!("fewer values than non-null levels")
                            })?));
                        }
                    }
                }
            }
            Ok(())
        }
        _ => bail!("unsupported physical type {}", info.physical_type),
    }
}
