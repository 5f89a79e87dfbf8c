"""Helpers shared by the converters: weight columns, type names."""

from __future__ import annotations

import re

import numpy as np

from sparsegraph.errors import UsageError
from sparsegraph.graphs.base import Graph

WEIGHT_COLUMNS = ("weight", "signed_weight", None)


def weight_column(graph: Graph, weight: str | None) -> np.ndarray:
    """The float32 values of ``weight`` (``"weight"``, ``"signed_weight"`` or None = ones)."""
    if weight not in WEIGHT_COLUMNS:
        raise UsageError(f"weight must be 'weight', 'signed_weight' or None, got {weight!r}")
    if weight is None:
        return np.ones(graph.num_edges, dtype=np.float32)
    return getattr(graph.arrays, weight).astype(np.float32, copy=False)


def index_dtype(*sizes: int) -> type:
    """int32 for indices, int64 from 2³¹."""
    return np.int32 if max(sizes, default=0) < 2**31 else np.int64


def sanitise_names(names: list[str], reserved: tuple[str, ...] = ()) -> list[str]:
    """PyG-safe type names (graphs.md §4).

    Characters outside ``[A-Za-z0-9_]`` become ``_``, runs of ``_`` collapse, leading and trailing
    ``_`` are stripped, an empty result becomes ``p``; clashes (with each other or ``reserved``) get
    ``_2``, ``_3`` ...
    """
    taken = set(reserved)
    out = []
    for name in names:
        base = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_]", "_", name)).strip("_") or "p"
        candidate, k = base, 1
        while candidate in taken:
            k += 1
            candidate = f"{base}_{k}"
        taken.add(candidate)
        out.append(candidate)
    return out


def has_cross_set_duplicates(graph: Graph) -> bool:
    """Whether two edges (necessarily of different sets) join the same (source, target) pair."""
    a = graph.arrays
    if len(a) < 2:
        return False
    keys = a.src * graph.num_nodes + a.dst
    return np.unique(keys).size < keys.size


def is_bipartite(graph: Graph) -> bool:
    """Whether ``graph`` is one layer's :class:`~sparsegraph.graphs.bipartite.BipartiteGraph`."""
    return graph.single_layer
