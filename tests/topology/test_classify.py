"""The operation table helpers: conv geometry, grad_fn names, argument binding."""

import pytest
import torch
from torch import nn

from sparsegraph.topology.classify import bind, conv_geometry, grad_fn_base, unsupported_module_reason


@pytest.mark.parametrize("kwargs, expected", [
    ({"kernel_size": 3, "padding": 1}, ((3, 3), (1, 1), (1, 1), (1, 1))),
    ({"kernel_size": (3, 5), "padding": "same"}, ((3, 5), (1, 1), (1, 2), (1, 1))),
    ({"kernel_size": 3, "padding": "same", "dilation": 2}, ((3, 3), (1, 1), (2, 2), (2, 2))),
    ({"kernel_size": 4, "padding": "same", "dilation": 2}, ((4, 4), (1, 1), (3, 3), (2, 2))),
    ({"kernel_size": (1, 3), "padding": "valid"}, ((1, 3), (1, 1), (0, 0), (1, 1))),
    ({"kernel_size": 3, "stride": (2, 1), "padding": (0, 2)}, ((3, 3), (2, 1), (0, 2), (1, 1))),
])
def test_conv_geometry_resolves_padding(kwargs, expected):
    conv = nn.Conv2d(2, 2, **kwargs)
    g = conv_geometry(conv)
    assert (g["kernel_size"], g["stride"], g["padding"], g["dilation"]) == expected
    # the resolved padding reproduces the module's output size
    x = torch.zeros(1, 2, 9, 9)
    out = conv(x).shape[2:]
    size = [(9 + 2 * p - d * (k - 1) - 1) // s + 1 for k, s, p, d in zip(*expected)]
    assert list(out) == size


def test_conv_geometry_rejections():
    assert "asymmetrically" in conv_geometry(nn.Conv2d(2, 2, (3, 4), padding="same"))
    assert "padding_mode='circular'" in conv_geometry(nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"))


def test_grad_fn_base_and_bind():
    x = torch.zeros(1, 2, 4, 4, requires_grad=True)
    assert grad_fn_base(torch.nn.functional.max_pool2d(x, 2).grad_fn) == "MaxPool2DWithIndices"
    assert grad_fn_base((x + x).grad_fn) == "Add"
    assert bind((1, 2), {"c": 5}, ("a", "b", "c", "d"), {"d": 0}) == {"a": 1, "b": 2, "c": 5, "d": 0}


def test_unsupported_modules():
    assert "transposed" in unsupported_module_reason(nn.ConvTranspose1d(2, 2, 2))
    assert "recurrent" in unsupported_module_reason(nn.LSTM(2, 2))
    assert unsupported_module_reason(nn.Conv2d(2, 2, 1)) is None
