"""magnitude: |θ| (spec pruning §2).

At initialisation the ranking follows each layer's init scale: with Kaiming fan-out convs and PyTorch's
default Linear init, d = 0.01 keeps no classifier weight on CIFAR ResNet-18/34. Expected, not a bug.
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
