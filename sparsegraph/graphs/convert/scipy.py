"""SciPy sparse matrices: the biadjacency of a layer, the block adjacency of a whole graph."""

from __future__ import annotations

import numpy as np

from sparsegraph.graphs.base import Graph, node_partition
from sparsegraph.graphs.convert.common import index_dtype, weight_column
from sparsegraph.graphs.estimate import check_limit


def _csr(rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]):
    """CSR with int32 indices (int64 from 2³¹), duplicates summed, columns sorted in each row."""
    import scipy.sparse as sp

    dtype = index_dtype(shape[0], shape[1], data.size)
    order = np.lexsort((cols, rows))
    rows, cols, data = rows[order], cols[order], data[order]
    if rows.size > 1:
        # sum duplicates: keep the first of each run of equal (row, col), add the run's values
        new = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
        if not new.all():
            starts = np.flatnonzero(new)
            data = np.add.reduceat(data, starts).astype(np.float32)
            rows, cols = rows[starts], cols[starts]
    indptr = np.zeros(shape[0] + 1, dtype=dtype)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    return sp.csr_array((data, cols.astype(dtype), indptr), shape=shape)


def biadjacency(graph: Graph, weight: str | None = "weight", *, max_bytes: int | str | None = None):
    """The ``(L, R)`` biadjacency of a two-partition graph, float32."""
    check_limit(graph.num_nodes, graph.num_edges, "scipy", max_bytes, graph.describe())
    L, R = graph.partitions[0].size, graph.partitions[1].size
    a = graph.arrays
    return _csr(a.src, a.dst - L, weight_column(graph, weight), (L, R))


def adjacency(graph: Graph, weight: str | None = "weight", *, max_bytes: int | str | None = None):
    """The ``N×N`` adjacency ``A[src, dst]``; edges of different sets on one pair are summed."""
    check_limit(graph.num_nodes, graph.num_edges, "scipy", max_bytes, graph.describe())
    n = graph.num_nodes
    a = graph.arrays
    return _csr(a.src, a.dst, weight_column(graph, weight), (n, n))


def block(graph: Graph, i: int, j: int, weight: str | None = "weight"):
    """The ``(size_i, size_j)`` block of the adjacency from partition i to partition j."""
    P = len(graph.partitions)
    if not (0 <= i < P and 0 <= j < P):
        raise IndexError(f"partition indices must lie in [0, {P}), got ({i}, {j})")
    a = graph.arrays
    keep = (node_partition(graph.partitions, a.src) == i) & (node_partition(graph.partitions, a.dst) == j)
    pi, pj = graph.partitions[i], graph.partitions[j]
    return _csr(a.src[keep] - pi.offset, a.dst[keep] - pj.offset, weight_column(graph, weight)[keep],
                (pi.size, pj.size))
