"""One drop-and-grow mask update of dynamic sparse training (spec pruning §5): a pure function.

Per layer with nnz_l active weights and drop fraction ζ: remove n = ⌈ζ·nnz_l⌉ active weights of
smallest |w| (exactly-zero active weights first; ties per §1.3), then grow exactly n positions among
those inactive after the removal (the just-removed ones included): ``random`` (SET) uniformly,
``gradient`` (RigL) by the largest |g| of the dense gradient. The layer keeps nnz_l weights.
Everything runs on the device of the weights; only the random keys are drawn on CPU (spec §1.8).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch

from sparsegraph.errors import UsageError
from sparsegraph.pruning.topk import topk_mask

GROWTH = ("random", "gradient")


def drop_count(fraction: float, active: int) -> int:
    """n = ⌈ζ·nnz⌉ (the ITOP code's ``math.ceil(death_rate * num_nonzero)``), at most nnz."""
    return min(active, int(math.ceil(float(fraction) * active)))


@torch.no_grad()
def dst_update(masks: Mapping[str, torch.Tensor], weights: Mapping[str, torch.Tensor], *, fraction: float,
               growth: str, grads: Mapping[str, torch.Tensor] | None = None,
               generator: torch.Generator | None = None, tie_break: str = "random"):
    """The masks after one magnitude-drop / regrow update.

    Args:
        masks: parameter name -> bool mask (any device).
        weights: parameter name -> weight tensor of the same shape (the post-step weights).
        fraction: ζ, the drop fraction of this update.
        growth: ``random`` (SET: uniform among the inactive positions) or ``gradient`` (RigL: largest |g|).
        grads: parameter name -> dense gradient (``growth="gradient"``).
        generator: CPU ``torch.Generator`` for the random keys and tie keys.
        tie_break: ``random`` or ``index`` (spec §1.3).

    Returns:
        A :class:`~sparsegraph.masks.MaskSet` with the new masks on the masks' devices, same counts per layer.

    Examples:
        A SET update (random growth) moves weights but keeps every layer's count.

        >>> import torch, sparsegraph as sg
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> masks = sg.prune(net, "erk", density=0.5, seed=0)
        >>> weights = dict(net.named_parameters())
        >>> new = dst_update(masks, weights, fraction=0.5, growth="random", generator=torch.Generator().manual_seed(0))
        >>> {n: int(m.sum()) for n, m in masks.items()}, {n: int(m.sum()) for n, m in new.items()}
        ({'0.weight': 15, '2.weight': 13}, {'0.weight': 15, '2.weight': 13})
        >>> {n: int((m & ~masks[n]).sum()) for n, m in new.items()}  # newly active positions
        {'0.weight': 5, '2.weight': 6}

        A RigL update (gradient growth) keeps the counts too, and every newly active weight has a larger
        |g| than any weight left inactive.

        >>> grads = {n: torch.randn(m.shape) for n, m in masks.items()}
        >>> new = dst_update(masks, weights, fraction=0.5, growth="gradient", grads=grads, tie_break="index")
        >>> {n: int(m.sum()) for n, m in new.items()}
        {'0.weight': 15, '2.weight': 13}
        >>> g, old, now = grads["0.weight"].abs(), masks["0.weight"], new["0.weight"]
        >>> bool(g[now & ~old].min() > g[~now].max())
        True
    """
    from sparsegraph.masks import MaskSet

    if growth not in GROWTH:
        raise UsageError(f"growth must be one of {', '.join(GROWTH)}, got {growth!r}")
    if growth == "gradient" and grads is None:
        raise UsageError("gradient growth (RigL) needs the dense gradients: pass grads=")
    if not 0.0 <= float(fraction) <= 1.0:
        raise UsageError(f"the drop fraction must be in [0, 1], got {fraction}")
    if tie_break == "random" and generator is None:
        raise UsageError("dst_update needs a generator (or tie_break='index' with gradient growth)")
    out = {}
    for name, mask in masks.items():
        flat = mask.reshape(-1)
        active = int(torch.count_nonzero(flat))
        n = drop_count(fraction, active)
        if n == 0:
            out[name] = mask.clone()
            continue
        magnitude = weights[name].detach().reshape(-1).abs()
        survivors = topk_mask(torch.where(flat, magnitude, float("-inf")), active - n, tie_break=tie_break,
                              generator=generator)
        if growth == "random":
            keys = torch.rand(flat.numel(), generator=generator, dtype=torch.float64).to(flat.device)
        else:
            g = grads[name].detach().reshape(-1).abs()
            keys = torch.nan_to_num(g, nan=0.0, posinf=torch.finfo(g.dtype).max)  # skipped fp16 steps
        grown = topk_mask(keys.masked_fill(survivors, float("-inf")), n, tie_break=tie_break, generator=generator)
        out[name] = (survivors | grown).reshape(mask.shape)
    return MaskSet._trusted(out, {}, None)
