"""compat="mge2024" MGE against the reference edge lists of eliacunegatti/mge-snn (tests/refcases/mge.*).

The reference cases' architectures are rebuilt as torch modules (tests/refcases/mge_nets.py) with the
reference weights; node and edge counts, partition sizes, partition-pair counts, and the edge lists (ids,
order and float16 weights) must match exactly.
"""

import numpy as np
import pytest

from refcases.mge_nets import NETS, input_shape, load_mge_refcases, reference_model

import sparsegraph as sg

REF, NPZ = load_mge_refcases()


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


@pytest.mark.parametrize("name", list(NETS))
def test_stream_tables_match_build(name):
    from sparsegraph.graphs.mge import stream_mge

    model, masks = reference_model(name)
    g = sg.encode(model, masks, encoding="mge", input_shape=input_shape(name), compat="mge2024")
    stream = stream_mge(model, masks, "mge", input_shape(name), "mge2024", None, None)
    assert [s.to_dict() for s in stream.edge_sets] == [s.to_dict() for s in g.edge_sets]
    parts = [arrays for _, arrays in stream.iter_sets()]
    assert np.array_equal(np.concatenate([p.src for p in parts]), g.arrays.src)
    assert np.array_equal(np.concatenate([p.weight for p in parts]), g.arrays.weight)
