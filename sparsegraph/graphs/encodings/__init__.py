"""The encodings registry (:data:`GRAPH_ENCODINGS`) and the per-layer encodings (graphs.md §2.1–2.3).

A per-layer encoding (``scope="layer"``) is a module with ``build(spec, compat)``, ``count_nodes`` and
``count_edges``; ``count_*`` compute the exact sizes from the support alone, so memory limits are checked
before any edge array exists. A whole-network encoding (``scope="network"``, e.g. ``mge``) is a module with
``build(model, masks, *, input_shape, compat, support, max_bytes, model_spec)`` returning a graph,
``stream(model, masks, encoding, input_shape, compat, support, model_spec)`` returning an
:class:`~sparsegraph.graphs.stream.EdgeStream`, and ``GRAPH_CLASS``, the class ``load_graph`` returns.
Entries are lazy, so this module imports none of them.
"""

from __future__ import annotations

from types import ModuleType

from sparsegraph.errors import UsageError
from sparsegraph.graphs.encodings.spec import LayerSpec
from sparsegraph.registry import Registry

#: Every encoding: name -> module implementing it (metadata ``scope``: ``layer`` or ``network``).
GRAPH_ENCODINGS: Registry[ModuleType] = Registry(
    "encoding", listing=lambda: "expected one of: " + ", ".join(GRAPH_ENCODINGS.names()))
GRAPH_ENCODINGS.register_lazy("rolled", "sparsegraph.graphs.encodings.rolled", scope="layer")
GRAPH_ENCODINGS.register_lazy("rolled-channel", "sparsegraph.graphs.encodings.rolled_channel", scope="layer")
GRAPH_ENCODINGS.register_lazy("unrolled", "sparsegraph.graphs.encodings.unrolled", scope="layer")
GRAPH_ENCODINGS.register_lazy("mge", "sparsegraph.graphs.mge", scope="network")

LAYER_ENCODINGS = tuple(n for n in GRAPH_ENCODINGS.names() if GRAPH_ENCODINGS.info(n)["scope"] == "layer")
COMPAT_MODES = ("mge2024",)


def encoding_module(encoding: str) -> ModuleType:
    """The module implementing a per-layer encoding (UsageError for an unknown name)."""
    if encoding not in LAYER_ENCODINGS:
        raise UsageError(f"unknown per-layer encoding {encoding!r}; expected one of: "
                         + ", ".join(LAYER_ENCODINGS))
    return GRAPH_ENCODINGS.get(encoding)


def check_compat(compat: str | None) -> None:
    if compat is not None and compat not in COMPAT_MODES:
        raise UsageError(f"unknown compat mode {compat!r}; expected None or one of: " + ", ".join(COMPAT_MODES))


def build_layer(spec: LayerSpec, encoding: str, compat: str | None = None):
    """Build one layer's :class:`~sparsegraph.graphs.bipartite.BipartiteGraph`."""
    module = encoding_module(encoding)
    check_compat(compat)
    spec.check()
    return module.build(spec, compat)


def layer_size(spec: LayerSpec, encoding: str, compat: str | None = None) -> tuple[int, int]:
    """``(num_nodes, num_edges)`` of one layer's graph, without building it."""
    module = encoding_module(encoding)
    spec.check()
    return module.count_nodes(spec, compat), module.count_edges(spec, compat)


__all__ = ["GRAPH_ENCODINGS", "LAYER_ENCODINGS", "LayerSpec", "build_layer", "encoding_module", "layer_size"]
