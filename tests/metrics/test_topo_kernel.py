"""topo_kernel spectra: the per-component solver routes against dense eigvalsh (metrics.md §7: 1e-9·max(1, t1))."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from refcases.topo_graphs import layered_graph, random_layered_edges

from sparsegraph.metrics import compute_detailed
from sparsegraph.metrics import topo_kernel
from sparsegraph.metrics.topo_kernel import TopoView, top_abs_eigenvalues


def union(*blocks, extra=(), extra_nodes=0):
    """Disjoint union of ``(src, dst, w, n)`` blocks (ids shifted), ``extra_nodes`` more nodes after them,
    and ``extra`` edges ``(u, v, w)``."""
    src, dst, weight, shift = [], [], [], 0
    for s, d, w, n in blocks:
        src.append(s + shift)
        dst.append(d + shift)
        weight.append(w)
        shift += n
    for u, v, w in extra:
        src.append(np.array([u]))
        dst.append(np.array([v]))
        weight.append(np.array([w]))
    return np.concatenate(src), np.concatenate(dst), np.concatenate(weight), shift + extra_nodes


def spy(monkeypatch, name):
    """Record the calls of ``topo_kernel.<name>``."""
    calls = []
    original = getattr(topo_kernel, name)
    monkeypatch.setattr(topo_kernel, name, lambda *args: calls.append(args) or original(*args))
    return calls


def check_against_dense(src, dst, weight, n):
    graph = layered_graph([n], src, dst, weight)
    w = np.zeros((n, n))
    np.add.at(w, (src, dst), graph.arrays.weight.astype(np.float64))  # the float32-stored weights
    top = np.sort(np.abs(np.linalg.eigvalsh(w + w.T)))[::-1][:3]
    got = np.array(compute_detailed("topo.spectral_gap", graph).extras["top3"])
    assert np.abs(got - top).max() <= 1e-9 * max(1.0, top[0])
    return top


def test_nearly_identical_large_components(monkeypatch):
    # two components of 750 nodes (> the dense limit: one ARPACK run each) whose weights differ by ~1e-7:
    # their spectra interleave at 1e-7 spacing, which one Krylov sequence over the union would not separate
    s, d, w, n = random_layered_edges([300, 250, 200], 900, 5)
    w2 = w * (1 + 1e-7 * np.random.default_rng(1).standard_normal(w.size))
    lanczos = spy(monkeypatch, "_lanczos_top_abs")
    top = check_against_dense(*union((s, d, w, n), (s, d, w2, n)))
    assert top[0] - top[1] < 1e-6 * top[0]
    assert [args[0].shape[0] > topo_kernel.DENSE_SPECTRUM_MAX_NODES for args in lanczos] == [True, True]


def test_identical_small_components_batched_with_a_large_one(monkeypatch):
    # one large component plus copies of a 300-node one whose top eigenvalue exceeds the large one's:
    # the small ones go through the batched dense route (split into several calls here)
    monkeypatch.setattr(topo_kernel, "DENSE_BATCH_BYTES", 2 * 300 * 300 * 8)
    large = random_layered_edges([300, 250, 200], 900, 2)
    small = random_layered_edges([100, 120, 80], 1500, 3)
    batches = spy(monkeypatch, "_dense_components_top_abs")
    top = check_against_dense(*union(large, small, small, small, small, small))
    assert top[0] == pytest.approx(top[2], rel=1e-12)  # the five copies tie
    assert sorted(args[1].size // args[3] for args in batches) == [1, 2, 2]  # five copies, at most two per call


def test_repeated_eigenvalue_inside_one_component():
    # three copies joined through a hub: connected, and the 3-fold symmetry gives an exact double eigenvalue
    block = random_layered_edges([200, 150, 100], 600, 5)
    n = block[3]
    top = check_against_dense(*union(block, block, block, extra_nodes=1,
                                     extra=[(3 * n, 0, 0.3), (3 * n, n, 0.3), (3 * n, 2 * n, 0.3)]))
    assert top[1] == pytest.approx(top[2], rel=1e-12)


def test_components_below_the_kth_value_are_skipped(monkeypatch):
    # single edges of weight 0.01 (|λ| ≤ 0.01 by their row sums) cannot reach t3 of the large component
    large = random_layered_edges([300, 250, 200], 900, 2)
    pairs = (np.arange(0, 400, 2), np.arange(1, 400, 2), np.full(200, 0.01), 400)
    src, dst, weight, n = union(large, pairs)
    view = TopoView(layered_graph([n], src, dst, weight))
    calls = spy(monkeypatch, "_dense_components_top_abs")
    assert np.allclose(view.adjacency_top3, check_against_dense(src, dst, weight, n), rtol=0, atol=1e-9)
    assert calls == []


def test_top_abs_eigenvalues_pads_and_orders():
    # a 2×2 block [[0, 2], [2, 0]] (|λ| = 2, 2) beside 700 isolated nodes: zero-padded, descending
    n = 702
    matrix = sp.csr_array((np.array([2.0, 2.0]), (np.array([0, 1]), np.array([1, 0]))), shape=(n, n))
    labels = np.concatenate([[0, 0], np.arange(1, n - 1)])
    assert top_abs_eigenvalues(matrix, 3, labels, n - 1).tolist() == [2.0, 2.0, 0.0]
    assert top_abs_eigenvalues(matrix, 1, labels, n - 1).tolist() == [2.0]


def test_zero_weight_component_is_not_solved(monkeypatch):
    # a 700-node path whose weights are all 0 is one component whose eigenvalues are all 0
    n = 700
    matrix = sp.csr_array((np.zeros(2 * (n - 1)), (np.r_[0:n - 1, 1:n], np.r_[1:n, 0:n - 1])), shape=(n, n))
    lanczos = spy(monkeypatch, "_lanczos_top_abs")
    assert top_abs_eigenvalues(matrix, 3, np.zeros(n, dtype=np.int64), 1).tolist() == [0.0, 0.0, 0.0]
    assert lanczos == []


def test_an_unconverged_eigensolve_is_a_metric_error_not_an_endless_run(monkeypatch):
    import scipy.sparse as sp

    from sparsegraph.errors import MetricError
    from sparsegraph.metrics import topo_kernel

    monkeypatch.setattr(topo_kernel, "EIGSH_MAXITER", 1)
    rng = np.random.default_rng(0)
    upper = sp.random(900, 900, density=0.01, random_state=rng, format="csr")
    matrix = (upper + upper.T).tocsr()
    with pytest.raises(MetricError, match="did not converge in 1 restarts"):
        topo_kernel._lanczos_top_abs(matrix, 3)
