//! The solver's greedy scan (steps 2 and 3 of [`crate::plan::solver`]): hull edges in order of
//! loss saved per byte, taken while they fit. The first step that does not fit gives the
//! Lagrangian relaxation's bound and multiplier; a feature whose hull step does not fit is
//! blocked, and the hull of its Pareto points between the two hull points is merged into the
//! scan, so leftover bytes reach non-hull candidates too. [`hulls`] makes the hulls it scans
//! (step 1).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use anyhow::Result;
use rayon::prelude::*;

use crate::plan::bound::{Edge, cmp_ratio};
use crate::plan::candidates::{Candidate, lower_hull, lower_hull_indices};
use crate::plan::quality::from_fixed;

/// What the scan chose and what it learned about the optimum.
#[derive(Debug, Clone)]
pub struct Greedy {
    /// Each feature's chosen candidate.
    pub chosen: Vec<Candidate>,
    /// Their summed predicted loss (fixed point).
    pub loss: u128,
    /// The Lagrangian (LP) relaxation's bound; `None` when no step was refused (and always
    /// at the full model).
    pub relaxation: Option<f64>,
    /// The Lagrange multiplier: predicted loss saved per extra GiB at the margin.
    pub lambda: Option<f64>,
    /// Every hull edge, in scan order (empty at the full model).
    pub edges: Vec<Edge>,
}

impl Greedy {
    /// The full model: every feature at the last point of its hull, no loss.
    pub fn full(hulls: &[Vec<Candidate>]) -> Greedy {
        Greedy {
            chosen: hulls.iter().map(|h| h[h.len() - 1]).collect(),
            loss: 0,
            relaxation: None,
            lambda: None,
            edges: Vec::new(),
        }
    }
}

/// An edge of a feature's hull, or of a refined sub-hull.
#[derive(Debug, Clone, Copy)]
struct Step {
    feature: u32,
    from: Candidate,
    to: Candidate,
}

impl Step {
    fn gain(&self) -> u64 {
        self.from.loss - self.to.loss
    }
    fn price(&self) -> u64 {
        self.to.bytes - self.from.bytes
    }
    /// Scan order: higher ratio first, then lower feature index, then cheaper start.
    fn priority(&self, other: &Step) -> Ordering {
        cmp_ratio(self.gain(), self.price(), other.gain(), other.price())
            .then(other.feature.cmp(&self.feature))
            .then(other.from.bytes.cmp(&self.from.bytes))
    }
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.priority(other) == Ordering::Equal
    }
}
impl Eq for Step {}
impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Step {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority(other)
    }
}

/// Scan order between a hull edge and a refined step: `Greater` when the edge comes first.
/// Equal ratios go to the lower feature index; within one feature the edge goes first (it is
/// stale then anyway: refined steps exist only for blocked features).
fn edge_before_step(e: &Edge, s: &Step) -> Ordering {
    cmp_ratio(e.gain, e.price, s.gain(), s.price())
        .then(s.feature.cmp(&e.feature))
        .then(Ordering::Greater)
}

/// Set in a feature's position once one of its hull steps did not fit.
const BLOCKED: u32 = 1 << 31;

/// A step that did not fit outright: a hull edge (`from` is `None`) or a refined step.
struct Pending {
    feature: usize,
    gain: u64,
    price: u64,
    from: Option<Candidate>,
    to: Candidate,
}

/// The scan's state.
struct Scan<'a> {
    hulls: &'a [Vec<Candidate>],
    /// Per feature a bit per hull edge (the first 128): whether Pareto points lie strictly
    /// between the edge's ends.
    gaps: &'a [u128],
    /// Where each feature stands: its hull index (with BLOCKED set once a hull step did not
    /// fit), or a non-hull point reached through refinement (`off_hull`). A dense u32 per
    /// feature keeps the scan's random accesses in cache for a million features.
    pos: Vec<u32>,
    off_hull: HashMap<u32, Candidate>,
    /// Refined steps (between blocked hull points) not yet scanned.
    refined: BinaryHeap<Step>,
    /// Bytes left.
    cap: u64,
    loss: u128,
    bound: Option<f64>,
    lambda: Option<f64>,
}

/// Scans the hulls' edges with `cap` bytes above every feature's cheapest point; `front(f)`
/// regenerates feature `f`'s Pareto front for refinement.
pub fn scan<F: FnMut(usize) -> Result<Vec<Candidate>>>(
    hulls: &[Vec<Candidate>],
    gaps: &[u128],
    cap: u64,
    mut front: F,
) -> Result<Greedy> {
    let edges = sorted_edges(hulls);
    let mut s = Scan {
        hulls,
        gaps,
        pos: vec![0; hulls.len()],
        off_hull: HashMap::new(),
        refined: BinaryHeap::new(),
        cap,
        loss: hulls.iter().map(|h| u128::from(h[0].loss)).sum(),
        bound: None,
        lambda: None,
    };
    let mut next = 0;
    loop {
        // The next step in scan order: a hull edge from the sorted list, or a refined
        // step (between blocked hull points) from the heap.
        let pending = match (edges.get(next), s.refined.peek()) {
            (None, None) => break,
            (Some(e), Some(r)) if edge_before_step(e, r) == Ordering::Less => s.pop_refined(),
            (Some(e), _) => {
                next += 1;
                match s.hull_edge(e) {
                    Some(p) => p,
                    None => continue,
                }
            }
            (None, Some(_)) => s.pop_refined(),
        };
        s.settle(&pending, &mut front)?;
    }
    Ok(Greedy {
        chosen: (0..hulls.len()).map(|f| s.current(f)).collect(),
        loss: s.loss,
        relaxation: s.bound,
        lambda: s.lambda,
        edges,
    })
}

/// Per feature (in parallel) its hull, and a bit per hull edge (the first 128) telling
/// whether Pareto points lie strictly between the edge's ends (else a blocked edge needs no
/// refinement).
pub fn hulls<F>(n: usize, front: &F) -> Result<(Vec<Vec<Candidate>>, Vec<u128>)>
where
    F: Fn(usize) -> Result<Vec<Candidate>> + Sync,
{
    let per_feature = (0..n)
        .into_par_iter()
        .map(|f| {
            let front = front(f)?;
            let idx = lower_hull_indices(&front);
            let gaps = idx.windows(2).enumerate().fold(0u128, |acc, (j, w)| {
                if j >= 128 || w[1] - w[0] > 1 {
                    acc | (1u128 << j.min(127))
                } else {
                    acc
                }
            });
            Ok((idx.into_iter().map(|i| front[i]).collect(), gaps))
        })
        .collect::<Vec<Result<_>>>()
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    Ok(per_feature.into_iter().unzip())
}

/// Every hull edge, highest loss saved per byte first.
fn sorted_edges(hulls: &[Vec<Candidate>]) -> Vec<Edge> {
    let mut edges: Vec<Edge> = hulls
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            h.windows(2).enumerate().map(move |(j, w)| Edge {
                gain: w[0].loss - w[1].loss,
                price: w[1].bytes - w[0].bytes,
                feature: i as u32,
                to: j as u32 + 1,
            })
        })
        .collect();
    edges.par_sort_unstable_by(|a, b| b.priority(a));
    edges
}

impl Scan<'_> {
    /// Where feature `f` stands.
    fn current(&self, f: usize) -> Candidate {
        self.off_hull
            .get(&(f as u32))
            .copied()
            .unwrap_or(self.hulls[f][(self.pos[f] & !BLOCKED) as usize])
    }

    fn pop_refined(&mut self) -> Pending {
        let r = self.refined.pop().expect("peeked");
        Pending {
            feature: r.feature as usize,
            gain: r.gain(),
            price: r.price(),
            from: Some(r.from),
            to: r.to,
        }
    }

    /// Takes hull edge `e` if it is the feature's next one and fits; when it is its next one
    /// but does not fit, returns it.
    fn hull_edge(&mut self, e: &Edge) -> Option<Pending> {
        let f = e.feature as usize;
        if self.pos[f] != e.to - 1 {
            return None; // blocked, or an earlier hull step was not taken
        }
        if e.price <= self.cap {
            self.cap -= e.price;
            self.loss -= u128::from(e.gain);
            self.pos[f] = e.to;
            return None;
        }
        Some(Pending {
            feature: f,
            gain: e.gain,
            price: e.price,
            from: None,
            to: self.hulls[f][e.to as usize],
        })
    }

    /// A refined step is taken if it starts where its feature stands and fits. Otherwise (and
    /// for a hull edge that did not fit) the first such step sets the bound, and the feature
    /// is blocked: the hull of its Pareto points between where it stands and the step's end
    /// joins the scan.
    fn settle<F: FnMut(usize) -> Result<Vec<Candidate>>>(
        &mut self,
        p: &Pending,
        front: &mut F,
    ) -> Result<()> {
        let f = p.feature;
        let current = self.current(f);
        if let Some(from) = p.from {
            // A refined step: valid only from where the feature stands.
            if current != from {
                return Ok(());
            }
            if p.price <= self.cap {
                self.cap -= p.price;
                self.loss -= u128::from(p.gain);
                self.off_hull.insert(f as u32, p.to);
                return Ok(());
            }
        }
        // The step does not fit.
        if self.bound.is_none() {
            // The first step that does not fit: the relaxation takes it fractionally.
            let fraction = self.cap as f64 / p.price as f64;
            self.bound = Some(from_fixed(self.loss) - from_fixed(u128::from(p.gain)) * fraction);
            self.lambda =
                Some(from_fixed(u128::from(p.gain)) / p.price as f64 * (1u64 << 30) as f64);
        }
        let gap = if p.from.is_some() {
            true
        } else {
            let j = (self.pos[f] & !BLOCKED) as usize;
            self.pos[f] |= BLOCKED;
            self.gaps[f] & (1u128 << j.min(127)) != 0
        };
        if !gap {
            return Ok(()); // blocked, and nothing lies between the ends to fall back on
        }
        // Blocked: merge the hull of the Pareto points strictly between the two ends.
        let front = front(f)?;
        let mut between = vec![current];
        between.extend(
            front
                .iter()
                .filter(|c| c.bytes > current.bytes && c.bytes < p.to.bytes),
        );
        for w in lower_hull(&between).windows(2) {
            self.refined.push(Step {
                feature: f as u32,
                from: w[0],
                to: w[1],
            });
        }
        Ok(())
    }
}
