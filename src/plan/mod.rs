//! Plans: the shared file format, and (in later modules) the planner that makes them.

pub mod file;

pub use file::{
    InputKind, PLAN_VERSION, Plan, PlanCosts, PlanFormat, PlannedFeature, PlannerInfo, TableShape,
};
