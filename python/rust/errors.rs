//! Python exceptions: `embplan.Error` and the subclasses callers must tell apart, each with
//! the message the command line prints.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(embplan, Error, PyException, "Every embplan failure.");
create_exception!(
    embplan,
    InvalidSchema,
    Error,
    "A schema that cannot be read or is invalid."
);
create_exception!(
    embplan,
    InvalidPlan,
    Error,
    "A plan file that cannot be read, is invalid, or a plan that cannot be built."
);
create_exception!(
    embplan,
    InfeasibleBudget,
    Error,
    "A budget below the smallest plan the search space allows (or that no placement fits)."
);
create_exception!(
    embplan,
    NotComplementary,
    Error,
    "Partitions that give two ids the same code, where complementary ones were required."
);
create_exception!(
    embplan,
    InvalidArgument,
    Error,
    "An argument outside what embplan accepts (a size, a family, a combiner, ...)."
);

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("Error", py.get_type::<Error>())?;
    m.add("InvalidSchema", py.get_type::<InvalidSchema>())?;
    m.add("InvalidPlan", py.get_type::<InvalidPlan>())?;
    m.add("InfeasibleBudget", py.get_type::<InfeasibleBudget>())?;
    m.add("NotComplementary", py.get_type::<NotComplementary>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    Ok(())
}

/// The CLI's message of an error chain (`a: b: c`).
pub fn message(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// An `InvalidSchema` with the error's message.
pub fn invalid_schema(e: &anyhow::Error) -> PyErr {
    InvalidSchema::new_err(message(e))
}

/// An `InvalidPlan` with the error's message.
pub fn invalid_plan(e: &anyhow::Error) -> PyErr {
    InvalidPlan::new_err(message(e))
}

/// An `InvalidArgument` with the error's message.
pub fn invalid_argument(e: impl std::fmt::Display) -> PyErr {
    InvalidArgument::new_err(e.to_string())
}
