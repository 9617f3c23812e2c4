//! `embplan._native`: the embplan library for Python (pyo3). The `embplan` package re-exports
//! it; every count, index map and proof comes from the Rust library, none is recomputed in
//! Python.

mod errors;
mod plan;
mod profile;
mod schema;
mod verify;

use pyo3::prelude::*;

/// The native module: schemas, plans, the planner, baselines and proofs.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<schema::Schema>()?;
    m.add_class::<plan::Plan>()?;
    m.add_class::<plan::Feature>()?;
    m.add_class::<plan::Table>()?;
    m.add_class::<verify::Verdict>()?;
    m.add_function(wrap_pyfunction!(plan::plan, m)?)?;
    m.add_function(wrap_pyfunction!(plan::uniform, m)?)?;
    m.add_function(wrap_pyfunction!(verify::verify, m)?)?;
    m.add_function(wrap_pyfunction!(profile::profile, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// JSON text (of a plan, a placement, a profile) as the Python objects `json.loads` makes.
pub(crate) fn json_to_python(py: Python<'_>, text: &str) -> PyResult<Py<PyAny>> {
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}
