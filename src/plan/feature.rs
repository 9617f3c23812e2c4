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
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFeature {
    /// Feature name.
    pub name: String,
    /// Number of categories n.
    pub cardinality: u64,
    /// Output embedding dim.
    pub dim: u32,
    /// The partition scheme.
    pub scheme: Scheme,
    /// How the tables' rows are combined; `None` for one-table schemes.
    pub combiner: Option<Combiner>,
    /// Dim of every table, in partition order.
    pub table_dims: Vec<u32>,
    /// The planner's predicted loss increase, when a planner chose this.
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
        assert_eq!(f.table_dims, vec![6, 5, 5]);
        assert_eq!(f.tables()[0], TableShape { rows: 7, dim: 6 });
    }
}
