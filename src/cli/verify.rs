//! `embplan verify`: prove partitions complementary or print a colliding pair.

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Result, bail};
use serde::Serialize;

use embplan::partition::{Combiner, ExplicitPartitions, Scheme};
use embplan::plan::Plan;
use embplan::proof::{self, Verdict};

/// Arguments of `embplan verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  embplan verify plan.toml\n  embplan verify --cardinality 10000000 --qr 3163\n  embplan verify --cardinality 1001 --crt 7,11,13 --exhaustive\n  embplan verify -n 1000000 --hot 4096 --qr 1000\n  embplan verify --partitions classes.txt --json\n\nExit codes: 0 complementary, 1 not complementary (a counterexample is printed), 2 bad input or error."
)]
pub struct Args {
    /// A plan file (.toml or .json) whose every feature is verified.
    #[arg(value_name = "PLAN", conflicts_with = "cardinality")]
    pub plan: Option<PathBuf>,

    /// Number of categories n of a single scheme given on the command line, e.g. 10000000
    /// (with --partitions: optional, the file's line count, checked against N when given).
    #[arg(long, short = 'n', value_name = "N", required_unless_present_any = ["plan", "partitions"], value_parser = super::values::count_u64)]
    pub cardinality: Option<NonZeroU64>,

    /// Quotient–remainder with modulus and divisor M: classes x mod M and x div M.
    #[arg(long, value_name = "M", group = "scheme", value_parser = super::values::count_u64)]
    pub qr: Option<NonZeroU64>,

    /// Mixed radix (generalized QR) with comma-separated radices, least significant first.
    #[arg(long, value_name = "M1,M2,…", value_delimiter = ',', group = "scheme", value_parser = super::values::count_u64)]
    pub radix: Option<Vec<NonZeroU64>>,

    /// Chinese remainder with comma-separated moduli: classes x mod Mj.
    #[arg(long, value_name = "M1,M2,…", value_delimiter = ',', group = "scheme", value_parser = super::values::count_u64)]
    pub crt: Option<Vec<NonZeroU64>>,

    /// The hashing trick with M buckets: class x mod M.
    #[arg(long, value_name = "M", group = "scheme", value_parser = super::values::count_u64)]
    pub hash: Option<NonZeroU64>,

    /// Ids 0..K−1 (the most frequent, under a profile vocabulary) get rows of their own; the
    /// scheme given (--qr, --radix, --crt or --hash) composes the other ids, shifted by K.
    #[arg(long, value_name = "K", conflicts_with = "partitions", value_parser = super::values::count_u64)]
    pub hot: Option<NonZeroU64>,

    /// Explicit partitions: a file with one line per category, one class id per partition.
    #[arg(long, value_name = "FILE", group = "scheme")]
    pub partitions: Option<PathBuf>,

    /// The combiner to state guarantees for (concat, add or mult).
    #[arg(long, value_name = "C", value_enum, ignore_case = true)]
    pub combiner: Option<Combiner>,

    /// Also enumerate every id and check class tuples are pairwise distinct (O(n) bits).
    #[arg(long)]
    pub exhaustive: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One verified feature, as printed by `--json`.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    feature: Option<String>,
    scheme: String,
    cardinality: u64,
    complementary: bool,
    method: proof::Method,
    reason: String,
    counterexample: Option<[u64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    classes: Option<Vec<u64>>,
    guarantee: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    proof_agrees: Option<bool>,
}

/// Runs `embplan verify`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let reports = if let Some(path) = &args.plan {
        let plan = Plan::load(path)?;
        plan.features
            .iter()
            .map(|f| {
                verify_one(
                    Some(f.name()),
                    f.scheme(),
                    f.cardinality(),
                    f.combiner(),
                    args.exhaustive,
                )
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let scheme = scheme_from_args(args)?;
        let n = match (&scheme, args.cardinality) {
            (_, Some(n)) => n.get(),
            (Scheme::Explicit(p), None) => p.n,
            _ => bail!("give the number of categories with -n (only --partitions infers it)"),
        };
        scheme.validate(n)?;
        let combiner = args.combiner.or(match scheme.num_tables() {
            1 => None,
            _ => Some(Combiner::Mult),
        });
        vec![verify_one(None, &scheme, n, combiner, args.exhaustive)?]
    };
    print_reports(&reports, args.json, args.plan.is_some())?;
    let all = reports.iter().all(|r| r.complementary);
    Ok(ExitCode::from(if all {
        super::EXIT_OK
    } else {
        super::EXIT_VERDICT_NO
    }))
}

fn scheme_from_args(args: &Args) -> Result<Scheme> {
    let values = |list: &[NonZeroU64]| list.iter().map(|m| m.get()).collect();
    let scheme = if let Some(m) = args.qr {
        Scheme::Qr { m: m.get() }
    } else if let Some(r) = &args.radix {
        Scheme::MixedRadix { radices: values(r) }
    } else if let Some(m) = &args.crt {
        Scheme::Crt { moduli: values(m) }
    } else if let Some(m) = args.hash {
        Scheme::Hash { m: m.get() }
    } else if let Some(p) = &args.partitions {
        Scheme::Explicit(Arc::new(ExplicitPartitions::load(p)?))
    } else {
        bail!("give a scheme with --qr, --radix, --crt, --hash or --partitions (or a plan file)")
    };
    Ok(match args.hot {
        Some(hot) => Scheme::Hot {
            hot: hot.get(),
            tail: Box::new(scheme),
        },
        None => scheme,
    })
}

fn verify_one(
    feature: Option<&str>,
    scheme: &Scheme,
    n: u64,
    combiner: Option<Combiner>,
    exhaustive: bool,
) -> Result<Report> {
    let proved = proof::prove(scheme, n)?;
    let (verdict, agrees): (Verdict, Option<bool>) = if exhaustive
        && proved.method == proof::Method::Proof
    {
        let spinner = crate::cli::report::spinner(format!(
            "enumerating {} ids of {}",
            embplan::size::group_thousands(n),
            scheme.describe()
        ));
        let enumerated = proof::check_exhaustive(scheme, n)?;
        spinner.finish_and_clear();
        if enumerated.complementary != proved.complementary {
            bail!(
                "internal error: the proof ({}) and the enumeration ({}) disagree for {} over n = {n}; please report this",
                proved.reason,
                enumerated.reason,
                scheme.describe()
            );
        }
        (enumerated, Some(true))
    } else {
        (proved, None)
    };
    let reason = match (&agrees, exhaustive) {
        (Some(_), _) => format!("{}; the proof agrees", verdict.reason),
        _ => verdict.reason.clone(),
    };
    Ok(Report {
        feature: feature.map(str::to_string),
        scheme: scheme.describe(),
        cardinality: n,
        complementary: verdict.complementary,
        method: verdict.method,
        reason,
        counterexample: verdict.counterexample.as_ref().map(|c| [c.a, c.b]),
        classes: verdict.counterexample.map(|c| c.classes),
        guarantee: proof::combiner_guarantee(combiner, verdict.complementary),
        proof_agrees: agrees,
    })
}

fn print_reports(reports: &[Report], json: bool, as_array: bool) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        let text = if as_array {
            serde_json::to_string_pretty(reports)?
        } else {
            serde_json::to_string_pretty(&reports[0])?
        };
        writeln!(out, "{text}")?;
        return Ok(());
    }
    for r in reports {
        let verdict = if r.complementary {
            "complementary"
        } else {
            "NOT complementary"
        };
        let method = match r.method {
            proof::Method::Proof => "proof",
            proof::Method::Exhaustive => "exhaustive",
        };
        match &r.feature {
            Some(f) => writeln!(
                out,
                "{f}: {} over n = {}: {verdict} ({method})",
                r.scheme, r.cardinality
            )?,
            None => writeln!(
                out,
                "{} over n = {}: {verdict} ({method})",
                r.scheme, r.cardinality
            )?,
        }
        writeln!(out, "  reason: {}", r.reason)?;
        if let (Some([a, b]), Some(classes)) = (&r.counterexample, &r.classes) {
            writeln!(
                out,
                "  counterexample: ids {a} and {b} both have classes {classes:?}"
            )?;
        }
        writeln!(out, "  guarantee: {}", r.guarantee)?;
    }
    if reports.len() > 1 {
        let bad = reports.iter().filter(|r| !r.complementary).count();
        writeln!(
            out,
            "{} of {} features complementary",
            reports.len() - bad,
            reports.len()
        )?;
    }
    Ok(())
}
