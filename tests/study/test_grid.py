import json
import math

import pytest
from click.testing import CliRunner

import sparsegraph.runs
from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.study.executors import execute
from sparsegraph.study.grid import GridSpec, run_grid, run_state
from sparsegraph_cli.main import main


def _spec(**kw):
    args = dict(model="mlp", dataset="digits", methods=("snip", "erk"), sparsities=(0.9, 0.95), seeds=(0, 1),
                settings={"train_options": {"epochs": 0}, "metrics": ["density"]})
    args.update(kw)
    return GridSpec(**args)


def test_grid_cells_and_their_run_configurations():
    runs = _spec(dense=True).runs()
    assert [r.run_id for r in runs] == [
        "dense_seed0", "dense_seed1",
        "snip_s0.9_seed0", "snip_s0.9_seed1", "snip_s0.95_seed0", "snip_s0.95_seed1",
        "erk_s0.9_seed0", "erk_s0.9_seed1", "erk_s0.95_seed0", "erk_s0.95_seed1"]
    dense, snip = runs[0].config, runs[4].config
    assert (dense.method, dense.density, dense.seed) == ("random", 1.0, 0)
    assert (snip.method, snip.density, snip.seed) == ("snip", pytest.approx(0.05), 0)
    assert snip.train_options == {"epochs": 0} and snip.metrics == ("density",) and snip.model == "mlp"


@pytest.mark.parametrize("kw, message", [
    ({"sparsities": (0.9, 1.0)}, "sparsities must be in \\(0, 1\\), got 1"),
    ({"methods": ("dense",)}, "'dense' is not a pruning method"),
    ({"seeds": ()}, "at least one method, one sparsity and one seed"),
    ({"settings": {"density": 0.5}}, "unknown run setting\\(s\\) density"),
])
def test_bad_grids_are_refused(kw, message):
    with pytest.raises(UsageError, match=message):
        _spec(**kw)


@pytest.fixture
def fake_prune(monkeypatch):
    """run_prune stand-in: records its calls, writes config.json, fails where asked, else summary.json."""
    calls, failing = [], set()

    def run_prune(config, run_dir, *, resume=False, progress=False):
        from pathlib import Path

        run_dir = Path(run_dir)
        calls.append((run_dir.name, resume))
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict()))
        if run_dir.name in failing:
            raise BadInputError(f"cannot read the data for\n{run_dir.name}")
        (run_dir / "summary.json").write_text(json.dumps({"method": config.method}))
        return {}

    monkeypatch.setattr(sparsegraph.runs, "run_prune", run_prune)
    return calls, failing


def test_grid_skips_finished_runs_resumes_started_ones_and_survives_failures(tmp_path, fake_prune):
    calls, failing = fake_prune
    failing.add("erk_s0.95_seed1")
    seen = []
    result = run_grid(_spec(), tmp_path, on_result=lambda *a: seen.append(a))
    assert len(result.done) == 7 and result.skipped == []
    assert result.failed == {"erk_s0.95_seed1": "BadInputError: cannot read the data for erk_s0.95_seed1"}
    assert all(not resume for _, resume in calls)
    assert seen[-1] == ("erk_s0.95_seed1", "failed", result.failed["erk_s0.95_seed1"])
    assert run_state(tmp_path / "erk_s0.95_seed1") == "started"

    calls.clear()
    failing.clear()
    (tmp_path / "snip_s0.9_seed1" / "summary.json").unlink()  # interrupted after config.json
    result = run_grid(_spec(), tmp_path)
    assert sorted(calls) == [("erk_s0.95_seed1", True), ("snip_s0.9_seed1", True)]
    assert len(result.skipped) == 6 and sorted(result.done) == ["erk_s0.95_seed1", "snip_s0.9_seed1"]
    assert run_grid(_spec(), tmp_path).skipped == [r.run_id for r in _spec().runs()]


def test_manifest_keeps_settings_and_grows_with_new_cells(tmp_path, fake_prune):
    run_grid(_spec(seeds=(0,)), tmp_path)
    run_grid(_spec(seeds=(1,), methods=("random",)), tmp_path)
    manifest = json.loads((tmp_path / "study.json").read_text())
    assert manifest["format"] == "sparsegraph.study-grid/1"
    assert [r["run_id"] for r in manifest["runs"]] == [
        "snip_s0.9_seed0", "snip_s0.95_seed0", "erk_s0.9_seed0", "erk_s0.95_seed0",
        "random_s0.9_seed1", "random_s0.95_seed1"]
    assert manifest["shared"]["model"] == "mlp" and manifest["shared"]["train_options"] == {"epochs": 0}
    with pytest.raises(UsageError, match="other settings \\(differs in: train_options\\)"):
        run_grid(_spec(settings={"train_options": {"epochs": 3}, "metrics": ["density"]}), tmp_path)
    with pytest.raises(UsageError, match="unknown metric 'nosuch.metric'"):
        run_grid(_spec(settings={"metrics": ["nosuch.metric"]}), tmp_path / "other")


def test_executors_return_every_result():
    tasks = [(2.0, float(k)) for k in range(6)]
    assert sorted(execute(math.pow, tasks, executor="process", workers=2)) == [1, 2, 4, 8, 16, 32]
    assert list(execute(math.pow, tasks[:3])) == [1, 2, 4]
    with pytest.raises(UsageError, match="executor 'threads' is not valid"):
        list(execute(math.pow, tasks, executor="threads"))


def test_ray_executor_without_ray_fails_before_any_work(tmp_path, fake_prune):
    try:
        import ray  # noqa: F401
        pytest.skip("ray is installed")
    except ImportError:
        pass
    with pytest.raises(UsageError, match="executor 'ray' needs Ray"):
        run_grid(_spec(), tmp_path, executor="ray")
    assert not (tmp_path / "study.json").exists()


def _has_generators() -> bool:
    import sparsegraph.pruning

    return hasattr(sparsegraph.pruning, "run")


@pytest.mark.skipif(not _has_generators(), reason="needs the pruning generators (sparsegraph.pruning.run)")
def test_real_grid_on_digits_resumes_and_analyses(tmp_path):
    runner = CliRunner()
    study = tmp_path / "study"
    args = ["study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "random,erk", "--sparsities", "0.9",
            "--seeds", "0", "--dense", "--epochs", "1", "--metrics", "density", "-o", str(study)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    summaries = {p.parent.name: json.loads(p.read_text()) for p in study.glob("*/summary.json")}
    assert sorted(summaries) == ["dense_seed0", "erk_s0.9_seed0", "random_s0.9_seed0"]
    assert summaries["dense_seed0"]["masked_density"] == 1.0
    assert summaries["erk_s0.9_seed0"]["masked_density"] == pytest.approx(0.1, abs=1e-4)
    first = summaries["erk_s0.9_seed0"]["mask_fingerprint"]

    (study / "erk_s0.9_seed0" / "summary.json").unlink()  # interrupted before the summary
    result = runner.invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["done"] == ["erk_s0.9_seed0"] and sorted(report["skipped"]) == ["dense_seed0", "random_s0.9_seed0"]
    assert json.loads((study / "erk_s0.9_seed0" / "summary.json").read_text())["mask_fingerprint"] == first

    result = runner.invoke(main, ["study", "analyze", str(study), "--target", "accuracy_drop", "--no-plots",
                                  "--bootstrap", "20", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["counts"]["runs"] == 2 and document["counts"]["dense"] == 1
    dense = summaries["dense_seed0"]["test_at_best_val"]
    assert document["reference"]["accuracy"] == pytest.approx(dense)


def test_cli_run_passes_options_and_exits_1_when_a_run_fails(tmp_path, fake_prune):
    calls, failing = fake_prune
    failing.add("erk_s0.9_seed0")
    result = CliRunner().invoke(main, [
        "study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "snip,erk", "--sparsities", "0.9",
        "--seeds", "0", "--option", "scope=layer", "--option", "min_per_layer=2", "--score-batches", "2",
        "--epochs", "0", "--metrics", "density", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "[2/2] erk_s0.9_seed0: failed (BadInputError: cannot read the data for erk_s0.9_seed0)" in result.stderr
    config = json.loads((tmp_path / "snip_s0.9_seed0" / "config.json").read_text())
    assert config["method_options"] == {"scope": "layer", "min_per_layer": 2, "score_batches": 2}
    assert config["train_options"] == {"epochs": 0} and config["metrics"] == ["density"]
    result = CliRunner().invoke(main, ["study", "run", "--model", "mlp", "--dataset", "digits", "--sparsities",
                                       "0.9,x", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "--sparsities: expected comma-separated float values" in result.stderr


def test_cli_run_includes_dst_runs_with_their_options_and_tracking(tmp_path, fake_prune):
    result = CliRunner().invoke(main, [
        "study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "set,rigl,erk,snip", "--sparsities",
        "0.9", "--seeds", "0", "--option", "dst_interval=5", "--track", "--track-every", "10", "--epochs", "1",
        "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    configs = {m: json.loads((tmp_path / f"{m}_s0.9_seed0" / "config.json").read_text())
               for m in ("set", "rigl", "erk", "snip")}
    assert configs["set"]["method_options"] == configs["rigl"]["method_options"] == {"dst_interval": 5}
    assert configs["erk"]["method_options"] == configs["snip"]["method_options"] == {}
    assert all(c["track"] == ["spectral.full_spectrum", "paths"] and c["track_every"] == 10 for c in configs.values())


@pytest.mark.slow
def test_real_dst_grid_is_tracked_and_analysed_at_a_step(tmp_path):
    runner = CliRunner()
    study = tmp_path / "study"
    result = runner.invoke(main, ["study", "run", "--model", "mlp", "--dataset", "digits", "--methods", "set,erk",
                                  "--sparsities", "0.9", "--seeds", "0,1", "--epochs", "1", "--batch-size", "256",
                                  "--option", "dst_interval=2", "--track", "paths.log10_paths", "--metrics", "density",
                                  "-o", str(study)])
    assert result.exit_code == 0, result.output
    assert (study / "set_s0.9_seed0" / "track.csv").exists() and (study / "erk_s0.9_seed1" / "track.csv").exists()
    result = runner.invoke(main, ["study", "analyze", str(study), "--at-step", "2", "--no-plots", "--bootstrap",
                                  "20", "--format", "json"])
    assert result.exit_code == 0, result.output
    metrics = {e["metric"] for e in json.loads(result.stdout)["correlations"]}
    assert {"paths.log10_paths", "track.itop_rate", "track.moving_distance"} <= metrics
