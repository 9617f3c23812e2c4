//! `embplan synth`: write a synthetic data set in any input format.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};

use embplan::profile::RawFormat;
use embplan::schema::Schema;
use embplan::synth::{self, IdType, SynthConfig};
use embplan::train::source::DEFAULT_ZIPF;

use super::say;

/// Arguments of `embplan synth`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Ids follow a Zipf law per feature (the schema's zipf, else --zipf, else 1.1), \
scattered over [0, cardinality); labels come from the same hidden teacher as `train --data \
synthetic` (not the same rows). The same seed gives the same file, whatever the thread count.\n\n\
Formats (-o names the file; npy: the day prefix DIR/day_N of three arrays):\n  \
tsv, csv  a header (label and the schema's feature names), decimal ids; .gz/.zst compress\n  \
criteo    label, 13 empty integer columns, 26 ids as 8 hexadecimal digits (26 features only)\n  \
npy       DIR/day_N_sparse.npy (--npy-ids int32|int64), _dense.npy (float32 zeros), _labels.npy (int32)\n  \
parquet   a label column and one int64 column per feature\n\n\
Examples:\n  embplan synth schemas/criteo-kaggle.toml --rows 1000000 --data-format criteo -o day_0.txt\n  \
embplan synth schema.toml --rows 100000 --data-format npy -o data/day_0\n\n\
Exit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// The schema whose features (names, cardinalities, zipf) to draw.
    #[arg(value_name = "SCHEMA")]
    pub schema: PathBuf,

    /// Rows to write.
    #[arg(long, value_name = "N", value_parser = super::values::count_u64)]
    pub rows: std::num::NonZeroU64,

    /// Output format: tsv, csv, criteo, npy or parquet; default: by -o's name.
    #[arg(long, value_name = "FORMAT", value_enum, ignore_case = true)]
    pub data_format: Option<RawFormat>,

    /// Where to write (npy: the day prefix, e.g. data/day_0).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: PathBuf,

    /// Zipf exponent of every feature's ids; default: the schema's, else 1.1.
    #[arg(long, value_name = "S", value_parser = super::values::number)]
    pub zipf: Option<f64>,

    /// npy: the integer type of the sparse ids (TorchRec writes either).
    #[arg(
        long,
        value_name = "TYPE",
        value_enum,
        ignore_case = true,
        default_value = "int32"
    )]
    pub npy_ids: IdType,

    /// Seed of every random draw.
    #[arg(long, default_value = "0", value_name = "N", value_parser = super::values::whole::<u64>)]
    pub seed: u64,
}

/// Runs `embplan synth`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let format = args
        .data_format
        .unwrap_or_else(|| RawFormat::for_path(&args.output));
    let files = synth::output_files(format, &args.output);
    for file in &files {
        embplan::output::check_output(
            file,
            &[args.schema.as_path()],
            extensions(format),
            &format!("{} data", format.name()),
        )?;
    }
    let schema = Schema::load(&args.schema)?;
    if let Some(z) = args.zipf.filter(|z| !(z.is_finite() && *z > 0.0)) {
        bail!("--zipf: expected a positive exponent such as 1.1, found {z}");
    }
    let features: Vec<_> = schema
        .features
        .iter()
        .map(|f| embplan::train::data::FeatureSpec {
            name: f.name.clone(),
            cardinality: f.cardinality,
        })
        .collect();
    let zipf = schema
        .features
        .iter()
        .map(|f| args.zipf.or(f.zipf).unwrap_or(DEFAULT_ZIPF))
        .collect();
    let cfg = SynthConfig {
        rows: args.rows.get(),
        zipf,
        seed: args.seed,
        npy_ids: args.npy_ids,
    };
    let started = std::time::Instant::now();
    synth::write(&features, &cfg, format, &args.output)?;
    say!(
        "generated {} rows in {:.2} s",
        cfg.rows,
        started.elapsed().as_secs_f64()
    );
    for file in &files {
        say!("wrote {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The names each format's output may have.
fn extensions(format: RawFormat) -> &'static [&'static str] {
    match format {
        RawFormat::Tsv => &["tsv", "txt", "gz", "zst"],
        RawFormat::Csv => &["csv", "gz", "zst"],
        RawFormat::Criteo => &["txt", "tsv", "gz", "zst"],
        RawFormat::Npy => &["npy"],
        RawFormat::Parquet => &["parquet", "parq"],
    }
}
