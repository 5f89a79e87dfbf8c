"""Correlation of a metric with a target, with seeded percentile-bootstrap intervals.

Point estimates come from :mod:`scipy.stats`: Pearson's r, Spearman's ρ (Pearson on average ranks) and
Kendall's τ-b

    τ_b = Σ_{i<j} sgn(x_i − x_j)·sgn(y_i − y_j) / sqrt((n0 − n_x)(n0 − n_y)),

with n0 = n(n−1)/2 and n_x, n_y the tied pairs. The bootstrap draws B resamples of the n pairs
(``numpy.random.default_rng(seed)``) and evaluates all three coefficients on every resample in
vectorised form (Kendall per row above 150 runs); the interval is the (α/2, 1 − α/2) percentile of the finite resampled values.
Resamples where a coefficient is undefined (a constant resample) are left out of its interval.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

METHODS = ("pearson", "spearman", "kendall")
MIN_PAIRS = 3
# elements of one B x n x n sign block in the bootstrap Kendall τ (bounds its memory)
_KENDALL_BLOCK = 4_000_000
# above this many runs per resample, per-row scipy.stats.kendalltau is faster (measured: n ≈ 150)
_KENDALL_PAIRWISE_MAX_N = 150


def finite_pairs(x: Sequence[float | None], y: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` as float64 arrays without the pairs where either is None or not finite."""
    xa = np.array([np.nan if v is None else v for v in x], dtype=np.float64)
    ya = np.array([np.nan if v is None else v for v in y], dtype=np.float64)
    keep = np.isfinite(xa) & np.isfinite(ya)
    return xa[keep], ya[keep]


def correlate(x: Sequence[float | None], y: Sequence[float | None], *, n_boot: int = 1000, ci: float = 0.95,
              seed: int = 0) -> dict[str, Any]:
    """Pearson, Spearman and Kendall correlation of ``x`` with ``y`` and their bootstrap intervals.

    Pairs with a missing or non-finite value are dropped first.

    Args:
        x, y: paired values.
        n_boot: bootstrap resamples (0: no intervals).
        ci: interval coverage.
        seed: bootstrap seed.

    Returns:
        ``{"n": pairs used, "reason": why undefined or None, "pearson": {...}, "spearman": {...},
        "kendall": {...}}``, each coefficient as ``{"value", "p_value", "ci_low", "ci_high"}`` (None when
        undefined: fewer than 3 pairs or a constant variable).
    """
    from scipy import stats

    xa, ya = finite_pairs(x, y)
    n = int(xa.size)
    empty = {"value": None, "p_value": None, "ci_low": None, "ci_high": None}
    out: dict[str, Any] = {"n": n, "reason": None, **{m: dict(empty) for m in METHODS}}
    if n < MIN_PAIRS:
        out["reason"] = f"fewer than {MIN_PAIRS} runs with values"
        return out
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        out["reason"] = "constant " + ("metric" if np.ptp(xa) == 0 else "target")
        return out
    point = {"pearson": stats.pearsonr(xa, ya), "spearman": stats.spearmanr(xa, ya),
             "kendall": stats.kendalltau(xa, ya)}
    intervals = bootstrap_intervals(xa, ya, n_boot=n_boot, ci=ci, seed=seed) if n_boot > 0 else {}
    for m in METHODS:
        statistic, p_value = float(point[m][0]), float(point[m][1])
        low, high = intervals.get(m, (None, None))
        out[m] = {"value": _finite_or_none(statistic), "p_value": _finite_or_none(p_value),
                  "ci_low": low, "ci_high": high}
    return out


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def bootstrap_intervals(x: np.ndarray, y: np.ndarray, *, n_boot: int = 1000, ci: float = 0.95,
                        seed: int = 0) -> dict[str, tuple[float | None, float | None]]:
    """Percentile-bootstrap intervals of the three coefficients (see the module docstring)."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, size=(n_boot, x.size))
    xb, yb = x[index], y[index]
    values = {
        "pearson": rowwise_pearson(xb, yb),
        "spearman": rowwise_pearson(rankdata(xb, axis=1), rankdata(yb, axis=1)),
        "kendall": rowwise_kendall(xb, yb),
    }
    alpha = (1.0 - ci) / 2.0
    out: dict[str, tuple[float | None, float | None]] = {}
    for name, v in values.items():
        v = v[np.isfinite(v)]
        out[name] = ((float(np.quantile(v, alpha)), float(np.quantile(v, 1.0 - alpha))) if v.size
                     else (None, None))
    return out


def rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of every row pair of two ``B x n`` arrays (NaN where a row is constant)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((xc * xc).sum(axis=1) * (yc * yc).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=1) / denominator
    return np.clip(r, -1.0, 1.0)


def rowwise_kendall(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of every row pair of two ``B x n`` arrays (NaN where a row is constant).

    Up to ``_KENDALL_PAIRWISE_MAX_N`` columns the pairwise sign matrices are formed in blocks (O(n²)
    per row, vectorised); beyond that scipy's O(n log n) ``kendalltau`` per row is faster.
    """
    rows, n = x.shape
    if n > _KENDALL_PAIRWISE_MAX_N:
        from scipy.stats import kendalltau

        return np.array([kendalltau(xr, yr).statistic for xr, yr in zip(x, y)], dtype=np.float64)
    block = max(1, _KENDALL_BLOCK // max(1, n * n))
    out = np.empty(rows, dtype=np.float64)
    for start in range(0, rows, block):
        xs, ys = x[start:start + block], y[start:start + block]
        sx = np.sign(xs[:, :, None] - xs[:, None, :]).astype(np.int8)
        sy = np.sign(ys[:, :, None] - ys[:, None, :]).astype(np.int8)
        # the full n x n sums count every pair twice, numerator and denominator alike
        concordance = np.einsum("bij,bij->b", sx, sy, dtype=np.int64)
        untied_x = np.count_nonzero(sx, axis=(1, 2))
        untied_y = np.count_nonzero(sy, axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + block] = concordance / np.sqrt(untied_x.astype(np.float64) * untied_y)
    return out
