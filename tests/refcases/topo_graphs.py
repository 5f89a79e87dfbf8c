"""Graph builders shared by the topo tests: refcase edge lists and closed-form graphs as Graph objects.

The refcases themselves load with ``refcases.mge_nets.load_mge_refcases``.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition
from sparsegraph.graphs.bipartite import BipartiteGraph


def layered_graph(sizes, src, dst, weight=None, *, compat=None, cls=Graph) -> Graph:
    """A directed graph whose node ids run partition by partition (``sizes``), edges ``src -> dst``."""
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    weighted = weight is not None
    w = np.ones(src.shape[0], np.float32) if weight is None else np.asarray(weight, dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    partitions = [Partition(i, "input" if i == 0 else f"p{i}", "input" if i == 0 else "linear", "",
                            int(offsets[i]), int(s), (int(s),), "f") for i, s in enumerate(sizes)]
    edge_sets = [EdgeSet(0, "edges", "linear", tuple(range(len(sizes) - 1)), tuple(range(1, len(sizes))),
                         int(src.shape[0]))]
    arrays = EdgeArrays(src, dst, np.abs(w), w, np.zeros(src.shape[0], np.int32))
    attrs = {"encoding": "mge", "compat": compat, "weighted": weighted}
    return cls(partitions, edge_sets, arrays, attrs)


def refcase_mge_graph(case: dict, arrays: dict) -> Graph:
    """The ``compat="mge2024"`` multipartite graph of a refcase, from its reference edge list."""
    enc = case["expected"]["encodings"]["mge"]["mge2024"]
    prefix = f"{case['case']}/mge2024/"
    return layered_graph(enc["partition_sizes"], arrays[prefix + "src"], arrays[prefix + "dst"],
                         arrays[prefix + "w"], compat="mge2024")


def refcase_layer_graph(case: dict, arrays: dict, encoding: str, row: dict) -> BipartiteGraph:
    """One layer graph (``rolled`` / ``rolled-channel``) of a refcase, from its reference edge list."""
    prefix = f"{case['case']}/{encoding}/{row['layer']}/"
    graph = layered_graph([row["left_nodes"], row["right_nodes"]], arrays[prefix + "src"], arrays[prefix + "dst"],
                          arrays[prefix + "w"], cls=BipartiteGraph)
    graph.attrs["encoding"] = encoding
    return graph


def complete_bipartite(m: int, n: int, weight: float = 1.0) -> BipartiteGraph:
    """``K_{m,n}`` as a bipartite graph (left ``m``, right ``n``), every weight ``weight``."""
    left, right = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    src, dst = left.ravel(), right.ravel() + m
    return layered_graph([m, n], src, dst, np.full(src.size, weight), cls=BipartiteGraph)


def dense_mlp(widths) -> Graph:
    """The clean MGE of a dense MLP ``a-b-c...``: every node of partition i feeds every node of i+1."""
    offsets = np.concatenate([[0], np.cumsum(widths)])
    src, dst = [], []
    for i in range(len(widths) - 1):
        a, b = np.meshgrid(np.arange(offsets[i], offsets[i + 1]), np.arange(offsets[i + 1], offsets[i + 2]),
                           indexing="ij")
        src.append(a.ravel())
        dst.append(b.ravel())
    return layered_graph(widths, np.concatenate(src), np.concatenate(dst))


def random_layered_edges(sizes, edges_per_pair, seed, shortcut=True):
    """Random edges of a layered DAG (partition p -> p+1, plus p -> p+2 shortcuts that make it
    non-bipartite): ``(src, dst, float64 weights, N)``; repeated pairs are possible."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    src, dst = [], []
    for p in range(len(sizes) - 1):
        src.append(rng.integers(offsets[p], offsets[p + 1], edges_per_pair))
        dst.append(rng.integers(offsets[p + 1], offsets[p + 2], edges_per_pair))
        if shortcut and p + 2 < len(sizes):
            src.append(rng.integers(offsets[p], offsets[p + 1], edges_per_pair // 4))
            dst.append(rng.integers(offsets[p + 2], offsets[p + 3], edges_per_pair // 4))
    src, dst = np.concatenate(src), np.concatenate(dst)
    return src, dst, rng.random(src.size), int(offsets[-1])
