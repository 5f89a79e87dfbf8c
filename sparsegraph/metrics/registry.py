"""The metric registry: registration, name resolution, option checks and evaluation (metrics.md §1).

A metric is a plain function ``func(target, **options)`` registered with :func:`register_metric`. It
returns a float, None (undefined) or a :class:`~sparsegraph.metrics.info.MetricResult`, and raises
:class:`~sparsegraph.errors.MetricError` on failure. The registry checks the target type, the options
and the returned value, so metric functions only compute.

Built-in metrics are registered when ``sparsegraph.metrics`` is imported, by importing the modules in
:data:`BUILTIN_MODULES`. Plugins come from the entry-point group ``sparsegraph.metrics`` and are
discovered lazily, once, at the first registry access, by the generic
:class:`~sparsegraph.registry.Registry` (:data:`METRICS`), which isolates a failing plugin.

A family can register a batch preparer (:func:`register_preparer`) that ``measure`` calls once with
every layer graph before the per-layer calls; see :mod:`sparsegraph.metrics.cache` for the design.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import itertools
import math
import numbers
import re
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from sparsegraph.errors import MetricError, MetricRegistrationError, RegistrationError, UnknownMetricError, UsageError, WrongTypeError
from sparsegraph.metrics.info import AGGREGATES, ENCODINGS, SCOPES, MetricInfo, MetricResult
from sparsegraph.registry import Registry, did_you_mean

# Modules that register the built-in metrics on import, in any order (listing order comes from
# BUILTIN_ORDER). Adding a family is a one-line addition here.
BUILTIN_MODULES: tuple[str, ...] = (
    "sparsegraph.metrics.density",
    "sparsegraph.metrics.spectral",
    "sparsegraph.metrics.ramanujan",
    "sparsegraph.metrics.paths",
    "sparsegraph.metrics.topo",
)

BUILTIN_FAMILIES = ("density", "spectral", "ramanujan", "paths", "topo")

# The order of metrics.md (§3, §5, §6); list_metrics returns built-ins in this order.
BUILTIN_ORDER: tuple[str, ...] = (
    "density",
    "spectral.mu0", "spectral.mu_hat",
    "ramanujan.delta_r", "ramanujan.delta_r_norm", "ramanujan.delta_s", "ramanujan.imdb",
    "ramanujan.imdb_norm", "ramanujan.narc", "ramanujan.mixing",
    "spectral.lambda", "spectral.lambda_imsg", "spectral.full_spectrum",
    "paths.log10_paths", "paths.effective_nodes", "paths.effective_weights", "paths.effective_sparsity",
    "topo.sink_nodes", "topo.source_nodes", "topo.disconnected_nodes", "topo.removable_out_edges",
    "topo.removable_in_edges", "topo.one_hop", "topo.two_hop", "topo.motifs", "topo.strength", "topo.kcore",
    "topo.cut_edges", "topo.cut_nodes", "topo.components", "topo.mean_component_size", "topo.spectral_gap",
    "topo.spectral_radius",
)
_ORDER_INDEX = {name: i for i, name in enumerate(BUILTIN_ORDER)}

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_BARE_NAMES = ("density",)


@dataclass(frozen=True)
class _Entry:
    info: MetricInfo
    func: Callable[..., Any]
    module: str
    builtin: bool
    seq: int  # registration sequence, to order built-ins missing from BUILTIN_ORDER


ENTRY_POINT_GROUP = "sparsegraph.metrics"


def _load_plugin(obj: Any, registry: Registry) -> None:
    # a module registers on import; a callable receives this module (the documented plugin API)
    if inspect.ismodule(obj):
        return
    if not callable(obj):
        raise RegistrationError(f"entry point object {obj!r} is neither a module nor a callable")
    obj(sys.modules[__name__])


#: Every registered metric (name -> entry); plugins are loaded at the first lookup.
METRICS: Registry[_Entry] = Registry("metric", entry_point_group=ENTRY_POINT_GROUP, load_plugin=_load_plugin,
                                     error=UnknownMetricError)
_PREPARERS: dict[str, Callable[..., None]] = {}
_SEQ = itertools.count(1)


# ----------------------------------------------------------------------------------------- registration
def register_metric(func: Callable[..., Any] | None = None, *, name: str, scope: str, encoding: str,
                    requires_weights: bool = False, higher_is_better: bool | None = None, units: str = "",
                    conventions: Iterable[str] = (), options: Mapping[str, Any] | None = None,
                    aggregate: str | Mapping[str, str] = "valid_mean", description: str, source: str = "",
                    version: int = 1, override: bool = False):
    """Register a metric, as a decorator (``@register_metric(name=...)``) or a call.

    Args:
        func: ``func(target, **options)`` returning a float, None (undefined) or a ``MetricResult``.
        name: ``family.name`` in lowercase letters, digits and underscores.
        scope: ``layer``, ``network`` or ``graph``.
        encoding: ``rolled``, ``model`` or ``mge``.
        requires_weights: the metric needs the weights (a mask-only graph gives an error).
        higher_is_better: True, False or None.
        units: e.g. ``count``, ``fraction``, ``eigenvalue``.
        conventions: accepted ``convention`` values, default first.
        options: option name -> default (every option the function accepts besides ``convention``);
            None: read from the function's signature (its keyword parameters with defaults after the
            target), so the defaults have one source. Given for a function without ``**kwargs``, each
            option must be a parameter, with the same default where it has one.
        aggregate: network rule (``ratio``, ``valid_mean``, ``zero_mean``, ``mean``, ``none``), or a
            mapping convention -> rule.
        description: one line.
        source: paper and repository.
        version: bump whenever the numbers change.
        override: replace an existing registration of the same name.

    Returns:
        ``func`` (so the decorator leaves the function usable), or the decorator when ``func`` is None.

    Raises:
        MetricRegistrationError: invalid name or metadata, a plugin using a built-in family, or a duplicate
            without ``override=True``.
    """
    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        module = getattr(f, "__module__", None) or "?"
        if not callable(f):
            raise MetricRegistrationError(f"metric {name!r}: expected a callable, got {type(f).__name__}")
        info = _make_info(name=name, scope=scope, encoding=encoding, requires_weights=requires_weights,
                          higher_is_better=higher_is_better, units=units, conventions=conventions,
                          options=_signature_options(name, f, options), aggregate=aggregate,
                          description=description, source=source, version=version)
        builtin = module == "sparsegraph" or module.startswith("sparsegraph.")
        if not builtin and (info.family in BUILTIN_FAMILIES):
            raise MetricRegistrationError(
                f"metric {name!r} uses the built-in family {info.family!r}; plugins must use a family of their own")
        existing = METRICS.peek(name)
        if existing is not None and not override:
            raise MetricRegistrationError(
                f"metric {name!r} is already registered by {existing.module}; pass override=True to replace it")
        METRICS.register(name, _Entry(info, f, module, builtin, next(_SEQ)), override=True)
        return f

    return decorate if func is None else decorate(func)


def _signature_options(name: str, func: Callable[..., Any], declared: Mapping[str, Any] | None
                       ) -> Mapping[str, Any] | None:
    """The options of ``func``: ``declared``, checked against its signature (each declared option is a
    parameter, with the same default if it has one), or, when None, its keyword parameters with defaults
    (``convention`` aside)."""
    try:
        parameters = list(inspect.signature(func).parameters.values())[1:]
    except (TypeError, ValueError):  # a builtin or C callable: trust the declaration
        return declared
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return declared  # **kwargs: the declaration is the only source
    accepted = {p.name: p.default for p in parameters
                if p.name != "convention" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    if declared is None:
        return {k: v for k, v in accepted.items() if v is not inspect.Parameter.empty}
    for key, value in declared.items():
        if key not in accepted or accepted[key] not in (inspect.Parameter.empty, value):
            raise MetricRegistrationError(f"metric {name!r}: option {key}={value!r} does not match the function's "
                                          f"signature; omit options= to read the defaults from it")
    return declared


def _make_info(*, name: str, scope: str, encoding: str, requires_weights: bool, higher_is_better: bool | None,
               units: str, conventions: Iterable[str], options: Mapping[str, Any] | None,
               aggregate: str | Mapping[str, str], description: str, source: str, version: int) -> MetricInfo:
    if not isinstance(name, str) or not (NAME_PATTERN.match(name) or name in _BARE_NAMES):
        raise MetricRegistrationError(f"invalid metric name {name!r}: expected 'family.name' in lowercase "
                                      "letters, digits and underscores")

    def bad(field: str, problem: str) -> MetricRegistrationError:
        return MetricRegistrationError(f"metric {name!r}: {field} {problem}")

    if scope not in SCOPES:
        raise bad("scope", f"must be one of {', '.join(SCOPES)}, got {scope!r}")
    if encoding not in ENCODINGS:
        raise bad("encoding", f"must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    if higher_is_better not in (True, False, None):
        raise bad("higher_is_better", f"must be True, False or None, got {higher_is_better!r}")
    conventions = tuple(conventions)
    if not all(isinstance(c, str) and c for c in conventions) or len(set(conventions)) != len(conventions):
        raise bad("conventions", f"must be distinct non-empty strings, got {conventions!r}")
    options = dict(options or {})
    if not all(isinstance(k, str) and k.isidentifier() for k in options):
        raise bad("options", f"must map identifiers to defaults, got keys {list(options)!r}")
    if "convention" in options:
        raise bad("options", "must not contain 'convention': list the accepted values in conventions=")
    if isinstance(aggregate, str):
        if aggregate not in AGGREGATES:
            raise bad("aggregate", f"must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    else:
        aggregate = dict(aggregate)
        if set(aggregate) != set(conventions) or not all(v in AGGREGATES for v in aggregate.values()):
            raise bad("aggregate", f"mapping must give one of {', '.join(AGGREGATES)} for each convention "
                                   f"{list(conventions)}, got {aggregate!r}")
        aggregate = MappingProxyType(aggregate)
    if not isinstance(description, str) or not description.strip() or "\n" in description:
        raise bad("description", "must be one non-empty line")
    if not isinstance(source, str) or "\n" in source:
        raise bad("source", "must be one line")
    if not isinstance(units, str):
        raise bad("units", f"must be a string, got {units!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise bad("version", f"must be a positive int, got {version!r}")
    family = name.split(".", 1)[0]
    return MetricInfo(name=name, family=family, scope=scope, encoding=encoding,
                      requires_weights=bool(requires_weights), higher_is_better=higher_is_better, units=units,
                      conventions=conventions, options=MappingProxyType(options), aggregate=aggregate,
                      description=description, source=source, version=version)


def unregister_metric(name: str) -> None:
    """Remove a registration (tests, and rolling back a plugin that failed half-way)."""
    METRICS.unregister(name)


def register_preparer(family: str, preparer: Callable[..., None], *, override: bool = False) -> Callable[..., None]:
    """Register the batch preparer of ``family``: ``preparer(graphs, cache, **options)``.

    ``measure`` calls it once with every selected layer graph before the per-layer calls of the family's
    layer-scope metrics (see :mod:`sparsegraph.metrics.cache`).
    """
    if not callable(preparer):
        raise MetricRegistrationError(f"preparer of family {family!r}: expected a callable")
    module = getattr(preparer, "__module__", None) or "?"
    if family in BUILTIN_FAMILIES and not (module == "sparsegraph" or module.startswith("sparsegraph.")):
        raise MetricRegistrationError(f"preparer of the built-in family {family!r} registered by {module}; "
                                      "plugins must use a family of their own")
    if family in _PREPARERS and _PREPARERS[family] is not preparer and not override:
        raise MetricRegistrationError(f"family {family!r} already has a preparer "
                                      f"({_PREPARERS[family].__module__}); pass override=True to replace it")
    _PREPARERS[family] = preparer
    return preparer


def get_preparer(family: str) -> Callable[..., None] | None:
    """The batch preparer of ``family``, or None."""
    return _PREPARERS.get(family)


def load_builtins() -> None:
    """Import the modules that register the built-in metrics (errors propagate: built-ins must load)."""
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


# ---------------------------------------------------------------------------------------------- lookup
def _entries() -> list[_Entry]:
    entries = [entry for _, entry in METRICS.items()]
    builtins = sorted((e for e in entries if e.builtin),
                      key=lambda e: (_ORDER_INDEX.get(e.info.name, len(_ORDER_INDEX)), e.seq))
    plugins = sorted((e for e in entries if not e.builtin), key=lambda e: e.info.name)
    return builtins + plugins


def list_metrics(pattern: str | None = None) -> list[MetricInfo]:
    """The registered metrics: built-ins in metrics.md order, then plugins sorted by name.

    Args:
        pattern: fnmatch-style filter on the name, e.g. ``ramanujan.*``.
    """
    infos = [e.info for e in _entries()]
    if pattern is not None:
        infos = [i for i in infos if fnmatch.fnmatchcase(i.name, pattern)]
    return infos


def failed_plugins() -> list[str]:
    """One line per metric plugin that failed to load: ``distribution: entry point (error)``."""
    return METRICS.broken_plugins()


def loaded_plugins() -> list[str]:
    """One line per metric plugin that loaded: ``distribution: entry point (its metrics)``."""
    return METRICS.loaded_plugins()


def get_info(name: str) -> MetricInfo:
    """The metadata of one metric (not a family)."""
    return _entry(name).info


def _entry(name: str) -> _Entry:
    if name in METRICS:
        return METRICS.get(name)
    entries = _entries()
    members = [e.info.name for e in entries if e.info.family == name]
    if members:
        raise UnknownMetricError(f"{name!r} is a metric family, not a metric; expected one of: "
                                 + ", ".join(members))
    raise _unknown(name, entries)


def _unknown(name: str, entries: list[_Entry]) -> UnknownMetricError:
    families = list(dict.fromkeys(e.info.family for e in entries))
    candidates = [e.info.name for e in entries] + [f for f in families if f not in METRICS]
    hint = did_you_mean(name, candidates) or "known families: " + ", ".join(families) + ". "
    return UnknownMetricError(f"unknown metric {name!r}; {hint}Run 'sparsegraph metrics' for the full list.")


def resolve(names: str | Iterable[str]) -> list[MetricInfo]:
    """Expand metric and family names (a list, or a comma-separated string) into metrics, without repeats.

    A family expands in :func:`list_metrics` order. Raises :class:`UnknownMetricError` for a name that
    is neither.
    """
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    entries = _entries()
    out: dict[str, MetricInfo] = {}
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        exact = [e.info for e in entries if e.info.name == name]
        family = exact or [e.info for e in entries if e.info.family == name]
        if not family:
            raise _unknown(name, entries)
        for info in family:
            out.setdefault(info.name, info)
    if not out:
        raise UnknownMetricError("no metric requested; Run 'sparsegraph metrics' for the full list.")
    return list(out.values())


# --------------------------------------------------------------------------------------------- compute
def resolve_options(info: MetricInfo, options: Mapping[str, Any]) -> dict[str, Any]:
    """The full keyword set the metric function receives: defaults updated with ``options``.

    Raises:
        ValueError: an option the metric does not declare, or a convention it does not accept.
    """
    resolved = info.default_options()
    for key, value in options.items():
        if key == "convention":
            if not info.conventions:
                raise UsageError(f"convention {value!r} is not valid for {info.name}; it takes no convention")
            if value not in info.conventions:
                raise UsageError(f"convention {value!r} is not valid for {info.name}; expected one of: "
                                 + ", ".join(info.conventions))
        elif key not in info.options:
            accepted = list(info.default_options())
            expected = "expected one of: " + ", ".join(accepted) if accepted else "it takes no options"
            raise UsageError(f"option {key!r} is not valid for {info.name}; {expected}")
        resolved[key] = value
    return resolved


def check_target(info: MetricInfo, target: Any) -> None:
    """Raise ``TypeError`` unless ``target`` is the kind of object the metric's scope takes."""
    from sparsegraph.graphs.base import Graph
    from sparsegraph.graphs.bipartite import BipartiteGraph

    got = type(target).__name__
    if info.scope == "network":
        import torch

        if not (isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], torch.nn.Module)):
            raise WrongTypeError(f"metric {info.name} needs a (model, masks) target, got {got}")
    elif info.scope == "layer":
        if not isinstance(target, BipartiteGraph):
            raise WrongTypeError(f"metric {info.name} needs a BipartiteGraph target, got {got}")
        encoding = target.attrs.get("encoding", "rolled")
        if info.encoding == "rolled" and encoding not in ("rolled", "rolled-channel"):
            raise WrongTypeError(f"metric {info.name} needs a rolled or rolled-channel graph, got encoding {encoding!r}")
    elif not isinstance(target, Graph):
        raise WrongTypeError(f"metric {info.name} needs a MultipartiteGraph or BipartiteGraph target, got {got}")


def compute_detailed(name: str, target: Any, **options: Any) -> MetricResult:
    """Evaluate one metric and return its :class:`MetricResult` (status ``ok`` or ``undefined``).

    Raises:
        UnknownMetricError: ``name`` is not a registered metric.
        TypeError: the target does not fit the metric's scope.
        ValueError: an invalid option or convention.
        MetricError: the metric failed (missing weights, non-finite weights, unsupported operation).
    """
    entry = _entry(name)
    info = entry.info
    check_target(info, target)
    resolved = resolve_options(info, options)
    if info.requires_weights and info.scope != "network":
        if not target.attrs.get("weighted", False):
            raise MetricError(f"metric {info.name} requires weights; the graph was built from a mask only")
        require_finite_weights(target)
    result = as_result(info.name, entry.func(target, **resolved))
    if result.status == "error":
        raise MetricError(result.reason or f"metric {info.name} failed")
    return result


def compute(name: str, target: Any, **options: Any) -> float | None:
    """Evaluate one metric: a float, or None where it is undefined for this target.

    Args:
        name: a metric name (``ramanujan.delta_r``).
        target: a ``BipartiteGraph`` (layer metrics), a ``MultipartiteGraph`` (graph metrics) or a
            ``(model, masks)`` pair (network metrics).
        **options: the metric's options (``convention`` and those listed in its ``MetricInfo``).

    Example:
        >>> import torch, sparsegraph as sg
        >>> from sparsegraph.metrics import compute
        >>> compute("density", sg.bipartite(torch.tensor([[True, False], [True, True]])))
        0.75
    """
    return compute_detailed(name, target, **options).value


def require_finite_weights(graph: Any) -> None:
    """Raise ``MetricError: non-finite weights in layer <name>`` if a weight of ``graph`` is NaN or ±inf.

    The registry checks this for metrics with ``requires_weights``; metrics that use weights optionally
    (e.g. the iclr2023 support) call it themselves before reading them.
    """
    import numpy as np

    if not graph.attrs.get("weighted", False):
        return
    bad = np.flatnonzero(~np.isfinite(graph.arrays.signed_weight))
    if bad.size:
        layer = graph.edge_sets[int(graph.arrays.edge_set[bad[0]])].name
        raise MetricError(f"non-finite weights in layer {layer}")


def as_result(name: str, raw: Any) -> MetricResult:
    """Normalise what a metric function returned into a :class:`MetricResult`."""
    if isinstance(raw, MetricResult):
        return raw
    if raw is None:
        return MetricResult(None, "undefined")
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):
        value = float(raw)
        if not math.isfinite(value):
            raise MetricError(f"metric {name} returned a non-finite value ({value!r}); metrics return None "
                              "for undefined values and raise MetricError on failure")
        return MetricResult(value, "ok")
    raise MetricError(f"metric {name} returned {type(raw).__name__}; expected a float, None or MetricResult")
