//! `dlrm`: the `dlrm_s_pytorch.py` flags that build the plan's tables, where they can.
//!
//! DLRM has one switch for compression: every table with n > `--qr-threshold` becomes a
//! `QREmbeddingBag` with the same `--qr-collisions` m and `--qr-operation`, both tables of width
//! `--arch-sparse-feature-size` D, and the others stay full n × D. So a plan is expressible
//! only when every compressed feature is `qr` with one m and one combiner, every table has the
//! same dim D, and a threshold separates the full features (n ≤ T) from the compressed ones
//! (n > T); we emit T = the largest full cardinality (0 when none is full). Moreover:
//! - DLRM always allocates m remainder rows, the plan min(m, n): a qr feature needs n ≥ m;
//! - concat doubles the width to 2D, so every feature must be compressed (full ones stay at D
//!   and could not meet the others at the interaction).
//!
//! The output is the flags alone on one line, ready for `$(embplan export … --format dlrm)`;
//! caveats go to the warnings.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Result, bail};

use super::{Exported, Exporter};
use crate::partition::{Combiner, Scheme};
use crate::plan::{Plan, PlannedFeature};
use crate::schema::Dtype;

/// The `dlrm_s_pytorch.py` flags exporter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dlrm;

/// Ids of 2^24 and more can lose precision in the f32 division DLRM's `QREmbeddingBag` uses.
const F32_EXACT_IDS: u64 = 1 << 24;

/// `'a', 'b'` for error messages.
fn names<'a>(features: impl IntoIterator<Item = &'a PlannedFeature>) -> String {
    features
        .into_iter()
        .map(|f| format!("'{}'", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Groups features by a key, for "one value for all" errors: `40 ('a'), 50 ('e', 'f')`.
fn grouped<K: Ord + std::fmt::Display>(items: &[(K, &PlannedFeature)]) -> String {
    let mut groups: BTreeMap<&K, Vec<&PlannedFeature>> = BTreeMap::new();
    for (k, f) in items {
        groups.entry(k).or_default().push(f);
    }
    groups
        .iter()
        .map(|(k, fs)| format!("{k} ({})", names(fs.iter().copied())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan's features as DLRM sees them: full ones, qr ones with their m, and the one
/// table dim D of every expressible feature.
struct Layout<'a> {
    full: Vec<&'a PlannedFeature>,
    qr: Vec<(u64, &'a PlannedFeature)>,
    dims: Vec<(u32, &'a PlannedFeature)>,
    /// Whether the qr features concatenate (width 2 × D).
    concat: bool,
    /// `--qr-threshold`: the largest full cardinality (0 when none is full).
    threshold: u64,
}

impl<'a> Layout<'a> {
    /// Sorts the features; problems with schemes DLRM has no flag for go to `problems`.
    fn of(plan: &'a Plan, problems: &mut Vec<String>) -> Layout<'a> {
        let mut full = Vec::new();
        let mut qr = Vec::new();
        for f in &plan.features {
            match f.scheme() {
                Scheme::Full => full.push(f),
                Scheme::Qr { m } => qr.push((*m, f)),
                Scheme::Hot { .. } => problems.push(format!(
                    "feature '{}' uses {}, but DLRM has no rows of their own for frequent ids",
                    f.name(),
                    f.scheme().describe()
                )),
                _ => problems.push(format!(
                    "feature '{}' uses {}, but DLRM compresses only with quotient-remainder (qr)",
                    f.name(),
                    f.scheme().describe()
                )),
            }
        }
        // Features already disqualified by their scheme are left out, to keep the error short.
        let dims = plan
            .features
            .iter()
            .filter(|f| matches!(f.scheme(), Scheme::Full | Scheme::Qr { .. }))
            .map(|f| (f.table_dims()[0], f))
            .collect();
        let concat = qr
            .iter()
            .any(|(_, f)| f.combiner() == Some(Combiner::Concat));
        let threshold = full.iter().map(|f| f.cardinality()).max().unwrap_or(0);
        Layout {
            full,
            qr,
            dims,
            concat,
            threshold,
        }
    }

    /// What DLRM's one-value-for-all flags cannot express.
    fn problems(&self, problems: &mut Vec<String>) {
        let qr = &self.qr;
        if qr.iter().any(|(m, _)| *m != qr[0].0) {
            problems.push(format!(
                "DLRM has one --qr-collisions for every table, but the qr moduli differ: m = {}",
                grouped(qr)
            ));
        }
        let combiners: Vec<(&str, &PlannedFeature)> = qr
            .iter()
            .map(|(_, f)| (f.combiner().map_or("none", Combiner::name), *f))
            .collect();
        if combiners.iter().any(|(c, _)| *c != combiners[0].0) {
            problems.push(format!(
                "DLRM has one --qr-operation, but the qr combiners differ: {}",
                grouped(&combiners)
            ));
        }
        for (m, f) in qr {
            if f.cardinality() < *m {
                problems.push(format!(
                    "feature '{}' has n = {} < m = {m}: DLRM allocates all {m} remainder rows, the plan only {}",
                    f.name(), f.cardinality(), f.cardinality()
                ));
            }
        }
        self.dim_problems(problems);
        self.threshold_problems(problems);
    }

    /// Every DLRM table has width D; the plan's concat tables must be split evenly.
    fn dim_problems(&self, problems: &mut Vec<String>) {
        for (_, f) in &self.dims {
            let d = f.table_dims()[0];
            if f.table_dims().iter().any(|&x| x != d) {
                problems.push(format!(
                    "feature '{}' has table dims {:?}, but DLRM gives both qr tables the same dim",
                    f.name(),
                    f.table_dims()
                ));
            }
        }
        if self.dims.iter().any(|(d, _)| *d != self.dims[0].0) {
            problems.push(format!(
                "DLRM has one --arch-sparse-feature-size, but the table dims differ: {}",
                grouped(&self.dims)
            ));
        }
        if self.concat && !self.full.is_empty() {
            problems.push(format!(
                "with concat DLRM's qr features reach the interaction at 2 x D but full ones at D; full features: {}",
                names(self.full.iter().copied())
            ));
        }
    }

    /// DLRM compresses exactly the tables above one threshold.
    fn threshold_problems(&self, problems: &mut Vec<String>) {
        let threshold = self.threshold;
        let below: Vec<&PlannedFeature> = self
            .qr
            .iter()
            .map(|(_, f)| *f)
            .filter(|f| f.cardinality() <= threshold)
            .collect();
        if !below.is_empty() {
            let widest = self
                .full
                .iter()
                .find(|f| f.cardinality() == threshold)
                .map_or(String::new(), |f| f.name().to_string());
            problems.push(format!(
                "DLRM compresses exactly the tables with n > --qr-threshold, but full feature '{widest}' has n = {threshold} and qr features {} have n <= {threshold}",
                names(below)
            ));
        }
    }

    /// The flags, on one line.
    fn flags(&self, plan: &Plan) -> String {
        let sizes: Vec<String> = plan
            .features
            .iter()
            .map(|f| f.cardinality().to_string())
            .collect();
        let d = self.dim();
        let mut text = format!(
            "--arch-embedding-size={} --arch-sparse-feature-size={d}",
            sizes.join("-")
        );
        if let Some((m, f)) = self.qr.first() {
            let op = f.combiner().map_or("mult", Combiner::name);
            let _ = write!(
                text,
                " --qr-flag --qr-operation {op} --qr-collisions {m} --qr-threshold {}",
                self.threshold
            );
        }
        text.push('\n');
        text
    }

    /// The one table dim D.
    fn dim(&self) -> u32 {
        self.dims.first().map_or(0, |(d, _)| *d)
    }

    /// What the flags do differently from the plan, for the user to know.
    fn warnings(&self, plan: &Plan) -> Vec<String> {
        let d = self.dim();
        let mut warnings = vec![
            "with --data-generation=dataset DLRM takes table sizes from the data's counts, not --arch-embedding-size: they must equal the plan's cardinalities, in the plan's feature order".to_string(),
        ];
        if !self.qr.is_empty() {
            warnings.push(
                "DLRM initialises both qr tables with U(sqrt(1/n), 1), not embplan's scale-matched init (with add, users saw the loss diverge: dlrm issue #326)".to_string(),
            );
            if self.concat {
                warnings.push(format!(
                    "with concat every feature reaches the interaction at 2 x {d} = {}: end the bottom MLP at {} (--arch-mlp-bot=...-{}); DLRM concatenates quotient then remainder",
                    2 * d,
                    2 * d,
                    2 * d
                ));
            }
            let large: Vec<&PlannedFeature> = self
                .qr
                .iter()
                .map(|(_, f)| *f)
                .filter(|f| f.cardinality() > F32_EXACT_IDS)
                .collect();
            if !large.is_empty() {
                warnings.push(format!(
                    "DLRM's QREmbeddingBag computes the quotient by float division, which can misplace ids of 2^24 and more; features {} have more ids: patch it to torch.div(input, m, rounding_mode=\"floor\")",
                    names(large)
                ));
            }
        }
        if plan.dtype != Dtype::F32 {
            warnings.push(format!(
                "DLRM trains f32 weights; the plan's bytes are counted in {}",
                plan.dtype
            ));
        }
        warnings
    }
}

impl Exporter for Dlrm {
    fn export(&self, plan: &Plan) -> Result<Exported> {
        let mut problems = Vec::new();
        let layout = Layout::of(plan, &mut problems);
        layout.problems(&mut problems);
        if !problems.is_empty() {
            bail!(
                "the plan cannot be expressed as dlrm_s_pytorch.py flags:\n  - {}",
                problems.join("\n  - ")
            );
        }
        Ok(Exported {
            text: layout.flags(plan),
            warnings: layout.warnings(plan),
        })
    }
}
