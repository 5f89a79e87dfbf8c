"""Maskable parameters: Conv2d and Linear weights in named_parameters() order."""

from torch import nn
from torch.nn.utils import prune

from sparsegraph.masks import maskable_parameters


def test_maskable_parameters_in_named_parameters_order(net):
    params = maskable_parameters(net)
    assert list(params) == ["conv1.weight", "block.0.weight", "fc.weight"]
    named = [n for n, _ in net.named_parameters() if n in params]
    assert named == list(params)
    assert params["fc.weight"] is net.fc.weight


def test_reparametrised_weights_keep_their_parameter_name(net):
    prune.l1_unstructured(net.block[0], "weight", amount=0.5)
    params = maskable_parameters(net)
    assert list(params) == ["conv1.weight", "block.0.weight", "fc.weight"]
    assert params["block.0.weight"] is net.block[0].weight_orig


def test_top_level_and_excluded_module_types():
    assert list(maskable_parameters(nn.Linear(3, 2))) == ["weight"]
    model = nn.Sequential(nn.Conv1d(2, 2, 3), nn.Embedding(4, 2), nn.LayerNorm(2), nn.Conv2d(1, 1, 1, bias=False))
    assert list(maskable_parameters(model)) == ["3.weight"]
