"""networkx, with one bulk ``add_nodes_from`` and one ``add_edges_from`` (graphs.md §4)."""

from __future__ import annotations

import numpy as np

from sparsegraph.graphs.base import Graph
from sparsegraph.graphs.convert.common import has_cross_set_duplicates, is_bipartite
from sparsegraph.graphs.estimate import check_limit


def to_networkx(graph: Graph, *, max_bytes: int | str | None = None):
    """A ``DiGraph``, or a ``MultiDiGraph`` when two edge sets join the same pair."""
    import networkx as nx

    check_limit(graph.num_nodes, graph.num_edges, "networkx", max_bytes, graph.describe())
    G = nx.MultiDiGraph() if has_cross_set_duplicates(graph) else nx.DiGraph()
    G.graph.update(graph.graph_attributes())
    table = graph.node_table()
    if is_bipartite(graph):
        table["bipartite"] = (table["partition"] == 1).astype(np.int64)
    keys = list(table)
    node_rows = zip(*(table[k].tolist() for k in keys))
    G.add_nodes_from(zip(range(graph.num_nodes), (dict(zip(keys, row)) for row in node_rows)))
    a = graph.arrays
    set_names = np.array([s.name for s in graph.edge_sets], dtype=object)
    columns = {"weight": a.weight.tolist(), "signed_weight": a.signed_weight.tolist(),
               "layer": set_names[a.edge_set].tolist()}
    if a.multiplicity is not None:
        columns["multiplicity"] = a.multiplicity.tolist()
    edge_keys = list(columns)
    edge_rows = zip(*columns.values())
    G.add_edges_from(zip(a.src.tolist(), a.dst.tolist(), (dict(zip(edge_keys, row)) for row in edge_rows)))
    return G
