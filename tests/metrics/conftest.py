"""Registry isolation for the metric tests: every test that registers metrics gets its own registry."""

import pytest

from sparsegraph.metrics import registry

FAKE_BUILTIN_MODULE = "sparsegraph.metrics._test_builtin"


@pytest.fixture
def empty_registry(monkeypatch):
    """An empty registry with plugin discovery switched off; restored after the test."""
    monkeypatch.setattr(registry, "_PREPARERS", {})
    with registry.METRICS.sandbox(empty=True):
        yield registry


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the real registry (built-ins and plugins) that the test may add to."""
    monkeypatch.setattr(registry, "_PREPARERS", dict(registry._PREPARERS))
    with registry.METRICS.sandbox():  # built-ins and plugins discovered before copying
        yield registry


@pytest.fixture
def as_builtin():
    """A decorator making a function look defined inside sparsegraph (built-in families are reserved)."""
    def mark(func):
        func.__module__ = FAKE_BUILTIN_MODULE
        return func

    return mark


# ------------------------------------------------------------------------------ paths reference cases
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

PATHS_REFCASES = Path(__file__).resolve().parents[1] / "refcases"


class _RefBlock(nn.Module):
    """The authors' tinyimagenet_resnet.BasicBlock: relu(residual_function(x) + shortcut(x))."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.residual_function = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return torch.relu(self.residual_function(x) + self.shortcut(x))


class _RefMiniResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU())
        self.conv2_x = nn.Sequential(_RefBlock(4, 4, 1))
        self.conv3_x = nn.Sequential(_RefBlock(4, 8, 2))
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.conv3_x(self.conv2_x(self.conv1(x)))
        return self.fc(torch.flatten(self.avg_pool(x), 1))


def _sequential(modules: list[dict]) -> nn.Sequential:
    built = []
    for m in modules:
        if m["type"] == "Flatten":
            built.append(nn.Flatten())
        elif m["type"] == "ReLU":
            built.append(nn.ReLU())
        elif m["type"] == "Linear":
            built.append(nn.Linear(m["in_features"], m["out_features"], bias=m["bias"]))
        elif m["type"] == "Conv2d":
            built.append(nn.Conv2d(m["in_channels"], m["out_channels"], m["kernel_size"], m["stride"],
                                   m["padding"], bias=m["bias"]))
        else:
            raise AssertionError(f"unexpected module {m}")
    return nn.Sequential(*built)


@pytest.fixture(scope="session")
def paths_refcases():
    """name -> (model, masks, input_shape, case dict, effective masks {convention: {param: bool tensor}})."""
    doc = json.loads((PATHS_REFCASES / "paths.json").read_text())
    arrays = np.load(PATHS_REFCASES / "paths.npz")
    cases = {}
    for case in doc["cases"]:
        arch = case["architecture"]
        modules = arch["modules"]
        model = _RefMiniResNet() if case["case"] == "resnet_mini_basicblock" else _sequential(modules)
        names = {n for n, _ in model.named_modules()}
        assert all(m["name"] in names for m in modules), case["case"]
        masks, effective = {}, {"exact": {}, "npb2023": {}}
        for row in case["layers"]:
            param = row["layer"] + ".weight"
            masks[param] = torch.from_numpy(arrays[row["npz"]["mask"]].astype(bool))
            for convention in effective:
                effective[convention][param] = torch.from_numpy(
                    arrays[row["npz"][f"effective_{convention}"]].astype(bool))
        cases[case["case"]] = (model, masks, tuple(arch["input_shape"]), case, effective)
    return cases
