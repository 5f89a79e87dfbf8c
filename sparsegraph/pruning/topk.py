"""Exact top-k selection with deterministic, seeded tie keys (spec pruning §1.3)."""

from __future__ import annotations

import torch

from sparsegraph.errors import UsageError

TIE_BREAKS = ("random", "index")


def topk_mask(scores: torch.Tensor, k: int, *, tie_break: str = "random",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Keep exactly ``k`` entries of a 1-D score vector: those with the largest scores.

    With t the k-th largest score, every entry > t is kept and the remaining slots are filled from the
    entries equal to t in tie-key order. ``tie_break="random"`` draws ``perm = torch.randperm(N)`` from
    ``generator`` on CPU (once per call, ties or not) and gives flat index ``perm[j]`` the key j;
    ``"index"`` keys each entry by its flat index. Lower keys win. Entries scored −∞ are pruned ones:
    asking for more than the finite ones is an error.

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
    # drawn once per selection, ties or not, so the generator's stream never depends on the scores
    perm = torch.randperm(n, generator=generator) if tie_break == "random" else None
    live = int(torch.count_nonzero(scores > float("-inf")))
    if k > live:
        raise UsageError(f"cannot keep {k} weights: only {live} are still unpruned")
    if k == 0:
        return torch.zeros(n, dtype=torch.bool, device=scores.device)
    # the k-th largest = the (n − k + 1)-th smallest
    threshold = torch.kthvalue(scores, n - k + 1).values
    keep = scores > threshold
    slots = k - int(torch.count_nonzero(keep))
    tied = scores == threshold
    if slots < int(torch.count_nonzero(tied)):
        if perm is None:
            order = torch.nonzero(tied, as_tuple=True)[0]
        else:
            # perm[j] has key j: the tied entries in key order are perm filtered by tied[perm]
            perm = perm.to(scores.device)
            order = perm[tied[perm]]
        keep[order[:slots]] = True
    else:
        keep |= tied
    return keep
