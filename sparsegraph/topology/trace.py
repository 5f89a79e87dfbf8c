"""``sg.trace``: choose a tracer, prepare the model, restore its state."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn

from sparsegraph.errors import TraceError, UnsupportedOpError, UsageError
from sparsegraph.topology.memory import check_forward_memory
from sparsegraph.topology.topology import Topology

TRACERS = ("auto", "fx", "hooks")


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for the trace; every module's previous training flag is restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _example(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """``zeros(1, *input_shape)``: float32 on CPU, or on the device (and float dtype) of the model."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.zeros((1, *input_shape), device=device, dtype=dtype)


def trace(model: nn.Module, input_shape: Sequence[int], *, tracer: str = "auto",
          leaf_modules: Sequence[type[nn.Module]] = ()) -> Topology:
    """Trace the prunable layers and the dataflow between them.

    Args:
        model: the network; it is not modified (training flags are restored, no parameter is written).
        input_shape: per-sample input shape, (C, H, W) or (F,).
        tracer: ``"fx"`` (torch.fx symbolic trace and an interpreter pass), ``"hooks"`` (forward hooks
            and a walk of the autograd graph), or ``"auto"``: fx, falling back to hooks when torch.fx
            cannot trace the model (data-dependent control flow, untraceable Python).
        leaf_modules: module classes treated as opaque element-wise blocks: they must return a tensor of
            their input's shape; prunable layers inside them are listed in ``Topology.unused``.

    Returns:
        The :class:`Topology`.

    Raises:
        UnsupportedOpError: an operation without weight-graph meaning (named with its module).
        TraceError: with ``tracer="auto"``, when both tracers fail (both causes attached).
        UsageError: an unknown ``tracer`` or a bad ``input_shape``/``leaf_modules``.
        MemoryLimitError: the forward would need more memory than the limit (estimated on the meta
            device first, see :mod:`sparsegraph.topology.memory`).

    Example:
        >>> import torch.nn as nn, sparsegraph as sg
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 2))
        >>> topo = sg.trace(net, (3, 4, 4))
        >>> [(l.name, l.in_shape, l.out_shape) for l in topo.layers]
        [('0', (3, 4, 4), (8, 4, 4)), ('3', (128,), (2,))]
        >>> [n.kind for n in topo.nodes]
        ['input', 'layer', 'reshape', 'layer', 'output']
    """
    if tracer not in TRACERS:
        raise UsageError(f"unknown tracer {tracer!r}; choose one of {', '.join(TRACERS)}")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise UsageError(f"input_shape must be a sequence of ints, got {input_shape!r}") from None
    if not shape or any(s <= 0 for s in shape):
        raise UsageError(f"input_shape must be non-empty positive sizes without the batch, got {input_shape!r}")
    leaves = tuple(leaf_modules)
    if not all(isinstance(c, type) and issubclass(c, nn.Module) for c in leaves):
        raise UsageError(f"leaf_modules must be nn.Module subclasses, got {leaf_modules!r}")

    with _eval_mode(model):
        check_forward_memory(model, shape, f"tracing {type(model).__name__} on input {'x'.join(map(str, shape))}")
        example = _example(model, shape)
        if tracer == "hooks":
            return _hooks(model, example, leaves)
        try:
            with torch.no_grad():
                from sparsegraph.topology.fx_tracer import trace_fx
                return trace_fx(model, example, leaves)
        except (UnsupportedOpError, UsageError):
            raise
        except Exception as fx_error:
            if tracer == "fx":
                raise TraceError(f"torch.fx could not trace {type(model).__name__}: "
                                 f"{type(fx_error).__name__}: {fx_error}", (fx_error,)) from fx_error
            try:
                return _hooks(model, example, leaves)
            except Exception as hooks_error:
                raise TraceError(
                    f"could not trace {type(model).__name__} on input {shape}: torch.fx failed with "
                    f"{type(fx_error).__name__}: {fx_error}; the hooks tracer failed with "
                    f"{type(hooks_error).__name__}: {hooks_error}", (fx_error, hooks_error)) from hooks_error


def _hooks(model: nn.Module, example: torch.Tensor, leaves: tuple[type, ...]) -> Topology:
    from sparsegraph.topology.hooks_tracer import trace_hooks
    return trace_hooks(model, example, leaves)
