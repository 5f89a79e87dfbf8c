"""Keep counts and exact integer allocation of per-layer budgets (spec pruning §1.2)."""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.errors import UsageError


def resolve_density(density: float | None, sparsity: float | None) -> float:
    """Return the density d from exactly one of ``density`` / ``sparsity`` (d = 1 − s), d ∈ (0, 1]."""
    if (density is None) == (sparsity is None):
        raise UsageError("give exactly one of density and sparsity")
    d = float(density) if density is not None else 1.0 - float(sparsity)
    if not (0.0 < d <= 1.0) or math.isnan(d):
        name = "density" if density is not None else "sparsity"
        value = density if density is not None else sparsity
        raise UsageError(f"{name}={value} gives density {d}, which is outside (0, 1]")
    return d


def keep_count(density: float, total: int) -> int:
    """K = ⌊d·N + ½⌋ in float64, clamped to [1, N]."""
    k = math.floor(np.float64(density) * np.float64(total) + 0.5)
    return int(min(max(k, 1), total))


def schedule(density: float, total: int, rounds: int, start: float = 1.0) -> list[int]:
    """Exponential schedule: round r keeps k_r = ⌊d_r·N + ½⌋, d_r = d_0·(d/d_0)^{r/R} (r = 1…R), the last
    exactly K.

    d_0 = ``start`` is the density before the first round: 1 for a dense start (then d_r = d^{r/R}), the
    live fraction when an existing mask is pruned further.
    """
    if rounds < 1:
        raise UsageError(f"rounds must be >= 1, got {rounds}")
    start, density = np.float64(start), np.float64(density)
    counts = [keep_count(float(start * (density / start) ** (r / rounds)), total) for r in range(1, rounds)]
    return counts + [keep_count(float(density), total)]


def allocate(targets: np.ndarray, sizes: np.ndarray, total: int, min_per_layer: int = 0) -> np.ndarray:
    """Turn real budgets t_l into integers k_l with Σ k_l = ``total`` exactly (largest remainder).

    Take ⌊t_l⌋, give +1 to the ``total − Σ⌊t_l⌋`` layers with the largest fractional parts (ties: the
    earlier layer). Then raise layers below ``min_per_layer`` (never above N_l) and remove the surplus
    one weight at a time from the layer with k_l > ``min_per_layer`` and the largest k_l − t_l (ties: the
    later layer).

    Args:
        targets: t_l, float64, 0 ≤ t_l ≤ N_l, with ``total − Σ⌊t_l⌋`` between 0 and the layer count.
        sizes: N_l.
        total: K.
        min_per_layer: the minimum kept per layer.

    Returns:
        int64 array k_l.
    """
    t = np.asarray(targets, dtype=np.float64)
    n = np.asarray(sizes, dtype=np.int64)
    floors = np.floor(t).astype(np.int64)
    extra = int(total - floors.sum())
    if extra < 0 or extra > len(t):
        raise UsageError(f"budgets sum to {t.sum()}, which cannot be rounded to {total}")
    # stable sort on the negated fraction keeps the earlier layer first among equal fractions
    order = np.argsort(-(t - floors), kind="stable")
    k = floors.copy()
    k[order[:extra]] += 1
    floor_k = np.minimum(min_per_layer, n)
    k = np.maximum(k, floor_k)
    surplus = int(k.sum() - total)
    for _ in range(surplus):
        candidates = np.flatnonzero(k > min_per_layer)
        if candidates.size == 0:
            raise UsageError(
                f"cannot keep {total} weights with at least {min_per_layer} in each of {len(k)} layers; "
                "raise the density or lower min_per_layer")
        excess = k[candidates] - t[candidates]
        # the last index among the maxima: ties go to the later layer
        best = candidates[len(excess) - 1 - int(np.argmax(excess[::-1]))]
        k[best] -= 1
    return k
