"""Small graphs shared by the converter and file-format tests."""

import numpy as np
import pytest
import torch

import sparsegraph as sg
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition


def conv_layers(seed=0):
    """Three layers with stride, padding, groups and a linear head, as unrolled BipartiteGraphs."""
    g = torch.Generator().manual_seed(seed)
    specs = [("features.0", (4, 3, 3, 3), dict(input_hw=5, stride=2, padding=1)),
             ("features.2", (6, 2, 3, 3), dict(input_hw=3, padding=1, groups=2)),
             ("classifier", (5, 54), {})]
    graphs = {}
    for name, shape, geo in specs:
        w = torch.randn(shape, generator=g)
        mask = torch.rand(shape, generator=g) < 0.5
        graphs[name] = sg.bipartite(mask, w, "unrolled", name=name, **geo)
    return graphs


@pytest.fixture
def bipartite_graph():
    return conv_layers()["features.0"]


@pytest.fixture
def layer_graphs():
    return sg.LayerGraphs(conv_layers(), {"encoding": "unrolled", "model": "test:Net", "support": "mask",
                                          "weighted": True, "input_shape": [3, 5, 5], "unmasked_layers": []})


def multipartite_graph():
    """A whole-network style graph: input (2,2,2) -> conv (3,2,2) -> linear (4), an identity set that
    repeats a (source, target) pair of the conv set, an empty set, and names that need sanitising."""
    parts = [Partition(0, "input", "input", "", 0, 8, (2, 2, 2), "chw"),
             Partition(1, "block.conv", "conv", "block.conv", 8, 12, (3, 2, 2), "chw"),
             Partition(2, "meta", "linear", "meta", 20, 4, (4,), "f")]
    conv = [(0, 8, 0.5), (0, 9, -0.25), (3, 12, 1.5), (7, 19, 2.0)]
    ident = [(0, 8, 1.0), (1, 9, 1.0)]
    fc = [(8, 20, -0.75), (19, 23, 0.125), (12, 21, 3.0)]
    rows = [(s, d, w, 0) for s, d, w in conv] + [(s, d, w, 1) for s, d, w in ident] + [(s, d, w, 3) for s, d, w in fc]
    src, dst, w, sets = (np.array(c) for c in zip(*rows))
    arrays = EdgeArrays(src.astype(np.int64), dst.astype(np.int64), np.abs(w).astype(np.float32),
                        w.astype(np.float32), sets.astype(np.int32))
    edge_sets = [EdgeSet(0, "block.conv", "conv", (0,), (1,), 4), EdgeSet(1, "block.identity", "identity", (0,), (1,), 2),
                 EdgeSet(2, "empty.set", "linear", (1,), (2,), 0), EdgeSet(3, "fc", "linear", (1,), (2,), 3)]
    return Graph(parts, edge_sets, arrays, {"encoding": "test-multipartite", "model": "test:Net", "weighted": True})


@pytest.fixture
def general_graph():
    return multipartite_graph()
