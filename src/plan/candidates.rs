//! Candidate schemes per feature, their exact bytes and predicted loss, and the
//! per-feature Pareto front and lower convex hull the solver works on.
//!
//! Candidates of a feature with n categories and dim D (every one complementary except hash):
//!
//! | family | parameters | grid |
//! |---|---|---|
//! | `full` | — | always a candidate (loss 0) |
//! | `qr` m | remainder m, quotient ceil(n/m) | m geometric, ratio 2^(1/4), from 2 to floor(√n) |
//! | `mixed-radix` k = 3, 4 | radices [b, …, b, ceil(n / b^(k−1))] | b near n^(1/k): ratio √2 from r/4 to r = floor(n^(1/k)) |
//! | `crt` k = 2, 3 | pairwise coprime moduli from c upward, the last the smallest coprime ≥ n / (product of the others) | c near n^(1/k), as for mixed-radix |
//! | `hash` (only if asked) | m = ceil(n / c) buckets, c collisions | c geometric, ratio 2^(1/4), 2 to n |
//!
//! QR with m > √n is left out: it has the same rows as m' = n/m. QR covers compressions
//! from 2× to about √n/2× densely; mixed-radix and CRT add the higher compressions only
//! they reach (about n^(1−1/k)/k), so their grids stay near the balanced point. Pairwise coprime CRT moduli
//! have lcm = product ≥ n, so every CRT candidate is complementary. Each multi-table
//! candidate comes with every allowed combiner. Concat splits the feature's dim with
//! [`concat_split`]: equal parts in units of `--dim-multiple`, the remainder to the first
//! tables (16 over 3 tables: 6, 5, 5), so the output width stays D; a split that would give a
//! table no unit drops that candidate. Add and mult give every table dim D.
//!
//! Bytes are exact ([`Cost::of_table`], the code `estimate` uses); a candidate that is not
//! smaller than the full table is dropped (the full table is better in both respects).

use anyhow::{Context, Result, bail};

use crate::cost::Cost;
use crate::partition::{Combiner, Scheme, concat_split};
use crate::plan::quality::{Family, QualityModel, to_fixed};
use crate::schema::{Dtype, Feature, Optimizer};

/// What the planner may choose from.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSpace {
    /// Compressed families allowed (full tables are always allowed).
    pub families: Vec<Family>,
    /// Combiners allowed for multi-table families.
    pub combiners: Vec<Combiner>,
    /// Every table dim must be a multiple of this (1: no constraint; 4 for FBGEMM/TorchRec).
    pub dim_multiple: u32,
    /// Whether features with a profile may keep their most frequent ids in rows of their
    /// own (`hot` schemes).
    pub hot: bool,
    /// Only (family, combiner) pairs the quality model measured: a plan made with a
    /// calibration then never rests on coefficients it did not measure.
    pub only_measured: bool,
}

impl Default for SearchSpace {
    /// The complementary families with every combiner, no dim constraint.
    fn default() -> Self {
        SearchSpace {
            families: vec![Family::Qr, Family::MixedRadix, Family::Crt],
            combiners: Combiner::ALL.to_vec(),
            dim_multiple: 1,
            hot: true,
            only_measured: false,
        }
    }
}

/// A candidate scheme in 24 bytes; [`CandidateKey::scheme`] rebuilds it for a cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CandidateKey {
    /// Hot ids with rows of their own (0: none); the rest describes the tail scheme, over
    /// the n − hot tail ids.
    pub hot: u64,
    /// `None` for a full table.
    pub family: Option<Family>,
    /// Number of tables.
    pub tables: u8,
    /// Combiner for multi-table schemes.
    pub combiner: Option<Combiner>,
    /// qr: m; mixed-radix: the base b; crt: the first modulus c; hash: m.
    pub param: u64,
}

impl CandidateKey {
    /// The full table.
    pub const FULL: CandidateKey = CandidateKey {
        hot: 0,
        family: None,
        tables: 1,
        combiner: None,
        param: 0,
    };

    /// The scheme this key stands for, for a feature of `n` categories.
    pub fn scheme(&self, n: u64) -> Scheme {
        if self.hot > 0 {
            let tail = CandidateKey { hot: 0, ..*self };
            return Scheme::Hot {
                hot: self.hot,
                tail: Box::new(tail.scheme(n - self.hot)),
            };
        }
        let k = usize::from(self.tables);
        match self.family {
            None | Some(Family::Full) => Scheme::Full,
            Some(Family::Explicit) => unreachable!("scheme_keys makes no explicit-partition keys"),
            Some(Family::Qr) => Scheme::Qr { m: self.param },
            Some(Family::Hash) => Scheme::Hash { m: self.param },
            Some(Family::MixedRadix) => {
                let b = self.param;
                let mut radices = vec![b; k - 1];
                let place = (1..k).fold(1u128, |acc, _| acc.saturating_mul(u128::from(b)));
                radices.push(u64::try_from(u128::from(n).div_ceil(place)).unwrap_or(u64::MAX));
                Scheme::MixedRadix { radices }
            }
            Some(Family::Crt) => Scheme::Crt {
                moduli: crt_moduli(n, k, self.param),
            },
        }
    }

    /// Table dims for a feature of dim `dim`; `None` when concat cannot split it.
    pub fn table_dims(&self, dim: u32, multiple: u32) -> Option<Vec<u32>> {
        let k = usize::from(self.tables);
        match self.combiner {
            Some(Combiner::Concat) => concat_split(dim, k, multiple),
            _ => Some(vec![dim; k]),
        }
    }
}

/// Pairwise coprime moduli: c, then the next integers coprime to all before, the last being
/// the smallest coprime integer ≥ n / (product of the others), so that lcm = product ≥ n.
pub fn crt_moduli(n: u64, k: usize, c: u64) -> Vec<u64> {
    let coprime_to_all = |x: u64, list: &[u64]| list.iter().all(|&m| num_integer::gcd(x, m) == 1);
    let mut moduli = vec![c.max(2)];
    for _ in 1..k.saturating_sub(1) {
        let mut x = moduli[moduli.len() - 1] + 1;
        while !coprime_to_all(x, &moduli) {
            x += 1;
        }
        moduli.push(x);
    }
    let product = moduli
        .iter()
        .fold(1u128, |acc, &m| acc.saturating_mul(u128::from(m)));
    let need = u64::try_from(u128::from(n).div_ceil(product)).unwrap_or(u64::MAX);
    let mut x = need.max(2);
    while !coprime_to_all(x, &moduli) {
        x += 1;
    }
    moduli.push(x);
    moduli
}

/// One candidate with its exact bytes and its predicted loss (fixed point, see
/// [`crate::plan::quality::LOSS_SCALE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The scheme and combiner.
    pub key: CandidateKey,
    /// Weights + optimizer state, exactly as `estimate` counts them.
    pub bytes: u64,
    /// Predicted loss increase in fixed point.
    pub loss: u64,
}

/// Integer points of a geometric grid from `lo` to `hi` (both included), ratio 2^(1/steps).
fn geometric_grid(lo: u64, hi: u64, steps_per_doubling: u32) -> Vec<u64> {
    let mut out = Vec::new();
    if lo > hi {
        return out;
    }
    let ratio = 2f64.powf(1.0 / f64::from(steps_per_doubling));
    let mut x = lo as f64;
    while x < hi as f64 {
        let v = x.round() as u64;
        if out.last() != Some(&v) {
            out.push(v);
        }
        x *= ratio;
    }
    if out.last() != Some(&hi) {
        out.push(hi);
    }
    out
}

/// floor(n^(1/k)) for k ≥ 1, exactly.
pub fn iroot(n: u64, k: u32) -> u64 {
    use num_integer::Roots;
    n.nth_root(k)
}

/// Grid points near floor(n^(1/k)): from a quarter of it up to it, ratio √2 (at most 5).
fn near_root(n: u64, k: u8) -> Vec<u64> {
    let root = iroot(n, u32::from(k));
    geometric_grid((root / 4).max(2), root, 2)
}

/// Every scheme of a feature, in a fixed order (full first). Multi-table schemes come
/// without a combiner: [`evaluate`] pairs each with every allowed combiner.
pub fn scheme_keys(n: u64, families: &[Family]) -> Vec<CandidateKey> {
    let mut keys = vec![CandidateKey::FULL];
    let mut push = |family, tables: u8, params: Vec<u64>| {
        keys.extend(params.into_iter().map(|param| CandidateKey {
            hot: 0,
            family: Some(family),
            tables,
            combiner: None,
            param,
        }));
    };
    for &family in families {
        match family {
            Family::Qr => push(family, 2, geometric_grid(2, iroot(n, 2), 4)),
            Family::MixedRadix => {
                for k in [3u8, 4] {
                    push(family, k, near_root(n, k));
                }
            }
            Family::Crt => {
                for k in [2u8, 3] {
                    push(family, k, near_root(n, k));
                }
            }
            Family::Hash => {
                let buckets = geometric_grid(2, n, 4).into_iter().map(|c| n.div_ceil(c));
                push(family, 1, buckets.collect());
            }
            // The full table is always the first key; explicit partitions come only from files.
            Family::Full | Family::Explicit => {}
        }
    }
    keys
}

/// Numbers of hot ids tried: powers of 4 from 64 up to a quarter of the cardinality, each
/// with the share of the feature's occurrences its ids cover (from the profile's coverage
/// curve, which is measured at powers of 2). None without a profile: the hot ids are the
/// most frequent only when ids are numbered by frequency, as a profile's vocabulary does.
pub fn hot_levels(feature: &Feature) -> Vec<(u64, f64)> {
    let Some(profile) = &feature.profile else {
        return Vec::new();
    };
    (6..64)
        .step_by(2)
        .map(|i| (1u64 << i, i))
        .take_while(|&(k, _)| k <= feature.cardinality / 4)
        .filter_map(|(k, i)| profile.coverage.get(i).map(|&c| (k, c.clamp(0.0, 1.0))))
        .filter(|&(_, c)| c > 0.0)
        .collect()
}

/// Every scheme key of a feature with the traffic share its hot ids cover: the plain keys
/// (share 0), then each tail family's keys over n − K for every hot level K.
fn all_keys(feature: &Feature, space: &SearchSpace) -> Vec<(CandidateKey, f64)> {
    let n = feature.cardinality;
    let mut keys: Vec<(CandidateKey, f64)> = scheme_keys(n, &space.families)
        .into_iter()
        .map(|k| (k, 0.0))
        .collect();
    if space.hot {
        for (hot, coverage) in hot_levels(feature) {
            let tail = scheme_keys(n - hot, &space.families);
            keys.extend(
                tail.into_iter()
                    .filter(|k| k.family.is_some())
                    .map(|k| (CandidateKey { hot, ..k }, coverage)),
            );
        }
    }
    keys
}

/// Evaluates every candidate of a feature: exact bytes and predicted loss.
///
/// Candidates whose bytes overflow u64, that concat cannot split, or that are not smaller
/// than the full table are left out. Errors only when the feature has no candidate at all.
pub fn evaluate(
    feature: &Feature,
    space: &SearchSpace,
    model: &QualityModel,
    dtype: Dtype,
    optimizer: Optimizer,
) -> Result<Vec<Candidate>> {
    let n = feature.cardinality;
    let multiple = space.dim_multiple.max(1);
    if !feature.dim.is_multiple_of(multiple) {
        bail!(
            "feature '{}' has dim {}, which is not a multiple of the required table dim multiple {}",
            feature.name,
            feature.dim,
            space.dim_multiple
        );
    }
    let pricing = Pricing::new(feature, space, model, dtype, optimizer);
    let mut out = Vec::new();
    for (scheme_key, coverage) in all_keys(feature, space) {
        let Some(family) = scheme_key.family else {
            if let Some(full) = pricing.full {
                out.push(Candidate {
                    key: scheme_key,
                    bytes: full.bytes,
                    loss: 0,
                });
            }
            continue;
        };
        // One scheme, its rows computed once ([`Scheme::table_rows`], the one definition),
        // then every combiner.
        let rows = scheme_key.scheme(n).table_rows(n);
        for &combiner in pricing.combiners(rows.len(), scheme_key.hot) {
            let key = CandidateKey {
                combiner,
                ..scheme_key
            };
            if let Some(c) = pricing.candidate(key, family, &rows, coverage)? {
                out.push(c);
            }
        }
    }
    if out.is_empty() {
        bail!(
            "feature '{}' (cardinality {n}, dim {}): no candidate fits in 64-bit byte counts with the allowed families and combiners",
            feature.name,
            feature.dim
        );
    }
    Ok(out)
}

/// What pricing a feature's candidates needs, computed once per feature.
struct Pricing<'a> {
    feature: &'a Feature,
    space: &'a SearchSpace,
    model: &'a QualityModel,
    dtype: Dtype,
    optimizer: Optimizer,
    /// The full table's cost; `None` beyond 64-bit byte counts.
    full: Option<Cost>,
    /// The allowed combiners of multi-table schemes.
    multi_table: Vec<Option<Combiner>>,
    /// Those of hot schemes: hot ids keep their own full-dim vectors only when the tables'
    /// rows are added or multiplied (with concat they would own one table's share of dims).
    hot: Vec<Option<Combiner>>,
    /// Table dims per (tables, combiner); `None` where concat cannot split the dim.
    dims: Vec<(u8, Option<Combiner>, Option<Vec<u32>>)>,
}

impl<'a> Pricing<'a> {
    fn new(
        feature: &'a Feature,
        space: &'a SearchSpace,
        model: &'a QualityModel,
        dtype: Dtype,
        optimizer: Optimizer,
    ) -> Pricing<'a> {
        let multiple = space.dim_multiple.max(1);
        let multi_table: Vec<Option<Combiner>> = space.combiners.iter().map(|&c| Some(c)).collect();
        let hot = multi_table
            .iter()
            .copied()
            .filter(|c| *c != Some(Combiner::Concat))
            .collect();
        let dims = (1..=4u8)
            .flat_map(|k| {
                let combiners = if k == 1 {
                    vec![None]
                } else {
                    multi_table.clone()
                };
                combiners.into_iter().map(move |c| {
                    let key = CandidateKey {
                        hot: 0,
                        family: None,
                        tables: k,
                        combiner: c,
                        param: 0,
                    };
                    (k, c, key.table_dims(feature.dim, multiple))
                })
            })
            .collect();
        Pricing {
            feature,
            space,
            model,
            dtype,
            optimizer,
            full: Cost::of_table(feature.cardinality, feature.dim, dtype, optimizer).ok(),
            multi_table,
            hot,
            dims,
        }
    }

    /// The combiners to try for a scheme of `tables` tables with `hot` hot ids.
    fn combiners(&self, tables: usize, hot: u64) -> &[Option<Combiner>] {
        if tables == 1 {
            &[None]
        } else if hot > 0 {
            &self.hot
        } else {
            &self.multi_table
        }
    }

    /// The candidate `key` with these table rows, or `None` when concat cannot split the dim,
    /// the bytes overflow, it is no smaller than the full table, or its pair is unmeasured
    /// and only measured pairs are allowed.
    fn candidate(
        &self,
        key: CandidateKey,
        family: Family,
        rows: &[u64],
        coverage: f64,
    ) -> Result<Option<Candidate>> {
        let combiner = key.combiner;
        let dims = self
            .dims
            .iter()
            .find(|(k, c, _)| *k == key.tables && *c == combiner)
            .and_then(|(_, _, d)| d.as_deref());
        let Some(dims) = dims else {
            return Ok(None);
        };
        let cost = rows
            .iter()
            .zip(dims)
            .try_fold(Cost::default(), |acc, (&r, &d)| {
                acc.checked_add(Cost::of_table(r, d, self.dtype, self.optimizer)?)
            });
        let Ok(cost) = cost else { return Ok(None) };
        if self
            .full
            .is_some_and(|f| cost.bytes >= f.bytes || cost.params >= f.params)
        {
            return Ok(None);
        }
        if self.space.only_measured && !self.model.is_measured(family, combiner)? {
            return Ok(None);
        }
        let coefficients = self.model.coefficients(family, combiner)?;
        // Hot ids keep their own rows: only the tail's share of the traffic pays the tail
        // scheme's predicted loss, at the tail's own compression.
        let f = self.feature;
        let full_params = f.cardinality as f64 * f64::from(f.dim);
        let hot_params = key.hot as f64 * f64::from(f.dim);
        let loss = (1.0 - coverage)
            * self.model.predict(
                f.weight,
                full_params - hot_params,
                coefficients,
                cost.params.saturating_sub(key.hot * u64::from(f.dim)),
                rows.len(),
            );
        let loss = to_fixed(loss).with_context(|| format!("feature '{}'", f.name))?;
        Ok(Some(Candidate {
            key,
            bytes: cost.bytes,
            loss,
        }))
    }
}

/// The Pareto front: sorted by bytes, each point strictly lower in loss than the one before.
/// Ties keep the earliest candidate (deterministic).
pub fn pareto(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    // A stable sort keeps generation order among equal (bytes, loss).
    candidates.sort_by(|a, b| a.bytes.cmp(&b.bytes).then(a.loss.cmp(&b.loss)));
    let mut front: Vec<Candidate> = Vec::new();
    for c in candidates {
        if front.last().is_none_or(|last| c.loss < last.loss) {
            front.push(c);
        }
    }
    front
}

/// Whether the step a→b saves loss faster per byte than the step c→d (exact).
pub fn steeper(a: &Candidate, b: &Candidate, c: &Candidate, d: &Candidate) -> std::cmp::Ordering {
    let (dl1, db1) = (u128::from(a.loss - b.loss), u128::from(b.bytes - a.bytes));
    let (dl2, db2) = (u128::from(c.loss - d.loss), u128::from(d.bytes - c.bytes));
    (dl1 * db2).cmp(&(dl2 * db1))
}

/// The lower convex hull of a Pareto front (bytes up, loss down): consecutive steps save
/// strictly less loss per byte. Its first point is the cheapest candidate.
pub fn lower_hull(front: &[Candidate]) -> Vec<Candidate> {
    lower_hull_indices(front)
        .into_iter()
        .map(|i| front[i])
        .collect()
}

/// [`lower_hull`] as indices into `front` (increasing), so callers can tell which hull
/// edges have Pareto points between their ends.
pub fn lower_hull_indices(front: &[Candidate]) -> Vec<usize> {
    let mut hull: Vec<usize> = Vec::with_capacity(front.len().min(64));
    for (i, p) in front.iter().enumerate() {
        while hull.len() >= 2 {
            let (a, b) = (&front[hull[hull.len() - 2]], &front[hull[hull.len() - 1]]);
            // Keep b only if a→b is strictly steeper than b→p.
            if steeper(a, b, b, p) == std::cmp::Ordering::Greater {
                break;
            }
            hull.pop();
        }
        hull.push(i);
    }
    hull
}

#[cfg(test)]
#[path = "candidates_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "candidates_hot_tests.rs"]
mod hot_tests;
