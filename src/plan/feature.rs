//! A planned feature: its scheme, combiner and table dims, which must agree, and the table
//! shapes and counts they give.

use anyhow::{Context, Result, anyhow, bail};

use crate::cost::Cost;
use crate::partition::{Combiner, Scheme};
use crate::schema::{Dtype, Optimizer};

/// One table's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableShape {
    /// Rows (classes of its partition that some id reaches).
    pub rows: u64,
    /// Embedding dim of the table.
    pub dim: u32,
}

/// A feature with its chosen scheme and combiner.
///
/// The scheme, cardinality, dims and combiner must agree (one combiner exactly when there are
/// several tables, one dim per table, concat dims adding up to the feature dim), so they are
/// private: a feature is made only by [`PlannedFeature::new`] or
/// [`PlannedFeature::with_table_dims`], which check them, and read through accessors.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFeature {
    name: String,
    cardinality: u64,
    dim: u32,
    scheme: Scheme,
    combiner: Option<Combiner>,
    table_dims: Vec<u32>,
    /// The planner's predicted loss increase, when a planner chose this (an annotation: any
    /// value is consistent).
    pub predicted_loss: Option<f64>,
}

impl PlannedFeature {
    /// Builds a feature, deriving table dims from the combiner (concat splits `dim` evenly).
    pub fn new(
        name: &str,
        cardinality: u64,
        dim: u32,
        scheme: Scheme,
        combiner: Option<Combiner>,
    ) -> Result<PlannedFeature> {
        let k = scheme.num_tables();
        let table_dims = match combiner {
            Some(Combiner::Concat) => {
                crate::partition::concat_split(dim, k, 1).ok_or_else(|| {
                    anyhow!(
                        "feature '{name}': dim {dim} cannot be split across {k} concatenated tables"
                    )
                })?
            }
            _ => vec![dim; k],
        };
        Self::with_table_dims(name, cardinality, dim, scheme, combiner, table_dims)
    }

    /// Builds a feature with explicit table dims, validating shapes.
    pub fn with_table_dims(
        name: &str,
        cardinality: u64,
        dim: u32,
        scheme: Scheme,
        combiner: Option<Combiner>,
        table_dims: Vec<u32>,
    ) -> Result<PlannedFeature> {
        let f = PlannedFeature {
            name: name.to_string(),
            cardinality,
            dim,
            scheme,
            combiner,
            table_dims,
            predicted_loss: None,
        };
        f.validate()?;
        Ok(f)
    }

    /// Feature name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the feature (the name takes no part in the checks).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Number of categories n.
    pub fn cardinality(&self) -> u64 {
        self.cardinality
    }

    /// Output embedding dim.
    pub fn dim(&self) -> u32 {
        self.dim
    }

    /// The partition scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The scheme and combiner as people read them: `qr(13) concat`, `hot(64)+qr(40) add`.
    pub fn scheme_label(&self) -> String {
        match self.combiner {
            Some(c) => format!("{} {c}", self.scheme.describe()),
            None => self.scheme.describe(),
        }
    }

    /// How the tables' rows are combined; `None` for one-table schemes.
    pub fn combiner(&self) -> Option<Combiner> {
        self.combiner
    }

    /// Dim of every table, in partition order.
    pub fn table_dims(&self) -> &[u32] {
        &self.table_dims
    }

    fn validate(&self) -> Result<()> {
        let name = &self.name;
        if self.dim == 0 {
            bail!("feature '{name}': dim must be at least 1");
        }
        self.scheme
            .validate(self.cardinality)
            .with_context(|| format!("feature '{name}'"))?;
        let k = self.scheme.num_tables();
        match (k, self.combiner) {
            (1, Some(c)) => bail!(
                "feature '{name}': scheme {} has one table, so combiner '{c}' does not apply; remove it",
                self.scheme.family()
            ),
            (k, None) if k > 1 => bail!(
                "feature '{name}': scheme {} has {k} tables and needs a combiner (concat, add or mult)",
                self.scheme.family()
            ),
            _ => {}
        }
        if self.table_dims.len() != k {
            bail!(
                "feature '{name}': {} table dims given but scheme {} has {k} tables",
                self.table_dims.len(),
                self.scheme.describe()
            );
        }
        if self.table_dims.contains(&0) {
            bail!("feature '{name}': every table dim must be at least 1");
        }
        match self.combiner {
            Some(Combiner::Concat) => {
                let sum: u64 = self.table_dims.iter().map(|&d| u64::from(d)).sum();
                if sum != u64::from(self.dim) {
                    bail!(
                        "feature '{name}': concat table dims {:?} add up to {sum}, not the feature dim {}",
                        self.table_dims,
                        self.dim
                    );
                }
            }
            _ => {
                if let Some(&d) = self.table_dims.iter().find(|&&d| d != self.dim) {
                    bail!(
                        "feature '{name}': with {} every table must have the feature dim {}, found {d}",
                        self.combiner.map_or("one table", Combiner::name),
                        self.dim
                    );
                }
            }
        }
        Ok(())
    }

    /// The tables' shapes, in partition order.
    pub fn tables(&self) -> Vec<TableShape> {
        self.scheme
            .table_rows(self.cardinality)
            .into_iter()
            .zip(&self.table_dims)
            .map(|(rows, &dim)| TableShape { rows, dim })
            .collect()
    }

    /// Counts per table, in partition order.
    pub fn table_costs(&self, dtype: Dtype, optimizer: Optimizer) -> Result<Vec<Cost>> {
        self.tables()
            .iter()
            .map(|t| Cost::of_table(t.rows, t.dim, dtype, optimizer))
            .collect::<Result<_>>()
            .with_context(|| format!("feature '{}'", self.name))
    }

    /// The feature's total counts.
    pub fn cost(&self, dtype: Dtype, optimizer: Optimizer) -> Result<Cost> {
        Cost::sum(self.table_costs(dtype, optimizer)?)
            .with_context(|| format!("feature '{}'", self.name))
    }

    /// Counts of the same feature with one full table.
    pub fn full_cost(&self, dtype: Dtype, optimizer: Optimizer) -> Result<Cost> {
        Cost::of_table(self.cardinality, self.dim, dtype, optimizer)
            .with_context(|| format!("feature '{}' as a full table", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_dims_follow_the_split_rule() {
        let f = &PlannedFeature::new(
            "c",
            1001,
            16,
            Scheme::Crt {
                moduli: vec![7, 11, 13],
            },
            Some(Combiner::Concat),
        )
        .unwrap();
        assert_eq!(f.table_dims(), [6, 5, 5]);
        assert_eq!(f.tables()[0], TableShape { rows: 7, dim: 6 });
    }

    /// Dims that disagree with the scheme or the combiner are refused, so `tables()` always
    /// has one shape per table of the scheme.
    #[test]
    fn inconsistent_table_dims_are_refused() {
        let qr = || Scheme::Qr { m: 4 };
        let mult = Some(Combiner::Mult);
        let e = PlannedFeature::with_table_dims("f", 100, 8, qr(), mult, vec![8]).unwrap_err();
        assert!(e.to_string().contains("1 table dims given"), "{e}");
        let e = PlannedFeature::with_table_dims("f", 100, 8, qr(), mult, vec![8, 4]).unwrap_err();
        assert!(e.to_string().contains("feature dim 8, found 4"), "{e}");
        let concat = Some(Combiner::Concat);
        let e = PlannedFeature::with_table_dims("f", 100, 8, qr(), concat, vec![4, 3]).unwrap_err();
        assert!(e.to_string().contains("add up to 7"), "{e}");
        assert!(PlannedFeature::with_table_dims("f", 100, 8, qr(), None, vec![8, 8]).is_err());
        let f = PlannedFeature::with_table_dims("f", 100, 8, qr(), concat, vec![5, 3]).unwrap();
        assert_eq!(f.tables().len(), f.scheme().num_tables());
    }
}
