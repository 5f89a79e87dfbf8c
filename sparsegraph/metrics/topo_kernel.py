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
from sparsegraph.utils.sparse_matvec import csr_matvec
from sparsegraph.utils.threads import serial_kernel

# Graphs and components up to this many nodes get a dense eigvalsh (exact and faster than ARPACK).
DENSE_SPECTRUM_MAX_NODES = 600
# Largest stack of small-component matrices handed to one batched eigvalsh call.
DENSE_BATCH_BYTES = 64 * 2**20
# ARPACK residual tolerance, relative to |λ|: the residual norm bounds the eigenvalue error (Kahan), so the
# Ritz values stay within 1e-10·|λ| of eigenvalues, inside metrics.md §7's 1e-9·max(1, t1).
EIGSH_TOL = 1e-10
# ARPACK restarts before giving up: enough for every zoo MGE down to 1 % density; a spectrum whose top is
# clustered to ~1e-8 (very sparse graphs) would otherwise run for many minutes
EIGSH_MAXITER = 3000
# Lanczos basis sizes. A bigger basis saves restarts but every step re-orthogonalises against all of it
# (O(N·ncv) per step); these are the measured optima on the ResNet-20 MGE (benchmarks/bench_topo.py).
ADJACENCY_NCV = 16
LAPLACIAN_NCV = 20


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
        count, labels = self.components
        return top_abs_eigenvalues(self.adjacency, 3, labels, count)

    @cached_property
    def laplacian_max(self) -> float:
        """``λ_max(L)`` with ``L = D − A``, ``D = diag(row sums of A)``."""
        n = self.num_nodes
        if n == 0:
            return 0.0
        a = self.adjacency
        degree = a.sum(axis=1)
        if n <= DENSE_SPECTRUM_MAX_NODES:
            return float(np.linalg.eigvalsh(np.diag(degree) - a.toarray())[-1])
        from scipy.sparse.linalg import LinearOperator

        # L is applied as D·x − A·x: assembling D − A would cost more than the whole solve
        adjacency = csr_matvec(a)
        degree = np.asarray(degree, dtype=np.float64).ravel()
        laplacian = LinearOperator((n, n), matvec=lambda x: degree * x.ravel() - adjacency(x), dtype=np.float64)
        values = _eigsh(laplacian, k=1, which="LA", ncv=min(n, LAPLACIAN_NCV))
        return float(values[-1])


def _start_vector(n: int) -> np.ndarray:
    # metrics.md §7: a seeded Gaussian start, never a ones vector
    return np.random.default_rng(0).standard_normal(n)


def top_abs_eigenvalues(matrix, k: int, labels: np.ndarray, count: int) -> np.ndarray:
    """The ``k`` largest |eigenvalues| of a symmetric CSR matrix, descending, with multiplicity, 0-padded.

    The matrix is block diagonal over its connected components (``labels``, ``count`` of them), so its
    spectrum is the union of theirs, and each component is solved on its own: this is what makes
    repeated and near-repeated |eigenvalues| across components (identical or nearly identical subnetworks,
    which a single Krylov sequence resolves slowly or not at all) exact. Components larger than
    ``DENSE_SPECTRUM_MAX_NODES`` run ARPACK (``eigsh``, ``which="LM"``, ``k`` values, seeded start); smaller
    ones a dense ``eigvalsh``, batched by size. A component whose largest absolute row sum (a bound on
    its |eigenvalues|, Gershgorin) does not exceed the ``k``-th value found so far is skipped.

    Args:
        matrix: symmetric N×N CSR matrix.
        k: how many values.
        labels: component label per node, in ``[0, count)``.
        count: number of components.
    """
    n = matrix.shape[0]
    out = np.zeros(k, dtype=np.float64)
    if n == 0:
        return out
    if n <= DENSE_SPECTRUM_MAX_NODES:
        values = np.sort(np.abs(np.linalg.eigvalsh(matrix.toarray())))[::-1][:k]
        out[:values.size] = values
        return out
    sizes = np.bincount(labels, minlength=count)
    bound = np.zeros(count, dtype=np.float64)
    np.maximum.at(bound, labels, np.abs(matrix).sum(axis=1))
    members = np.argsort(labels, kind="stable")  # component c is members[starts[c]:starts[c + 1]]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    position = np.empty(n, dtype=np.int64)  # of each node inside its component
    position[members] = np.arange(n) - starts[labels[members]]
    found = [np.zeros(0)]
    large = np.flatnonzero((sizes > DENSE_SPECTRUM_MAX_NODES) & (bound > 0))
    for component in large:
        nodes = members[starts[component]:starts[component + 1]]
        # when every other component is all zeros, the whole matrix has this one's nonzero spectrum
        alone = np.count_nonzero(bound) == 1
        found.append(_lanczos_top_abs(matrix if alone else matrix[nodes][:, nodes], k))
    kth = np.sort(np.concatenate(found))[-k] if sum(v.size for v in found) >= k else 0.0
    small = np.flatnonzero((sizes <= DENSE_SPECTRUM_MAX_NODES) & (bound > kth))
    for size in np.unique(sizes[small]):
        same = small[sizes[small] == size]
        chunks = -(-same.size * int(size) ** 2 * 8 // DENSE_BATCH_BYTES)
        for chunk in np.array_split(same, chunks):
            nodes = members[(starts[chunk][:, None] + np.arange(size)).ravel()]
            found.append(_dense_components_top_abs(matrix, nodes, position, int(size), k))
    values = np.sort(np.concatenate(found))[::-1][:k]
    out[:values.size] = values
    return out


def _lanczos_top_abs(matrix, k: int) -> np.ndarray:
    """The ``k`` largest |eigenvalues| of one (large) symmetric sparse matrix by ARPACK."""
    n = matrix.shape[0]
    # exactly k wanted values: every extra one must converge too, and past t3 the MGE spectrum is a
    # near-continuum (six values cost ~900 steps on ResNet-20, three ~130)
    from scipy.sparse.linalg import LinearOperator

    operator = LinearOperator(matrix.shape, matvec=csr_matvec(matrix), dtype=np.float64)
    values = _eigsh(operator, k=k, which="LM", ncv=min(n, max(ADJACENCY_NCV, 2 * k + 1)))
    return np.abs(values)


def _eigsh(operator, *, k: int, which: str, ncv: int) -> np.ndarray:
    """Seeded ARPACK eigenvalues, with a clear error instead of an endless run on a clustered spectrum."""
    from scipy.sparse.linalg import ArpackNoConvergence, eigsh

    try:
        with serial_kernel():  # ARPACK's BLAS work is on a few vectors: one thread (utils/threads.py)
            return eigsh(operator, k=k, which=which, v0=_start_vector(operator.shape[0]), ncv=ncv, tol=EIGSH_TOL,
                         maxiter=EIGSH_MAXITER, return_eigenvectors=False)
    except ArpackNoConvergence:
        raise MetricError(f"topo spectral metrics: ARPACK did not converge in {EIGSH_MAXITER} restarts on a "
                          f"{operator.shape[0]}-node component (its top eigenvalues are too tightly clustered "
                          f"for tolerance {EIGSH_TOL:g})") from None


def _dense_components_top_abs(matrix, nodes: np.ndarray, position: np.ndarray, size: int, k: int) -> np.ndarray:
    """The ``k`` largest |eigenvalues| of each of several components of one ``size``, by batched eigvalsh.

    Args:
        matrix: the symmetric CSR matrix.
        nodes: the components' nodes, one component after the other.
        position: each node's index inside its component.
        size: their common node count.
        k: values per component.
    """
    rows = matrix[nodes].tocoo()  # the rows of closed components: every column lies in the same one
    stack = np.zeros((nodes.size // size, size, size), dtype=np.float64)
    stack[rows.row // size, rows.row % size, position[rows.col]] = rows.data
    values = np.abs(np.linalg.eigvalsh(stack))
    return np.sort(values, axis=1)[:, -k:].ravel()


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
