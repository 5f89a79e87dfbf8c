"""Connected induced 4-vertex subgraphs ("size-4 motifs") by ESU, exact or root-sampled (metrics.md §6).

ESU (Wernicke 2006) roots every connected induced 4-set at its smallest node id: ``c(v)`` counts the
sets whose smallest id is ``v``, and ``Σ_v c(v)`` is the exact count. Both modes run in igraph's C core:
``motifs_randesu_no`` enumerates everything; for the estimate, ``motifs_randesu_estimate`` with the
one-vertex sample ``[v]`` returns ``c(v)·N`` exactly (igraph scales by ``N / sample_size``), so the
sum over the sampled roots is exact and the estimate ``(N/k)·Σ c(v)`` is formed here in float64,
untruncated. Direction is ignored (weak connectivity); parallel edges do not change the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sparsegraph.errors import UsageError

MOTIF_SIZE = 4
METHODS = ("auto", "exact", "estimate")


@dataclass(frozen=True)
class MotifCount:
    """A motif count and how it was obtained.

    Attributes:
        value: the exact count (int), the estimate (float), or None when no root could be sampled.
        method: ``exact`` or ``estimate``.
        roots: number of sampled roots (N for ``exact``).
        work_bound: ``U``, the star + 3-path bound that ``auto`` compared with the budget.
    """

    value: int | float | None
    method: str
    roots: int
    work_bound: int


def work_bound(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> int:
    """``U = Σ_v C(deg_v, 3) + Σ_{(u,v)} (deg_u − 1)(deg_v − 1)`` on undirected degrees.

    ``U`` counts the 3-edge stars and 3-edge paths, so it bounds the number of connected 4-sets (each
    has a spanning tree, which is a star or a path) and the work of exact ESU.
    """
    degree = (np.bincount(src, minlength=num_nodes) + np.bincount(dst, minlength=num_nodes)).astype(np.int64)
    stars = int((degree * (degree - 1) * (degree - 2) // 6).sum())
    paths = int(((degree[src] - 1) * (degree[dst] - 1)).sum())
    return stars + paths


def sample_roots(num_nodes: int, k: int, seed: int) -> np.ndarray:
    """``k`` distinct roots: ``numpy.random.default_rng(seed).choice(N, k, replace=False)``."""
    return np.random.default_rng(seed).choice(num_nodes, k, replace=False)


def rooted_counts(graph: Any, roots: np.ndarray) -> np.ndarray:
    """``c(v)`` for each root ``v``: connected induced 4-sets whose smallest node id is ``v``.

    Args:
        graph: an igraph graph (direction ignored by ESU).
        roots: node ids.
    """
    n = graph.vcount()
    # one C call per root: the one-vertex sample makes igraph's N/sample_size scaling exact (c(v)·N)
    scaled = [graph.motifs_randesu_estimate(size=MOTIF_SIZE, sample=[int(v)]) for v in roots]
    return np.asarray(scaled, dtype=np.int64) // n if n else np.zeros(0, dtype=np.int64)


def count_motifs(graph: Any, src: np.ndarray, dst: np.ndarray, *, method: str = "auto",
                 sample_rate: float = 0.001, seed: int = 0, exact_budget: int = 10_000_000,
                 compat: bool = False) -> MotifCount:
    """Count (or estimate) the connected induced 4-vertex subgraphs.

    Args:
        graph: the undirected igraph graph of the edges ``src → dst``.
        src, dst: the edge endpoints (for the work bound).
        method: ``exact``; ``estimate`` (``k = max(1, floor(rate·N))`` roots); ``auto`` (exact when
            ``U ≤ exact_budget``, else estimate). Under ``compat`` (``mge2024``), ``auto`` always estimates
            with ``k = floor(rate·N)``, and the value is None when ``k = 0``.
        sample_rate: fraction of nodes used as roots.
        seed: seed of :func:`sample_roots`.
        exact_budget: the largest ``U`` that ``auto`` enumerates exactly.
        compat: the graph is a ``compat="mge2024"`` multipartite graph.

    Returns:
        A :class:`MotifCount`.
    """
    if method not in METHODS:
        raise UsageError(f"motif_method {method!r} is not valid; expected one of: {', '.join(METHODS)}")
    if not 0 < sample_rate <= 1:
        raise UsageError(f"motif_sample_rate must be in (0, 1], got {sample_rate!r}")
    n = graph.vcount()
    bound = work_bound(src, dst, n)
    if method == "auto" and compat:
        k = int(np.floor(sample_rate * n))
        if k == 0:
            return MotifCount(None, "estimate", 0, bound)
        return _estimate(graph, k, seed, bound)
    if method == "exact" or (method == "auto" and bound <= exact_budget):
        return MotifCount(int(graph.motifs_randesu_no(size=MOTIF_SIZE)), "exact", n, bound)
    if n == 0:
        return MotifCount(0, "exact", 0, bound)
    return _estimate(graph, max(1, int(np.floor(sample_rate * n))), seed, bound)


def _estimate(graph: Any, k: int, seed: int, bound: int) -> MotifCount:
    n = graph.vcount()
    total = int(rooted_counts(graph, sample_roots(n, k, seed)).sum())
    return MotifCount((n / k) * total, "estimate", k, bound)
