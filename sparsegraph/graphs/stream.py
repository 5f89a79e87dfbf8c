"""Edge sets produced one at a time: what the streaming writers consume (graphs.md §6).

An :class:`EdgeStream` knows the partition and edge-set tables up front (with exact edge counts)
and generates each set's edges on demand, so writers hold at most one set in memory and may take
two passes. Layer encodings, whole-network builders and in-memory graphs all provide one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from sparsegraph.errors import InternalError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition, graph_attributes, node_table


@dataclass
class EdgeStream:
    """A graph described by its tables and a per-set edge generator.

    Attributes:
        partitions: the partition table.
        edge_sets: the edge-set table; ``num_edges`` must be exact.
        attrs: graph attributes (as :attr:`Graph.attrs`).
        generate: ``generate(i)`` returns set i's :class:`EdgeArrays` (global ids, canonical order).
        biadjacency: the graph is one layer (MatrixMarket then writes the L×R biadjacency).
        progress: report the sets generated on stderr (see :mod:`sparsegraph.utils.progress`).
    """

    partitions: list[Partition]
    edge_sets: list[EdgeSet]
    attrs: dict[str, Any]
    generate: Callable[[int], EdgeArrays]
    biadjacency: bool = False
    has_multiplicity: bool = False
    progress: bool = False

    @property
    def num_nodes(self) -> int:
        return int(self.partitions[-1].offset + self.partitions[-1].size) if self.partitions else 0

    @property
    def num_edges(self) -> int:
        return int(sum(s.num_edges for s in self.edge_sets))

    @property
    def largest_set(self) -> int:
        return max((s.num_edges for s in self.edge_sets), default=0)

    @property
    def offsets(self) -> np.ndarray:
        return np.array([p.offset for p in self.partitions] + [self.num_nodes], dtype=np.int64)

    def graph_attributes(self) -> dict[str, Any]:
        return graph_attributes(self.attrs, self.partitions, self.edge_sets)

    def node_table(self) -> dict[str, np.ndarray]:
        return node_table(self.partitions)

    def iter_sets(self) -> Iterator[tuple[EdgeSet, EdgeArrays]]:
        """Each edge set with its freshly generated edges, in table order."""
        from sparsegraph.utils.progress import progress

        bar = progress(len(self.edge_sets), "graph", "edge set", enabled=self.progress)
        try:
            for s in self.edge_sets:
                arrays = self.generate(s.index)
                if len(arrays) != s.num_edges:
                    raise InternalError(f"edge set {s.name!r} generated {len(arrays)} edges, "
                                        f"its table says {s.num_edges}")
                yield s, arrays
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    @classmethod
    def from_graph(cls, graph: Graph) -> "EdgeStream":
        """Stream an in-memory graph set by set."""
        from sparsegraph.graphs.convert.common import is_bipartite

        a = graph.arrays
        order = np.argsort(a.edge_set, kind="stable")
        bounds = np.searchsorted(a.edge_set[order], np.arange(len(graph.edge_sets) + 1))

        def generate(i: int) -> EdgeArrays:
            pos = order[bounds[i]:bounds[i + 1]]
            return EdgeArrays(a.src[pos], a.dst[pos], a.weight[pos], a.signed_weight[pos], a.edge_set[pos],
                              None if a.multiplicity is None else a.multiplicity[pos])

        return cls(graph.partitions, graph.edge_sets, graph.attrs, generate,
                   biadjacency=is_bipartite(graph), has_multiplicity=a.multiplicity is not None)
