"""State dicts (weights and buffers) as safetensors files: written atomically, read without unpickling."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from sparsegraph.errors import CheckpointError
from sparsegraph.utils.atomic import atomic_save_safetensors


def save_state_dict(path: Path, model_or_state: nn.Module | Mapping[str, torch.Tensor]) -> None:
    """Atomically write a model's state dict (or a state dict) as safetensors, on the CPU."""
    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    # clone: safetensors refuses tensors that share storage (tied weights, views)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    atomic_save_safetensors(tensors, path)


def load_state_dict(path: Path, what: str = "weights") -> dict[str, torch.Tensor]:
    """The state dict in the safetensors file ``path``.

    Raises:
        CheckpointError: ``"<path>: unreadable <what> (<reason>)"`` when the file is missing or is not a
            safetensors file.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (OSError, RuntimeError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: unreadable {what} ({exc})") from None
