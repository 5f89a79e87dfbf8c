"""The input a model is traced and scored with: per-sample shape and dtype (token ids are integers)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sparsegraph.errors import UsageError

# names accepted wherever an input dtype is given (CLI --input-dtype, input_dtype=)
DTYPE_NAMES = {
    "float32": torch.float32, "float": torch.float32, "float64": torch.float64, "double": torch.float64,
    "float16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "long": torch.int64, "int32": torch.int32, "int": torch.int32,
}


def resolve_input_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    """``dtype`` as a ``torch.dtype`` (names as in :data:`DTYPE_NAMES`); None stays None (the model's float)."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    resolved = DTYPE_NAMES.get(str(dtype).lower().removeprefix("torch."))
    if resolved is None:
        raise UsageError(f"unknown input dtype {dtype!r}; expected one of: {', '.join(DTYPE_NAMES)}")
    return resolved


def example_input(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype | str | None = None, *,
                  fill: float = 0.0, batch: int = 1, device: torch.device | str | None = None) -> torch.Tensor:
    """A ``(batch, *input_shape)`` tensor filled with ``fill``.

    Float inputs take the model's floating dtype (float32 for a model without float parameters) unless
    ``dtype`` says otherwise; an integer ``dtype`` (token ids for an embedding) gives integer ids. The
    device is ``device``, else the model's.
    """
    dtype = resolve_input_dtype(dtype)
    param = next(model.parameters(), None)
    if dtype is None:
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    if device is None:
        device = param.device if param is not None else torch.device("cpu")
    return torch.full((batch, *input_shape), fill, device=device, dtype=dtype)
