import pytest
import torch
from torch import nn

from sparsegraph.training import TensorSplit, TrainData


def make_blobs(n: int, seed: int) -> TensorSplit:
    """Four well-separated Gaussian blobs in 8 dimensions (an easy 4-class problem)."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.eye(4, 8) * 4.0
    y = torch.arange(n) % 4
    x = centers[y] + torch.randn(n, 8, generator=g)
    return TensorSplit(x, y)


@pytest.fixture
def blob_data() -> TrainData:
    return TrainData(train=make_blobs(256, 0), val=make_blobs(64, 1), test=make_blobs(64, 2), name="blobs")


@pytest.fixture
def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
