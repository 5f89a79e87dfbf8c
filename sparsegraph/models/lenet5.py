"""LeNet-5 with padded convolutions (works on 1x8x8 digits and 1x28x28 MNIST alike)."""

from __future__ import annotations

from torch import Tensor, nn

from sparsegraph.errors import UsageError
from sparsegraph.models.registry import MNIST_INPUT_SHAPE, register_model


class LeNet5(nn.Module):
    """conv5x5(C_in->6, pad 2) -> ReLU -> max-pool 2 -> conv5x5(6->16, pad 2) -> ReLU -> max-pool 2
    -> flatten -> Linear(16*(H//4)*(W//4), 120) -> ReLU -> Linear(120, 84) -> ReLU -> Linear(84, C).
    """

    def __init__(self, in_channels: int, flat_features: int, num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=2)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, padding=2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(flat_features, 120)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(120, 84)
        self.relu4 = nn.ReLU()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


@register_model("lenet5", description="LeNet-5, padded 5x5 convs 6/16 with max-pools, Linear 120/84/C "
                "(1x8x8 and 1x28x28 inputs)", input_shape=MNIST_INPUT_SHAPE, init="kaiming_normal")
def lenet5(num_classes: int, input_shape: tuple[int, ...]) -> LeNet5:
    """LeNet-5 for inputs of ``input_shape``; the first linear layer's width follows it."""
    channels, height, width = input_shape
    if height < 4 or width < 4:
        raise UsageError(f"model 'lenet5': input_shape {input_shape} is too small (two 2x2 max-pools need H, W >= 4)")
    return LeNet5(channels, 16 * (height // 4) * (width // 4), num_classes)
