//! DLRM-style uniform baselines: one collision count for every feature above a threshold.
//!
//! Conventions match DLRM's `--qr-flag --qr-threshold T --qr-collisions C --qr-operation OP`:
//! a feature is compressed only if its cardinality n > T; `qr:C` is [`Scheme::Qr`] with
//! m = C (remainder table C rows, quotient table ceil(n/C) rows); `hash:C` is
//! [`Scheme::Hash`] with m = ceil(n/C) buckets (C ids per bucket); `full` keeps every table.
//! Baselines are written in the same plan format as searched plans.

use std::fmt;

use anyhow::{Context, Result, bail};

use crate::partition::{Combiner, Scheme, concat_split};
use crate::plan::quality::{Family, QualityModel};
use crate::plan::{Plan, PlannedFeature, PlannerInfo};
use crate::schema::Schema;

/// The scheme a uniform baseline gives every feature above the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniformFamily {
    /// Every table full.
    Full,
    /// Quotient–remainder with C collisions (m = C).
    Qr(u64),
    /// The hashing trick with C collisions per bucket (m = ceil(n/C)).
    Hash(u64),
}

impl UniformFamily {
    /// Parses `full`, `qr:C` or `hash:C` (C ≥ 1).
    pub fn parse(s: &str) -> Result<UniformFamily> {
        let t = s.trim().to_ascii_lowercase();
        if t == "full" {
            return Ok(UniformFamily::Full);
        }
        let expected = "expected full, qr:C or hash:C with C collisions, e.g. qr:4";
        let Some((family, count)) = t.split_once(':') else {
            let hint = crate::source::did_you_mean(&t, ["full", "qr", "hash"]);
            bail!("invalid uniform baseline '{s}'{hint}: {expected}");
        };
        let c: u64 = count.trim().parse().ok().filter(|&c| c >= 1).with_context(|| {
            format!("invalid uniform baseline '{s}': the collision count must be an integer ≥ 1; {expected}")
        })?;
        match family.trim() {
            "qr" => Ok(UniformFamily::Qr(c)),
            "hash" => Ok(UniformFamily::Hash(c)),
            other => {
                let hint = crate::source::did_you_mean(other, ["qr", "hash"]);
                bail!("invalid uniform baseline '{s}': unknown family '{other}'{hint}; {expected}")
            }
        }
    }
}

impl fmt::Display for UniformFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UniformFamily::Full => f.write_str("full"),
            UniformFamily::Qr(c) => write!(f, "qr:{c}"),
            UniformFamily::Hash(c) => write!(f, "hash:{c}"),
        }
    }
}

/// A uniform baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniformSpec {
    /// The scheme for features above the threshold.
    pub family: UniformFamily,
    /// Combiner of qr's two tables.
    pub combiner: Combiner,
    /// Features with cardinality ≤ threshold stay full (DLRM's `--qr-threshold`, default 200).
    pub threshold: u64,
    /// Every table dim must be a multiple of this (concat splits in these units).
    pub dim_multiple: u32,
}

impl UniformSpec {
    /// How plans record this baseline, e.g. `uniform qr:4 mult threshold 200`.
    pub fn describe(&self) -> String {
        match self.family {
            UniformFamily::Full => "uniform full".to_string(),
            UniformFamily::Hash(_) => {
                format!("uniform {} threshold {}", self.family, self.threshold)
            }
            UniformFamily::Qr(_) => format!(
                "uniform {} {} threshold {}",
                self.family, self.combiner, self.threshold
            ),
        }
    }
}

/// Builds the uniform baseline plan, with predicted losses from `model`.
pub fn uniform(schema: &Schema, spec: &UniformSpec, model: &QualityModel) -> Result<Plan> {
    let multiple = spec.dim_multiple.max(1);
    let mut total = 0.0;
    let mut features = Vec::with_capacity(schema.features.len());
    for f in &schema.features {
        let n = f.cardinality;
        if !f.dim.is_multiple_of(multiple) {
            bail!(
                "feature '{}' has dim {}, which is not a multiple of the required table dim multiple {multiple}",
                f.name,
                f.dim
            );
        }
        let compress = n > spec.threshold;
        let (scheme, combiner, family) = match spec.family {
            UniformFamily::Qr(c) if compress => {
                (Scheme::Qr { m: c }, Some(spec.combiner), Some(Family::Qr))
            }
            UniformFamily::Hash(c) => {
                if compress {
                    (Scheme::Hash { m: n.div_ceil(c) }, None, Some(Family::Hash))
                } else {
                    (Scheme::Full, None, None)
                }
            }
            _ => (Scheme::Full, None, None),
        };
        let k = scheme.num_tables();
        let dims = match combiner {
            Some(Combiner::Concat) => concat_split(f.dim, k, multiple).with_context(|| {
                format!(
                    "feature '{}': dim {} cannot be split across {k} concatenated tables in units of {multiple}",
                    f.name, f.dim
                )
            })?,
            _ => vec![f.dim; k],
        };
        let mut p = PlannedFeature::with_table_dims(&f.name, n, f.dim, scheme, combiner, dims)?;
        let loss = match family {
            None => 0.0,
            Some(family) => {
                let cost = p.cost(schema.dtype, schema.optimizer)?;
                let coefficients = model.coefficients(family, combiner)?;
                let full_params = n as f64 * f64::from(f.dim);
                model.predict(f.weight, full_params, coefficients, cost.params, k)
            }
        };
        p.predicted_loss = Some(loss);
        total += loss;
        features.push(p);
    }
    Ok(Plan {
        name: schema.name.clone(),
        dtype: schema.dtype,
        optimizer: schema.optimizer,
        features,
        planner: Some(PlannerInfo {
            budget_bytes: None,
            method: Some(spec.describe()),
            predicted_loss: Some(total),
            lower_bound: None,
            quality_model: Some(model.source.clone()),
        }),
        placement: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;

    fn schema() -> Schema {
        Schema::from_toml(&Source::new(
            "s.toml",
            "dim = 16\n[[feature]]\nname = \"small\"\ncardinality = 200\n[[feature]]\nname = \"big\"\ncardinality = 1001\n",
        ))
        .unwrap()
    }

    #[test]
    fn parses_specs_with_hints() {
        assert_eq!(UniformFamily::parse("qr:4").unwrap(), UniformFamily::Qr(4));
        assert_eq!(
            UniformFamily::parse("HASH:60").unwrap(),
            UniformFamily::Hash(60)
        );
        assert_eq!(UniformFamily::parse("full").unwrap(), UniformFamily::Full);
        let e = UniformFamily::parse("qrr:4").unwrap_err().to_string();
        assert!(e.contains("did you mean 'qr'"), "{e}");
        assert!(UniformFamily::parse("qr:0").is_err());
        assert!(UniformFamily::parse("qr").is_err());
    }

    #[test]
    fn follows_dlrm_conventions() {
        let model = QualityModel::default();
        let spec = UniformSpec {
            family: UniformFamily::Qr(4),
            combiner: Combiner::Mult,
            threshold: 200,
            dim_multiple: 1,
        };
        let p = uniform(&schema(), &spec, &model).unwrap();
        assert_eq!(*p.features[0].scheme(), Scheme::Full);
        assert_eq!(*p.features[1].scheme(), Scheme::Qr { m: 4 });
        assert_eq!(p.features[1].tables()[1].rows, 251);
        let spec = UniformSpec {
            family: UniformFamily::Hash(4),
            ..spec
        };
        let p = uniform(&schema(), &spec, &model).unwrap();
        assert_eq!(*p.features[1].scheme(), Scheme::Hash { m: 251 });
        assert!(p.planner.unwrap().predicted_loss.unwrap() > 0.0);
    }
}
