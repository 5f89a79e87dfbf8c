"""Maskable parameters and exclusions (spec §1.1)."""

import warnings

import pytest
import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.maskable import resolve_maskable


def test_default_is_every_conv_and_linear_weight_in_parameter_order(resnet):
    names = list(resolve_maskable(resnet).params)
    assert names == ["conv1.weight", "layer1.conv1.weight", "layer1.conv2.weight", "layer2.conv1.weight",
                     "layer2.conv2.weight", "layer2.shortcut.0.weight", "linear.weight"]
    m = resolve_maskable(resnet)
    assert list(m.params) == names and m.excluded == [] and m.all_prunable == names
    assert all(m.params[n] is dict(resnet.named_parameters())[n] for n in names)


def test_exclude_uses_search_semantics(resnet):
    m = resolve_maskable(resnet, exclude=["conv1"])
    assert m.excluded == ["conv1.weight", "layer1.conv1.weight", "layer2.conv1.weight"]
    assert "conv1.weight" not in m.params


def test_pattern_matching_nothing_warns_and_empty_set_is_an_error(mlp):
    with pytest.warns(UserWarning, match="matches no"):
        resolve_maskable(mlp, exclude=["conv"])
    with pytest.raises(UsageError, match="no maskable"):
        resolve_maskable(mlp, exclude=["fc"])
    with pytest.raises(UsageError, match="regular expression"):
        resolve_maskable(mlp, exclude=["("])
    with pytest.raises(UsageError, match="no maskable"):
        resolve_maskable(nn.Sequential(nn.ReLU()))


def test_dense_first_and_classifier_follow_dataflow(mlp):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # registration-order fallback where tracing is unavailable
        m = resolve_maskable(mlp, dense_first_layer=True, dense_classifier=True, input_shape=(64,))
    assert m.excluded == ["fc1.weight", "fc3.weight"] and list(m.params) == ["fc2.weight"]


def test_dataflow_order_differs_from_registration_order():
    class Reversed(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 2)      # registered first, called last
            self.body = nn.Linear(4, 8)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    import sparsegraph.topology as topology

    if not hasattr(topology, "trace"):
        pytest.skip("sg.trace has not landed in this checkout")
    m = resolve_maskable(Reversed(), dense_first_layer=True, input_shape=(4,))
    assert m.excluded == ["body.weight"]


def test_without_trace_or_shape_registration_order_with_a_warning(mlp):
    with pytest.warns(UserWarning, match="registration order"):
        m = resolve_maskable(mlp, dense_classifier=True)
    assert m.excluded == ["fc3.weight"]
