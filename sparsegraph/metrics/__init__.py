"""The metric registry and ``sg.measure`` (metrics.md).

Importing this package registers the built-in metrics; plugins from the entry-point group
``sparsegraph.metrics`` are discovered at the first registry access.

Example:
    >>> import torch
    >>> import sparsegraph as sg
    >>> from sparsegraph.metrics import compute, list_metrics
    >>> list_metrics("density")[0].units
    'fraction'
    >>> compute("density", sg.bipartite(torch.eye(4, dtype=torch.bool)))
    0.25
"""

from sparsegraph.metrics.info import MetricInfo, MetricResult
from sparsegraph.metrics.measure import measure
from sparsegraph.metrics.result import MeasureResult
from sparsegraph.metrics.registry import (
    compute,
    compute_detailed,
    failed_plugins,
    list_metrics,
    load_builtins,
    loaded_plugins,
    register_metric,
    register_preparer,
)

load_builtins()

from sparsegraph.metrics.paths import effective_masks  # noqa: E402  (registered by load_builtins)

__all__ = [
    "MeasureResult",
    "MetricInfo",
    "MetricResult",
    "compute",
    "compute_detailed",
    "effective_masks",
    "failed_plugins",
    "list_metrics",
    "loaded_plugins",
    "measure",
    "register_metric",
    "register_preparer",
]
