"""Per-layer encodings against the reference edge lists of eliacunegatti/mge-snn (tests/refcases/mge.*).

compat="mge2024" must reproduce them node for node, edge for edge (order and float16 weights); the
clean unrolled graph must equal the reference restricted to real (unpadded) pixels.
"""

import numpy as np
import pytest

from refcases.mge_nets import input_shape, load_mge_refcases, reference_model

import sparsegraph as sg
from sparsegraph.graphs.encodings import LayerSpec, build_layer

CASES, NPZ = load_mge_refcases()
# conv input sides, read off the architectures in mge.json (pools halve the side)
INPUT_SIDE = {
    "conv2_s1p1_i6": {"conv_a": 6, "conv_b": 6},
    "convpool_i8": {"features.0": 8, "features.3": 8, "features.7": 4},
    "minires_i7": {"conv1": 7, "layer1.0.conv1": 7, "layer1.0.conv2": 4, "layer1.0.shortcut.0": 7,
                   "layer2.0.conv1": 4, "layer2.0.conv2": 4},
}
ROWS = [(name, enc, row) for name, case in CASES.items() for enc in ("rolled", "rolled-channel", "unrolled")
        for row in case["expected"]["encodings"][enc]]


def spec_for(case_name, layer, support="mask"):
    module = next(m for m in CASES[case_name]["architecture"]["modules"] if m["name"] == layer)
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


# ---- the same through sg.encode on the reference architectures ---------------------------------------


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("enc", ["rolled", "rolled-channel", "unrolled"])
def test_encode_reference_models(name, enc):
    case = CASES[name]
    model, masks = reference_model(name)
    shape = input_shape(name)
    compat = sg.encode(model, masks, encoding=enc, input_shape=shape, compat="mge2024", support="nonzero")
    clean = sg.encode(model, masks, encoding=enc, input_shape=shape)
    rows = case["expected"]["encodings"][enc]
    assert sorted(compat) == sorted(r["layer"] for r in rows)
    for row in rows:
        g = compat[row["layer"]]
        src, dst, w = reference(name, enc, row["layer"])
        assert (g.num_left, g.num_right) == (row["left_nodes"], row["right_nodes"])
        assert np.array_equal(g.arrays.src, src) and np.array_equal(g.arrays.dst, dst)
        assert np.array_equal(g.arrays.weight, w)
        expected_clean = build_layer(spec_for(name, row["layer"]), enc)
        assert np.array_equal(clean[row["layer"]].arrays.src, expected_clean.arrays.src)
        assert np.array_equal(clean[row["layer"]].arrays.dst, expected_clean.arrays.dst)
