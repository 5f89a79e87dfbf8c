"""PyTorch Geometric ``Data`` / ``HeteroData`` (graphs.md §4)."""

from __future__ import annotations

import numpy as np
import torch

from sparsegraph.graphs.base import EdgeSet, Graph, Partition, node_partition
from sparsegraph.graphs.convert.common import is_bipartite, sanitise_names
from sparsegraph.graphs.estimate import check_limit

META = "meta"


def node_type_names(partitions: list[Partition]) -> list[str]:
    """Sanitised partition names (``meta`` is reserved for the graph attributes)."""
    return sanitise_names([p.name for p in partitions], reserved=(META,))


def relation_names(edge_sets: list[EdgeSet]) -> list[str]:
    """Sanitised edge-set names."""
    return sanitise_names([s.name for s in edge_sets])


def _coords(graph: Graph) -> torch.Tensor:
    table = graph.node_table()
    return torch.from_numpy(np.stack([table["channel"], table["y"], table["x"]], axis=1).astype(np.int64))


def to_pyg(graph: Graph, homogeneous: bool = False, *, max_bytes: int | str | None = None):
    """``Data`` for a bipartite graph (or ``homogeneous=True``), else ``HeteroData``."""
    check_limit(graph.num_nodes, graph.num_edges, "pyg", max_bytes, graph.describe())
    if homogeneous or is_bipartite(graph):
        return _to_data(graph, bipartite=not homogeneous)
    return _to_hetero(graph)


def _to_data(graph: Graph, bipartite: bool):
    from torch_geometric.data import Data

    a = graph.arrays
    table = graph.node_table()
    data = Data(
        edge_index=torch.from_numpy(np.stack([a.src, a.dst]).astype(np.int64)),
        edge_weight=torch.from_numpy(a.weight.astype(np.float32)),
        edge_signed_weight=torch.from_numpy(a.signed_weight.astype(np.float32)),
        num_nodes=graph.num_nodes,
        node_type=torch.from_numpy(table["partition"].astype(np.int64)),
        node_coord=_coords(graph),
    )
    if not bipartite:
        data.edge_type = torch.from_numpy(a.edge_set.astype(np.int64))
    if a.multiplicity is not None:
        data.edge_multiplicity = torch.from_numpy(a.multiplicity.astype(np.int64))
    data.meta = graph.graph_attributes()
    return data


def edge_groups(graph: Graph) -> list[tuple[int, int, int, np.ndarray]]:
    """``(set, src partition, dst partition, edge positions)`` per touched triple, in set order.

    Empty sets appear once, on their first declared partition pair.
    """
    a = graph.arrays
    P = len(graph.partitions)
    ps = node_partition(graph.partitions, a.src)
    pd = node_partition(graph.partitions, a.dst)
    key = (a.edge_set.astype(np.int64) * P + ps) * P + pd
    order = np.argsort(key, kind="stable")
    uniq, starts = np.unique(key[order], return_index=True)
    bounds = np.r_[starts, order.size]
    groups: dict[int, list[tuple[int, int, int, np.ndarray]]] = {}
    for k, lo, hi in zip(uniq.tolist(), bounds[:-1].tolist(), bounds[1:].tolist()):
        s, rest = divmod(k, P * P)
        groups.setdefault(s, []).append((s, rest // P, rest % P, order[lo:hi]))
    out = []
    for s in graph.edge_sets:
        out.extend(groups.get(s.index, [(s.index, s.src_partitions[0], s.dst_partitions[0],
                                         np.zeros(0, dtype=np.int64))]))
    return out


def _to_hetero(graph: Graph):
    from torch_geometric.data import HeteroData

    data = HeteroData()
    types = node_type_names(graph.partitions)
    rels = relation_names(graph.edge_sets)
    coords = _coords(graph)
    for p, t in zip(graph.partitions, types):
        data[t].num_nodes = p.size
        data[t].node_coord = coords[p.offset:p.offset + p.size]
    a = graph.arrays
    for s, ps, pd, pos in edge_groups(graph):
        store = data[types[ps], rels[s], types[pd]]
        src = a.src[pos] - graph.partitions[ps].offset
        dst = a.dst[pos] - graph.partitions[pd].offset
        store.edge_index = torch.from_numpy(np.stack([src, dst]).astype(np.int64).reshape(2, -1))
        store.edge_weight = torch.from_numpy(a.weight[pos].astype(np.float32))
        store.edge_signed_weight = torch.from_numpy(a.signed_weight[pos].astype(np.float32))
        if a.multiplicity is not None:
            store.edge_multiplicity = torch.from_numpy(a.multiplicity[pos].astype(np.int64))
    setattr(data, META, graph.graph_attributes())
    return data
