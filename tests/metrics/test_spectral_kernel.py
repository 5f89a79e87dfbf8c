"""The shared spectral kernel: σ pairs against dense SVD, solvers, groups, thresholds, batching, caching."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import sparsegraph as sg
from sparsegraph.errors import MetricError
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.spectral_kernel import (
    layer_spectra, prepare, sigma_pair, spectra_of, threshold,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "refcases"


def _random_layer(rng, n_out, n_in, density, *, conv=False):
    shape = (n_out, n_in // 9, 3, 3) if conv else (n_out, n_in)
    mask = rng.random(shape) < density
    weight = rng.standard_normal(shape).astype(np.float32) * mask
    return mask, weight


def _dense_pair(x: np.ndarray) -> tuple[float, float]:
    s = np.linalg.svd(x, compute_uv=False)
    return float(s[0]) if len(s) else 0.0, float(s[1]) if len(s) > 1 else 0.0


def _close(a, b, s1):
    return abs(a - b) <= 1e-7 * max(1.0, s1)


@pytest.mark.parametrize("seed", range(6))
def test_sigma_pairs_match_dense_svd(seed):
    rng = np.random.default_rng(seed)
    n_out, n_in = rng.integers(5, 40), 9 * rng.integers(2, 8)
    mask, weight = _random_layer(rng, n_out, n_in, rng.uniform(0.05, 0.5), conv=True)
    g = sg.bipartite(mask, weight=weight)
    for conv in ("neurips2023", "iclr2023"):
        s = layer_spectra(g, convention=conv)
        f = mask.reshape(n_out, -1).T.astype(float)
        a = np.abs(weight.reshape(n_out, -1).T.astype(np.float64))
        ref = _dense_pair(f)
        assert _close(s.mask.sigma1, ref[0], ref[0]) and _close(s.mask.sigma2, ref[1], ref[0])
        ref_w = _dense_pair(a)
        assert _close(s.weighted.sigma1, ref_w[0], ref_w[0]) and _close(s.weighted.sigma2, ref_w[1], ref_w[0])
        fan_out = f.sum(1)
        groups = s.groups
        for k in np.flatnonzero(groups.valid):
            rows = fan_out == groups.fan_out[k]
            assert rows.sum() == groups.size[k]
            assert (f[rows].sum(0) > 0).sum() == groups.n_out[k]
            ref = _dense_pair(f[rows])
            assert _close(groups.sigma1[k], ref[0], ref[0]) and _close(groups.sigma2[k], ref[1], ref[0])
            ref = _dense_pair(a[rows])
            assert _close(groups.w_sigma1[k], ref[0], ref[0]) and _close(groups.w_sigma2[k], ref[1], ref[0])


def test_all_solvers_agree():
    rng = np.random.default_rng(7)
    mask, weight = _random_layer(rng, 48, 72, 0.15)
    g = sg.bipartite(mask, weight=weight)
    base = layer_spectra(g, solver="dense")
    for solver in ("auto", "gram", "lanczos"):
        s = layer_spectra(g, solver=solver)
        for a, b in ((s.mask, base.mask), (s.weighted, base.weighted)):
            assert _close(a.sigma1, b.sigma1, b.sigma1) and _close(a.sigma2, b.sigma2, b.sigma1)
        valid = base.groups.valid
        np.testing.assert_allclose(s.groups.sigma2[valid], base.groups.sigma2[valid], atol=1e-7 * 10, rtol=0)


def test_lanczos_route_for_large_min_side():
    # X = A ⊗ B has singular values σ_i(A)·σ_j(B); min side 1155 > 1024 takes the Lanczos route
    rng = np.random.default_rng(3)
    a = (rng.random((40, 35)) < 0.2).astype(float)
    b = (rng.random((30, 33)) < 0.2).astype(float)
    a[0, 0] = b[0, 0] = 1.0
    x = sp.csr_array(sp.kron(sp.csr_array(a), sp.csr_array(b)))
    assert min(x.shape) > 1024
    sa, sb = np.linalg.svd(a, compute_uv=False), np.linalg.svd(b, compute_uv=False)
    products = np.sort(np.outer(sa, sb).ravel())[::-1]
    s1, s2 = sigma_pair(x)
    assert _close(s1, products[0], products[0]) and _close(s2, products[1], products[0])
    assert sigma_pair(x) == (s1, s2)  # seeded start: bit-identical on repeat


def test_shortcuts_are_exact():
    complete = sp.csr_array(np.ones((7, 5)))
    assert sigma_pair(complete, unweighted=True) == (math.sqrt(35), 0.0)
    star = sp.csr_array(np.array([[3.0, 4.0, 0.0]]))
    assert sigma_pair(star) == (5.0, 0.0)


@pytest.mark.parametrize("edges,nl,nr,conv,ok", [
    (30, 10, 10, "neurips2023", True),    # E = 3·nR' passes the fan-in test
    (29, 10, 10, "neurips2023", False),
    (30, 30, 10, "neurips2023", False),   # E = nL' fails d_in > 1
    (31, 30, 10, "neurips2023", True),
    (30, 10, 10, "iclr2023", True),
    (30, 11, 10, "iclr2023", False),
    (0, 0, 0, "neurips2023", False),
])
def test_threshold_integer_edges(edges, nl, nr, conv, ok):
    assert threshold(edges, nl, nr, conv)[0] is ok


def test_threshold_reason_text():
    assert threshold(12, 5, 5, "neurips2023") == (False, "threshold: mean fan-in 2.40 < 3")
    assert threshold(0, 0, 0, "iclr2023") == (False, "empty layer: no edges")


def test_refcase_details_exact():
    doc = json.loads((DATA / "ramanujan.json").read_text())
    arrays = np.load(DATA / "ramanujan.npz")
    for case in doc["cases"]:
        mask = arrays[case["npz"]["mask"]].astype(bool)
        g = sg.bipartite(mask, weight=arrays[case["npz"]["weight"]] * mask)
        for conv in ("neurips2023", "iclr2023"):
            s = layer_spectra(g, convention=conv)
            details = case["details"][conv]
            table = {int(f): k for k, f in enumerate(s.groups.fan_out)}
            for row in details["groups"]:
                if row["fan_out"] == 0:
                    continue
                k = table[row["fan_out"]]
                assert s.groups.size[k] == row["num_inputs"]
                assert bool(s.groups.valid[k]) is row["valid"], (case["case"], conv, row)
                if "num_outputs" in row:
                    assert s.groups.n_out[k] == row["num_outputs"]
                if "cheeger" in row:
                    assert s.groups.weight[k] == pytest.approx(row["cheeger"], rel=1e-6)
                if conv == "neurips2023" and row["valid"]:
                    assert abs((s.groups.upper_bound[k] - s.groups.sigma2[k]) - row["delta_r"]) <= 1e-3 + 1e-4 * abs(row["delta_r"])
                    gap = s.groups.w_sigma1[k] - s.groups.w_sigma2[k]
                    assert abs(gap - row["lambda"]) <= 1e-3 + 1e-4 * abs(row["lambda"])
            # neurips lists every fan-out value of S (f = 0 included); iclr only groups with ≥ 3 inputs
            listed = {r["fan_out"] for r in details["groups"] if r["fan_out"] > 0}
            kept = set(s.groups.fan_out.tolist()) if conv == "neurips2023" else set(s.groups.fan_out[s.groups.kept].tolist())
            assert listed == kept
            if conv == "neurips2023":
                full = details["full_graph"]
                assert (s.mask.num_left, s.mask.num_right) == (full["inputs_non_isolated"], full["outputs_non_isolated"])
                assert s.mask.d_in == pytest.approx(full["avg_fan_out"], rel=1e-6)
                assert s.mask.d_out == pytest.approx(full["avg_fan_in"], rel=1e-6)
            else:
                assert 2 * s.mask.num_edges == details["directed_edges"]
                assert (s.num_left, s.num_right) == (details["dim_in"], details["dim_out"])


def test_batched_prepare_matches_single_layers():
    rng = np.random.default_rng(11)
    graphs = [sg.bipartite(*_random_layer(rng, n, 9 * m, d, conv=True))
              for n, m, d in ((16, 4, 0.3), (32, 8, 0.1), (8, 2, 0.6), (64, 16, 0.05))]
    together = spectra_of(graphs, convention="iclr2023")
    for g, s in zip(graphs, together):
        alone = layer_spectra(g, convention="iclr2023")
        assert s.mask == alone.mask and s.weighted == alone.weighted
        np.testing.assert_allclose(s.groups.sigma2, alone.groups.sigma2, atol=1e-12, equal_nan=True)


def test_prepare_fills_the_measure_cache():
    rng = np.random.default_rng(5)
    graphs = [sg.bipartite(*_random_layer(rng, 12, 30, 0.3)) for _ in range(3)]
    bad = sg.bipartite(np.ones((3, 4), bool), weight=np.full((3, 4), np.nan, np.float32), name="fc")
    with metric_cache() as cache:
        prepare(graphs + [bad], cache, convention="neurips2023", aggregate="auto")
        assert len(cache) == 3  # the non-finite layer is left to its per-layer call
        first = layer_spectra(graphs[0])
        assert layer_spectra(graphs[0]) is first
        with pytest.raises(MetricError, match="non-finite weights in layer fc"):
            layer_spectra(bad)


def test_deterministic():
    rng = np.random.default_rng(2)
    g = sg.bipartite(*_random_layer(rng, 40, 90, 0.2))
    a, b = layer_spectra(g, solver="lanczos"), layer_spectra(g, solver="lanczos")
    assert a.mask == b.mask and a.weighted == b.weighted


def test_bad_options():
    g = sg.bipartite(np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="convention 'iclr' is not valid"):
        layer_spectra(g, convention="iclr")
    with pytest.raises(ValueError, match="solver 'svd' is not valid"):
        layer_spectra(g, solver="svd")
