"""compat="mge2024" MGE against the reference edge lists of eliacunegatti/mge-snn (tests/refcases/mge.*).

The reference cases' architectures are rebuilt here as torch modules with the reference weights;
node and edge counts, partition sizes, partition-pair counts, and the edge lists (ids, order and
float16 weights) must match exactly.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg

DATA = Path(__file__).resolve().parents[1] / "refcases"
REF = {c["case"]: c for c in json.loads((DATA / "mge.json").read_text())["cases"]}
NPZ = np.load(DATA / "mge.npz")


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


def reference_model(name):
    """The case's network with the reference (masked) weights, and its masks."""
    model = NETS[name]()
    masks = {}
    with torch.no_grad():
        for row in REF[name]["layers"]:
            module = model.get_submodule(row["layer"])
            module.weight.copy_(torch.from_numpy(NPZ[row["npz"]["weight"]]))
            masks[row["layer"] + ".weight"] = torch.from_numpy(NPZ[row["npz"]["mask"]].astype(bool))
    return model, masks


def input_shape(name):
    return tuple(REF[name]["architecture"]["input_shape"])


@pytest.mark.parametrize("name", list(NETS))
def test_compat_counts_and_partitions(name):
    model, masks = reference_model(name)
    g = sg.encode(model, masks, encoding="mge", input_shape=input_shape(name), compat="mge2024")
    exp = REF[name]["expected"]["encodings"]["mge"]["mge2024"]
    assert g.num_nodes == exp["num_nodes"]
    assert g.num_edges == exp["num_edges"]
    assert [p.size for p in g.partitions] == exp["partition_sizes"]
    part = np.searchsorted(g.offsets, np.stack([g.arrays.src, g.arrays.dst]), side="right") - 1
    pairs, counts = np.unique(part.T, axis=0, return_counts=True)
    assert {f"{a}->{b}": int(c) for (a, b), c in zip(pairs, counts)} == exp["partition_pair_edges"]
    assert int((g.arrays.src == g.arrays.dst).sum()) == exp["self_loops"]
    keys = g.arrays.src * g.num_nodes + g.arrays.dst
    assert keys.size - np.unique(keys).size == exp["multi_edges"]
    degree = np.bincount(np.r_[g.arrays.src, g.arrays.dst], minlength=g.num_nodes)
    assert int((degree == 0).sum()) == exp["isolated_nodes"]


@pytest.mark.parametrize("name", list(NETS))
def test_compat_reproduces_reference_edge_list(name):
    model, masks = reference_model(name)
    g = sg.encode(model, masks, encoding="mge", input_shape=input_shape(name), compat="mge2024")
    key = f"{name}/mge2024/"
    assert np.array_equal(g.arrays.src, NPZ[key + "src"].astype(np.int64))
    assert np.array_equal(g.arrays.dst, NPZ[key + "dst"].astype(np.int64))
    assert g.arrays.weight.dtype == np.float32
    assert np.array_equal(g.arrays.weight, NPZ[key + "w"])
    assert np.array_equal(g.arrays.weight, np.abs(g.arrays.signed_weight).astype(np.float16).astype(np.float32))
    assert g.attrs["compat"] == "mge2024" and g.attrs["merged_edges"] is False


@pytest.mark.parametrize("name", ["mlp3", "conv2_s1p1_i6", "convpool_i8", "minires_i7"])
def test_stream_tables_match_build(name):
    from sparsegraph.graphs.mge import stream_mge

    model, masks = reference_model(name)
    g = sg.encode(model, masks, encoding="mge", input_shape=input_shape(name), compat="mge2024")
    stream = stream_mge(model, masks, "mge", input_shape(name), "mge2024", None, None)
    assert [s.to_dict() for s in stream.edge_sets] == [s.to_dict() for s in g.edge_sets]
    parts = [arrays for _, arrays in stream.iter_sets()]
    assert np.array_equal(np.concatenate([p.src for p in parts]), g.arrays.src)
    assert np.array_equal(np.concatenate([p.weight for p in parts]), g.arrays.weight)
