"""The ``paths`` family: input→output path counts, effective nodes and weights (metrics.md §5).

Four network-scope metrics on a ``(model, masks)`` target share one evaluation per (model, masks,
convention, input shape, device) within a ``measure`` call (through the registry's
:func:`~sparsegraph.metrics.cache.current_cache`):

* ``exact`` (default): the traced dataflow as a linear nonnegative count network, with exact
  (renormalised) path counts and the [NPB23]/[VK23] gradient rule for effectiveness
  (:mod:`sparsegraph.metrics.path_counting`);
* ``npb2023``: the authors' ``measure_node_path`` on a patched float64 copy
  (:mod:`sparsegraph.metrics.npb2023`).

Sources:
    [NPB23] Pham et al., *Towards Data-Agnostic Pruning At Initialization: What Makes a Good Sparse
    Mask?*, NeurIPS 2023; code pvh1602/NPB (``Utils/metrics.py``, ``Pruners/utils.py``).
    [VK23] Vysogorets & Kempe, *Connectivity Matters: Neural Network Pruning Through the Lens of
    Effective Sparsity*, JMLR 2023; code avysogorets/effective-sparsity.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from sparsegraph.errors import MetricError
from sparsegraph.metrics.cache import current_cache
from sparsegraph.metrics.info import MetricResult
from sparsegraph.metrics.npb2023 import NpbPasses, log10_or_none, npb_passes
from sparsegraph.metrics.path_counting import PathPasses, run_passes, traced
from sparsegraph.metrics.registry import register_metric
from sparsegraph.topology.trace import accepts_trace_options
from sparsegraph.utils.threads import serial_kernel

CONVENTIONS = ("exact", "npb2023")
_SOURCE = "[NPB23] Pham et al. NeurIPS 2023, pvh1602/NPB; [VK23] Vysogorets & Kempe JMLR 2023, " \
          "avysogorets/effective-sparsity"
_NO_PATH = "no input→output path"


# --------------------------------------------------------------------------------------- shared passes
def _input_shape(model: nn.Module, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise MetricError("paths: input_shape is required (C,H,W); the model has no default input_shape")
    return tuple(int(s) for s in shape)


def evaluate(model: nn.Module, masks: Mapping[str, Tensor] | None, convention: str = "exact",
             input_shape: Sequence[int] | None = None, device: str | torch.device | None = None
             ) -> PathPasses | NpbPasses:
    """The passes of ``convention`` for ``(model, masks)``, computed once per ``measure`` call.

    Within a ``measure`` call the result is cached under the identities of the model and the masks
    (both are held by the cache, so the identities stay valid) plus the convention, input shape and
    device; outside one it is computed afresh.
    """
    if convention not in CONVENTIONS:
        raise MetricError(f"paths: unknown convention {convention!r}; expected one of: {', '.join(CONVENTIONS)}")
    shape = _input_shape(model, input_shape)

    cache = current_cache()

    def compute() -> PathPasses | NpbPasses:
        with serial_kernel():  # many small products: one thread in every pool (utils/threads.py)
            if convention == "npb2023":
                return npb_passes(model, masks, shape)
            topology = None
            if cache is not None:  # the trace depends on the model and shape only: share it across options
                topology = cache.get_or_compute(("sg.trace", cache.graph_key(model), shape),
                                                lambda: traced(model, shape))
            return run_passes(model, masks, shape, device, topology=topology)

    if cache is None:
        return compute()
    masks_key = None if masks is None else cache.graph_key(masks)
    key = ("paths.passes", cache.graph_key(model), masks_key, convention, shape, None if device is None else str(device))
    return cache.get_or_compute(key, compute)


def _selected(model: nn.Module, candidates: Sequence[str], input_shape: Sequence[int] | None,
              layers: Iterable[str] | None, include: Iterable[str] | None, exclude: Iterable[str] | None
              ) -> list[str]:
    """The layers whose weights and rows count: ``layers`` (from ``measure``), then include/exclude."""
    names = list(candidates)
    if layers is not None:
        wanted = set(layers)
        names = [n for n in names if n in wanted]
    if include or exclude:
        from sparsegraph.metrics.measure import select_layers

        kept = {n for n, _ in select_layers(model, tuple(input_shape) if input_shape else None, include, exclude,
                                            [])}
        names = [n for n in names if n in kept]
    return names


def _passes_and_layers(target: tuple[nn.Module, Mapping[str, Tensor] | None], convention: str,
                       input_shape: Sequence[int] | None, device: str | torch.device | None,
                       layers: Iterable[str] | None, include: Iterable[str] | None, exclude: Iterable[str] | None
                       ) -> tuple[PathPasses | NpbPasses, list[str]]:
    """The shared passes and the names of the layers whose weights and rows count."""
    model, masks = target
    passes = evaluate(model, masks, convention, input_shape, device)
    return passes, _selected(model, passes.layers, input_shape or getattr(model, "input_shape", None), layers,
                             include, exclude)


def _effective_counts(passes: PathPasses | NpbPasses, names: Sequence[str]
                      ) -> tuple[dict[str, float], dict[str, int]]:
    """Effective weights and numel of each layer in ``names``."""
    if isinstance(passes, NpbPasses):
        params = {n: passes.param_of(n) for n in names}
        return ({n: float(torch.count_nonzero(passes.effective[p])) for n, p in params.items()},
                {n: passes.numel[p] for n, p in params.items()})
    return {n: float(torch.count_nonzero(passes.effective[n])) for n in names}, {n: passes.numel[n] for n in names}


# -------------------------------------------------------------------------------------------- metrics
def _paths_metric(name: str, *, higher_is_better: bool, units: str, description: str):
    """``register_metric`` with what every paths.* metric shares: a network metric of the model under
    CONVENTIONS (options from the function's signature), whose layer rows are not aggregated, citing
    [NPB23]/[VK23]."""
    register = register_metric(name=name, scope="network", encoding="model", higher_is_better=higher_is_better,
                               units=units, conventions=CONVENTIONS, aggregate="none",
                               description=description, source=_SOURCE)

    def decorate(fn):
        @functools.wraps(fn)
        def single_threaded(*args, **kwargs):  # reductions over millions of mask entries, many small ops
            with serial_kernel():
                return fn(*args, **kwargs)

        return register(single_threaded)

    return decorate


@_paths_metric("paths.log10_paths", higher_is_better=True, units="log10(count)",
               description="log10 of the number of input→output paths through the kept weights")
def log10_paths(target: tuple[nn.Module, Mapping[str, Tensor] | None], convention: str = "exact",
                input_shape: Sequence[int] | None = None, include_input: bool = True, include_output: bool = True,
                device: str | None = None, layers: Iterable[str] | None = None,
                include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> MetricResult:
    """Number of input→output paths, ``log10 P``.

    ``exact``: ``f`` is all ones on the input and propagates through the count network (masks as 0/1
    weights, sum pooling, identity norms, zero biases); ``P = Σ_logits f``. Counts are held as
    ``values·2^e`` and ``log10 P = (e·ln 2 + ln Σ values)/ln 10``, so ``P > 1e308`` is fine.
    ``npb2023``: ``P = Σ net(1)`` with every parameter (biases included) set to 1, in plain float64
    ([NPB23] ``measure_node_path``).

    Network-only: no layer rows; ``include``/``exclude`` do not change ``P`` (paths cross every layer).

    Returns:
        ``log10 P``; undefined when ``P = 0`` (``no input→output path``) or, under npb2023, when the
        float64 sum is not finite. ``extras["paths"]`` holds ``P`` as a float (``inf`` beyond float64).
    """
    passes, _ = _passes_and_layers(target, convention, input_shape, device, layers, include, exclude)
    if isinstance(passes, NpbPasses):
        value, reason = log10_or_none(passes.paths)
    else:
        value, reason = passes.log10_paths, ("" if passes.log10_paths is not None else _NO_PATH)
    extras = {"paths": passes.paths}
    if value is None:
        return MetricResult(None, "undefined", reason, extras=extras)
    return MetricResult(value, "ok", extras=extras)


@_paths_metric("paths.effective_weights", higher_is_better=True, units="count",
               description="kept weights that lie on at least one input→output path")
def effective_weights(target: tuple[nn.Module, Mapping[str, Tensor] | None], convention: str = "exact",
                      input_shape: Sequence[int] | None = None, include_input: bool = True,
                      include_output: bool = True, device: str | None = None, layers: Iterable[str] | None = None,
                      include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> MetricResult:
    """Number of effective weights, ``Σ_ℓ eff_ℓ`` over the included layers.

    ``exact``: a kept weight is effective iff the weight gradient of the indicator passes is positive
    at it, i.e. for a conv weight ``(o, i, r, s)``: ``∃p: F⁺[i, p·stride + (r,s)·dilation − padding] = 1``
    (in bounds) and ``B⁺[o, p] = 1`` ([NPB23]/[VK23] gradient rule, made exact).
    ``npb2023``: ``m·∂P/∂W ≠ 0`` in IEEE float64, NaN counted as nonzero, so after an overflow pruned
    weights may count too ([NPB23] code).

    Returns:
        The sum, with one row per included layer (its count); ``extras`` ``kept`` and ``numel``.
    """
    passes, names = _passes_and_layers(target, convention, input_shape, device, layers, include, exclude)
    rows, numel = _effective_counts(passes, names)
    extras = {"numel": sum(numel.values())}
    if isinstance(passes, PathPasses):
        extras["kept"] = sum(passes.kept[n] for n in names)
    return MetricResult(float(sum(rows.values())), "ok", per_layer=rows, extras=extras)


@_paths_metric("paths.effective_sparsity", higher_is_better=False, units="fraction",
               description="1 − effective weights / all weights of the included layers")
def effective_sparsity(target: tuple[nn.Module, Mapping[str, Tensor] | None], convention: str = "exact",
                       input_shape: Sequence[int] | None = None, include_input: bool = True,
                       include_output: bool = True, device: str | None = None, layers: Iterable[str] | None = None,
                       include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> MetricResult:
    """Effective sparsity ([VK23]): ``1 − Σ eff_ℓ / Σ numel_ℓ`` over the included layers.

    Layer rows hold ``1 − eff_ℓ/numel_ℓ``; the network value is the ratio of sums, not a row mean. It is
    1 when no path exists and never below the direct sparsity ``1 − Σ kept/Σ numel`` (exact convention).

    Returns:
        The fraction; undefined when the included layers have no weights. ``extras``: ``numerator``
        (effective weights) and ``denominator`` (weights).
    """
    passes, names = _passes_and_layers(target, convention, input_shape, device, layers, include, exclude)
    counts, numel = _effective_counts(passes, names)
    rows = {n: (1.0 - counts[n] / numel[n]) if numel[n] else None for n in names}
    total, size = sum(counts.values()), sum(numel.values())
    extras = {"numerator": total, "denominator": size}
    if size == 0:
        return MetricResult(None, "undefined", "the included layers have no weights", per_layer=rows, extras=extras)
    return MetricResult(1.0 - total / size, "ok", per_layer=rows, extras=extras)


@_paths_metric("paths.effective_nodes", higher_is_better=True, units="count",
               description="units (channels or features) that lie on at least one input→output path")
def effective_nodes(target: tuple[nn.Module, Mapping[str, Tensor] | None], convention: str = "exact",
                    input_shape: Sequence[int] | None = None, include_input: bool = True, include_output: bool = True,
                    device: str | None = None, layers: Iterable[str] | None = None,
                    include: Iterable[str] | None = None, exclude: Iterable[str] | None = None) -> MetricResult:
    """Number of effective units.

    ``exact``: a unit ``c`` (channel of a (C,H,W) tensor, feature of a (F,) one) is effective iff
    ``∃p: F⁺[c,p] = B⁺[c,p] = 1``. The total sums the effective units of each distinct tensor read by an
    included layer (a tensor and its reshapes count once, in the layout the layer reads), plus the
    network input if ``include_input`` and the logits if ``include_output``. A layer's row holds the
    effective units of its input tensor (the input stays in the first layer's row even with
    ``include_input=False``).

    ``npb2023`` ([NPB23] code, ``include_input``/``include_output`` ignored): walking the 2-D/4-D
    ``*weight*`` parameters in registration order, a conv whose name lacks ``shortcut`` adds its input
    channels with an effective weight; a linear layer adds its input and output units with an effective
    weight, read from the effective mask of weight number ``i`` = the number of 4-D weights before it (the
    authors' index bug). Shortcut conv rows are undefined; a linear row is inputs + outputs, with the split
    in ``extras["linear_split"]``.

    Returns:
        The count, with per-layer rows.
    """
    passes, names = _passes_and_layers(target, convention, input_shape, device, layers, include, exclude)
    if isinstance(passes, NpbPasses):
        rows: dict[str, Any] = {}
        split = {}
        for n in names:
            if n not in passes.node_rows:
                rows[n] = MetricResult(None, "undefined", "npb2023 skips shortcut convs in the node count")
                continue
            inputs, outputs = passes.node_rows[n]
            rows[n] = float(inputs + outputs)
            if passes.effective[passes.param_of(n)].dim() == 2:
                split[n] = {"inputs": inputs, "outputs": outputs}
        total = sum(v for v in rows.values() if isinstance(v, float))
        return MetricResult(float(total), "ok", per_layer=rows, extras={"linear_split": split})

    rows = {n: float(passes.input_units[n]) for n in names}
    tensors: dict[int, int] = {}
    for n in names:
        tensors.setdefault(passes.tensor_of[n], passes.input_units[n])
    if include_input:
        tensors.setdefault(passes.input_key, passes.input_units_native)
    else:
        tensors.pop(passes.input_key, None)
    if include_output:
        tensors.setdefault(passes.output_key, passes.output_units)
    extras = {"input": passes.input_units_native if include_input else 0,
              "output": passes.output_units if include_output else 0}
    return MetricResult(float(sum(tensors.values())), "ok", per_layer=rows, extras=extras)


# ---------------------------------------------------------------------------------------- public helper
@accepts_trace_options
def effective_masks(model: nn.Module, masks: Mapping[str, Tensor] | None, input_shape: Sequence[int] | None = None,
                    *, convention: str = "exact", device: str | torch.device | None = None):
    """The effective weights of ``(model, masks)`` as a :class:`~sparsegraph.masks.MaskSet`.

    A weight is effective when it lies on at least one input→output path (``exact``, the
    [NPB23]/[VK23] rule; see ``paths.effective_weights``), or, with ``convention="npb2023"``, when the
    authors' gradient is nonzero. The result has one bool mask per traced ``Conv2d``/``Linear`` weight
    (``exact``) or per 2-D/4-D weight of the authors' walk (``npb2023``), on the CPU, in trace or
    registration order; its metadata records the convention and the source masks' fingerprint.

    Args:
        model: the network (not modified).
        masks: parameter name -> mask (e.g. a ``MaskSet``); None or a missing entry means dense.
        input_shape: (C,H,W) or (F,); defaults to ``model.input_shape`` (zoo models).
        convention: ``exact`` (default) or ``npb2023``.
        device: where the exact passes run (default: the masks' device).
        leaf_modules, input_dtype: for the trace (see :func:`sparsegraph.trace`).

    Returns:
        A ``MaskSet`` of the effective weights (each a subset of its mask under ``exact``). Without any
        input→output path (e.g. a layer pruned to zero) every weight is ineffective: the masks are all
        zero (``num_kept == 0``), matching ``paths.effective_sparsity = 1``.

    Raises:
        MetricError: an unsupported operation, or a missing input shape.

    Example:
        >>> import torch, torch.nn as nn, sparsegraph as sg
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 2, bias=False))
        >>> masks = {"1.weight": torch.tensor([[1, 1], [0, 0]]), "3.weight": torch.tensor([[1, 1], [1, 0]])}
        >>> sg.effective_masks(net, masks, (1, 1, 2))["3.weight"]
        tensor([[ True, False],
                [ True, False]])
    """
    from sparsegraph.masks import MaskSet
    from sparsegraph.masks.fingerprint import mask_fingerprint

    passes = evaluate(model, masks, convention, input_shape, device)
    if isinstance(passes, NpbPasses):
        found = {param: passes.effective[param].cpu() for param in passes.walk}
    else:
        found = {passes.params[n]: passes.effective[n].cpu() for n in passes.layers}
    metadata: dict[str, Any] = {"effective_masks_convention": convention}
    if masks:
        metadata["effective_masks_of"] = mask_fingerprint({k: torch.as_tensor(v).bool() for k, v in masks.items()})
    if not any(bool(m.any()) for m in found.values()):
        # no input→output path: a computed answer, so MaskSet's check against all-zero input masks is skipped
        return MaskSet._trusted({name: m.bool().contiguous() for name, m in found.items()}, metadata, None)
    return MaskSet.from_dict(found, metadata)
