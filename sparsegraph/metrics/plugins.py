"""Discovery of third-party metrics through the entry-point group ``sparsegraph.metrics``.

Each entry point names either a module, imported for its ``register_metric`` side effects
(``my_metrics = my_package.metrics``), or a callable ``register(registry)`` that receives the
:mod:`sparsegraph.metrics.registry` module (``my_metrics = my_package.metrics:register``).

Discovery is lazy and happens once, at the first registry access. A plugin that fails to load is skipped
with one warning naming the distribution and the entry point; whatever it registered before failing is
removed again, and the failure is listed by :func:`failed` (shown by ``sparsegraph metrics`` and
``sparsegraph env``); the plugins that loaded are listed by :func:`loaded` (shown by ``sparsegraph env``).
The mechanism is the generic :class:`~sparsegraph.registry.Registry`; this module keeps the metric-specific
names.
"""

from __future__ import annotations

from sparsegraph.metrics.registry import ENTRY_POINT_GROUP, METRICS

__all__ = ["ENTRY_POINT_GROUP", "ensure_discovered", "failed", "loaded", "reset"]


def ensure_discovered() -> None:
    """Load every plugin once (later calls return immediately)."""
    METRICS.load()


def loaded() -> list[str]:
    """The plugins that loaded, one line each with the metrics they registered (triggers discovery)."""
    return METRICS.loaded_plugins()


def failed() -> list[str]:
    """The plugins that failed to load, one line each (triggers discovery)."""
    return METRICS.broken_plugins()


def reset() -> None:
    """Forget discovery: unregister what plugins registered, so the next registry access discovers again.

    For tests that install a plugin distribution at run time.
    """
    METRICS.reset_plugins()
