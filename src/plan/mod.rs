//! Plans: the domain types ([`domain`], [`feature`]), the shared file format
//! ([`file`](mod@file)), and the planner that makes them.
//!
//! The planner is library code: [`search`] fits a schema to a byte budget, [`uniform()`] builds
//! DLRM-style baselines; both return [`Plan`]s in the one file format.

pub mod bound;
pub mod candidates;
pub mod domain;
pub mod explain;
pub mod feature;
pub mod file;
pub mod frontier;
pub mod greedy;
pub mod quality;
pub mod solver;
pub mod target;
pub mod uniform;

pub use candidates::SearchSpace;
pub use domain::{Plan, PlanCosts, PlannerInfo};
pub use explain::{Choice, explain};
pub use feature::{PlannedFeature, TableShape};
pub use file::{InputKind, PLAN_VERSION, PlanFormat};
pub use quality::{Family, QualityModel};
pub use solver::{InfeasibleBudget, SearchError, SearchOptions, SearchOutcome, search};
pub use target::Target;
pub use uniform::{UniformFamily, UniformSpec, uniform};
