"""Keeping pruned weights at exactly zero during training (pruning.md §1.10)."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn


class MaskEnforcer:
    """Hook-and-rezero enforcement of a mask on a model and its optimizer.

    A gradient hook multiplies each masked parameter's gradient by its mask; after every optimizer
    step :meth:`after_step` multiplies the weight and every optimizer state tensor of the same shape
    (momentum, Adam moments) by the mask, so masked weights stay exactly 0 with weight decay,
    Nesterov, skipped AMP steps and channels_last.

    Args:
        model: the model being trained.
        masks: parameter name -> bool tensor.
    """

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor]):
        params = dict(model.named_parameters())
        self._pairs: list[tuple[nn.Parameter, torch.Tensor]] = []
        self._handles = []
        for name, mask in masks.items():
            param = params[name]
            m = mask.to(device=param.device, dtype=param.dtype)
            if param.is_contiguous(memory_format=torch.channels_last) and param.dim() == 4:
                m = m.contiguous(memory_format=torch.channels_last)
            self._pairs.append((param, m))
            self._handles.append(param.register_hook(lambda g, m=m: g * m))

    @torch.no_grad()
    def apply(self) -> None:
        """Zero the masked weights (call once before training)."""
        for param, m in self._pairs:
            param.mul_(m)

    @torch.no_grad()
    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Re-zero masked weights and their optimizer state after ``optimizer.step()``."""
        for param, m in self._pairs:
            param.mul_(m)
            state = optimizer.state.get(param)
            if state:
                for value in state.values():
                    if isinstance(value, torch.Tensor) and value.shape == param.shape:
                        value.mul_(m)

    def remove(self) -> None:
        """Remove the gradient hooks."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
