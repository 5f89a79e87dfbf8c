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
    Nesterov, skipped AMP steps and channels_last. Dynamic sparse training changes the masks in place
    (:meth:`set_masks`) and, for RigL, reads the unmasked gradient of a step (``capture_dense_grads``).

    Args:
        model: the model being trained.
        masks: parameter name -> bool tensor.
    """

    def __init__(self, model: nn.Module, masks: Mapping[str, torch.Tensor]):
        params = dict(model.named_parameters())
        self._names = list(masks)
        self._pairs: list[tuple[nn.Parameter, torch.Tensor]] = []
        self._handles = []
        self.capture_dense_grads = False
        self._dense_grads: dict[str, torch.Tensor] = {}
        for name, mask in masks.items():
            param = params[name]
            m = mask.to(device=param.device, dtype=param.dtype)
            if param.is_contiguous(memory_format=torch.channels_last) and param.dim() == 4:
                m = m.contiguous(memory_format=torch.channels_last)
            self._pairs.append((param, m))
            self._handles.append(param.register_hook(lambda g, m=m, name=name: self._masked_grad(name, g, m)))

    def _masked_grad(self, name: str, grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.capture_dense_grads:
            self._dense_grads[name] = grad.detach()
        return grad * mask

    def take_dense_grads(self) -> dict[str, torch.Tensor] | None:
        """The unmasked gradients captured since the last call (None if none were), then forget them."""
        grads, self._dense_grads = self._dense_grads, {}
        return grads or None

    @torch.no_grad()
    def set_masks(self, masks: Mapping[str, torch.Tensor], optimizer: torch.optim.Optimizer | None = None) -> None:
        """Replace the masks in place (same names and shapes) and zero what they remove, optimizer state too."""
        for name, (_, m) in zip(self._names, self._pairs):
            m.copy_(masks[name])
        if optimizer is None:
            self.apply()
        else:
            self.after_step(optimizer)

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
