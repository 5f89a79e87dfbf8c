"""Turn what a reader parsed (graph attributes and edge columns) back into graph objects."""

from __future__ import annotations

from typing import Any

import numpy as np

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition, stored_attributes
from sparsegraph.graphs.bipartite import BipartiteGraph
from sparsegraph.graphs.encodings import GRAPH_ENCODINGS, LAYER_ENCODINGS
from sparsegraph.graphs.layer_graphs import LayerGraphs


def tables(meta: dict[str, Any]) -> tuple[list[Partition], list[EdgeSet]]:
    try:
        partitions = [Partition.from_dict(p) for p in meta["partitions"]]
        edge_sets = [EdgeSet.from_dict(s) for s in meta["edge_sets"]]
    except (KeyError, TypeError) as exc:
        raise GraphFileError(f"graph attributes lack a valid partition or edge-set table ({exc})") from None
    return partitions, edge_sets


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


def rebuild(meta: dict[str, Any], arrays: EdgeArrays):
    """The graph object for a file's metadata and edges (see :func:`sparsegraph.load_graph`)."""
    partitions, edge_sets = tables(meta)
    n = partitions[-1].offset + partitions[-1].size if partitions else 0
    if len(arrays) and (arrays.src.min() < 0 or max(arrays.src.max(), arrays.dst.max()) >= n
                        or arrays.dst.min() < 0):
        raise GraphFileError(f"edge endpoints outside the {n} nodes of the partition table")
    if len(arrays) != sum(s.num_edges for s in edge_sets):
        raise GraphFileError(f"{len(arrays)} edges read, the edge-set table says "
                             f"{sum(s.num_edges for s in edge_sets)}")
    attrs = stored_attributes(meta)
    encoding = attrs.get("encoding")
    kinds = [p.kind for p in partitions]
    if encoding in GRAPH_ENCODINGS and GRAPH_ENCODINGS.info(encoding)["scope"] == "network":
        return GRAPH_ENCODINGS.get(encoding).GRAPH_CLASS(partitions, edge_sets, arrays, attrs)
    if kinds == ["left", "right"]:
        return BipartiteGraph(partitions, edge_sets, arrays, attrs)
    graph = Graph(partitions, edge_sets, arrays, attrs)
    if encoding in LAYER_ENCODINGS and kinds == ["left", "right"] * len(edge_sets):
        return LayerGraphs.from_graph(graph)
    return graph
