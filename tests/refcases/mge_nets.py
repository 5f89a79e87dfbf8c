"""The networks of the mge-snn reference cases (``mge.{json,npz}`` here), rebuilt as torch modules.

Shared by the tests that encode the reference architectures (tests/graphs, tests/metrics); importable
as ``refcases.mge_nets`` because setup.cfg puts ``tests`` on the pytest path.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REFCASES = Path(__file__).resolve().parent


@functools.cache
def load_mge_refcases() -> tuple[dict, dict]:
    """``(cases by name, npz arrays by key)`` of ``mge.{json,npz}``, read once per session."""
    doc = json.loads((REFCASES / "mge.json").read_text())
    with np.load(REFCASES / "mge.npz") as arrays:
        return {case["case"]: case for case in doc["cases"]}, {k: arrays[k] for k in arrays.files}


class MLP3(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 8, bias=False)
        self.fc2 = nn.Linear(8, 6, bias=False)
        self.fc3 = nn.Linear(6, 4, bias=False)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Conv2(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.conv_b = nn.Conv2d(4, 8, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv_b(F.relu(self.conv_a(x)))


class ConvPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d((2, 2)),
            nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d((2, 2)))
        self.classifier = nn.Sequential(nn.Linear(32, 6, bias=False), nn.ReLU(), nn.Linear(6, 5, bias=False))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Block(nn.Module):
    """The ResNet basic block: identity shortcut, or a 1x1 projection (conv + BN) when the shape changes."""

    def __init__(self, cin, cout, stride):
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
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class MiniRes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(Block(4, 8, 2))
        self.layer2 = nn.Sequential(Block(8, 8, 1))
        self.linear = nn.Linear(8, 5, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        out = F.avg_pool2d(out, out.size(3))
        return self.linear(out.view(out.size(0), -1))


NETS = {"mlp3": MLP3, "conv2_s1p1_i6": Conv2, "convpool_i8": ConvPool, "minires_i7": MiniRes}


def reference_model(case: str) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """The case's network (eval mode) with the reference (already masked) weights, and its masks."""
    cases, arrays = load_mge_refcases()
    model = NETS[case]()
    masks = {}
    with torch.no_grad():
        for row in cases[case]["layers"]:
            module = model.get_submodule(row["layer"])
            module.weight.copy_(torch.from_numpy(arrays[row["npz"]["weight"]]))
            masks[row["layer"] + ".weight"] = torch.from_numpy(arrays[row["npz"]["mask"]].astype(bool))
    return model.eval(), masks


def input_shape(case: str) -> tuple[int, ...]:
    """The case's input shape without the batch dimension."""
    return tuple(load_mge_refcases()[0][case]["architecture"]["input_shape"])
