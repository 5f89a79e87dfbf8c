import numpy as np
import pytest

from sparsegraph.study.regression import fit_ridge, fold_indices, loo_errors, r2_score, ridge_cv


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 3.0 * x[:, 0] - 2.0 * x[:, 1] + 0.05 * rng.normal(size=n)
    return x, y


def test_closed_form_leave_one_out_matches_refitting():
    x, y = _data(20)
    alphas = (0.01, 1.0, 30.0)
    xs = (x - x.mean(0)) / x.std(0)  # loo_errors standardises with all rows, so refits use the same columns
    brute = []
    for alpha in alphas:
        errors = []
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            xm, ym = xs[keep].mean(0), y[keep].mean()
            a = xs[keep] - xm
            beta = np.linalg.solve(a.T @ a + alpha * np.eye(3), a.T @ (y[keep] - ym))
            errors.append((y[i] - ym - (xs[i] - xm) @ beta) ** 2)
        brute.append(np.mean(errors))
    np.testing.assert_allclose(loo_errors(x, y, alphas), brute, rtol=1e-10)


def test_fit_recovers_coefficients_and_predicts():
    x, y = _data(200)
    fit = fit_ridge(x, y)
    np.testing.assert_allclose(fit.beta / x.std(0), [3.0, -2.0, 0.0], atol=0.02)
    assert r2_score(y, fit.predict(x)) > 0.999


def test_cross_validated_r2_and_permutation_importance():
    x, y = _data(60)
    result = ridge_cv(x, y, ["a", "b", "noise"], folds=5, n_repeats=5, seed=0)
    assert result.n == 60 and result.folds == 5
    assert result.r2 > 0.99
    assert result.importance["a"] > result.importance["b"] > 0.2
    assert abs(result.importance["noise"]) < 0.01
    assert result.coefficients["a"] > 0 > result.coefficients["b"]
    again = ridge_cv(x, y, ["a", "b", "noise"], folds=5, n_repeats=5, seed=0)
    assert again.to_dict() == result.to_dict()


def test_uninformative_feature_gives_r2_near_or_below_zero():
    rng = np.random.default_rng(1)
    result = ridge_cv(rng.normal(size=(40, 1)), rng.normal(size=40), ["x"], n_repeats=0)
    assert result.r2 < 0.1 and result.importance == {}


def test_folds_partition_the_rows():
    parts = fold_indices(23, 5, seed=2)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert {len(p) for p in parts} == {4, 5}


def test_rows_with_missing_values_are_dropped_and_small_samples_refused():
    x, y = _data(10)
    x[0, 1] = np.nan
    y[1] = np.inf
    result = ridge_cv(x, y, ["a", "b", "c"], n_repeats=0)
    assert result.n == 8
    small = ridge_cv(x[:5], y[:5] + 0, ["a", "b", "c"])
    assert small.r2 is None and "fewer than" in small.reason
    constant = ridge_cv(x[2:], np.ones(8), ["a", "b", "c"])
    assert constant.r2 is None and constant.reason == "constant target"
