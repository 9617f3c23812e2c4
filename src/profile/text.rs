//! Parsing blocks of delimited text (TSV, CSV, Criteo) into batches of packed values.

use std::io::Read;
use std::path::Path;

use anyhow::{Result, anyhow, bail};

use super::input::{Input, RawFormat};
use super::scan::Batch;
use super::value;

/// Criteo's integer (dense) columns.
pub const CRITEO_DENSE: usize = 13;
/// Criteo's categorical columns.
pub const CRITEO_CATEGORICAL: usize = 26;

/// What one column of a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The label, 0 or 1.
    Label,
    /// Categorical column `i` of the batch.
    Categorical(usize),
    /// Dense column `j` (Criteo integers).
    Dense(usize),
    /// Not read.
    Skip,
}

/// The roles of a file's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    /// One role per column, in file order.
    pub columns: Vec<Role>,
    /// Categorical column names, in batch order.
    pub names: Vec<String>,
    /// Dense values per row.
    pub dense: usize,
    /// Field separator.
    pub delimiter: u8,
    /// Whether categorical fields are Criteo hexadecimal ids.
    pub criteo: bool,
}

impl Roles {
    /// Criteo's fixed layout: label, 13 integers, 26 ids named C1..C26; `selected` picks
    /// and orders the categorical columns (default: all, in order).
    pub fn criteo(path: &Path, selected: Option<&[String]>, dense: bool) -> Result<Roles> {
        let all = super::input::criteo_names(CRITEO_CATEGORICAL);
        let names = selected.map_or_else(|| all.clone(), <[String]>::to_vec);
        let mut columns: Vec<Role> = std::iter::once(Role::Label)
            .chain((0..CRITEO_DENSE).map(|j| if dense { Role::Dense(j) } else { Role::Skip }))
            .chain(std::iter::repeat_n(Role::Skip, CRITEO_CATEGORICAL))
            .collect();
        for (i, name) in names.iter().enumerate() {
            let Some(c) = all.iter().position(|a| a == name) else {
                let hint = crate::source::did_you_mean(name, all.iter().map(String::as_str));
                bail!(
                    "{}: the Criteo format has categorical columns C1..C{CRITEO_CATEGORICAL}, not '{name}'{hint}",
                    path.display()
                );
            };
            columns[1 + CRITEO_DENSE + c] = Role::Categorical(i);
        }
        Ok(Roles {
            columns,
            names,
            dense: if dense { CRITEO_DENSE } else { 0 },
            delimiter: b'\t',
            criteo: true,
        })
    }
}

/// Reads the header line of a TSV/CSV file (a UTF-8 BOM is skipped, fields may be quoted);
/// returns the column names and the lines it spanned.
pub fn read_header(
    path: &Path,
    reader: &mut dyn Read,
    format: RawFormat,
) -> Result<(Vec<String>, u64)> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut inside = false;
    let mut lines = 0u64;
    // Byte by byte up to the end of the header record: the rest stays in the reader.
    loop {
        let n = reader
            .read(&mut byte)
            .map_err(|e| anyhow!("cannot read data file '{}': {e}", path.display()))?;
        if n == 0 {
            break;
        }
        match byte[0] {
            b'"' => inside = !inside,
            b'\n' => {
                lines += 1;
                if !inside {
                    break;
                }
            }
            _ => {}
        }
        line.push(byte[0]);
        if line.len() > 1 << 20 {
            bail!(
                "{}:1: the header line is longer than 1 MiB: expected a header naming the columns",
                path.display()
            );
        }
    }
    let origin = path.display();
    let body = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&line);
    let body = std::str::from_utf8(body).map_err(|e| {
        anyhow!(
            "{origin}:1:{}: the header is not UTF-8 text",
            e.valid_up_to() + 1
        )
    })?;
    if body.trim().is_empty() {
        bail!("{origin}: the file is empty: expected a header line naming the columns");
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter(format))
        .from_reader(body.as_bytes());
    let record = csv
        .records()
        .next()
        .transpose()
        .map_err(|e| anyhow!("{origin}:1: cannot read the header: {e}"))?
        .unwrap_or_default();
    Ok((
        record.iter().map(|s| s.trim().to_string()).collect(),
        lines.max(1),
    ))
}

fn delimiter(format: RawFormat) -> u8 {
    if format == RawFormat::Csv {
        b','
    } else {
        b'\t'
    }
}

/// The roles of a TSV/CSV file's columns from its header; `known` are the categorical
/// columns an earlier file fixed.
pub fn table_roles(
    path: &Path,
    header: &[String],
    input: &Input,
    known: Option<&[String]>,
) -> Result<Roles> {
    let origin = path.display();
    let mut seen = std::collections::HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if let Some(first) = seen.insert(name.as_str(), i) {
            bail!(
                "{origin}:1:{}: column '{name}' appears twice (first as column {})",
                i + 1,
                first + 1
            );
        }
    }
    let Some(&label_at) = seen.get(input.label.as_str()) else {
        let hint = crate::source::did_you_mean(&input.label, header.iter().map(String::as_str));
        bail!(
            "{origin}:1: no label column '{}'{hint}: the header has {}; name the label column with --label",
            input.label,
            list(header)
        );
    };
    let names: Vec<String> = match (known, &input.categorical) {
        (Some(k), _) => k.to_vec(),
        (None, Some(cols)) => cols.clone(),
        (None, None) => header
            .iter()
            .filter(|h| **h != input.label)
            .cloned()
            .collect(),
    };
    if names.is_empty() {
        bail!(
            "{origin}:1: no categorical columns: the header has only the label column '{}'",
            input.label
        );
    }
    let mut columns = vec![Role::Skip; header.len()];
    columns[label_at] = Role::Label;
    for (i, name) in names.iter().enumerate() {
        let Some(&at) = seen.get(name.as_str()) else {
            let hint = crate::source::did_you_mean(name, header.iter().map(String::as_str));
            bail!(
                "{origin}:1: no column '{name}'{hint}: the header has {}",
                list(header)
            );
        };
        if at == label_at {
            bail!("{origin}:1: column '{name}' is the label: it cannot also be categorical");
        }
        columns[at] = Role::Categorical(i);
    }
    Ok(Roles {
        columns,
        names,
        dense: 0,
        delimiter: delimiter(input.format),
        criteo: false,
    })
}

fn list(header: &[String]) -> String {
    let shown: Vec<String> = header.iter().take(8).map(|h| format!("'{h}'")).collect();
    let more = if header.len() > 8 {
        format!(" and {} more", header.len() - 8)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

/// Parses a block of whole records starting at line `first_line` of `path` into `batch`.
pub fn parse_block(
    path: &Path,
    first_line: u64,
    data: &[u8],
    roles: &Roles,
    batch: &mut Batch,
) -> Result<()> {
    if let Err(e) = std::str::from_utf8(data) {
        let bad = e.valid_up_to();
        let (line, col) = line_col(data, bad);
        bail!(
            "{}:{}:{col}: invalid UTF-8 byte 0x{:02x}: expected UTF-8 text",
            path.display(),
            first_line + line,
            data[bad]
        );
    }
    let quoted = !roles.criteo && memchr::memchr(b'"', data).is_some();
    if quoted {
        parse_quoted(path, first_line, data, roles, batch)
    } else {
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', data).chain(std::iter::once(data.len()));
        for (line, end) in (first_line..).zip(ends) {
            if start < data.len() {
                let mut record = &data[start..end];
                if let Some(r) = record.strip_suffix(b"\r") {
                    record = r;
                }
                if !record.iter().all(u8::is_ascii_whitespace) {
                    let fields = Fields::new(record, roles.delimiter);
                    parse_record(fields, roles, batch)
                        .map_err(|e| e.locate(path, line, Some(record), roles.delimiter))?;
                }
            }
            start = end + 1;
        }
        Ok(())
    }
}

/// The fields of an unquoted record, split where the delimiter occurs exactly as
/// `slice::split` splits them, eight bytes at a time: a word's delimiter bytes become a bit
/// mask (exact: no borrow crosses lanes), and each field end is its lowest set bit. Criteo's
/// rows hold a tab every nine bytes or so, so testing byte by byte cost more than the
/// fields' parsing.
struct Fields<'a> {
    record: &'a [u8],
    /// Start of the next field.
    start: usize,
    /// Start of the word `mask` describes.
    word: usize,
    /// Delimiter positions in that word not yet returned (bit 8i + 7 for byte i).
    mask: u64,
    /// The delimiter in every lane.
    pattern: u64,
    done: bool,
}

impl<'a> Fields<'a> {
    fn new(record: &'a [u8], delimiter: u8) -> Self {
        let pattern = u64::from_ne_bytes([delimiter; 8]);
        let mut fields = Fields {
            record,
            start: 0,
            word: 0,
            mask: 0,
            pattern,
            done: false,
        };
        fields.mask = fields.delimiters_at(0);
        fields
    }

    /// The delimiter bit mask of the (up to) eight bytes from `at`.
    fn delimiters_at(&self, at: usize) -> u64 {
        const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
        let rest = &self.record[at.min(self.record.len())..];
        let word = if let Some(eight) = rest.first_chunk::<8>() {
            u64::from_le_bytes(*eight)
        } else {
            // The record's last bytes; lanes past its end must not match the delimiter.
            let mut bytes = [!self.pattern as u8; 8];
            bytes[..rest.len()].copy_from_slice(rest);
            u64::from_le_bytes(bytes)
        };
        let x = word ^ self.pattern; // zero where a delimiter is
        !(((x & LOW7) + LOW7) | x | LOW7)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.done {
            return None;
        }
        while self.mask == 0 {
            self.word += 8;
            if self.word >= self.record.len() {
                self.done = true;
                return Some(&self.record[self.start.min(self.record.len())..]);
            }
            self.mask = self.delimiters_at(self.word);
        }
        let end = self.word + (self.mask.trailing_zeros() / 8) as usize;
        self.mask &= self.mask - 1;
        let field = &self.record[self.start..end];
        self.start = end + 1;
        Some(field)
    }
}

/// RFC 4180 records (quoted fields may hold delimiters, quotes and newlines).
fn parse_quoted(
    path: &Path,
    first_line: u64,
    data: &[u8],
    roles: &Roles,
    batch: &mut Batch,
) -> Result<()> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(roles.delimiter)
        .from_reader(data);
    let mut record = csv::ByteRecord::new();
    loop {
        let more = csv.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() - 1);
            anyhow!("{}:{}: {e}", path.display(), first_line + line)
        })?;
        if !more {
            return Ok(());
        }
        if record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line = first_line + record.position().map_or(0, |p| p.line() - 1);
        parse_record(record.iter(), roles, batch)
            .map_err(|e| e.locate(path, line, None, roles.delimiter))?;
    }
}

/// A record error before it is located in its file: the field it is in, if one.
struct FieldError {
    field: Option<usize>,
    message: String,
}

impl FieldError {
    /// `path:line:col: message` when the record's raw bytes are known, else
    /// `path:line: field k: message` (quoted records).
    fn locate(self, path: &Path, line: u64, record: Option<&[u8]>, delimiter: u8) -> anyhow::Error {
        match (self.field, record) {
            (Some(field), Some(record)) => {
                let col = record
                    .split(|&b| b == delimiter)
                    .take(field)
                    .map(|f| String::from_utf8_lossy(f).chars().count() + 1)
                    .sum::<usize>()
                    + 1;
                anyhow!("{}:{line}:{col}: {}", path.display(), self.message)
            }
            (Some(field), None) => anyhow!(
                "{}:{line}: field {}: {}",
                path.display(),
                field + 1,
                self.message
            ),
            (None, _) => anyhow!("{}:{line}: {}", path.display(), self.message),
        }
    }
}

fn parse_record<'a>(
    fields: impl Iterator<Item = &'a [u8]>,
    roles: &Roles,
    batch: &mut Batch,
) -> Result<(), FieldError> {
    let err = |field: usize, message: String| FieldError {
        field: Some(field),
        message,
    };
    let start = batch.keys.len();
    let n_cat = roles.names.len();
    batch.keys.resize(start + n_cat, 0);
    let dense_start = batch.dense.len();
    batch.dense.resize(dense_start + roles.dense, 0.0);
    let mut count = 0;
    let mut label = None;
    for (i, field) in fields.enumerate() {
        count += 1;
        let Some(role) = roles.columns.get(i) else {
            continue;
        };
        match *role {
            Role::Label => {
                label = Some(match field.trim_ascii() {
                    b"0" | b"0.0" => 0.0,
                    b"1" | b"1.0" => 1.0,
                    other => {
                        return Err(err(
                            i,
                            format!("expected a label 0 or 1, found '{}'", short(other)),
                        ));
                    }
                });
            }
            Role::Categorical(c) => {
                batch.keys[start + c] = if roles.criteo {
                    value::pack_criteo(field, &mut batch.arena)
                } else {
                    value::pack_text(field, &mut batch.arena)
                };
            }
            Role::Dense(j) => {
                let x: f64 = if field.is_empty() {
                    0.0
                } else {
                    std::str::from_utf8(field)
                        .ok()
                        .and_then(|s| s.trim().parse::<i64>().ok())
                        .ok_or_else(|| {
                            err(i, format!("expected an integer (or nothing) in dense column I{}, found '{}'", j + 1, short(field)))
                        })? as f64
                };
                batch.dense[dense_start + j] = x.max(0.0).ln_1p() as f32;
            }
            Role::Skip => {}
        }
    }
    if count != roles.columns.len() {
        let what = if roles.criteo {
            format!(
                "label, {CRITEO_DENSE} integers, {} categorical",
                roles.names.len()
            )
        } else {
            "as in the header".to_string()
        };
        return Err(FieldError {
            field: None,
            message: format!(
                "expected {} fields ({what}), found {count}",
                roles.columns.len()
            ),
        });
    }
    batch.labels.push(label.unwrap_or_default());
    Ok(())
}

fn short(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.into_owned()
    }
}

/// 0-based line and 1-based column (in characters) of byte `at` in a block.
fn line_col(data: &[u8], at: usize) -> (u64, usize) {
    let before = &data[..at];
    let line = memchr::memchr_iter(b'\n', before).count() as u64;
    let start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::Fields;
    use proptest::prelude::*;

    fn split(record: &[u8], delimiter: u8) -> Vec<&[u8]> {
        record.split(|&b| b == delimiter).collect()
    }

    #[test]
    fn fields_split_as_slice_split_does() {
        for record in [
            &b""[..],
            b"\t",
            b"a",
            b"a\tb",
            b"\ta\t\tb\t",
            b"0\t\t\t1f\tabc",
            b"12345678\t12345678\t1234567",
            b"1234567\t",
        ] {
            assert_eq!(
                Fields::new(record, b'\t').collect::<Vec<_>>(),
                split(record, b'\t')
            );
        }
    }

    proptest! {
        #[test]
        fn fields_match_slice_split(
            record in proptest::collection::vec(prop_oneof![Just(b'\t'), Just(b','), Just(0u8), Just(0x89u8), 0u8..=255], 0..100),
            comma in any::<bool>(),
        ) {
            let delimiter = if comma { b',' } else { b'\t' };
            prop_assert_eq!(Fields::new(&record, delimiter).collect::<Vec<_>>(), split(&record, delimiter));
        }
    }
}
