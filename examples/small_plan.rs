//! The library without the command line: plan a schema to a budget, prove every feature's
//! partitions complementary, count the bytes exactly, and print the plan file (TOML).
//!
//! Run: `cargo run --example small_plan > plan.toml`, then `embplan verify plan.toml`.

use embplan::plan::{SearchOptions, search};
use embplan::proof::prove;
use embplan::schema::Schema;
use embplan::source::Source;

const SCHEMA: &str = r#"
name = "small"
dim = 16
optimizer = "adagrad"

[[feature]]
name = "user"
cardinality = 2_000_000

[[feature]]
name = "item"
cardinality = 50_000

[[feature]]
name = "country"
cardinality = 200
"#;

fn main() -> anyhow::Result<()> {
    let schema = Schema::from_toml(&Source::new("small.toml", SCHEMA))?;
    // Plan: a quarter of the full model's bytes (weights + Adagrad state).
    let budget = 64 << 20;
    let out = search(&schema, budget, &SearchOptions::default())?;
    // Verify: the algebraic proof of every feature's scheme.
    for f in &out.plan.features {
        let verdict = prove(f.scheme(), f.cardinality())?;
        eprintln!(
            "{}: {} — {}",
            f.name(),
            f.scheme().describe(),
            verdict.reason
        );
        anyhow::ensure!(verdict.complementary, "{} is not complementary", f.name());
    }
    // Estimate: exact bytes, the same count the budget was checked against.
    let costs = out.plan.costs()?;
    eprintln!(
        "plan {} bytes of a {budget}-byte budget (full model {} bytes)",
        costs.total.bytes,
        costs.full_total.map_or(0, |c| c.bytes)
    );
    print!("{}", out.plan.to_toml_string()?);
    Ok(())
}
