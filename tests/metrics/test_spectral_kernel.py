"""The shared spectral kernel: σ pairs against dense SVD, solvers, groups, thresholds, batching, caching."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import sparsegraph as sg
from sparsegraph.errors import MetricError
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.spectral_kernel import (
    layer_spectra, prepare, sigma_pair, spectra_of, threshold,
)

DATA = Path(__file__).resolve().parents[1] / "refcases"


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


def kronecker_case():
    """``X = A ⊗ B`` (min side 1155 > 1024: the Lanczos routes) and its singular values σ_i(A)·σ_j(B), descending."""
    rng = np.random.default_rng(3)
    a = (rng.random((40, 35)) < 0.2).astype(float)
    b = (rng.random((30, 33)) < 0.2).astype(float)
    a[0, 0] = b[0, 0] = 1.0
    x = sp.csr_array(sp.kron(sp.csr_array(a), sp.csr_array(b)))
    products = np.sort(np.outer(np.linalg.svd(a, compute_uv=False), np.linalg.svd(b, compute_uv=False)).ravel())[::-1]
    return x, products


def test_lanczos_route_for_large_min_side():
    x, products = kronecker_case()
    assert min(x.shape) > 1024
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
                if conv == "iclr2023" and row["valid"]:
                    for key, value in (("delta_r_bound", s.groups.upper_bound[k]), ("mu0", s.groups.sigma1[k]),
                                       ("mu_hat", s.groups.sigma2[k]),
                                       ("delta_r", s.groups.upper_bound[k] - s.groups.sigma2[k])):
                        assert abs(value - row[key]) <= 1e-3 + 1e-4 * abs(row[key]), (case["case"], key)
                if conv == "neurips2023" and row["valid"]:
                    gap = s.groups.upper_bound[k] - s.groups.sigma2[k]
                    assert abs(gap - row["delta_r"]) <= 1e-3 + 1e-4 * abs(row["delta_r"])
                    gap = s.groups.w_sigma1[k] - s.groups.w_sigma2[k]
                    assert abs(gap - row["lambda"]) <= 1e-3 + 1e-4 * abs(row["lambda"])
            # neurips lists every fan-out value of S (f = 0 included); iclr only groups with ≥ 3 inputs
            listed = {r["fan_out"] for r in details["groups"] if r["fan_out"] > 0}
            listed_rows = s.groups.kept if conv == "iclr2023" else np.ones(len(s.groups.kept), bool)
            kept = set(s.groups.fan_out[listed_rows].tolist())
            assert listed == kept
            if conv == "neurips2023":
                full = details["full_graph"]
                assert s.mask.num_left == full["inputs_non_isolated"]
                assert s.mask.num_right == full["outputs_non_isolated"]
                assert s.mask.d_in == pytest.approx(full["avg_fan_out"], rel=1e-6)
                assert s.mask.d_out == pytest.approx(full["avg_fan_in"], rel=1e-6)
            else:
                assert 2 * s.mask.num_edges == details["directed_edges"]
                if details["delta_r_bound"] is not None:
                    assert s.mask.upper_bound == pytest.approx(details["delta_r_bound"], rel=1e-6)
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


def test_lanczos_route_finds_a_degenerate_top():
    rng = np.random.default_rng(0)
    block = sp.random_array((700, 650), density=0.01, rng=rng, data_sampler=lambda size: np.ones(size))
    s1, s2 = sigma_pair(sp.block_diag([block, block]).tocsr())  # min side 1300: Lanczos
    ref = sigma_pair(block, solver="dense")[0]
    assert _close(s1, ref, ref) and _close(s2, ref, ref)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(9)
    graphs = [sg.bipartite(*_random_layer(rng, 64, 9 * 32, 0.05, conv=True)) for _ in range(3)]
    cpu = spectra_of(graphs)
    gpu = spectra_of(graphs, device="cuda")
    for a, b in zip(cpu, gpu):
        for x, y in ((a.mask, b.mask), (a.weighted, b.weighted)):
            assert _close(x.sigma1, y.sigma1, x.sigma1) and _close(x.sigma2, y.sigma2, x.sigma1)
        np.testing.assert_allclose(a.groups.w_sigma2, b.groups.w_sigma2, atol=1e-7 * a.mask.sigma1, equal_nan=True)


@pytest.mark.slow
def test_full_resnet18_gram_and_lanczos_routes_agree():
    from torch import nn

    model = sg.create_model("resnet18", seed=0)
    rng = np.random.default_rng(0)
    graphs = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            weight = module.weight.detach().numpy()
            graphs.append(sg.bipartite(rng.random(weight.shape) < 0.02, weight=weight, name=name))
    for conv in ("neurips2023", "iclr2023"):
        for a, b in zip(spectra_of(graphs, convention=conv), spectra_of(graphs, convention=conv, solver="lanczos")):
            for x, y in ((a.mask, b.mask), (a.weighted, b.weighted)):
                assert _close(x.sigma1, y.sigma1, x.sigma1) and _close(x.sigma2, y.sigma2, x.sigma1)
            valid = a.groups.valid
            tol = 1e-7 * max(1.0, float(np.nanmax(a.groups.sigma1, initial=1.0)))
            np.testing.assert_allclose(a.groups.sigma2[valid], b.groups.sigma2[valid], atol=tol, rtol=0)
            np.testing.assert_allclose(a.groups.w_sigma2[valid], b.groups.w_sigma2[valid], atol=tol, rtol=0)


@pytest.mark.slow
def test_full_resnet18_host_and_torch_routes_agree():
    from torch import nn

    model = sg.create_model("resnet18", seed=0)
    rng = np.random.default_rng(1)
    graphs = [sg.bipartite(rng.random(m.weight.shape) < 0.02, weight=m.weight.detach().numpy(), name=name)
              for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for conv in ("neurips2023", "iclr2023"):
        for a, b in zip(spectra_of(graphs, convention=conv), spectra_of(graphs, convention=conv, device="cpu")):
            _assert_spectra_close(a, b)


def test_edge_order_does_not_matter():
    from dataclasses import replace

    rng = np.random.default_rng(12)
    g = sg.bipartite(*_random_layer(rng, 20, 45, 0.3))
    perm = rng.permutation(g.num_edges)
    a = g.arrays
    shuffled = replace(g, arrays=replace(a, src=a.src[perm], dst=a.dst[perm], weight=a.weight[perm],
                                         signed_weight=a.signed_weight[perm], edge_set=a.edge_set[perm]))
    x, y = layer_spectra(g), layer_spectra(shuffled)
    assert _close(x.mask.sigma2, y.mask.sigma2, x.mask.sigma1)
    assert _close(x.weighted.sigma2, y.weighted.sigma2, x.weighted.sigma1)
    np.testing.assert_allclose(x.groups.sigma2, y.groups.sigma2, atol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(x.groups.n_out, y.groups.n_out)


def _assert_spectra_close(a, b):
    """Two :class:`LayerSpectra` agree within metrics.md §7 (σ within 1e-7·max(1, σ1))."""
    for x, y in ((a.mask, b.mask), (a.weighted, b.weighted)):
        assert (x.num_edges, x.num_left, x.num_right) == (y.num_edges, y.num_left, y.num_right)
        if x.num_edges:
            assert _close(x.sigma1, y.sigma1, x.sigma1) and _close(x.sigma2, y.sigma2, x.sigma1)
    tol = 1e-7 * max(1.0, float(np.nanmax(a.groups.w_sigma1, initial=1.0)),
                     float(np.nanmax(a.groups.sigma1, initial=1.0)))
    for u, v in ((a.groups.sigma1, b.groups.sigma1), (a.groups.sigma2, b.groups.sigma2),
                 (a.groups.w_sigma1, b.groups.w_sigma1), (a.groups.w_sigma2, b.groups.w_sigma2)):
        np.testing.assert_allclose(u, v, atol=tol, rtol=0, equal_nan=True)


@pytest.mark.parametrize("solver", ["auto", "dense", "lanczos"])
@pytest.mark.parametrize("convention", ["neurips2023", "iclr2023"])
def test_torch_route_on_cpu_matches_host(solver, convention):
    # device="cpu" runs the torch backend (the CUDA code path) on CPU tensors
    rng = np.random.default_rng(21)
    graphs = [sg.bipartite(*_random_layer(rng, n, 9 * m, d, conv=True))
              for n, m, d in ((64, 32, 0.05), (16, 4, 0.3), (40, 12, 0.15))]
    graphs.append(sg.bipartite(rng.random((30, 50)) < 0.2))  # unweighted
    host = spectra_of(graphs, convention=convention, solver=solver)
    torch_cpu = spectra_of(graphs, convention=convention, solver=solver, device="cpu")
    for a, b in zip(host, torch_cpu):
        _assert_spectra_close(a, b)
        np.testing.assert_array_equal(a.groups.valid, b.groups.valid)


def test_torch_route_is_deterministic_and_cached_apart():
    rng = np.random.default_rng(4)
    g = sg.bipartite(*_random_layer(rng, 48, 9 * 16, 0.1, conv=True))
    a = layer_spectra(g, device="cpu", solver="lanczos")
    b = layer_spectra(g, device="cpu", solver="lanczos")
    assert a.mask == b.mask and a.weighted == b.weighted
    with metric_cache() as cache:
        prepare([g], cache)
        prepare([g], cache, device="cpu")
        assert len(cache) == 2  # host and torch records are kept apart
        assert layer_spectra(g) is not layer_spectra(g, device="cpu")


def test_torch_lanczos_matches_kronecker_closed_form():
    x, products = kronecker_case()
    s1, s2 = sigma_pair(x, device="cpu")  # min side 1155 > 1024: the torch block Lanczos
    assert _close(s1, products[0], products[0]) and _close(s2, products[1], products[0])
    assert sigma_pair(x, device="cpu") == (s1, s2)


def test_torch_lanczos_finds_a_degenerate_top():
    rng = np.random.default_rng(0)
    block = sp.random_array((700, 650), density=0.01, rng=rng, data_sampler=lambda size: np.ones(size))
    s1, s2 = sigma_pair(sp.block_diag([block, block]).tocsr(), device="cpu")
    ref = sigma_pair(block, solver="dense")[0]
    assert _close(s1, ref, ref) and _close(s2, ref, ref)


@pytest.mark.parametrize("device", [None, "cpu"])
def test_gram_batches_of_mixed_sizes_match_dense_svd(device):
    # many Gram problems of different exact sizes (2 … 70, wide and tall) solved in one batch
    from sparsegraph.metrics.spectral_kernel import backend_for

    rng = np.random.default_rng(8)
    mats = [(rng.random((m, m + int(rng.integers(0, 40)))) < 0.3) * rng.random((1, 1)) * 3
            for m in (2, 3, 5, 17, 33, 64, 70, 2)]
    mats = [x + np.eye(*x.shape) for x in mats]  # no empty rows
    mat = np.concatenate([np.full(np.count_nonzero(x), i) for i, x in enumerate(mats)])
    row = np.concatenate([np.nonzero(x)[0] for x in mats])
    col = np.concatenate([np.nonzero(x)[1] for x in mats])
    val = np.concatenate([x[np.nonzero(x)] for x in mats])
    m, n = np.array([x.shape[0] for x in mats]), np.array([x.shape[1] for x in mats])
    top = backend_for(device).gram_top_two(mat, row, col, val, m, n)
    for x, (s1, s2) in zip(mats, top):
        ref = _dense_pair(x)
        assert _close(s1, ref[0], ref[0]) and _close(s2, ref[1], ref[0])


def test_unweighted_graph_reuses_the_mask_solve():
    # without weights A_w = S and W_K = B_K: one solve, identical numbers, still equal to dense SVD
    rng = np.random.default_rng(13)
    mask = rng.random((24, 60)) < 0.25
    s = layer_spectra(sg.bipartite(mask))
    assert s.weighted.sigma1 == s.mask.sigma1 and s.weighted.sigma2 == s.mask.sigma2
    valid = s.groups.valid
    assert valid.any()
    np.testing.assert_array_equal(s.groups.w_sigma2[valid], s.groups.sigma2[valid])
    ref = _dense_pair(mask.T.astype(float))
    assert _close(s.weighted.sigma2, ref[1], ref[0])
    fan_out = mask.T.sum(1)
    for k in np.flatnonzero(valid):
        ref = _dense_pair(mask.T[fan_out == s.groups.fan_out[k]].astype(float))
        assert _close(s.groups.w_sigma2[k], ref[1], ref[0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_lanczos_and_all_solvers_match_host():
    rng = np.random.default_rng(10)
    graphs = [sg.bipartite(*_random_layer(rng, 64, 9 * 32, 0.05, conv=True)) for _ in range(2)]
    for solver in ("auto", "dense", "lanczos"):
        for a, b in zip(spectra_of(graphs, solver=solver), spectra_of(graphs, solver=solver, device="cuda")):
            _assert_spectra_close(a, b)
    block = sp.random_array((700, 650), density=0.01, rng=rng, data_sampler=lambda size: np.ones(size))
    x = sp.block_diag([block, sp.random_array((600, 800), density=0.01, rng=rng)]).tocsr()
    host, gpu = sigma_pair(x), sigma_pair(x, device="cuda")
    assert _close(host[0], gpu[0], host[0]) and _close(host[1], gpu[1], host[0])
