"""VGG-16: the Synaptic-Flow and VGG-D variants."""

import pytest
import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.models import create_model


def _layers(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


def test_synflow_variant_structure_and_count():
    model = create_model("vgg16")
    convs = _layers(model, nn.Conv2d)
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is not None for c in convs)
    assert len(_layers(model, nn.BatchNorm2d)) == 13
    assert len(_layers(model, nn.MaxPool2d)) == 4
    (fc,) = _layers(model, nn.Linear)
    assert (fc.in_features, fc.out_features) == (512, 10)
    assert sum(p.numel() for p in model.parameters()) == 14_728_266
    assert "layers.0.conv.weight" in model.state_dict() and "fc.weight" in model.state_dict()


def test_vgg_d_variant_structure_and_count():
    model = create_model("vgg16", variant="vgg-d")
    assert len(_layers(model, nn.Conv2d)) == 13
    assert len(_layers(model, nn.MaxPool2d)) == 5
    linears = _layers(model, nn.Linear)
    assert [(m.in_features, m.out_features) for m in linears] == [(512, 512), (512, 512), (512, 10)]
    assert len(_layers(model, nn.BatchNorm1d)) == 2
    # Linear -> ReLU -> BN1d, as in the reference classifier
    assert [type(m).__name__ for m in model.classifier] == [
        "Linear", "ReLU", "BatchNorm1d", "Linear", "ReLU", "BatchNorm1d", "Linear"]
    assert sum(p.numel() for p in model.parameters()) == 15_255_626


def test_log_softmax_option():
    model = create_model("vgg16", variant="vgg-d", log_softmax=True).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(2))


def test_larger_inputs_widen_the_classifier():
    model = create_model("vgg16", input_shape=(3, 64, 64))
    assert model.fc.in_features == 512 * 2 * 2
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_unknown_variant():
    with pytest.raises(UsageError, match="variant must be one of synflow, vgg-d"):
        create_model("vgg16", variant="vgg-e")
