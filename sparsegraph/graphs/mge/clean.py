"""The clean multipartite encoding (graphs.md §2.4), edge set by edge set.

Member sets are propagated through the traced DAG once (:mod:`.members`). A layer's edges are then
its per-layer unrolled (conv) or rolled (linear) connections on the shape of its input tensor, each
connection ``e -> u`` repeated from every member of e; an addition's non-candidate operands give
weight-1 identity edges from each member of element e to the main partition's node at e.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import scipy.sparse as sp

from sparsegraph.errors import UnsupportedOpError
from sparsegraph.graphs.base import EdgeArrays
from sparsegraph.graphs.encodings import build_layer
from sparsegraph.graphs.encodings.spec import LayerSpec, output_size, valid_outputs
from sparsegraph.graphs.mge.members import (MemberMap, adaptive_matrix, index_source, spatial_operator,
                                            window_matrix)
from sparsegraph.graphs.mge.structure import Plan, SetPlan


def propagate(plan: Plan) -> dict[int, MemberMap]:
    """The member map of every DAG tensor that feeds an edge set."""
    topology = plan.topology
    nodes = topology.nodes
    offsets = plan.offsets
    needed = {i for s in plan.sets for i in s.sources}
    last_use: dict[int, int] = {}
    for node in nodes:
        for i in node.inputs:
            last_use[i] = node.id
    maps: dict[int, MemberMap] = {}
    for node in nodes:
        size = int(np.prod(node.out_shape))
        if node.kind in ("input", "layer", "add"):
            p = plan.node_partition[node.id]
            maps[node.id] = MemberMap.identity(int(offsets[p]), size)
        elif node.kind in ("reshape", "slice", "pad"):
            source = index_source(tuple(nodes[node.inputs[0]].out_shape), node.kind, node.params)
            maps[node.id] = maps[node.inputs[0]].gather(source)
        elif node.kind == "cat":
            stacked, bases = MemberMap.concatenate([maps[i] for i in node.inputs])
            grids = [np.arange(maps[i].num_elements, dtype=np.int64).reshape(nodes[i].out_shape) + base
                     for i, base in zip(node.inputs, bases)]
            maps[node.id] = stacked.gather(np.concatenate(grids, axis=node.params["sample_dim"]).ravel())
        elif node.kind in ("pool", "adaptive_pool", "global_pool"):
            maps[node.id] = maps[node.inputs[0]].apply(_pool_operator(node, tuple(nodes[node.inputs[0]].out_shape)))
        elif node.kind == "output":
            continue
        else:
            raise UnsupportedOpError(node.kind, node.module, "no member-set rule for this DAG node kind")
        for i in node.inputs:  # drop maps that no later node or edge set reads
            if last_use.get(i) == node.id and i not in needed:
                maps.pop(i, None)
    return {i: maps[i] for i in needed}


def _pool_operator(node, in_shape: tuple[int, ...]) -> sp.csr_array:
    C, H, W = in_shape
    if node.kind == "global_pool":
        ones = sp.csr_array(np.ones((1, H * W), dtype=np.float32))
        return sp.csr_array(sp.kron(sp.identity(C, dtype=np.float32, format="csr"), ones, format="csr"))
    Ho, Wo = (node.out_shape[1], node.out_shape[2]) if len(node.out_shape) == 3 else (1, 1)
    if node.kind == "adaptive_pool":
        return spatial_operator(C, adaptive_matrix(H, Ho), adaptive_matrix(W, Wo))
    k, s, p, d = (node.params[key] for key in ("kernel", "stride", "padding", "dilation"))
    return spatial_operator(C, window_matrix(H, Ho, k[0], s[0], p[0], d[0]),
                            window_matrix(W, Wo, k[1], s[1], p[1], d[1]))


def merge_sorted(src: np.ndarray, dst: np.ndarray, signed: np.ndarray, num_nodes: int, presorted: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Sort edges by (source, target) and merge repeated pairs.

    Returns:
        ``(src, dst, weight, signed_weight, multiplicity)``; ``multiplicity`` is None when no pair
        repeats. Merged weights are the sums of ``|w|`` and of ``w``.
    """
    if not presorted and src.size:
        order = np.argsort(src * num_nodes + dst, kind="stable")
        src, dst, signed = src[order], dst[order], signed[order]
    weight = np.abs(signed)
    if src.size < 2:
        return src, dst, weight, signed, None
    new = np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])]
    if new.all():
        return src, dst, weight, signed, None
    starts = np.flatnonzero(new)
    multiplicity = np.diff(np.r_[starts, src.size]).astype(np.int32)
    return (src[starts], dst[starts], np.add.reduceat(weight, starts).astype(np.float32),
            np.add.reduceat(signed, starts).astype(np.float32), multiplicity)


class CleanEdges:
    """Generates the clean MGE's edge sets one at a time.

    Args:
        plan: the partition/edge-set plan.
        specs: layer FQN -> :class:`LayerSpec` (support, weights, geometry).
    """

    def __init__(self, plan: Plan, specs: Mapping[str, LayerSpec]):
        self.plan = plan
        self.specs = specs
        self.maps = propagate(plan)
        self.offsets = plan.offsets
        self.num_nodes = int(self.offsets[-1])

    def may_merge(self, s: SetPlan) -> bool:
        """Whether set s can repeat a (source, target) pair (overlapping member sets)."""
        if s.kind == "identity":
            return len(s.sources) > 1 and not MemberMap.concatenate([self.maps[i] for i in s.sources])[0].is_disjoint()
        return not self.maps[s.sources[0]].is_disjoint()

    def count(self, s: SetPlan) -> int:
        """Edges of set s before merging, from the support and the member counts alone."""
        if s.kind == "identity":
            return int(sum(self.maps[i].indices.size for i in s.sources))
        spec = self.specs[s.name]
        lengths = self.maps[s.sources[0]].lengths
        if not spec.is_conv:
            return int((spec.support.sum(axis=0, dtype=np.int64) * lengths).sum())
        return conv_count(spec, lengths)

    def generate(self, s: SetPlan, index: int) -> EdgeArrays:
        """Set s's edges (global ids, canonical order, duplicates merged)."""
        target = int(self.offsets[s.target])
        if s.kind == "identity":
            srcs, dsts = [], []
            for i in s.sources:
                m = self.maps[i]
                srcs.append(m.indices)
                dsts.append(target + np.repeat(np.arange(m.num_elements, dtype=np.int64), m.lengths))
            src, dst = np.concatenate(srcs), np.concatenate(dsts)
            presorted = len(s.sources) == 1 and self.maps[s.sources[0]].is_monotone()
            signed = np.ones(src.size, dtype=np.float32)
        else:
            member_map = self.maps[s.sources[0]]
            layer = build_layer(self.specs[s.name], "unrolled")
            a = layer.arrays
            position, src = member_map.expand(a.src)
            dst = target + (a.dst - layer.num_left)[position]
            signed = a.signed_weight[position]
            presorted = member_map.is_monotone()
        src, dst, weight, signed, multiplicity = merge_sorted(src, dst, signed, self.num_nodes, presorted)
        return EdgeArrays(src, dst, weight, signed, np.full(src.size, index, dtype=np.int32), multiplicity)


def conv_count(spec: LayerSpec, lengths: np.ndarray) -> int:
    """``Σ_taps Σ_(o,jl) supported Σ_(oy,ox) |members(j, y, x)|`` over the output positions reading real pixels."""
    H, W = spec.input_hw
    kh, kw = spec.support.shape[2:]
    cout, cin_g = spec.support.shape[:2]
    per_input = spec.support.reshape(spec.groups, cout // spec.groups, cin_g, kh, kw).sum(
        axis=1, dtype=np.int64).reshape(spec.in_channels, kh, kw)  # supported pairs per (j, a, b)
    grid = lengths.reshape(spec.in_channels, H, W)
    s, p, d = spec.stride, spec.padding, spec.dilation
    Ho = output_size(H, kh, s[0], p[0], d[0])
    Wo = output_size(W, kw, s[1], p[1], d[1])
    # reach[j, a, b] = Σ_{y ∈ rows(a), x ∈ cols(b)} grid[j, y, x], as Ry · grid_j · Cxᵀ with 0/1 selectors
    rows = np.zeros((kh, H), dtype=np.int64)
    for a in range(kh):
        lo_h, hi_h = valid_outputs(H, Ho, a, s[0], p[0], d[0])
        rows[a, np.arange(lo_h, hi_h) * s[0] - p[0] + a * d[0]] = 1
    cols = np.zeros((kw, W), dtype=np.int64)
    for b in range(kw):
        lo_w, hi_w = valid_outputs(W, Wo, b, s[1], p[1], d[1])
        cols[b, np.arange(lo_w, hi_w) * s[1] - p[1] + b * d[1]] = 1
    reach = (rows @ grid.astype(np.int64, copy=False)) @ cols.T
    return int((per_input * reach).sum())
