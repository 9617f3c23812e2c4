//! Property tests: every parser returns `Ok` or `Err` on arbitrary input and on valid files
//! with one word or number replaced by an arbitrary value, never panics.

use std::io::Cursor;
use std::path::Path;

use embplan::partition::ExplicitPartitions;
use embplan::plan::{Plan, QualityModel};
use embplan::results::Results;
use embplan::schema::Schema;
use embplan::size::parse_bytes;
use embplan::source::Source;
use embplan::train::data::{
    CriteoDictionaries, FeatureSpec, TableOptions, read_criteo_from, read_table_from,
};
use embplan_fuzz::targets::{PARTITIONS_DIR, find};
use proptest::prelude::*;

/// Values users get wrong: integers at the edges, floats, words and arbitrary text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        "[a-z-]{0,12}",
        "[-+0-9._eE]{0,24}",
        "\\PC{0,8}",
        prop::sample::select(vec![
            "18446744073709551616",
            "1e309",
            "nan",
            "-inf",
            "\"\"",
            "[]",
            "{}",
            "#",
            "\u{FEFF}",
            "\n",
            "\t",
            ",",
            "\"",
            "'",
        ])
        .prop_map(str::to_string),
    ]
}

/// `text` with its `nth` word (a run of letters, digits, `_`, `.`, `+`, `-`) replaced.
fn replace_word(text: &str, nth: usize, with: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || "_.+-".contains(c);
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, is_word(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if spans.is_empty() {
        return format!("{text}{with}");
    }
    let (a, b) = spans[nth % spans.len()];
    format!("{}{with}{}", &text[..a], &text[b..])
}

/// A seed file of `target` with one word replaced by an arbitrary value.
fn near_valid(target: &'static str) -> impl Strategy<Value = String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    (prop::sample::select(seeds), any::<usize>(), value())
        .prop_map(|(seed, nth, v)| replace_word(&seed, nth, &v))
}

fn run_target(name: &str, input: &str) {
    let _ = (find(name).unwrap().run)(input.as_bytes());
}

fn specs() -> Vec<FeatureSpec> {
    ["a", "b", "c"]
        .iter()
        .map(|n| FeatureSpec {
            name: n.to_string(),
            cardinality: 1000,
        })
        .collect()
}

proptest! {
    #[test]
    fn schema_never_panics(text in any::<String>(), near in near_valid("schema")) {
        let _ = Schema::from_toml(&Source::new("s.toml", &text));
        run_target("schema", &near);
    }

    #[test]
    fn plan_toml_never_panics(text in any::<String>(), near in near_valid("plan-toml")) {
        let _ = Plan::from_toml(&Source::new("p.toml", &text), Path::new(PARTITIONS_DIR));
        run_target("plan-toml", &near);
    }

    #[test]
    fn plan_json_never_panics(text in any::<String>(), near in near_valid("plan-json")) {
        let _ = Plan::from_json(&Source::new("p.json", &text), Path::new(PARTITIONS_DIR));
        run_target("plan-json", &near);
    }

    #[test]
    fn partitions_never_panic(
        text in any::<String>(),
        rows in prop::collection::vec(prop::collection::vec(value(), 0..4), 0..6),
    ) {
        let _ = ExplicitPartitions::parse(Path::new("p.txt"), &text);
        let lines: Vec<String> = rows.iter().map(|r| r.join(" ")).collect();
        run_target("partitions", &lines.join("\n"));
    }

    #[test]
    fn byte_sizes_never_panic(
        text in any::<String>(),
        number in "[0-9._]{0,40}",
        space in "[ \t]{0,2}",
        unit in "[kKmMgGtTpPeEiIbB]{0,4}",
    ) {
        let _ = parse_bytes(&text);
        run_target("bytes", &format!("{number}{space}{unit}"));
    }

    #[test]
    fn calibration_never_panics(text in any::<String>(), near in near_valid("calibration")) {
        let _ = QualityModel::from_toml(&Source::new("c.toml", &text));
        run_target("calibration", &near);
    }

    #[test]
    fn results_never_panic(text in any::<String>(), near in near_valid("results")) {
        let _ = Results::from_json(&Source::new("r.json", &text));
        run_target("results", &near);
    }

    #[test]
    fn data_readers_never_panic(
        bytes in any::<Vec<u8>>(),
        header in any::<bool>(),
        tsv in near_valid("tsv"),
        csv in near_valid("csv"),
        criteo in near_valid("criteo"),
    ) {
        for delimiter in [b'\t', b','] {
            let opts = TableOptions { delimiter, header, ignore_extra_columns: !header };
            let _ = read_table_from("d", Cursor::new(&bytes), &specs(), opts);
        }
        let criteo_specs: Vec<FeatureSpec> = (1..=26)
            .map(|i| FeatureSpec { name: format!("C{i}"), cardinality: 2 })
            .collect();
        let mut dicts = CriteoDictionaries::default();
        if read_criteo_from("d", Cursor::new(&bytes), &criteo_specs, &mut dicts).is_ok() {
            let _ = dicts.check(&criteo_specs, "d");
        }
        run_target("tsv", &tsv);
        run_target("csv", &csv);
        run_target("criteo", &criteo);
    }

    #[test]
    fn option_values_never_panic(text in any::<String>(), near in near_valid("cli-values")) {
        run_target("cli-values", &text);
        run_target("cli-values", &near);
    }
}
