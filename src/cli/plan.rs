//! `embplan plan`: fit a schema to a memory budget, or build a uniform baseline.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cli::plan_summary::{SearchFigures, Summary, render};
use embplan::partition::Combiner;
use embplan::placement::{Topology, search_placed};
use embplan::plan::quality::PROVISIONAL;
use embplan::plan::{
    Choice, Family, Plan, QualityModel, SearchOptions, SearchSpace, Target, UniformFamily,
    UniformSpec,
};
use embplan::schema::{Dtype, Optimizer, Schema};
use embplan::size::{format_iec, group_thousands, parse_bytes};

/// Arguments of `embplan plan`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
embplan plan --budget 4GiB schemas/criteo-kaggle.toml\n  \
embplan plan --budget 1GiB --target torchrec schemas/criteo-kaggle.toml -o plan.toml\n  \
embplan plan --devices 8 --device-memory 80GiB --target torchrec schemas/criteo-1tb.toml -o plan.toml\n  \
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
    #[arg(long, value_name = "SIZE", required_unless_present_any = ["uniform", "devices"], value_parser = parse_budget)]
    pub budget: Option<u64>,

    /// Plan for N devices (ranks) of --device-memory each: the plan is fitted so its tables
    /// place on them (table-wise; row-wise where one exceeds a device), and the plan file
    /// holds the placement (`export --format torchrec` turns it into a ShardingPlan).
    #[arg(long, value_name = "N", requires = "device_memory", value_parser = clap::value_parser!(u32).range(1..))]
    pub devices: Option<u32>,

    /// With --devices: each device's memory for tables, optimizer state and TorchRec's
    /// input/output buffers, e.g. 80GiB.
    #[arg(long, value_name = "SIZE", requires = "devices", value_parser = parse_budget)]
    pub device_memory: Option<u64>,

    /// With --devices: examples per rank and step, which size the buffers.
    #[arg(long, value_name = "B", default_value_t = 512, requires = "devices", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,

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

    /// The stack the plan is for: any, or torchrec (table dims in FBGEMM's units of 4, and a
    /// warning for what FBGEMM trains only on GPUs: bf16 tables, Adam; int8 is inference-only).
    #[arg(long, value_enum, value_name = "STACK", default_value_t = Target::Any)]
    pub target: Target,

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
    let (mut plan, mut summary) = match args.uniform {
        Some((family, combiner)) => baseline(args, &schema, &model, family, combiner)?,
        None => searched(args, &schema, &model)?,
    };
    if let (Some(topology), None) = (topology(args), &plan.placement) {
        // A baseline is not fitted to the devices: place it as it is, or say why not.
        let placement = embplan::placement::place(&plan, topology)?.map_err(|e| {
            anyhow::anyhow!(
                "the {} baseline does not place on the devices: {e}",
                summary.method
            )
        })?;
        plan.placement = Some(placement);
    }
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
    for caveat in args.target.caveats(plan.dtype, plan.optimizer) {
        // Loud even with --quiet, like every warning: the plan will not train everywhere.
        eprintln!("warning: {caveat}");
    }
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
        dim_multiple: args.target.dim_multiple(args.dim_multiple),
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
        at_full: spec.family == UniformFamily::Full,
        predicted_loss: predicted,
        quality_model: model.source.clone(),
        ..Summary::new(args.budget, total, spec.describe())
    };
    Ok((plan, summary))
}

/// The devices of `--devices`, `--device-memory` and `--batch`.
fn topology(args: &Args) -> Option<Topology> {
    Some(Topology {
        devices: args.devices?,
        device_memory: args.device_memory?,
        batch: args.batch,
    })
}

/// The searched plan for `--budget` (and the devices) and the solver's figures.
fn searched(args: &Args, schema: &Schema, model: &QualityModel) -> Result<(Plan, Summary)> {
    let options = SearchOptions {
        space: SearchSpace {
            families: parse_families(args.families.as_deref(), args.allow_hash)?,
            combiners: parse_combiners(args.combiners.as_deref()),
            dim_multiple: args.target.dim_multiple(args.dim_multiple),
            hot: !args.no_hot,
            only_measured: args.calibration.is_some() && !args.extrapolate,
        },
        model: model.clone(),
    };
    let spinner = crate::cli::report::spinner(format!(
        "planning {} features",
        group_thousands(schema.features.len() as u64)
    ));
    let context = || format!("cannot plan '{}'", args.schema.display());
    let (out, placement, tries) = if let Some(t) = topology(args) {
        let found = search_placed(schema, t, args.budget, &options).with_context(context)?;
        (found.outcome, Some(found.placement), Some(found.tries))
    } else {
        let budget = args
            .budget
            .context("--budget is required unless --uniform or --devices is given")?;
        let out = embplan::plan::search(schema, budget, &options).with_context(context)?;
        (out, None, None)
    };
    spinner.finish_and_clear();
    let budget = out.budget_bytes;
    let method = out
        .plan
        .planner
        .as_ref()
        .and_then(|p| p.method.clone())
        .unwrap_or_default();
    let summary = Summary {
        full_bytes: out.full_bytes,
        at_full: out.at_full,
        predicted_loss: out.predicted_loss,
        search: Some(SearchFigures {
            min_bytes: out.min_bytes,
            lower_bound: out.lower_bound,
            relaxation_bound: out.relaxation_bound,
            gap: out.predicted_loss - out.lower_bound,
            loss_per_gib: out.loss_per_gib,
        }),
        quality_model: if options.space.only_measured && !model.measures_every_pair() {
            format!(
                "{}; only its measured pairs were considered (--extrapolate for the others)",
                model.source
            )
        } else {
            model.source.clone()
        },
        placement_tries: tries,
        ..Summary::new(Some(budget), out.total_bytes, method)
    };
    let mut plan = out.plan;
    plan.placement = placement;
    Ok((plan, summary))
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
