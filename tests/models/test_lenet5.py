"""LeNet-5 with padded convolutions."""

import pytest
import torch

from sparsegraph.models import create_model


@pytest.mark.parametrize("shape,flat", [((1, 28, 28), 16 * 7 * 7), ((1, 8, 8), 16 * 2 * 2), ((3, 32, 32), 16 * 8 * 8)])
def test_first_linear_follows_input_shape(shape, flat):
    model = create_model("lenet5", input_shape=shape)
    assert model.conv1.in_channels == shape[0]
    assert model.conv1.padding == (2, 2) and model.conv2.padding == (2, 2)
    assert (model.fc1.in_features, model.fc1.out_features) == (flat, 120)
    assert (model.fc2.in_features, model.fc2.out_features, model.fc3.in_features) == (120, 84, 84)
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_parameter_count_mnist():
    model = create_model("lenet5")
    expected = (6 * 25 + 6) + (16 * 6 * 25 + 16) + (784 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected
