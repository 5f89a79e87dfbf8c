"""Per-layer encodings against the reference edge lists of eliacunegatti/mge-snn (tests/refcases/mge.*).

compat="mge2024" must reproduce them node for node, edge for edge (order and float16 weights); the
clean unrolled graph must equal the reference restricted to real (unpadded) pixels.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sparsegraph.graphs.encodings import LayerSpec, build_layer

DATA = Path(__file__).resolve().parents[1] / "refcases"
REF = json.loads((DATA / "mge.json").read_text())
NPZ = np.load(DATA / "mge.npz")
# conv input sides, read off the architectures in mge.json (pools halve the side)
INPUT_SIDE = {
    "conv2_s1p1_i6": {"conv_a": 6, "conv_b": 6},
    "convpool_i8": {"features.0": 8, "features.3": 8, "features.7": 4},
    "minires_i7": {"conv1": 7, "layer1.0.conv1": 7, "layer1.0.conv2": 4, "layer1.0.shortcut.0": 7,
                   "layer2.0.conv1": 4, "layer2.0.conv2": 4},
}
ROWS = [(case["case"], enc, row) for case in REF["cases"] for enc in ("rolled", "rolled-channel", "unrolled")
        for row in case["expected"]["encodings"][enc]]


def spec_for(case_name, layer, support="mask"):
    case = next(c for c in REF["cases"] if c["case"] == case_name)
    module = next(m for m in case["architecture"]["modules"] if m["name"] == layer)
    weight = NPZ[f"{case_name}/{layer}/weight"]
    mask = NPZ[f"{case_name}/{layer}/mask"].astype(bool)
    conv = weight.ndim == 4
    side = INPUT_SIDE.get(case_name, {}).get(layer)
    return LayerSpec(layer, mask & (weight != 0) if support == "nonzero" else mask, weight,
                     groups=module.get("groups", 1), stride=(module.get("stride", 1),) * 2,
                     padding=(module.get("padding", 0),) * 2, input_hw=(side, side) if conv else None,
                     shortcut=module.get("role") == "projection shortcut")


def reference(case_name, enc, layer):
    key = f"{case_name}/{enc}/{layer}"
    return NPZ[key + "/src"].astype(np.int64), NPZ[key + "/dst"].astype(np.int64), NPZ[key + "/w"]


@pytest.mark.parametrize("case_name,enc,row", ROWS, ids=[f"{c}-{e}-{r['layer']}" for c, e, r in ROWS])
def test_compat_reproduces_reference_edge_lists(case_name, enc, row):
    g = build_layer(spec_for(case_name, row["layer"], "nonzero"), enc, "mge2024")
    assert (g.num_left, g.num_right, g.num_nodes, g.num_edges) == (
        row["left_nodes"], row["right_nodes"], row["num_nodes"], row["num_edges"])
    src, dst, w = reference(case_name, enc, row["layer"])
    assert np.array_equal(g.arrays.src, src)
    assert np.array_equal(g.arrays.dst, dst)
    assert np.array_equal(g.arrays.weight, w)


CONV_ROWS = [(c, r) for c, e, r in ROWS if e == "unrolled" and r["layer"] in INPUT_SIDE.get(c, {})]


@pytest.mark.parametrize("case_name,row", CONV_ROWS, ids=[f"{c}-{r['layer']}" for c, r in CONV_ROWS])
def test_clean_unrolled_is_reference_without_padding_nodes(case_name, row):
    spec = spec_for(case_name, row["layer"], "nonzero")
    clean = build_layer(spec, "unrolled")
    compat = build_layer(spec, "unrolled", "mge2024")
    P = compat.partitions[0].shape[1]
    pad = compat.partitions[0].pad
    H = spec.input_hw[0]
    src, dst, _ = reference(case_name, "unrolled", row["layer"])
    j, y, x = src // (P * P), (src // P) % P - pad, src % P - pad
    real = (0 <= y) & (y < H) & (0 <= x) & (x < H)
    expected = set(zip((j[real] * H * H + y[real] * H + x[real]).tolist(),
                       (dst[real] - compat.num_left + clean.num_left).tolist()))
    assert clean.num_left == spec.in_channels * H * H
    assert clean.num_right == compat.num_right
    assert set(zip(clean.arrays.src.tolist(), clean.arrays.dst.tolist())) == expected
    assert clean.num_edges == len(expected)


# ---- the same through sg.encode on the reference architectures (needs sg.trace) -------------------

nn = torch.nn


class BasicBlock(nn.Module):
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
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class MiniRes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(BasicBlock(4, 8, 2))
        self.layer2 = nn.Sequential(BasicBlock(8, 8, 1))
        self.linear = nn.Linear(8, 5, bias=False)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer2(self.layer1(out))
        out = torch.nn.functional.avg_pool2d(out, out.size(3))
        return self.linear(out.view(out.size(0), -1))


class MLP3(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(12, 8, bias=False), nn.Linear(8, 6, bias=False), nn.Linear(6, 4, bias=False)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class TwoConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_a, self.conv_b = nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.Conv2d(4, 8, 3, 1, 1, bias=False)

    def forward(self, x):
        return self.conv_b(torch.relu(self.conv_a(x)))


class ConvPool(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Conv2d(4, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d((2, 2)),
            nn.Conv2d(4, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d((2, 2)))
        self.classifier = nn.Sequential(nn.Linear(32, 6, bias=False), nn.ReLU(), nn.Linear(6, 5, bias=False))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


MODELS = {"mlp3": MLP3, "conv2_s1p1_i6": TwoConv, "convpool_i8": ConvPool, "minires_i7": MiniRes}


def reference_model(case):
    model = MODELS[case["case"]]()
    masks = {}
    with torch.no_grad():
        for layer in case["layers"]:
            module = model.get_submodule(layer["layer"])
            module.weight.copy_(torch.from_numpy(NPZ[layer["npz"]["weight"]]))
            masks[f"{layer['layer']}.weight"] = torch.from_numpy(NPZ[layer["npz"]["mask"]].astype(bool))
    return model.eval(), masks


def has_trace():
    import sparsegraph.topology as topology

    return hasattr(topology, "trace")


@pytest.mark.skipif(not has_trace(), reason="sg.trace is not available in this checkout")
@pytest.mark.parametrize("case", REF["cases"], ids=[c["case"] for c in REF["cases"]])
@pytest.mark.parametrize("enc", ["rolled", "rolled-channel", "unrolled"])
def test_encode_reference_models(case, enc):
    import sparsegraph as sg

    model, masks = reference_model(case)
    shape = tuple(case["architecture"]["input_shape"])
    compat = sg.encode(model, masks, encoding=enc, input_shape=shape, compat="mge2024", support="nonzero")
    clean = sg.encode(model, masks, encoding=enc, input_shape=shape)
    rows = case["expected"]["encodings"][enc]
    assert sorted(compat) == sorted(r["layer"] for r in rows)
    for row in rows:
        g = compat[row["layer"]]
        src, dst, w = reference(case["case"], enc, row["layer"])
        assert (g.num_left, g.num_right) == (row["left_nodes"], row["right_nodes"])
        assert np.array_equal(g.arrays.src, src) and np.array_equal(g.arrays.dst, dst)
        assert np.array_equal(g.arrays.weight, w)
        expected_clean = build_layer(spec_for(case["case"], row["layer"]), enc)
        assert np.array_equal(clean[row["layer"]].arrays.src, expected_clean.arrays.src)
        assert np.array_equal(clean[row["layer"]].arrays.dst, expected_clean.arrays.dst)
