"""From scores to masks: validation, −∞ for pruned entries, global or per-layer exact top-k."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from sparsegraph.errors import NonFiniteScoreError
from sparsegraph.pruning.budgets import layer_budgets
from sparsegraph.pruning.counts import allocate
from sparsegraph.pruning.topk import topk_mask


def check_finite(scores: Mapping[str, torch.Tensor]) -> None:
    """Raise :class:`NonFiniteScoreError` naming the first parameter whose scores hold NaN or ±inf."""
    for name, score in scores.items():
        # fast path: NaN and ±inf propagate into the sum; a finite sum proves every entry finite
        if bool(torch.isfinite(score.sum(dtype=torch.float64))):
            continue
        bad = int(torch.count_nonzero(~torch.isfinite(score)))
        if bad:
            raise NonFiniteScoreError(
                f"scores of {name!r} hold {bad} non-finite value(s) (NaN or inf) out of {score.numel()}; "
                "non-finite scores are never ranked (use float64 for SynFlow on deep nets)")


def prune_scores(scores: Mapping[str, torch.Tensor], masks: Mapping[str, torch.Tensor] | None
                 ) -> dict[str, torch.Tensor]:
    """Flat float64 CPU scores with every entry whose mask is False set to −∞ (the inputs are not modified)."""
    out = {}
    for name, score in scores.items():
        flat = score.detach().to("cpu", torch.float64).reshape(-1)
        if masks is not None:
            flat = torch.where(masks[name].reshape(-1).cpu(), flat, float("-inf"))
        out[name] = flat
    return out


def select(scores: Mapping[str, torch.Tensor], shapes: Mapping[str, tuple[int, ...]], total: int, *,
           density: float, scope: str, allocation: str, min_per_layer: int, tie_break: str,
           generator: torch.Generator, power: float = 1.0) -> dict[str, torch.Tensor]:
    """Keep exactly ``total`` entries: one global top-K, or per-layer top-k_l from allocated budgets.

    Args:
        scores: flat float64 scores per layer (pruned entries −∞), MaskSet order.
        shapes: the weight shapes.
        total: K for this selection.
        density: the density of this selection (ER/ERK budgets are solved for it).
        scope: ``"global"`` or ``"layer"``.
        allocation: layer budgets ``"uniform"``, ``"er"`` or ``"erk"``.
        min_per_layer: the minimum kept per layer (layer scope).
        tie_break: ``"random"`` or ``"index"``.
        generator: CPU generator for tie keys.
        power: ERK power scale γ.

    Returns:
        Boolean CPU masks shaped like the weights.
    """
    names = list(scores)
    if scope == "global":
        keep = topk_mask(torch.cat([scores[n] for n in names]), total, tie_break=tie_break, generator=generator)
        parts = keep.split([scores[n].numel() for n in names])
        return {n: part.reshape(shapes[n]) for n, part in zip(names, parts)}
    sizes = np.array([scores[n].numel() for n in names], dtype=np.int64)
    targets = layer_budgets(allocation, [shapes[n] for n in names], density, total, power=power)
    counts = allocate(targets, sizes, total, min_per_layer)
    return {n: topk_mask(scores[n], int(k), tie_break=tie_break, generator=generator).reshape(shapes[n])
            for n, k in zip(names, counts)}
