"""Scoring without side effects (spec pruning §1.7).

Scoring runs on a deep copy of the caller's model (or, with ``copy=False``, on the model itself with
everything saved and written back). Afterwards the caller's weights, buffers, ``.grad``, ``requires_grad``,
train/eval flags and the global torch / numpy / ``random`` RNG states are bitwise unchanged.
"""

from __future__ import annotations

import contextlib
import copy as copy_module
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def preserved_global_rng() -> Iterator[None]:
    """Restore the global torch (CPU and initialised CUDA devices), numpy and ``random`` states on exit."""
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    numpy_state = np.random.get_state()
    random_state = random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        np.random.set_state(numpy_state)
        random.setstate(random_state)


@contextlib.contextmanager
def _saved_model_state(model: nn.Module) -> Iterator[None]:
    """Save every parameter, buffer, gradient, ``requires_grad`` and mode flag; write them back on exit.

    Saved tensors are clones and are written back by reassigning ``.data`` / the buffer slot, so dtype
    conversions (SynFlow's float64) and in-place edits are both undone bitwise.
    """
    params = {name: (p, p.detach().clone(), None if p.grad is None else p.grad.detach().clone(), p.requires_grad)
              for name, p in model.named_parameters(remove_duplicate=False)}
    buffers = [(module, key, None if buf is None else buf.detach().clone())
               for module in model.modules() for key, buf in module._buffers.items()]
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for p, value, grad, requires_grad in params.values():
            p.data = value
            p.grad = grad
            p.requires_grad_(requires_grad)
        for module, key, value in buffers:
            module._buffers[key] = value
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def scoring_model(model: nn.Module, *, copy: bool = True, untouched: bool = False) -> Iterator[nn.Module]:
    """Yield the model to score on: a deep copy (default) or ``model`` itself, restored on exit.

    The yielded model has every ``.grad`` cleared (stale warm-up gradients would leak into GraSP and
    SynFlow), runs outside autocast, and the global RNG states are restored on exit. ``untouched``: the
    scores read only the parameters' shapes (random keys), so ``model`` itself is yielded as it is,
    with nothing copied, saved or cleared.
    """
    with preserved_global_rng(), contextlib.ExitStack() as stack:
        if untouched:
            yield model
            return
        if copy:
            scoring = copy_module.deepcopy(model)
        else:
            stack.enter_context(_saved_model_state(model))
            scoring = model
        for p in scoring.parameters():
            p.grad = None
        stack.enter_context(torch.autocast("cpu", enabled=False))
        if torch.cuda.is_available():
            stack.enter_context(torch.autocast("cuda", enabled=False))
        yield scoring
