import numpy as np
import pytest
from scipy import stats as sps

from sparsegraph.study.stats import correlate, rowwise_kendall, rowwise_pearson


def test_exact_linear_relation_gives_one_everywhere():
    x = np.arange(10.0)
    result = correlate(x, 2 * x + 1, n_boot=200, seed=0)
    assert result["n"] == 10 and result["reason"] is None
    for method in ("pearson", "spearman", "kendall"):
        assert result[method]["value"] == pytest.approx(1.0)
        assert result[method]["ci_low"] == pytest.approx(1.0)
        assert result[method]["ci_high"] == pytest.approx(1.0)


def test_point_estimates_match_scipy_and_intervals_contain_them():
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 0.6 * x + rng.normal(size=40)
    result = correlate(x, y, n_boot=500, seed=1)
    assert result["pearson"]["value"] == pytest.approx(sps.pearsonr(x, y)[0])
    assert result["spearman"]["value"] == pytest.approx(sps.spearmanr(x, y)[0])
    assert result["kendall"]["value"] == pytest.approx(sps.kendalltau(x, y)[0])
    assert result["kendall"]["p_value"] == pytest.approx(sps.kendalltau(x, y)[1])
    for method in ("pearson", "spearman", "kendall"):
        entry = result[method]
        assert entry["ci_low"] < entry["value"] < entry["ci_high"]


def test_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(size=30)
    a, b, c = (correlate(x, y, n_boot=300, seed=s) for s in (5, 5, 6))
    assert a == b
    assert a["spearman"]["ci_low"] != c["spearman"]["ci_low"]


def test_missing_and_nonfinite_pairs_are_dropped():
    x = [1.0, 2.0, None, 4.0, float("nan"), 6.0]
    y = [1.0, 2.0, 3.0, float("inf"), 5.0, 6.5]
    result = correlate(x, y, n_boot=50)
    assert result["n"] == 3
    assert result["spearman"]["value"] == pytest.approx(1.0)


def test_too_few_pairs_and_constant_values_are_undefined_not_errors():
    few = correlate([1.0, 2.0], [3.0, 4.0])
    assert few["n"] == 2 and few["pearson"]["value"] is None and "fewer than 3" in few["reason"]
    constant = correlate([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert constant["kendall"]["value"] is None and constant["reason"] == "constant metric"


def test_rowwise_coefficients_match_scipy_with_ties():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, size=(25, 12)).astype(float)  # many ties
    y = rng.integers(0, 5, size=(25, 12)).astype(float)
    tau = rowwise_kendall(x, y)
    r = rowwise_pearson(x, y)
    for i in range(25):
        expected_tau = sps.kendalltau(x[i], y[i])[0]
        if np.isnan(expected_tau):
            assert np.isnan(tau[i])
        else:
            assert tau[i] == pytest.approx(expected_tau, abs=1e-12)
        if np.ptp(x[i]) and np.ptp(y[i]):
            assert r[i] == pytest.approx(np.corrcoef(x[i], y[i])[0, 1], abs=1e-12)


def test_rowwise_kendall_large_rows_take_the_scipy_route_with_the_same_values():
    rng = np.random.default_rng(11)
    x = rng.integers(0, 30, size=(3, 400)).astype(float)
    y = x + rng.normal(size=(3, 400)) * 5
    np.testing.assert_allclose(rowwise_kendall(x, y), [sps.kendalltau(a, b)[0] for a, b in zip(x, y)], atol=1e-12)
