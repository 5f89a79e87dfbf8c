"""Sharing intermediate results between metrics within one ``measure`` call.

Design (metrics.md §1 "Results", §8 "Sharing"):

* ``measure`` opens one :class:`MetricCache` for its whole run and makes it current with
  :func:`metric_cache`. Outside ``measure`` (a plain ``compute`` call) no cache is current unless the
  caller opens one, and metrics compute everything themselves.
* A metric function reads the current cache with :func:`current_cache` and stores or reuses values under
  **explicit keys** that name everything the value depends on, e.g.
  ``("sigma", cache.graph_key(graph), "mask", "neurips2023")``. Values are treated as immutable: a
  metric never modifies what it reads from the cache (metrics never share mutable state).
* A family may register a **batch preparer** with
  :func:`sparsegraph.metrics.registry.register_preparer`. Before the per-layer calls, ``measure`` calls
  ``preparer(graphs, cache, **options)`` once per family, with the list of every selected layer graph
  (in layer order) and the options that the family's selected metrics resolved to (``convention``
  included). The preparer fills the cache (e.g. one batched eigen-solve across all layers); the per-layer
  metric calls then find their values there. A preparer skips work already in the cache (two families
  may share one preparer) and skips layers it cannot handle (e.g. non-finite weights) instead of raising:
  the per-layer call then computes on its own and reports the error in that layer's row. If a preparer
  raises ``MetricError`` anyway, ``measure`` warns and the per-layer calls compute without it.

Example (inside a metric function)::

    from sparsegraph.metrics.cache import current_cache

    def _sigma_pair(graph, support):
        cache = current_cache()
        if cache is None:
            return _compute_sigma_pair(graph, support)
        key = ("spectral.sigma", cache.graph_key(graph), support)
        return cache.get_or_compute(key, lambda: _compute_sigma_pair(graph, support))
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Hashable, Iterator

_CURRENT: contextvars.ContextVar["MetricCache | None"] = contextvars.ContextVar("sparsegraph_metric_cache",
                                                                                default=None)


class MetricCache:
    """A keyed store of intermediate values, alive for one ``measure`` call.

    Graphs are identified by :meth:`graph_key`, which is O(1) and stays valid while the cache lives
    (the cache keeps a reference to every graph it has keyed, so ids are never reused).
    """

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._graphs: dict[int, Any] = {}

    def graph_key(self, graph: Any) -> int:
        """A key identifying ``graph`` for the lifetime of this cache."""
        key = id(graph)
        self._graphs.setdefault(key, graph)
        return key

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values

    def __getitem__(self, key: Hashable) -> Any:
        return self._values[key]

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self._values[key] = value

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: Hashable, default: Any = None) -> Any:
        return self._values.get(key, default)

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value under ``key``, computing and storing it on the first request."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]


def current_cache() -> MetricCache | None:
    """The cache of the ``measure`` call in progress, or None."""
    return _CURRENT.get()


@contextlib.contextmanager
def metric_cache(cache: MetricCache | None = None) -> Iterator[MetricCache]:
    """Make ``cache`` (a new one by default) current for the duration of the ``with`` block."""
    cache = MetricCache() if cache is None else cache
    token = _CURRENT.set(cache)
    try:
        yield cache
    finally:
        _CURRENT.reset(token)
