"""ESU motif counting: exact vs brute force, rooted counts, the work bound, root sampling."""

from __future__ import annotations

import itertools
import math

import igraph
import numpy as np
import pytest

from sparsegraph.metrics.motifs import count_motifs, rooted_counts, sample_roots, work_bound


def _random_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = src != dst
    return src[keep], dst[keep]


def _brute_force(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected induced 4-sets by enumeration, and the count rooted at each smallest id."""
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[src, dst] = adjacency[dst, src] = True
    per_root = np.zeros(n, dtype=np.int64)
    for quad in itertools.combinations(range(n), 4):
        sub = adjacency[np.ix_(quad, quad)]
        reached = {0}
        frontier = [0]
        while frontier:
            u = frontier.pop()
            for v in np.flatnonzero(sub[u]):
                if v not in reached:
                    reached.add(int(v))
                    frontier.append(int(v))
        if len(reached) == 4:
            per_root[quad[0]] += 1
    return int(per_root.sum()), per_root


def _igraph(n, src, dst):
    return igraph.Graph(n=n, edges=list(zip(src.tolist(), dst.tolist())), directed=False)


@pytest.mark.parametrize("n,m,seed", [(10, 14, 0), (14, 30, 1), (16, 60, 2)])
def test_exact_and_rooted_counts_match_brute_force(n, m, seed):
    src, dst = _random_graph(n, m, seed)  # parallel edges included
    total, per_root = _brute_force(n, src, dst)
    graph = _igraph(n, src, dst)
    exact = count_motifs(graph, src, dst, method="exact")
    assert exact.value == total and exact.method == "exact"
    assert rooted_counts(graph, np.arange(n)).tolist() == per_root.tolist()


def test_estimate_is_the_scaled_sum_over_sampled_roots():
    n = 16
    src, dst = _random_graph(n, 50, 3)
    _, per_root = _brute_force(n, src, dst)
    graph = _igraph(n, src, dst)
    result = count_motifs(graph, src, dst, method="estimate", sample_rate=0.25, seed=7)
    roots = np.random.default_rng(7).choice(n, 4, replace=False)
    assert result.roots == 4 and result.method == "estimate"
    assert result.value == (n / 4) * per_root[roots].sum()
    assert isinstance(result.value, float)


def test_sample_roots_is_seeded_and_distinct():
    first = sample_roots(1000, 50, 0)
    assert np.array_equal(first, sample_roots(1000, 50, 0))
    assert not np.array_equal(first, sample_roots(1000, 50, 1))
    assert np.unique(first).size == 50


def test_work_bound_counts_stars_and_three_paths():
    # K_{1,3}: one 3-star, no 3-path through an edge (the leaves have degree 1)
    src, dst = np.array([0, 0, 0]), np.array([1, 2, 3])
    assert work_bound(src, dst, 4) == 1
    # P4 (0-1-2-3): no 3-star; the middle edge (1,2) gives (2-1)(2-1) = 1 three-path
    src, dst = np.array([0, 1, 2]), np.array([1, 2, 3])
    assert work_bound(src, dst, 4) == 1
    # K4: 4·C(3,3) stars + 6 edges·(2·2) paths = 28 ≥ its single connected 4-set
    pairs = np.array(list(itertools.combinations(range(4), 2)))
    assert work_bound(pairs[:, 0], pairs[:, 1], 4) == 4 + 24


def test_auto_switches_on_the_budget():
    n = 14
    src, dst = _random_graph(n, 30, 1)
    graph = _igraph(n, src, dst)
    bound = work_bound(src, dst, n)
    assert count_motifs(graph, src, dst, exact_budget=bound).method == "exact"
    over = count_motifs(graph, src, dst, exact_budget=bound - 1, sample_rate=0.5)
    assert over.method == "estimate" and over.roots == 7 and over.work_bound == bound


def test_compat_auto_floor_sampling():
    n = 14
    src, dst = _random_graph(n, 30, 1)
    graph = _igraph(n, src, dst)
    assert count_motifs(graph, src, dst, compat=True).value is None  # floor(0.001·14) = 0
    assert count_motifs(graph, src, dst, compat=True, sample_rate=1.0).value == \
        count_motifs(graph, src, dst, method="exact").value
    # an explicit exact request is honoured under compat
    assert count_motifs(graph, src, dst, method="exact", compat=True).method == "exact"


def test_complete_graph_count():
    n = 7
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    graph = _igraph(n, pairs[:, 0], pairs[:, 1])
    assert count_motifs(graph, pairs[:, 0], pairs[:, 1], method="exact").value == math.comb(n, 4)
