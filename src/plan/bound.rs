//! Tightening the Lagrangian bound by a small best-first branch and bound.
//!
//! The relaxation splits one feature's step fractionally. When that step is large (e.g. a
//! budget just below the full model forces some big table to shrink at least 2×), the bound
//! is weak. Branching on the split feature — its bytes below the step's upper end, or at
//! least that — and solving both relaxations again gives bounds that can only rise; the
//! smallest bound among open nodes is a valid lower bound at any time, and a node whose
//! relaxation splits nothing is the optimum. The work is capped (in hull steps scanned), so
//! only small schemas get more than the plain relaxation. Only the *bound* comes from here:
//! the plan stays the greedy one, which keeps it monotone in the budget.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use anyhow::Result;

use crate::plan::candidates::{Candidate, lower_hull};
use crate::plan::quality::from_fixed;

/// Hull steps scanned at most while branching (a few tens of milliseconds).
pub const WORK_LIMIT: usize = 4_000_000;

/// An edge of a feature's hull: its gain and price, feature index and upper end's index.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// Loss saved (fixed point).
    pub gain: u64,
    /// Bytes paid.
    pub price: u64,
    /// Feature index.
    pub feature: u32,
    /// Index of the edge's upper end in the feature's hull.
    pub to: u32,
}

/// Exact comparison of gain1/price1 with gain2/price2 (prices > 0).
#[inline]
pub fn cmp_ratio(gain1: u64, price1: u64, gain2: u64, price2: u64) -> Ordering {
    const EXACT: u64 = 1 << 53;
    if gain1 < EXACT && price1 < EXACT && gain2 < EXACT && price2 < EXACT {
        // Every value converts exactly and division rounds monotonically, so unequal
        // quotients order as the exact ratios do; equal ones fall through to the exact test.
        let (r1, r2) = (gain1 as f64 / price1 as f64, gain2 as f64 / price2 as f64);
        if r1 != r2 {
            return r1.total_cmp(&r2);
        }
    }
    (u128::from(gain1) * u128::from(price2)).cmp(&(u128::from(gain2) * u128::from(price1)))
}

impl Edge {
    /// Scan order: higher ratio first, then lower feature index, then lower hull position.
    pub fn priority(&self, other: &Edge) -> Ordering {
        cmp_ratio(self.gain, self.price, other.gain, other.price)
            .then(other.feature.cmp(&self.feature))
            .then(other.to.cmp(&self.to))
    }
}

/// A feature restricted to Pareto points with bytes in `min..=max`.
#[derive(Debug, Clone, Copy)]
struct Restriction {
    feature: u32,
    min: u64,
    max: u64,
}

/// A relaxation's value and the step it splits (feature, upper end's bytes), if any.
struct Relaxed {
    value: f64,
    split: Option<(u32, u64)>,
}

struct Node {
    value: f64,
    split: Option<(u32, u64)>,
    restrictions: Vec<Restriction>,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Node {}
impl PartialOrd for Node {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Node {
    /// Lowest value first in a max-heap; deeper nodes first among equals (deterministic).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .value
            .total_cmp(&self.value)
            .then(self.restrictions.len().cmp(&other.restrictions.len()))
    }
}

/// What branching needs: every feature's hull, the sorted hull edges, the budget, and a way
/// to get a feature's whole Pareto front.
pub struct Problem<'a, F: FnMut(usize) -> Result<Vec<Candidate>>> {
    /// Each feature's lower convex hull.
    pub hulls: &'a [Vec<Candidate>],
    /// All hull edges in scan order.
    pub edges: &'a [Edge],
    /// The byte budget.
    pub budget: u64,
    /// A feature's Pareto front (regenerated on demand).
    pub front: F,
}

struct Solver<'a, F: FnMut(usize) -> Result<Vec<Candidate>>> {
    p: Problem<'a, F>,
    fronts: HashMap<u32, Vec<Candidate>>,
    restricted: Vec<bool>,
    base_bytes: u128,
    base_loss: u128,
    work: usize,
}

impl<F: FnMut(usize) -> Result<Vec<Candidate>>> Solver<'_, F> {
    /// Solves the relaxation with some features restricted; `None` if infeasible.
    fn relax(&mut self, restrictions: &[Restriction]) -> Result<Option<Relaxed>> {
        let (mut bytes, mut loss) = (self.base_bytes, self.base_loss);
        let mut steps: Vec<(Edge, Candidate, Candidate)> = Vec::new();
        for r in restrictions {
            let f = r.feature as usize;
            if !self.fronts.contains_key(&r.feature) {
                let front = (self.p.front)(f)?;
                self.fronts.insert(r.feature, front);
            }
            let allowed: Vec<Candidate> = self.fronts[&r.feature]
                .iter()
                .filter(|c| c.bytes >= r.min && c.bytes <= r.max)
                .copied()
                .collect();
            if allowed.is_empty() {
                return Ok(None);
            }
            let hull = lower_hull(&allowed);
            let start = self.p.hulls[f][0];
            bytes = bytes - u128::from(start.bytes) + u128::from(hull[0].bytes);
            loss = loss - u128::from(start.loss) + u128::from(hull[0].loss);
            for (j, w) in hull.windows(2).enumerate() {
                let edge = Edge {
                    gain: w[0].loss - w[1].loss,
                    price: w[1].bytes - w[0].bytes,
                    feature: r.feature,
                    to: j as u32 + 1,
                };
                steps.push((edge, w[0], w[1]));
            }
        }
        if bytes > u128::from(self.p.budget) {
            return Ok(None);
        }
        steps.sort_by(|a, b| b.0.priority(&a.0));
        for r in restrictions {
            self.restricted[r.feature as usize] = true;
        }
        let mut cap = (u128::from(self.p.budget) - bytes) as u64;
        let mut result = None;
        let (mut i, mut j) = (0, 0);
        loop {
            self.work += 1;
            while i < self.p.edges.len() && self.restricted[self.p.edges[i].feature as usize] {
                i += 1;
            }
            let (edge, to_bytes) = match (self.p.edges.get(i), steps.get(j)) {
                (None, None) => break,
                (Some(a), Some(b)) if b.0.priority(a) == Ordering::Greater => {
                    j += 1;
                    (b.0, b.2.bytes)
                }
                (Some(a), _) => {
                    i += 1;
                    (*a, self.p.hulls[a.feature as usize][a.to as usize].bytes)
                }
                (None, Some(b)) => {
                    j += 1;
                    (b.0, b.2.bytes)
                }
            };
            if edge.price <= cap {
                cap -= edge.price;
                loss -= u128::from(edge.gain);
                continue;
            }
            let fraction = cap as f64 / edge.price as f64;
            result = Some(Relaxed {
                value: from_fixed(loss) - from_fixed(u128::from(edge.gain)) * fraction,
                split: Some((edge.feature, to_bytes)),
            });
            break;
        }
        for r in restrictions {
            self.restricted[r.feature as usize] = false;
        }
        Ok(Some(result.unwrap_or(Relaxed {
            value: from_fixed(loss),
            split: None,
        })))
    }
}

/// The best lower bound found within [`WORK_LIMIT`], at least `root` and at most
/// `incumbent` (the greedy plan's loss).
pub fn tighten<F: FnMut(usize) -> Result<Vec<Candidate>>>(
    problem: Problem<'_, F>,
    root: f64,
    incumbent: f64,
) -> Result<f64> {
    let per_node = problem.edges.len() + 1;
    if per_node.saturating_mul(4) > WORK_LIMIT || root >= incumbent {
        return Ok(root.min(incumbent));
    }
    let hulls = problem.hulls;
    let mut s = Solver {
        restricted: vec![false; hulls.len()],
        base_bytes: hulls.iter().map(|h| u128::from(h[0].bytes)).sum(),
        base_loss: hulls.iter().map(|h| u128::from(h[0].loss)).sum(),
        fronts: HashMap::new(),
        work: 0,
        p: problem,
    };
    let Some(first) = s.relax(&[])? else {
        return Ok(root.min(incumbent));
    };
    let mut open = BinaryHeap::new();
    open.push(Node {
        value: first.value,
        split: first.split,
        restrictions: Vec::new(),
    });
    let mut bound = root;
    while let Some(node) = open.pop() {
        // Best first: no open node has a lower relaxation, so this one bounds them all.
        bound = bound.max(node.value);
        let Some((feature, to_bytes)) = node.split else {
            break; // an integral relaxation: the optimum itself
        };
        if node.value >= incumbent || s.work + 2 * per_node > WORK_LIMIT {
            break;
        }
        let current = node
            .restrictions
            .iter()
            .find(|r| r.feature == feature)
            .copied()
            .unwrap_or(Restriction {
                feature,
                min: 0,
                max: u64::MAX,
            });
        for child in [
            Restriction {
                max: to_bytes - 1,
                ..current
            },
            Restriction {
                min: to_bytes,
                ..current
            },
        ] {
            let mut restrictions: Vec<Restriction> = node
                .restrictions
                .iter()
                .filter(|r| r.feature != feature)
                .copied()
                .collect();
            restrictions.push(child);
            if let Some(r) = s.relax(&restrictions)? {
                open.push(Node {
                    value: r.value.max(node.value),
                    split: r.split,
                    restrictions,
                });
            }
        }
        if open.is_empty() {
            break;
        }
    }
    Ok(bound.min(incumbent))
}
