"""``MultipartiteGraph``: a whole network as one graph (the ``mge`` encoding, graphs.md §2.4–2.5)."""

from __future__ import annotations

from dataclasses import dataclass

from sparsegraph.errors import UnknownNameError
from sparsegraph.graphs.base import Graph, Partition


@dataclass
class MultipartiteGraph(Graph):
    """The whole-network multipartite graph: partition 0 is the input, then one partition per
    partition-owning layer (and rarely ``<M>.add``); one edge set per layer and per identity shortcut.

    Extra attributes (in ``attrs``): ``merged_edges`` (True when repeated (source, target) pairs of
    one edge set were merged; edges then carry ``multiplicity``).

    Use :meth:`to_scipy` for the N×N block adjacency and :meth:`block` for one partition pair.
    """

    def __repr__(self) -> str:
        compat = self.attrs.get("compat")
        return (f"MultipartiteGraph(model={self.attrs.get('model')!r}, compat={compat!r}, "
                f"partitions={len(self.partitions)}, num_nodes={self.num_nodes}, num_edges={self.num_edges})")

    def partition(self, name: str) -> Partition:
        """The partition named ``name`` (``input``, a layer FQN or ``<M>.add``)."""
        for p in self.partitions:
            if p.name == name:
                return p
        raise UnknownNameError(f"no partition named {name!r}; partitions: {[p.name for p in self.partitions]}")
