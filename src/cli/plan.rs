//! `embplan plan`: fit a schema to a memory budget, or build a uniform baseline.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cli::report::{align_right, new_table, scheme_label, table_shapes};
use embplan::cost::{NOT_COUNTED, compression_ratio};
use embplan::partition::Combiner;
use embplan::plan::quality::PROVISIONAL;
use embplan::plan::{
    Choice, Family, Plan, PlanCosts, QualityModel, SearchOptions, SearchSpace, UniformFamily,
    UniformSpec,
};
use embplan::schema::{Dtype, Optimizer, Schema};
use embplan::size::{format_iec, group_thousands, parse_bytes};

/// Arguments of `embplan plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
embplan plan --budget 4GiB schemas/criteo-kaggle.toml\n  \
embplan plan --budget 1GiB --dim-multiple 4 schemas/criteo-kaggle.toml -o plan.toml\n  \
embplan plan --budget 512MB --families qr,crt --combiners mult,concat schema.toml --json\n  \
embplan plan --uniform qr:4:mult --threshold 200 schemas/criteo-kaggle.toml -o qr4.toml\n\n\
The budget counts weights + optimizer state exactly as `embplan estimate` does. Predicted \
losses come from a quality model whose default coefficients were measured with embplan's \
trainer on synthetic data (data/calibration/synthetic.toml); pass --calibration FILE with \
coefficients measured on your data (embplan sweep + embplan calibrate).\n\nExit codes: 0 success, 2 bad input or error.")]
// Each bool is one independent command-line switch, as clap derives them.
#[allow(clippy::struct_excessive_bools)]
pub struct Args {
    /// The schema to plan (.toml).
    #[arg(value_name = "SCHEMA")]
    pub schema: PathBuf,

    /// Memory budget for weights + optimizer state, e.g. 4GiB, 512MB, '1.5 TiB'.
    #[arg(long, value_name = "SIZE", required_unless_present = "uniform", value_parser = parse_budget)]
    pub budget: Option<u64>,

    /// Compressed families to choose from, comma-separated (hash only with --allow-hash);
    /// full tables are always allowed. [default: qr,mixed-radix,crt]
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_enum,
        ignore_case = true,
        conflicts_with = "uniform"
    )]
    pub families: Option<Vec<Family>>,

    /// Combiners to choose from, comma-separated. [default: all]
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_enum,
        ignore_case = true,
        conflicts_with = "uniform"
    )]
    pub combiners: Option<Vec<Combiner>>,

    /// Keep every table dim a multiple of N (4 for FBGEMM/TorchRec); concat splits in units of N.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub dim_multiple: u32,

    /// Let the planner choose the hashing trick (not complementary: colliding ids share a row).
    #[arg(long, conflicts_with = "uniform")]
    pub allow_hash: bool,

    /// With --calibration: also choose (family, combiner) pairs the calibration did not
    /// measure, with their bundled default coefficients; the plan then lists them.
    #[arg(long, requires = "calibration", conflicts_with = "uniform")]
    pub extrapolate: bool,

    /// Never keep a feature's most frequent ids in rows of their own (hot schemes are
    /// considered only for features with a profile, whose vocabulary numbers ids by frequency).
    #[arg(long, conflicts_with = "uniform")]
    pub no_hot: bool,

    /// With --uniform and --budget: write and print a baseline that exceeds the budget
    /// (otherwise an error, exit 2).
    #[arg(long, requires = "uniform")]
    pub allow_over_budget: bool,

    /// Build a DLRM-style baseline instead of searching: full, hash:C, or qr:C[:COMBINER]
    /// with C collisions, e.g. qr:4 or qr:4:concat (combiner mult, add or concat; default mult).
    #[arg(long, value_name = "BASELINE", value_parser = parse_uniform)]
    pub uniform: Option<(UniformFamily, Combiner)>,

    /// Uniform baseline: features with cardinality ≤ N keep full tables (DLRM's --qr-threshold).
    #[arg(long, value_name = "N", default_value_t = 200, requires = "uniform", value_parser = super::values::whole::<u64>)]
    pub threshold: u64,

    /// Plan for this weight dtype instead of the schema's: f32, f16, bf16 or int8.
    #[arg(long, value_name = "DTYPE", value_enum, ignore_case = true)]
    pub dtype: Option<Dtype>,

    /// Count this optimizer's state instead of the schema's: none, sgd, adagrad, rowwise-adagrad or adam.
    #[arg(long, value_name = "OPT", value_enum, ignore_case = true)]
    pub optimizer: Option<Optimizer>,

    /// Quality-model coefficients measured by `calibrate` (TOML) instead of the bundled ones.
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,

    /// Print JSON (the plan and the solver's figures) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Write the plan to FILE (.toml or .json), atomically.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Parses `--uniform`: `full`, `hash:C` or `qr:C[:COMBINER]`.
fn parse_uniform(s: &str) -> Result<(UniformFamily, Combiner), String> {
    let (spec, combiner) = match s.matches(':').count() {
        2 => {
            let (spec, c) = s.rsplit_once(':').expect("two colons");
            (spec, Some(Combiner::parse(c).map_err(|e| e.to_string())?))
        }
        _ => (s, None),
    };
    let family = UniformFamily::parse(spec).map_err(|e| e.to_string())?;
    match (family, combiner) {
        (UniformFamily::Qr(_), c) => Ok((family, c.unwrap_or(Combiner::Mult))),
        (_, Some(_)) => Err(format!(
            "'{s}': only qr:C takes a combiner (full and hash have one table)"
        )),
        (_, None) => Ok((family, Combiner::Mult)),
    }
}

fn parse_budget(s: &str) -> Result<u64, String> {
    parse_bytes(s).map(|b| b.0).map_err(|e| e.to_string())
}

/// Checks `--families`: canonical order, duplicates removed, hash only with --allow-hash.
pub fn parse_families(list: Option<&[Family]>, allow_hash: bool) -> Result<Vec<Family>> {
    let mut families = match list {
        None => vec![Family::Qr, Family::MixedRadix, Family::Crt],
        Some(items) => {
            let mut out = Vec::new();
            for &f in items {
                if f == Family::Hash && !allow_hash {
                    bail!(
                        "--families: hash is not complementary (colliding ids share every row); pass --allow-hash to let the planner choose it"
                    );
                }
                out.push(f);
            }
            out
        }
    };
    if allow_hash {
        families.push(Family::Hash);
    }
    families.sort();
    families.dedup();
    Ok(families)
}

/// `--combiners` in canonical order (mult, add, concat), duplicates removed.
pub fn parse_combiners(list: Option<&[Combiner]>) -> Vec<Combiner> {
    let Some(chosen) = list else {
        return Combiner::ALL.to_vec();
    };
    Combiner::ALL
        .into_iter()
        .filter(|c| chosen.contains(c))
        .collect()
}

/// What the solver (or the baseline) reports beside the plan.
#[derive(Debug, Clone, Serialize)]
struct Summary {
    budget_bytes: Option<u64>,
    total_bytes: u64,
    full_bytes: Option<u64>,
    min_bytes: Option<u64>,
    fits: Option<bool>,
    at_full: bool,
    predicted_loss: f64,
    lower_bound: Option<f64>,
    relaxation_bound: Option<f64>,
    gap: Option<f64>,
    loss_per_gib: Option<f64>,
    quality_model: String,
    provisional: bool,
    not_complementary: Vec<String>,
    /// Features whose (family, combiner) the calibration did not measure (`--extrapolate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extrapolated: Vec<String>,
    method: String,
}

/// Runs `embplan plan`.
pub fn run(args: &Args) -> Result<ExitCode> {
    if let Some(path) = &args.output {
        let mut inputs = vec![args.schema.as_path()];
        inputs.extend(args.calibration.as_deref());
        embplan::output::check_output(path, &inputs, &["toml", "json"], "plan")?;
    }
    let mut schema = Schema::load(&args.schema)?;
    if let Some(d) = args.dtype {
        schema.dtype = d;
    }
    if let Some(o) = args.optimizer {
        schema.optimizer = o;
    }
    let model = match &args.calibration {
        Some(path) => QualityModel::load(path)?,
        None => QualityModel::default(),
    };
    let (plan, mut summary) = match args.uniform {
        Some((family, combiner)) => baseline(args, &schema, &model, family, combiner)?,
        None => searched(args, &schema, &model)?,
    };
    summary.provisional = summary.quality_model == PROVISIONAL;
    let costs = plan.costs()?;
    if summary.total_bytes != costs.total.bytes {
        bail!(
            "internal error: the solver counted {} bytes but the plan has {}",
            summary.total_bytes,
            costs.total.bytes
        );
    }
    summary.full_bytes = costs.full_total.map(|c| c.bytes);
    if let (Some(false), Some(budget)) = (summary.fits, summary.budget_bytes)
        && !args.allow_over_budget
    {
        bail!(
            "the {} baseline takes {} ({} bytes), more than the budget of {}; nothing written. Pass --allow-over-budget to keep it anyway",
            summary.method,
            format_iec(summary.total_bytes),
            group_thousands(summary.total_bytes),
            format_iec(budget)
        );
    }
    summary.not_complementary = plan.not_complementary()?;
    if args.calibration.is_some() {
        summary.extrapolated = unmeasured_choices(&plan, &model)?;
        if !summary.extrapolated.is_empty() {
            // Loud even with --quiet: the predicted losses rest partly on unmeasured numbers.
            eprintln!(
                "warning: the calibration did not measure the pairs of {}; their predicted losses use the bundled defaults (drop --extrapolate to plan with measured pairs only)",
                summary.extrapolated.join(", ")
            );
        }
    }
    if let Some(path) = &args.output {
        plan.write(path)?;
    }
    let choices = embplan::plan::explain(&plan, &schema)?;
    if args.json {
        print_json(args, &plan, &summary, &choices)?;
    } else {
        writeln!(
            std::io::stdout().lock(),
            "{}",
            render(&schema, &plan, &costs, &summary, &choices)
        )?;
    }
    if let Some(path) = &args.output {
        crate::cli::say!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A DLRM-style uniform baseline (`--uniform`) and its summary.
fn baseline(
    args: &Args,
    schema: &Schema,
    model: &QualityModel,
    family: UniformFamily,
    combiner: Combiner,
) -> Result<(Plan, Summary)> {
    let spec = UniformSpec {
        family,
        combiner,
        threshold: args.threshold,
        dim_multiple: args.dim_multiple,
    };
    let mut plan = embplan::plan::uniform(schema, &spec, model)?;
    if let Some(info) = plan.planner.as_mut() {
        info.budget_bytes = args.budget;
    }
    let total = plan.costs()?.total.bytes;
    let predicted = plan
        .planner
        .as_ref()
        .and_then(|p| p.predicted_loss)
        .unwrap_or(0.0);
    let summary = Summary {
        budget_bytes: args.budget,
        total_bytes: total,
        full_bytes: None,
        min_bytes: None,
        fits: args.budget.map(|b| total <= b),
        at_full: spec.family == UniformFamily::Full,
        predicted_loss: predicted,
        lower_bound: None,
        relaxation_bound: None,
        gap: None,
        loss_per_gib: None,
        quality_model: model.source.clone(),
        provisional: false,
        not_complementary: Vec::new(),
        extrapolated: Vec::new(),
        method: spec.describe(),
    };
    Ok((plan, summary))
}

/// The searched plan for `--budget` and the solver's figures.
fn searched(args: &Args, schema: &Schema, model: &QualityModel) -> Result<(Plan, Summary)> {
    let budget = args
        .budget
        .context("--budget is required unless --uniform is given")?;
    let options = SearchOptions {
        space: SearchSpace {
            families: parse_families(args.families.as_deref(), args.allow_hash)?,
            combiners: parse_combiners(args.combiners.as_deref()),
            dim_multiple: args.dim_multiple,
            hot: !args.no_hot,
            only_measured: args.calibration.is_some() && !args.extrapolate,
        },
        model: model.clone(),
    };
    let spinner = crate::cli::report::spinner(format!(
        "planning {} features",
        group_thousands(schema.features.len() as u64)
    ));
    let out = embplan::plan::search(schema, budget, &options)
        .with_context(|| format!("cannot plan '{}'", args.schema.display()))?;
    spinner.finish_and_clear();
    let method = out
        .plan
        .planner
        .as_ref()
        .and_then(|p| p.method.clone())
        .unwrap_or_default();
    let summary = Summary {
        budget_bytes: Some(budget),
        total_bytes: out.total_bytes,
        full_bytes: out.full_bytes,
        min_bytes: Some(out.min_bytes),
        fits: Some(out.total_bytes <= budget),
        at_full: out.at_full,
        predicted_loss: out.predicted_loss,
        lower_bound: Some(out.lower_bound),
        relaxation_bound: Some(out.relaxation_bound),
        gap: Some(out.predicted_loss - out.lower_bound),
        loss_per_gib: out.loss_per_gib,
        quality_model: if options.space.only_measured && !model.measures_every_pair() {
            format!(
                "{}; only its measured pairs were considered (--extrapolate for the others)",
                model.source
            )
        } else {
            model.source.clone()
        },
        provisional: false,
        not_complementary: Vec::new(),
        extrapolated: Vec::new(),
        method,
    };
    Ok((out.plan, summary))
}

/// Every compressed feature whose (family, combiner) pair the quality model did not measure,
/// as `name (family, combiner)`.
fn unmeasured_choices(plan: &Plan, model: &QualityModel) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for f in &plan.features {
        let family = f.scheme().family();
        if !family.is_searched() {
            continue;
        }
        if !model.is_measured(family, f.combiner())? {
            let pair = f
                .combiner()
                .map_or_else(|| family.to_string(), |c| format!("{family}, {c}"));
            out.push(format!("'{}' ({pair})", f.name()));
        }
    }
    Ok(out)
}

/// `--json`: the schema, the output path, the summary's figures and the plan itself.
fn print_json(args: &Args, plan: &Plan, summary: &Summary, choices: &[Choice]) -> Result<()> {
    #[derive(Serialize)]
    struct Json<'a> {
        schema: String,
        output: Option<String>,
        #[serde(flatten)]
        summary: &'a Summary,
        choices: &'a [Choice],
        plan: serde_json::Value,
    }
    let json = Json {
        schema: args.schema.display().to_string(),
        output: args.output.as_ref().map(|p| p.display().to_string()),
        summary,
        choices,
        plan: serde_json::from_str(&plan.to_json_string()?)?,
    };
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&json)?
    )?;
    Ok(())
}

/// A predicted loss for people: 0, or three significant digits.
fn format_loss(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:.3e}")
    }
}

fn render(
    schema: &Schema,
    plan: &Plan,
    costs: &PlanCosts,
    s: &Summary,
    choices: &[Choice],
) -> String {
    let mut lines = vec![feature_table(plan, costs, s).to_string()];
    // Only compressed features need a reason; full tables speak for themselves.
    lines.extend(
        choices
            .iter()
            .filter(|c| c.compression.is_none_or(|r| r > 1.0 + 1e-9))
            .map(|c| c.line.clone()),
    );
    lines.extend(summary_lines(schema, plan, s));
    lines.join("\n")
}

/// One row per feature (scheme, tables, bytes, compression, predicted Δloss) and the total.
fn feature_table(plan: &Plan, costs: &PlanCosts, s: &Summary) -> comfy_table::Table {
    let mut table = new_table(&[
        "feature",
        "cardinality",
        "scheme",
        "tables (rows×dim)",
        "bytes",
        "compression",
        "Δloss (predicted)",
    ]);
    for (i, f) in plan.features.iter().enumerate() {
        let bytes = costs.features[i].bytes;
        let ratio = costs.full_features[i].map_or_else(
            || "—".into(),
            |full| format!("{:.2}×", compression_ratio(full.bytes, bytes)),
        );
        table.add_row(vec![
            f.name().to_string(),
            group_thousands(f.cardinality()),
            scheme_label(f),
            table_shapes(f),
            format_iec(bytes),
            ratio,
            format_loss(f.predicted_loss.unwrap_or(0.0)),
        ]);
    }
    let total_ratio = s.full_bytes.map_or_else(
        || "—".into(),
        |full| format!("{:.2}×", compression_ratio(full, s.total_bytes)),
    );
    table.add_row(vec![
        "total".to_string(),
        String::new(),
        String::new(),
        String::new(),
        format_iec(s.total_bytes),
        total_ratio,
        format_loss(s.predicted_loss),
    ]);
    align_right(&mut table, &[1, 4, 5, 6]);
    table
}

/// The lines under the table: budget use, full model, predicted loss and its bound, the
/// quality model and the complementarity verdict.
fn summary_lines(schema: &Schema, plan: &Plan, s: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(format!(
        "{} ({} features), dtype {}, optimizer {}: {}",
        schema.display_name(),
        schema.features.len(),
        plan.dtype,
        plan.optimizer,
        s.method
    ));
    let full = s.full_bytes.map_or_else(
        || "more than 2^64 bytes".into(),
        |f| format!("{} ({} bytes)", format_iec(f), group_thousands(f)),
    );
    match s.budget_bytes {
        Some(b) => {
            let share = s.total_bytes as f64 / b.max(1) as f64 * 100.0;
            lines.push(format!(
                "plan {} ({} bytes) = {share:.1}% of the budget {} ({} bytes){}",
                format_iec(s.total_bytes),
                group_thousands(s.total_bytes),
                format_iec(b),
                group_thousands(b),
                if s.fits == Some(false) {
                    " — DOES NOT FIT"
                } else {
                    ""
                }
            ));
        }
        None => lines.push(format!(
            "plan {} ({} bytes)",
            format_iec(s.total_bytes),
            group_thousands(s.total_bytes)
        )),
    }
    let mut model_line = format!("full model {full}");
    if let Some(m) = s.min_bytes {
        let _ = write!(
            model_line,
            "; smallest possible plan {} ({} bytes)",
            format_iec(m),
            group_thousands(m)
        );
    }
    lines.push(model_line);
    if s.at_full && s.budget_bytes.is_some() && s.lower_bound.is_some() {
        lines.push("the budget holds the full model: every table stays full".into());
    }
    let mut loss_line = format!("predicted loss increase {}", format_loss(s.predicted_loss));
    if let (Some(lb), Some(gap), Some(lp)) = (s.lower_bound, s.gap, s.relaxation_bound) {
        if gap <= 0.0 {
            let _ = write!(
                loss_line,
                ": optimal in the search space under the quality model (lower bound {}; Lagrangian relaxation alone {})",
                format_loss(lb),
                format_loss(lp)
            );
        } else {
            let rel = if s.predicted_loss > 0.0 {
                format!(" ({:.2}% of this plan's)", gap / s.predicted_loss * 100.0)
            } else {
                String::new()
            };
            let _ = write!(
                loss_line,
                "; lower bound {} (Lagrangian relaxation {}, tightened by branch and bound), so the gap to the best plan in the search space is at most {}{rel}",
                format_loss(lb),
                format_loss(lp),
                format_loss(gap)
            );
        }
    }
    lines.push(loss_line);
    if let (Some(rate), Some(budget)) = (s.loss_per_gib.filter(|r| *r > 0.0), s.budget_bytes) {
        // The Lagrange multiplier, scaled to 1% of the budget so the figure is scale-free.
        let step = budget / 100;
        lines.push(format!(
            "at the margin, 1% more budget ({}) would save about {} of predicted loss (the Lagrange multiplier)",
            format_iec(step),
            format_loss(rate * step as f64 / (1u64 << 30) as f64)
        ));
    }
    if s.provisional {
        lines.push(
            "quality model: provisional defaults — its coefficients are not yet measured with the trainer; pass --calibration FILE for measured ones"
                .into(),
        );
    } else {
        lines.push(format!("quality model: {}", s.quality_model));
    }
    if !s.extrapolated.is_empty() {
        lines.push(format!(
            "EXTRAPOLATED: the calibration did not measure the pairs of {}",
            s.extrapolated.join(", ")
        ));
    }
    if s.not_complementary.is_empty() {
        lines.push(format!(
            "every feature's partitions are proved complementary ({} features)",
            plan.features.len()
        ));
    } else {
        lines.push(format!(
            "NOT complementary (hash, colliding ids share a row): {}",
            s.not_complementary.join(", ")
        ));
    }
    lines.push(NOT_COUNTED.to_string());
    lines
}
