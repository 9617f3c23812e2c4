//! One day of TorchRec's preprocessed Criteo: three row-aligned `.npy` arrays.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{NpyArray, NpyError, NpyErrorKind};

/// One day of TorchRec's preprocessed Criteo: row-aligned sparse ids, dense features and labels.
#[derive(Debug)]
pub struct CriteoNpyDay {
    /// `{prefix}_sparse.npy`: (rows, 26) integer ids.
    pub sparse: NpyArray,
    /// `{prefix}_dense.npy`: (rows, 13) dense features.
    pub dense: NpyArray,
    /// `{prefix}_labels.npy`: (rows,) or (rows, 1) labels.
    pub labels: NpyArray,
}

impl CriteoNpyDay {
    /// Opens a day from its prefix (`DIR/day_0`) or any of its three files, and checks that
    /// the arrays agree: sparse and dense 2-D, integer ids, one label column, equal row counts.
    pub fn open(path: impl AsRef<Path>) -> Result<CriteoNpyDay, NpyError> {
        let [sparse, dense, labels] = Self::paths(path.as_ref());
        let day = CriteoNpyDay {
            sparse: NpyArray::open(&sparse)?,
            dense: NpyArray::open(&dense)?,
            labels: NpyArray::open(&labels)?,
        };
        for array in [&day.sparse, &day.dense] {
            if array.ndim() != 2 {
                return Err(array.err(NpyErrorKind::NotMatrix {
                    name: file_name(array.path()),
                    shape: array.shape_text(),
                }));
            }
        }
        if !day.sparse.dtype().is_integer() {
            return Err(day.sparse.err(NpyErrorKind::WrongDtype {
                what: "sparse ids",
                expected: "an integer dtype",
                dtype: day.sparse.dtype(),
            }));
        }
        if day.labels.cols() != 1 {
            return Err(day
                .labels
                .err(NpyErrorKind::LabelColumns(day.labels.cols())));
        }
        for other in [&day.dense, &day.labels] {
            if other.rows() != day.sparse.rows() {
                return Err(other.err(NpyErrorKind::RowMismatch {
                    first: file_name(day.sparse.path()),
                    first_rows: day.sparse.rows(),
                    other: file_name(other.path()),
                    other_rows: other.rows(),
                }));
            }
        }
        Ok(day)
    }

    /// The sparse, dense and labels paths of a day given its prefix or one of its files.
    pub fn paths(path: &Path) -> [PathBuf; 3] {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let prefix = ["_sparse.npy", "_dense.npy", "_labels.npy"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .map_or_else(|| path.to_path_buf(), |stem| path.with_file_name(stem));
        ["_sparse.npy", "_dense.npy", "_labels.npy"].map(|suffix| {
            let mut name = OsString::from(prefix.as_os_str());
            name.push(suffix);
            PathBuf::from(name)
        })
    }

    /// Rows in the day (all three arrays agree).
    pub fn rows(&self) -> usize {
        self.sparse.rows()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
