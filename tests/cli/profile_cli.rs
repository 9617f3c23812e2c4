//! `profile`, `synth` and raw-data training through a vocabulary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::common::{embplan, write};

/// A small schema of 26 features (Criteo-shaped, so every format can hold it).
fn schema26(dir: &Path) -> PathBuf {
    let mut text = String::from("dim = 8\n");
    for i in 1..=26 {
        let n = [3, 40, 500, 7][i % 4];
        let _ = write!(text, "[[feature]]\nname = \"C{i}\"\ncardinality = {n}\n");
    }
    write(dir, "s26.toml", &text)
}

fn synth(dir: &Path, schema: &Path, format: &str, out: &str, rows: &str) -> PathBuf {
    let path = dir.join(out);
    embplan()
        .args(["synth", schema.to_str().unwrap(), "--rows", rows])
        .args(["--data-format", format, "--seed", "7", "-o"])
        .arg(&path)
        .assert()
        .success();
    path
}

/// Profiles `data` into `dir/<name>.toml` and `dir/<name>-vocab`; returns (schema text,
/// the vocabulary files' texts).
fn profile(dir: &Path, name: &str, data: &[&Path], extra: &[&str]) -> (String, Vec<String>) {
    let schema = dir.join(format!("{name}.toml"));
    let vocab = dir.join(format!("{name}-vocab"));
    embplan()
        .arg("profile")
        .args(data)
        .args(extra)
        .arg("-o")
        .arg(&schema)
        .arg("--vocab")
        .arg(&vocab)
        .assert()
        .success();
    let text = std::fs::read_to_string(&schema).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&vocab)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    (
        text,
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect(),
    )
}

/// The schema's measured part: everything but its name, files, format and vocabulary path.
fn measured(schema: &str) -> String {
    schema
        .lines()
        .filter(|l| {
            !["name = ", "files = ", "format = ", "vocab = "]
                .iter()
                .any(|p| l.starts_with(p))
                || l.starts_with("name = \"C")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_format_gives_the_same_profile_and_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = schema26(d);
    let tsv = synth(d, &schema, "tsv", "a.tsv", "3000");
    let csv = synth(d, &schema, "csv", "a.csv", "3000");
    let criteo = synth(d, &schema, "criteo", "a.txt", "3000");
    let gz = synth(d, &schema, "tsv", "a.tsv.gz", "3000");
    let zst = synth(d, &schema, "csv", "a.csv.zst", "3000");
    let npy32 = synth(d, &schema, "npy", "day_0", "3000");
    embplan()
        .args([
            "synth",
            schema.to_str().unwrap(),
            "--rows",
            "3000",
            "--seed",
            "7",
        ])
        .args(["--data-format", "npy", "--npy-ids", "int64", "-o"])
        .arg(d.join("day_1"))
        .assert()
        .success();
    let npy64 = d.join("day_1_sparse.npy");
    let parquet = synth(d, &schema, "parquet", "a.parquet", "3000");
    let (base, base_vocab) = profile(d, "tsv", &[&tsv], &[]);
    assert!(base.contains("rows = 3000"), "{base}");
    for (name, data, extra) in [
        ("csv", &csv, &[][..]),
        ("criteo", &criteo, &["--data-format", "criteo"][..]),
        ("gz", &gz, &[][..]),
        ("zst", &zst, &[][..]),
        ("npy32", &npy32, &[][..]),
        ("npy64", &npy64, &[][..]),
        ("parquet", &parquet, &[][..]),
    ] {
        let (text, vocab) = profile(d, name, &[data], extra);
        assert_eq!(measured(&text), measured(&base), "{name}");
        assert_eq!(vocab, base_vocab, "{name}");
    }
}

#[test]
fn merged_shards_equal_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = schema26(d);
    let whole = synth(d, &schema, "tsv", "whole.tsv", "2500");
    let text = std::fs::read_to_string(&whole).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (header, rows) = (lines[0], &lines[1..]);
    let part =
        |name: &str, rows: &[&str]| write(d, name, &format!("{header}\n{}\n", rows.join("\n")));
    let a = part("a.tsv", &rows[..1000]);
    let b = part("b.tsv", &rows[1000..]);
    let (whole_schema, whole_vocab) = profile(d, "whole", &[&whole], &["--min-count", "2"]);
    profile(d, "a", &[&a], &[]);
    profile(d, "b", &[&b], &[]);
    let merged = d.join("merged.toml");
    let merged_vocab = d.join("merged-vocab");
    embplan()
        .args(["profile", "--merge"])
        .args([d.join("a.toml"), d.join("b.toml")])
        .args(["--min-count", "2", "-o"])
        .arg(&merged)
        .arg("--vocab")
        .arg(&merged_vocab)
        .assert()
        .success();
    let merged_text = std::fs::read_to_string(&merged).unwrap();
    assert_eq!(measured(&merged_text), measured(&whole_schema));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&merged_vocab)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert_eq!(texts, whole_vocab);
    // min-count 2 folds the singletons: the schema says how many and how much traffic.
    assert!(merged_text.contains("folded_values = "), "{merged_text}");
}

#[test]
fn npy_days_are_checked_and_train_through_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = schema26(d);
    let day = synth(d, &schema, "npy", "day_0", "2000");
    let (text, _) = profile(d, "npy", &[&day], &[]);
    assert!(text.contains("format = \"npy\""), "{text}");
    embplan()
        .args(["train", d.join("npy.toml").to_str().unwrap(), "--data"])
        .arg(&day)
        .arg("--vocab")
        .arg(d.join("npy-vocab"))
        .args(["--epochs", "1", "--json"])
        .assert()
        .success();
    // A day whose label array is shorter than its sparse array.
    let labels = d.join("day_0_labels.npy");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() - 4]).unwrap();
    embplan()
        .args(["profile", day.to_str().unwrap(), "-o"])
        .arg(d.join("bad.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("day_0_labels.npy"));
    assert!(!d.join("bad.toml").exists());
}

#[test]
fn raw_strings_train_through_the_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::from("clicked,user,zip,ignored\n");
    for i in 0..400 {
        let user = ["alice", "bob", "", "carol \"c\"", "dave,jr"][i % 5];
        let zip = if i % 7 == 0 { "-12" } else { "M" };
        let _ = writeln!(text, "{},\"{}\",{zip},x", i % 2, user.replace('"', "\"\""));
    }
    let data = write(d, "raw.csv", &text);
    let valid = write(
        d,
        "valid.csv",
        "clicked,user,zip,ignored\n1,zoe,M,y\n0,bob,M,y\n",
    );
    let schema = d.join("s.toml");
    let vocab = d.join("vocab");
    embplan()
        .args(["profile", data.to_str().unwrap(), "--label", "clicked"])
        .args(["--categorical", "user,zip", "-o"])
        .arg(&schema)
        .arg("--vocab")
        .arg(&vocab)
        .assert()
        .success();
    let s = std::fs::read_to_string(&schema).unwrap();
    assert!(s.contains("name = \"user\"\ncardinality = 6"), "{s}");
    assert!(s.contains("missing = 80"), "{s}");
    let out = embplan()
        .args([
            "train",
            schema.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .args(["--valid", valid.to_str().unwrap(), "--label", "clicked"])
        .args(["--epochs", "1", "--json", "--vocab"])
        .arg(&vocab)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("valid user: 1 of 2 values (50.00%) got the out-of-vocabulary id"),
        "{stderr}"
    );
    // A vocabulary from other data is caught.
    let other = write(d, "other.csv", "clicked,user,zip\n1,a,b\n");
    let other_schema = d.join("other.toml");
    embplan()
        .args([
            "profile",
            other.to_str().unwrap(),
            "--label",
            "clicked",
            "-o",
        ])
        .arg(&other_schema)
        .arg("--vocab")
        .arg(d.join("other-vocab"))
        .assert()
        .success();
    embplan()
        .args([
            "train",
            schema.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
        .args(["--label", "clicked", "--vocab"])
        .arg(d.join("other-vocab"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "is not the one the schema was profiled with",
        ));
}

#[test]
fn bad_raw_inputs_are_located_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: &[(&str, &[u8], &[&str], &str)] = &[
        (
            "ragged.tsv",
            b"label\ta\tb\n1\tx\ty\n0\tx\n",
            &[],
            "ragged.tsv:3: expected 3 fields (as in the header), found 2",
        ),
        (
            "nolabel.tsv",
            b"y\ta\n1\tx\n",
            &[],
            "nolabel.tsv:1: no label column 'label'",
        ),
        (
            "label2.csv",
            b"label,a\n1,x\n2,y\n",
            &[],
            "label2.csv:3:1: expected a label 0 or 1, found '2'",
        ),
        (
            "bytes.tsv",
            b"label\ta\n1\tok\n0\tbad\xff\n",
            &[],
            "bytes.tsv:3:6: invalid UTF-8 byte 0xff",
        ),
        ("empty.tsv", b"", &[], "empty.tsv: the file is empty"),
        (
            "cols.csv",
            b"label,a\n1,x\n",
            &["--categorical", "a,zz"],
            "cols.csv:1: no column 'zz'",
        ),
        (
            "criteo.txt",
            b"1\t2\n",
            &["--data-format", "criteo"],
            "criteo.txt:1: expected 40 fields",
        ),
        (
            "quote.csv",
            b"label,a\n1,\"x\n",
            &[],
            "quote.csv:2: the quoted field that starts here is never closed",
        ),
        (
            "t.parquet",
            b"PAR1 not really parquet",
            &[],
            "t.parquet: not a readable Parquet file",
        ),
    ];
    for (name, bytes, extra, expected) in cases {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = d.join(format!("{name}.toml"));
        let vocab = d.join(format!("{name}-vocab"));
        let assert = embplan()
            .args(["profile", path.to_str().unwrap()])
            .args(*extra)
            .arg("-o")
            .arg(&out)
            .arg("--vocab")
            .arg(&vocab)
            .assert()
            .code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert!(!out.exists() && !vocab.exists(), "{name}: wrote output");
    }
}

/// A feature's `key = value` number from a schema's text, for the feature named `name`.
fn figure(schema: &str, name: &str, key: &str) -> f64 {
    let at = schema.find(&format!("name = \"{name}\"")).unwrap();
    let line = schema[at..]
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap();
    line.split(" = ").nth(1).unwrap().parse().unwrap()
}

#[test]
fn past_the_memory_limit_sketches_estimate_within_their_stated_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let schema = write(
        d,
        "big.toml",
        "[[feature]]\nname = \"big\"\ncardinality = 200000\nzipf = 1.05\n[[feature]]\nname = \"small\"\ncardinality = 30\n",
    );
    let data = synth(d, &schema, "tsv", "big.tsv", "60000");
    let (exact, _) = profile(d, "exact", &[&data], &[]);
    let (sketched, vocab) = profile(
        d,
        "sketched",
        &[&data],
        &["--memory", "256KiB", "--threads", "2"],
    );
    let (again, vocab_again) = profile(
        d,
        "again",
        &[&data],
        &["--memory", "256KiB", "--threads", "1"],
    );
    assert_eq!(
        measured(&sketched),
        measured(&again),
        "sketches depend on --threads"
    );
    assert_eq!(vocab, vocab_again);
    assert!(exact.contains("exact = true") && !exact.contains("exact = false"));
    assert!(sketched.contains("exact = false"), "{sketched}");
    let (truth, estimate) = (
        figure(&exact, "big", "distinct"),
        figure(&sketched, "big", "distinct"),
    );
    let rse = figure(&sketched, "big", "distinct_error");
    assert!(
        (estimate - truth).abs() <= 3.0 * rse * truth,
        "{estimate} vs {truth} (rse {rse})"
    );
    assert_eq!(figure(&sketched, "big", "rows"), 60000.0);
    assert_eq!(figure(&sketched, "small", "missing"), 0.0);
    // A sketched profile cannot be merged exactly.
    embplan()
        .args(["profile", "--merge"])
        .arg(d.join("sketched.toml"))
        .arg("-o")
        .arg(d.join("m.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("profiled with sketches"));
}
