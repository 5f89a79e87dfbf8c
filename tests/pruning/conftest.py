"""Test nets of spec pruning §8: a 3-layer MLP, a tiny bias-free BN VGG (4 conv + 1 FC, a chain),
a tiny ResNet (2 blocks, one 1×1 projection shortcut; the basic block of the mge reference cases);
plus helpers to snapshot a model bitwise."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from refcases.mge_nets import Block


class MLP(nn.Module):
    def __init__(self, sizes=(64, 128, 64, 10), bias=True):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1], bias=bias)
        self.fc2 = nn.Linear(sizes[1], sizes[2], bias=bias)
        self.fc3 = nn.Linear(sizes[2], sizes[3], bias=bias)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class TinyVGG(nn.Module):
    """Bias-free conv-BN-ReLU chain: 4 convs (2 max-pools), global average pool, one bias-free FC."""

    def __init__(self, channels=(16, 16, 32, 32), num_classes=10, in_channels=3):
        super().__init__()
        layers, c_in = [], in_channels
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if i % 2 == 1:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, num_classes, bias=False)

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


class TinyResNet(nn.Module):
    """Stem, an identity block, a strided block with a 1×1 projection shortcut, linear classifier."""

    def __init__(self, width=16, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = Block(width, width, 1)
        self.layer2 = Block(width, 2 * width, 2)
        self.linear = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        out = self.layer2(self.layer1(F.relu(self.bn1(self.conv1(x)))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def make_mlp(seed=0, **kw):
    torch.manual_seed(seed)
    return MLP(**kw)


def make_vgg(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyVGG(**kw)


def make_resnet(seed=0, **kw):
    torch.manual_seed(seed)
    return TinyResNet(**kw)


def image_batch(n=16, seed=1, shape=(3, 8, 8), classes=10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


def flat_batch(n=16, seed=1, features=64, classes=10):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, features), generator=g), torch.randint(0, classes, (n,), generator=g)


def snapshot(model: nn.Module) -> dict:
    """Everything scoring must leave unchanged: tensors, grads, flags, modes, global RNG states."""
    return {
        "params": {n: (p.detach().clone(), None if p.grad is None else p.grad.clone(), p.requires_grad, p.dtype)
                   for n, p in model.named_parameters()},
        "buffers": {n: b.clone() for n, b in model.named_buffers()},
        "modes": {n: m.training for n, m in model.named_modules()},
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": np.random.get_state()[1].copy(),
        "random_rng": random.getstate(),
    }


def assert_same_snapshot(a: dict, b: dict) -> None:
    assert a["params"].keys() == b["params"].keys()
    for name, (value, grad, requires_grad, dtype) in a["params"].items():
        value2, grad2, requires_grad2, dtype2 = b["params"][name]
        assert dtype == dtype2 and requires_grad == requires_grad2, name
        assert torch.equal(value, value2), name
        assert (grad is None) == (grad2 is None), name
        if grad is not None:
            assert torch.equal(grad, grad2), name
    assert a["buffers"].keys() == b["buffers"].keys()
    for name in a["buffers"]:
        assert torch.equal(a["buffers"][name], b["buffers"][name]), name
    assert a["modes"] == b["modes"]
    assert torch.equal(a["torch_rng"], b["torch_rng"])
    assert np.array_equal(a["numpy_rng"], b["numpy_rng"])
    assert a["random_rng"] == b["random_rng"]


@pytest.fixture
def mlp():
    return make_mlp()


@pytest.fixture
def vgg():
    return make_vgg()


@pytest.fixture
def resnet():
    return make_resnet()


@pytest.fixture
def h():
    """Factories and helpers for test modules (importlib mode cannot import conftest directly)."""
    return SimpleNamespace(make_mlp=make_mlp, make_vgg=make_vgg, make_resnet=make_resnet, MLP=MLP,
                           TinyVGG=TinyVGG, TinyResNet=TinyResNet, image_batch=image_batch,
                           flat_batch=flat_batch, snapshot=snapshot, assert_same_snapshot=assert_same_snapshot)


def zoo_model(name: str, **kw):
    """A full-size zoo model, or skip when the zoo has not landed in this checkout."""
    import sparsegraph as sg

    try:
        return sg.create_model(name, **kw)
    except (AttributeError, ImportError) as exc:
        pytest.skip(f"sg.create_model is unavailable: {exc}")


@pytest.fixture
def zoo():
    return zoo_model


# ---- PAGS / PEGS / IMP / Early-Bird: lenet5 on the embedded digits ----------------------------------
PAGS_TIMING_FIELDS = ("time", "elapsed_s", "generate_s", "metric_s", "seconds")
_DIGITS = {}


def _digits():
    from sparsegraph.training import load_train_data

    if "data" not in _DIGITS:
        _DIGITS["data"] = load_train_data("digits")
    return _DIGITS["data"]


def _lenet(seed: int = 0):
    import sparsegraph as sg

    return sg.create_model("lenet5", num_classes=10, input_shape=(1, 8, 8), seed=seed)


def _stable_rows(rows, events=("pags_sample", "pags_snapshot")):
    """The rows of ``events`` without wall-clock fields (those differ between runs by nature)."""
    return [{k: v for k, v in r.items() if k not in PAGS_TIMING_FIELDS} for r in rows if r["event"] in events]


def _same_masks(a, b) -> bool:
    return list(a) == list(b) and all(bool((a[n] == b[n]).all()) for n in a)


@pytest.fixture
def kit():
    """lenet5/digits factories and row helpers for the sampler and baseline tests."""
    return SimpleNamespace(digits=_digits, lenet=_lenet, stable=_stable_rows, same_masks=_same_masks)
