"""``sparsegraph prune --method set|rigl`` with tracking: run directory, summary, kill and resume."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from sparsegraph.masks import MaskSet
from sparsegraph.pruning.dst import DSTUpdater
from sparsegraph.runs import PruneRunConfig, run_prune
from sparsegraph_cli.main import main


def _config(**kw):
    base = dict(model="lenet5", dataset="digits", method="rigl", density=0.2, seed=0, deterministic=True,
                train_options={"epochs": 2, "batch_size": 256}, metrics=("density", "spectral.full_spectrum"),
                method_options={"dst_interval": 3}, track=("spectral.full_spectrum", "paths.log10_paths"))
    base.update(kw)
    return PruneRunConfig(**base)


class _Kill(Exception):
    pass


def _strip(summary):
    return {k: v for k, v in summary.items() if k != "timings"}


def test_dst_run_writes_final_masks_tracking_and_summary(tmp_path):
    summary = run_prune(_config(plot=True), tmp_path / "run")
    run = tmp_path / "run"
    final, initial = MaskSet.load(run / "masks.safetensors"), MaskSet.load(run / "masks_init.safetensors")
    assert final != initial and final.num_kept == initial.num_kept
    assert {n: int(m.sum()) for n, m in final.items()} == {n: int(m.sum()) for n, m in initial.items()}
    assert summary["mask_fingerprint"] == final.fingerprint()
    dst = summary["dst"]
    assert dst["method"] == "rigl" and dst["base"] == "erk" and dst["interval"] == 3 and dst["stop"] == 0.75
    assert dst["initial_fingerprint"] == initial.fingerprint() and 0.2 < dst["itop_rate"] < 1
    iters = -(-1257 // 256)  # digits: 1,257 training images
    assert dst["updates"] == len([t for t in range(3, int(0.75 * 2 * iters) + 1, 3)])
    assert summary["tracking"]["final_step"] == 2 * iters
    assert summary["tracking"]["final"]["track.itop_rate"] == pytest.approx(dst["itop_rate"])
    assert sorted(summary["tracking"]["plots"]) == ["track_paths.png", "track_spectral.png", "track_track.png"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["masks"]["fingerprint"] == final.fingerprint()  # the final mask is measured
    updates = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len([r for r in updates if r["event"] == "dst_update"]) == dst["updates"]


def test_killed_and_resumed_dst_run_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    full = run_prune(_config(method="set"), tmp_path / "a")
    original = DSTUpdater.after_step

    def killing(self, step, grads=None):
        changed = original(self, step, grads)
        if step == 9:  # mid epoch 2 (5 steps per epoch), right after a mask update
            raise _Kill
        return changed

    monkeypatch.setattr(DSTUpdater, "after_step", killing)
    with pytest.raises(_Kill):
        run_prune(_config(method="set"), tmp_path / "b")
    monkeypatch.setattr(DSTUpdater, "after_step", original)
    resumed = run_prune(_config(method="set"), tmp_path / "b", resume=True)
    assert _strip(resumed) == {**_strip(full), "tracking": resumed["tracking"]}
    assert resumed["tracking"] == full["tracking"]
    assert (tmp_path / "a" / "track.csv").read_text() == (tmp_path / "b" / "track.csv").read_text()
    masks_a, masks_b = (MaskSet.load(tmp_path / d / "masks.safetensors") for d in "ab")
    assert masks_a == masks_b and masks_a.metadata == masks_b.metadata
    a = torch.load(tmp_path / "a" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["mask_updater"]["updates"] == b["mask_updater"]["updates"]
    assert torch.equal(a["mask_updater"]["generator"], b["mask_updater"]["generator"])
    rows = lambda p: json.loads(p.read_text())["rows"]  # noqa: E731
    assert rows(tmp_path / "a" / "metrics.json") == rows(tmp_path / "b" / "metrics.json")


def test_cli_prune_set_with_dst_options_and_snapshot_measure(tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, ["prune", "--model", "lenet5", "--dataset", "digits", "--method", "set",
                                       "--sparsity", "0.8", "--epochs", "1", "--batch-size", "128",
                                       "--dst-interval", "2", "--dst-fraction", "0.3", "--dst-schedule", "linear",
                                       "--dst-stop", "0.5", "--track", "paths", "--track-every", "4",
                                       "-o", str(run)])
    assert result.exit_code == 0, result.output
    assert "mask updates      2 every 2 steps (ζ0 0.3, linear, stop 0.5)" in result.output
    assert "test accuracy" in result.output
    config = json.loads((run / "config.json").read_text())
    assert config["method_options"]["dst_fraction"] == 0.3 and config["track"] == ["paths"]
    snapshots = sorted(p.name for p in (run / "track").glob("step_*.safetensors"))
    assert snapshots == ["step_0.safetensors", "step_10.safetensors", "step_4.safetensors", "step_8.safetensors"]
    measured = CliRunner().invoke(main, ["measure", "--model", "lenet5", "--input-shape", "1,8,8", "--masks",
                                         str(run / "track" / "step_4.safetensors"), "--metrics", "density",
                                         "--format", "json"])
    assert measured.exit_code == 0, measured.output
    assert json.loads(measured.output)["masks"]["density"] == pytest.approx(0.2, abs=1e-4)


@pytest.mark.parametrize("args, code, text", [
    (["--method", "rigl", "--epochs", "0"], 2, "trains the network"),
    (["--method", "erk", "--epochs", "1", "--track-every", "3"], 2, "--track"),
    (["--method", "rigl", "--epochs", "1", "--base", "set"], 2, "base"),
    (["--method", "erk", "--epochs", "1", "--track", "spectral.nope"], 2, "spectral.nope"),
])
def test_cli_rejects_bad_dst_and_tracking_options(tmp_path, args, code, text):
    result = CliRunner().invoke(main, ["prune", "--model", "lenet5", "--dataset", "digits", "--sparsity", "0.8",
                                       *args, "-o", str(tmp_path / "run")])
    assert result.exit_code == code, result.output
    assert text in result.output


def test_plot_without_matplotlib_fails_before_any_work(tmp_path, monkeypatch):
    import importlib.util

    from sparsegraph.errors import UsageError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(UsageError, match=r"sparsegraph\[plot\]"):
        run_prune(_config(plot=True), tmp_path / "run")
    assert not (tmp_path / "run").exists()
