//! Tests of the `.npy` reader and writer: round trips and hostile files.

use std::fs;
use std::path::{Path, PathBuf};

use super::npy::{CriteoNpyDay, NpyArray, NpyDtype, NpyErrorKind, NpyWriter};

/// A hand-made `.npy` file: version 1.0, `dict` padded to 64 bytes, then `data`.
fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    let total = (10 + header.len() + 1).next_multiple_of(64);
    header.resize(total - 11, b' ');
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(data);
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn open_err(path: &Path) -> (NpyErrorKind, String) {
    let err = NpyArray::open(path).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    (err.kind, message)
}

#[test]
fn i32_and_i64_matrices_round_trip_in_row_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<i64> = (0..7 * 26).map(|i| i * 1_000_003 - 50).collect();
    let path64 = dir.path().join("a64.npy");
    let mut writer = NpyWriter::create(&path64, NpyDtype::I64, 26).unwrap();
    writer.write_i64(&ids[..30]).unwrap(); // partial rows across calls are fine
    writer.write_i64(&ids[30..]).unwrap();
    assert_eq!(writer.finish().unwrap(), 7);
    let path32 = dir.path().join("a32.npy");
    let mut writer = NpyWriter::create(&path32, NpyDtype::I32, 26).unwrap();
    let ids32: Vec<i32> = ids.iter().map(|&v| i32::try_from(v).unwrap()).collect();
    writer.write_i32(&ids32).unwrap();
    writer.finish().unwrap();

    let mut out = Vec::new();
    for (path, dtype) in [(&path64, NpyDtype::I64), (&path32, NpyDtype::I32)] {
        let array = NpyArray::open(path).unwrap();
        assert_eq!((array.rows(), array.cols(), array.ndim()), (7, 26, 2));
        assert_eq!(array.dtype(), dtype);
        array.ints(0..7, &mut out).unwrap();
        assert_eq!(out, ids);
        array.ints(2..5, &mut out).unwrap();
        assert_eq!(out, ids[2 * 26..5 * 26]);
        array.ints(7..7, &mut out).unwrap();
        assert!(out.is_empty());
        let err = array.ints(3..8, &mut out).unwrap_err();
        assert!(
            matches!(err.kind, NpyErrorKind::RowRange { rows: 7, .. }),
            "{err}"
        );
    }
    // The data starts 64-byte aligned, as numpy requires of its own files.
    let bytes = fs::read(&path64).unwrap();
    let header_len = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    assert_eq!((10 + header_len) % 64, 0);
    assert!(bytes[..10 + header_len].ends_with(b"\n"));
}

#[test]
fn f32_matrix_and_labels_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let dense: Vec<f32> = (0..5 * 13).map(|i| i as f32 * 0.25 - 3.0).collect();
    let path = dir.path().join("dense.npy");
    let mut writer = NpyWriter::create(&path, NpyDtype::F32, 13).unwrap();
    writer.write_f32(&dense).unwrap();
    writer.finish().unwrap();
    let array = NpyArray::open(&path).unwrap();
    let mut out = Vec::new();
    array.floats(1..5, &mut out).unwrap();
    assert_eq!(out, dense[13..]);
    let err = array.ints(0..1, &mut Vec::new()).unwrap_err();
    assert!(matches!(err.kind, NpyErrorKind::WrongDtype { .. }), "{err}");

    let labels = [0_u8, 1, 1, 0, 1];
    for dtype in [NpyDtype::Bool, NpyDtype::U8] {
        let path = dir.path().join(format!("labels_{dtype:?}.npy"));
        let mut writer = NpyWriter::create_1d(&path, dtype).unwrap();
        writer.write_u8(&labels).unwrap();
        writer.finish().unwrap();
        let array = NpyArray::open(&path).unwrap();
        assert_eq!((array.rows(), array.cols(), array.ndim()), (5, 1, 1));
        array.labels(0..5, &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0, 1.0, 0.0, 1.0]);
    }
}

#[test]
fn writer_rejects_other_dtypes_and_partial_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = NpyWriter::create(dir.path().join("w.npy"), NpyDtype::I32, 3).unwrap();
    let err = writer.write_i64(&[1]).unwrap_err();
    assert!(matches!(err.kind, NpyErrorKind::WrongDtype { .. }), "{err}");
    writer.write_i32(&[1, 2, 3, 4]).unwrap();
    let err = writer.finish().unwrap_err();
    assert!(
        matches!(err.kind, NpyErrorKind::PartialRow { values: 4, cols: 3 }),
        "{err}"
    );
}

#[test]
fn numpy_written_headers_parse_in_any_version() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = [3_i64, -4, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    // As numpy 1.x and 2.x write it, with Python 2's long suffix, and with double quotes.
    for dict in [
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3L, 1L), }",
        "{\"shape\": (3, 1), \"fortran_order\": False, \"descr\": \"=i8\"}",
    ] {
        let path = write(dir.path(), "v1.npy", &raw_npy(dict, &data));
        let mut out = Vec::new();
        NpyArray::open(&path).unwrap().ints(0..3, &mut out).unwrap();
        assert_eq!(out, [3, -4, 5], "{dict}");
    }
    // Version 2.0: a u32 header length.
    let mut v2 = raw_npy(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        &data,
    );
    v2[6] = 2;
    v2.splice(8..10, [v2[8], v2[9], 0, 0]);
    let path = write(dir.path(), "v2.npy", &v2);
    assert_eq!(NpyArray::open(&path).unwrap().rows(), 3);
}

#[test]
fn truncated_and_padded_files_name_the_byte_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.npy");
    let mut writer = NpyWriter::create(&path, NpyDtype::I64, 26).unwrap();
    writer.write_i64(&[7; 4 * 26]).unwrap();
    writer.finish().unwrap();
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let (kind, message) = open_err(&path);
    assert!(
        matches!(
            kind,
            NpyErrorKind::Truncated {
                expected: 832,
                actual: 829,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("832") && message.contains("829"),
        "{message}"
    );
    let mut longer = bytes.clone();
    longer.push(0);
    fs::write(&path, &longer).unwrap();
    assert!(matches!(
        open_err(&path).0,
        NpyErrorKind::TrailingBytes { .. }
    ));
    // Cut inside the header: every prefix fails cleanly.
    for len in 0..80 {
        fs::write(&path, &bytes[..len]).unwrap();
        NpyArray::open(&path).unwrap_err();
    }
}

/// A hostile file's name, bytes, and the error it must give.
type Case = (&'static str, Vec<u8>, fn(&NpyErrorKind) -> bool);

#[test]
fn hostile_headers_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let eight = [0_u8; 8];
    let cases: [Case; 10] = [
        ("magic", b"PK\x03\x04 not numpy".to_vec(), |k| {
            matches!(k, NpyErrorKind::BadMagic)
        }),
        ("version", b"\x93NUMPY\x04\x00\x00\x00".to_vec(), |k| {
            matches!(k, NpyErrorKind::Version(4, 0))
        }),
        (
            "fortran",
            raw_npy(
                "{'descr': '<i8', 'fortran_order': True, 'shape': (1, 1), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::FortranOrder),
        ),
        (
            "big-endian",
            raw_npy(
                "{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::BigEndian(d) if d == ">i8"),
        ),
        (
            "zero-dim",
            raw_npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::Shape(s) if s == "()"),
        ),
        (
            "3-D",
            raw_npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1, 1), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::Shape(_)),
        ),
        (
            "structured",
            raw_npy(
                "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::Dtype(_)),
        ),
        (
            "overflowing shape",
            raw_npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                &eight,
            ),
            |k| matches!(k, NpyErrorKind::TooLarge(_)),
        ),
        (
            "empty but overflowing rows",
            raw_npy(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 4611686018427387904), }",
                &[],
            ),
            |k| matches!(k, NpyErrorKind::TooLarge(_)),
        ),
        (
            "missing key",
            raw_npy("{'descr': '<i8', 'shape': (1,), }", &eight),
            |k| matches!(k, NpyErrorKind::Header(m) if m.contains("fortran_order")),
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = write(dir.path(), "h.npy", &bytes);
        let (kind, message) = open_err(&path);
        assert!(expected(&kind), "{name}: {message}");
    }
}

#[test]
fn labels_other_than_zero_and_one_name_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.npy");
    let mut writer = NpyWriter::create_1d(&path, NpyDtype::F32).unwrap();
    writer.write_f32(&[0.0, 1.0, 1.0, 0.5, 0.0]).unwrap();
    writer.finish().unwrap();
    let array = NpyArray::open(&path).unwrap();
    let mut out = Vec::new();
    array.labels(0..3, &mut out).unwrap();
    let err = array.labels(1..5, &mut out).unwrap_err();
    assert!(
        matches!(err.kind, NpyErrorKind::Label { row: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("row 3: label 0.5 is not 0 or 1"),
        "{err}"
    );

    let path = dir.path().join("int_labels.npy");
    let mut writer = NpyWriter::create(&path, NpyDtype::I64, 1).unwrap();
    writer.write_i64(&[1, 0, 4_294_967_297]).unwrap(); // 2^32 + 1: not 1 in any width
    writer.finish().unwrap();
    let err = NpyArray::open(&path)
        .unwrap()
        .labels(0..3, &mut out)
        .unwrap_err();
    assert!(
        matches!(err.kind, NpyErrorKind::Label { row: 2, .. }),
        "{err}"
    );
}

/// Writes one Criteo day's arrays under `dir` with the given row counts.
fn write_day(dir: &Path, sparse_rows: usize, dense_rows: usize, label_rows: usize) -> PathBuf {
    let prefix = dir.join("day_0");
    let [sparse, dense, labels] = CriteoNpyDay::paths(&prefix);
    let mut writer = NpyWriter::create(sparse, NpyDtype::I32, 26).unwrap();
    writer.write_i32(&vec![1; sparse_rows * 26]).unwrap();
    writer.finish().unwrap();
    let mut writer = NpyWriter::create(dense, NpyDtype::F32, 13).unwrap();
    writer.write_f32(&vec![0.5; dense_rows * 13]).unwrap();
    writer.finish().unwrap();
    let mut writer = NpyWriter::create_1d(labels, NpyDtype::I32).unwrap();
    writer.write_i32(&vec![1; label_rows]).unwrap();
    writer.finish().unwrap();
    prefix
}

#[test]
fn criteo_day_opens_from_prefix_or_file_and_checks_row_counts() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = write_day(dir.path(), 10, 10, 10);
    for path in [prefix.clone(), dir.path().join("day_0_sparse.npy")] {
        let day = CriteoNpyDay::open(&path).unwrap();
        assert_eq!(
            (day.rows(), day.sparse.cols(), day.dense.cols()),
            (10, 26, 13)
        );
    }
    let prefix = write_day(dir.path(), 1000, 1000, 999);
    let err = CriteoNpyDay::open(&prefix).unwrap_err();
    assert!(
        matches!(err.kind, NpyErrorKind::RowMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("day_0_sparse.npy has 1000 rows but day_0_labels.npy has 999"),
        "{err}"
    );
    let err = CriteoNpyDay::open(dir.path().join("day_1")).unwrap_err();
    assert!(matches!(err.kind, NpyErrorKind::Io(_)), "{err}");
    assert!(err.to_string().contains("day_1_sparse.npy"), "{err}");
}

#[test]
fn criteo_day_needs_a_2d_sparse_array() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = write_day(dir.path(), 4, 4, 4);
    let mut writer =
        NpyWriter::create_1d(dir.path().join("day_0_sparse.npy"), NpyDtype::I64).unwrap();
    writer.write_i64(&[1, 2, 3, 4]).unwrap();
    writer.finish().unwrap();
    let err = CriteoNpyDay::open(&prefix).unwrap_err();
    assert!(matches!(err.kind, NpyErrorKind::NotMatrix { .. }), "{err}");
}

proptest::proptest! {
    /// Any bytes after the magic fail (or parse) without a panic.
    #[test]
    fn arbitrary_headers_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&tail);
        let path = write(dir.path(), "p.npy", &bytes);
        let _ = NpyArray::open(&path);
    }
}
