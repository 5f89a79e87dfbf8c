"""Converters agree with each other and with the §3 node arithmetic (graphs.md §4, §7 Agreement)."""

import numpy as np
import pytest
import torch

from sparsegraph.graphs.convert.common import sanitise_names


def edge_multiset(src, dst, weight):
    return sorted(zip(np.asarray(src).tolist(), np.asarray(dst).tolist(), np.asarray(weight, dtype=np.float32).tolist()))


def reference(graph):
    a = graph.arrays
    return edge_multiset(a.src, a.dst, a.weight)


def test_node_table_follows_partition_arithmetic(bipartite_graph):
    t = bipartite_graph.node_table()
    # left (3,5,5) chw: node 1*25 + 2*5 + 4 is channel 1, y 2, x 4; right (4,3,3) starts at 75
    assert (t["channel"][39], t["y"][39], t["x"][39], t["partition"][39]) == (1, 2, 4, 0)
    assert (t["partition"][75 + 13], t["index"][75 + 13], t["channel"][75 + 13], t["y"][75 + 13], t["x"][75 + 13]) == \
        (1, 13, 1, 1, 1)
    assert t["layer"][0] == "features.0:in" and t["layer"][-1] == "features.0:out"


def test_node_table_rolled_and_channel_coords():
    import sparsegraph as sg

    rolled = sg.bipartite(torch.ones(2, 3, 2, 2, dtype=torch.bool))
    t = rolled.node_table()
    # left node c·kh·kw + r·kw + s = 1·4 + 1·2 + 0 -> channel 1, kernel row 1, column 0
    assert (t["channel"][6], t["y"][6], t["x"][6]) == (1, 1, 0)
    assert (t["channel"][12], t["y"][12], t["x"][12]) == (0, -1, -1)  # right partition: coords "c"
    lin = sg.bipartite(torch.ones(2, 3, dtype=torch.bool))
    assert lin.node_table()["channel"].tolist() == [-1] * 5


def test_scipy_biadjacency_and_blocks(bipartite_graph):
    g = bipartite_graph
    B = g.to_scipy()
    assert B.shape == (g.num_left, g.num_right) and B.dtype == np.float32 and B.indices.dtype == np.int32
    coo = B.tocoo()
    assert edge_multiset(coo.row, coo.col + g.num_left, coo.data) == reference(g)
    assert (g.block(0, 1) != B).nnz == 0
    ones = g.to_scipy(None)
    assert set(ones.data.tolist()) == {1.0}


def test_scipy_adjacency_sums_cross_set_duplicates(general_graph):
    A = general_graph.to_scipy().toarray()
    assert A.shape == (24, 24)
    assert A[0, 8] == np.float32(0.5) + np.float32(1.0)
    assert A[1, 9] == 1.0 and A[12, 21] == 3.0
    off = general_graph.offsets
    assert off.tolist() == [0, 8, 20, 24]
    assert np.array_equal(general_graph.block(1, 2).toarray(), A[8:20, 20:24])


def test_pyg_data_for_bipartite(bipartite_graph):
    g = bipartite_graph
    d = g.to_pyg()
    assert d.num_nodes == g.num_nodes and d.edge_index.dtype == torch.int64
    assert edge_multiset(d.edge_index[0], d.edge_index[1], d.edge_weight) == reference(g)
    assert d.node_type.tolist() == [0] * g.num_left + [1] * g.num_right
    t = g.node_table()
    assert d.node_coord.tolist() == np.stack([t["channel"], t["y"], t["x"]], 1).tolist()
    assert d.meta["num_edges"] == g.num_edges
    d.validate(raise_on_error=True)


def test_pyg_hetero_sanitised_and_mapped_back(general_graph):
    import warnings

    g = general_graph
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h = g.to_pyg()
    h.validate(raise_on_error=True)
    assert h.node_types == ["input", "block_conv", "meta_2"]
    assert ("block_conv", "empty_set", "meta_2") in h.edge_types
    assert h["block_conv", "empty_set", "meta_2"].edge_index.shape == (2, 0)
    assert all("." not in t and "__" not in t for t in h.node_types)
    off = dict(zip(h.node_types, g.offsets.tolist()))
    src, dst, w = [], [], []
    for (s, _, t), store in h.edge_items():
        src += (store.edge_index[0] + off[s]).tolist()
        dst += (store.edge_index[1] + off[t]).tolist()
        w += store.edge_weight.tolist()
    assert edge_multiset(src, dst, w) == reference(g)
    assert h.meta["partitions"][2]["name"] == "meta"
    homo = g.to_pyg(homogeneous=True)
    assert edge_multiset(homo.edge_index[0], homo.edge_index[1], homo.edge_weight) == reference(g)
    assert homo.edge_type.tolist() == g.arrays.edge_set.tolist()
    assert homo.node_type.tolist() == g.node_table()["partition"].tolist()


def test_layer_graphs_hetero(layer_graphs):
    h = layer_graphs.to_pyg()
    h.validate(raise_on_error=True)
    assert h.node_types[:2] == ["features_0_in", "features_0_out"]
    assert h.num_edges == layer_graphs.num_edges
    dicts = layer_graphs.to_scipy()
    assert list(dicts) == ["features.0", "features.2", "classifier"]
    assert sum(m.nnz for m in dicts.values()) == layer_graphs.num_edges


def test_igraph_one_call_with_attributes(bipartite_graph, general_graph):
    ig = bipartite_graph.to_igraph()
    assert ig.is_directed() and ig.vcount() == bipartite_graph.num_nodes
    el = np.array(ig.get_edgelist())
    assert edge_multiset(el[:, 0], el[:, 1], ig.es["weight"]) == reference(bipartite_graph)
    assert ig.vs["type"] == [False] * bipartite_graph.num_left + [True] * bipartite_graph.num_right
    assert ig["encoding"] == "unrolled"
    gg = general_graph.to_igraph()
    assert gg.es["layer"][:2] == ["block.conv", "block.conv"] and gg.vs[10]["layer"] == "block.conv"


def test_networkx_digraph_and_multidigraph(bipartite_graph, general_graph):
    import networkx as nx

    G = bipartite_graph.to_networkx()
    assert type(G) is nx.DiGraph
    s, d, w = zip(*[(u, v, x["weight"]) for u, v, x in G.edges(data=True)])
    assert edge_multiset(s, d, w) == reference(bipartite_graph)
    assert G.nodes[bipartite_graph.num_left]["bipartite"] == 1
    M = general_graph.to_networkx()
    assert type(M) is nx.MultiDiGraph and M.number_of_edges() == general_graph.num_edges
    assert sorted(x["layer"] for _, _, x in M.edges(0, data=True)) == ["block.conv", "block.conv", "block.identity"]
    assert M.nodes[21] == {"partition": 2, "layer": "meta", "index": 1, "channel": -1, "y": -1, "x": -1}
    assert M.graph["num_nodes"] == 24


@pytest.mark.parametrize("names,expected", [
    (["layer1.0.conv1:in", "a..b", "__x__", "", "a_b", "a.b"], ["layer1_0_conv1_in", "a_b", "x", "p", "a_b_2", "a_b_3"]),
    (["meta", "input"], ["meta_2", "input"]),
])
def test_sanitise_names(names, expected):
    assert sanitise_names(names, reserved=("meta",)) == expected


def test_converters_agree_on_general_graph(general_graph):
    g = general_graph
    ref = reference(g)
    ig = g.to_igraph()
    el = np.array(ig.get_edgelist())
    assert edge_multiset(el[:, 0], el[:, 1], ig.es["weight"]) == ref
    M = g.to_networkx()
    s, d, w = zip(*[(u, v, x["weight"]) for u, v, x in M.edges(data=True)])
    assert edge_multiset(s, d, w) == ref
