"""``LayerGraphs``: the per-layer graphs of a model, in trace order."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Iterator

import numpy as np

from sparsegraph.errors import UsageError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition
from sparsegraph.graphs.bipartite import BipartiteGraph
from sparsegraph.graphs.estimate import check_limit, estimate_bytes


class LayerGraphs(Mapping):
    """An ordered mapping layer FQN -> :class:`BipartiteGraph` (trace order).

    Whole-model views (``to_pyg``, ``to_igraph``, ``to_networkx``, ``save``) use the disjoint union
    of the layer graphs, with partitions ``<layer>:in`` / ``<layer>:out`` (see :meth:`union`).

    Attributes:
        attrs: graph attributes shared by the layers (``encoding``, ``compat``, ``model``,
            ``mask_fingerprint``, ``input_shape``, ``support``, ``weighted``, ``unmasked_layers``).
    """

    def __init__(self, graphs: Mapping[str, BipartiteGraph], attrs: dict[str, Any] | None = None):
        self._graphs = dict(graphs)
        self.attrs = dict(attrs or {})

    def __getitem__(self, name: str) -> BipartiteGraph:
        return self._graphs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._graphs)

    def __len__(self) -> int:
        return len(self._graphs)

    def __repr__(self) -> str:
        return (f"LayerGraphs(encoding={self.attrs.get('encoding')!r}, layers={len(self)}, "
                f"num_nodes={self.num_nodes}, num_edges={self.num_edges})")

    @property
    def num_nodes(self) -> int:
        return sum(g.num_nodes for g in self._graphs.values())

    @property
    def num_edges(self) -> int:
        return sum(g.num_edges for g in self._graphs.values())

    def to_scipy(self, weight: str | None = "weight", *, max_bytes: int | str | None = None) -> dict[str, Any]:
        """A dict layer name -> ``(L, R)`` CSR biadjacency."""
        check_limit(self.num_nodes, self.num_edges, "scipy", max_bytes, self.describe())
        return {name: g.to_scipy(weight, max_bytes=max_bytes) for name, g in self._graphs.items()}

    def describe(self) -> str:
        model = self.attrs.get("model")
        return f"encoding '{self.attrs.get('encoding')}'" + (f" of {model}" if model else "")

    def union(self) -> Graph:
        """The disjoint union: layer i's partitions become 2i (``<layer>:in``) and 2i+1 (``<layer>:out``)."""
        partitions: list[Partition] = []
        edge_sets: list[EdgeSet] = []
        columns: list[EdgeArrays] = []
        offset = 0
        for i, g in enumerate(self._graphs.values()):
            for k, p in enumerate(g.partitions):
                partitions.append(Partition(2 * i + k, p.name, p.kind, p.layer, offset + p.offset, p.size,
                                            p.shape, p.coords, p.pad))
            s = g.edge_sets[0]
            edge_sets.append(EdgeSet(i, s.name, s.kind, (2 * i,), (2 * i + 1,), s.num_edges))
            a = g.arrays
            columns.append(EdgeArrays(a.src + offset, a.dst + offset, a.weight, a.signed_weight,
                                      np.full(len(a), i, dtype=np.int32)))
            offset += g.num_nodes
        if columns:
            arrays = EdgeArrays(*(np.concatenate([getattr(c, f) for c in columns])
                                  for f in ("src", "dst", "weight", "signed_weight", "edge_set")))
        else:
            empty = np.zeros(0, dtype=np.int64)
            arrays = EdgeArrays(empty, empty.copy(), np.zeros(0, np.float32), np.zeros(0, np.float32),
                                np.zeros(0, np.int32))
        return Graph(partitions, edge_sets, arrays, dict(self.attrs))

    @classmethod
    def from_graph(cls, graph: Graph) -> "LayerGraphs":
        """Split a disjoint union (e.g. read back from a file) into its layer graphs."""
        if len(graph.partitions) != 2 * len(graph.edge_sets):
            raise UsageError("not a union of layer graphs: expected two partitions per edge set")
        a = graph.arrays
        order = np.argsort(a.edge_set, kind="stable")
        bounds = np.searchsorted(a.edge_set[order], np.arange(len(graph.edge_sets) + 1))
        graphs = {}
        for s in graph.edge_sets:
            left, right = graph.partitions[2 * s.index], graph.partitions[2 * s.index + 1]
            base = left.offset
            pos = order[bounds[s.index]:bounds[s.index + 1]]
            parts = [Partition(0, left.name, left.kind, left.layer, 0, left.size, left.shape, left.coords, left.pad),
                     Partition(1, right.name, right.kind, right.layer, left.size, right.size, right.shape,
                               right.coords, right.pad)]
            arrays = EdgeArrays(a.src[pos] - base, a.dst[pos] - base, a.weight[pos], a.signed_weight[pos],
                                np.zeros(pos.size, dtype=np.int32))
            graphs[s.name] = BipartiteGraph(parts, [EdgeSet(0, s.name, s.kind, (0,), (1,), int(pos.size))],
                                            arrays, dict(graph.attrs))
        return cls(graphs, graph.attrs)

    def node_table(self) -> dict[str, np.ndarray]:
        return self.union().node_table()

    def estimate_bytes(self, target: str) -> int:
        return estimate_bytes(self.num_nodes, self.num_edges, target)

    def to_pyg(self, homogeneous: bool = False, *, max_bytes: int | str | None = None):
        """A ``HeteroData`` with node types ``<layer>_in`` / ``<layer>_out`` (or one ``Data``)."""
        return self.union().to_pyg(homogeneous, max_bytes=max_bytes)

    def to_igraph(self, *, max_bytes: int | str | None = None):
        return self.union().to_igraph(max_bytes=max_bytes)

    def to_networkx(self, *, max_bytes: int | str | None = None):
        return self.union().to_networkx(max_bytes=max_bytes)

    def save(self, path: str | os.PathLike, format: str | None = None, **options: Any) -> None:
        """Write the disjoint union to a file (graphs.md §5)."""
        self.union().save(path, format, **options)
