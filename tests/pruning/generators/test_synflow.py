"""synflow (spec §2, §8 items 3, 8, 14)."""

import copy

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import NonFiniteScoreError

SHAPE = (3, 8, 8)


def flow(model, masks=None):
    """R_flow of the |·| float64 eval copy with the mask applied, computed independently."""
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
        if masks is not None:
            for n, p in net.named_parameters():
                if n in masks:
                    p.mul_(masks[n])
    with torch.no_grad():
        return float(net(torch.ones(1, *SHAPE, dtype=torch.float64)).sum())


@pytest.mark.parametrize("pruned", [False, True])
def test_per_layer_conservation_on_the_chain_vgg(vgg, pruned):
    masks = sg.prune(vgg, "random-global", density=0.3, seed=0) if pruned else None
    scores = sg.pruning.scores("synflow", vgg, input_shape=SHAPE, masks=masks)
    r_flow = flow(vgg, masks)
    assert r_flow > 0
    for name, s in scores.items():
        assert s.dtype == torch.float64 and bool((s >= 0).all())
        assert abs(float(s.sum()) - r_flow) / r_flow < 1e-9, name


def test_returned_mask_keeps_flow(vgg):
    masks = sg.prune(vgg, "synflow", density=0.05, input_shape=SHAPE, seed=0)
    assert flow(vgg, masks) > 0


def test_input_shape_from_data(vgg, h):
    a = sg.pruning.scores("synflow", vgg, input_shape=SHAPE)
    b = sg.pruning.scores("synflow", vgg, h.image_batch())
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_train_bn_mode_is_refused(vgg):
    with pytest.raises(sg.errors.UsageError, match="unknown option"):
        sg.prune(vgg, "synflow", density=0.1, input_shape=SHAPE, bn_mode="train")


@pytest.mark.slow
def test_resnet18_shortcuts_are_emptied_at_one_percent(zoo):
    """Documented behaviour (spec §2, Synaptic-Flow issue #7): 100 rounds keep no 1×1 shortcut weight."""
    model = zoo("resnet18", num_classes=10, init="kaiming_fan_out", seed=0)
    masks = sg.prune(model, "synflow", density=0.01, input_shape=(3, 32, 32), seed=0)
    shortcuts = [n for n, m in masks.items() if m.shape[-2:] == (1, 1)]
    assert len(shortcuts) == 3
    assert all(int(masks[n].sum()) == 0 for n in shortcuts)


@pytest.mark.slow
def test_resnet34_is_finite_in_float64_and_not_in_float32(zoo):
    model = zoo("resnet34", num_classes=10, init="kaiming_fan_out", seed=0)
    scores = sg.pruning.scores("synflow", model, input_shape=(3, 32, 32))
    assert all(bool(torch.isfinite(s).all()) for s in scores.values())
    with pytest.raises(NonFiniteScoreError):
        sg.pruning.scores("synflow", model, input_shape=(3, 32, 32), dtype="float32")
