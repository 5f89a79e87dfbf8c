"""sparsegraph: graph views, graph metrics and graph-guided pruning for sparse neural networks.

Typical use::

    import sparsegraph as sg

    model = sg.create_model("resnet20")
    masks = sg.prune(model, "erk", density=0.02, seed=0)
    result = sg.measure(model, masks, ["ramanujan", "spectral"])
    graph = sg.encode(model, masks, encoding="mge", input_shape=(3, 32, 32))

Public names are imported lazily, so ``import sparsegraph`` stays cheap and never imports click or
the optional graph libraries.
"""

from __future__ import annotations

from sparsegraph._lazy import lazy_attributes as _lazy_attributes
from sparsegraph._version import __version__

# public name -> module that defines it
_LAZY = {
    "create_model": "sparsegraph.models",
    "list_models": "sparsegraph.models",
    "load_model": "sparsegraph.models",
    "MaskSet": "sparsegraph.masks",
    "trace": "sparsegraph.topology",
    "Topology": "sparsegraph.topology",
    "bipartite": "sparsegraph.graphs",
    "encode": "sparsegraph.graphs",
    "export": "sparsegraph.graphs",
    "load_graph": "sparsegraph.graphs",
    "BipartiteGraph": "sparsegraph.graphs",
    "LayerGraphs": "sparsegraph.graphs",
    "MultipartiteGraph": "sparsegraph.graphs",
    "measure": "sparsegraph.metrics",
    "MeasureResult": "sparsegraph.metrics",
    "effective_masks": "sparsegraph.metrics",
    "prune": "sparsegraph.pruning",
}
_SUBMODULES = {"data", "errors", "graphs", "masks", "metrics", "models", "pruning", "study", "topology", "training", "utils"}

__all__ = ["__version__", *sorted(_LAZY), *sorted(_SUBMODULES)]


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, _SUBMODULES)
