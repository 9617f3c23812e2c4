//! The schema users write: features with cardinalities and dims, dtype and optimizer.
//!
//! ```toml
//! name = "criteo-kaggle"   # optional
//! dim = 16                 # default embedding dim
//! dtype = "f32"            # f32 | f16 | bf16 | int8
//! optimizer = "adagrad"    # none | sgd | adagrad | rowwise-adagrad | adam
//!
//! [[feature]]
//! name = "C1"
//! cardinality = 1460
//! # dim = 32               # per-feature override
//! # weight = 2.0           # planner: how much this feature's quality matters
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use toml::Spanned;

use crate::profile::stats::FeatureProfile;
use crate::source::Source;

/// Element type of the embedding weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Dtype {
    /// 32-bit float, 4 bytes.
    #[default]
    F32,
    /// 16-bit IEEE float, 2 bytes.
    F16,
    /// bfloat16, 2 bytes.
    Bf16,
    /// 8-bit quantized, 1 byte per element plus a 4-byte per-row scale and bias.
    Int8,
}

impl Dtype {
    /// Bytes per weight element.
    pub fn element_bytes(self) -> u64 {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::Int8 => 1,
        }
    }

    /// Extra bytes stored per row (INT8's scale and bias, as TorchRec's planner counts them).
    pub fn row_overhead_bytes(self) -> u64 {
        match self {
            Dtype::Int8 => 4,
            _ => 0,
        }
    }

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::Int8 => "int8",
        }
    }

    /// Every dtype, in a fixed order.
    pub const ALL: [Dtype; 4] = [Dtype::F32, Dtype::F16, Dtype::Bf16, Dtype::Int8];
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Optimizer whose state is counted alongside the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Optimizer {
    /// No optimizer state (inference, or state not counted).
    #[default]
    None,
    /// Plain SGD: no state.
    Sgd,
    /// Adagrad: one accumulator per weight.
    Adagrad,
    /// Row-wise Adagrad: one f32 accumulator per row.
    RowwiseAdagrad,
    /// Adam: two moments per weight.
    Adam,
}

impl Optimizer {
    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::None => "none",
            Optimizer::Sgd => "sgd",
            Optimizer::Adagrad => "adagrad",
            Optimizer::RowwiseAdagrad => "rowwise-adagrad",
            Optimizer::Adam => "adam",
        }
    }

    /// Every optimizer, in a fixed order.
    pub const ALL: [Optimizer; 5] = [
        Optimizer::None,
        Optimizer::Sgd,
        Optimizer::Adagrad,
        Optimizer::RowwiseAdagrad,
        Optimizer::Adam,
    ];
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One categorical feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Unique name (e.g. `C1`).
    pub name: String,
    /// Number of categories n; ids are 0..n.
    pub cardinality: u64,
    /// Embedding dim of this feature.
    pub dim: u32,
    /// Relative importance for the planner's quality model (default 1).
    pub weight: f64,
    /// Zipf exponent of its ids for synthetic data, if set.
    pub zipf: Option<f64>,
    /// What `embplan profile` measured of its values, if it was profiled.
    pub profile: Option<FeatureProfile>,
}

/// A validated schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Dataset name, if given.
    pub name: Option<String>,
    /// Default embedding dim.
    pub dim: u32,
    /// Weight dtype.
    pub dtype: Dtype,
    /// Optimizer whose state is counted.
    pub optimizer: Optimizer,
    /// Default Zipf exponent for synthetic data.
    pub zipf: Option<f64>,
    /// The features, in file order.
    pub features: Vec<Feature>,
    /// Where the profile came from, if `embplan profile` wrote the schema.
    pub profile: Option<DataProfile>,
}

/// What a profiled schema records of the data it measured (the `[profile]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataProfile {
    /// The files read, as given.
    pub files: Vec<String>,
    /// Their format.
    pub format: String,
    /// Rows read.
    #[serde(with = "wide_u64")]
    pub rows: u64,
    /// Share of rows with label 1.
    pub positive_rate: f64,
    /// Values seen fewer times than this share each feature's out-of-vocabulary id.
    #[serde(with = "wide_u64")]
    pub min_count: u64,
    /// Whether every figure is exact (else some are sketch estimates, see each feature).
    pub exact: bool,
    /// The vocabulary directory (relative to the schema file), if one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab: Option<String>,
    /// The vocabulary's fingerprint (its manifest's), to catch a mismatched vocabulary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_fingerprint: Option<String>,
}

/// A u64 that TOML (whose integers are i64) may also give as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WideU64(pub u64);

impl<'de> Deserialize<'de> for WideU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WideU64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer up to 18446744073709551615 (or the same as a decimal string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<WideU64, E> {
                u64::try_from(v)
                    .map(WideU64)
                    .map_err(|_| E::custom(format!("expected a non-negative integer, found {v}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WideU64, E> {
                Ok(WideU64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WideU64, E> {
                let digits: String = v.trim().chars().filter(|&c| c != '_').collect();
                digits.parse::<u64>().map(WideU64).map_err(|_| {
                    E::custom(format!(
                        "expected a non-negative integer up to 18446744073709551615, found \"{v}\""
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for WideU64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wide_u64::serialize(&self.0, s)
    }
}

/// Serde helpers for u64 fields: written as integers, read from integers or decimal strings.
pub mod wide_u64 {
    use super::WideU64;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a plain integer up to 2^63 − 1 and a decimal string above: a TOML integer is
    /// an i64, so larger numbers written as integers could not be read back.
    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        if i64::try_from(*v).is_ok() {
            s.serialize_u64(*v)
        } else {
            s.serialize_str(&v.to_string())
        }
    }

    /// Reads an integer or a decimal string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        WideU64::deserialize(d).map(|w| w.0)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    name: Option<String>,
    dim: Option<Spanned<u32>>,
    #[serde(default)]
    dtype: Dtype,
    #[serde(default)]
    optimizer: Optimizer,
    zipf: Option<Spanned<f64>>,
    #[serde(default, rename = "feature")]
    features: Vec<RawFeature>,
    profile: Option<DataProfile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: Spanned<String>,
    cardinality: Spanned<WideU64>,
    dim: Option<Spanned<u32>>,
    weight: Option<Spanned<f64>>,
    zipf: Option<Spanned<f64>>,
    profile: Option<FeatureProfile>,
}

impl Schema {
    /// Reads and validates a schema file.
    pub fn load(path: &Path) -> Result<Schema> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read schema '{}'", path.display()))?;
        Schema::from_toml(&Source::new(&path.display().to_string(), &text))
    }

    /// Parses and validates schema TOML; errors name `origin:line:col`.
    pub fn from_toml(src: &Source) -> Result<Schema> {
        let raw: RawSchema = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        let default_dim = match raw.dim {
            Some(d) => positive_dim(src, &d)?,
            None => 16,
        };
        let zipf = raw
            .zipf
            .map(|z| positive_f64(src, &z, "zipf"))
            .transpose()?;
        if raw.features.is_empty() {
            return Err(src.error_at(
                None,
                "no features: add at least one [[feature]] table with a name and a cardinality",
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut features = Vec::with_capacity(raw.features.len());
        for f in raw.features {
            let name = f.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(src.error_at(Some(f.name.span()), "feature name is empty"));
            }
            if let Some(first) = seen.get(&name) {
                let (line, _) = src.line_col(*first);
                return Err(src.error_at(
                    Some(f.name.span()),
                    format!("duplicate feature name '{name}' (first defined on line {line})"),
                ));
            }
            seen.insert(name.clone(), f.name.span().start);
            let cardinality = f.cardinality.get_ref().0;
            if cardinality == 0 {
                return Err(src.error_at(
                    Some(f.cardinality.span()),
                    format!("feature '{name}': cardinality must be at least 1, found 0"),
                ));
            }
            let dim = match f.dim {
                Some(d) => positive_dim(src, &d)?,
                None => default_dim,
            };
            let weight = match f.weight {
                Some(w) => positive_f64(src, &w, "weight")?,
                None => 1.0,
            };
            let feature_zipf = f.zipf.map(|z| positive_f64(src, &z, "zipf")).transpose()?;
            features.push(Feature {
                name,
                cardinality,
                dim,
                weight,
                zipf: feature_zipf.or(zipf),
                profile: f.profile,
            });
        }
        Ok(Schema {
            name: raw.name,
            dim: default_dim,
            dtype: raw.dtype,
            optimizer: raw.optimizer,
            zipf,
            features,
            profile: raw.profile,
        })
    }

    /// The schema as TOML, in the format [`Schema::from_toml`] reads (dims and weights
    /// written per feature only where they differ from the defaults).
    pub fn to_toml(&self) -> Result<String> {
        let out = OutSchema {
            name: self.name.as_deref(),
            dim: self.dim,
            dtype: self.dtype,
            optimizer: self.optimizer,
            zipf: self.zipf,
            profile: self.profile.as_ref(),
            feature: self
                .features
                .iter()
                .map(|f| OutFeature {
                    name: &f.name,
                    cardinality: f.cardinality,
                    dim: (f.dim != self.dim).then_some(f.dim),
                    weight: (f.weight != 1.0).then_some(f.weight),
                    zipf: f.zipf.filter(|z| Some(*z) != self.zipf),
                    profile: f.profile.as_ref(),
                })
                .collect(),
        };
        toml::to_string(&out).context("cannot format the schema as TOML")
    }

    /// A schema name for titles: the given name or `unnamed`.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or("unnamed")
    }

    /// The sum of all cardinalities, checked.
    pub fn total_cardinality(&self) -> Option<u64> {
        self.features
            .iter()
            .try_fold(0u64, |acc, f| acc.checked_add(f.cardinality))
    }
}

#[derive(Serialize)]
struct OutSchema<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    dim: u32,
    dtype: Dtype,
    optimizer: Optimizer,
    #[serde(skip_serializing_if = "Option::is_none")]
    zipf: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a DataProfile>,
    feature: Vec<OutFeature<'a>>,
}

#[derive(Serialize)]
struct OutFeature<'a> {
    name: &'a str,
    #[serde(with = "wide_u64")]
    cardinality: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dim: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zipf: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a FeatureProfile>,
}

fn positive_dim(src: &Source, d: &Spanned<u32>) -> Result<u32> {
    if *d.get_ref() == 0 {
        return Err(src.error_at(Some(d.span()), "dim must be at least 1, found 0"));
    }
    Ok(*d.get_ref())
}

fn positive_f64(src: &Source, v: &Spanned<f64>, what: &str) -> Result<f64> {
    let x = *v.get_ref();
    if !(x.is_finite() && x > 0.0) {
        return Err(src.error_at(
            Some(v.span()),
            format!("{what} must be a positive finite number, found {x}"),
        ));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Schema> {
        Schema::from_toml(&Source::new("s.toml", text))
    }

    #[test]
    fn parses_defaults_and_overrides() {
        let s = parse(
            "dim = 8\noptimizer = \"rowwise-adagrad\"\n[[feature]]\nname = \"a\"\ncardinality = 10\n[[feature]]\nname = \"b\"\ncardinality = 18446744073709551615\ndim = 32\nweight = 2.5\n",
        )
        .unwrap();
        assert_eq!(s.dtype, Dtype::F32);
        assert_eq!(s.optimizer, Optimizer::RowwiseAdagrad);
        assert_eq!(s.features[0].dim, 8);
        assert_eq!(s.features[1].cardinality, u64::MAX);
        assert_eq!(s.features[1].dim, 32);
        assert_eq!(s.features[1].weight, 2.5);
    }

    #[test]
    fn errors_are_located() {
        let e = parse("[[feature]]\nname = \"a\"\ncardnality = 10\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:3:1:"), "{e}");
        assert!(e.contains("did you mean 'cardinality'"), "{e}");
        let e = parse("dtype = \"f33\"\n[[feature]]\nname = \"a\"\ncardinality = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml:1:9"), "{e}");
        assert!(e.contains("did you mean 'f32'"), "{e}");
    }
}
