//! `embplan.Schema`: a schema file, or one built from feature dicts, validated by the library.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::errors::{invalid_argument, invalid_schema};
use embplan::source::Source;

/// A validated schema: features with their cardinalities and dims, the dtype and optimizer.
#[pyclass(module = "embplan", frozen)]
pub struct Schema {
    pub(crate) inner: embplan::schema::Schema,
}

#[pymethods]
impl Schema {
    /// Reads and validates a schema file (TOML), as every command does.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Schema> {
        let inner = py
            .detach(|| embplan::schema::Schema::load(&path))
            .map_err(|e| invalid_schema(&e))?;
        Ok(Schema { inner })
    }

    /// A schema from feature dicts such as {"name": "user", "cardinality": 1_000_000} (and
    /// optionally "dim", "weight", "zipf"), validated exactly as a schema file is.
    #[staticmethod]
    #[pyo3(signature = (features, *, dim = 16, dtype = "f32", optimizer = "adagrad", name = None))]
    fn from_features(
        features: Vec<Bound<'_, PyDict>>,
        dim: u32,
        dtype: &str,
        optimizer: &str,
        name: Option<String>,
    ) -> PyResult<Schema> {
        let mut top = toml::Table::new();
        if let Some(name) = name {
            top.insert("name".into(), toml::Value::String(name));
        }
        top.insert("dim".into(), toml::Value::Integer(i64::from(dim)));
        top.insert("dtype".into(), toml::Value::String(dtype.into()));
        top.insert("optimizer".into(), toml::Value::String(optimizer.into()));
        let mut list = Vec::with_capacity(features.len());
        for (i, f) in features.iter().enumerate() {
            list.push(toml::Value::Table(feature_table(i, f)?));
        }
        top.insert("feature".into(), toml::Value::Array(list));
        let text = toml::to_string(&top).map_err(invalid_argument)?;
        let inner = embplan::schema::Schema::from_toml(&Source::new("features", &text))
            .map_err(|e| invalid_schema(&e))?;
        Ok(Schema { inner })
    }

    /// The schema's name, if it has one.
    #[getter]
    fn name(&self) -> Option<String> {
        self.inner.name.clone()
    }

    /// The weight dtype: "f32", "f16", "bf16" or "int8".
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype.name()
    }

    /// The optimizer whose state is counted.
    #[getter]
    fn optimizer(&self) -> &'static str {
        self.inner.optimizer.name()
    }

    /// The features as dicts: name, cardinality, dim, weight.
    #[getter]
    fn features<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        self.inner
            .features
            .iter()
            .map(|f| {
                let d = PyDict::new(py);
                d.set_item("name", &f.name)?;
                d.set_item("cardinality", f.cardinality)?;
                d.set_item("dim", f.dim)?;
                d.set_item("weight", f.weight)?;
                Ok(d)
            })
            .collect()
    }

    /// The schema as TOML text (a schema file).
    fn to_toml(&self) -> PyResult<String> {
        self.inner.to_toml().map_err(|e| invalid_schema(&e))
    }

    /// Writes the schema file (TOML), atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        let text = self.to_toml()?;
        embplan::output::write_atomic(&path, text.as_bytes()).map_err(|e| invalid_schema(&e))
    }

    /// The measured profile of each feature (a profiled schema), as dicts; None otherwise.
    #[getter]
    fn profile(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(p) = &self.inner.profile else {
            return Ok(None);
        };
        let features: Vec<_> = self
            .inner
            .features
            .iter()
            .map(|f| (f.name.clone(), f.profile.clone()))
            .collect();
        let text = serde_json::json!({ "data": p, "features": features }).to_string();
        crate::json_to_python(py, &text).map(Some)
    }

    fn __len__(&self) -> usize {
        self.inner.features.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Schema({:?}, {} features, dtype {}, optimizer {})",
            self.inner.display_name(),
            self.inner.features.len(),
            self.inner.dtype.name(),
            self.inner.optimizer.name()
        )
    }
}

/// One feature dict as a `[[feature]]` table; ids above 2^63 - 1 travel as strings, which
/// schema files accept.
fn feature_table(i: usize, f: &Bound<'_, PyDict>) -> PyResult<toml::Table> {
    let mut t = toml::Table::new();
    for (key, value) in f.iter() {
        let key: String = key
            .extract()
            .map_err(|_| invalid_argument(format!("feature #{}: keys must be strings", i + 1)))?;
        let v = if value.is_instance_of::<PyBool>() {
            toml::Value::Boolean(value.extract()?)
        } else if value.is_instance_of::<PyInt>() {
            match value.extract::<i64>() {
                Ok(x) => toml::Value::Integer(x),
                Err(_) => toml::Value::String(
                    value.extract::<u64>().map(|x| x.to_string()).map_err(|_| {
                        invalid_argument(format!(
                            "feature #{} '{key}': {value} is not a u64",
                            i + 1
                        ))
                    })?,
                ),
            }
        } else if value.is_instance_of::<PyFloat>() {
            toml::Value::Float(value.extract()?)
        } else if value.is_instance_of::<PyString>() {
            toml::Value::String(value.extract()?)
        } else {
            return Err(invalid_argument(format!(
                "feature #{} '{key}': expected a number or a string, got {}",
                i + 1,
                value.get_type().name()?
            )));
        };
        t.insert(key, v);
    }
    Ok(t)
}
