//! Builds a small plan with the library and prints it as a plan file (TOML).
//!
//! Run: `cargo run --example small_plan > plan.toml`, then `embplan verify plan.toml`.

use embplan::partition::{Combiner, Scheme};
use embplan::plan::{Plan, PlannedFeature};
use embplan::schema::{Dtype, Optimizer};

fn main() -> anyhow::Result<()> {
    let plan = Plan {
        name: Some("small".into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features: vec![
            PlannedFeature::new("a", 1000, 8, Scheme::Qr { m: 40 }, Some(Combiner::Mult))?,
            PlannedFeature::new("b", 10, 4, Scheme::Full, None)?,
        ],
        planner: None,
    };
    print!("{}", plan.to_toml_string()?);
    Ok(())
}
