"""The ``density`` metric: the kept fraction of a layer's weight tensor."""

from __future__ import annotations

from sparsegraph.errors import MetricError
from sparsegraph.graphs.bipartite import BipartiteGraph
from sparsegraph.metrics.info import MetricResult
from sparsegraph.metrics.registry import register_metric


@register_metric(
    name="density", scope="layer", encoding="rolled", requires_weights=False, higher_is_better=None,
    units="fraction", aggregate="ratio",
    description="kept fraction nnz(M)/numel(M) of the layer's weight tensor",
    source="sparsegraph (metrics.md §3)",
)
def density(graph: BipartiteGraph) -> MetricResult:
    """Density of the underlying weight tensor.

    ``density = nnz(M) / numel(M)``, where ``M`` is the layer's mask in PyTorch layout (read from the
    graph attributes ``tensor_nnz`` and ``tensor_numel``, so it is the same for every encoding). The
    network row is the ratio of sums ``Σnnz / Σnumel``.

    Returns:
        The value, with ``extras`` ``numerator = nnz`` and ``denominator = numel`` for the ``ratio``
        aggregate; undefined for an empty tensor (``numel = 0``).

    Example:
        A conv layer's density counts kernel entries: keeping only the centre tap of every 3×3 kernel
        keeps one weight in nine.

        >>> import torch, sparsegraph as sg
        >>> mask = torch.zeros(4, 2, 3, 3, dtype=torch.bool)
        >>> mask[:, :, 1, 1] = True
        >>> round(density(sg.bipartite(mask)).value, 4)
        0.1111
    """
    if "tensor_nnz" not in graph.attrs or "tensor_numel" not in graph.attrs:
        raise MetricError(f"density: graph {graph.name!r} has no tensor_nnz/tensor_numel attributes")
    nnz = int(graph.attrs["tensor_nnz"])
    numel = int(graph.attrs["tensor_numel"])
    extras = {"numerator": nnz, "denominator": numel}
    if numel == 0:
        return MetricResult(None, "undefined", "empty weight tensor", extras=extras)
    return MetricResult(nnz / numel, "ok", extras=extras)
