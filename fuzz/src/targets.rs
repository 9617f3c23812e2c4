//! The fuzz targets: one per parser users feed, each with a dictionary of its keywords.
//!
//! A target parses the input with the same function the CLI uses and, when the input is
//! accepted, exercises what a command does next with it (costs, serialisation, proofs,
//! exports, calibration) and asserts the invariants a parsed value must keep. Returning
//! `Err` (the input was rejected with a message) is fine; panicking is a finding.
//! Text parsers get the input as UTF-8 with invalid sequences replaced (the CLI reads
//! files with `read_to_string`, which rejects them); the data readers get the raw bytes.

use std::borrow::Cow;
use std::io::Cursor;
use std::path::Path;

use crate::dictionaries as dict;
use embplan::partition::{Combiner, ExplicitPartitions, Scheme};
use embplan::plan::Plan;
use embplan::plan::quality::{Family, QualityModel};
use embplan::results::Results;
use embplan::schema::Schema;
use embplan::size::parse_bytes;
use embplan::source::Source;
use embplan::train::data::{
    CRITEO_CATEGORICAL, CRITEO_DENSE, CriteoDictionaries, FeatureSpec, TableOptions,
    read_criteo_from, read_table_from,
};

/// What a target made of one input: accepted, or rejected with this message.
pub type Outcome = Result<(), String>;

/// A fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name on the command line.
    pub name: &'static str,
    /// What it parses.
    pub about: &'static str,
    /// Keywords the mutator inserts.
    pub dictionary: &'static [&'static str],
    /// Runs one input.
    pub run: fn(&[u8]) -> Outcome,
    /// Self-tests of the harness: not part of `all`.
    pub selftest: bool,
}

/// Explicit partition files that fuzzed plans may name (the partitions target's seeds).
pub const PARTITIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/partitions");

/// Every target: the parsers users feed, then the harness's self-tests.
pub const TARGETS: &[Target] = &[
    target(
        "schema",
        "schema TOML (Schema::from_toml), then its full-table plan",
        dict::SCHEMA_WORDS,
        schema,
    ),
    target(
        "plan-toml",
        "plan TOML (Plan::from_toml), then costs, proofs, exports, rewrite",
        dict::PLAN_WORDS,
        plan_toml,
    ),
    target(
        "plan-json",
        "plan JSON (Plan::from_json), then the same as plan-toml",
        dict::JSON_WORDS,
        plan_json,
    ),
    target(
        "partitions",
        "explicit partition files (ExplicitPartitions::parse)",
        dict::PARTITION_WORDS,
        partitions,
    ),
    target(
        "bytes",
        "byte sizes such as 4GiB (size::parse_bytes)",
        dict::BYTES_WORDS,
        bytes,
    ),
    target(
        "calibration",
        "calibration TOML for --calibration (QualityModel::from_toml)",
        dict::CALIBRATION_WORDS,
        calibration,
    ),
    target(
        "results",
        "sweep results JSON (Results::from_json), then calibrate",
        dict::RESULTS_WORDS,
        results,
    ),
    target(
        "tsv",
        "TSV training data, with and without a header (read_table_from)",
        dict::TABLE_WORDS,
        tsv,
    ),
    target(
        "csv",
        "CSV training data, extra columns ignored or not (read_table_from)",
        dict::TABLE_WORDS,
        csv,
    ),
    target(
        "criteo",
        "Criteo-format training data (read_criteo_from)",
        dict::CRITEO_WORDS,
        criteo,
    ),
    target(
        "raw-table",
        "raw TSV/CSV/Criteo blocks for profile and --vocab (read_header, table_roles, parse_block)",
        dict::TABLE_WORDS,
        raw_table,
    ),
    target(
        "vocab",
        "vocabulary files and manifests (vocab::parse_feature, Manifest::from_toml)",
        dict::VOCAB_WORDS,
        vocab,
    ),
    target(
        "npy",
        ".npy arrays (NpyArray::open, then ints/floats/labels)",
        dict::NPY_WORDS,
        npy,
    ),
    target(
        "parquet",
        "Parquet tables (ParquetTable::open, then read_columns of every column)",
        dict::PARQUET_WORDS,
        parquet,
    ),
    target(
        "cli-values",
        "one-word option values: --uniform, --methods, --families, --combiner, --format, --dtype",
        dict::VALUE_WORDS,
        cli_values,
    ),
    Target {
        selftest: true,
        ..target(
            "selftest-panic",
            "panics on inputs containing BOOM",
            &["BOOM"],
            selftest_panic,
        )
    },
    Target {
        selftest: true,
        ..target(
            "selftest-abort",
            "aborts on inputs containing BOOM",
            &["BOOM"],
            selftest_abort,
        )
    },
    Target {
        selftest: true,
        ..target(
            "selftest-hang",
            "never returns on inputs containing BOOM",
            &["BOOM"],
            selftest_hang,
        )
    },
    Target {
        selftest: true,
        ..target(
            "selftest-oom",
            "allocates 1 TiB on inputs containing BOOM",
            &["BOOM"],
            selftest_oom,
        )
    },
];

const fn target(
    name: &'static str,
    about: &'static str,
    dictionary: &'static [&'static str],
    run: fn(&[u8]) -> Outcome,
) -> Target {
    Target {
        name,
        about,
        dictionary,
        run,
        selftest: false,
    }
}

/// The target named `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn text(input: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(input)
}

fn rejected(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

fn schema(input: &[u8]) -> Outcome {
    let text = text(input);
    let s = Schema::from_toml(&Source::new("fuzz.toml", &text)).map_err(rejected)?;
    assert!(!s.features.is_empty() && s.features.iter().all(|f| f.cardinality >= 1 && f.dim >= 1));
    let _ = s.total_cardinality();
    if let Ok(plan) = Plan::full_from_schema(&s) {
        let _ = plan.costs();
    }
    Ok(())
}

fn plan_toml(input: &[u8]) -> Outcome {
    let text = text(input);
    let plan = Plan::from_toml(&Source::new("fuzz.toml", &text), Path::new(PARTITIONS_DIR))
        .map_err(rejected)?;
    use_plan(&plan);
    Ok(())
}

fn plan_json(input: &[u8]) -> Outcome {
    let text = text(input);
    let plan = Plan::from_json(&Source::new("fuzz.json", &text), Path::new(PARTITIONS_DIR))
        .map_err(rejected)?;
    use_plan(&plan);
    Ok(())
}

/// What `estimate`, `verify`, `export` and a rewrite do with a loaded plan.
fn use_plan(plan: &Plan) {
    plan.costs()
        .expect("a loaded plan's counts were checked on load");
    for f in &plan.features {
        let _ = f.scheme().describe();
        if !matches!(f.scheme(), Scheme::Explicit(_)) {
            let _ = embplan::proof::prove(f.scheme(), f.cardinality());
        }
    }
    for format in embplan::export::Format::ALL {
        let _ = embplan::export::export(plan, format);
    }
    let base = Path::new(PARTITIONS_DIR);
    let toml = plan.to_toml_string().expect("a loaded plan can be written");
    Plan::from_toml(&Source::new("rewritten.toml", &toml), base)
        .expect("a written plan loads back");
    let json = plan.to_json_string().expect("a loaded plan can be written");
    Plan::from_json(&Source::new("rewritten.json", &json), base)
        .expect("a written plan loads back");
}

fn partitions(input: &[u8]) -> Outcome {
    let text = text(input);
    let p = ExplicitPartitions::parse(Path::new("fuzz.txt"), &text).map_err(rejected)?;
    for (column, &rows) in p.columns.iter().zip(&p.rows) {
        assert_eq!(column.len() as u64, p.n);
        assert!(
            column.iter().all(|&c| c < rows),
            "rows counts every class id"
        );
    }
    let (n, rows) = (p.n, p.rows.clone());
    let scheme = Scheme::Explicit(std::sync::Arc::new(p));
    scheme
        .validate(n)
        .expect("a parsed partition file fits its own line count");
    assert_eq!(scheme.table_rows(n), rows);
    for map in scheme.table_maps() {
        for x in 0..n.min(64) {
            let _ = map.class_of(x);
        }
    }
    let _ = scheme.describe();
    Ok(())
}

fn bytes(input: &[u8]) -> Outcome {
    let text = text(input);
    let b = parse_bytes(&text).map_err(rejected)?;
    assert_eq!(
        parse_bytes(&b.0.to_string()),
        Ok(b),
        "a byte count parses back"
    );
    let _ = b.to_string();
    Ok(())
}

fn calibration(input: &[u8]) -> Outcome {
    let text = text(input);
    let m = QualityModel::from_toml(&Source::new("fuzz.toml", &text)).map_err(rejected)?;
    for family in Family::ALL {
        for c in [
            None,
            Some(Combiner::Mult),
            Some(Combiner::Add),
            Some(Combiner::Concat),
        ] {
            if let Ok(k) = m.coefficients(family, c) {
                assert!(
                    k.alpha.is_finite() && k.alpha >= 0.0 && k.beta.is_finite() && k.beta >= 0.0
                );
            }
        }
    }
    Ok(())
}

fn results(input: &[u8]) -> Outcome {
    let text = text(input);
    let r = Results::from_json(&Source::new("fuzz.json", &text)).map_err(rejected)?;
    let _ = r.contains(embplan::results::Method::Full, None, 0);
    if let Ok(cal) = embplan::calibrate::calibrate(&r) {
        let _ = cal.to_toml();
    }
    Ok(())
}

fn table_specs() -> Vec<FeatureSpec> {
    [("a", 10), ("b", 1000), ("c", u64::from(u32::MAX))]
        .into_iter()
        .map(|(name, cardinality)| FeatureSpec {
            name: name.into(),
            cardinality,
        })
        .collect()
}

/// Reads `input` with every option combination given; accepted if any reading accepts it.
fn table(input: &[u8], delimiter: u8, options: [(bool, bool); 2]) -> Outcome {
    let specs = table_specs();
    let mut outcome = Err(String::new());
    for (header, ignore_extra_columns) in options {
        let opts = TableOptions {
            delimiter,
            header,
            ignore_extra_columns,
        };
        match read_table_from("fuzz", Cursor::new(input), &specs, opts) {
            Ok(split) => {
                assert_eq!(split.ids.len(), split.labels.len() * specs.len());
                assert!(split.dense.is_empty());
                assert!(split.labels.iter().all(|y| (0.0..=1.0).contains(y)));
                for (i, &id) in split.ids.iter().enumerate() {
                    assert!(u64::from(id) < specs[i % specs.len()].cardinality);
                }
                outcome = Ok(());
            }
            Err(e) if outcome.is_err() => outcome = Err(rejected(e)),
            Err(_) => {}
        }
    }
    outcome
}

fn tsv(input: &[u8]) -> Outcome {
    table(input, b'\t', [(true, false), (false, false)])
}

fn csv(input: &[u8]) -> Outcome {
    table(input, b',', [(true, true), (false, false)])
}

fn criteo(input: &[u8]) -> Outcome {
    let specs: Vec<FeatureSpec> = (1..=CRITEO_CATEGORICAL)
        .map(|i| FeatureSpec {
            name: format!("C{i}"),
            cardinality: 3,
        })
        .collect();
    let mut dicts = CriteoDictionaries::default();
    let split =
        read_criteo_from("fuzz", Cursor::new(input), &specs, &mut dicts).map_err(rejected)?;
    assert_eq!(split.ids.len(), split.labels.len() * CRITEO_CATEGORICAL);
    assert_eq!(split.dense.len(), split.labels.len() * CRITEO_DENSE);
    assert!(split.dense.iter().all(|x| x.is_finite() && *x >= 0.0));
    dicts.check(&specs, "fuzz").map_err(rejected)
}

fn raw_table(input: &[u8]) -> Outcome {
    use embplan::profile::input::{Input, RawFormat};
    use embplan::profile::scan::Batch;
    use embplan::profile::text::{Roles, parse_block, read_header, table_roles};
    let path = Path::new("fuzz");
    let mut accepted = 0;
    for format in [RawFormat::Tsv, RawFormat::Csv, RawFormat::Criteo] {
        let mut spec = Input::new(vec![path.to_path_buf()], Some(format));
        spec.dense = format == RawFormat::Criteo;
        let (roles, block) = if format == RawFormat::Criteo {
            (Roles::criteo(path, None, true).map_err(rejected)?, input)
        } else {
            let mut cursor = Cursor::new(input);
            let Ok((header, _)) = read_header(path, &mut cursor, format) else {
                continue;
            };
            let Ok(roles) = table_roles(path, &header, &spec, None) else {
                continue;
            };
            let at = usize::try_from(cursor.position()).expect("a position inside the input");
            (roles, &input[at..])
        };
        let mut batch = Batch::default();
        if parse_block(path, 2, block, &roles, &mut batch).is_ok() {
            assert_eq!(batch.keys.len(), batch.len() * roles.names.len());
            assert_eq!(batch.dense.len(), batch.len() * roles.dense);
            assert!(batch.labels.iter().all(|&y| y == 0.0 || y == 1.0));
            assert!(batch.dense.iter().all(|x| x.is_finite() && *x >= 0.0));
            accepted += 1;
        }
    }
    if accepted > 0 {
        Ok(())
    } else {
        Err("rejected as TSV, CSV and Criteo".into())
    }
}

fn vocab(input: &[u8]) -> Outcome {
    use embplan::profile::vocab::{Encoder, Manifest, parse_feature};
    let manifest = Manifest::from_toml("fuzz.toml", &text(input)).map(|m| m.fingerprint());
    let parsed = parse_feature("fuzz.tsv", input, "f", 1 << 20).map(|v| {
        let encoder = Encoder::new(&v).expect("ids below 2^20 fit the trainer");
        for (value, id, tally) in &v.entries {
            assert!(*id <= v.oov && tally.positives <= tally.count);
            if let embplan::profile::value::Value::Packed(k) = value
                && *id < v.oov
            {
                assert!(encoder.id(*k, &[]) <= encoder.oov);
            }
        }
    });
    match (manifest, parsed) {
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        _ => Ok(()),
    }
}

/// A file path private to this process, for parsers that read files (npy maps them).
fn scratch(ext: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("embplan-fuzz-{}.{ext}", std::process::id()))
}

fn npy(input: &[u8]) -> Outcome {
    use embplan::columnar::npy::NpyArray;
    let path = scratch("npy");
    std::fs::write(&path, input).expect("the scratch file is writable");
    let array = NpyArray::open(&path).map_err(rejected)?;
    let rows = array.rows().min(4096);
    let (mut ints, mut floats, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let read = [
        array.ints(0..rows, &mut ints).is_ok(),
        array.floats(0..rows, &mut floats).is_ok(),
        array.labels(0..rows, &mut labels).is_ok(),
    ];
    assert!(labels.iter().all(|&y| y == 0.0 || y == 1.0));
    if read.iter().any(|&ok| ok) {
        Ok(())
    } else {
        Err("no typed read accepted the array".into())
    }
}

fn parquet(input: &[u8]) -> Outcome {
    use embplan::columnar::parquet_io::ParquetTable;
    let path = scratch("parquet");
    std::fs::write(&path, input).expect("the scratch file is writable");
    let table = ParquetTable::open(&path).map_err(rejected)?;
    let names: Vec<String> = table
        .columns()
        .iter()
        .filter(|c| c.readable)
        .map(|c| c.name.clone())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut rows = 0usize;
    table
        .read_columns(&names, 1024, |batch| {
            rows += batch.rows;
            assert!(batch.columns.iter().all(|c| c.values.len() == batch.rows));
            Ok(())
        })
        .map_err(rejected)
}

fn cli_values(input: &[u8]) -> Outcome {
    let text = text(input);
    let mut accepted = 0;
    // The CLI takes a handful of values; the first 64 lines are plenty.
    for word in text.split('\n').take(64) {
        accepted += usize::from(embplan::plan::UniformFamily::parse(word).is_ok())
            + usize::from(embplan::sweep::Method::parse(word).is_ok())
            + usize::from(Family::parse(word).is_ok())
            + usize::from(Combiner::parse(word).is_ok())
            + usize::from(embplan::export::Format::parse(word).is_ok());
    }
    accepted += text.split(',').filter(|w| Family::parse(w).is_ok()).count();
    if accepted > 0 {
        Ok(())
    } else {
        Err("no value accepted".into())
    }
}

fn selftest_panic(input: &[u8]) -> Outcome {
    if input.windows(4).any(|w| w == b"BOOM") {
        panic!("selftest-panic: the input holds BOOM");
    }
    Err("no BOOM".into())
}

fn selftest_abort(input: &[u8]) -> Outcome {
    if input.windows(4).any(|w| w == b"BOOM") {
        std::process::abort();
    }
    Err("no BOOM".into())
}

fn selftest_hang(input: &[u8]) -> Outcome {
    if input.windows(4).any(|w| w == b"BOOM") {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    Err("no BOOM".into())
}

fn selftest_oom(input: &[u8]) -> Outcome {
    if input.windows(4).any(|w| w == b"BOOM") {
        let v: Vec<u8> = Vec::with_capacity(1 << 40);
        std::hint::black_box(&v);
    }
    Err("no BOOM".into())
}
