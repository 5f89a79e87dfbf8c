"""sg.effective_masks: per-weight effective masks (metrics.md §5) against the reference cases and by hand."""

import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.masks import MaskSet

CASES = ("mlp_2_2_2_hand", "mlp3_dead_neurons", "conv2_flatten_linear", "resnet_mini_basicblock")


@pytest.mark.parametrize("convention", ["exact", "npb2023"])
@pytest.mark.parametrize("case", CASES)
def test_reference_effective_masks(paths_refcases, case, convention):
    model, masks, shape, _, effective = paths_refcases[case]
    found = sg.effective_masks(model, masks, shape, convention=convention)
    assert isinstance(found, MaskSet)
    assert list(found) == list(effective[convention])
    for name, expected in effective[convention].items():
        assert torch.equal(found[name], expected), name
        if convention == "exact":
            assert not bool((found[name] & ~masks[name]).any())  # a subset of the kept weights
    assert found.metadata["effective_masks_convention"] == convention


def test_hand_mlp():
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 2, bias=False))
    masks = MaskSet.from_dict({"1.weight": torch.tensor([[1, 1], [0, 0]]), "3.weight": torch.tensor([[1, 1], [1, 0]])})
    found = sg.effective_masks(net, masks, (1, 1, 2))
    assert torch.equal(found["1.weight"], torch.tensor([[True, True], [False, False]]))
    assert torch.equal(found["3.weight"], torch.tensor([[True, False], [True, False]]))  # h2 -> o1 is dead
    assert found.num_kept == 4
    assert found.metadata["effective_masks_of"] == masks.fingerprint()


def test_dense_model_and_zoo_default_shape():
    model = sg.create_model("lenet5")
    found = sg.effective_masks(model, None)  # the zoo model's input_shape; every weight effective
    params = dict(model.named_parameters())
    assert all(bool(m.all()) and m.shape == params[n].shape for n, m in found.items())


def test_no_path_gives_all_zero_effective_masks():
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Linear(2, 2, bias=False))
    found = sg.effective_masks(net, {"1.weight": torch.zeros(2, 2)}, (3,))
    assert list(found) == ["0.weight", "1.weight"] and found.num_kept == 0 and found.density == 0.0
    assert not any(bool(m.any()) for m in found.values())
