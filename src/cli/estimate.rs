//! `embplan estimate`: exact parameter and byte counts for a schema or a plan.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::cli::placement_report::{device_table, placement_line};
use crate::cli::report::{align_right, new_table, table_shapes};
use embplan::cost::{Cost, NOT_COUNTED, compression_ratio};
use embplan::placement::{Placement, device_loads};
use embplan::plan::{InputKind, Plan, PlanCosts};
use embplan::schema::{Dtype, Optimizer};
use embplan::size::{format_iec, group_thousands};

/// Arguments of `embplan estimate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan estimate schemas/criteo-kaggle.toml\n  embplan estimate plan.toml --exact\n  embplan estimate schemas/criteo-tb-40m.toml --dtype f16 --optimizer rowwise-adagrad --json\n\nExit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// A schema (.toml; counted as full tables) or a plan file (.toml with `version`, or .json).
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// Count with this weight dtype instead of the file's: f32, f16, bf16 or int8.
    #[arg(long, value_name = "DTYPE", value_enum, ignore_case = true)]
    pub dtype: Option<Dtype>,

    /// Count with this optimizer's state instead of the file's: none, sgd, adagrad, rowwise-adagrad or adam.
    #[arg(long, value_name = "OPT", value_enum, ignore_case = true)]
    pub optimizer: Option<Optimizer>,

    /// Show exact byte counts instead of IEC units.
    #[arg(long)]
    pub exact: bool,

    /// Print JSON (always exact) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonFeature<'a> {
    name: &'a str,
    cardinality: u64,
    dim: u32,
    scheme: String,
    combiner: Option<&'static str>,
    tables: Vec<JsonTable>,
    #[serde(flatten)]
    cost: Cost,
    full_bytes: Option<u64>,
    compression: Option<f64>,
}

#[derive(Serialize)]
struct JsonTable {
    rows: u64,
    dim: u32,
    #[serde(flatten)]
    cost: Cost,
}

#[derive(Serialize)]
struct JsonEstimate<'a> {
    input: &'a str,
    kind: &'static str,
    dtype: Dtype,
    optimizer: Optimizer,
    features: Vec<JsonFeature<'a>>,
    total: Cost,
    full_total: Option<Cost>,
    compression: Option<f64>,
    not_complementary: Vec<String>,
    /// The plan's placement, its loads counted at this dtype and optimizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<Placement>,
    not_counted: &'static str,
}

/// Runs `embplan estimate`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let (mut plan, kind) = Plan::load_plan_or_schema(&args.input)?;
    if let Some(d) = args.dtype {
        plan.dtype = d;
    }
    if let Some(o) = args.optimizer {
        plan.optimizer = o;
    }
    let costs = plan.costs()?;
    let not_complementary = super::warn_not_complementary(&plan)?;
    let placement = recounted_placement(&plan)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut est = to_json(&plan, &costs, args, kind);
        est.not_complementary = not_complementary;
        est.placement = placement;
        writeln!(out, "{}", serde_json::to_string_pretty(&est)?)?;
    } else {
        let size = |b: u64| {
            if args.exact {
                group_thousands(b)
            } else {
                format_iec(b)
            }
        };
        writeln!(out, "{}", render_table(&plan, &costs, size))?;
        writeln!(
            out,
            "dtype {}, optimizer {}: weights {}, optimizer state {}, total {} ({} bytes)",
            plan.dtype,
            plan.optimizer,
            size(costs.total.weight_bytes),
            size(costs.total.optimizer_bytes),
            size(costs.total.bytes),
            group_thousands(costs.total.bytes)
        )?;
        if let Some(p) = &placement {
            writeln!(out, "{}", device_table(p))?;
            writeln!(out, "{}", placement_line(p))?;
        }
        writeln!(out, "{NOT_COUNTED}")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A plan's placement with each device's load counted anew, so `--dtype`/`--optimizer`
/// overrides show what the devices would then hold (over 100% where they no longer fit).
fn recounted_placement(plan: &Plan) -> Result<Option<Placement>> {
    let Some(p) = &plan.placement else {
        return Ok(None);
    };
    let loads = device_loads(plan, p.topology, &p.tables)?;
    Ok(Some(Placement { loads, ..p.clone() }))
}

fn ratio(full: Option<Cost>, planned: Cost) -> Option<f64> {
    full.map(|f| compression_ratio(f.bytes, planned.bytes))
}

fn format_ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{r:.2}×"),
        _ => "—".to_string(),
    }
}

/// The per-feature table for people; `size` renders byte counts.
pub fn render_table(
    plan: &Plan,
    costs: &PlanCosts,
    size: impl Fn(u64) -> String,
) -> comfy_table::Table {
    let mut table = new_table(&[
        "feature",
        "cardinality",
        "scheme",
        "tables (rows×dim)",
        "params",
        "weights",
        "optimizer",
        "total",
        "compression",
    ]);
    for (i, f) in plan.features.iter().enumerate() {
        let c = costs.features[i];
        table.add_row(vec![
            f.name().to_string(),
            group_thousands(f.cardinality()),
            f.scheme_label(),
            table_shapes(f),
            group_thousands(c.params),
            size(c.weight_bytes),
            size(c.optimizer_bytes),
            size(c.bytes),
            format_ratio(ratio(costs.full_features[i], c)),
        ]);
    }
    let t = costs.total;
    table.add_row(vec![
        "total".to_string(),
        String::new(),
        String::new(),
        String::new(),
        group_thousands(t.params),
        size(t.weight_bytes),
        size(t.optimizer_bytes),
        size(t.bytes),
        format_ratio(ratio(costs.full_total, t)),
    ]);
    align_right(&mut table, &[1, 4, 5, 6, 7, 8]);
    table
}

fn to_json<'a>(
    plan: &'a Plan,
    costs: &PlanCosts,
    args: &'a Args,
    kind: InputKind,
) -> JsonEstimate<'a> {
    let features = plan
        .features
        .iter()
        .enumerate()
        .map(|(i, f)| JsonFeature {
            name: f.name(),
            cardinality: f.cardinality(),
            dim: f.dim(),
            scheme: f.scheme().describe(),
            combiner: f.combiner().map(embplan::partition::Combiner::name),
            tables: f
                .tables()
                .iter()
                .zip(&costs.tables[i])
                .map(|(t, c)| JsonTable {
                    rows: t.rows,
                    dim: t.dim,
                    cost: *c,
                })
                .collect(),
            cost: costs.features[i],
            full_bytes: costs.full_features[i].map(|c| c.bytes),
            compression: ratio(costs.full_features[i], costs.features[i]),
        })
        .collect();
    JsonEstimate {
        input: args.input.to_str().unwrap_or("<non-UTF-8 path>"),
        kind: match kind {
            InputKind::Plan => "plan",
            InputKind::Schema => "schema",
        },
        dtype: plan.dtype,
        optimizer: plan.optimizer,
        features,
        total: costs.total,
        full_total: costs.full_total,
        compression: ratio(costs.full_total, costs.total),
        not_complementary: Vec::new(),
        placement: None,
        not_counted: NOT_COUNTED,
    }
}
