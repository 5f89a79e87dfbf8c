"""A conformance checker for registered metrics, for plugin authors and for sparsegraph's own tests.

Run it on a metric after registering it::

    from sparsegraph.metrics.conformance import check_metric

    def test_my_metric_conforms():
        check_metric("mypkg.my_metric")

:func:`check_metric` evaluates the metric, under every convention it accepts, on a set of small
deterministic targets for its scope, and checks that:

* its metadata is valid (the rules of ``register_metric``, plus a description and a source);
* it returns a finite float, None or a ``MetricResult`` (never NaN, never another type);
* it is deterministic (two calls give bit-identical values);
* it does not mutate its target (graph arrays and attributes; model parameters, buffers, mode and masks);
* it handles an empty layer (an all-zero mask) with a value or an undefined result, not an exception;
* it refuses a target of the wrong kind with ``TypeError`` and an unknown option with ``ValueError``;
* it reports a failure on non-finite weights, if at all, as ``MetricError`` (an error row), never as a
  non-finite number or an unrelated exception;
* with ``requires_weights``, a mask-only graph gives ``MetricError``;
* when its family has a batch preparer, the values computed after the preparer ran on all sample layers
  equal the values computed without it (within ``rtol``).

All failures are collected and raised together as one :class:`ConformanceError`.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsegraph.errors import MetricError
from sparsegraph.graphs.bipartite import BipartiteGraph, bipartite
from sparsegraph.metrics.cache import metric_cache
from sparsegraph.metrics.info import AGGREGATES, ENCODINGS, SCOPES, MetricInfo, MetricResult
from sparsegraph.metrics.registry import NAME_PATTERN, compute_detailed, get_info, get_preparer


class ConformanceError(AssertionError):
    """A metric that breaks the registry's contract; the message lists every failed check."""


def sample_layer_graphs() -> dict[str, BipartiteGraph]:
    """Small deterministic layer graphs: random linear and conv layers, dense, empty, one edge, mask-only."""
    rng = np.random.default_rng(0)

    def layer(shape: tuple[int, ...], density: float, name: str, weighted: bool = True) -> BipartiteGraph:
        mask = torch.from_numpy(rng.random(shape) < density)
        weight = torch.from_numpy(rng.standard_normal(shape))
        return bipartite(mask, weight=weight if weighted else None, name=name)

    one_edge = torch.zeros(4, 6, dtype=torch.bool)
    one_edge[2, 3] = True
    return {
        "linear": layer((12, 20), 0.5, "linear"),
        "conv": layer((8, 4, 3, 3), 0.3, "conv"),
        "dense": layer((6, 10), 1.0, "dense"),  # rng.random() < 1 always
        "empty": layer((5, 7), 0.0, "empty"),
        "one_edge": bipartite(one_edge, weight=torch.full((4, 6), 0.5), name="one_edge"),
        "mask_only": layer((12, 20), 0.5, "mask_only", weighted=False),
    }


def _nonfinite_graph() -> BipartiteGraph:
    mask = torch.ones(6, 8, dtype=torch.bool)
    weight = torch.linspace(-1.0, 1.0, 48).reshape(6, 8)
    weight[1, 2] = float("nan")
    weight[3, 4] = float("inf")
    return bipartite(mask, weight=weight, name="nonfinite")


def sample_networks() -> dict[str, tuple[tuple[nn.Module, dict[str, torch.Tensor]], tuple[int, ...]]]:
    """Small ``((model, masks), input_shape)`` targets: a conv net, and the same with an empty layer."""
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    model.eval()
    masks = {name: torch.rand(p.shape, generator=gen) < 0.6
             for name, p in model.named_parameters() if name.endswith("weight")}
    empty = dict(masks)
    empty["2.weight"] = torch.zeros_like(masks["2.weight"])
    return {"convnet": ((model, masks), (2, 4, 4)), "convnet_empty_layer": ((model, empty), (2, 4, 4))}


def check_metric(name: str, *, rtol: float = 1e-9) -> list[str]:
    """Run every conformance check on the registered metric ``name``.

    Args:
        name: the metric.
        rtol: relative tolerance between values computed with and without the family's batch preparer.

    Returns:
        The names of the checks that ran (all passed).

    Raises:
        ConformanceError: one or more checks failed (all failures are listed).
    """
    info = get_info(name)
    checker = _Checker(info, rtol)
    checker.run()
    if checker.failures:
        raise ConformanceError(f"metric {name} fails {len(checker.failures)} conformance check(s):\n- "
                               + "\n- ".join(checker.failures))
    return checker.passed


class _Checker:
    def __init__(self, info: MetricInfo, rtol: float):
        self.info = info
        self.rtol = rtol
        self.failures: list[str] = []
        self.passed: list[str] = []

    def check(self, label: str, condition: bool, problem: str) -> None:
        if condition:
            self.passed.append(label)
        else:
            self.failures.append(f"{label}: {problem}")

    def run(self) -> None:
        self.metadata()
        conventions = self.info.conventions or (None,)
        if self.info.scope == "network":
            targets = {label: (target, shape) for label, (target, shape) in sample_networks().items()}
        else:
            targets = {label: (g, None) for label, g in sample_layer_graphs().items()}
        for convention in conventions:
            for label, (target, shape) in targets.items():
                self.target(_label(label, convention), target, self._options(convention, shape))
        self.wrong_target()
        self.unknown_option()
        if self.info.scope != "network":
            for convention in conventions:
                self.nonfinite(convention)
                self.preparer(convention)

    def _options(self, convention: str | None, input_shape: tuple[int, ...] | None) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if convention is not None:
            options["convention"] = convention
        if input_shape is not None and "input_shape" in self.info.options:
            options["input_shape"] = input_shape
        return options

    def metadata(self) -> None:
        info = self.info
        self.check("metadata.name", bool(NAME_PATTERN.match(info.name)) or info.name == "density",
                   f"invalid name {info.name!r}")
        self.check("metadata.family", info.name == info.family or info.name.startswith(info.family + "."),
                   f"family {info.family!r} does not prefix {info.name!r}")
        self.check("metadata.scope", info.scope in SCOPES, f"scope {info.scope!r}")
        self.check("metadata.encoding", info.encoding in ENCODINGS, f"encoding {info.encoding!r}")
        self.check("metadata.higher_is_better", info.higher_is_better in (True, False, None),
                   f"{info.higher_is_better!r}")
        rules = [info.aggregate] if isinstance(info.aggregate, str) else list(info.aggregate.values())
        self.check("metadata.aggregate", all(r in AGGREGATES for r in rules), f"{info.aggregate!r}")
        self.check("metadata.description", bool(info.description.strip()) and "\n" not in info.description,
                   "needs one non-empty line")
        self.check("metadata.source", bool(info.source.strip()), "cite the paper and repository in source=")
        self.check("metadata.units", bool(info.units.strip()), "give the units (count, fraction, ...)")
        self.check("metadata.version", isinstance(info.version, int) and info.version >= 1, f"{info.version!r}")

    def target(self, label: str, target: Any, options: dict[str, Any]) -> None:
        mask_only = isinstance(target, BipartiteGraph) and not target.weighted
        before = _snapshot(target)
        first = self._call(target, options)
        if mask_only and self.info.requires_weights:
            expected = f"metric {self.info.name} requires weights; the graph was built from a mask only"
            self.check(f"requires_weights.{label}", isinstance(first, MetricError) and str(first) == expected,
                       f"expected MetricError({expected!r}), got {first!r}")
            return
        if isinstance(first, Exception):
            self.failures.append(f"returns.{label}: raised {type(first).__name__}: {first}")
            return
        self.passed.append(f"returns.{label}")
        second = self._call(target, options)
        self.check(f"deterministic.{label}", isinstance(second, MetricResult) and _same(first, second),
                   f"two calls gave {_show(first)} and {_show(second)}")
        self.check(f"no_mutation.{label}", _unchanged(before, _snapshot(target)), "the target was modified")

    def _call(self, target: Any, options: dict[str, Any]) -> MetricResult | Exception:
        try:
            return compute_detailed(self.info.name, target, **options)
        except Exception as exc:  # reported as a failure by the caller
            return exc

    def wrong_target(self) -> None:
        wrong = sample_layer_graphs()["linear"] if self.info.scope == "network" else (nn.Linear(2, 2), {})
        result = self._call(wrong, {})
        self.check("wrong_target", isinstance(result, TypeError), f"expected TypeError, got {result!r}")

    def unknown_option(self) -> None:
        target = sample_networks()["convnet"][0] if self.info.scope == "network" else sample_layer_graphs()["linear"]
        result = self._call(target, {"no_such_option_xyz": 1})
        self.check("unknown_option", isinstance(result, ValueError) and "no_such_option_xyz" in str(result),
                   f"expected ValueError naming the option, got {result!r}")

    def nonfinite(self, convention: str | None) -> None:
        result = self._call(_nonfinite_graph(), self._options(convention, None))
        self.check(_label("nonfinite_weights", convention),
                   isinstance(result, (MetricResult, MetricError)),
                   f"expected a result or MetricError, got {result!r}")

    def preparer(self, convention: str | None) -> None:
        preparer = get_preparer(self.info.family)
        if preparer is None:
            return
        graphs = [g for g in sample_layer_graphs().values() if g.weighted or not self.info.requires_weights]
        options = self._options(convention, None)
        plain = [self._call(g, options) for g in graphs]
        with metric_cache() as cache:
            resolved = {**self.info.default_options(), **options}
            prepared_error: Exception | None = None
            try:
                preparer(graphs, cache, **resolved)
            except Exception as exc:  # reported below
                prepared_error = exc
            prepared = [self._call(g, options) for g in graphs]
        self.check(_label("preparer", convention), prepared_error is None,
                   f"the preparer raised {prepared_error!r} on valid layers")
        agree = all(_close(a, b, self.rtol) for a, b in zip(plain, prepared))
        self.check(_label("preparer_agrees", convention), agree,
                   "values with the batch preparer differ: " + ", ".join(
                       f"{_show(a)} vs {_show(b)}" for a, b in zip(plain, prepared) if not _close(a, b, self.rtol)))


def _label(check: str, convention: str | None) -> str:
    return check if convention is None else f"{check}[{convention}]"


def _snapshot(target: Any) -> Any:
    if isinstance(target, BipartiteGraph):
        a = target.arrays
        arrays = [x.copy() for x in (a.src, a.dst, a.weight, a.signed_weight, a.edge_set) if x is not None]
        return ("graph", arrays, copy.deepcopy(target.attrs), list(target.partitions), list(target.edge_sets))
    model, masks = target
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    mask_copy = {k: v.clone() for k, v in (masks or {}).items()}
    return ("network", state, modes, mask_copy)


def _unchanged(before: Any, after: Any) -> bool:
    if before[0] == "graph":
        same_arrays = all(np.array_equal(x, y, equal_nan=x.dtype.kind == "f") for x, y in zip(before[1], after[1]))
        return same_arrays and before[2:] == after[2:]
    _, state, modes, masks = before
    _, state2, modes2, masks2 = after
    return (state.keys() == state2.keys() and all(torch.equal(state[k], state2[k]) for k in state)
            and modes == modes2 and masks.keys() == masks2.keys() and all(torch.equal(masks[k], masks2[k])
                                                                        for k in masks))


def _same(a: MetricResult, b: MetricResult) -> bool:
    return a.status == b.status and a.value == b.value and dict(a.per_layer).keys() == dict(b.per_layer).keys()


def _close(a: Any, b: Any, rtol: float) -> bool:
    if isinstance(a, MetricResult) and isinstance(b, MetricResult):
        if a.status != b.status:
            return False
        return a.value is None or math.isclose(a.value, b.value, rel_tol=rtol, abs_tol=rtol)
    return type(a) is type(b) and str(a) == str(b)


def _show(result: Any) -> str:
    if isinstance(result, MetricResult):
        return f"{result.status}({result.value!r})"
    return repr(result)

