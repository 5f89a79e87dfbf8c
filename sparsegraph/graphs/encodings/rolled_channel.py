"""The rolled-channel encoding (graphs.md §2.2; Prabhu et al., ECCV 2018).

Left = Cin, right = Cout. Edge ``j -> o`` iff j is in o's group and the slice
``W[o, j − g·Cin/G, :, :]`` has a supported tap; its weight (both ``weight`` and
``signed_weight``) is the float32 L2 norm of the slice over its supported taps,
``sqrt(Σ_{supported (a,b)} W[o,jl,a,b]²)``. Linear layers are as in the rolled encoding.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.graphs.bipartite import BipartiteGraph, assemble
from sparsegraph.graphs.encodings import rolled
from sparsegraph.graphs.encodings.spec import LayerSpec


def _slice_support(spec: LayerSpec) -> np.ndarray:
    return spec.support.any(axis=(2, 3))  # (Cout, Cin/G)


def count_nodes(spec: LayerSpec, compat: str | None = None) -> int:
    if not spec.is_conv:
        return rolled.count_nodes(spec, compat)
    return spec.in_channels + spec.out_channels


def count_edges(spec: LayerSpec, compat: str | None = None) -> int:
    if not spec.is_conv:
        return rolled.count_edges(spec, compat)
    return int(np.count_nonzero(_slice_support(spec)))


def build(spec: LayerSpec, compat: str | None = None) -> BipartiteGraph:
    if not spec.is_conv:
        graph = rolled.build(spec, compat)
        graph.attrs["encoding"] = "rolled-channel"
        return graph
    cout, cin_g = spec.support.shape[:2]
    cout_g = cout // spec.groups
    o, jl = np.nonzero(_slice_support(spec))
    j = (o // cout_g) * cin_g + jl
    order = np.lexsort((o, j))  # ascending (j, o)
    o, jl, j = o[order], jl[order], j[order]
    norms = None
    if spec.weight is not None:
        # float64 accumulation, then one rounding: the correctly rounded float32 norm
        kept = np.where(spec.support, spec.weight.astype(np.float64), 0.0)
        norms = np.sqrt((kept * kept).sum(axis=(2, 3)))[o, jl].astype(np.float32)
    left = ((spec.in_channels,), "c", 0)
    right = ((cout,), "c")
    graph = assemble(spec, "rolled-channel", left, right, j, o, norms, compat)
    return graph
