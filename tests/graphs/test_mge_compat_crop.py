"""compat="mge2024" on nets whose first convolution is stride-cropped (graphs.md §2.5, Q1).

When ``s`` does not divide ``I + 2p − k`` the published code drops the last padded rows and columns of the
first layer's grid (``P = (o−1)s + k``) and keeps every edge: no pooled layer is needed after it. The
expected graphs come from an independent, loop-by-loop construction of the published algorithm (one
unrolled bipartite graph per layer on its padded grid, padding nodes of later layers deleted and the rest
renumbered in order, layers concatenated at offsets ``sum(dim[:t])``) and from closed-form counts.
"""

import numpy as np
import pytest
import torch
from torch import nn

from refcases.topo_graphs import layered_graph

import sparsegraph as sg
from sparsegraph.metrics import compute, list_metrics
from sparsegraph.metrics.cache import metric_cache


def published_chain(convs, side):
    """Nodes and edges (published order) of a conv chain, built the way mge-snn builds it."""
    dim, src, dst, w = [], [], [], []
    offset = 0
    for t, conv in enumerate(convs):
        weight = conv.weight.detach().numpy()
        cout, cin, k, _ = weight.shape
        s, p = conv.stride[0], conv.padding[0]
        o = (side + 2 * p - k) // s + 1
        P = side + 2 * p if (side + 2 * p - k) % s == 0 else (o - 1) * s + k
        Q = P - 2 * p
        left = cin * P * P if t == 0 else cin * Q * Q
        if t == 0:
            dim.append(left)
        dim.append(cout * o * o)
        for j in range(cin):
            for c in range(cout):
                for oy in range(o):
                    for ox in range(o):
                        for b in range(k):
                            for a in range(k):
                                if weight[c, j, a, b] == 0:
                                    continue
                                y, x = oy * s + a, ox * s + b
                                if t == 0:
                                    v = j * P * P + y * P + x
                                elif p <= y < P - p and p <= x < P - p:  # padding nodes are deleted
                                    v = j * Q * Q + (y - p) * Q + (x - p)
                                else:
                                    continue
                                src.append(offset + v)
                                dst.append(offset + left + c * o * o + oy * o + ox)
                                w.append(abs(weight[c, j, a, b]))
        offset += dim[t]
        side = o
    weights = np.array(w, np.float32).astype(np.float16).astype(np.float32)
    return dim, np.array(src, np.int64), np.array(dst, np.int64), weights


def masked(model, density, seed):
    g = torch.Generator().manual_seed(seed)
    masks = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            masks[f"{name}.weight"] = torch.rand(m.weight.shape, generator=g) < density
            with torch.no_grad():
                m.weight.mul_(masks[f"{name}.weight"])
    return masks


NETS = {
    # 2x6x6, 3x3/2/p1 stem: P0 = 8, 8 - 3 odd -> o = 3, P = 7; then a 3x3/1/p1 conv on 3x3
    "stem_crop_i6": (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, 2, 1, bias=False), nn.ReLU(),
                                   nn.Conv2d(3, 4, 3, 1, 1, bias=False)), (2, 6, 6)),
    # MNIST-sized stem: 1x28x28, 3x3/2/p1: P0 = 30 -> o = 14, P = 29; then two convs on 14x14
    "stem_crop_i28": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1, bias=False), nn.ReLU(),
                                    nn.Conv2d(4, 4, 3, 1, 1, bias=False), nn.ReLU(),
                                    nn.Conv2d(4, 2, 3, 1, 1, bias=False)), (1, 28, 28)),
}


def test_dense_stem_crop_closed_form_counts():
    model = NETS["stem_crop_i6"][0]()
    g = sg.encode(model, None, encoding="mge", input_shape=(2, 6, 6), compat="mge2024")
    # partition 0 = 2·7² padded-and-cropped input; 3·3² and 4·3² outputs
    assert [p.size for p in g.partitions] == [98, 27, 36] and g.num_nodes == 161
    # stem: every tap of every output position is an edge (2·3·9 taps × 9 positions); second conv: taps
    # that read padding are dropped, so per side a = 0, 1, 2 reaches 2, 3, 2 outputs: 3·4·(2+3+2)²
    assert g.num_edges == 2 * 3 * 9 * 9 + 3 * 4 * 7 ** 2 == 1074
    assert g.partitions[0].shape == (2, 7, 7) and g.partitions[0].pad == 1


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("density", [1.0, 0.4])
def test_stem_crop_reproduces_published_construction(name, density):
    build, shape = NETS[name]
    model = build()
    masks = masked(model, density, seed=1) if density < 1 else None
    g = sg.encode(model, masks, encoding="mge", input_shape=shape, compat="mge2024")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    dim, src, dst, w = published_chain(convs, shape[1])
    assert [p.size for p in g.partitions] == dim and g.num_nodes == sum(dim)
    assert g.num_edges == src.size
    assert np.array_equal(g.arrays.src, src) and np.array_equal(g.arrays.dst, dst)
    assert np.array_equal(g.arrays.weight, w)
    # the size estimate agrees with the build
    assert sum(s.num_edges for s in g.edge_sets) == src.size


@pytest.mark.parametrize("name", list(NETS))
def test_every_topometric_is_defined_on_a_stem_crop_graph(name):
    build, shape = NETS[name]
    model = build()
    masks = masked(model, 0.5, seed=2)
    g = sg.encode(model, masks, encoding="mge", input_shape=shape, compat="mge2024")
    dim, src, dst, w = published_chain([m for m in model.modules() if isinstance(m, nn.Conv2d)], shape[1])
    reference = layered_graph(dim, src, dst, w, compat="mge2024")
    names = [info.name for info in list_metrics("topo.*") if info.name != "topo.motifs"]
    with metric_cache():
        got = {n: compute(n, g) for n in names}
    with metric_cache():
        want = {n: compute(n, reference) for n in names}
    assert got == pytest.approx(want, rel=1e-9)
    assert all(v is not None and np.isfinite(v) for v in got.values())
    # plain degree counts on the independent edge list
    out_deg = np.bincount(src, minlength=sum(dim))
    in_deg = np.bincount(dst, minlength=sum(dim))
    assert got["topo.disconnected_nodes"] == int(((out_deg == 0) & (in_deg == 0)).sum())
    assert got["topo.one_hop"] == pytest.approx(1 + src.size / sum(dim), rel=1e-12)
