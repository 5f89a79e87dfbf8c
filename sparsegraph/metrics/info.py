"""The two small data types of the registry: a metric's metadata and one evaluation's result."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

SCOPES = ("layer", "network", "graph")
ENCODINGS = ("rolled", "model", "mge")
AGGREGATES = ("ratio", "valid_mean", "zero_mean", "mean", "none")
STATUSES = ("ok", "undefined", "error")


@dataclass(frozen=True)
class MetricInfo:
    """Metadata of one registered metric (metrics.md §1).

    Attributes:
        name: ``family.name`` (``density`` is the only bare name).
        family: the part before the dot (``density`` for ``density``).
        scope: ``layer`` (target: a ``BipartiteGraph``), ``network`` (target: ``(model, masks)``) or
            ``graph`` (target: a ``MultipartiteGraph``, or a ``BipartiteGraph`` used layer-wise).
        encoding: ``rolled`` (also accepts ``rolled-channel``), ``model`` or ``mge`` (also accepts any
            bipartite graph).
        requires_weights: a graph built from a mask only gives status ``error``.
        higher_is_better: True, False, or None when no ordering is meaningful (a hint, not a contract).
        units: ``count``, ``fraction``, ``dimensionless``, ``log10(count)``, ``eigenvalue``,
            ``eigenvalue(|w|)`` (or free text for plugins).
        conventions: accepted ``convention`` values, default first (``()`` if none).
        options: read-only mapping option name -> default (``convention`` is implied by ``conventions``).
        aggregate: the network rule, one of ``ratio``, ``valid_mean``, ``zero_mean``, ``mean``, ``none``,
            or a read-only mapping convention -> rule.
        description: one line.
        source: the paper and repository the definition follows (one line).
        version: bumped whenever the numbers change.
    """

    name: str
    family: str
    scope: str
    encoding: str
    requires_weights: bool
    higher_is_better: bool | None
    units: str
    conventions: tuple[str, ...]
    options: Mapping[str, Any] = field(hash=False)
    aggregate: str | Mapping[str, str] = field(hash=False)
    description: str
    source: str
    version: int

    def aggregate_for(self, convention: str | None) -> str:
        """The network rule under ``convention`` (``None``: the default convention)."""
        if isinstance(self.aggregate, str):
            return self.aggregate
        return self.aggregate[convention if convention is not None else self.conventions[0]]

    def default_options(self) -> dict[str, Any]:
        """Every option the function receives when none is given, ``convention`` included."""
        defaults = dict(self.options)
        if self.conventions:
            defaults["convention"] = self.conventions[0]
        return defaults

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (mappings as dicts, tuples as lists)."""
        return {
            "name": self.name,
            "family": self.family,
            "scope": self.scope,
            "encoding": self.encoding,
            "requires_weights": self.requires_weights,
            "higher_is_better": self.higher_is_better,
            "units": self.units,
            "conventions": list(self.conventions),
            "options": {k: jsonable(v) for k, v in self.options.items()},
            "aggregate": self.aggregate if isinstance(self.aggregate, str) else dict(self.aggregate),
            "description": self.description,
            "source": self.source,
            "version": self.version,
        }


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: tuples become lists, non-finite floats and other objects strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


@dataclass(frozen=True)
class MetricResult:
    """One evaluation of a metric.

    Attributes:
        value: the number, or None when undefined (or failed).
        status: ``ok``, ``undefined`` or ``error``; derived from ``value`` when omitted.
        reason: why the value is undefined (e.g. ``threshold: mean fan-in 2.40 < 3``), or the error
            message.
        per_layer: for network-scope metrics, layer name -> float, None or :class:`MetricResult`.
        extras: supporting numbers (group tables, degrees, singular values). The ``ratio`` aggregate
            reads ``extras["numerator"]`` and ``extras["denominator"]``.
    """

    value: float | None
    status: str | None = None
    reason: str = ""
    per_layer: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        status = self.status
        if status is None:
            status = "ok" if self.value is not None else "undefined"
            object.__setattr__(self, "status", status)
        if status not in STATUSES:
            raise ValueError(f"MetricResult status must be one of {', '.join(STATUSES)}, got {status!r}")
        if status == "ok":
            if self.value is None:
                raise ValueError("MetricResult with status 'ok' needs a value; use None with status 'undefined'")
            value = float(self.value)
            if not math.isfinite(value):
                raise ValueError(f"MetricResult value must be finite, got {value!r}; "
                                 "return None (undefined) or raise MetricError instead")
            object.__setattr__(self, "value", value)
        elif self.value is not None:
            raise ValueError(f"MetricResult with status {status!r} must have value None, got {self.value!r}")
        object.__setattr__(self, "per_layer", MappingProxyType(dict(self.per_layer)))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))
