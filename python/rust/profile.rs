//! `embplan.profile`: measure raw data files into a profiled schema (and vocabularies), as
//! `embplan profile` does.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::{Error, invalid_argument, message};
use crate::schema::Schema;
use embplan::profile::{Input, Options, RawFormat, SchemaOrigin, vocab};

/// Profiles data files (tsv, csv, criteo text, .npy days, parquet; .gz/.zst text): every
/// categorical value counted exactly (sketched beyond `memory`), each feature's cardinality
/// its values seen at least `min_count` times plus one out-of-vocabulary id. With `vocab_dir`,
/// also writes one vocabulary file per feature there (raw value -> id, 0 = most frequent).
#[pyfunction]
#[pyo3(signature = (
    paths, *, label = "label".to_string(), categorical = None, data_format = None,
    min_count = 1, vocab_dir = None, dim = 16, name = None, memory = None, threads = None
))]
#[allow(clippy::too_many_arguments)]
pub fn profile(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    label: String,
    categorical: Option<Vec<String>>,
    data_format: Option<String>,
    min_count: u64,
    vocab_dir: Option<PathBuf>,
    dim: u32,
    name: Option<String>,
    memory: Option<u64>,
    threads: Option<usize>,
) -> PyResult<Schema> {
    if paths.is_empty() {
        return Err(invalid_argument("profile: give at least one data file"));
    }
    if min_count == 0 || dim == 0 || threads == Some(0) {
        return Err(invalid_argument(
            "profile: min_count, dim and threads must be at least 1",
        ));
    }
    let format = data_format
        .as_deref()
        .map(RawFormat::parse)
        .transpose()
        .map_err(|e| invalid_argument(message(&e)))?;
    let mut input = Input::new(paths.clone(), format);
    input.label = label;
    input.categorical = categorical;
    let opts = Options {
        min_count,
        memory: memory.unwrap_or_else(|| embplan::memory::available().map_or(4 << 30, |a| a / 2)),
        threads: threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }),
    };
    let schema = py.detach(|| -> anyhow::Result<embplan::schema::Schema> {
        let p = embplan::profile::profile(&input, &opts)?;
        let manifest = match &vocab_dir {
            Some(dir) => Some(vocab::write(dir, &p)?),
            None => None,
        };
        let vocab_path = vocab_dir.as_ref().map(|d| {
            d.canonicalize()
                .unwrap_or_else(|_| d.clone())
                .display()
                .to_string()
        });
        Ok(p.to_schema(SchemaOrigin {
            name,
            dim,
            files: paths.iter().map(|f| f.display().to_string()).collect(),
            format: input.format.name().to_string(),
            vocab: vocab_path.zip(manifest.as_ref()),
        }))
    });
    let inner = schema.map_err(|e| Error::new_err(message(&e)))?;
    Ok(Schema { inner })
}
