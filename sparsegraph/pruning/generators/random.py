"""random, random-global, er, erk: i.i.d. U(0,1) float64 keys (spec pruning §2).

The methods differ only in scope and budgets: ``random`` keeps k_l ≈ K·N_l/N uniform positions per
layer, ``random-global`` takes the global top-K of the keys (what Synaptic-Flow's ``Rand`` and the seed
paper's code ran), ``er`` / ``erk`` draw positions uniformly within ER / ERK budgets with dense capping.

Example:
    ``random`` gives every layer the same density; ``erk`` gives the small classifier more.

    >>> import torch, sparsegraph as sg
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> sg.prune(net, "random", density=0.25, seed=0).layer_densities()
    {'0.weight': 0.25, '2.weight': 0.25}
    >>> {k: round(v, 3) for k, v in sg.prune(net, "erk", density=0.25, seed=0).layer_densities().items()}
    {'0.weight': 0.219, '2.weight': 0.292}
"""

from __future__ import annotations

import torch
from torch import nn

from sparsegraph.pruning.generators.context import ScoringContext
from sparsegraph.pruning.registry import register_generator


def random_keys(model: nn.Module, ctx: ScoringContext) -> dict[str, torch.Tensor]:
    """One U(0,1) float64 key per entry, drawn on CPU from the run's generator in MaskSet order."""
    return {name: torch.rand(tuple(p.shape), generator=ctx.generator, dtype=torch.float64)
            for name, p in ctx.params.items()}


register_generator("random", random_keys, scope="layer", allocation="uniform", min_per_layer=1, reads_weights=False,
                   description="uniform positions, k_l ≈ K·N_l/N per layer (seed paper's Random)")
register_generator("random-global", random_keys, scope="global", min_per_layer=0, reads_weights=False,
                   description="global top-K of i.i.d. random keys (Synaptic-Flow Rand, seed paper's code)")
register_generator("er", random_keys, scope="layer", allocation="er", min_per_layer=1, reads_weights=False,
                   description="Erdős–Rényi budgets (kernel ignored) with dense capping, uniform positions")
register_generator("erk", random_keys, scope="layer", allocation="erk", min_per_layer=1, reads_weights=False,
                   description="Erdős–Rényi–Kernel budgets with dense capping, uniform positions")
