"""magnitude: |θ| (spec pruning §2).

At initialisation the ranking follows each layer's init scale: with Kaiming fan-out convs and PyTorch's
default Linear init, d = 0.01 keeps no classifier weight on CIFAR ResNet-18/34. Expected, not a bug.

Example:
    Global magnitude keeps exactly the largest ``|θ|`` over all layers.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> masks = sg.prune(net, "magnitude", density=0.25, seed=0)
    >>> w = torch.cat([net[0].weight.abs().flatten(), net[2].weight.abs().flatten()])
    >>> kept = torch.cat([masks["0.weight"].flatten(), masks["2.weight"].flatten()])
    >>> masks.num_kept, bool(w[kept].min() >= w[~kept].max())
    (14, True)
"""

from __future__ import annotations

import torch
from torch import nn

from sparsegraph.pruning.generators.context import ScoringContext
from sparsegraph.pruning.registry import register_generator


@register_generator("magnitude", scope="global", description="|θ|, global (collapses at init on ResNets)")
def magnitude_scores(model: nn.Module, ctx: ScoringContext) -> dict[str, torch.Tensor]:
    """S = |W| with W = θ ⊙ M."""
    return {name: p.detach().abs() for name, p in ctx.params.items()}
