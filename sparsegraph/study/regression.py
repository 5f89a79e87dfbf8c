"""Cross-validated ridge regression of the target on a set of metrics, with permutation importance.

Model. In every training fold the features are standardised with that fold's mean and standard
deviation (a constant column becomes 0), the target is centred, and

    β(α) = argmin ||y_c − X_s β||² + α ||β||²  =  V diag(s / (s² + α)) Uᵀ y_c   (X_s = U diag(s) Vᵀ).

α is chosen inside the training fold from ``alphas`` by exact leave-one-out error, which ridge gives in
closed form: e_i(α) = (y_i − ŷ_i) / (1 − H_ii), H = U diag(s² / (s² + α)) Uᵀ. The held-out rows are
predicted with that fold's standardisation and β.

Score. R² of the pooled out-of-fold predictions, 1 − Σ(y − ŷ_oof)² / Σ(y − ȳ)²; it is negative when the
model predicts worse than the mean.

Importance. For feature j, its column is permuted within every held-out fold (``n_repeats`` seeded
permutations) and the pooled R² recomputed; importance_j = R² − mean permuted R² (the drop in held-out
R² when j carries no information).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))
MIN_ROWS = 6


@dataclass
class RidgeCVResult:
    """Cross-validated ridge fit.

    Attributes:
        features: feature names, in column order.
        n: rows used.
        folds: number of folds.
        r2: pooled out-of-fold R² (None: too few rows).
        fold_alphas: α chosen in each training fold.
        coefficients: standardised coefficients of a fit on all rows (α by leave-one-out).
        importance: feature -> mean drop in out-of-fold R² when the feature is permuted.
        importance_std: feature -> standard deviation of that drop over the repeats.
        reason: why ``r2`` is None.
    """

    features: list[str]
    n: int
    folds: int
    r2: float | None
    fold_alphas: list[float] = field(default_factory=list)
    coefficients: dict[str, float] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    importance_std: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"features": list(self.features), "n": self.n, "folds": self.folds, "r2": self.r2,
                "fold_alphas": list(self.fold_alphas), "coefficients": dict(self.coefficients),
                "importance": dict(self.importance), "importance_std": dict(self.importance_std),
                "reason": self.reason}


@dataclass
class _Fit:
    mean: np.ndarray
    scale: np.ndarray
    intercept: float
    beta: np.ndarray
    alpha: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.intercept + ((x - self.mean) / self.scale) @ self.beta


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 0, scale, np.inf)  # a constant column standardises to 0
    return (x - mean) / scale, mean, scale


def loo_errors(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS) -> np.ndarray:
    """Mean squared leave-one-out error of ridge (with intercept, on standardised ``x``) for each α.

    Standardisation uses all rows (as in the fit this selects α for); the residual of row i is
    (y_i − ŷ_i) / (1 − 1/n − H_ii) with H the ridge hat matrix of the centred problem.
    """
    xs, _, _ = _standardise(x)
    yc = y - y.mean()
    u, s, _ = np.linalg.svd(xs, full_matrices=False)
    uty = u.T @ yc
    shrink = s * s / (s * s + np.asarray(alphas, dtype=np.float64)[:, None])  # (alphas, rank)
    fitted = u @ (shrink * uty).T  # (n, alphas)
    leverage = (u * u) @ shrink.T + 1.0 / y.size  # diag of the full hat matrix; the intercept adds 1/n
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = ((yc[:, None] - fitted) / (1.0 - leverage)) ** 2
    return np.where(np.isfinite(loo), loo, np.inf).mean(axis=0)


def fit_ridge(x: np.ndarray, y: np.ndarray, alphas: Sequence[float] = DEFAULT_ALPHAS) -> _Fit:
    """Standardise, pick α by closed-form leave-one-out error, and solve (see the module docstring)."""
    alpha = float(np.asarray(alphas, dtype=np.float64)[int(np.argmin(loo_errors(x, y, alphas)))])
    xs, mean, scale = _standardise(x)
    intercept = float(y.mean())
    u, s, vt = np.linalg.svd(xs, full_matrices=False)
    beta = vt.T @ (s / (s * s + alpha) * (u.T @ (y - intercept)))
    return _Fit(mean=mean, scale=scale, intercept=intercept, beta=beta, alpha=alpha)


def fold_indices(n: int, folds: int, seed: int) -> list[np.ndarray]:
    """A seeded shuffle of ``range(n)`` split into ``folds`` near-equal held-out sets."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def r2_score(y: np.ndarray, prediction: np.ndarray) -> float:
    """1 − Σ(y − ŷ)² / Σ(y − ȳ)²."""
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - prediction) ** 2).sum()) / total


def ridge_cv(x: np.ndarray, y: np.ndarray, features: Sequence[str], *, folds: int = 5, n_repeats: int = 10,
             seed: int = 0, alphas: Sequence[float] = DEFAULT_ALPHAS) -> RidgeCVResult:
    """K-fold cross-validated ridge regression of ``y`` on ``x`` with permutation importance.

    Rows with a non-finite feature or target are dropped first.

    Args:
        x: ``n x p`` features.
        y: ``n`` targets.
        features: the ``p`` column names.
        folds: K (reduced to n when n < K).
        n_repeats: permutations per feature for the importance.
        seed: fold and permutation seed.
        alphas: candidate ridge penalties.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(y), -1)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
    x, y = x[keep], y[keep]
    n = int(y.size)
    names = list(features)
    k = min(folds, n)
    if not names:
        return RidgeCVResult(names, n, k, None, reason="no features")
    if n < MIN_ROWS:
        return RidgeCVResult(names, n, k, None, reason=f"fewer than {MIN_ROWS} runs with all values")
    if np.ptp(y) == 0:
        return RidgeCVResult(names, n, k, None, reason="constant target")
    held_out = fold_indices(n, k, seed)
    fits = []
    prediction = np.empty(n)
    for test in held_out:
        train = np.setdiff1d(np.arange(n), test)
        fit = fit_ridge(x[train], y[train], alphas)
        prediction[test] = fit.predict(x[test])
        fits.append(fit)
    r2 = r2_score(y, prediction)

    rng = np.random.default_rng([seed, 1])
    importance, importance_std = {}, {}
    for j, name in enumerate(names if n_repeats > 0 else []):
        drops = np.empty(n_repeats)
        for r in range(n_repeats):
            permuted = np.empty(n)
            for fit, test in zip(fits, held_out):
                xt = x[test].copy()
                xt[:, j] = xt[rng.permutation(test.size), j]
                permuted[test] = fit.predict(xt)
            drops[r] = r2 - r2_score(y, permuted)
        importance[name] = float(drops.mean())
        importance_std[name] = float(drops.std())
    full = fit_ridge(x, y, alphas)
    return RidgeCVResult(names, n, k, r2, fold_alphas=[f.alpha for f in fits],
                         coefficients={name: float(b) for name, b in zip(names, full.beta)},
                         importance=importance, importance_std=importance_std)
