//! The TSV/CSV reader of integer-id tables: a label and one id per feature a line.
//!
//! Records are read with the `csv` crate (RFC 4180: quoted fields, CRLF, a leading UTF-8
//! BOM), so a file another tool wrote with quotes reads the same as a plain one. Errors name
//! `file:line:col`; the column is counted in characters from the record's fields, which is
//! exact for unquoted fields (the common case) and points at the field otherwise.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{Result, bail};
use csv::StringRecord;

use super::data::{FeatureSpec, open};
use super::split::Split;

/// How to read a delimited file of `label` + categorical ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableOptions {
    /// Field separator (`\t` for TSV, `,` for CSV).
    pub delimiter: u8,
    /// Whether the first line names the columns.
    pub header: bool,
    /// Whether header columns that are neither `label` nor a feature are skipped (else an error).
    pub ignore_extra_columns: bool,
}

impl TableOptions {
    /// Options for `path`: comma-separated if it ends in `.csv`, tab-separated otherwise.
    pub fn for_path(path: &Path, header: bool, ignore_extra_columns: bool) -> TableOptions {
        let csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        TableOptions {
            delimiter: if csv { b',' } else { b'\t' },
            header,
            ignore_extra_columns,
        }
    }
}

/// What a column of a delimited file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Label,
    Feature(usize),
    Ignored,
}

/// A problem with one record, before it is located in its file: the field it is in (if
/// one) and what was expected.
struct RecordError {
    field: Option<usize>,
    message: String,
}

fn record_error(field: Option<usize>, message: String) -> RecordError {
    RecordError { field, message }
}

/// The 1-based character column where field `i` of `record` starts. Counted only on error:
/// counting characters on every field would cost more than parsing it.
fn char_col(record: &StringRecord, i: usize) -> usize {
    record
        .iter()
        .take(i)
        .map(|f| f.chars().count() + 1)
        .sum::<usize>()
        + 1
}

/// The 1-based line of the record at byte `offset` of the input, counted by reading it
/// again from the start: the `csv` crate's own line numbers skip blank lines, and its record
/// offsets point before the blank lines it skipped. Runs once, on the error that ends the
/// reading.
fn line_at<R: Read + Seek>(csv: &mut csv::Reader<R>, offset: u64, fallback: u64) -> u64 {
    let inner = csv.get_mut();
    if inner.seek(SeekFrom::Start(0)).is_err() {
        return fallback;
    }
    let mut lines = 1u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0u64;
    loop {
        let n = match inner.read(&mut buf) {
            Ok(0) | Err(_) => return lines,
            Ok(n) => n,
        };
        let before = usize::try_from(offset.saturating_sub(at)).map_or(n, |k| k.min(n));
        lines += memchr::memchr_iter(b'\n', &buf[..before]).count() as u64;
        at += before as u64;
        for &b in &buf[before..n] {
            // Before the offset every newline counts; after it, only those of the empty
            // lines the reader skipped, up to the record's first byte.
            if at >= offset && b != b'\n' && b != b'\r' {
                return lines;
            }
            lines += u64::from(b == b'\n');
            at += 1;
        }
    }
}

/// Reads a TSV/CSV file of a label and one integer id per feature.
///
/// Errors name `file:line:col`, the value found and what was expected.
pub fn read_table(path: &Path, features: &[FeatureSpec], opts: TableOptions) -> Result<Split> {
    read_table_from(&path.display().to_string(), open(path)?, features, opts)
}

/// [`read_table`] over any reader; errors name `origin:line:col`.
pub fn read_table_from<R: Read + Seek>(
    origin: &str,
    reader: R,
    features: &[FeatureSpec],
    opts: TableOptions,
) -> Result<Split> {
    let nf = features.len();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(reader);
    let mut record = StringRecord::new();
    let mut columns = (!opts.header).then(|| {
        std::iter::once(Column::Label)
            .chain((0..nf).map(Column::Feature))
            .collect::<Vec<_>>()
    });
    let mut split = Split::default();
    let mut row = vec![0u32; nf];
    loop {
        let read = next_record(&mut csv, &mut record);
        let outcome = match (&read, &columns) {
            (Ok(false), _) => break,
            (Err(e), _) => Err(record_error(None, format!("cannot read the record: {e}"))),
            (Ok(true), None) => header_columns(&record, features, opts).map(|c| columns = Some(c)),
            (Ok(true), Some(columns)) => {
                read_row(&record, columns, features, opts, &mut row).map(|label| {
                    split.labels.push(label);
                    split.ids.extend_from_slice(&row);
                })
            }
        };
        if let Err(e) = outcome {
            let position = match &read {
                Err(err) => err.position().cloned(),
                Ok(_) => record.position().cloned(),
            };
            let (byte, fallback) = position.map_or((0, 0), |p| (p.byte(), p.line()));
            let line = line_at(&mut csv, byte, fallback);
            let col = e.field.map(|i| format!(":{}", char_col(&record, i)));
            bail!("{origin}:{line}{}: {}", col.unwrap_or_default(), e.message);
        }
    }
    if columns.is_none() {
        bail!("{origin}: the file is empty: expected a header line");
    }
    Ok(split)
}

/// Reads the next record that is not blank; false at the end.
fn next_record<R: Read>(csv: &mut csv::Reader<R>, record: &mut StringRecord) -> csv::Result<bool> {
    loop {
        if !csv.read_record(record)? {
            return Ok(false);
        }
        if !(record.len() == 1 && record[0].trim().is_empty()) {
            return Ok(true);
        }
    }
}

/// One data row: its ids into `row`, its label returned.
fn read_row(
    record: &StringRecord,
    columns: &[Column],
    features: &[FeatureSpec],
    opts: TableOptions,
    row: &mut [u32],
) -> Result<f32, RecordError> {
    let (expected, total) = (columns.len(), record.len());
    if total != expected {
        let what = if opts.header {
            "as in the header".to_string()
        } else {
            format!("label then {} feature ids", features.len())
        };
        return Err(record_error(
            None,
            format!("expected {expected} fields ({what}), found {total}"),
        ));
    }
    let mut label = 0.0;
    for (i, (field, role)) in record.iter().zip(columns).enumerate() {
        match *role {
            Column::Label => label = parse_label(field).map_err(|m| record_error(Some(i), m))?,
            Column::Feature(f) => {
                row[f] = parse_id(field, &features[f]).map_err(|m| record_error(Some(i), m))?;
            }
            Column::Ignored => {}
        }
    }
    Ok(label)
}

/// A label: 0 or 1, or a probability in [0, 1].
fn parse_label(field: &str) -> Result<f32, String> {
    match field.trim().parse::<f32>() {
        Ok(y) if (0.0..=1.0).contains(&y) => Ok(y),
        _ => Err(format!(
            "expected a label 0 or 1 (or a probability in [0, 1]), found '{field}'"
        )),
    }
}

/// The column roles given by a header line.
fn header_columns(
    record: &StringRecord,
    features: &[FeatureSpec],
    opts: TableOptions,
) -> Result<Vec<Column>, RecordError> {
    let by_name: HashMap<&str, usize> = features
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let mut columns = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in record.iter().enumerate() {
        let name = name.trim();
        let fail = |message: String| Err(record_error(Some(i), message));
        if let Some(first) = seen.insert(name, char_col(record, i)) {
            return fail(format!(
                "column '{name}' appears twice (first at column {first})"
            ));
        }
        let role = if name == "label" {
            Column::Label
        } else if let Some(&f) = by_name.get(name) {
            Column::Feature(f)
        } else if opts.ignore_extra_columns {
            Column::Ignored
        } else if name.parse::<f64>().is_ok() {
            return fail(format!(
                "expected a header naming 'label' and the plan's features, found the number '{name}': pass --no-header if the file starts with data"
            ));
        } else {
            let hint = crate::source::did_you_mean(
                name,
                std::iter::once("label").chain(features.iter().map(|f| f.name.as_str())),
            );
            return fail(format!(
                "unknown column '{name}'{hint}: expected 'label' or one of the plan's features ({}); pass --ignore-extra-columns to skip it",
                feature_list(features)
            ));
        };
        columns.push(role);
    }
    if !columns.contains(&Column::Label) {
        return Err(record_error(
            None,
            "the header has no 'label' column".into(),
        ));
    }
    if let Some(missing) = features
        .iter()
        .enumerate()
        .find(|(i, _)| !columns.contains(&Column::Feature(*i)))
    {
        return Err(record_error(
            None,
            format!(
                "the header has no column for feature '{}' (every feature of the plan needs one)",
                missing.1.name
            ),
        ));
    }
    Ok(columns)
}

fn feature_list(features: &[FeatureSpec]) -> String {
    let names: Vec<&str> = features.iter().map(|f| f.name.as_str()).take(8).collect();
    let more = if features.len() > 8 { ", …" } else { "" };
    format!("{}{more}", names.join(", "))
}

/// An id of feature `f`, in [0, cardinality).
fn parse_id(field: &str, f: &FeatureSpec) -> Result<u32, String> {
    let value: u64 = field.trim().parse().map_err(|_| {
        format!(
            "expected an integer id of feature '{}' in [0, {}), found '{field}'",
            f.name, f.cardinality
        )
    })?;
    if value >= f.cardinality {
        return Err(format!(
            "id {value} of feature '{}' is out of range: expected an integer in [0, {})",
            f.name, f.cardinality
        ));
    }
    // Cardinalities are checked to fit in u32 before reading (see `check_cardinalities`).
    Ok(value as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn specs() -> Vec<FeatureSpec> {
        ["a", "b"]
            .iter()
            .map(|n| FeatureSpec {
                name: n.to_string(),
                cardinality: 10,
            })
            .collect()
    }

    fn file(text: &str, ext: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    fn read(text: &str, ext: &str, header: bool) -> Result<Split> {
        let f = file(text, ext);
        let opts = TableOptions::for_path(f.path(), header, false);
        read_table(f.path(), &specs(), opts)
    }

    #[test]
    fn header_columns_may_come_in_any_order() {
        let s = read("b,label,a\n3,1,4\n\n9,0,0\n", ".csv", true).unwrap();
        assert_eq!(s.labels, vec![1.0, 0.0]);
        assert_eq!(s.ids, vec![4, 3, 0, 9]);
    }

    #[test]
    fn quoted_fields_bom_and_crlf_read_like_plain_ones() {
        let s = read(
            "\u{feff}label,\"a\",b\r\n\"1\",\"4\",3\r\n0,0,\"9\"\r\n",
            ".csv",
            true,
        )
        .unwrap();
        assert_eq!(s.labels, vec![1.0, 0.0]);
        assert_eq!(s.ids, vec![4, 3, 0, 9]);
    }

    #[test]
    fn errors_name_line_column_and_value() {
        let e = read("1\t3\t10\n", ".tsv", false).unwrap_err().to_string();
        assert!(
            e.ends_with(
                ":1:5: id 10 of feature 'b' is out of range: expected an integer in [0, 10)"
            ),
            "{e}"
        );
        let e = read("label\ta\tb\n1\t3\n", ".tsv", true)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(":2: expected 3 fields (as in the header), found 2"),
            "{e}"
        );
        let e = read("\n  \n", ".tsv", true).unwrap_err().to_string();
        assert!(
            e.ends_with(": the file is empty: expected a header line"),
            "{e}"
        );
        let e = read("label\ta\tb\n\n1\t3\tx\n", ".tsv", true)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(":3:5: expected an integer id of feature 'b' in [0, 10), found 'x'"),
            "{e}"
        );
    }

    #[test]
    fn invalid_utf8_is_a_located_error() {
        let mut f = tempfile::Builder::new().suffix(".tsv").tempfile().unwrap();
        f.write_all(b"label\ta\tb\n\n1\t\xff\t3\n").unwrap();
        let opts = TableOptions::for_path(f.path(), true, false);
        let e = read_table(f.path(), &specs(), opts)
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3: cannot read the record"), "{e}");
    }
}
