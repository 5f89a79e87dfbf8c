"""What a forward pass of a model allocates, estimated on the meta device (nothing is allocated).

The tracers run one forward on ``zeros(1, *input_shape)`` and keep every intermediate value (the fx
interpreter records them all; the hooks tracer keeps the autograd graph), so their peak memory is
about the input plus every tensor the forward creates. :func:`forward_bytes` sums those tensors
through a :class:`torch.overrides.TorchFunctionMode` while the model runs on meta tensors (shapes
only). Views and in-place results are not counted twice. A model whose forward cannot run on the
meta device (data-dependent control flow) is estimated by its input alone, a lower bound.

:func:`check_forward_memory` skips the estimate for inputs under ``limit / 10⁵`` bytes (CIFAR and
MNIST inputs under the default 4 GiB): no network of practical depth creates that many times its
input, and the estimate costs about as much as a small trace.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from sparsegraph.utils.memory import check_memory, resolve_max_bytes

#: inputs under limit / SMALL_INPUT_RATIO bytes are not estimated
SMALL_INPUT_RATIO = 10**5


class _TensorBytes(TorchFunctionMode):
    """Sums the bytes of every new tensor returned by a torch function."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {id(t) for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and id(t) not in inputs and t._base is None:
                self.total += t.numel() * t.element_size()
        return out


def forward_bytes(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype | None = None) -> int:
    """Bytes of the input ``(1, *input_shape)`` plus every tensor one forward of ``model`` creates.

    Args:
        model: the network (not modified; it runs on meta copies of its parameters and buffers).
        input_shape: per-sample input shape.
        dtype: the dtype of the forward (default: the model's floating dtype, else float32).
    """
    param = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = dtype or (param.dtype if param is not None else torch.float32)
    x = torch.empty((1, *input_shape), dtype=dtype, device="meta")
    input_bytes = x.numel() * x.element_size()
    state: dict[str, Any] = {name: torch.empty_like(t, device="meta", dtype=dtype if t.is_floating_point() else None)
                             for name, t in (*model.named_parameters(), *model.named_buffers())}
    counter = _TensorBytes()
    try:
        with torch.no_grad(), counter:
            torch.func.functional_call(model, state, (x,), strict=False)
    except Exception:  # the forward needs real values (control flow on data): the input is a lower bound
        return input_bytes
    return input_bytes + counter.total


def check_forward_memory(model: nn.Module, input_shape: Sequence[int], what: str, *, factor: float = 1.0,
                         dtype: torch.dtype | None = None, max_bytes: int | str | None = None) -> int | None:
    """Raise :class:`~sparsegraph.errors.MemoryLimitError` when ``factor`` forwards need more than the limit.

    Returns:
        the estimate, or None for an input too small to need one.
    """
    limit = resolve_max_bytes(max_bytes)
    itemsize = torch.empty((), dtype=dtype or torch.float32).element_size()
    numel = 1
    for s in input_shape:
        numel *= int(s)
    if numel * itemsize * factor * SMALL_INPUT_RATIO < limit:
        return None
    return check_memory(int(factor * forward_bytes(model, input_shape, dtype)), what, limit)
