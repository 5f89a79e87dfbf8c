"""Per-layer encodings (graphs.md §2.1–2.3): each module has ``build``, ``count_nodes`` and ``count_edges``.

``count_*`` compute the exact sizes from the support alone, so memory limits are checked before any
edge array exists.
"""

from __future__ import annotations

from types import ModuleType

from sparsegraph.errors import UsageError
from sparsegraph.graphs.encodings.spec import LayerSpec

LAYER_ENCODINGS = ("rolled", "rolled-channel", "unrolled")
COMPAT_MODES = ("mge2024",)


def encoding_module(encoding: str) -> ModuleType:
    """The module implementing a per-layer encoding (ValueError for an unknown name)."""
    from sparsegraph.graphs.encodings import rolled, rolled_channel, unrolled

    modules = {"rolled": rolled, "rolled-channel": rolled_channel, "unrolled": unrolled}
    if encoding not in modules:
        raise UsageError(f"unknown per-layer encoding {encoding!r}; expected one of: "
                         + ", ".join(LAYER_ENCODINGS))
    return modules[encoding]


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


__all__ = ["LAYER_ENCODINGS", "LayerSpec", "build_layer", "encoding_module", "layer_size"]
