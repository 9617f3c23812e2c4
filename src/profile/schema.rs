//! A profile as a schema: one feature per profiled column, its cardinality the kept values
//! plus the out-of-vocabulary id, its measured figures in `[feature.profile]`.

use super::Profile;
use super::vocab::Manifest;
use crate::schema::{DataProfile, Dtype, Feature, Optimizer, Schema};

/// Where the data came from and how the schema is to be named and sized.
#[derive(Debug, Clone)]
pub struct SchemaOrigin<'a> {
    /// The schema's name.
    pub name: Option<String>,
    /// Every feature's embedding dim.
    pub dim: u32,
    /// The data files, as given.
    pub files: Vec<String>,
    /// Their format's name.
    pub format: String,
    /// The vocabulary directory as the schema records it, and its manifest.
    pub vocab: Option<(String, &'a Manifest)>,
}

impl Profile {
    /// The schema `profile -o` writes: f32 tables with Adagrad state, every feature at
    /// `origin.dim`, weight 1.
    pub fn to_schema(&self, origin: SchemaOrigin<'_>) -> Schema {
        Schema {
            name: origin.name,
            dim: origin.dim,
            dtype: Dtype::F32,
            optimizer: Optimizer::Adagrad,
            zipf: None,
            features: self
                .features
                .iter()
                .map(|f| Feature {
                    name: f.name.clone(),
                    cardinality: f.cardinality(),
                    dim: origin.dim,
                    weight: 1.0,
                    zipf: None,
                    profile: Some(f.profile.clone()),
                })
                .collect(),
            profile: Some(DataProfile {
                files: origin.files,
                format: origin.format,
                rows: self.rows,
                positive_rate: if self.rows == 0 {
                    0.0
                } else {
                    self.positives as f64 / self.rows as f64
                },
                min_count: self.min_count,
                exact: self.features.iter().all(|f| f.profile.exact),
                vocab_fingerprint: origin.vocab.as_ref().map(|(_, m)| m.fingerprint()),
                vocab: origin.vocab.map(|(path, _)| path),
            }),
        }
    }
}
