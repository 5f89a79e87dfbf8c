"""Rank pruning methods per sparsity level by mean target and by each metric; Kendall τ between them.

For a sparsity level with methods m = 1..M, each method's mean target (over its seeds) and mean metric
value (over its runs with a defined value) are taken. Methods are ranked 1 = best: by target in the
target's better direction, by a metric in its ``higher_is_better`` direction (higher first when the
registry gives no direction). The agreement is Kendall's τ-b between the two rankings (1: the metric
orders the methods exactly as the target does, −1: reversed); it needs at least 3 methods with values.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _ranks(values: np.ndarray, higher_first: bool) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(-values if higher_first else values, method="average")


def rank_methods(methods: Sequence[str], target: Sequence[Sequence[float]],
                 metric_values: dict[str, Sequence[Sequence[float | None]]], directions: dict[str, bool | None],
                 *, target_higher_is_better: bool = True) -> dict[str, Any]:
    """Rank ``methods`` by mean target and by each metric.

    Args:
        methods: method names.
        target: per method, the target value of each of its runs.
        metric_values: metric -> per method, the metric value of each run (None: undefined).
        directions: metric -> ``higher_is_better`` (None: higher first).
        target_higher_is_better: False for ``accuracy_drop``.

    Returns:
        ``{"methods": [{"method", "n", "mean", "std", "rank"}], "metrics": {metric: {"means": {method: mean},
        "ranks": {method: rank}, "kendall_tau": τ or None, "p_value", "n_methods"}}}``.
    """
    from scipy.stats import kendalltau

    means = np.array([np.mean(v) for v in target], dtype=np.float64)
    target_ranks = _ranks(means, target_higher_is_better)
    table = [{"method": m, "n": len(v), "mean": float(mu), "std": float(np.std(v, ddof=1)) if len(v) > 1 else None,
              "rank": float(r)} for m, v, mu, r in zip(methods, target, means, target_ranks)]
    out: dict[str, Any] = {"methods": table, "metrics": {}}
    for name, per_method in metric_values.items():
        values = np.array([_finite_mean(v) for v in per_method], dtype=np.float64)
        defined = np.isfinite(values)
        higher_first = directions.get(name) is not False
        ranks = np.full(values.shape, np.nan)
        if defined.any():
            ranks[defined] = _ranks(values[defined], higher_first)
        entry: dict[str, Any] = {
            "means": {m: (float(v) if ok else None) for m, v, ok in zip(methods, values, defined)},
            "ranks": {m: (float(r) if ok else None) for m, r, ok in zip(methods, ranks, defined)},
            "n_methods": int(defined.sum()), "kendall_tau": None, "p_value": None,
        }
        if defined.sum() >= 3 and np.ptp(values[defined]) > 0 and np.ptp(means[defined]) > 0:
            # agreement of the two rankings: both are "rank 1 = best", so τ on the ranks
            tau, p_value = kendalltau(target_ranks[defined], ranks[defined])
            entry["kendall_tau"] = float(tau) if np.isfinite(tau) else None
            entry["p_value"] = float(p_value) if np.isfinite(p_value) else None
        out["metrics"][name] = entry
    return out


def _finite_mean(values: Sequence[float | None]) -> float:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else np.nan
