//! Every export format for small plans: snapshots, Python syntax, and the generated PyTorch and
//! TorchRec modules run against the plan. Those two need Python environments, so they are
//! `#[ignore]`d by default and fail (never skip) when run without them: `.ci/python-envs`, then
//! `cargo test --test cli -- --ignored export_formats::`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use embplan::export::{Format, export};
use embplan::partition::{Combiner, ExplicitPartitions, Scheme};
use embplan::plan::{Plan, PlannedFeature};
use embplan::schema::{Dtype, Optimizer};

/// A plan with one feature per kind of table map: full, qr mult, qr concat, crt add, mixed
/// radix on ids near 2^62 (exact integer division matters there) and the paper's explicit
/// partitions of five categories.
fn sample() -> Plan {
    let paper = ExplicitPartitions::parse(
        Path::new("paper.txt"),
        "0 0 0\n1 0 1\n2 1 1\n1 0 0\n1 1 1\n",
    )
    .unwrap();
    let f = |name, n, dim, scheme, combiner| {
        PlannedFeature::new(name, n, dim, scheme, combiner).unwrap()
    };
    Plan {
        name: Some("sample".into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features: vec![
            f("full", 10, 4, Scheme::Full, None),
            f(
                "qr_mult",
                1000,
                4,
                Scheme::Qr { m: 40 },
                Some(Combiner::Mult),
            ),
            f(
                "qr_concat",
                12,
                4,
                Scheme::Qr { m: 4 },
                Some(Combiner::Concat),
            ),
            f(
                "crt_add",
                1001,
                4,
                Scheme::Crt {
                    moduli: vec![7, 11, 13],
                },
                Some(Combiner::Add),
            ),
            f(
                "radix",
                (1 << 62) + 3,
                4,
                Scheme::MixedRadix {
                    radices: vec![1 << 16; 4],
                },
                Some(Combiner::Mult),
            ),
            f(
                "paper",
                5,
                6,
                Scheme::Explicit(Arc::new(paper)),
                Some(Combiner::Concat),
            ),
            f(
                "hot_qr",
                5000,
                4,
                Scheme::Hot {
                    hot: 64,
                    tail: Box::new(Scheme::Qr { m: 40 }),
                },
                Some(Combiner::Add),
            ),
            f(
                "hot_hash",
                3000,
                4,
                Scheme::Hot {
                    hot: 100,
                    tail: Box::new(Scheme::Hash { m: 50 }),
                },
                None,
            ),
        ],
        planner: None,
        placement: None,
    }
}

/// A plan DLRM's flags express: two small full tables, two qr(40) mult tables, one dim.
fn dlrm_sample() -> Plan {
    let f = |name, n, scheme, combiner| PlannedFeature::new(name, n, 16, scheme, combiner).unwrap();
    Plan {
        name: Some("dlrm".into()),
        dtype: Dtype::F32,
        optimizer: Optimizer::Adagrad,
        features: vec![
            f("C1", 100, Scheme::Full, None),
            f("C2", 5000, Scheme::Qr { m: 40 }, Some(Combiner::Mult)),
            f("C3", 150, Scheme::Full, None),
            f("C4", 1000, Scheme::Qr { m: 40 }, Some(Combiner::Mult)),
        ],
        planner: None,
        placement: None,
    }
}

#[test]
fn snapshots_of_every_format() {
    let plan = sample();
    for format in [
        Format::Json,
        Format::Toml,
        Format::Pytorch,
        Format::Torchrec,
    ] {
        let out = export(&plan, format).unwrap();
        insta::assert_snapshot!(format!("sample_{format}"), out.text);
        insta::assert_snapshot!(format!("sample_{format}_warnings"), out.warnings.join("\n"));
    }
    let out = export(&dlrm_sample(), Format::Dlrm).unwrap();
    insta::assert_snapshot!("dlrm_flags", out.text);
    insta::assert_snapshot!("dlrm_flags_warnings", out.warnings.join("\n"));
    let err = export(&plan, Format::Dlrm).unwrap_err();
    insta::assert_snapshot!("dlrm_inexpressible", format!("{err:#}"));
}

#[test]
fn plan_files_round_trip() {
    let plan = dlrm_sample();
    let text = export(&plan, Format::Toml).unwrap().text;
    let src = embplan::source::Source::new("p.toml", &text);
    assert_eq!(Plan::from_toml(&src, Path::new(".")).unwrap(), plan);
}

#[test]
fn dlrm_flags_build_the_plans_params() {
    // What dlrm_s_pytorch.py's create_emb builds from the flags: a QREmbeddingBag of
    // ceil(n/m) + m rows × D when n > threshold, else n × D.
    let plan = dlrm_sample();
    let text = export(&plan, Format::Dlrm).unwrap().text;
    let words: Vec<&str> = text.split_whitespace().collect();
    let value = |flag: &str| -> &str {
        let i = words.iter().position(|w| w.starts_with(flag)).unwrap();
        words[i]
            .strip_prefix(&format!("{flag}="))
            .unwrap_or(words[i + 1])
    };
    let d: u64 = value("--arch-sparse-feature-size").parse().unwrap();
    let (m, t): (u64, u64) = (
        value("--qr-collisions").parse().unwrap(),
        value("--qr-threshold").parse().unwrap(),
    );
    let params: u64 = value("--arch-embedding-size")
        .split('-')
        .map(|n| n.parse::<u64>().unwrap())
        .map(|n| {
            if n > t {
                (n.div_ceil(m) + m) * d
            } else {
                n * d
            }
        })
        .sum();
    assert_eq!(params, plan.costs().unwrap().total.params);
}

#[test]
fn dlrm_refuses_qr_with_fewer_ids_than_collisions() {
    let mut plan = dlrm_sample();
    plan.features[3] =
        PlannedFeature::new("C4", 30, 16, Scheme::Qr { m: 40 }, Some(Combiner::Mult)).unwrap();
    let e = format!("{:#}", export(&plan, Format::Dlrm).unwrap_err());
    assert!(e.contains("feature 'C4' has n = 30 < m = 40: DLRM allocates all 40 remainder rows, the plan only 30"), "{e}");
    assert!(
        e.contains("full feature 'C3' has n = 150 and qr features 'C4' have n <= 150"),
        "{e}"
    );
}

#[test]
fn dlrm_all_full_has_no_qr_flags() {
    let plan = Plan {
        features: dlrm_sample()
            .features
            .into_iter()
            .filter(|f| *f.scheme() == Scheme::Full)
            .collect(),
        ..dlrm_sample()
    };
    let out = export(&plan, Format::Dlrm).unwrap();
    assert_eq!(
        out.text,
        "--arch-embedding-size=100-150 --arch-sparse-feature-size=16\n"
    );
}

#[test]
fn dlrm_concat_needs_every_feature_compressed() {
    let mut plan = dlrm_sample();
    for f in &mut plan.features {
        if let Scheme::Qr { m } = *f.scheme() {
            *f = PlannedFeature::new(
                f.name(),
                f.cardinality(),
                32,
                Scheme::Qr { m },
                Some(Combiner::Concat),
            )
            .unwrap();
        }
    }
    let e = format!("{:#}", export(&plan, Format::Dlrm).unwrap_err());
    assert!(
        e.contains("2 x D but full ones at D; full features: 'C1', 'C3'"),
        "{e}"
    );
    plan.features.retain(|f| *f.scheme() != Scheme::Full);
    let out = export(&plan, Format::Dlrm).unwrap();
    assert_eq!(
        out.text,
        "--arch-embedding-size=5000-1000 --arch-sparse-feature-size=16 --qr-flag --qr-operation concat --qr-collisions 40 --qr-threshold 0\n"
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("end the bottom MLP at 32"))
    );
}

#[test]
fn python_exports_refuse_what_they_cannot_hold() {
    let mut plan = dlrm_sample();
    plan.dtype = Dtype::Int8;
    let e = export(&plan, Format::Pytorch).unwrap_err().to_string();
    assert!(e.contains("not int8"), "{e}");
    assert!(
        export(&plan, Format::Torchrec)
            .unwrap()
            .text
            .contains("DataType.INT8")
    );
    plan.dtype = Dtype::F32;
    plan.features[0] =
        PlannedFeature::new("huge", u64::MAX, 1, Scheme::Hash { m: 10 }, None).unwrap();
    let e = export(&plan, Format::Pytorch).unwrap_err().to_string();
    assert!(
        e.contains("feature 'huge': cardinality 18446744073709551615 exceeds 2^63 - 1"),
        "{e}"
    );
    let n = embplan::export::MAX_EMBEDDED_CLASS_IDS / 2 + 1;
    let column: Arc<[u64]> = vec![0; n as usize].into();
    let big = ExplicitPartitions {
        path: PathBuf::from("big.txt"),
        n,
        columns: vec![column.clone(), column],
        rows: vec![1, 1],
    };
    plan.features[0] = PlannedFeature::new(
        "big",
        n,
        16,
        Scheme::Explicit(Arc::new(big)),
        Some(Combiner::Add),
    )
    .unwrap();
    let e = export(&plan, Format::Torchrec).unwrap_err().to_string();
    assert!(e.contains("feature 'big': explicit partitions hold 1048578 class ids, more than the 1048576 embedded"), "{e}");
}

/// The Python that runs a check needing `module`: `$var` when set, else `default_venv`'s python
/// in the cache `.ci/python-envs` fills (`$EMBPLAN_CACHE`, default `$HOME/.cache/embplan`). Panics,
/// naming that python and how to provide one, when it cannot `import module`: these tests are
/// `#[ignore]`d in the default run and must never pass without checking.
pub(crate) fn python_with(var: &str, default_venv: &str, module: &str) -> PathBuf {
    let (python, source) = if let Some(p) = std::env::var_os(var) {
        (PathBuf::from(p), format!("from {var}"))
    } else {
        let cache = std::env::var_os("EMBPLAN_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/embplan")))
            .expect("neither EMBPLAN_CACHE nor HOME is set");
        let path = cache.join(default_venv).join("bin/python");
        (path, format!("the default, {var} unset"))
    };
    let how = format!(
        "run .ci/python-envs (it creates the cached venvs), or set {var} to a python that can \
         import {module}; then cargo test --test cli -- --ignored export_formats::"
    );
    let probe = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output();
    match probe {
        Err(e) => panic!("cannot run {} ({source}): {e}; {how}", python.display()),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.trim().lines().last().unwrap_or("");
            panic!(
                "{} ({source}) cannot import {module}: {last}; {how}",
                python.display()
            )
        }
        Ok(_) => python,
    }
}

pub(crate) fn run_python(python: &Path, args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(python)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("cannot run python")
}

/// Writes `text` as `name` in `dir` and asserts python3 compiles it.
fn assert_compiles(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = run_python(
        Path::new("python3"),
        &["-m", "py_compile", path.to_str().unwrap()],
        dir,
    );
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generated_python_compiles() {
    // Names are user text: quotes, backslashes and control characters must stay inside literals.
    let mut odd = sample();
    odd.name = Some("x\"\"\"\\".into());
    odd.features[0].set_name("we\"\"\"ird\\\n\u{0}");
    let dir = tempfile::tempdir().unwrap();
    for (format, plan) in [Format::Pytorch, Format::Torchrec]
        .into_iter()
        .flat_map(|f| [(f, sample()), (f, odd.clone())])
    {
        let text = export(&plan, format).unwrap().text;
        assert_compiles(dir.path(), &format!("plan_{format}.py"), &text);
    }
    for (name, text) in embplan::export::torchrec_package(&odd).unwrap().files {
        assert_compiles(dir.path(), name, &text);
    }
}

/// Imports the generated module with torch and checks it against the plan: parameter count
/// and weight bytes, forward on ids 0 and n - 1 of every feature, exact class ids near 2^62,
/// distinct vectors for every code of the concat features, and the same vectors from
/// `torch.jit.script` and from `torch.compile(fullgraph=True)` (no graph breaks).
const TORCH_CHECK: &str = r#"
import importlib
import json
import sys
import torch


def check(module_name, params, weight_bytes):
    pe = importlib.import_module(module_name)
    torch.manual_seed(0)
    model = pe.PlanEmbedding()
    got = sum(p.numel() for p in model.parameters())
    assert got == params == pe.PARAMS, (module_name, got, params)
    got = sum(p.numel() * p.element_size() for p in model.parameters())
    assert got == weight_bytes == pe.WEIGHT_BYTES, (module_name, got, weight_bytes)
    for module in model.features:
        for table_module, table in zip(module.tables, module.spec["tables"]):
            embedding = table_module.embedding
            low, high = table["init"]
            w = embedding.weight.float()
            assert embedding.weight.dtype == pe.DTYPE
            slack = torch.finfo(pe.DTYPE).eps * max(abs(low), abs(high))  # rounding to DTYPE
            assert w.min() >= low - slack and w.max() <= high + slack, (module.name, table["name"])

    ids = {f["name"]: torch.tensor([0, f["cardinality"] - 1, f["cardinality"] // 2]) for f in pe.FEATURES}
    out = model(ids)
    for f in pe.FEATURES:
        assert out[f["name"]].shape == (3, f["dim"]), (f["name"], out[f["name"]].shape)
        assert torch.isfinite(out[f["name"]]).all()

    # Class ids against embplan's own (Scheme::table_maps, the one definition), up to n - 1
    # (near 2**62 for "radix"), on both sides of every hot boundary.
    expected = json.load(open("expected_classes.json"))
    for f in pe.FEATURES:
        for table, (xs, expect) in zip(f["tables"], expected[f["name"]]):
            lookup = torch.tensor(table["lookup"]) if "lookup" in table else None
            rows = pe.class_ids(torch.tensor(xs), table, lookup).tolist()
            assert rows == expect, (f["name"], table["name"], xs, rows, expect)
            assert max(rows) < table["rows"], (f["name"], table["name"])

    for module in model.features:
        if module.spec["combiner"] != "concat":
            continue
        n = module.spec["cardinality"]
        vectors = module(torch.arange(n))
        assert torch.unique(vectors, dim=0).shape[0] == n, module.name

    bag = model.features[1](torch.tensor([3, 5, 7]), torch.tensor([0, 2]))
    single = model.features[1](torch.tensor([3, 5, 7]))
    assert torch.allclose(bag[0], single[0] + single[1]) and torch.allclose(bag[1], single[2])
    scripted = torch.jit.script(model)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    for other, how in ((scripted, "jit.script"), (compiled, "compile")):
        again = other(ids)
        for f in pe.FEATURES:
            assert torch.equal(again[f["name"]], out[f["name"]]), (how, f["name"])
    assert torch.equal(scripted.features[1](torch.tensor([3, 5, 7]), torch.tensor([0, 2])), bag)
    bags = torch.compile(model.features[1], fullgraph=True, backend="aot_eager")
    assert torch.equal(bags(torch.tensor([3, 5, 7]), torch.tensor([0, 2])), bag)
    explanation = torch._dynamo.explain(model)(ids)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    for feature in (model.features[0], scripted.features[0]):
        try:
            feature(torch.tensor([pe.FEATURES[0]["cardinality"]]))
            raise AssertionError("id n accepted")
        except RuntimeError as e:
            assert "ids must be in [0, " in str(e), str(e)
    print(f"ok {module_name}: {params} params, {weight_bytes} weight bytes ({pe.DTYPE}), {len(pe.FEATURES)} features")


args = sys.argv[1:]
for i in range(0, len(args), 3):
    check(args[i], int(args[i + 1]), int(args[i + 2]))
"#;

/// Runs `script` as check.py beside `files` with `python`, asserting success and echoing its
/// report.
fn run_check(python: &Path, files: &[(String, String)], script: &str, args: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join("check.py"), script).unwrap();
    let mut argv = vec!["check.py"];
    argv.extend(args.iter().map(String::as_str));
    let out = run_python(python, &argv, dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", stdout.trim());
}

#[test]
#[ignore = "needs PyTorch: .ci/python-envs, then cargo test --test cli -- --ignored export_formats:: (.ci/run does)"]
fn pytorch_module_matches_the_plan() {
    let python = python_with("EMBPLAN_TORCH_PYTHON", "venv-torch", "torch");
    let mut files = Vec::new();
    let mut args = Vec::new();
    for dtype in [Dtype::F32, Dtype::Bf16] {
        let plan = Plan { dtype, ..sample() };
        let total = plan.costs().unwrap().total;
        let module = format!("plan_embedding_{dtype}");
        let text = export(&plan, Format::Pytorch).unwrap().text;
        files.push((format!("{module}.py"), text));
        args.extend([
            module,
            total.params.to_string(),
            total.weight_bytes.to_string(),
        ]);
    }
    files.push(("expected_classes.json".into(), expected_classes(&sample())));
    run_check(&python, &files, TORCH_CHECK, &args);
}

/// Per feature, per table: probe ids (ends, middle, and both sides of a hot boundary) and
/// their class ids as embplan computes them, as JSON.
fn expected_classes(plan: &Plan) -> String {
    let mut out = serde_json::Map::new();
    for f in &plan.features {
        let n = f.cardinality();
        let hot = f.scheme().hot();
        let mut xs: Vec<u64> = [0, 1, n / 3, n.saturating_sub(2), n - 1]
            .into_iter()
            .chain(
                [hot.saturating_sub(1), hot, hot + 1]
                    .into_iter()
                    .filter(|_| hot > 0),
            )
            .filter(|&x| x < n)
            .collect();
        xs.sort_unstable();
        xs.dedup();
        let tables: Vec<serde_json::Value> = f
            .scheme()
            .table_maps()
            .iter()
            .map(|map| {
                let classes: Vec<u64> = xs.iter().map(|&x| map.class_of(x)).collect();
                serde_json::json!([xs, classes])
            })
            .collect();
        out.insert(f.name().to_string(), tables.into());
    }
    serde_json::Value::Object(out).to_string()
}

/// Builds the TorchRec collection from the generated configs and runs raw ids through
/// `RemapIds` → collection → `Combine`: parameter count, shapes, init bounds, distinct concat codes.
const TORCHREC_CHECK: &str = r#"
import sys
import torch
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor
import plan_tables as tp

torch.manual_seed(0)
ebc = tp.embedding_bag_collection()
params = sum(p.numel() for p in ebc.parameters())
assert params == int(sys.argv[1]) == tp.PARAMS, (params, sys.argv[1])
for cfg in tp.TABLES:
    w = ebc.embedding_bags[cfg.name].weight
    assert w.min() >= cfg.weight_init_min and w.max() <= cfg.weight_init_max, cfg.name
names = [f["name"] for f in tp.FEATURES]


def run(values):
    kjt = KeyedJaggedTensor.from_lengths_sync(
        keys=names,
        values=torch.cat(values),
        lengths=torch.ones(sum(v.numel() for v in values), dtype=torch.int64),
    )
    return tp.Combine()(ebc(tp.RemapIds()(kjt)))


out = run([torch.tensor([0, f["cardinality"] - 1]) for f in tp.FEATURES])
for f in tp.FEATURES:
    assert out[f["name"]].shape == (2, f["dim"]), (f["name"], out[f["name"]].shape)
for f in tp.FEATURES:
    if f["combiner"] == "concat":
        n = f["cardinality"]
        values = [torch.arange(n) if g is f else torch.zeros(n, dtype=torch.int64) for g in tp.FEATURES]
        assert torch.unique(run(values)[f["name"]], dim=0).shape[0] == n, f["name"]
print(f"ok torchrec: {params} params in {len(tp.TABLES)} tables")
"#;

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored export_formats:: (.ci/run does)"]
fn torchrec_tables_match_the_plan() {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.modules.embedding_configs",
    );
    let plan = sample();
    let text = export(&plan, Format::Torchrec).unwrap().text;
    let params = plan.costs().unwrap().total.params.to_string();
    run_check(
        &python,
        &[("plan_tables.py".into(), text)],
        TORCHREC_CHECK,
        &[params],
    );
}

/// An int8 plan's quantized collection: it allocates exactly the plan's weight bytes (the
/// count `estimate` prints) and its vectors are the float collection's within int8 rounding.
const TORCHREC_INT8_CHECK: &str = r#"
import sys
import torch
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor
import plan_tables as tp

torch.manual_seed(0)
ebc = tp.embedding_bag_collection()
names = [f["name"] for f in tp.FEATURES]
values = [torch.tensor([0, f["cardinality"] - 1, f["cardinality"] // 2]) for f in tp.FEATURES]
kjt = tp.RemapIds()(
    KeyedJaggedTensor.from_lengths_sync(
        keys=names, values=torch.cat(values), lengths=torch.ones(3 * len(names), dtype=torch.int64)
    )
)
reference = tp.Combine()(ebc(kjt))
quantized = tp.quantize(ebc)
held = tp.allocated_bytes(quantized)
assert held == int(sys.argv[1]) == tp.WEIGHT_BYTES, (held, sys.argv[1], tp.WEIGHT_BYTES)
out = tp.Combine()(quantized(kjt))
for name in names:
    scale = reference[name].abs().max().item() + 1e-12
    err = (out[name].float() - reference[name].float()).abs().max().item()
    assert out[name].shape == reference[name].shape and err <= 0.05 * scale, (name, err, scale)
print(f"ok torchrec int8: the quantized collection holds {held} bytes, the plan's weight bytes")
"#;

#[test]
#[ignore = "needs TorchRec: .ci/python-envs, then cargo test --test cli -- --ignored export_formats:: (.ci/run does)"]
fn torchrec_int8_collection_allocates_the_plans_bytes() {
    let python = python_with(
        "EMBPLAN_TORCHREC_PYTHON",
        "venv-torchrec",
        "torchrec.quant.embedding_modules",
    );
    let plan = Plan {
        dtype: Dtype::Int8,
        ..sample()
    };
    let text = export(&plan, Format::Torchrec).unwrap().text;
    let weights = plan.costs().unwrap().total.weight_bytes.to_string();
    run_check(
        &python,
        &[("plan_tables.py".into(), text)],
        TORCHREC_INT8_CHECK,
        &[weights],
    );
}
