"""LeNet-300-100: the fully connected network of the pruning literature."""

from __future__ import annotations

import math

from torch import Tensor, nn

from sparsegraph.models.registry import MNIST_INPUT_SHAPE, register_model


class MLP(nn.Module):
    """flatten -> Linear(in, 300) -> ReLU -> Linear(300, 100) -> ReLU -> Linear(100, C).

    Module names (``fc1``, ``fc2``, ``fc3``) follow the LeNet_300_100 of the SNIP / sparse-learning
    code, so its state dicts load as they are.
    """

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(in_features, 300)
        self.relu1 = nn.ReLU()
        self.fc2 = nn.Linear(300, 100)
        self.relu2 = nn.ReLU()
        self.fc3 = nn.Linear(100, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu1(self.fc1(self.flatten(x)))
        x = self.relu2(self.fc2(x))
        return self.fc3(x)


@register_model("mlp", description="LeNet-300-100 MLP: Linear(in, 300), Linear(300, 100), Linear(100, C); "
                "in = prod(input_shape)", input_shape=MNIST_INPUT_SHAPE)
def mlp(num_classes: int, input_shape: tuple[int, ...]) -> MLP:
    """LeNet-300-100 for inputs of ``input_shape`` (flattened)."""
    return MLP(math.prod(input_shape), num_classes)
