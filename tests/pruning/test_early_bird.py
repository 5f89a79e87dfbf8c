"""Unstructured Early-Bird (spec pruning §5, §8 item 19): distance closed forms, the stop rule, retrain modes."""

from __future__ import annotations

import json

import pytest
import torch

import sparsegraph as sg
from sparsegraph.pruning.baselines.early_bird import early_bird_fires, mask_distance


def _mask(bits):
    return {"w": torch.tensor(bits, dtype=torch.bool)}


def test_distance_closed_forms():
    a = _mask([1, 1, 0, 0, 0, 0])
    assert mask_distance(a, a, 2) == 0.0
    assert mask_distance(a, _mask([0, 0, 1, 1, 0, 0]), 2) == 1.0
    assert mask_distance(a, _mask([1, 0, 1, 0, 0, 0]), 2) == 0.5


def test_rule_fires_exactly_when_last_four_distances_within_epsilon():
    k = 10
    base = [1] * 10 + [0] * 10

    def shifted(s):  # s entries moved out of the first ten: distance s / 10 from base
        return _mask([1] * (10 - s) + [0] * s + [1] * s + [0] * (10 - s))

    history = [shifted(5), shifted(1), shifted(1), shifted(0), _mask(base)]
    fired, d = early_bird_fires(history, k, epsilon=0.1)
    assert not fired and d == pytest.approx([0.5, 0.1, 0.1, 0.0])
    fired, d = early_bird_fires(history[1:] + [_mask(base)], k, epsilon=0.1)
    assert fired and d == pytest.approx([0.1, 0.1, 0.0, 0.0])  # 0.1 ≤ ε is inclusive
    assert not early_bird_fires(history[1:], k)[0]  # fewer than five masks: never
    near = [shifted(2), shifted(0), shifted(0), shifted(0), _mask(base)]
    assert not early_bird_fires(near, k, epsilon=0.1)[0] and early_bird_fires(near, k, epsilon=0.2)[0]


def test_early_bird_run_stops_and_rewinds(kit, tmp_path):
    model = kit.lenet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = sg.pruning.run(model, "early-bird", density=0.2, data=kit.digits(), seed=1, recipe="small",
                                train_options={"epochs": 4, "batch_size": 256}, eb_max_epochs=2,
                                eb_epsilon=0.0, run_dir=tmp_path)
    assert result.masks.num_kept == round(0.2 * result.masks.numel)
    assert all(torch.equal(result.weights[k], before[k]) for k in before)  # rewind to θ_0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    checks = [r for r in rows if r["event"] == "eb_check"]
    assert [r["epoch"] for r in checks] == [1, 2]  # stopped at eb_max_epochs
    stop = [r for r in rows if r["event"] == "eb_stop"][0]
    assert stop["epoch"] == 2 and stop["fired"] is False and stop["retrain"] == "rewind"
    # the mask is the magnitude top-K of the weights after the stop epoch: kept |w| ≥ pruned |w|
    from safetensors.torch import load_file

    trained = load_file(str(tmp_path / "eb" / "eb_weights.safetensors"))
    kept = torch.cat([trained[n][m].abs() for n, m in result.masks.items()])
    dropped = torch.cat([trained[n][~m].abs() for n, m in result.masks.items()])
    assert kept.min() >= dropped.max()
    with pytest.warns(RuntimeWarning, match="did not converge"):
        again = sg.pruning.run(model, "eb", density=0.2, data=kit.digits(), seed=1, recipe="small",
                               train_options={"epochs": 4, "batch_size": 256}, eb_max_epochs=2, eb_epsilon=0.0,
                               eb_retrain="continue", run_dir=tmp_path, resume=True)
    assert kit.same_masks(again.masks, result.masks)
    assert all(torch.equal(again.weights[k], trained[k]) for k in trained)  # continue: the EB weights


def test_early_bird_fires_with_loose_epsilon(kit):
    model = kit.lenet()
    result = sg.pruning.run(model, "early-bird", density=0.5, data=kit.digits(), seed=1, recipe="small",
                            train_options={"epochs": 6, "batch_size": 256, "lr": 1e-4}, eb_epsilon=0.5,
                            eb_max_epochs=6, eb_retrain="reinit")
    assert result.masks.metadata["eb_fired"] is True and result.masks.metadata["eb_epoch"] == 5
    theta0 = model.state_dict()
    assert not torch.equal(result.weights["fc1.weight"], theta0["fc1.weight"])  # re-initialised
