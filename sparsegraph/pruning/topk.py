"""Exact top-k selection with deterministic, seeded tie keys (spec pruning §1.3)."""

from __future__ import annotations

import numpy as np
import torch

from sparsegraph.errors import UsageError
from sparsegraph.utils.seed import make_generator

TIE_BREAKS = ("random", "index")
TIE_SEED_HIGH = 2**63 - 1  # tie seeds are drawn from [0, 2^63 − 1), like every other sparsegraph seed
PREFILTER_MIN = 1 << 16  # CPU selections from this size up prefilter by a sampled threshold
PREFILTER_SAMPLE = 1 << 14  # entries in that sample


def topk_mask(scores: torch.Tensor, k: int, *, tie_break: str = "random",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep exactly ``k`` entries of a 1-D score vector: those with the largest scores.

    With t the k-th largest score, every entry > t is kept and the remaining slots are filled from the
    entries equal to t in tie-key order. ``tie_break="random"`` draws one tie seed from ``generator``
    (``torch.randint(2**63 − 1, (1,))``, once per call, ties or not, so the generator's stream never
    depends on the scores); only when entries tie at t is ``perm = torch.randperm(N)`` drawn, from a
    generator seeded with that tie seed, and flat index ``perm[j]`` gets the key j. ``"index"`` keys each
    entry by its flat index. Lower keys win. Entries scored −∞ are pruned ones: asking for more than the
    finite ones is an error.

    Args:
        scores: 1-D floating tensor without NaN (+inf is not expected either; see NonFiniteScoreError).
        k: how many to keep, 0 ≤ k ≤ number of entries > −∞.
        tie_break: ``"random"`` or ``"index"``.
        generator: CPU ``torch.Generator`` for the random tie keys.

    Returns:
        Boolean tensor of the shape and device of ``scores`` with exactly ``k`` True entries.
    """
    if tie_break not in TIE_BREAKS:
        raise UsageError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    if tie_break == "random" and generator is None:
        raise UsageError("tie_break='random' needs a generator")
    n = scores.numel()
    # one draw per selection, ties or not; the O(N) permutation is only paid for when ties need it
    tie_seed = int(torch.randint(TIE_SEED_HIGH, (1,), generator=generator)) if tie_break == "random" else None
    if k == 0:
        return torch.zeros(n, dtype=torch.bool, device=scores.device)
    # a finite k-th largest means at least k entries are > −∞: the live count is only needed to refuse
    threshold = kth_largest(scores, k) if k <= n else None
    if threshold is None or threshold == float("-inf"):
        live = int(torch.count_nonzero(scores > float("-inf")))
        raise UsageError(f"cannot keep {k} weights: only {live} are still unpruned")
    keep = scores > threshold
    slots = k - int(torch.count_nonzero(keep))
    tied = scores == threshold
    if slots < int(torch.count_nonzero(tied)):
        if tie_seed is None:
            order = torch.nonzero(tied, as_tuple=True)[0]
        else:
            # perm[j] has key j: the tied entries in key order are perm filtered by tied[perm]
            perm = torch.randperm(n, generator=make_generator(tie_seed)).to(scores.device)
            order = perm[tied[perm]]
        keep[order[:slots]] = True
    else:
        keep |= tied
    return keep


def kth_largest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th largest entry of a 1-D tensor (1 ≤ k ≤ N), as a 0-d tensor of its dtype and device.

    On CPU by NumPy's introselect (``np.partition``, several times faster than ``torch.kthvalue`` on
    millions of entries); elsewhere, and for dtypes NumPy lacks, by ``torch.kthvalue``. Both return an
    entry of ``scores`` exactly, so the choice never changes a selection. On CPU, when ``k`` is a small
    part of a large vector, the selection first keeps only the entries ``≥ t`` for a threshold ``t`` read
    off a strided sample (:func:`_prefilter_threshold`); if at least ``k`` entries pass, the k-th largest
    of them *is* the k-th largest of all (every larger entry passed too), else the whole vector is used.
    """
    n = scores.numel()
    if scores.device.type == "cpu" and scores.dtype != torch.bfloat16:
        values = scores.detach().numpy().reshape(-1)
        if n >= PREFILTER_MIN and k * 4 <= n:
            passed = values[values >= _prefilter_threshold(values, k)]
            if len(passed) >= k:
                values = passed
        return torch.as_tensor(np.partition(values, len(values) - k)[len(values) - k])
    return torch.kthvalue(scores, n - k + 1).values


def _prefilter_threshold(values: np.ndarray, k: int):
    """A value that about ``1.5·k + 4·sqrt(k)`` entries of ``values`` reach, read off every ``step``-th entry."""
    n = len(values)
    step = max(1, n // PREFILTER_SAMPLE)
    sample = values[::step]
    expected = len(sample) * k / n
    rank = min(len(sample), int(1.5 * expected + 4.0 * np.sqrt(expected) + 8))
    return np.partition(sample, len(sample) - rank)[len(sample) - rank]
