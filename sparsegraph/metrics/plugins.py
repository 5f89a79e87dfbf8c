"""Discovery of third-party metrics through the entry-point group ``sparsegraph.metrics``.

Each entry point names either a module, imported for its ``register_metric`` side effects
(``my_metrics = my_package.metrics``), or a callable ``register(registry)`` that receives the
:mod:`sparsegraph.metrics.registry` module (``my_metrics = my_package.metrics:register``).

Discovery is lazy and happens once, at the first registry access. A plugin that fails to load is skipped
with one warning naming the distribution and the entry point; whatever it registered before failing is
removed again, and the failure is listed by :func:`failed` (shown by ``sparsegraph metrics`` and
``sparsegraph env``); the plugins that loaded are listed by :func:`loaded` (shown by ``sparsegraph env``).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import warnings

ENTRY_POINT_GROUP = "sparsegraph.metrics"

_state = {"discovered": False}
_failed: list[str] = []
_plugin_metrics: list[str] = []
_loaded: list[str] = []


def ensure_discovered() -> None:
    """Load every plugin once (later calls return immediately)."""
    if _state["discovered"]:
        return
    # set first: plugins access the registry while they load
    _state["discovered"] = True
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _load(entry_point)


def _load(entry_point: importlib.metadata.EntryPoint) -> None:
    from sparsegraph.metrics import registry

    dist = entry_point.dist.name if entry_point.dist is not None else "unknown distribution"
    before = set(registry._REGISTRY)
    try:
        obj = entry_point.load()
        if not inspect.ismodule(obj):
            if not callable(obj):
                raise TypeError(f"entry point {entry_point.value!r} is neither a module nor a callable")
            obj(registry)
    except Exception as exc:  # a broken plugin must never break sparsegraph itself
        for name in set(registry._REGISTRY) - before:
            registry.unregister_metric(name)
        line = f"{dist}: {entry_point.name} = {entry_point.value} ({type(exc).__name__}: {exc})"
        _failed.append(line)
        warnings.warn(f"skipped metric plugin {entry_point.name!r} of distribution {dist!r}: "
                      f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=4)
        return
    added = sorted(set(registry._REGISTRY) - before)
    _plugin_metrics.extend(added)
    _loaded.append(f"{dist}: {entry_point.name} = {entry_point.value} ({len(added)} metric"
                   f"{'' if len(added) == 1 else 's'}{': ' + ', '.join(added) if added else ''})")


def loaded() -> list[str]:
    """The plugins that loaded, one line each with the metrics they registered (triggers discovery)."""
    ensure_discovered()
    return list(_loaded)


def failed() -> list[str]:
    """The plugins that failed to load, one line each (triggers discovery)."""
    ensure_discovered()
    return list(_failed)


def reset() -> None:
    """Forget discovery: unregister what plugins registered, so the next registry access discovers again.

    For tests that install a plugin distribution at run time.
    """
    from sparsegraph.metrics import registry

    for name in _plugin_metrics:
        registry.unregister_metric(name)
    _plugin_metrics.clear()
    _failed.clear()
    _loaded.clear()
    _state["discovered"] = False
