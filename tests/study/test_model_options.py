"""Model constructor arguments and leaf modules reach every run of a study and the model analyze rebuilds."""

import json

import torch
from click.testing import CliRunner

from sparsegraph.masks import MaskSet
from sparsegraph.study.collect import collect
from sparsegraph_cli.main import main

# a digits MLP whose hidden width is a constructor argument, with a gate the tracer cannot encode
# (a product of two input-dependent tensors) unless Gate is a leaf module
GATED = '''
import torch
from torch import nn


class Gate(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


def net(num_classes=10, hidden=16):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), Gate(), nn.Linear(hidden, num_classes))
'''
HIDDEN = 7
SHAPES = {"1.weight": (HIDDEN, 64), "3.weight": (10, HIDDEN)}


def _model_file(tmp_path):
    path = tmp_path / "gated.py"
    path.write_text(GATED)
    return str(path)


def _network_rows(run_dir, family):
    rows = json.loads((run_dir / "metrics.json").read_text())["rows"]
    return [r for r in rows if r["metric"].startswith(family) and r["scope"] == "network"]


def test_study_run_passes_model_args_and_leaf_modules_to_every_run(tmp_path):
    model = _model_file(tmp_path)
    study = tmp_path / "study"
    args = ["study", "run", "--model", f"{model}:net", "--dataset", "digits", "--methods", "random,erk",
            "--sparsities", "0.5", "--seeds", "0", "--epochs", "0", "--metrics", "paths",
            "--model-arg", f"hidden={HIDDEN}", "-o", str(study)]
    result = CliRunner().invoke(main, [*args, "--leaf-module", f"{model}:Gate"])
    assert result.exit_code == 0, result.output
    for run_id in ("random_s0.5_seed0", "erk_s0.5_seed0"):
        run = study / run_id
        masks = MaskSet.load(run / "masks.safetensors")
        assert {name: tuple(m.shape) for name, m in masks.items()} == SHAPES  # hidden=7, not the default 16
        config = json.loads((run / "config.json").read_text())
        assert config["model_args"] == {"hidden": HIDDEN} and config["leaf_modules"] == [f"{model}:Gate"]
        rows = _network_rows(run, "paths.")
        assert rows and all(r["status"] == "ok" for r in rows)  # the gate traced as a leaf
    shared = json.loads((study / "study.json").read_text())["shared"]
    assert shared["model_args"] == {"hidden": HIDDEN} and shared["leaf_modules"] == [f"{model}:Gate"]

    # the study keeps its settings: another width is refused, before any run
    result = CliRunner().invoke(main, [*args[:-2], "--model-arg", "hidden=9", "--leaf-module", f"{model}:Gate",
                                       "-o", str(study)])
    assert result.exit_code == 2 and "differs in: model_args" in result.stderr

    # without the leaf module the same grid cannot trace the gate: the path metrics fail
    result = CliRunner().invoke(main, [*args[:-1], str(tmp_path / "no_leaf")])
    assert result.exit_code == 0, result.output
    rows = _network_rows(tmp_path / "no_leaf" / "random_s0.5_seed0", "paths.")
    assert rows and all(r["status"] == "error" for r in rows)


def test_study_run_refuses_an_unknown_leaf_module_before_any_run(tmp_path):
    model = _model_file(tmp_path)
    result = CliRunner().invoke(main, [
        "study", "run", "--model", f"{model}:net", "--dataset", "digits", "--methods", "random",
        "--sparsities", "0.5", "--seeds", "0", "--epochs", "0", "--leaf-module", f"{model}:Missing",
        "-o", str(tmp_path / "study")])
    assert result.exit_code == 3 and "Missing" in result.stderr
    assert not (tmp_path / "study" / "random_s0.5_seed0").exists()


def _masks(density, seed):
    generator = torch.Generator().manual_seed(seed)
    return MaskSet({name: torch.rand(shape, generator=generator) < density for name, shape in SHAPES.items()})


def _gated_study(tmp_path, write_run, record_model_settings):
    model = _model_file(tmp_path)
    root = tmp_path / "study"
    for i, density in enumerate((0.3, 0.5, 0.7, 0.9)):
        run = write_run(root, f"random_s{1 - density:g}_seed{i}", method="random", sparsity=1 - density, seed=i,
                        masks=_masks(density, i), accuracy=0.5 + 0.4 * density, metrics=False)
        config = json.loads((run / "config.json").read_text())
        config["model"] = f"{model}:net"
        if record_model_settings:
            config.update(model_args={"hidden": HIDDEN}, leaf_modules=[f"{model}:Gate"])
        (run / "config.json").write_text(json.dumps(config))
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "model": f"{model}:net"}))
    return root, model


def test_analyze_rebuilds_the_model_with_the_runs_recorded_model_args_and_leaf_modules(tmp_path, helpers):
    root, _ = _gated_study(tmp_path, helpers.write_run, record_model_settings=True)
    collection = collect(root, ["paths.log10_paths"])
    assert not collection.skipped and len(collection.records) == 4
    assert all(r.model_args == {"hidden": HIDDEN} and r.network["paths.log10_paths"] is not None
               for r in collection.records)


def test_analyze_model_arg_and_leaf_module_options_fill_runs_that_record_none(tmp_path, helpers):
    root, model = _gated_study(tmp_path, helpers.write_run, record_model_settings=False)
    # the default width (16) does not fit the masks: every run is skipped, with the reason
    collection = collect(root, ["paths.log10_paths"])
    assert not collection.records and all("cannot measure" in s["reason"] for s in collection.skipped)

    result = CliRunner().invoke(main, [
        "study", "analyze", str(root), "--metrics", "paths.log10_paths", "--model-arg", f"hidden={HIDDEN}",
        "--leaf-module", f"{model}:Gate", "--no-plots", "--bootstrap", "20", "--folds", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["counts"]["runs"] == 4
    correlation = next(e for e in document["correlations"] if e["metric"] == "paths.log10_paths")
    assert correlation["n"] == 4 and correlation["spearman"]["value"] is not None


def test_grid_spec_normalises_model_args_and_leaf_modules():
    from sparsegraph.study.grid import GridSpec

    spec = GridSpec(model="mlp", dataset="digits", methods=("random",), sparsities=(0.5,), seeds=(0,),
                    settings={"model_args": {}, "leaf_modules": ["pkg.mod.Gate"]})
    config = spec.runs()[0].config
    assert config.model_args is None and config.leaf_modules == ("pkg.mod.Gate",)
    assert spec.shared()["leaf_modules"] == ["pkg.mod.Gate"] and spec.shared()["model_args"] is None
