"""IMP with rewinding (spec pruning §5, §8 item 18): k_r per round, nested masks, rewind exactness,
the schedule resumed at iteration k, per-round resume."""

from __future__ import annotations

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import UsageError
from sparsegraph.pruning.baselines import imp as imp_module
from sparsegraph.pruning.baselines.imp import imp_counts, imp_rounds
from sparsegraph.training import MaskEnforcer, TrainHooks, resolve_recipe, train

RECIPE = {"epochs": 2, "batch_size": 256}


def test_round_counts():
    assert imp_rounds(0.01) == 21 and imp_rounds(0.8 ** 23) == 23 and imp_rounds(0.64) == 2
    assert imp_rounds(0.9) == 1
    n = 11_164_352
    counts = imp_counts(0.01, n)
    assert len(counts) == 21 and counts[-1] == 111_644
    assert counts[:3] == [round(0.8 * n), round(0.64 * n), int(0.512 * n + 0.5)]
    assert all(a > b for a, b in zip(counts, counts[1:]))


def test_imp_rounds_nested_and_rewound(kit, tmp_path, monkeypatch):
    model = kit.lenet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []
    from sparsegraph import training

    real_train = training.train

    def recording_train(net, masks, data, **kw):
        calls.append(({k: v.clone() for k, v in net.state_dict().items()}, masks, kw.get("start_iteration")))
        return real_train(net, masks, data, **kw)

    monkeypatch.setattr(training, "train", recording_train)
    result = sg.pruning.run(model, "imp", density=0.5, data=kit.digits(), seed=2, recipe="small",
                            train_options=RECIPE, rewind_iter=3, run_dir=tmp_path)
    total = result.masks.numel
    counts = imp_counts(0.5, total)
    assert len(counts) == 4 and result.masks.num_kept == counts[-1]
    masks = [sg.MaskSet.load(tmp_path / "rounds" / f"mask_r{r:02d}.safetensors") for r in (1, 2, 3)]
    assert [m.num_kept for m in masks] == counts[:3]
    chain = masks + [result.masks]
    for outer, inner in zip(chain, chain[1:]):
        assert all(bool((inner[n] & ~outer[n]).sum() == 0) for n in inner)  # nested
    theta_k = result.weights
    assert result.start_iteration == 3
    stored = imp_module.load_state_dict(tmp_path / "rounds" / "rewind.safetensors")
    assert all(torch.equal(stored[k], theta_k[k]) for k in theta_k)
    # rounds 1…3 start from θ_k exactly and resume the schedule at k; pruned weights become 0
    assert [c[2] for c in calls] == [0, 3, 3, 3]
    for state, round_masks, _ in calls[1:]:
        assert all(torch.equal(state[k], theta_k[k]) for k in theta_k)
        net = kit.lenet()
        net.load_state_dict(state)
        MaskEnforcer(net, round_masks).apply()
        for n, m in round_masks.items():
            w = dict(net.named_parameters())[n]
            assert torch.equal(w[m], theta_k[n][m]) and bool((w[~m] == 0).all())
    # the next mask keeps the largest |w| of the previous round's trained weights among live entries
    for r, (outer, inner) in enumerate(zip(chain, chain[1:]), start=1):
        trained = imp_module.load_state_dict(tmp_path / "rounds" / f"r{r:02d}" / "trained.safetensors")
        kept = torch.cat([trained[n][inner[n]].abs() for n in inner])
        dropped = torch.cat([trained[n][outer[n] & ~inner[n]].abs() for n in inner])
        assert kept.min() >= dropped.max()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # caller untouched
    # per-round resume: finished rounds are reused, the result is identical
    again = sg.pruning.run(model, "imp", density=0.5, data=kit.digits(), seed=2, recipe="small",
                           train_options=RECIPE, rewind_iter=3, run_dir=tmp_path, resume=True)
    assert kit.same_masks(again.masks, result.masks)
    assert len(calls) == 4  # nothing retrained


def test_start_iteration_resumes_schedule(kit):
    data = kit.digits()
    recipe = resolve_recipe("small", data.name, **RECIPE)
    ipe = -(-len(data.train) // recipe.batch_size)
    k = ipe + 2
    steps = []
    train(kit.lenet(), None, data, recipe=recipe, start_iteration=k, device="cpu",
          hooks=TrainHooks(after_step=lambda i, net: steps.append(i)))
    assert steps[0] == k + 1 and steps[-1] == recipe.epochs * ipe  # remaining steps of the same schedule


def test_imp_needs_train_data(kit):
    with pytest.raises(UsageError, match="TrainData"):
        sg.pruning.run(kit.lenet(), "imp", density=0.5, data=kit.digits().train, recipe="small")


def test_default_rewind_point_fits_a_short_schedule(kit, tmp_path):
    # 3 epochs' worth would be the whole 2-epoch schedule: the default is capped at half of it
    data = kit.digits()
    recipe = resolve_recipe("small", data.name, **RECIPE)
    ipe = -(-len(data.train) // recipe.batch_size)
    result = sg.pruning.run(kit.lenet(), "imp", density=0.8, data=data, seed=0, recipe="small",
                            train_options=RECIPE, run_dir=tmp_path)
    assert result.start_iteration == min(3 * ipe, RECIPE["epochs"] * ipe // 2) == ipe
