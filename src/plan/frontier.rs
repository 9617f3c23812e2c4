//! The whole-model Pareto frontier for small schemas: every non-dominated (bytes, loss) of
//! a complete plan, built by merging the features' Pareto fronts one at a time.
//!
//! Why: the greedy scan can do badly when the budget forces one indivisible step (e.g. it
//! compresses a heavy feature because a light one's last step came first in ratio order).
//! The frontier answers every budget at once with the best plan on it, so for a schema it
//! covers, `search` takes the better of the greedy plan and the frontier's.
//!
//! Monotonicity is kept by construction: whether and how the frontier is built depends only
//! on the schema and options, never on the budget, so "the best frontier point within B" is
//! non-increasing in B, and so is the minimum of it and the (monotone) greedy plan.
//!
//! Work is capped, again independently of the budget: at most [`MAX_FEATURES`] features; a
//! level of more than [`LEVEL_POINTS`] points is first thinned to evenly spaced points (any subset of plans is still a set of real plans); and past
//! [`TOTAL_WORK`] combinations popped the frontier is abandoned. An unthinned frontier is exact: its plan is
//! optimal in the search space.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::plan::candidates::Candidate;

/// Schemas with more features use the greedy plan alone.
pub const MAX_FEATURES: usize = 64;
/// Points a level keeps at most (a larger one is thinned before the next merge).
pub const LEVEL_POINTS: usize = 100_000;
/// Combinations popped in all at most; beyond, no frontier.
pub const TOTAL_WORK: usize = 4_000_000;

/// A point of a level: totals, and how it was reached.
#[derive(Debug, Clone, Copy)]
struct Point {
    bytes: u64,
    loss: u128,
    /// Index into the previous level.
    parent: u32,
    /// Index into this level's feature front.
    choice: u16,
}

/// The frontier over all features, with what is needed to rebuild any of its plans.
#[derive(Debug, Clone)]
pub struct Frontier {
    /// Feature index merged at each level.
    order: Vec<usize>,
    /// Levels of points; the last is the frontier (bytes up, loss strictly down).
    levels: Vec<Vec<Point>>,
    /// True when no level was thinned: the frontier is exact.
    pub exact: bool,
}

impl Frontier {
    /// Builds the frontier from every feature's Pareto front, or `None` past the caps.
    pub fn build(fronts: &[Vec<Candidate>]) -> Option<Frontier> {
        if fronts.len() > MAX_FEATURES || fronts.iter().any(|f| f.len() > usize::from(u16::MAX)) {
            return None;
        }
        // Small fronts first keeps the intermediate levels small; the result is the same.
        let mut order: Vec<usize> = (0..fronts.len()).collect();
        order.sort_by_key(|&i| (fronts[i].len(), i));
        let mut levels: Vec<Vec<Point>> = Vec::with_capacity(order.len());
        let mut exact = true;
        let mut work = 0usize;
        let mut prev = vec![Point {
            bytes: 0,
            loss: 0,
            parent: 0,
            choice: 0,
        }];
        let mut prev_index: Vec<u32> = vec![0];
        for &f in &order {
            let front = &fronts[f];
            if prev_index.len() > LEVEL_POINTS {
                exact = false;
                prev_index = thin(&prev_index, LEVEL_POINTS);
            }
            let (level, pops) = merge(&prev, &prev_index, front)?;
            work += pops;
            if work > TOTAL_WORK {
                return None;
            }
            prev_index = (0..level.len() as u32).collect();
            levels.push(prev);
            prev = level;
        }
        levels.push(prev);
        levels.remove(0); // the seed level
        Some(Frontier {
            order,
            levels,
            exact,
        })
    }

    /// The best plan within `budget`: its loss (fixed point) and each feature's front index.
    pub fn best_within(&self, budget: u64) -> Option<(u128, Vec<usize>)> {
        let last = self.levels.last()?;
        // Bytes rise and loss falls along the frontier: the last point that fits is best.
        let k = last.partition_point(|p| p.bytes <= budget);
        if k == 0 {
            return None;
        }
        let mut choice = vec![0usize; self.order.len()];
        let mut at = k - 1;
        for (level, &f) in self.levels.iter().zip(&self.order).rev() {
            let p = level[at];
            choice[f] = usize::from(p.choice);
            at = p.parent as usize;
        }
        Some((last[k - 1].loss, choice))
    }
}

/// About `room` evenly spaced indices of `index`, always with the first and the last.
fn thin(index: &[u32], room: usize) -> Vec<u32> {
    let stride = index.len().div_ceil(room - 1);
    let mut out: Vec<u32> = index.iter().copied().step_by(stride).collect();
    if out.last() != index.last() {
        out.push(index[index.len() - 1]);
    }
    out
}

/// Merges the kept points of the previous level with a feature's front: a k-way merge by
/// bytes over one sorted run per candidate, keeping the staircase of strictly falling loss.
/// Also returns how many combinations it popped (the work).
fn merge(prev: &[Point], index: &[u32], front: &[Candidate]) -> Option<(Vec<Point>, usize)> {
    let mut heap: BinaryHeap<Reverse<(u64, u128, u16, u32)>> = front
        .iter()
        .enumerate()
        .filter_map(|(j, c)| {
            let p = prev[index[0] as usize];
            Some(Reverse((
                p.bytes.checked_add(c.bytes)?,
                p.loss + u128::from(c.loss),
                j as u16,
                0u32,
            )))
        })
        .collect();
    let mut out: Vec<Point> = Vec::new();
    let mut pops = 0;
    while let Some(Reverse((bytes, loss, j, i))) = heap.pop() {
        pops += 1;
        if out.last().is_none_or(|last| loss < last.loss) {
            out.push(Point {
                bytes,
                loss,
                parent: index[i as usize],
                choice: j,
            });
        }
        // The run's next point worth popping: its loss must beat the staircase's last,
        // which only falls, so everything before the first such point is dominated.
        // (Losses fall along the previous level, so a binary search finds it.)
        let c = front[usize::from(j)];
        let last = out.last().map_or(u128::MAX, |p| p.loss);
        let rest = &index[i as usize + 1..];
        let skip = rest.partition_point(|&ix| prev[ix as usize].loss + u128::from(c.loss) >= last);
        if let Some(&ix) = rest.get(skip) {
            let p = prev[ix as usize];
            if let Some(b) = p.bytes.checked_add(c.bytes) {
                let next = (i as usize + 1 + skip) as u32;
                heap.push(Reverse((b, p.loss + u128::from(c.loss), j, next)));
            }
        }
    }
    (!out.is_empty()).then_some((out, pops))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::candidates::CandidateKey;

    fn front(points: &[(u64, u64)]) -> Vec<Candidate> {
        points
            .iter()
            .map(|&(bytes, loss)| Candidate {
                key: CandidateKey::FULL,
                bytes,
                loss,
            })
            .collect()
    }

    #[test]
    fn picks_the_light_feature_to_compress() {
        // Feature 0: heavy and big; feature 1: light and small. Budget forces one to shrink.
        let fronts = vec![front(&[(50, 300), (100, 0)]), front(&[(5, 40), (10, 0)])];
        let f = Frontier::build(&fronts).unwrap();
        assert!(f.exact);
        assert_eq!(f.best_within(106), Some((40, vec![1, 0])));
        assert_eq!(f.best_within(110), Some((0, vec![1, 1])));
        assert_eq!(f.best_within(54), None);
        assert_eq!(f.best_within(55), Some((340, vec![0, 0])));
    }

    #[test]
    fn thinning_keeps_the_ends() {
        assert_eq!(thin(&[0, 1, 2, 3, 4, 5, 6], 3), vec![0, 4, 6]);
        assert_eq!(thin(&[0, 1, 2, 3, 4, 5], 3), vec![0, 3, 5]);
    }
}
