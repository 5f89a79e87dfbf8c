import importlib.util
from pathlib import Path

import pytest
import torch

NETS_PATH = Path(__file__).with_name("nets.py")
_spec = importlib.util.spec_from_file_location("mask_test_nets", NETS_PATH)
nets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nets)

SHAPES = {"conv1.weight": (4, 3, 3, 3), "block.0.weight": (6, 4, 3, 3), "fc.weight": (5, 6)}


@pytest.fixture
def make_net():
    """Factory of Nets: ``make_net(num_classes=5)``."""
    return nets.make_net


@pytest.fixture
def shapes():
    """The shapes of Net's maskable weights, in MaskSet order."""
    return dict(SHAPES)


@pytest.fixture
def nets_path():
    """Path of nets.py (for ``file.py:callable`` model SPECs)."""
    return NETS_PATH


@pytest.fixture
def net():
    """A fresh Net (fixed weights)."""
    return nets.make_net()


@pytest.fixture
def masks_dict():
    """Seeded random masks (about 40% kept) for every maskable weight of Net."""
    gen = torch.Generator().manual_seed(1)
    return {name: torch.rand(shape, generator=gen) < 0.4 for name, shape in SHAPES.items()}
