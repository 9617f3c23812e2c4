//! `embplan.plan`, `embplan.uniform` and `embplan.Plan`: the planner and its plans, with the
//! exact counts `estimate` prints and the exports the command line writes.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::{InfeasibleBudget, invalid_argument, invalid_plan, message};
use crate::schema::Schema;
use embplan::export::{Format, export};
use embplan::family::{Combiner, Family};
use embplan::placement::{PlacementError, Topology, search_placed};
use embplan::plan::{
    QualityModel, SearchError, SearchOptions, SearchSpace, Target, UniformFamily, UniformSpec,
};

/// One table of a feature: its export name, shape and exact bytes (weights + optimizer).
#[pyclass(module = "embplan", frozen, get_all)]
#[derive(Clone)]
pub struct Table {
    /// The sub-table's name in every export (`C3__q`, ...).
    name: String,
    /// Rows.
    rows: u64,
    /// Columns.
    dim: u32,
    /// Weight bytes.
    weight_bytes: u64,
    /// Weights + optimizer state.
    bytes: u64,
}

/// One feature of a plan: its scheme, combiner and tables.
#[pyclass(module = "embplan", frozen, get_all)]
#[derive(Clone)]
pub struct Feature {
    /// The feature's name.
    name: String,
    /// Its number of categories.
    cardinality: u64,
    /// Its embedding dim.
    dim: u32,
    /// The scheme, as plans print it (`qr(4)`, `hot 64 + crt(...)`, `full`).
    scheme: String,
    /// The family: full, hash, qr, mixed-radix, crt or explicit.
    family: String,
    /// concat, add or mult; None for one-table schemes.
    combiner: Option<String>,
    /// Its tables, in partition order.
    tables: Vec<Table>,
    /// Weights + optimizer state of all its tables.
    bytes: u64,
    /// The planner's predicted loss increase, if a planner made the plan.
    predicted_loss: Option<f64>,
}

/// A plan: every feature's scheme, combiner and tables, with exact counts.
#[pyclass(module = "embplan", frozen)]
pub struct Plan {
    pub(crate) inner: embplan::plan::Plan,
    /// Its exact counts, computed once (a plan is immutable from Python).
    costs: embplan::plan::PlanCosts,
}

fn wrap(plan: embplan::plan::Plan) -> PyResult<Plan> {
    let costs = plan.costs().map_err(|e| invalid_plan(&e))?;
    Ok(Plan { inner: plan, costs })
}

#[pymethods]
impl Plan {
    /// Reads and validates a plan file (.toml or .json), as every command does.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Plan> {
        let plan = py
            .detach(|| embplan::plan::Plan::load(&path))
            .map_err(|e| invalid_plan(&e))?;
        wrap(plan)
    }

    /// Writes the plan file (.toml or .json by extension), atomically.
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.inner.write(&path).map_err(|e| invalid_plan(&e))
    }

    /// Total bytes: weights + optimizer state, exactly as `embplan estimate` counts them.
    #[getter]
    fn bytes(&self) -> u64 {
        self.costs.total.bytes
    }

    /// Weight bytes.
    #[getter]
    fn weight_bytes(&self) -> u64 {
        self.costs.total.weight_bytes
    }

    /// Optimizer-state bytes.
    #[getter]
    fn optimizer_bytes(&self) -> u64 {
        self.costs.total.optimizer_bytes
    }

    /// Weight elements.
    #[getter]
    fn params(&self) -> u64 {
        self.costs.total.params
    }

    /// The same features' bytes with full tables (None beyond 2^64).
    #[getter]
    fn full_bytes(&self) -> Option<u64> {
        self.costs.full_total.map(|c| c.bytes)
    }

    /// The planner's predicted loss increase (None for a plan no planner made).
    #[getter]
    fn predicted_loss(&self) -> Option<f64> {
        self.inner.planner.as_ref().and_then(|p| p.predicted_loss)
    }

    /// The weight dtype.
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype.name()
    }

    /// The optimizer whose state is counted.
    #[getter]
    fn optimizer(&self) -> &'static str {
        self.inner.optimizer.name()
    }

    /// The features, in schema order.
    #[getter]
    fn features(&self) -> Vec<Feature> {
        let costs = &self.costs;
        let mut out = Vec::with_capacity(self.inner.features.len());
        for ((f, table_costs), cost) in self
            .inner
            .features
            .iter()
            .zip(&costs.tables)
            .zip(&costs.features)
        {
            let tables = embplan::export::sub_table_names(f)
                .into_iter()
                .zip(f.tables())
                .zip(table_costs)
                .map(|((name, shape), c)| Table {
                    name,
                    rows: shape.rows,
                    dim: shape.dim,
                    weight_bytes: c.weight_bytes,
                    bytes: c.bytes,
                })
                .collect();
            out.push(Feature {
                name: f.name().to_string(),
                cardinality: f.cardinality(),
                dim: f.dim(),
                scheme: f.scheme_label(),
                family: f.scheme().family().name().to_string(),
                combiner: f.combiner().map(|c| c.name().to_string()),
                tables,
                bytes: cost.bytes,
                predicted_loss: f.predicted_loss,
            });
        }
        out
    }

    /// Proves every feature's partitions: {feature: True when complementary}. Raises
    /// NotComplementary when `strict` and some feature is not.
    #[pyo3(signature = (*, strict = false))]
    fn verify(&self, py: Python<'_>, strict: bool) -> PyResult<Vec<(String, bool)>> {
        let verdicts = py
            .detach(|| {
                self.inner
                    .features
                    .iter()
                    .map(|f| {
                        embplan::proof::prove(f.scheme(), f.cardinality())
                            .map(|v| (f.name().to_string(), v.complementary))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .map_err(|e| invalid_plan(&e))?;
        let failing: Vec<&str> = verdicts
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n.as_str())
            .collect();
        if strict && !failing.is_empty() {
            return Err(crate::errors::NotComplementary::new_err(format!(
                "not complementary (colliding ids share every row, so they get the same vector): {}",
                failing.join(", ")
            )));
        }
        Ok(verdicts)
    }

    /// The plan as a dict (the plan file's JSON).
    fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = self.inner.to_json_string().map_err(|e| invalid_plan(&e))?;
        crate::json_to_python(py, &text)
    }

    /// An export's text: "pytorch", "torchrec", "dlrm", "json" or "toml", exactly what
    /// `embplan export --format F` writes.
    fn export(&self, format: &str) -> PyResult<String> {
        let format = Format::parse(format).map_err(|e| invalid_argument(message(&e)))?;
        export(&self.inner, format)
            .map(|e| e.text)
            .map_err(|e| invalid_plan(&e))
    }

    /// Where the tables go on devices (a plan made with devices=...), as a dict, else None.
    #[getter]
    fn placement(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(p) = &self.inner.placement else {
            return Ok(None);
        };
        let text = serde_json::to_string(p).map_err(invalid_argument)?;
        crate::json_to_python(py, &text).map(Some)
    }

    fn __len__(&self) -> usize {
        self.inner.features.len()
    }

    fn __repr__(&self) -> PyResult<String> {
        Ok(format!(
            "Plan({:?}, {} features, {} bytes, dtype {}, optimizer {})",
            self.inner.name.as_deref().unwrap_or(""),
            self.inner.features.len(),
            self.costs.total.bytes,
            self.inner.dtype.name(),
            self.inner.optimizer.name()
        ))
    }
}

/// A byte size: an int, or a string such as "4GiB", "512MB", "1.5 TiB".
fn bytes_arg(value: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if let Ok(n) = value.extract::<u64>() {
        return Ok(n);
    }
    let text: String = value.extract().map_err(|_| {
        invalid_argument(format!(
            "{what}: expected bytes as an int or a size such as \"4GiB\""
        ))
    })?;
    embplan::size::parse_bytes(&text)
        .map(|b| b.0)
        .map_err(|e| invalid_argument(format!("{what}: {e}")))
}

fn target_arg(target: &str) -> PyResult<Target> {
    match target.trim().to_ascii_lowercase().as_str() {
        "any" => Ok(Target::Any),
        "torchrec" => Ok(Target::Torchrec),
        other => Err(invalid_argument(format!(
            "target '{other}': expected \"any\" or \"torchrec\""
        ))),
    }
}

fn quality_model(calibration: Option<PathBuf>) -> PyResult<QualityModel> {
    match calibration {
        Some(path) => QualityModel::load(&path).map_err(|e| invalid_argument(message(&e))),
        None => Ok(QualityModel::default()),
    }
}

/// The search space of `plan`'s keyword arguments, as the command line builds it.
fn search_space(
    families: Option<Vec<String>>,
    combiners: Option<Vec<String>>,
    allow_hash: bool,
    dim_multiple: u32,
    hot: bool,
) -> PyResult<SearchSpace> {
    let mut families = match families {
        None => vec![Family::Qr, Family::MixedRadix, Family::Crt],
        Some(names) => names
            .iter()
            .map(|n| Family::parse_searched(n).map_err(|e| invalid_argument(message(&e))))
            .collect::<PyResult<Vec<_>>>()?,
    };
    if families.contains(&Family::Hash) && !allow_hash {
        return Err(invalid_argument(
            "families: hash is not complementary (colliding ids share every row); pass allow_hash=True to let the planner choose it",
        ));
    }
    if allow_hash {
        families.push(Family::Hash);
    }
    families.sort();
    families.dedup();
    let combiners = match combiners {
        None => Combiner::ALL.to_vec(),
        Some(names) => {
            let chosen = names
                .iter()
                .map(|n| Combiner::parse(n).map_err(|e| invalid_argument(message(&e))))
                .collect::<PyResult<Vec<_>>>()?;
            Combiner::ALL
                .into_iter()
                .filter(|c| chosen.contains(c))
                .collect()
        }
    };
    Ok(SearchSpace {
        families,
        combiners,
        dim_multiple,
        hot,
        only_measured: false,
    })
}

fn search_error(e: PlacementError) -> PyErr {
    match e {
        PlacementError::Search(SearchError::Infeasible(i)) => {
            InfeasibleBudget::new_err(i.to_string())
        }
        e @ PlacementError::NoPlacement { .. } => InfeasibleBudget::new_err(e.to_string()),
        PlacementError::Search(SearchError::Invalid(e)) => invalid_plan(&e),
    }
}

/// Searches the plan of least predicted loss within `budget` (and, with `devices` and
/// `device_memory`, one whose tables place on those devices), as `embplan plan` does.
#[pyfunction]
#[pyo3(signature = (
    schema, budget = None, *, families = None, combiners = None, allow_hash = false,
    dim_multiple = 1, target = "any", hot = true, calibration = None, dtype = None,
    optimizer = None, devices = None, device_memory = None, batch = 512
))]
#[allow(clippy::too_many_arguments)]
pub fn plan(
    py: Python<'_>,
    schema: &Schema,
    budget: Option<Bound<'_, PyAny>>,
    families: Option<Vec<String>>,
    combiners: Option<Vec<String>>,
    allow_hash: bool,
    dim_multiple: u32,
    target: &str,
    hot: bool,
    calibration: Option<PathBuf>,
    dtype: Option<String>,
    optimizer: Option<String>,
    devices: Option<u32>,
    device_memory: Option<Bound<'_, PyAny>>,
    batch: u64,
) -> PyResult<Plan> {
    let mut schema = schema.inner.clone();
    override_dtype_and_optimizer(&mut schema, dtype.as_deref(), optimizer.as_deref())?;
    let budget = budget.map(|b| bytes_arg(&b, "budget")).transpose()?;
    let target = target_arg(target)?;
    let options = SearchOptions {
        space: search_space(
            families,
            combiners,
            allow_hash,
            target.dim_multiple(dim_multiple),
            hot,
        )?,
        model: quality_model(calibration)?,
    };
    let topology = match (devices, device_memory) {
        (Some(devices), Some(memory)) if devices >= 1 && batch >= 1 => Some(Topology {
            devices,
            device_memory: bytes_arg(&memory, "device_memory")?,
            batch,
        }),
        (None, None) => None,
        _ => {
            return Err(invalid_argument(
                "devices and device_memory go together: devices >= 1, device_memory a size, batch >= 1",
            ));
        }
    };
    let found = py.detach(|| match topology {
        Some(t) => search_placed(&schema, t, budget, &options).map(|f| {
            let mut plan = f.outcome.plan;
            plan.placement = Some(f.placement);
            plan
        }),
        None => match budget {
            Some(b) => embplan::plan::search(&schema, b, &options)
                .map(|o| o.plan)
                .map_err(PlacementError::from),
            None => Err(PlacementError::from(anyhow::anyhow!(
                "give a budget (or devices and device_memory)"
            ))),
        },
    });
    wrap(found.map_err(search_error)?)
}

/// A DLRM-style uniform baseline: "full", "hash:C" or "qr:C" (C collisions), features with
/// cardinality <= threshold kept full, as `embplan plan --uniform` builds it.
#[pyfunction]
#[pyo3(signature = (schema, baseline, *, combiner = "mult", threshold = 200, dim_multiple = 1, target = "any"))]
pub fn uniform(
    schema: &Schema,
    baseline: &str,
    combiner: &str,
    threshold: u64,
    dim_multiple: u32,
    target: &str,
) -> PyResult<Plan> {
    let spec = UniformSpec {
        family: UniformFamily::parse(baseline).map_err(|e| invalid_argument(message(&e)))?,
        combiner: Combiner::parse(combiner).map_err(|e| invalid_argument(message(&e)))?,
        threshold,
        dim_multiple: target_arg(target)?.dim_multiple(dim_multiple),
    };
    let plan = embplan::plan::uniform(&schema.inner, &spec, &QualityModel::default())
        .map_err(|e| invalid_plan(&e))?;
    wrap(plan)
}

fn override_dtype_and_optimizer(
    schema: &mut embplan::schema::Schema,
    dtype: Option<&str>,
    optimizer: Option<&str>,
) -> PyResult<()> {
    if let Some(d) = dtype {
        schema.dtype = serde_plain(d, "dtype")?;
    }
    if let Some(o) = optimizer {
        schema.optimizer = serde_plain(o, "optimizer")?;
    }
    Ok(())
}

/// A dtype or optimizer name through the same serde names schema files use.
fn serde_plain<T: serde::de::DeserializeOwned>(name: &str, what: &str) -> PyResult<T> {
    let text = format!("v = {}", toml::Value::String(name.to_string()));
    #[derive(serde::Deserialize)]
    struct V<T> {
        v: T,
    }
    toml::from_str::<V<T>>(&text)
        .map(|v| v.v)
        .map_err(|e| invalid_argument(format!("{what} '{name}': {}", e.message())))
}
