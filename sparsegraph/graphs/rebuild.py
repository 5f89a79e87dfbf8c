"""Turn what a reader parsed (graph attributes and edge columns) back into graph objects."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition, node_partition, stored_attributes

#: encoding -> factory(partitions, edge_sets, arrays, attrs) for whole-network graph classes
GRAPH_CLASSES: dict[str, Callable[..., Graph]] = {}
LAYER_ENCODING_NAMES = ("rolled", "rolled-channel", "unrolled")


def tables(meta: dict[str, Any]) -> tuple[list[Partition], list[EdgeSet]]:
    try:
        partitions = [Partition.from_dict(p) for p in meta["partitions"]]
        edge_sets = [EdgeSet.from_dict(s) for s in meta["edge_sets"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise GraphFileError(f"graph attributes lack a valid partition or edge-set table ({exc})") from None
    _check_tables(partitions, edge_sets)
    return partitions, edge_sets


def _check_tables(partitions: list[Partition], edge_sets: list[EdgeSet]) -> None:
    """Partitions numbered in order and contiguous from node 0; sets numbered in order, joining real partitions."""
    offset = 0
    for i, p in enumerate(partitions):
        if not (isinstance(p.offset, int) and isinstance(p.size, int)) or p.index != i or p.offset != offset \
                or p.size < 0 or not all(isinstance(d, int) for d in p.shape) or math.prod(p.shape) != p.size:
            raise GraphFileError(f"partition table entry {i} ({p.name!r}) has index {p.index}, offset {p.offset}, "
                                 f"size {p.size} and shape {list(p.shape)}; expected index {i}, offset {offset} "
                                 "and the size the shape gives")
        offset += p.size
    for i, s in enumerate(edge_sets):
        ends = (*s.src_partitions, *s.dst_partitions)
        if s.index != i or not isinstance(s.num_edges, int) or s.num_edges < 0 \
                or not all(isinstance(e, int) and 0 <= e < len(partitions) for e in ends):
            raise GraphFileError(f"edge-set table entry {i} ({s.name!r}) is inconsistent: index {s.index}, "
                                 f"{s.num_edges} edges, partitions {list(ends)} of {len(partitions)}")


def edge_arrays(src, dst, weight, signed, edge_set, multiplicity=None) -> EdgeArrays:
    return EdgeArrays(np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
                      np.asarray(weight, dtype=np.float32), np.asarray(signed, dtype=np.float32),
                      np.asarray(edge_set, dtype=np.int32),
                      None if multiplicity is None else np.asarray(multiplicity, dtype=np.int32))


def canonical_sets(arrays: EdgeArrays) -> EdgeArrays:
    """Stable-sort edges by set, so each set is contiguous again (order inside a set is kept)."""
    order = np.argsort(arrays.edge_set, kind="stable")
    return EdgeArrays(arrays.src[order], arrays.dst[order], arrays.weight[order], arrays.signed_weight[order],
                      arrays.edge_set[order], None if arrays.multiplicity is None else arrays.multiplicity[order])


def _check_edges(partitions: list[Partition], edge_sets: list[EdgeSet], arrays: EdgeArrays) -> None:
    """Each set's edge count as in the table, and each edge between partitions its set joins."""
    if not len(arrays):
        return
    if arrays.edge_set.min() < 0 or arrays.edge_set.max() >= len(edge_sets):
        raise GraphFileError(f"edge-set ids outside the {len(edge_sets)} sets of the table")
    counts = np.bincount(arrays.edge_set, minlength=len(edge_sets))
    wrong = [s for s in edge_sets if counts[s.index] != s.num_edges]
    if wrong:
        raise GraphFileError(f"edge set {wrong[0].name!r} has {counts[wrong[0].index]} edges, "
                             f"the edge-set table says {wrong[0].num_edges}")
    n_parts = len(partitions)
    allowed_src = np.zeros((len(edge_sets), n_parts), dtype=bool)
    allowed_dst = np.zeros((len(edge_sets), n_parts), dtype=bool)
    for s in edge_sets:
        allowed_src[s.index, list(s.src_partitions)] = True
        allowed_dst[s.index, list(s.dst_partitions)] = True
    ok = allowed_src[arrays.edge_set, node_partition(partitions, arrays.src)] \
        & allowed_dst[arrays.edge_set, node_partition(partitions, arrays.dst)]
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise GraphFileError(f"edge {int(arrays.src[bad])} -> {int(arrays.dst[bad])} of set "
                             f"{edge_sets[arrays.edge_set[bad]].name!r} joins partitions that its set does not join")


def rebuild(meta: dict[str, Any], arrays: EdgeArrays):
    """The graph object for a file's metadata and edges (see :func:`sparsegraph.load_graph`)."""
    from sparsegraph.graphs.bipartite import BipartiteGraph
    from sparsegraph.graphs.layer_graphs import LayerGraphs

    partitions, edge_sets = tables(meta)
    n = partitions[-1].offset + partitions[-1].size if partitions else 0
    if len(arrays) and (arrays.src.min() < 0 or max(arrays.src.max(), arrays.dst.max()) >= n
                        or arrays.dst.min() < 0):
        raise GraphFileError(f"edge endpoints outside the {n} nodes of the partition table")
    if len(arrays) != sum(s.num_edges for s in edge_sets):
        raise GraphFileError(f"{len(arrays)} edges read, the edge-set table says "
                             f"{sum(s.num_edges for s in edge_sets)}")
    _check_edges(partitions, edge_sets, arrays)
    attrs = stored_attributes(meta)
    encoding = attrs.get("encoding")
    kinds = [p.kind for p in partitions]
    if encoding in GRAPH_CLASSES:
        return GRAPH_CLASSES[encoding](partitions, edge_sets, arrays, attrs)
    if kinds == ["left", "right"]:
        return BipartiteGraph(partitions, edge_sets, arrays, attrs)
    graph = Graph(partitions, edge_sets, arrays, attrs)
    if encoding in LAYER_ENCODING_NAMES and kinds == ["left", "right"] * len(edge_sets):
        return LayerGraphs.from_graph(graph)
    return graph
