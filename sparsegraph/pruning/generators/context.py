"""What a score function receives, and the gradient helpers the data-driven scores share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sparsegraph.models.outputs import logits_of

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ScoringContext:
    """Inputs of a score function ``score(model, ctx)``.

    Attributes:
        params: the scoring model's maskable weights in MaskSet order. The current mask has already
            been applied to them (W = θ ⊙ M), so pruned entries are exactly 0.
        masks: the current boolean masks (None before the first selection).
        generator: the run's CPU ``torch.Generator`` (the only source of randomness).
        batches: labelled scoring batches (generators with ``data="labels"``).
        second_batches: GraSP's second-pass batches when they differ from ``batches``.
        input_shape: per-sample input shape (generators with ``data="shape"``).
        input_dtype: dtype of a generated input (None: the model's float; ``torch.int64`` for token ids).
        options: the generator's own options, defaults filled in.
    """

    params: dict[str, nn.Parameter]
    masks: dict[str, torch.Tensor] | None
    generator: torch.Generator
    batches: list[Batch] = field(default_factory=list)
    second_batches: list[Batch] | None = None
    input_shape: tuple[int, ...] | None = None
    input_dtype: torch.dtype | None = None
    options: Mapping[str, object] = field(default_factory=dict)


def batch_loss(model: nn.Module, batch: Batch, dtype: torch.dtype, temperature: float = 1.0) -> torch.Tensor:
    """Mean cross-entropy of ``model(x) / temperature`` on logits (inputs cast to the weights' dtype)."""
    x, y = batch
    if x.is_floating_point():
        x = x.to(dtype)
    return F.cross_entropy(logits_of(model(x)) / temperature, y)


def summed_gradients(model: nn.Module, weights: Sequence[torch.Tensor], batches: Sequence[Batch],
                     loss: Callable[[nn.Module, Batch], torch.Tensor]) -> list[torch.Tensor]:
    """G = Σ_b ∇_W L_b with respect to ``weights`` only (no ``.grad`` is written)."""
    total = [torch.zeros_like(w) for w in weights]
    for batch in batches:
        grads = torch.autograd.grad(loss(model, batch), list(weights), allow_unused=True)
        for acc, g in zip(total, grads):
            if g is not None:
                acc.add_(g)
    return total
