"""Class-stratified held-out splits, fixed by a split seed that is independent of any run seed."""

from __future__ import annotations

import numpy as np
import torch

from sparsegraph.errors import UsageError
from sparsegraph.utils import make_generator

#: Seed of every held-out split: all runs, whatever their seed, share the same val set.
SPLIT_SEED = 0


def stratified_counts(class_sizes: np.ndarray, num_holdout: int) -> np.ndarray:
    """How many items of each class go to a held-out set of ``num_holdout`` items.

    Each class gets ``floor(num_holdout * n_c / N)``; the remaining items go, one each, to the classes
    with the largest fractional parts (ties to the lower class index), so the counts sum exactly to
    ``num_holdout`` and each differs from the proportional share by less than one.
    """
    total = int(class_sizes.sum())
    share = num_holdout * class_sizes.astype(np.float64) / total
    counts = np.floor(share).astype(np.int64)
    remainder = num_holdout - int(counts.sum())
    # stable sort on the negated fractional part: largest first, ties by class index
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:remainder]] += 1
    return counts


def stratified_split(labels: np.ndarray | torch.Tensor, num_holdout: int,
                     seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Split item indices into (kept, held_out), stratified by class.

    Within each class the held-out items are the ones with the smallest random keys drawn from a CPU
    generator seeded with ``seed``; the result depends only on ``labels``, ``num_holdout`` and ``seed``.

    Args:
        labels: integer class label of every item.
        num_holdout: size of the held-out set, ``0 <= num_holdout < len(labels)``.
        seed: the split seed (default :data:`SPLIT_SEED`).

    Returns:
        Two sorted int64 index arrays, disjoint, covering ``range(len(labels))``.
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64)
    n = len(labels)
    if not 0 <= num_holdout < n:
        raise UsageError(f"held-out size must be in [0, {n}), got {num_holdout}")
    _, inverse, class_sizes = np.unique(labels, return_inverse=True, return_counts=True)
    counts = stratified_counts(class_sizes, num_holdout)
    keys = torch.rand(n, generator=make_generator(seed), dtype=torch.float64).numpy()
    order = np.lexsort((keys, inverse))  # grouped by class, random order inside each class
    class_start = np.concatenate(([0], np.cumsum(class_sizes)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - class_start[inverse[order]]
    held_out = rank < counts[inverse]
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)
