//! Fitting a plan to devices: the largest budget whose plan has a placement.
//!
//! The search fits a byte total; devices add buffers and cannot split a table-wise table
//! across a boundary. So the budget starts at the devices' total capacity (or the user's
//! budget, if smaller), falls by growing steps until the plan places, then bisects between
//! the last budget that placed and the first that did not.

use super::{Placement, Topology, Unplaceable, place};
use crate::plan::{SearchError, SearchOptions, SearchOutcome, search};
use crate::schema::Schema;

/// Bisection stops when the budgets that place and fail differ by under 1/this of the budget.
const PRECISION: u64 = 1000;

/// Budgets tried at most (each is one search and one placement, milliseconds each).
const MAX_TRIES: u32 = 64;

/// A searched plan that has a placement on the devices.
#[derive(Debug, Clone)]
pub struct PlacedSearch {
    /// The search at the budget that placed.
    pub outcome: SearchOutcome,
    /// Where its tables go.
    pub placement: Placement,
    /// Budgets tried.
    pub tries: u32,
}

/// Why no plan was placed, for callers that must tell "the devices are too small" from an
/// invalid schema or search space.
#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    /// The search itself failed (the budget is below every plan, or the input is invalid).
    #[error(transparent)]
    Search(#[from] SearchError),
    /// Even the smallest plan tried leaves a table with no device to hold it.
    #[error(
        "no plan places on {devices} device(s) of {}: with the smallest plan tried, {unplaceable}",
        crate::size::format_iec(*device_memory)
    )]
    NoPlacement {
        /// Devices.
        devices: u32,
        /// Each device's bytes.
        device_memory: u64,
        /// The table that fit nowhere.
        unplaceable: Unplaceable,
    },
}

impl From<anyhow::Error> for PlacementError {
    fn from(e: anyhow::Error) -> Self {
        PlacementError::Search(SearchError::Invalid(e))
    }
}

/// The plan of least predicted loss (within the search's own optimality) whose tables place
/// on `topology`, at a budget of at most `budget` (default: the devices' total capacity).
pub fn search_placed(
    schema: &Schema,
    topology: Topology,
    budget: Option<u64>,
    options: &SearchOptions,
) -> Result<PlacedSearch, PlacementError> {
    let capacity = u64::from(topology.devices).saturating_mul(topology.device_memory);
    let mut budget = budget.map_or(capacity, |b| b.min(capacity));
    let mut tries = 0;
    let mut placed: Option<(SearchOutcome, Placement)> = None;
    let mut failed_at: Option<u64> = None;
    let mut step: Option<u64> = None;
    loop {
        tries += 1;
        let outcome = search(schema, budget, options)?;
        match place(&outcome.plan, topology)? {
            Ok(placement) => placed = Some((outcome, placement)),
            Err(e) => {
                failed_at = Some(budget);
                if placed.is_none() {
                    // Still descending: step by the shortfall, doubling each time.
                    let shortfall = e.need.saturating_sub(e.free).max(budget / PRECISION).max(1);
                    let s = step.map_or(shortfall, |s| s.saturating_mul(2).max(shortfall));
                    step = Some(s);
                    let floor = outcome.min_bytes;
                    if budget <= floor || tries >= MAX_TRIES {
                        return Err(too_small(e, topology));
                    }
                    budget = budget.saturating_sub(s).max(floor);
                    continue;
                }
            }
        }
        let Some(fail) = failed_at else {
            break; // the first budget placed: nothing larger is allowed
        };
        let good = placed.as_ref().map_or(0, |(o, _)| o.budget_bytes);
        if fail - good <= (fail / PRECISION).max(1) || tries >= MAX_TRIES {
            break;
        }
        budget = good + (fail - good) / 2;
    }
    let (outcome, placement) = placed.expect("the loop ends only once a plan placed");
    Ok(PlacedSearch {
        outcome,
        placement,
        tries,
    })
}

fn too_small(e: Unplaceable, topology: Topology) -> PlacementError {
    PlacementError::NoPlacement {
        devices: topology.devices,
        device_memory: topology.device_memory,
        unplaceable: e,
    }
}
