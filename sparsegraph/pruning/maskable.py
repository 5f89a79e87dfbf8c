"""Which parameters a generator may prune (spec pruning §1.1)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.masks import maskable_parameters


@dataclass
class Maskable:
    """The maskable weights of a model, in MaskSet order (``named_parameters()`` order).

    Attributes:
        params: parameter name -> parameter (``sparsegraph.masks.maskable_parameters``), in MaskSet
            order; the global flat index concatenates them, each flattened in C order.
        excluded: the resolved exclusion list (names of conv/linear weights kept dense).
        all_prunable: every conv + linear weight name (the base of ``density_overall``).
    """

    params: dict[str, nn.Parameter]
    excluded: list[str] = field(default_factory=list)
    all_prunable: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> list[int]:
        return [p.numel() for p in self.params.values()]

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(p.shape) for p in self.params.values()]


def _dataflow_order(model: nn.Module, names: list[str], input_shape: Sequence[int] | None) -> list[str]:
    """Prunable weights in dataflow order from ``sg.trace``; registration order, with a warning, if that fails."""
    reason = "no input_shape was given"
    if input_shape is not None:
        try:
            from sparsegraph.topology import trace

            layers = trace(model, tuple(input_shape)).layers
            order = [layer.param for layer in layers if layer.param in names]
            if order:
                return order
            reason = "the trace found no prunable layer"
        except (ImportError, AttributeError) as exc:
            reason = f"tracing is unavailable ({exc})"
        except Exception as exc:  # any tracer failure falls back, as the spec prescribes
            reason = f"tracing failed ({type(exc).__name__}: {exc})"
    warnings.warn(f"dense_first_layer/dense_classifier use registration order: {reason}", stacklevel=3)
    return names


def resolve_maskable(model: nn.Module, *, dense_first_layer: bool = False, dense_classifier: bool = False,
                     exclude: Sequence[str] = (), input_shape: Sequence[int] | None = None) -> Maskable:
    """The maskable weights of ``model`` after the exclusion options.

    Args:
        model: the network.
        dense_first_layer: keep the first prunable layer in dataflow order dense.
        dense_classifier: keep the last prunable layer in dataflow order dense.
        exclude: regular expressions; every parameter whose full name matches (``re.search``) stays dense.
            A pattern matching nothing warns.
        input_shape: per-sample input shape for ``sg.trace`` (only needed for the two dense options).

    Raises:
        UsageError: if nothing is left to prune, or a pattern is not a valid regular expression.
    """
    candidates = maskable_parameters(model)
    names = list(candidates)
    if isinstance(exclude, str):
        exclude = [exclude]
    excluded: list[str] = []
    for pattern in exclude:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"exclude pattern {pattern!r} is not a valid regular expression: {exc}") from None
        hits = [name for name in names if regex.search(name)]
        if not hits:
            warnings.warn(f"exclude pattern {pattern!r} matches no prunable weight", stacklevel=2)
        excluded += [name for name in hits if name not in excluded]
    if (dense_first_layer or dense_classifier) and names:
        order = _dataflow_order(model, names, input_shape)
        for flag, name in ((dense_first_layer, order[0]), (dense_classifier, order[-1])):
            if flag and name not in excluded:
                excluded.append(name)
    params = {name: candidates[name] for name in names if name not in excluded}
    if not params:
        raise UsageError("no maskable weights left: the model has no Conv2d/Linear weight, or all are excluded")
    return Maskable(params=params, excluded=[n for n in names if n in excluded], all_prunable=names)
