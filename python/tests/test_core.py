"""The bindings without torch: schemas, the planner, baselines, proofs, plan files and
errors, each checked against the embplan command line."""

import json
from pathlib import Path

import pytest

import embplan


def test_plan_counts_what_estimate_counts(kaggle_path, cli, tmp_path):
    schema = embplan.Schema.load(kaggle_path)
    assert len(schema) == 26 and schema.dtype == "f32"
    plan = embplan.plan(schema, budget="1GiB", target="torchrec")
    assert plan.bytes <= 1 << 30
    assert plan.predicted_loss is not None and plan.predicted_loss > 0
    path = tmp_path / "plan.toml"
    plan.save(path)
    estimate = json.loads(cli("estimate", path, "--json").stdout)
    assert estimate["total"]["bytes"] == plan.bytes
    assert estimate["total"]["params"] == plan.params
    assert [f["name"] for f in estimate["features"]] == [f.name for f in plan.features]
    for ours, theirs in zip(plan.features, estimate["features"]):
        assert [t.rows for t in ours.tables] == [t["rows"] for t in theirs["tables"]]
        assert [t.bytes for t in ours.tables] == [t["bytes"] for t in theirs["tables"]]
        assert all(t.dim % 4 == 0 for t in ours.tables)
    # The CLI plans the same plan: the same file, byte for byte.
    cli_path = tmp_path / "cli.toml"
    assert cli("plan", "--budget", "1GiB", "--target", "torchrec", kaggle_path, "-o", cli_path, "-q").returncode == 0
    assert cli_path.read_text() == path.read_text()
    assert all(ok for _, ok in plan.verify(strict=True))


def test_plans_round_trip_through_files_and_dicts(kaggle_path, tmp_path):
    plan = embplan.plan(embplan.Schema.load(kaggle_path), budget=512 << 20)
    for name in ("p.toml", "p.json"):
        plan.save(tmp_path / name)
        again = embplan.Plan.load(tmp_path / name)
        assert again.to_dict() == plan.to_dict()
    d = plan.to_dict()
    assert d["totals"]["bytes"] == plan.bytes
    compressed = [f for f in plan.features if f.family != "full"]
    assert compressed and all(len(f.tables) >= 2 and f.combiner for f in compressed)


def test_uniform_baselines_and_devices(kaggle_path):
    schema = embplan.Schema.load(kaggle_path)
    qr = embplan.uniform(schema, "qr:4", combiner="mult")
    full = embplan.uniform(schema, "full")
    assert qr.bytes < full.bytes == full.full_bytes
    placed = embplan.plan(schema, devices=2, device_memory="640MiB", target="torchrec")
    p = placed.placement
    assert p["topology"]["devices"] == 2 and len(p["device"]) == 2
    assert max(d["table_bytes"] + d["buffer_bytes"] for d in p["device"]) <= 640 << 20


def test_schemas_from_features():
    schema = embplan.Schema.from_features(
        [{"name": "user", "cardinality": 1_000_000}, {"name": "item", "cardinality": 250_000, "dim": 32}],
        dim=16,
        name="small",
    )
    assert [f["dim"] for f in schema.features] == [16, 32]
    plan = embplan.plan(schema, budget="20MiB")
    assert plan.bytes <= 20 << 20 and plan.features[1].dim == 32
    big = embplan.Schema.from_features([{"name": "x", "cardinality": 2**64 - 1}])
    assert big.features[0]["cardinality"] == 2**64 - 1


def test_verify_proves_and_refutes():
    ok = embplan.verify(1000, qr=40)
    assert ok and ok.complementary and ok.counterexample is None
    assert embplan.verify(210, crt=[5, 6, 7])
    bad = embplan.verify(1000, hash=10)
    assert not bad
    a, b, classes = bad.counterexample
    assert a != b and len(classes) == 1
    assert not embplan.verify(100, crt=[4, 6])


def test_errors_are_typed_with_the_clis_messages(kaggle_path, cli, tmp_path):
    schema = embplan.Schema.load(kaggle_path)
    with pytest.raises(embplan.InfeasibleBudget) as e:
        embplan.plan(schema, budget="1KiB")
    stderr = cli("plan", "--budget", "1KiB", kaggle_path).stderr
    assert str(e.value) in stderr, (str(e.value), stderr)
    with pytest.raises(embplan.InvalidSchema) as e:
        embplan.Schema.load(tmp_path / "missing.toml")
    assert "missing.toml" in str(e.value)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[feature]]\nname = "a"\ncardinality = 0\n')
    with pytest.raises(embplan.InvalidSchema) as e:
        embplan.Schema.load(bad)
    assert str(e.value) in cli("estimate", bad).stderr
    with pytest.raises(embplan.InvalidArgument):
        embplan.plan(schema, budget="lots")
    with pytest.raises(embplan.InvalidArgument, match="allow_hash"):
        embplan.plan(schema, budget="1GiB", families=["hash"])
    with pytest.raises(embplan.InvalidArgument, match="combiner"):
        embplan.plan(schema, budget="1GiB", combiners=["mul"])
    with pytest.raises(embplan.InvalidArgument):
        embplan.verify(100)
    with pytest.raises(embplan.InvalidPlan):
        embplan.Plan.load(bad)
    with pytest.raises(embplan.NotComplementary):
        embplan.plan(schema, budget="64MiB", families=["hash"], allow_hash=True).verify(strict=True)
    assert issubclass(embplan.InfeasibleBudget, embplan.Error)


def test_planning_releases_the_gil():
    import threading

    schema = embplan.Schema.from_features(
        [{"name": f"f{i}", "cardinality": 1000 + 37 * i} for i in range(20000)]
    )
    done = threading.Event()
    result = {}

    def work():
        result["plan"] = embplan.plan(schema, budget="64MiB")
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    ticks = 0
    while not done.is_set():  # runs only while the planner has let go of the GIL
        ticks += 1
        done.wait(0.001)
    worker.join()
    assert result["plan"].bytes <= 64 << 20
    assert ticks >= 20, ticks


def test_profile_measures_what_the_cli_measures(cli, tmp_path):
    movielens = Path(__file__).resolve().parents[2] / "schemas" / "movielens-1m.toml"
    data = tmp_path / "ratings.csv"
    assert cli("synth", movielens, "--rows", "3000", "-o", data, "-q").returncode == 0
    schema = embplan.profile([data], min_count=2, vocab_dir=tmp_path / "vocab", name="ratings")
    assert (tmp_path / "vocab").is_dir()
    assert cli("profile", data, "--min-count", "2", "-o", tmp_path / "cli.toml", "-q").returncode == 0
    theirs = embplan.Schema.load(tmp_path / "cli.toml")
    assert [(f["name"], f["cardinality"]) for f in schema.features] == [
        (f["name"], f["cardinality"]) for f in theirs.features
    ]
    assert schema.profile["data"]["rows"] == 3000
    schema.save(tmp_path / "py.toml")
    assert embplan.Schema.load(tmp_path / "py.toml").features == schema.features
    plan = embplan.plan(schema, budget="64KiB")
    assert plan.bytes <= 64 << 10
    with pytest.raises(embplan.InvalidArgument, match="data format"):
        embplan.profile([data], data_format="cvs")
    with pytest.raises(embplan.Error, match="missing.csv"):
        embplan.profile([tmp_path / "missing.csv"])
