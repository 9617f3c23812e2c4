//! Writes Parquet tables in row groups: a label, categorical ids and strings, as NVTabular
//! lays them out, for synthetic data.

use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail, ensure};
use bytes::Bytes;
use parquet::basic::{Compression, LogicalType, Repetition, Type as ParquetType, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type as SchemaType;

use super::{ColumnData, Values};

/// What a written column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// INT32 (labels), from [`Values::Ints`] that fit.
    Int32,
    /// INT64 (categorical ids), from [`Values::Ints`].
    Int64,
    /// DOUBLE, from [`Values::Floats`].
    Double,
    /// BYTE_ARRAY annotated UTF8 (string categories), from [`Values::Strings`].
    Utf8,
}

/// A column of a table to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The column's name.
    pub name: String,
    /// What it holds.
    pub column_type: ColumnType,
    /// Whether it may hold nulls (OPTIONAL rather than REQUIRED).
    pub nullable: bool,
}

impl ColumnSpec {
    /// A required (non-null) column.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Self {
        ColumnSpec {
            name: name.into(),
            column_type,
            nullable: false,
        }
    }
}

/// The compression of written pages: what NVTabular writes (snappy) or smaller (zstd).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// No compression.
    Uncompressed,
    /// Snappy, Parquet's and NVTabular's default.
    Snappy,
    /// Zstandard at its default level.
    Zstd,
}

/// Writes a Parquet table one row group at a time.
pub struct ParquetTableWriter {
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    specs: Vec<ColumnSpec>,
    rows: u64,
}

impl fmt::Debug for ParquetTableWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetTableWriter")
            .field("path", &self.path)
            .field("specs", &self.specs)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ParquetTableWriter {
    /// Creates `path` with the given columns.
    pub fn create(path: impl AsRef<Path>, specs: &[ColumnSpec], codec: Codec) -> Result<Self> {
        let path = path.as_ref();
        let at = || format!("{}: cannot create the Parquet file", path.display());
        let mut fields = Vec::with_capacity(specs.len());
        for spec in specs {
            let (physical, logical) = match spec.column_type {
                ColumnType::Int32 => (ParquetType::INT32, None),
                ColumnType::Int64 => (ParquetType::INT64, None),
                ColumnType::Double => (ParquetType::DOUBLE, None),
                ColumnType::Utf8 => (ParquetType::BYTE_ARRAY, Some(LogicalType::String)),
            };
            let repetition = if spec.nullable {
                Repetition::OPTIONAL
            } else {
                Repetition::REQUIRED
            };
            let field = SchemaType::primitive_type_builder(&spec.name, physical)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .build()
                .with_context(at)?;
            fields.push(Arc::new(field));
        }
        let schema = SchemaType::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .with_context(at)?;
        let compression = match codec {
            Codec::Uncompressed => Compression::UNCOMPRESSED,
            Codec::Snappy => Compression::SNAPPY,
            Codec::Zstd => Compression::ZSTD(ZstdLevel::default()),
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let file = File::create(path).with_context(at)?;
        let writer =
            SerializedFileWriter::new(BufWriter::new(file), Arc::new(schema), Arc::new(properties))
                .with_context(at)?;
        Ok(ParquetTableWriter {
            path: path.to_path_buf(),
            writer,
            specs: specs.to_vec(),
            rows: 0,
        })
    }

    /// Writes all rows of `columns` (parallel to the specs) as one row group.
    pub fn write_row_group(&mut self, columns: &[ColumnData]) -> Result<()> {
        let rows = columns.first().map_or(0, |c| c.values.len());
        self.write_rows(columns, 0..rows)
    }

    /// Writes rows `range` of `columns` (parallel to the specs) as one row group.
    pub fn write_rows(&mut self, columns: &[ColumnData], range: Range<usize>) -> Result<()> {
        let path = self.path.display().to_string();
        ensure!(
            columns.len() == self.specs.len(),
            "{path}: {} columns given for a table of {}",
            columns.len(),
            self.specs.len()
        );
        for (spec, column) in self.specs.iter().zip(columns) {
            check_column(spec, column, &range)
                .with_context(|| format!("{path}: column '{}'", spec.name))?;
        }
        let mut group = self
            .writer
            .next_row_group()
            .with_context(|| format!("{path}: writing"))?;
        for (spec, column) in self.specs.iter().zip(columns) {
            let at = || format!("{path}: writing column '{}'", spec.name);
            let mut writer = group
                .next_column()
                .with_context(at)?
                .ok_or_else(|| anyhow!("no column writer"))
                .with_context(at)?;
            let nulls = column.nulls.as_ref().map(|n| &n[range.clone()]);
            let def: Option<Vec<i16>> =
                nulls.map(|n| n.iter().map(|&null| i16::from(!null)).collect());
            let present = |row: &usize| nulls.is_none_or(|n| !n[row - range.start]);
            match (&column.values, spec.column_type) {
                (Values::Ints(v), ColumnType::Int32) => {
                    // check_column verified that every value fits.
                    let values: Vec<i32> =
                        range.clone().filter(present).map(|r| v[r] as i32).collect();
                    writer
                        .typed::<Int32Type>()
                        .write_batch(&values, def.as_deref(), None)
                        .with_context(at)?;
                }
                (Values::Ints(v), ColumnType::Int64) => {
                    let values: Vec<i64> = range.clone().filter(present).map(|r| v[r]).collect();
                    writer
                        .typed::<Int64Type>()
                        .write_batch(&values, def.as_deref(), None)
                        .with_context(at)?;
                }
                (Values::Floats(v), ColumnType::Double) => {
                    let values: Vec<f64> = range.clone().filter(present).map(|r| v[r]).collect();
                    writer
                        .typed::<DoubleType>()
                        .write_batch(&values, def.as_deref(), None)
                        .with_context(at)?;
                }
                (Values::Strings { bytes, offsets }, ColumnType::Utf8) => {
                    // One shared buffer sliced per value: no allocation per string.
                    let shared =
                        Bytes::copy_from_slice(&bytes[offsets[range.start]..offsets[range.end]]);
                    let base = offsets[range.start];
                    let values: Vec<ByteArray> = range
                        .clone()
                        .filter(present)
                        .map(|r| {
                            ByteArray::from(shared.slice(offsets[r] - base..offsets[r + 1] - base))
                        })
                        .collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&values, def.as_deref(), None)
                        .with_context(at)?;
                }
                (values, column_type) => {
                    bail!(
                        "{path}: {} given for a {column_type:?} column",
                        values.kind()
                    );
                }
            }
            writer.close().with_context(at)?;
        }
        group
            .close()
            .with_context(|| format!("{path}: closing a row group"))?;
        self.rows += range.len() as u64;
        Ok(())
    }

    /// Writes the footer and returns the rows written.
    pub fn finish(self) -> Result<u64> {
        let path = self.path.display().to_string();
        let mut file = self
            .writer
            .into_inner()
            .with_context(|| format!("{path}: writing the footer"))?;
        std::io::Write::flush(&mut file).with_context(|| format!("{path}: writing"))?;
        Ok(self.rows)
    }
}

/// Checks that `column` can be written as `spec` over `range`.
fn check_column(spec: &ColumnSpec, column: &ColumnData, range: &Range<usize>) -> Result<()> {
    let rows = column.values.len();
    ensure!(
        range.start <= range.end && range.end <= rows,
        "rows {}..{} asked for but the column has {rows}",
        range.start,
        range.end
    );
    match (&column.nulls, spec.nullable) {
        (Some(_), false) => bail!("has a null mask but the column is not nullable"),
        (Some(nulls), true) => ensure!(
            nulls.len() == rows,
            "{} null flags for {rows} values",
            nulls.len()
        ),
        _ => {}
    }
    match (&column.values, spec.column_type) {
        (Values::Ints(v), ColumnType::Int32) => {
            if let Some(row) = range.clone().find(|&r| i32::try_from(v[r]).is_err()) {
                bail!("row {row}: {} does not fit in INT32", v[row]);
            }
        }
        (Values::Ints(_), ColumnType::Int64) | (Values::Floats(_), ColumnType::Double) => {}
        (Values::Strings { bytes, offsets }, ColumnType::Utf8) => {
            ensure!(
                offsets.first() == Some(&0),
                "string offsets must start at 0"
            );
            if let Some(i) = offsets.windows(2).position(|w| w[0] > w[1]) {
                bail!("row {i}: string offsets decrease");
            }
            ensure!(
                offsets.last().is_some_and(|&end| end <= bytes.len()),
                "string offsets run past the {} bytes",
                bytes.len()
            );
        }
        (values, column_type) => bail!("{} given for a {column_type:?} column", values.kind()),
    }
    Ok(())
}

/// Writes `columns` (parallel to `specs`) to `path` in row groups of `row_group_rows` rows.
pub fn write_table(
    path: impl AsRef<Path>,
    specs: &[ColumnSpec],
    columns: &[ColumnData],
    row_group_rows: usize,
    codec: Codec,
) -> Result<u64> {
    let path = path.as_ref();
    ensure!(
        row_group_rows > 0,
        "{}: row_group_rows must be positive",
        path.display()
    );
    let rows = columns.first().map_or(0, |c| c.values.len());
    if let Some(column) = columns.iter().position(|c| c.values.len() != rows) {
        bail!(
            "{}: column {column} has {} rows, column 0 has {rows}",
            path.display(),
            columns[column].values.len()
        );
    }
    let mut writer = ParquetTableWriter::create(path, specs, codec)?;
    for start in (0..rows).step_by(row_group_rows) {
        writer.write_rows(columns, start..rows.min(start + row_group_rows))?;
    }
    writer.finish()
}
