"""Graph encodings of sparse networks, converters and file formats (graphs.md)."""

from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition
from sparsegraph.graphs.bipartite import BipartiteGraph, bipartite
from sparsegraph.graphs.encoder import encode, export
from sparsegraph.graphs.io import load_graph
from sparsegraph.graphs.layer_graphs import LayerGraphs
from sparsegraph.graphs import mge  # noqa: F401  (registers encoding="mge" with encode/export)
from sparsegraph.graphs.multipartite import MultipartiteGraph
from sparsegraph.graphs.stream import EdgeStream

__all__ = ["BipartiteGraph", "EdgeArrays", "EdgeSet", "EdgeStream", "Graph", "LayerGraphs", "MultipartiteGraph",
           "Partition", "bipartite", "encode", "export", "load_graph"]
