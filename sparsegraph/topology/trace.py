"""``sg.trace``: choose a tracer, prepare the model, restore its state; traces are cached.

A trace is a function of the model's structure and the input only: the cache key is built from the
model class, every submodule's name, class, plain attributes (ints, floats, strings, flags), parameter
and buffer shapes and dtypes and hook types, the input shape and dtype, the tracer and the leaf classes.
Parameter *values* never change a trace, so a cache miss traces a copy of the model whose tensors live
on the ``meta`` device: no dense forward is computed. A model that the meta copy cannot run (data-
dependent code, an operation without a meta kernel) is traced on its own device, as before.
"""

from __future__ import annotations

import collections
import contextvars
import copy
import functools
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn
from torch.nn.utils.prune import BasePruningMethod

from sparsegraph.errors import TraceError, UnsupportedOpError, UsageError
from sparsegraph.topology.inputs import example_input, resolve_input_dtype
from sparsegraph.topology.memory import check_forward_memory
from sparsegraph.topology.topology import Topology

TRACERS = ("auto", "fx", "hooks")
CACHE_SIZE = 64

# defaults of every sg.trace call inside a `trace_options` block (the entry points open one)
_OPTIONS: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("sparsegraph_trace_options",
                                                                         default={})
# cache key -> (topology, warning messages of the trace), least recently used first
_CACHE: collections.OrderedDict[Any, tuple[Topology, tuple[tuple[str, type[Warning]], ...]]] = \
    collections.OrderedDict()


@contextmanager
def trace_options(*, leaf_modules: Sequence[type[nn.Module]] | None = None,
                  input_dtype: torch.dtype | str | None = None) -> Iterator[None]:
    """Defaults for every :func:`trace` inside the block, however deep the call that traces.

    ``sg.encode``, ``sg.export``, ``sg.measure``, ``sg.effective_masks`` and ``sg.prune`` take
    ``leaf_modules=`` and ``input_dtype=`` and trace inside such a block; use it directly around other
    code. ``None`` keeps the enclosing block's value. (PAGS worker processes do not inherit it.)
    """
    current = dict(_OPTIONS.get())
    if leaf_modules is not None:
        current["leaf_modules"] = _check_leaves(leaf_modules)
    if input_dtype is not None:
        current["input_dtype"] = resolve_input_dtype(input_dtype)
    token = _OPTIONS.set(current)
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def accepts_trace_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator of the entry points that trace: their keyword arguments ``leaf_modules=`` and
    ``input_dtype=`` (see :func:`trace`) open a :func:`trace_options` block around the call."""

    @functools.wraps(func)
    def wrapper(*args: Any, leaf_modules: Sequence[type[nn.Module]] | None = None,
                input_dtype: torch.dtype | str | None = None, **kwargs: Any) -> Any:
        with trace_options(leaf_modules=leaf_modules, input_dtype=input_dtype):
            return func(*args, **kwargs)

    return wrapper


def current_input_dtype() -> torch.dtype | None:
    """The input dtype of the enclosing :func:`trace_options` block (None: the model's float)."""
    return _OPTIONS.get().get("input_dtype")


def clear_cache() -> None:
    """Forget every cached trace."""
    _CACHE.clear()


def _check_leaves(leaf_modules: Sequence[type[nn.Module]]) -> tuple[type[nn.Module], ...]:
    leaves = tuple(leaf_modules)
    if not all(isinstance(c, type) and issubclass(c, nn.Module) for c in leaves):
        raise UsageError(f"leaf_modules must be nn.Module subclasses, got {leaf_modules!r}")
    return leaves


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


def trace(model: nn.Module, input_shape: Sequence[int], *, tracer: str = "auto",
          leaf_modules: Sequence[type[nn.Module]] | None = None, input_dtype: torch.dtype | str | None = None,
          cache: bool = True) -> Topology:
    """Trace the prunable layers and the dataflow between them.

    Args:
        model: the network; it is not modified (training flags are restored, no parameter is written).
            A bare ``nn.Conv2d`` or ``nn.Linear`` is a network of one layer (named ``""``, parameter
            ``weight``).
        input_shape: per-sample input shape, (C, H, W), (F,) or, for token inputs, (L,).
        tracer: ``"fx"`` (torch.fx symbolic trace and an interpreter pass), ``"hooks"`` (forward hooks
            and a walk of the autograd graph), or ``"auto"``: fx, falling back to hooks when torch.fx
            cannot trace the model (data-dependent control flow, untraceable Python).
        leaf_modules: module classes treated as opaque element-wise blocks: they must return a tensor of
            their input's shape; prunable layers inside them are listed in ``Topology.unused``
            (None: the enclosing :func:`trace_options` block's, else none).
        input_dtype: dtype of the example input (``torch.int64`` or ``"int64"`` for token ids; None: the
            enclosing block's, else the model's floating dtype).
        cache: reuse the trace of a structurally identical model (see the module docstring); pass False
            for a model whose forward depends on state outside its modules.

    Returns:
        The :class:`Topology` (shared with later calls that hit the cache: treat it as read-only).

    Raises:
        UnsupportedOpError: an operation without weight-graph meaning (named with its module).
        TraceError: with ``tracer="auto"``, when both tracers fail (both causes attached).
        UsageError: an unknown ``tracer`` or a bad ``input_shape``/``leaf_modules``/``input_dtype``.
        MemoryLimitError: the forward would need more memory than the limit (estimated on the meta
            device first, see :mod:`sparsegraph.topology.memory`); checked for the meta trace too, since
            everything built from the topology scales with the input.

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
    defaults = _OPTIONS.get()
    leaves = _check_leaves(defaults.get("leaf_modules", ()) if leaf_modules is None else leaf_modules)
    dtype = resolve_input_dtype(defaults.get("input_dtype") if input_dtype is None else input_dtype)
    if isinstance(model, (nn.Conv2d, nn.Linear)):
        from sparsegraph.topology.single_layer import trace_single_layer

        return trace_single_layer(model, shape)
    key = _cache_key(model, shape, dtype, tracer, leaves) if cache else None
    if key is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        topology, messages = _CACHE[key]
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            topology = _trace_meta_first(model, shape, dtype, tracer, leaves)
        messages = tuple((str(w.message), w.category) for w in caught)
        if key is not None:
            _CACHE[key] = (topology, messages)
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    for message, category in messages:  # the trace's warnings (unused layers) again on every call
        warnings.warn(message, category, stacklevel=2)
    return topology


def _trace_meta_first(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None, tracer: str,
                      leaves: tuple[type, ...]) -> Topology:
    """Trace a meta copy with the procedure's first tracer; a failure that is no verdict on the model
    (an operation without a meta kernel, data-dependent code) repeats the whole procedure on the model."""
    meta = _meta_copy(model)
    if meta is not None:
        try:
            return _run_tracer(meta, shape, dtype, "hooks" if tracer == "hooks" else "fx", leaves, device="meta")
        except (UnsupportedOpError, UsageError):
            raise
        except Exception:  # noqa: S110  (the real-device trace below decides)
            pass
    return _run_tracer(model, shape, dtype, tracer, leaves)


def _meta_copy(model: nn.Module) -> nn.Module | None:
    """A deep copy of ``model`` with empty meta tensors in place of its tensors (no data is copied)."""
    memo: dict[int, Any] = {}
    for module in model.modules():
        for p in module._parameters.values():
            if p is not None and id(p) not in memo:
                memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
        for b in module._buffers.values():
            if b is not None and id(b) not in memo:
                memo[id(b)] = torch.empty_like(b, device="meta")
        for value in vars(module).values():  # e.g. the `weight` torch.nn.utils.prune recomputes
            if isinstance(value, torch.Tensor) and id(value) not in memo:
                memo[id(value)] = torch.empty_like(value.detach(), device="meta")
    try:
        return copy.deepcopy(model, memo)
    except Exception:  # objects that refuse copying: the model itself is traced
        return None


def _run_tracer(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None, tracer: str,
                leaves: tuple[type, ...], device: str | None = None) -> Topology:
    with _eval_mode(model):
        # checked on meta traces too: they allocate nothing, but what is built from the topology scales with
        # the input (graphs, path passes), and this is where a huge input is refused first
        check_forward_memory(model, shape, f"tracing {type(model).__name__} on input {'x'.join(map(str, shape))}")
        example = example_input(model, shape, dtype, device=device)
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
                hint = ("; the model embeds token ids: pass input_dtype=torch.int64 (--input-dtype int64)"
                        if example.is_floating_point() and any(isinstance(m, nn.Embedding) for m in model.modules())
                        else "")
                raise TraceError(
                    f"could not trace {type(model).__name__} on input {shape}: torch.fx failed with "
                    f"{type(fx_error).__name__}: {fx_error}; the hooks tracer failed with "
                    f"{type(hooks_error).__name__}: {hooks_error}{hint}", (fx_error, hooks_error)) from hooks_error


def _hooks(model: nn.Module, example: torch.Tensor, leaves: tuple[type, ...]) -> Topology:
    from sparsegraph.topology.hooks_tracer import trace_hooks
    return trace_hooks(model, example, leaves)


_PLAIN = (bool, int, float, str, type(None))


def _plain(value: Any) -> Any:
    """``value`` when it is a plain constant or a tuple/list of them; ``NotImplemented`` otherwise."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, _PLAIN) for v in value):
        return tuple(value)
    return NotImplemented


def _cache_key(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None, tracer: str,
               leaves: tuple[type, ...]) -> tuple:
    """Everything that can change a trace (see the module docstring)."""
    parts = []
    for name, module in model.named_modules():
        cls = type(module)
        attributes = tuple(sorted((k, v) for k, v in ((k, _plain(v)) for k, v in vars(module).items()
                                                      if not k.startswith("_") and k != "training")
                                  if v is not NotImplemented))
        tensors = tuple((k, tuple(t.shape), str(t.dtype)) for table in (module._parameters, module._buffers)
                        for k, t in table.items() if t is not None)
        # torch.nn.utils.prune's hooks only recompute `weight`; any other hook may change the dataflow
        hooks = tuple(type(h) if isinstance(h, BasePruningMethod) else h
                      for table in (module._forward_pre_hooks, module._forward_hooks) for h in table.values())
        parts.append((name, cls, attributes, tensors, hooks))
    return tuple(parts), shape, dtype, tracer, leaves
