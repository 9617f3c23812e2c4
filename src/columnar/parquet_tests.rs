//! Tests of the Parquet reader and writer: round trips across row groups, nulls, bad input.

use std::fs;
use std::path::Path;

use anyhow::Result;

use super::parquet_io::{
    Codec, ColumnBatch, ColumnData, ColumnSpec, ColumnType, ParquetTable, PhysicalType,
    UnknownColumn, Values, write_table,
};

/// Concatenates `strings` into the flat bytes + offsets form.
fn strings(values: &[&str]) -> Values {
    let mut bytes = Vec::new();
    let mut offsets = vec![0];
    for v in values {
        bytes.extend_from_slice(v.as_bytes());
        offsets.push(bytes.len());
    }
    Values::Strings { bytes, offsets }
}

/// A table of `rows` rows: a label, an INT64 id, a nullable id, a string and a nullable string.
fn sample(rows: usize) -> (Vec<ColumnSpec>, Vec<ColumnData>) {
    let specs = vec![
        ColumnSpec::new("label", ColumnType::Int32),
        ColumnSpec::new("C1", ColumnType::Int64),
        ColumnSpec {
            nullable: true,
            ..ColumnSpec::new("C2", ColumnType::Int64)
        },
        ColumnSpec::new("C3", ColumnType::Utf8),
        ColumnSpec {
            nullable: true,
            ..ColumnSpec::new("C4", ColumnType::Utf8)
        },
        ColumnSpec::new("I1", ColumnType::Double),
    ];
    let c2_nulls: Vec<bool> = (0..rows).map(|r| r % 3 == 0).collect();
    let c4_nulls: Vec<bool> = (0..rows).map(|r| r % 4 == 1).collect();
    let c3: Vec<String> = (0..rows).map(|r| format!("cat{}", r % 7)).collect();
    let c4: Vec<String> = (0..rows)
        .map(|r| {
            if c4_nulls[r] {
                String::new()
            } else {
                format!("é{r}")
            }
        })
        .collect();
    let columns = vec![
        ColumnData {
            values: Values::Ints((0..rows).map(|r| (r % 2) as i64).collect()),
            nulls: None,
        },
        ColumnData {
            values: Values::Ints((0..rows).map(|r| r as i64 * 7_919 - (1 << 40)).collect()),
            nulls: None,
        },
        ColumnData {
            values: Values::Ints(
                (0..rows)
                    .map(|r| if c2_nulls[r] { 0 } else { r as i64 })
                    .collect(),
            ),
            nulls: Some(c2_nulls),
        },
        ColumnData {
            values: strings(&c3.iter().map(String::as_str).collect::<Vec<_>>()),
            nulls: None,
        },
        ColumnData {
            values: strings(&c4.iter().map(String::as_str).collect::<Vec<_>>()),
            nulls: Some(c4_nulls),
        },
        ColumnData {
            values: Values::Floats((0..rows).map(|r| r as f64 / 3.0).collect()),
            nulls: None,
        },
    ];
    (specs, columns)
}

/// Reads the named columns back whole, checking that no batch crosses a row group.
fn read_all(table: &ParquetTable, names: &[&str], batch_rows: usize) -> Result<Vec<ColumnBatch>> {
    let mut batches = Vec::new();
    table.read_columns(names, batch_rows, |batch| {
        assert!(batch.rows <= batch_rows);
        batches.push(batch.clone());
        Ok(())
    })?;
    Ok(batches)
}

/// Concatenates batches of one column back into one `ColumnData`.
fn concat(batches: &[ColumnBatch], column: usize) -> ColumnData {
    let mut out = batches[0].columns[column].clone();
    for batch in &batches[1..] {
        let next = &batch.columns[column];
        match (&mut out.values, &next.values) {
            (Values::Ints(a), Values::Ints(b)) => a.extend_from_slice(b),
            (Values::Floats(a), Values::Floats(b)) => a.extend_from_slice(b),
            (
                Values::Strings { bytes, offsets },
                Values::Strings {
                    bytes: b,
                    offsets: o,
                },
            ) => {
                let base = bytes.len();
                bytes.extend_from_slice(b);
                offsets.extend(o[1..].iter().map(|x| x + base));
            }
            _ => panic!("mixed value kinds"),
        }
        if let (Some(a), Some(b)) = (&mut out.nulls, &next.nulls) {
            a.extend_from_slice(b);
        }
    }
    out
}

#[test]
fn ints_strings_floats_and_nulls_round_trip_across_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (specs, columns) = sample(1000);
    for codec in [Codec::Snappy, Codec::Zstd, Codec::Uncompressed] {
        let path = dir.path().join(format!("t_{codec:?}.parquet"));
        assert_eq!(
            write_table(&path, &specs, &columns, 300, codec).unwrap(),
            1000
        );
        let table = ParquetTable::open(&path).unwrap();
        assert_eq!((table.rows(), table.row_groups()), (1000, 4));
        let info: Vec<_> = table
            .columns()
            .iter()
            .map(|c| (c.name.as_str(), c.physical_type, c.optional))
            .collect();
        assert_eq!(
            info,
            [
                ("label", PhysicalType::INT32, false),
                ("C1", PhysicalType::INT64, false),
                ("C2", PhysicalType::INT64, true),
                ("C3", PhysicalType::BYTE_ARRAY, false),
                ("C4", PhysicalType::BYTE_ARRAY, true),
                ("I1", PhysicalType::DOUBLE, false),
            ]
        );
        // Out of file order, in batches that do not divide the row groups.
        let names = ["C4", "label", "C2", "C3", "C1", "I1"];
        let batches = read_all(&table, &names, 128).unwrap();
        // 300 = 128 + 128 + 44 per group, then 100 = 100.
        let sizes: Vec<usize> = batches.iter().map(|b| b.rows).collect();
        assert_eq!(
            sizes,
            [128, 128, 44, 128, 128, 44, 128, 128, 44, 100],
            "{codec:?}"
        );
        assert_eq!(batches.last().unwrap().first_row, 900);
        for (i, name) in names.iter().enumerate() {
            let expected = &columns[specs.iter().position(|s| s.name == *name).unwrap()];
            assert_eq!(&concat(&batches, i), expected, "{name} {codec:?}");
        }
        let c4 = batches[0].column("C4").unwrap();
        assert_eq!(c4.values.string(0), Some("é0".as_bytes()));
        assert_eq!(c4.values.string(1), Some(&b""[..]));
        assert_eq!(c4.nulls.as_ref().unwrap()[..3], [false, true, false]);
    }
}

#[test]
fn unknown_column_lists_the_available_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let (specs, columns) = sample(10);
    write_table(&path, &specs, &columns, 4, Codec::Snappy).unwrap();
    let table = ParquetTable::open(&path).unwrap();
    let err = read_all(&table, &["C1", "C9"], 8).unwrap_err();
    let unknown = err
        .downcast_ref::<UnknownColumn>()
        .expect("an UnknownColumn");
    assert_eq!(unknown.column, "C9");
    let message = err.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(
        message.ends_with("no column 'C9'; the columns are: label, C1, C2, C3, C4, I1"),
        "{message}"
    );
}

#[test]
fn writer_checks_columns_against_the_specs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.parquet");
    let specs = [ColumnSpec::new("label", ColumnType::Int32)];
    let too_big = [ColumnData {
        values: Values::Ints(vec![0, 1, 1 << 40]),
        nulls: None,
    }];
    let err = write_table(&path, &specs, &too_big, 10, Codec::Snappy).unwrap_err();
    assert!(
        format!("{err:#}").contains("row 2: 1099511627776 does not fit in INT32"),
        "{err:#}"
    );
    let wrong_kind = [ColumnData {
        values: Values::Floats(vec![0.0]),
        nulls: None,
    }];
    let err = write_table(&path, &specs, &wrong_kind, 10, Codec::Snappy).unwrap_err();
    assert!(
        format!("{err:#}").contains("floats given for a Int32 column"),
        "{err:#}"
    );
    let nulls_on_required = [ColumnData {
        values: Values::Ints(vec![0]),
        nulls: Some(vec![true]),
    }];
    write_table(&path, &specs, &nulls_on_required, 10, Codec::Snappy).unwrap_err();
}

/// Every truncation of a small file, and some overwritten bytes, fail with the file's name.
#[test]
fn truncated_and_corrupt_files_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let (specs, columns) = sample(200);
    write_table(&path, &specs, &columns, 64, Codec::Snappy).unwrap();
    let bytes = fs::read(&path).unwrap();
    let names = ["label", "C1", "C2", "C3", "C4", "I1"];
    let bad = dir.path().join("bad.parquet");
    let check = |bytes: &[u8]| -> Option<String> {
        fs::write(&bad, bytes).unwrap();
        let result = ParquetTable::open(&bad).and_then(|t| read_all(&t, &names, 50).map(drop));
        result.err().map(|err| format!("{err:#}"))
    };
    for len in (0..bytes.len()).step_by(7) {
        let message = check(&bytes[..len]).expect("a truncated file fails");
        assert!(message.contains(&bad.display().to_string()), "{message}");
    }
    // Overwritten data pages: an error or (where a value byte changed) different data, but
    // never a panic.
    for at in (4..bytes.len().saturating_sub(8)).step_by(13) {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0x5A;
        if let Some(message) = check(&corrupt) {
            assert!(message.contains(&bad.display().to_string()), "{message}");
        }
    }
    assert!(check(&bytes).is_none());
    assert!(
        check(b"PAR1 this is not parquet PAR1")
            .unwrap()
            .contains("not a readable Parquet file")
    );
}

#[test]
fn reads_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.parquet");
    let (specs, columns) = sample(0);
    write_table(&path, &specs, &columns, 10, Codec::Zstd).unwrap();
    let table = ParquetTable::open(Path::new(&path)).unwrap();
    assert_eq!(table.rows(), 0);
    assert!(read_all(&table, &["C3"], 10).unwrap().is_empty());
}
