"""Small models for the mask tests (also a ``file.py:callable`` SPEC for the CLI tests)."""

import torch
from torch import nn


class Net(nn.Module):
    """conv1 (4,3,3,3) -> bn1 -> block.0 (6,4,3,3) -> global mean -> fc (5,6): 108 + 216 + 30 weights."""

    def __init__(self, num_classes: int = 5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.block = nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(torch.relu(self.bn1(self.conv1(x))))
        return self.fc(x.mean((2, 3)))


def make_net(num_classes: int = 5) -> nn.Module:
    """A Net in eval mode whose parameters come from a seeded generator (never the global RNG)."""
    net = Net(num_classes).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=gen))
    return net
