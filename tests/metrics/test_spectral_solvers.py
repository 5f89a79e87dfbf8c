"""The host backend's batched Lanczos (``krylov_top_two``) against dense SVD, on the cases that break solvers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sparsegraph.metrics import spectral_solvers
from sparsegraph.metrics.spectral_solvers import HostBackend, krylov_top_two


def _batch(mats: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """COO batch of dense matrices, each oriented so that its rows are the smaller side."""
    mats = [x if x.shape[0] <= x.shape[1] else x.T for x in mats]
    nz = [np.nonzero(x) for x in mats]
    mat = np.concatenate([np.full(len(r), i) for i, (r, _) in enumerate(nz)])
    row = np.concatenate([r for r, _ in nz])
    col = np.concatenate([c for _, c in nz])
    val = np.concatenate([x[r, c] for x, (r, c) in zip(mats, nz)])
    m = np.array([x.shape[0] for x in mats])
    n = np.array([x.shape[1] for x in mats])
    return mat, row, col, val.astype(np.float64), m, n


def _svd_pair(x: np.ndarray) -> tuple[float, float]:
    s = np.linalg.svd(x, compute_uv=False)
    return float(s[0]), float(s[1])


def _assert_pairs(mats, pairs):
    for x, (s1, s2) in zip(mats, pairs):
        r1, r2 = _svd_pair(x)
        # 100× tighter than the metrics.md §7 solver accuracy, except for σ2 ≈ 0: a Gram eigenvalue
        # carries ε·σ1² of rounding, so σ = sqrt(λ) is only known to ≈ sqrt(ε)·σ1 there (dense Gram too)
        tol2 = 1e-9 * max(1.0, r1) if r2 >= 1e-3 * r1 else 1e-7 * max(1.0, r1)
        assert abs(s1 - r1) <= 1e-9 * max(1.0, r1) and abs(s2 - r2) <= tol2, (x.shape, s1, r1, s2, r2)


def _sparse(rng, shape, density, weighted):
    x = (rng.random(shape) < density).astype(np.float64)
    return x * rng.random(shape) * 3 if weighted else x


@pytest.mark.parametrize("weighted", [False, True])
def test_mixed_sizes_match_dense_svd(weighted):
    rng = np.random.default_rng(0)
    shapes = [(128, 300), (200, 200), (513, 140), (256, 1100), (150, 160), (333, 900)]
    mats = [_sparse(rng, s, 0.03, weighted) + np.eye(*s) for s in shapes]  # no empty rows
    pairs, converged = krylov_top_two(*_batch(mats))
    assert converged.all()
    _assert_pairs(mats, pairs)


def test_repeated_top_singular_value_is_found():
    # two identical components: σ2 = σ1, which a single Krylov space cannot see; the deflated run can
    rng = np.random.default_rng(1)
    block = _sparse(rng, (90, 150), 0.05, False) + np.eye(90, 150)
    x = sp.block_diag([block, block]).toarray()
    pairs, converged = krylov_top_two(*_batch([x]))
    assert converged.all()
    assert abs(pairs[0, 0] - pairs[0, 1]) <= 1e-9 * pairs[0, 0]
    _assert_pairs([x], pairs)


def test_low_rank_and_regular_blocks():
    rng = np.random.default_rng(2)
    u, v = rng.random((160, 1)), rng.random((1, 240))
    rank_one = u @ v  # σ2 = 0
    rank_two = rank_one + rng.random((160, 1)) @ rng.random((1, 240))
    circulant = sum(np.roll(np.eye(200), k, axis=1) for k in (0, 3, 17))  # 3-regular: ones ⟂ v2
    mats = [rank_one, rank_two, circulant]
    pairs, converged = krylov_top_two(*_batch(mats))
    assert converged.all()
    _assert_pairs(mats, pairs)
    assert pairs[0, 1] <= 1e-7 * pairs[0, 0]


def test_unconverged_blocks_fall_back_to_dsyevr(monkeypatch):
    rng = np.random.default_rng(3)
    mats = [_sparse(rng, (140, 400), 0.04, True) + np.eye(140, 400) for _ in range(3)]
    batch = _batch(mats)
    monkeypatch.setattr(spectral_solvers, "KRYLOV_MAX_STEPS", 5)  # too few steps: nothing converges
    _, converged = krylov_top_two(*batch)
    assert not converged.any()
    _assert_pairs(mats, HostBackend().gram_top_two(*batch, krylov_min=128))


def test_auto_route_matches_the_dense_gram_route_and_is_deterministic():
    rng = np.random.default_rng(4)
    mats = [_sparse(rng, s, 0.05, True) + np.eye(*s) for s in ((10, 40), (130, 170), (300, 310), (64, 64))]
    batch = _batch(mats)
    krylov = HostBackend().gram_top_two(*batch, krylov_min=128)
    dense = HostBackend().gram_top_two(*batch)
    np.testing.assert_allclose(krylov, dense, rtol=0, atol=1e-9 * dense[:, 0].max())
    np.testing.assert_array_equal(krylov, HostBackend().gram_top_two(*batch, krylov_min=128))
    np.testing.assert_array_equal(krylov[[0, 3]], dense[[0, 3]])  # below krylov_min: dsyevr, bit for bit


def test_chunks_give_the_same_values(monkeypatch):
    rng = np.random.default_rng(5)
    mats = [_sparse(rng, (m, 2 * m), 0.04, True) + np.eye(m, 2 * m) for m in (128, 200, 260, 140)]
    batch = _batch(mats)
    whole, _ = krylov_top_two(*batch)
    monkeypatch.setattr(spectral_solvers, "KRYLOV_CHUNK_ROWS", 256)  # one block per chunk
    single, _ = krylov_top_two(*batch)
    np.testing.assert_allclose(single, whole, rtol=1e-12, atol=0)
