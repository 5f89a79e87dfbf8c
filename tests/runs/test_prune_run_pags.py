"""The prune pipeline with PAGS, PEGS and IMP: run directory, summary, plot, resume; CLI options."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

import sparsegraph as sg
from sparsegraph.runs import PruneRunConfig, run_prune


def _config(method="pags", **kw):
    options = {"base": "snip", "population": 4, "interval": 2}
    options.update(kw.pop("method_options", {}))
    return PruneRunConfig(model="lenet5", dataset="digits", method=method, density=0.05, seed=4,
                          method_options=options, metrics=("density", "spectral.full_spectrum"), **kw)


def test_pags_run_directory(tmp_path):
    summary = run_prune(_config(train_options={"epochs": 1}, plot=True), tmp_path / "run")
    run = tmp_path / "run"
    assert (run / "pags.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "snapshots" / "state.pt").exists() and (run / "snapshots" / "mask_000000.safetensors").exists()
    assert summary["pags_score"] >= summary["pags_base_score"] and summary["pags_samples"] == 4
    assert summary["test_at_best_val"] is not None and summary["method"] == "pags"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["format"] == "sparsegraph.measure/1" and len(metrics["pags"]["layers"]) == 5
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["j"] for r in rows if r["event"] == "pags_sample"] == [0, 1, 2, 3, 4]
    masks = sg.MaskSet.load(run / "masks.safetensors")
    assert masks.metadata["generator"] == "pags" and masks.metadata["base"] == "snip"
    # resuming a finished run reuses the mask and the checkpoints
    again = run_prune(_config(train_options={"epochs": 1}, plot=True), run, resume=True)
    assert again["mask_fingerprint"] == summary["mask_fingerprint"]


def test_pegs_trains_from_warmed_weights(tmp_path):
    config = _config("pegs", method_options={"warmup_iters": 2, "population": 1}, train_options={"epochs": 0},
                     train_snapshots=False)
    run_prune(config, tmp_path)
    from safetensors.torch import load_file

    warm = load_file(str(tmp_path / "warmup.safetensors"))
    start_weights = load_file(str(tmp_path / "start_weights.safetensors"))
    assert all(torch.equal(warm[k], start_weights[k]) for k in warm)


def test_imp_run_trains_last_round(tmp_path):
    config = PruneRunConfig(model="lenet5", dataset="digits", method="imp", density=0.8, seed=1,
                            method_options={"rewind_iter": 2}, train_options={"epochs": 1, "batch_size": 256},
                            metrics=("density",))
    summary = run_prune(config, tmp_path)
    assert summary["masked_density"] == pytest.approx(0.8, abs=1e-4)
    assert (tmp_path / "rounds" / "r00" / "trained.safetensors").exists()
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rows if r["event"] == "imp_round"] == [0]
    assert summary["test_final"] is not None


def test_cli_options_reach_pags(tmp_path):
    from sparsegraph_cli.prune import prune

    out = tmp_path / "cli"
    result = CliRunner().invoke(prune, ["--model", "lenet5", "--dataset", "digits", "--method", "pags",
                                        "--base", "erk", "--sparsity", "0.95", "--population", "3",
                                        "--interval", "5", "--merge", "whole", "--rebalance", "--epochs", "0",
                                        "--metrics", "density", "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "PAGS score" in result.output and "rebalanced score" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["method_options"]["merge"] == "whole" and config["method_options"]["rebalance"] is True
    masks = sg.MaskSet.load(out / "masks.safetensors")
    assert masks.num_kept == round(0.05 * masks.numel)
    bad = CliRunner().invoke(prune, ["--model", "lenet5", "--dataset", "digits", "--method", "pags",
                                     "--base", "magnitude", "--density", "0.1", "--epochs", "0",
                                     "-o", str(tmp_path / "bad"), "--no-progress"])
    assert bad.exit_code != 0 and "perturb" in str(bad.exception or bad.output)


def test_plot_without_matplotlib_is_refused_before_any_work(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails as if not installed
    with pytest.raises(sg.errors.UsageError, match=r"--plot needs matplotlib.*sparsegraph\[plot\]"):
        run_prune(_config(train_options={"epochs": 0}, plot=True), tmp_path / "run")
    assert not (tmp_path / "run").exists()
    result = CliRunner().invoke(sg_main(), ["prune", "--model", "lenet5", "--dataset", "digits", "--method", "pags",
                                            "--base", "snip", "--population", "2", "--sparsity", "0.95",
                                            "--epochs", "0", "--plot", "-o", str(tmp_path / "cli")])
    assert result.exit_code == 2 and "pip install 'sparsegraph[plot]'" in result.output


def test_plot_failure_at_the_end_keeps_the_results_and_resume_needs_no_plot(tmp_path, monkeypatch):
    import sparsegraph.pruning.samplers.plot as plot

    def broken(*args, **kwargs):
        raise ImportError("matplotlib went away")

    monkeypatch.setattr(plot, "plot_pags", broken)
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match="pags.png not written: ImportError"):
        summary = run_prune(_config(train_options={"epochs": 1}, plot=True), run)
    for name in ("masks.safetensors", "metrics.json", "summary.json", "checkpoints/last.pt"):
        assert (run / name).exists(), name
    # --plot changes no result: the run resumes without it
    again = run_prune(_config(train_options={"epochs": 1}), run, resume=True)
    assert again["mask_fingerprint"] == summary["mask_fingerprint"]


def sg_main():
    from sparsegraph_cli.main import main

    return main


def test_the_documented_python_pags_run_gives_the_cli_mask(tmp_path):
    # docs/tutorials/pags.md: the Python script builds model and data as `sparsegraph prune` does
    from sparsegraph.training import load_train_data
    from sparsegraph.utils import derive_seed

    options = ["--base", "snip", "--population", "4", "--interval", "2"]
    result = CliRunner().invoke(sg_main(), ["prune", "--model", "lenet5", "--dataset", "digits", "--method", "pags",
                                            *options, "--sparsity", "0.95", "--epochs", "0", "--seed", "3",
                                            "--format", "json", "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    seed = 3
    data = load_train_data("digits", seed=seed)
    model = sg.load_model("lenet5", input_shape=(1, 8, 8), seed=derive_seed(seed, "init"))
    api = sg.pruning.run(model, "pags", sparsity=0.95, data=data.train, seed=seed, input_shape=(1, 8, 8),
                         base="snip", population=4, interval=2, run_dir=tmp_path / "api")
    assert api.masks.fingerprint() == json.loads(result.stdout)["mask_fingerprint"]


def test_cli_default_exports_exact_density_and_no_rebalance_keeps_the_merge(tmp_path):
    from sparsegraph_cli.prune import prune

    def run(name, *extra):
        out = tmp_path / name
        args = ["--model", "lenet5", "--dataset", "digits", "--method", "pags", "--base", "snip", "--sparsity",
                "0.95", "--population", "4", "--epochs", "0", "--metrics", "density", "-o", str(out),
                "--no-progress", *extra]
        result = CliRunner().invoke(prune, args)
        assert result.exit_code == 0, result.output
        return result.output, json.loads((out / "summary.json").read_text()), sg.MaskSet.load(out / "masks.safetensors")

    k = round(0.05 * sum(m.numel() for m in run("probe")[2].values()))
    text, summary, masks = run("default")
    assert masks.num_kept == k == summary["pags_target_kept"] == summary["pags_kept"]
    assert summary["pags_rebalanced"] is True and f"exactly K = {k:,} weights" in text
    text, summary, masks = run("merge", "--no-rebalance")
    assert summary["pags_rebalanced"] is False and masks.metadata["rebalanced"] is False
    assert masks.num_kept == summary["pags_kept"] != k == summary["pags_target_kept"]
    assert f"kept weights      {masks.num_kept:,} (K = {k:,}: --no-rebalance" in text
