//! The versioned plan file (TOML or JSON by extension) shared by every command.
//!
//! ```toml
//! version = 1
//! name = "criteo-kaggle"
//! dtype = "f32"
//! optimizer = "adagrad"
//!
//! [totals]            # re-derived and checked on load
//! params = 1234
//! weight_bytes = 4936
//! optimizer_bytes = 4936
//! bytes = 9872
//! full_bytes = 40000  # the same features with full tables
//!
//! [[feature]]
//! name = "C3"
//! cardinality = 10131227
//! dim = 16
//! scheme = "qr"       # full | hash | qr | mixed-radix | crt | explicit
//! m = 3184            # hash and qr; mixed-radix: radices = [..]; crt: moduli = [..];
//!                     # explicit: partitions = "file"
//! combiner = "mult"   # concat | add | mult; absent for one-table schemes
//! params = ...        # feature totals, checked
//! [[feature.table]]   # in partition order, checked
//! rows = 3184
//! dim = 16
//! params = ...
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::cost::Cost;
use crate::partition::{Combiner, ExplicitPartitions, Family, Scheme};
use crate::placement::{Placement, device_loads};
use crate::plan::{Plan, PlannedFeature, PlannerInfo};
use crate::schema::{Dtype, Optimizer, Schema, WideU64, wide_u64};
use crate::source::Source;

/// The plan file format version this build reads and writes.
pub const PLAN_VERSION: u32 = 1;

impl Plan {
    /// Loads and validates a plan file (`.toml` or `.json`).
    pub fn load(path: &Path) -> Result<Plan> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read plan '{}'", path.display()))?;
        let origin = path.display().to_string();
        let base = path.parent().unwrap_or(Path::new("."));
        match PlanFormat::from_path(path)? {
            PlanFormat::Toml => Plan::from_toml(&Source::new(&origin, &text), base),
            PlanFormat::Json => Plan::from_json(&Source::new(&origin, &text), base),
        }
    }

    /// Loads a plan file, or a schema file as the plan of its full tables.
    ///
    /// A `.json` file is a plan; a `.toml` file is a plan when it has a top-level `version`.
    pub fn load_plan_or_schema(path: &Path) -> Result<(Plan, InputKind)> {
        let is_plan = if let Ok(PlanFormat::Json) = PlanFormat::from_path(path) {
            true
        } else {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read '{}'", path.display()))?;
            text.parse::<toml::Table>()
                .is_ok_and(|t| t.contains_key("version"))
        };
        if is_plan {
            Ok((Plan::load(path)?, InputKind::Plan))
        } else {
            let schema = Schema::load(path)?;
            Ok((Plan::full_from_schema(&schema)?, InputKind::Schema))
        }
    }

    /// Parses plan TOML; explicit partition paths are relative to `base`.
    pub fn from_toml(src: &Source, base: &Path) -> Result<Plan> {
        let raw: RawPlan = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        raw.into_plan(base)
            .map_err(|e| anyhow!("{}: {e:#}", src.origin))
    }

    /// Parses plan JSON; explicit partition paths are relative to `base`.
    pub fn from_json(src: &Source, base: &Path) -> Result<Plan> {
        let raw: RawPlan = serde_json::from_str(src.text)
            .map_err(|e| anyhow!("{}:{}:{}: {e}", src.origin, e.line(), e.column()))?;
        raw.into_plan(base)
            .map_err(|e| anyhow!("{}: {e:#}", src.origin))
    }

    fn to_raw(&self) -> Result<RawPlan> {
        let costs = self.costs()?;
        let features = self
            .features
            .iter()
            .zip(&costs.tables)
            .zip(&costs.features)
            .map(|((f, tables), cost)| RawFeature::from_feature(f, tables, *cost))
            .collect();
        Ok(RawPlan {
            version: PLAN_VERSION,
            name: self.name.clone(),
            dtype: self.dtype,
            optimizer: self.optimizer,
            totals: RawTotals {
                cost: costs.total,
                full_bytes: costs.full_total.map(|c| c.bytes),
            },
            planner: self.planner.clone(),
            placement: self.placement.clone(),
            features,
        })
    }

    /// The plan as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(&self.to_raw()?).context("cannot serialize plan as TOML")
    }

    /// The plan as pretty JSON text.
    pub fn to_json_string(&self) -> Result<String> {
        let mut s = serde_json::to_string_pretty(&self.to_raw()?)?;
        s.push('\n');
        Ok(s)
    }

    /// Serializes for `path`'s extension and writes atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = match PlanFormat::from_path(path)? {
            PlanFormat::Toml => self.to_toml_string()?,
            PlanFormat::Json => self.to_json_string()?,
        };
        crate::output::write_atomic(path, text.as_bytes())
    }
}

/// Whether an input file was a plan or a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A plan file.
    Plan,
    /// A schema file (read as full tables).
    Schema,
}

/// Plan file formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFormat {
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

impl PlanFormat {
    /// The format for a path's extension; anything else is an error.
    pub fn from_path(path: &Path) -> Result<PlanFormat> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "toml" => Ok(PlanFormat::Toml),
            Some(e) if e == "json" => Ok(PlanFormat::Json),
            _ => bail!(
                "'{}': a plan file must end in .toml or .json",
                path.display()
            ),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    dtype: Dtype,
    optimizer: Optimizer,
    totals: RawTotals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    planner: Option<PlannerInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placement: Option<Placement>,
    #[serde(rename = "feature")]
    features: Vec<RawFeature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTotals {
    #[serde(flatten)]
    cost: Cost,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    full_bytes: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: String,
    #[serde(with = "wide_u64")]
    cardinality: u64,
    dim: u32,
    scheme: String,
    /// Hot ids with rows of their own; `scheme` and its parameters are then the tail's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hot: Option<WideU64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<WideU64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    radices: Option<Vec<WideU64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    moduli: Option<Vec<WideU64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partitions: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    combiner: Option<Combiner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    predicted_loss: Option<f64>,
    #[serde(flatten)]
    cost: Cost,
    #[serde(rename = "table")]
    tables: Vec<RawTable>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(with = "wide_u64")]
    rows: u64,
    dim: u32,
    #[serde(flatten)]
    cost: Cost,
}

fn wide(values: &[u64]) -> Vec<WideU64> {
    values.iter().copied().map(WideU64).collect()
}

fn narrow(values: Option<&[WideU64]>) -> Vec<u64> {
    values.unwrap_or_default().iter().map(|w| w.0).collect()
}

impl RawFeature {
    fn from_feature(f: &PlannedFeature, tables: &[Cost], cost: Cost) -> RawFeature {
        let (mut m, mut radices, mut moduli, mut partitions) = (None, None, None, None);
        match f.scheme().tail() {
            Scheme::Full => {}
            Scheme::Hash { m: v } | Scheme::Qr { m: v } => m = Some(WideU64(*v)),
            Scheme::MixedRadix { radices: r } => radices = Some(wide(r)),
            Scheme::Crt { moduli: r } => moduli = Some(wide(r)),
            Scheme::Explicit(p) => partitions = Some(p.path.clone()),
            Scheme::Hot { .. } => unreachable!("a tail is never hot (validated)"),
        }
        let hot = f.scheme().hot();
        RawFeature {
            name: f.name().to_string(),
            cardinality: f.cardinality(),
            dim: f.dim(),
            scheme: f.scheme().family().to_string(),
            hot: (hot > 0).then_some(WideU64(hot)),
            m,
            radices,
            moduli,
            partitions,
            combiner: f.combiner(),
            predicted_loss: f.predicted_loss,
            cost,
            tables: f
                .tables()
                .iter()
                .zip(tables)
                .map(|(t, c)| RawTable {
                    rows: t.rows,
                    dim: t.dim,
                    cost: *c,
                })
                .collect(),
        }
    }

    fn scheme(&self, base: &Path) -> Result<Scheme> {
        let tail = self.tail_scheme(base)?;
        Ok(match self.hot {
            Some(WideU64(hot)) => Scheme::Hot {
                hot,
                tail: Box::new(tail),
            },
            None => tail,
        })
    }

    /// The scheme named by `scheme` and its parameters (a hot scheme's tail).
    fn tail_scheme(&self, base: &Path) -> Result<Scheme> {
        let family = Family::parse(&self.scheme).map_err(|_| {
            let names = Family::ALL.map(Family::name);
            let hint = crate::source::did_you_mean(&self.scheme, names);
            anyhow::anyhow!(
                "unknown scheme '{}'{hint}: expected full, hash, qr, mixed-radix, crt or explicit",
                self.scheme
            )
        })?;
        let allowed: &[&str] = match family {
            Family::Full => &[],
            Family::Hash | Family::Qr => &["m"],
            Family::MixedRadix => &["radices"],
            Family::Crt => &["moduli"],
            Family::Explicit => &["partitions"],
        };
        for (key, present) in [
            ("m", self.m.is_some()),
            ("radices", self.radices.is_some()),
            ("moduli", self.moduli.is_some()),
            ("partitions", self.partitions.is_some()),
        ] {
            if present && !allowed.contains(&key) {
                bail!("scheme '{family}' takes no '{key}'");
            }
            if !present && allowed.contains(&key) {
                bail!("scheme '{family}' needs '{key}'");
            }
        }
        Ok(match family {
            Family::Full => Scheme::Full,
            Family::Hash => Scheme::Hash {
                m: self.m.map_or(0, |w| w.0),
            },
            Family::Qr => Scheme::Qr {
                m: self.m.map_or(0, |w| w.0),
            },
            Family::MixedRadix => Scheme::MixedRadix {
                radices: narrow(self.radices.as_deref()),
            },
            Family::Crt => Scheme::Crt {
                moduli: narrow(self.moduli.as_deref()),
            },
            Family::Explicit => {
                let rel = self.partitions.clone().unwrap_or_default();
                let path = if rel.is_absolute() {
                    rel.clone()
                } else {
                    base.join(&rel)
                };
                let mut p = ExplicitPartitions::load(&path)?;
                p.path = rel;
                Scheme::Explicit(Arc::new(p))
            }
        })
    }

    fn into_feature(
        self,
        base: &Path,
        dtype: Dtype,
        opt: Optimizer,
    ) -> Result<(PlannedFeature, Cost)> {
        let scheme = self.scheme(base)?;
        let dims = self.tables.iter().map(|t| t.dim).collect();
        let mut f = PlannedFeature::with_table_dims(
            &self.name,
            self.cardinality,
            self.dim,
            scheme,
            self.combiner,
            dims,
        )?;
        f.predicted_loss = self.predicted_loss;
        let derived = f.table_costs(dtype, opt)?;
        for (j, ((table, shape), cost)) in
            self.tables.iter().zip(f.tables()).zip(&derived).enumerate()
        {
            if table.rows != shape.rows {
                bail!(
                    "table {} stores {} rows but {} needs {} rows for cardinality {}",
                    j + 1,
                    table.rows,
                    f.scheme().describe(),
                    shape.rows,
                    f.cardinality()
                );
            }
            check_cost(&format!("table {}", j + 1), table.cost, *cost)?;
        }
        let total = f.cost(dtype, opt)?;
        check_cost("feature", self.cost, total)?;
        Ok((f, total))
    }
}

fn check_cost(what: &str, stored: Cost, derived: Cost) -> Result<()> {
    for (field, s, d) in [
        ("params", stored.params, derived.params),
        ("weight_bytes", stored.weight_bytes, derived.weight_bytes),
        (
            "optimizer_bytes",
            stored.optimizer_bytes,
            derived.optimizer_bytes,
        ),
        ("bytes", stored.bytes, derived.bytes),
    ] {
        if s != d {
            bail!("{what} stores {field} = {s} but the scheme gives {d}");
        }
    }
    Ok(())
}

impl RawPlan {
    fn into_plan(self, base: &Path) -> Result<Plan> {
        if self.version != PLAN_VERSION {
            bail!(
                "plan version {} is not supported (this embplan reads version {PLAN_VERSION})",
                self.version
            );
        }
        if self.features.is_empty() {
            bail!("the plan has no features");
        }
        let (dtype, opt) = (self.dtype, self.optimizer);
        let mut seen = std::collections::HashSet::new();
        let mut features = Vec::with_capacity(self.features.len());
        for (i, raw) in self.features.into_iter().enumerate() {
            let name = raw.name.clone();
            if !seen.insert(name.clone()) {
                bail!("feature #{} '{name}': duplicate feature name", i + 1);
            }
            let (f, _) = raw.into_feature(base, dtype, opt).map_err(|e| {
                // Feature checks name the feature themselves; say it once.
                let msg = format!("{e:#}");
                let own = format!("feature '{name}': ");
                let rest = msg.strip_prefix(&own).unwrap_or(&msg);
                anyhow!("feature #{} '{name}': {rest}", i + 1)
            })?;
            features.push(f);
        }
        let mut plan = Plan {
            name: self.name,
            dtype,
            optimizer: opt,
            features,
            planner: self.planner,
            placement: None,
        };
        let costs = plan.costs()?;
        check_cost("totals", self.totals.cost, costs.total)?;
        if let Some(stored) = self.totals.full_bytes {
            let derived = costs.full_total.map(|c| c.bytes);
            if Some(stored) != derived {
                bail!("totals store full_bytes = {stored} but the features give {derived:?}");
            }
        }
        if let Some(placement) = self.placement {
            check_placement(&plan, &placement).context("placement")?;
            plan.placement = Some(placement);
        }
        Ok(plan)
    }
}

/// A stored placement must name the plan's tables in order and store the loads they give.
fn check_placement(plan: &Plan, placement: &Placement) -> Result<()> {
    let loads = device_loads(plan, placement.topology, &placement.tables)?;
    if loads.len() != placement.loads.len() {
        bail!(
            "it stores {} devices but its topology has {}",
            placement.loads.len(),
            loads.len()
        );
    }
    for (rank, (stored, derived)) in placement.loads.iter().zip(&loads).enumerate() {
        if stored != derived {
            let show = |l: &crate::placement::DeviceLoad| {
                format!(
                    "table_bytes = {}, buffer_bytes = {}, lookups = {}",
                    l.table_bytes, l.buffer_bytes, l.lookups
                )
            };
            bail!(
                "device {rank} stores {} but its tables give {}",
                show(stored),
                show(derived)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        Plan {
            name: Some("t".into()),
            dtype: Dtype::F32,
            optimizer: Optimizer::Adagrad,
            features: vec![
                PlannedFeature::new("a", 1000, 16, Scheme::Qr { m: 40 }, Some(Combiner::Mult))
                    .unwrap(),
                PlannedFeature::new("b", 10, 16, Scheme::Full, None).unwrap(),
                PlannedFeature::new(
                    "c",
                    1001,
                    16,
                    Scheme::Crt {
                        moduli: vec![7, 11, 13],
                    },
                    Some(Combiner::Concat),
                )
                .unwrap(),
                PlannedFeature::new(
                    "d",
                    u64::MAX,
                    1,
                    Scheme::MixedRadix {
                        radices: vec![1 << 32, 1 << 32],
                    },
                    Some(Combiner::Add),
                )
                .unwrap(),
            ],
            planner: None,
            placement: None,
        }
    }

    #[test]
    fn round_trips_through_toml_and_json() {
        let plan = sample();
        let toml_text = plan.to_toml_string().unwrap();
        let back = Plan::from_toml(&Source::new("p.toml", &toml_text), Path::new(".")).unwrap();
        assert_eq!(back, plan);
        let json_text = plan.to_json_string().unwrap();
        let back = Plan::from_json(&Source::new("p.json", &json_text), Path::new(".")).unwrap();
        assert_eq!(back, plan);
    }

    #[test]
    fn rejects_tampered_counts_and_shapes() {
        let text = sample().to_toml_string().unwrap();
        let bad = text.replacen("rows = 40\n", "rows = 41\n", 1);
        let e = Plan::from_toml(&Source::new("p.toml", &bad), Path::new(".")).unwrap_err();
        assert!(
            e.to_string()
                .contains("table 1 stores 41 rows but qr(40) needs 40"),
            "{e}"
        );
        let bad = text.replacen("params = 1", "params = 2", 1);
        assert!(Plan::from_toml(&Source::new("p.toml", &bad), Path::new(".")).is_err());
    }

    fn arb_feature() -> impl proptest::strategy::Strategy<Value = PlannedFeature> {
        use proptest::prelude::*;
        let list = prop::collection::vec(1u64..1_000_000, 1..4);
        let scheme = prop_oneof![
            Just(Scheme::Full),
            (1u64..u64::MAX).prop_map(|m| Scheme::Hash { m }),
            (1u64..u64::MAX).prop_map(|m| Scheme::Qr { m }),
            list.clone()
                .prop_map(|radices| Scheme::MixedRadix { radices }),
            list.prop_map(|moduli| Scheme::Crt { moduli }),
        ];
        let combiner = prop_oneof![
            Just(Combiner::Mult),
            Just(Combiner::Add),
            Just(Combiner::Concat)
        ];
        // A share of the arithmetic schemes keeps hot ids (at most n − 1 of them).
        let hot = prop_oneof![Just(0u64), 1u64..1 << 20];
        (scheme, combiner, 1u64..(1 << 40), 3u32..64, hot).prop_map(|(scheme, c, n, dim, hot)| {
            let scheme = if hot > 0 && n > 1 && scheme != Scheme::Full {
                Scheme::Hot {
                    hot: hot.min(n - 1),
                    tail: Box::new(scheme),
                }
            } else {
                scheme
            };
            let combiner = (scheme.num_tables() > 1).then_some(c);
            PlannedFeature::new("f", n, dim, scheme, combiner).expect("valid feature")
        })
    }

    proptest::proptest! {
        #[test]
        fn any_plan_round_trips_with_consistent_counts(
            features in proptest::collection::vec(arb_feature(), 1..5),
            opt in proptest::sample::select(Optimizer::ALL.to_vec()),
            dtype in proptest::sample::select(Dtype::ALL.to_vec()),
        ) {
            let features: Vec<PlannedFeature> = features
                .into_iter()
                .enumerate()
                .map(|(i, mut f)| { f.set_name(format!("f{i}")); f })
                .collect();
            let plan = Plan { name: None, dtype, optimizer: opt, features, planner: None, placement: None };
            let costs = plan.costs().unwrap();
            for (f, c) in plan.features.iter().zip(&costs.features) {
                let rows: u64 = f.tables().iter().map(|t| t.rows).sum();
                let params: u64 = f.tables().iter().map(|t| t.rows * u64::from(t.dim)).sum();
                proptest::prop_assert_eq!(c.params, params);
                proptest::prop_assert!(rows <= f.scheme().num_tables() as u64 * f.cardinality());
                proptest::prop_assert_eq!(c.bytes, c.weight_bytes + c.optimizer_bytes);
            }
            let text = plan.to_toml_string().unwrap();
            let back = Plan::from_toml(&Source::new("p.toml", &text), Path::new(".")).unwrap();
            proptest::prop_assert_eq!(&back, &plan);
            let text = plan.to_json_string().unwrap();
            let back = Plan::from_json(&Source::new("p.json", &text), Path::new(".")).unwrap();
            proptest::prop_assert_eq!(back, plan);
        }
    }
}
