"""NPB's effective-weight post-pass (the released code's ``fine_tune_mask``, made exact; spec pruning §2).

One forward sweep over the layers: at each layer the kept taps that are not effective (metrics spec,
gradient rule: ``F⁺`` at the input and ``B⁺`` at the output both positive) are dropped and, together with
the budget carried from earlier layers, re-spent on this layer's positions that would be effective,
kernels with the most effective taps first (1×1 convs and linear layers: whole input columns), inside a
group by the placement keys; what cannot be spent effectively is carried to the next layer.

Why one sweep is exact: ``F⁺`` at a layer's input depends only on earlier layers, which are final when
the sweep reaches it, and ``B⁺`` at its output only on later layers, which still hold the MILP masks
(so it is read from one pass over those). A position with both indicators positive lies on an
input→output path, and later steps only drop weights on no path and add weights, so every tap kept
this way stays effective. Budget left after the last layer (nothing effective left to take) goes back
to dropped positions, last layers first, and the sweep runs again on the result (the taps added to
later layers open effective positions in earlier ones), up to 8 sweeps while the remainder shrinks;
what is still left warns with its count. The total stays exactly K.

Differences from the released code (not reproduced): it fills whole kernels past the budget (the count
drifts up), skips a layer with exactly one ineffective weight (``n_ineff > 1``), measures effectiveness
once before the loop, and never fills linear layers (their carried budget is lost).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from sparsegraph.metrics.path_counting import forward_layerwise, potential_effective, run_passes
from sparsegraph.pruning.npb.placement import fill_order, placement_keys

MAX_SWEEPS = 8


@dataclass(frozen=True)
class RefineResult:
    """The post-pass's masks, the taps it moved, and the kept taps that stay ineffective (0 normally)."""

    masks: dict[str, torch.Tensor]
    moved: int
    ineffective: int


def refine_masks(model: torch.nn.Module, topology: Any, masks: Mapping[str, torch.Tensor], placement: str,
                 generator: torch.Generator) -> RefineResult:
    """Run the post-pass on ``masks`` (param -> bool, CPU); the result keeps exactly as many weights.

    A sweep that has to put budget back is repeated on its result (at most :data:`MAX_SWEEPS` times,
    while the remainder shrinks): the taps it added to later layers make more outputs of earlier
    layers reach the logits, which opens effective positions there.
    """
    refined, moved, left = dict(masks), 0, None
    for _ in range(MAX_SWEEPS):
        refined, remainder, sweep_moved = _sweep(model, topology, refined, placement, generator)
        moved += sweep_moved
        if not remainder or (left is not None and remainder >= left):
            break
        left = remainder
    final = run_passes(model, refined, topology.input_shape, device="cpu", topology=topology)
    ineffective = sum(int(refined[final.params[n]].sum()) - int(final.effective[n].sum())
                      for n in final.layers if final.params[n] in refined)
    if ineffective:
        warnings.warn(f"npb: {ineffective} kept weight(s) could not be placed on an input→output path and stay "
                      "ineffective", stacklevel=3)
    return RefineResult(refined, moved, ineffective)


def _sweep(model: torch.nn.Module, topology: Any, masks: Mapping[str, torch.Tensor], placement: str,
           generator: torch.Generator) -> tuple[dict[str, torch.Tensor], int, int]:
    """One forward sweep of the post-pass: the masks, the budget put back, and the taps moved."""
    weights = dict(model.named_parameters())
    start = run_passes(model, masks, topology.input_shape, device="cpu", topology=topology, output_indicators=True)
    carry, moved = 0, 0
    dropped: dict[str, torch.Tensor] = {}

    def choose(info: Any, inflow: Any) -> torch.Tensor:
        nonlocal carry, moved
        mask = masks.get(info.param)
        if mask is None:  # excluded: dense
            return torch.ones(info.weight_shape, dtype=torch.bool)
        potential = potential_effective(info, inflow.indicator, start.output_indicator[info.name]).cpu()
        kept = mask & potential
        dropped[info.param] = mask & ~potential
        budget = carry + int(dropped[info.param].sum())
        if budget:
            keys = placement_keys(weights[info.param], placement, generator)
            order = fill_order(kept, keys)
            free = (potential & ~kept).reshape(-1)[order]
            take = order[free][:budget]
            kept = kept.clone().reshape(-1)
            kept[take] = True
            kept = kept.reshape(info.weight_shape)
            moved += int(take.numel())
            budget -= int(take.numel())
        carry = budget
        return kept

    refined = {param: m.cpu() for param, m in forward_layerwise(topology, choose).items() if param in masks}
    remainder = carry
    for param in reversed(list(refined)):  # the budget nobody can use effectively goes back
        if not carry:
            break
        back = dropped[param].reshape(-1).nonzero().reshape(-1)[:carry]
        refined[param] = refined[param].clone().reshape(-1).index_fill_(0, back, True).reshape(refined[param].shape)
        carry -= int(back.numel())
    return refined, remainder, moved
