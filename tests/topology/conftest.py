"""Small hand-made models with known topologies, shared by the topology tests."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """A ResNet basic block: identity shortcut, or a 1x1 projection when the shape changes.

    Not the refcases' block (tests/refcases/mge_nets.py) on purpose: ``out += shortcut`` makes the tracers
    handle an in-place residual add.
    """

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNetTiny(nn.Module):
    """Stem, an identity block, a projection block, mean((2,3)) global pooling, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = Block(8, 8)
        self.layer2 = Block(8, 16, stride=2)
        self.linear = nn.Linear(16, 10)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        return self.linear(out.mean((2, 3)))


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class OptionA(nn.Module):
    """He et al.'s option-A shortcut: stride-2 subsampling and zero-padded channels."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, 2, 1, bias=False)
        self.shortcut = Lambda(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2), "constant", 0))

    def forward(self, x):
        return self.conv1(x) + self.shortcut(x)


class Inception(nn.Module):
    """Two branches concatenated along channels, then split again; avg_pool2d with kernel x.size(3)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 6, 3, padding="same")
        self.pool = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        y = self.pool(y)
        left, right = torch.chunk(y, 2, dim=1)
        z = left * 2.0 + right
        z = F.avg_pool2d(z, z.size(3))
        return self.head(z.view(z.size(0), -1))


class DataDependent(nn.Module):
    """Python control flow on a tensor value: torch.fx cannot trace it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 1e9:
            y = y * 0.5
        return self.fc(F.adaptive_avg_pool2d(y, (1, 1)).flatten(1))


@pytest.fixture
def resnet_tiny():
    torch.manual_seed(0)
    return ResNetTiny()


@pytest.fixture
def option_a():
    return OptionA()


@pytest.fixture
def inception():
    torch.manual_seed(0)
    return Inception()


@pytest.fixture
def data_dependent():
    return DataDependent()
