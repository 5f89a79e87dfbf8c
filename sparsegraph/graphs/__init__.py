"""Graph encodings of sparse networks, converters and file formats (graphs.md)."""

from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition
from sparsegraph.graphs.bipartite import BipartiteGraph, bipartite

__all__ = ["BipartiteGraph", "EdgeArrays", "EdgeSet", "Graph", "Partition", "bipartite"]
