"""Shared graph views and raw computations behind the ``topo.*`` metrics (metrics.md §6, §8).

:class:`TopoView` wraps one graph (a ``MultipartiteGraph``, or a ``BipartiteGraph`` used layer-wise)
and derives, lazily and at most once, everything the 16 topometrics read: degrees (``bincount``), the
directed CSR pattern, the symmetric weighted adjacency ``A = Wᵈ + Wᵈᵀ``, the undirected igraph
multigraph (bridges, articulation points, coreness, ESU motif counting in igraph's C core) and the
weak components (``scipy.sparse.csgraph``). The functions below compute raw (unnormalised) values;
:mod:`sparsegraph.metrics.topo` registers them as metrics.

Node ids are in partition order, so ``P_0`` is ``[0, |P_0|)`` and ``P_last`` is ``[N − |P_last|, N)``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from sparsegraph.errors import MetricError

# Below this many nodes the spectra come from a dense eigvalsh (exact and faster than ARPACK).
DENSE_SPECTRUM_MAX_NODES = 600
# ARPACK residual tolerance (relative): eigenvalue errors stay below 1e-10·|λ|, inside metrics.md §7's 1e-9
EIGSH_TOL = 1e-10


class TopoView:
    """Derived quantities of one graph, computed on first use and then reused by every topo metric.

    Attributes:
        num_nodes: N.
        num_edges: E (rows of the edge arrays; parallel edges count separately).
        src, dst: int64 edge endpoints.
        weight: float64 ``|w|`` per edge (1 for graphs built from a mask alone).
        first_size, last_size: ``|P_0|`` and ``|P_last|``.
    """

    def __init__(self, graph: Any) -> None:
        arrays = graph.arrays
        self.num_nodes = int(graph.num_nodes)
        self.num_edges = int(len(arrays))
        self.src = np.asarray(arrays.src, dtype=np.int64)
        self.dst = np.asarray(arrays.dst, dtype=np.int64)
        weight = np.abs(np.asarray(arrays.weight, dtype=np.float64))
        bad = np.flatnonzero(~np.isfinite(weight))
        if bad.size:
            layer = graph.edge_sets[int(arrays.edge_set[bad[0]])].name if graph.edge_sets else "?"
            raise MetricError(f"non-finite weights in layer {layer}")
        self.weight = weight
        self.first_size = int(graph.partitions[0].size) if graph.partitions else 0
        self.last_size = int(graph.partitions[-1].size) if graph.partitions else 0

    # ------------------------------------------------------------------------------------- degrees
    @cached_property
    def out_degree(self) -> np.ndarray:
        """d⁺ per node (int64)."""
        return np.bincount(self.src, minlength=self.num_nodes)

    @cached_property
    def in_degree(self) -> np.ndarray:
        """d⁻ per node (int64)."""
        return np.bincount(self.dst, minlength=self.num_nodes)

    @cached_property
    def total_degree(self) -> np.ndarray:
        """Undirected degree ``d⁺ + d⁻`` (parallel edges counted)."""
        return self.out_degree + self.in_degree

    # ---------------------------------------------------------------------------------- matrices
    @cached_property
    def out_pattern(self):
        """Directed 0/1 pattern ``A⁺`` (N×N CSR, parallel edges merged), int32 data."""
        import scipy.sparse as sp

        n = self.num_nodes
        pattern = sp.csr_array((np.ones(self.num_edges, dtype=np.int32), (self.src, self.dst)), shape=(n, n))
        pattern.sum_duplicates()
        pattern.data[:] = 1
        return pattern

    @cached_property
    def adjacency(self):
        """Symmetric weighted adjacency ``A = Wᵈ + Wᵈᵀ`` (N×N CSR float64, parallel entries summed)."""
        import scipy.sparse as sp

        n = self.num_nodes
        rows = np.concatenate([self.src, self.dst])
        cols = np.concatenate([self.dst, self.src])
        data = np.concatenate([self.weight, self.weight])
        adjacency = sp.csr_array((data, (rows, cols)), shape=(n, n))
        adjacency.sum_duplicates()
        return adjacency

    @cached_property
    def undirected(self):
        """The undirected igraph multigraph (direction ignored, parallel edges kept)."""
        import igraph

        # a list of int tuples is igraph's fastest input path (numpy arrays go element by element)
        edges = list(zip(self.src.tolist(), self.dst.tolist()))
        return igraph.Graph(n=self.num_nodes, edges=edges, directed=False)

    @cached_property
    def components(self) -> tuple[int, np.ndarray]:
        """``(count, labels)`` of the weakly connected components (isolated nodes included)."""
        from scipy.sparse.csgraph import connected_components

        if self.num_nodes == 0:
            return 0, np.zeros(0, dtype=np.int32)
        count, labels = connected_components(self.out_pattern, directed=True, connection="weak")
        return int(count), labels

    @cached_property
    def adjacency_top3(self) -> np.ndarray:
        """``t1 ≥ t2 ≥ t3``: the three largest |eigenvalues| of ``A`` (with multiplicity, 0-padded)."""
        return _top_abs_eigenvalues(self.adjacency, 3)

    @cached_property
    def laplacian_max(self) -> float:
        """``λ_max(L)`` with ``L = D − A``, ``D = diag(row sums of A)``."""
        import scipy.sparse as sp

        n = self.num_nodes
        if n == 0:
            return 0.0
        a = self.adjacency
        laplacian = (sp.diags_array(np.asarray(a.sum(axis=1)).ravel()) - a).tocsr()
        if n <= DENSE_SPECTRUM_MAX_NODES:
            return float(np.linalg.eigvalsh(laplacian.toarray())[-1])
        from scipy.sparse.linalg import eigsh

        values = eigsh(laplacian, k=1, which="LA", v0=_start_vector(n), ncv=min(n, 20), tol=EIGSH_TOL,
                       return_eigenvectors=False)
        return float(values[-1])


def _start_vector(n: int) -> np.ndarray:
    # metrics.md §7: a seeded Gaussian start, never a ones vector
    return np.random.default_rng(0).standard_normal(n)


def _top_abs_eigenvalues(matrix, k: int) -> np.ndarray:
    """The ``k`` largest |eigenvalues| of a symmetric CSR matrix, descending, 0-padded past N."""
    n = matrix.shape[0]
    out = np.zeros(k, dtype=np.float64)
    if n == 0:
        return out
    if n <= DENSE_SPECTRUM_MAX_NODES:
        values = np.abs(np.linalg.eigvalsh(matrix.toarray()))
    else:
        from scipy.sparse.linalg import eigsh

        # a few extra Ritz pairs make repeated |eigenvalues| (±σ pairs, symmetric blocks) converge
        values = np.abs(eigsh(matrix, k=k + 3, which="LM", v0=_start_vector(n), ncv=min(n, 40), tol=EIGSH_TOL,
                              return_eigenvectors=False))
    values = np.sort(values)[::-1][:k]
    out[:values.size] = values
    return out


# ------------------------------------------------------------------------------ raw topometrics
def sink_nodes(view: TopoView, compat: bool) -> int:
    """Clean: ``#{v ∉ P_last : d⁺=0, d⁻>0}``; compat: ``#{v : d⁺=0, d⁻>0} − |P_last|``."""
    sinks = (view.out_degree == 0) & (view.in_degree > 0)
    if compat:
        return int(sinks.sum()) - view.last_size
    return int(sinks[:view.num_nodes - view.last_size].sum())


def source_nodes(view: TopoView, compat: bool) -> int:
    """Clean: ``#{v ∉ P_0 : d⁻=0, d⁺>0}``; compat: ``#{v : d⁺>0, d⁻=0} − |P_0|``."""
    sources = (view.in_degree == 0) & (view.out_degree > 0)
    if compat:
        return int(sources.sum()) - view.first_size
    return int(sources[view.first_size:].sum())


def disconnected_nodes(view: TopoView) -> int:
    """``#{v : d⁺ = d⁻ = 0}``."""
    return int((view.total_degree == 0).sum())


def removable_out_edges(view: TopoView, compat: bool) -> int:
    """``Σ d⁻(v)`` over sinks ``v ∉ P_last`` (compat: over sinks with ``id(v) < N − 1 − |P_last|``)."""
    sinks = (view.out_degree == 0) & (view.in_degree > 0)
    end = view.num_nodes - 1 - view.last_size if compat else view.num_nodes - view.last_size
    end = max(end, 0)
    return int(view.in_degree[:end][sinks[:end]].sum())


def removable_in_edges(view: TopoView, compat: bool) -> int:
    """``Σ d⁺(v)`` over sources ``v ∉ P_0`` (compat: over sources with ``id(v) > |P_0|``)."""
    sources = (view.in_degree == 0) & (view.out_degree > 0)
    start = view.first_size + 1 if compat else view.first_size
    return int(view.out_degree[start:][sources[start:]].sum())


def one_hop(view: TopoView) -> float | None:
    """``mean_v |{v} ∪ N⁺(v)|``."""
    if view.num_nodes == 0:
        return None
    pattern = view.out_pattern
    self_loops = int(np.count_nonzero(pattern.diagonal()))
    return (view.num_nodes + pattern.nnz - self_loops) / view.num_nodes


def two_hop(view: TopoView) -> float | None:
    """``mean_v |{u : dist⁺(v,u) ≤ 2}|`` (v included), from the pattern of ``A⁺(A⁺ + I)``."""
    import scipy.sparse as sp

    n = view.num_nodes
    if n == 0:
        return None
    pattern = view.out_pattern
    # A⁺(A⁺ + I) has the pattern A⁺² ∪ A⁺ in one sparse product; v itself is added where missing
    reach = pattern @ (pattern + sp.eye_array(n, dtype=np.int32, format="csr"))
    on_diagonal = int(np.count_nonzero(reach.diagonal()))
    return (reach.nnz + n - on_diagonal) / n


def strength(view: TopoView) -> float | None:
    """``mean_v Σ_{e∋v} w_e = 2Σw/N``."""
    if view.num_nodes == 0:
        return None
    return 2.0 * float(view.weight.sum()) / view.num_nodes


def kcore(view: TopoView) -> float | None:
    """Mean coreness on the total degree ``d⁺ + d⁻``."""
    if view.num_nodes == 0:
        return None
    return float(np.mean(view.undirected.coreness()))


def cut_edges(view: TopoView) -> int:
    """Number of bridges, direction ignored (parallel edges are never bridges)."""
    return len(view.undirected.bridges())


def cut_nodes(view: TopoView) -> int:
    """Number of articulation points, direction ignored."""
    return len(view.undirected.articulation_points())


def components(view: TopoView) -> int:
    """Weakly connected components, isolated nodes included."""
    return view.components[0]


def mean_component_size(view: TopoView) -> float | None:
    """``N / components``."""
    count = view.components[0]
    return view.num_nodes / count if count else None


def spectral_gap(view: TopoView) -> float:
    """``t1 − t3`` over the largest |eigenvalues| of ``A = Wᵈ + Wᵈᵀ``."""
    t = view.adjacency_top3
    return float(t[0] - t[2])


def spectral_radius(view: TopoView) -> float:
    """``λ_max(D − A)``."""
    return view.laplacian_max
