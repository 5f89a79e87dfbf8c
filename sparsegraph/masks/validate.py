"""Checks that turn malformed or mismatched masks into one-line :class:`MaskError` messages."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor, nn

from sparsegraph.errors import MaskError
from sparsegraph.masks.maskable import MASKABLE_MODULES, maskable_parameters
from sparsegraph.registry import did_you_mean


def _where(source: str | None, name: str) -> str:
    return f"{source}: parameter '{name}'" if source else f"parameter '{name}'"


def _shape(shape: Any) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def to_bool_mask(name: str, value: Any, source: str | None = None) -> Tensor:
    """Validate one mask and return it as a contiguous CPU bool tensor.

    Accepts a torch tensor or numpy array holding bools, or numbers that are all exactly 0 or 1.

    Raises:
        MaskError: not an array, NaN, or a value other than 0/1.
    """
    where = _where(source, name)
    if isinstance(value, np.ndarray):
        if value.dtype == object or not (value.dtype == np.bool_ or np.issubdtype(value.dtype, np.number)):
            raise MaskError(f"{where}: mask has dtype {value.dtype}, expected bool or 0/1 numbers")
        value = torch.from_numpy(np.ascontiguousarray(value))
    elif not isinstance(value, Tensor):
        raise MaskError(f"{where}: mask is a {type(value).__name__}, expected a tensor or numpy array")
    if value.layout != torch.strided:
        value = value.to_dense()
    value = value.detach().cpu()
    if value.dtype == torch.bool:  # a copy: later in-place changes to the caller's tensor must not leak in
        return value.clone(memory_format=torch.contiguous_format)
    if value.is_complex():
        raise MaskError(f"{where}: mask has dtype {value.dtype}, expected bool or 0/1 numbers")
    if value.is_floating_point() and bool(torch.isnan(value).any()):
        raise MaskError(f"{where}: mask contains NaN (masks hold only 0/1 or True/False)")
    not_binary = (value != 0) & (value != 1)
    if bool(not_binary.any()):
        bad = value[not_binary][0].item()
        raise MaskError(f"{where}: mask contains the non-boolean value {bad!r} "
                        "(masks hold only 0/1 or True/False)")
    return (value != 0).contiguous()


def check_keeps_something(masks: Mapping[str, Tensor], source: str | None = None) -> None:
    """A non-empty mask set must keep at least one weight."""
    if masks and not any(bool(mask.any()) for mask in masks.values()):
        prefix = f"{source}: " if source else ""
        raise MaskError(f"{prefix}the masks keep no weight at all ({len(masks)} parameters, every entry 0)")


def check_fits(masks: Mapping[str, Tensor], model: nn.Module, source: str | None = None) -> None:
    """Every mask names a maskable parameter of ``model`` and has its shape.

    Raises:
        MaskError: on the first unknown name (with close matches), non-maskable parameter or
            shape mismatch (both shapes).
    """
    maskable = maskable_parameters(model)
    unknown = [name for name in masks if name not in maskable]
    if unknown:
        name = unknown[0]
        more = f" (and {len(unknown) - 1} more unknown names)" if len(unknown) > 1 else ""
        raise MaskError(f"{_where(source, name)}: {_why_unknown(name, model, maskable)}{more}")
    for name, mask in masks.items():
        expected = tuple(maskable[name].shape)
        if tuple(mask.shape) != expected:
            raise MaskError(f"{_where(source, name)}: mask shape {_shape(mask.shape)} does not match "
                            f"the model's parameter shape {_shape(expected)}")


def _why_unknown(name: str, model: nn.Module, maskable: Mapping[str, Tensor]) -> str:
    params = dict(model.named_parameters())
    if name in params:
        owner = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
        kinds = " or ".join(cls.__name__ for cls in MASKABLE_MODULES)
        return (f"is a parameter of {type(owner).__name__}, not a maskable weight "
                f"(only {kinds} weights are masked)")
    hint = did_you_mean(name, maskable, cutoff=0.8)
    hint = f"; {hint.rstrip()}" if hint else ""
    return f"is not a maskable parameter of the model ({len(maskable)} maskable weights){hint}"
