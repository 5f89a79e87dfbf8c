"""PEGS (spec pruning §4, §8 item 17): t = 0 equals PAGS bitwise; t > 0 starts from θ_t with updated BN
statistics; the caller's model is unchanged; the warm-up is reused on resume."""

from __future__ import annotations

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import UsageError

D = 0.05


def _run(kit, model, method, **opts):
    return sg.pruning.run(model, method, density=D, data=kit.digits().train, seed=5, base="snip", population=3,
                          **opts)


def test_t0_equals_pags_bitwise(kit):
    model = kit.lenet()
    pegs = _run(kit, model, "pegs", warmup_iters=0)
    pags = _run(kit, model, "pags")
    assert kit.same_masks(pegs.masks, pags.masks)
    assert pegs.weights.keys() == pags.weights.keys()
    assert all(torch.equal(pegs.weights[k], pags.weights[k]) for k in pags.weights)
    assert kit.stable(pegs.events) == kit.stable(pags.events)


def test_warmup_moves_weights_and_bn_keeps_caller_model(kit, tmp_path):
    model = sg.create_model("resnet20", num_classes=10, input_shape=(1, 8, 8), seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = _run(kit, model, "pegs", warmup_iters=3, warmup_batch_size=32, run_dir=tmp_path)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # caller's model untouched
    bn = [k for k in before if k.endswith("running_mean")]
    assert bn and all(not torch.equal(result.weights[k], before[k]) for k in bn)  # BN statistics updated
    convs = [k for k in before if k.endswith("conv1.weight")]
    assert not torch.equal(result.weights[convs[0]], before[convs[0]])
    assert int(result.weights["bn1.num_batches_tracked"]) == 3
    rows = [r for r in result.events if r["event"] == "pags_sample"]
    assert rows and (tmp_path / "warmup.safetensors").exists()
    # the result equals PAGS on θ_t
    warm = sg.create_model("resnet20", num_classes=10, input_shape=(1, 8, 8), seed=0)
    warm.load_state_dict(result.weights)
    pags = _run(kit, warm, "pags")
    assert kit.same_masks(pags.masks, result.masks)
    resumed = _run(kit, model, "pegs", warmup_iters=3, warmup_batch_size=32, run_dir=tmp_path, resume=True)
    assert kit.same_masks(resumed.masks, result.masks)
    assert all(torch.equal(resumed.weights[k], result.weights[k]) for k in result.weights)


def test_one_batch_is_refused_as_warm_up_data(kit):
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    with pytest.raises(UsageError, match=r"not one \(x, y\) batch"):
        sg.pruning.run(kit.lenet(), "pegs", density=0.1, data=(x, y), seed=0, base="random", population=1,
                       warmup_iters=2)
