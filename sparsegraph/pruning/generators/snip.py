"""snip and iter-snip: |θ ⊙ Σ_b ∇_θ L_b| (Lee et al., ICLR 2019; spec pruning §2).

L_b is the mean cross-entropy of batch b with the current mask applied in the forward pass. Gradients are
summed over batches *before* the absolute value (Σ_b|·| is another criterion). For a dense net the score
equals |∂L/∂c| at c = 1 for a multiplicative mask variable c. ``iter-snip`` repeats it for R rounds on
the same batches with the exponential schedule; pruned entries are −∞ at selection, so none revives.

Example:
    An input feature that is always zero gives its weights zero gradient, so SNIP prunes them all.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> x[:, 3] = 0
    >>> masks = sg.prune(net, "snip", density=0.25, data=(x, y), seed=0)
    >>> bool(masks["0.weight"][:, 3].any())
    False
"""

from __future__ import annotations

import torch
from torch import nn

from sparsegraph.pruning.generators.context import ScoringContext, batch_loss, summed_gradients
from sparsegraph.pruning.registry import register_generator


def snip_scores(model: nn.Module, ctx: ScoringContext) -> dict[str, torch.Tensor]:
    """S = |W ⊙ G|, G = Σ_b ∇_W L_b, W = θ ⊙ M (pruned entries score 0)."""
    weights = list(ctx.params.values())
    dtype = weights[0].dtype
    grads = summed_gradients(model, weights, ctx.batches, lambda m, b: batch_loss(m, b, dtype))
    return {name: (w.detach() * g).abs() for (name, w), g in zip(ctx.params.items(), grads)}


register_generator("snip", snip_scores, scope="global", data="labels",
                   description="|θ ⊙ Σ_b g_b|, connection sensitivity (Lee et al. 2019)")
register_generator("iter-snip", snip_scores, scope="global", data="labels", rounds=100,
                   description="SNIP over R exponential rounds on the same batches, no revival")
