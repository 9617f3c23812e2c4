//! `embplan profile`: measure raw training data into a schema (and vocabularies).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

use embplan::profile::{self, Input, Options, Profile, RawFormat, SchemaOrigin, vocab};
use embplan::schema::Schema;
use embplan::size::group_thousands;

use super::say;

/// Arguments of `embplan profile`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every categorical value is counted exactly (in parallel, streaming). The schema's \
cardinality of a feature is its kept values plus one out-of-vocabulary id; its [feature.profile] \
table holds the measured figures (coverage of the top 1, 2, 4, … values, entropy, label information). \
With --vocab, one file per feature maps each raw value to its id: 0 = most frequent.\n\n\
Values: a canonical decimal integer is the same value in every format (31 in TSV = 31 in an int32 \
or int64 array = 1f in Criteo text); anything else is an opaque string; an empty field is the \
missing value.\n\nExamples:\n  embplan profile day_0.tsv.gz --vocab vocab -o schema.toml\n  \
embplan profile train.csv --label clicked --categorical user,item,zip -o schema.toml\n  \
embplan profile --merge part-*.toml --vocab vocab-all -o schema.toml\n\n\
Exit codes: 0 success, 2 bad input or error."
)]
pub struct Args {
    /// Data files (tsv, csv, criteo text, .npy days, parquet; .gz/.zst text), read in order.
    #[arg(value_name = "DATA", required_unless_present = "merge")]
    pub data: Vec<PathBuf>,

    /// Write the schema here (.toml).
    #[arg(long, short = 'o', value_name = "SCHEMA")]
    pub output: PathBuf,

    /// Also write one vocabulary file per feature into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub vocab: Option<PathBuf>,

    /// TSV/CSV/Parquet: the label column (values 0 or 1).
    #[arg(long, value_name = "COLUMN", default_value = "label")]
    pub label: String,

    /// TSV/CSV/Parquet: the categorical columns, comma-separated; default: every column but
    /// the label.
    #[arg(long, value_name = "COLS", value_delimiter = ',')]
    pub categorical: Option<Vec<String>>,

    /// Values seen fewer than N times share one out-of-vocabulary id.
    #[arg(long, value_name = "N", default_value = "1", value_parser = super::values::count_u64)]
    pub min_count: std::num::NonZeroU64,

    /// Input format: tsv, csv, criteo, npy or parquet; default: by the first file's name
    /// (.csv, .npy, .parquet, else tsv; .gz/.zst looked through).
    #[arg(long, value_name = "FORMAT", value_enum, ignore_case = true)]
    pub data_format: Option<RawFormat>,

    /// Memory exact counting may use, e.g. 4GiB; default: half the available memory.
    #[arg(long, value_name = "SIZE", value_parser = super::values::byte_size)]
    pub memory: Option<u64>,

    /// Worker threads; default: all cores (results do not depend on it).
    #[arg(long, value_name = "N", value_parser = super::values::count)]
    pub threads: Option<std::num::NonZeroUsize>,

    /// Merge the profiles (and vocabularies) of shards profiled with --vocab, instead of
    /// reading data: exactly the profile of their concatenated data.
    #[arg(long, value_name = "SCHEMA", num_args = 1.., conflicts_with = "data")]
    pub merge: Vec<PathBuf>,

    /// The schema's embedding dim.
    #[arg(long, default_value = "16", value_name = "D", value_parser = super::values::positive::<u32>)]
    pub dim: u32,

    /// The schema's name; default: the output file's stem.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Print the profile as JSON on standard output instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `embplan profile`.
pub fn run(args: &Args) -> Result<ExitCode> {
    let inputs: Vec<&Path> = args
        .data
        .iter()
        .chain(&args.merge)
        .map(PathBuf::as_path)
        .collect();
    embplan::output::check_output(&args.output, &inputs, &["toml"], "profile schema")?;
    if let Some(dir) = &args.vocab {
        check_vocab_dir(dir, &inputs)?;
    }
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        std::num::NonZero::get,
    );
    let opts = Options {
        min_count: args.min_count.get(),
        memory: args
            .memory
            .unwrap_or_else(|| embplan::memory::available().map_or(4 << 30, |a| a / 2)),
        threads,
    };
    let (profile, files, format) = if args.merge.is_empty() {
        let mut input = Input::new(args.data.clone(), args.data_format);
        input.label.clone_from(&args.label);
        input.categorical.clone_from(&args.categorical);
        let started = std::time::Instant::now();
        let p = profile::profile(&input, &opts)?;
        say!(
            "profiled {} rows in {:.2} s",
            p.rows,
            started.elapsed().as_secs_f64()
        );
        let files = args.data.iter().map(|f| f.display().to_string()).collect();
        (p, files, input.format.name().to_string())
    } else {
        merge(&args.merge, opts.min_count)?
    };
    let manifest = match &args.vocab {
        Some(dir) => Some(vocab::write(dir, &profile)?),
        None => None,
    };
    let schema = schema_of(args, &profile, files, format, manifest.as_ref());
    embplan::output::write_atomic(&args.output, schema.to_toml()?.as_bytes())?;
    if let Some(dir) = &args.vocab {
        say!("wrote {}", dir.display());
    }
    say!("wrote {}", args.output.display());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json_of(&schema))?);
    } else {
        print_table(&profile);
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a vocabulary directory that holds an input or is a file.
fn check_vocab_dir(dir: &Path, inputs: &[&Path]) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "--vocab '{}' is a file: expected a directory (it is created if missing)",
            dir.display()
        );
    }
    if let Ok(canon) = dir.canonicalize() {
        for input in inputs {
            if input.canonicalize().is_ok_and(|i| i.starts_with(&canon)) {
                bail!(
                    "--vocab '{}' holds the input '{}': choose another directory so no input is overwritten",
                    dir.display(),
                    input.display()
                );
            }
        }
    }
    Ok(())
}

/// Merges shards' vocabularies into one exact profile.
fn merge(shards: &[PathBuf], min_count: u64) -> Result<(Profile, Vec<String>, String)> {
    let mut names: Option<Vec<String>> = None;
    let mut counts: Vec<profile::counts::Counts> = Vec::new();
    let mut files = Vec::new();
    let mut format = String::new();
    for path in shards {
        let schema = Schema::load(path)?;
        let Some(p) = &schema.profile else {
            bail!(
                "{}: not a profiled schema (no [profile] table): merge schemas written by `embplan profile --vocab`",
                path.display()
            );
        };
        if !p.exact {
            bail!(
                "{}: profiled with sketches (counts did not fit in memory): its vocabulary holds only the head, so an exact merge is impossible; profile smaller shards (or with more --memory) and merge those",
                path.display()
            );
        }
        let Some(dir) = &p.vocab else {
            bail!(
                "{}: profiled without --vocab: an exact merge needs every value's counts, which only the vocabulary keeps; profile the shard with --vocab DIR",
                path.display()
            );
        };
        let dir = path.parent().unwrap_or(Path::new(".")).join(dir);
        let manifest = vocab::Manifest::load(&dir)?;
        if p.vocab_fingerprint.as_deref() != Some(manifest.fingerprint().as_str()) {
            bail!(
                "{}: its vocabulary '{}' has changed since the schema was written (fingerprints differ): profile the shard again",
                path.display(),
                dir.display()
            );
        }
        let shard_names: Vec<String> = manifest.features.iter().map(|f| f.name.clone()).collect();
        match &names {
            None => {
                counts = shard_names
                    .iter()
                    .map(|_| profile::counts::Counts::default())
                    .collect();
                names = Some(shard_names);
            }
            Some(n) if *n != shard_names => bail!(
                "{}: its features ({}) differ from the first shard's ({}): merge shards of the same columns",
                path.display(),
                shard_names.join(", "),
                n.join(", ")
            ),
            Some(_) => {}
        }
        for (c, f) in counts.iter_mut().zip(&manifest.features) {
            c.merge(vocab::counts_of(&vocab::read_feature(&dir, f)?));
        }
        files.extend(p.files.iter().cloned());
        if format.is_empty() {
            format.clone_from(&p.format);
        } else if format != p.format {
            format = "mixed".into();
        }
    }
    let names = names.unwrap_or_default();
    let rows = counts.first().map_or(0, |c| c.rows);
    let positives = counts.first().map_or(0, |c| c.positives);
    Ok((
        profile::finish(names, counts, rows, positives, min_count),
        files,
        format,
    ))
}

fn schema_of(
    args: &Args,
    p: &Profile,
    files: Vec<String>,
    format: String,
    manifest: Option<&vocab::Manifest>,
) -> Schema {
    let name = args.name.clone().or_else(|| {
        args.output
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    });
    let vocab = args
        .vocab
        .as_ref()
        .map(|dir| relative_to(dir, &args.output))
        .zip(manifest);
    p.to_schema(SchemaOrigin {
        name,
        dim: args.dim,
        files,
        format,
        vocab,
    })
}

/// `dir` as seen from the directory of `file` (relative when `dir` lies below it).
fn relative_to(dir: &Path, file: &Path) -> String {
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (dir.canonicalize(), base.canonicalize()) {
        (Ok(d), Ok(b)) => d
            .strip_prefix(&b)
            .map_or(d.clone(), Path::to_path_buf)
            .display()
            .to_string(),
        _ => dir.display().to_string(),
    }
}

fn json_of(schema: &Schema) -> serde_json::Value {
    serde_json::json!({
        "name": schema.name,
        "profile": schema.profile,
        "features": schema.features.iter().map(|f| serde_json::json!({
            "name": f.name,
            "cardinality": f.cardinality.to_string(),
            "profile": f.profile,
        })).collect::<Vec<_>>(),
    })
}

fn print_table(p: &Profile) {
    let mut table = super::report::new_table(&[
        "feature",
        "distinct",
        "ids",
        "missing",
        "singletons",
        "top 1",
        "top 1K",
        "entropy bits",
        "label info bits",
        "folded",
    ]);
    for f in &p.features {
        let q = &f.profile;
        let cov = |i: usize| {
            q.coverage
                .get(i)
                .or(q.coverage.last())
                .map_or("-".into(), |c| format!("{:.1}%", 100.0 * c))
        };
        table.add_row([
            f.name.clone(),
            group_thousands(q.distinct),
            group_thousands(f.cardinality()),
            group_thousands(q.missing),
            group_thousands(q.singletons),
            cov(0),
            cov(10),
            format!("{:.2}", q.entropy_bits),
            format!(
                "{:.4}",
                (q.label_information_bits - q.label_information_bias_bits).max(0.0)
            ),
            if q.folded_values == 0 {
                "0".into()
            } else {
                format!(
                    "{} ({:.1}% of rows)",
                    q.folded_values,
                    100.0 * q.folded_share
                )
            },
        ]);
    }
    super::report::align_right(&mut table, &[1, 2, 3, 4, 5, 6, 7, 8]);
    println!("{table}");
    let rate = if p.rows == 0 {
        0.0
    } else {
        p.positives as f64 / p.rows as f64
    };
    println!(
        "{} rows, positive rate {:.4}; label info is the Miller–Madow-corrected mutual information with the label.",
        p.rows, rate
    );
}
