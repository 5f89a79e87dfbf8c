"""ramanujan.* against the authors' reference values and the metrics.md §9 closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refcases.ramanujan_cases import ramanujan_cases

import sparsegraph as sg
from sparsegraph.errors import MetricError
from sparsegraph.metrics import ramanujan, spectral

METRICS = {
    "ramanujan.delta_r": ramanujan.delta_r, "ramanujan.delta_r_norm": ramanujan.delta_r_norm,
    "ramanujan.delta_s": ramanujan.delta_s, "ramanujan.imdb": ramanujan.imdb,
    "ramanujan.imdb_norm": ramanujan.imdb_norm, "ramanujan.narc": ramanujan.narc,
    "ramanujan.mixing": ramanujan.mixing,
}
CONVENTIONS = ("neurips2023", "iclr2023")


def _close(x, ref):
    if ref is None:
        return x is None
    return x is not None and abs(x - ref) <= 1e-3 + 1e-4 * abs(ref)


@pytest.mark.parametrize("case,graph", list(ramanujan_cases()),
                         ids=lambda v: v["case"] if isinstance(v, dict) else "")
def test_reference_values(case, graph):
    checked = 0
    for conv, values in case["expected"].items():
        for name, ref in values.items():
            if name in METRICS:
                result = METRICS[name](graph, convention=conv)
                assert _close(result.value, ref), (conv, name, result.value, ref, result.reason)
                assert result.status == ("undefined" if ref is None else "ok")
                checked += 1
    assert checked >= 9


def _graph(rows: np.ndarray, weight=None):
    """A layer from its (nL, nR) biadjacency (inputs as rows), as a linear layer (out, in)."""
    mask = np.asarray(rows, bool).T
    return sg.bipartite(mask, weight=None if weight is None else np.asarray(weight, np.float32).T)


def _circulant(n_left, n_right, degree):
    f = np.zeros((n_left, n_right), bool)
    for k in range(degree):
        f[np.arange(n_left), (np.arange(n_left) + k) % n_right] = True
    return f


def _all(graph, conv, names=METRICS):
    return {n: METRICS[n](graph, convention=conv).value for n in names}


def test_biregular_closed_forms():
    g = _graph(_circulant(16, 8, 4))  # inputs of degree a = 4, outputs of degree b = 8
    for conv in CONVENTIONS:
        v = spectral.mu0(g, convention=conv).value
        assert v == pytest.approx(math.sqrt(32), abs=1e-7 * v)
        ub = math.sqrt(3) + math.sqrt(7)
        mu_hat = spectral.mu_hat(g, convention=conv).value
        assert ramanujan.delta_r(g, convention=conv).value == pytest.approx(ub - mu_hat, abs=1e-12)


def test_complete_bipartite():
    m, n = 12, 5
    g = _graph(np.ones((m, n)), weight=np.full((m, n), -0.5))
    for conv in CONVENTIONS:
        assert spectral.mu0(g, convention=conv).value == math.sqrt(m * n)
        assert spectral.mu_hat(g, convention=conv).value == 0.0
        assert ramanujan.delta_r(g, convention=conv).value == pytest.approx(math.sqrt(n - 1) + math.sqrt(m - 1))
        assert ramanujan.delta_r_norm(g, convention=conv).value == 1.0
        result = ramanujan.imdb(g, convention=conv)
        (group,) = result.extras["groups"]
        assert (group["fan_out"], group["num_inputs"], group["num_outputs"]) == (n, m, n)
        assert spectral.spectral_gap(g, convention=conv).value == pytest.approx(0.5 * math.sqrt(m * n), rel=1e-12)


def test_dense_10x64_narc():
    g = _graph(np.ones((64, 10)))
    for conv in CONVENTIONS:
        assert ramanujan.narc(g, convention=conv).value == pytest.approx((math.sqrt(640) - 640) / 640, rel=1e-14)


def test_two_disjoint_copies_have_degenerate_top():
    block = _circulant(9, 6, 3) | (np.random.default_rng(0).random((9, 6)) < 0.3)
    f = np.zeros((18, 12), bool)
    f[:9, :6] = f[9:, 6:] = block
    g = _graph(f)
    mu0, mu_hat = spectral.mu0(g).value, spectral.mu_hat(g).value
    assert mu_hat == pytest.approx(mu0, abs=1e-7 * mu0)


@pytest.mark.parametrize("seed", range(4))
def test_bounds(seed):
    rng = np.random.default_rng(seed)
    f = rng.random((30, 20)) < 0.25
    g = _graph(f)
    fr = f[f.any(1)][:, f.any(0)]
    e = fr.sum()
    mu0, mu_hat = spectral.mu0(g).value, spectral.mu_hat(g).value
    lo = math.sqrt(e / fr.shape[0] * e / fr.shape[1])
    hi = math.sqrt(fr.sum(1).max() * fr.sum(0).max())
    assert lo - 1e-9 <= mu0 <= hi + 1e-9
    assert 0.0 <= mu_hat <= mu0


def test_invariances():
    rng = np.random.default_rng(4)
    f = rng.random((40, 24)) < 0.3
    w = rng.standard_normal((40, 24)) * f
    base = _graph(f, w)
    pr, pc = rng.permutation(40), rng.permutation(24)
    perm = _graph(f[pr][:, pc], w[pr][:, pc])
    padded_f = np.zeros((45, 30), bool)
    padded_w = np.zeros((45, 30))
    padded_f[:40, :24], padded_w[:40, :24] = f, w
    padded = _graph(padded_f, padded_w)
    for conv in CONVENTIONS:
        ref = _all(base, conv)
        for name, value in _all(perm, conv).items():
            assert value == pytest.approx(ref[name], abs=1e-9), name
        for name, value in _all(padded, conv).items():
            if name != "ramanujan.narc":
                assert value == pytest.approx(ref[name], abs=1e-9), name
        assert _all(padded, conv)["ramanujan.narc"] != pytest.approx(ref["ramanujan.narc"], abs=1e-6)


def test_d_left_regular_imdb():
    rng = np.random.default_rng(8)
    f = np.zeros((32, 20), bool)
    for i in range(32):
        f[i, rng.choice(20, 6, replace=False)] = True
    g = _graph(f)
    for conv in CONVENTIONS:
        result = ramanujan.imdb(g, convention=conv)
        (group,) = result.extras["groups"]
        assert (group["fan_out"], group["num_inputs"]) == (6, 32)
        dr = ramanujan.delta_r(g, convention=conv).value
        c_k = max(32, group["num_outputs"]) / (32 + group["num_outputs"] - 1) if conv == "neurips2023" else 1.0
        assert result.value == pytest.approx(c_k * dr, abs=1e-9)


def test_cheeger_three_quarters():
    # one group of c = 2 inputs with f = 3 reaching n_out = 3 outputs: c_K = 3/4, σ2 = 0 (complete)
    g = _graph(np.ones((2, 3)))
    result = ramanujan.imdb(g, convention="neurips2023")
    assert result.extras["groups"][0]["weight"] == 0.75
    assert result.value == pytest.approx(0.75 * (math.sqrt(2) + 1))
    assert ramanujan.imdb(g, convention="iclr2023").value is None  # c < 3 is not kept


def test_threshold_edges_in_metrics():
    # E = 3·nR' passes the neurips fan-in test: 6 inputs of degree 2 onto 4 outputs (E = 12)
    passes = _graph(_circulant(6, 4, 2))
    assert ramanujan.delta_r(passes, convention="neurips2023").value is not None
    # E = nL': every input has degree 1 -> d_in = 1 fails d_in > 1
    fails = _graph(_circulant(12, 4, 1))
    result = ramanujan.delta_r(fails, convention="neurips2023")
    assert result.value is None and result.reason == "threshold: mean fan-out 1.00 <= 1"


def test_empty_layer():
    g = sg.bipartite(np.zeros((4, 6), bool), weight=np.zeros((4, 6), np.float32))
    for name, fn in METRICS.items():
        value = fn(g, convention="neurips2023").value
        assert value == (0.0 if name in ("ramanujan.imdb", "ramanujan.imdb_norm") else None), name
        assert fn(g, convention="iclr2023").value is None
    assert ramanujan.imdb(g, convention="iclr2023").reason == "empty layer: no edges"


def test_delta_r_same_under_both_conventions():
    g = _graph(_circulant(20, 10, 4) | _circulant(20, 10, 1)[::-1])
    a = ramanujan.delta_r(g, convention="neurips2023").value
    b = ramanujan.delta_r(g, convention="iclr2023").value
    assert a is not None and a == b


def test_zero_weight_kept_edges_change_only_the_iclr_support():
    f = _circulant(12, 6, 4)
    w = np.where(f, 1.0, 0.0)
    w[0, 0] = 0.0  # kept edge with weight 0
    g = _graph(f, w)
    neurips = ramanujan.delta_r(g, convention="neurips2023")
    iclr = ramanujan.delta_r(g, convention="iclr2023")
    assert neurips.extras["num_edges"] == 48 and iclr.extras["num_edges"] == 47
    assert neurips.value != pytest.approx(iclr.value)
    assert spectral.spectral_gap(g, convention="neurips2023").extras["num_edges"] == 47


def test_non_finite_weights():
    w = np.ones((5, 4))
    w[1, 2] = np.inf
    g = sg.bipartite(np.ones((4, 5), bool), weight=w.T.astype(np.float32), name="conv1")
    with pytest.raises(MetricError, match="^non-finite weights in layer conv1$"):
        ramanujan.delta_r(g)


def test_docstring_examples():
    import doctest

    for module in (ramanujan, spectral):
        assert doctest.testmod(module).failed == 0
