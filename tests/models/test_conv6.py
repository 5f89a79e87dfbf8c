"""CONV-6."""

import torch
from torch import nn

from sparsegraph.models import create_model


def test_structure_and_count():
    model = create_model("conv6")
    assert [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)] == [64, 64, 128, 128, 256, 256]
    assert [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)] == [
        (4096, 256), (256, 256), (256, 10)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert sum(p.numel() for p in model.parameters()) == 2_262_602


def test_batch_norm_variant_matches_mge_snn_layout():
    model = create_model("conv6", batch_norm=True)
    assert sum(p.numel() for p in model.parameters()) == 2_265_418
    names = [type(m).__name__ for m in model.convs1]
    assert names[:7] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert [type(m).__name__ for m in model.linear] == [
        "Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]


def test_tiny_imagenet_input():
    model = create_model("conv6", num_classes=200, input_shape=(3, 64, 64))
    assert model.linear[0].in_features == 256 * 8 * 8
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 200)
