"""grasp: θ ⊙ Hg, keep the largest (Wang et al., ICLR 2020, ``alecwangcq/GraSP``; spec pruning §2).

g = Σ_b ∇_W L_b (detached), Hg = ∇_W (Σ_b ∇_W L_b · g) by double back-propagation, with L_b the mean
``cross_entropy(outputs_b / T, y_b)``, T = 200 (temperature on the logits, never ``nll_loss``). Gradients
and the Hessian-vector product are taken with respect to the maskable weights only (Hg = H_ww·g_w), with
the current mask in the forward pass. The score is raw (the reference's division by |Σ| + 1e-10 is a
positive global scale); scores can be negative, which is why pruned entries must be −∞ when iterating.
The original removes the largest −θ ⊙ Hg: the same kept set.

The scoring copy is not re-initialised; ``grasp_reinit=True`` reproduces the original code, which
re-draws every Linear weight of its copy (Xavier normal) before scoring, here from the run's generator.

Example:
    GraSP needs labelled batches; with them it keeps exactly K weights.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> sg.prune(net, "grasp", density=0.25, seed=0)
    Traceback (most recent call last):
    ...
    sparsegraph.errors.UsageError: this generator needs labelled scoring data (data=...)
    >>> sg.prune(net, "grasp", density=0.25, data=(torch.randn(16, 4), torch.randint(0, 3, (16,))), seed=0).num_kept
    14
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from sparsegraph.pruning.generators.context import ScoringContext, batch_loss, summed_gradients
from sparsegraph.pruning.registry import register_generator


def grasp_prepare(model: nn.Module, ctx: ScoringContext) -> None:
    """With ``grasp_reinit``: Xavier-normal re-draw of the scoring copy's Linear weights (original code)."""
    if not ctx.options["grasp_reinit"]:
        return
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight, generator=ctx.generator)


def grasp_scores(model: nn.Module, ctx: ScoringContext) -> dict[str, torch.Tensor]:
    """S = W ⊙ Hg (see the module docstring)."""
    temperature = float(ctx.options["temperature"])
    weights = list(ctx.params.values())
    dtype = weights[0].dtype

    def loss(m: nn.Module, b) -> torch.Tensor:
        return batch_loss(m, b, dtype, temperature)

    g = summed_gradients(model, weights, ctx.batches, loss)
    second = ctx.batches if ctx.second_batches is None else ctx.second_batches
    hg = [torch.zeros_like(w) for w in weights]
    # one double-backward per batch: Σ_b ∇(∇L_b · g) = ∇(Σ_b ∇L_b · g), with one graph alive at a time
    for batch in second:
        # fused attention kernels (ViT, BERT) have no double backward; the math kernel computes the same
        with sdpa_kernel(SDPBackend.MATH):
            grads = torch.autograd.grad(loss(model, batch), weights, create_graph=True, allow_unused=True)
        dot = sum((gb * gw).sum() for gb, gw in zip(grads, g) if gb is not None)
        if not isinstance(dot, torch.Tensor) or not dot.requires_grad:
            continue
        for acc, h in zip(hg, torch.autograd.grad(dot, weights, allow_unused=True)):
            if h is not None:
                acc.add_(h)
    return {name: w.detach() * h for (name, w), h in zip(ctx.params.items(), hg)}


register_generator("grasp", grasp_scores, scope="global", data="labels",
                   options={"temperature": 200.0, "grasp_same_batches": True, "grasp_reinit": False},
                   prepare=grasp_prepare,
                   description="θ ⊙ Hg (gradient-flow preservation, Wang et al. 2020), keep the largest")
