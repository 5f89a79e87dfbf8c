"""File formats (graphs.md §5): exact round trips, third-party readers, sidecars and bad files."""

import csv
import gzip
import json

import numpy as np
import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.encodings import LayerSpec, build_layer

FILES = [("pyg", "g.pt"), ("graphml", "g.graphml"), ("edgelist", "g.tsv"), ("edgelist", "g.tsv.gz"),
         ("npz", "g.npz"), ("mtx", "g.mtx")]
KEEPS_LAYER = {"pyg", "graphml", "edgelist", "npz"}
KEEPS_SIGNED = {"pyg", "graphml", "npz"}


def as_graph(obj):
    return obj.union() if isinstance(obj, sg.LayerGraphs) else obj


def columns(graph, sum_duplicates=False):
    a = graph.arrays
    names = [graph.edge_sets[i].name for i in a.edge_set.tolist()]
    rows = list(zip(a.src.tolist(), a.dst.tolist(), a.weight.tolist(), a.signed_weight.tolist(), names))
    if sum_duplicates:
        summed = {}
        for s, d, w, _, _ in rows:
            summed[(s, d)] = np.float32(summed.get((s, d), np.float32(0)) + np.float32(w))
        return sorted((s, d, float(w)) for (s, d), w in summed.items())
    return sorted(rows)


def compat_layer_graphs():
    g = torch.Generator().manual_seed(1)
    w = torch.randn(4, 3, 3, 3, generator=g).numpy()
    mask = (torch.rand(4, 3, 3, 3, generator=g) < 0.5).numpy()
    w2 = torch.randn(2, 4, 3, 3, generator=g).numpy()
    layers = {"c": build_layer(LayerSpec("c", mask, w, padding=(1, 1), input_hw=(5, 5)), "unrolled", "mge2024"),
              "d": build_layer(LayerSpec("d", w2 != 0, w2, stride=(2, 2), input_hw=(5, 5)), "unrolled", "mge2024")}
    return sg.LayerGraphs(layers, {"encoding": "unrolled", "compat": "mge2024", "weighted": True})


def graphs_under_test(request):
    return {"bipartite": request.getfixturevalue("bipartite_graph"),
            "layers": request.getfixturevalue("layer_graphs"),
            "general": request.getfixturevalue("general_graph"),
            "compat": compat_layer_graphs()}


@pytest.mark.parametrize("kind", ["bipartite", "layers", "general", "compat"])
@pytest.mark.parametrize("fmt,name", FILES)
def test_round_trip(request, tmp_path, kind, fmt, name):
    original = graphs_under_test(request)[kind]
    path = tmp_path / name
    original.save(path)
    back = sg.load_graph(path)
    assert type(back) is type(original)
    g0, g1 = as_graph(original), as_graph(back)
    assert g1.num_nodes == g0.num_nodes
    assert g1.partitions == g0.partitions
    attrs0, attrs1 = g0.graph_attributes(), g1.graph_attributes()
    if fmt == "mtx":  # duplicates are summed: the per-set counts may shrink
        attrs0.pop("edge_sets"), attrs1.pop("edge_sets"), attrs0.pop("num_edges"), attrs1.pop("num_edges")
    assert attrs1 == attrs0
    if fmt == "mtx":
        assert columns(g1, True) == columns(g0, True)
    else:
        assert [r[:3] for r in columns(g1)] == [r[:3] for r in columns(g0)]
        assert g1.arrays.weight.dtype == np.float32
    if fmt in KEEPS_LAYER:
        assert [(r[0], r[1], r[4]) for r in columns(g1)] == [(r[0], r[1], r[4]) for r in columns(g0)]
    if fmt in KEEPS_SIGNED:
        assert columns(g1) == columns(g0)
    if fmt in ("edgelist", "mtx"):
        sidecar = json.loads((tmp_path / f"{name}.meta.json").read_text())
        assert sidecar["format"] == "sparsegraph.graph-meta/1" and sidecar["index_base"] == (fmt == "mtx")


def test_signed_edge_list_keeps_signed_weights(tmp_path, layer_graphs):
    path = tmp_path / "g.tsv"
    layer_graphs.save(path, signed=True)
    assert path.read_text().split("\n", 1)[0] == "# source\ttarget\tweight\tlayer\tsigned_weight"
    back = sg.load_graph(path).union()
    assert columns(back) == columns(layer_graphs.union())


def test_edge_list_text_is_exact(tmp_path):
    w = torch.tensor([[0.022722153, -1e-5], [3.0, 0.0]])
    g = sg.bipartite(w, name="fc")
    path = tmp_path / "fc.tsv"
    g.save(path)
    assert path.read_bytes() == b"# source\ttarget\tweight\tlayer\n0\t2\t0.022722153\tfc\n0\t3\t3.0\tfc\n1\t2\t1e-05\tfc\n"


def test_third_party_readers(tmp_path, layer_graphs, general_graph):
    import igraph
    import networkx as nx
    import scipy.io

    g = layer_graphs.union()
    layer_graphs.save(tmp_path / "g.pt")
    payload = torch.load(tmp_path / "g.pt", weights_only=True)
    assert payload["format"] == "sparsegraph.pyg/1" and payload["class"] == "HeteroData"
    from torch_geometric.data import HeteroData
    h = HeteroData.from_dict(payload["data"])
    assert h.num_edges == g.num_edges

    general_graph.save(tmp_path / "g.graphml")
    G = nx.read_graphml(tmp_path / "g.graphml")
    assert G.number_of_nodes() == general_graph.num_nodes and G.number_of_edges() == general_graph.num_edges
    assert G.nodes["n10"]["layer"] == "block.conv" and G.nodes["n10"]["channel"] == 0
    ig = igraph.Graph.Read_GraphML(str(tmp_path / "g.graphml"))
    assert ig.vcount() == general_graph.num_nodes and ig.ecount() == general_graph.num_edges
    assert sorted(ig.es["weight"]) == sorted(general_graph.arrays.weight.astype(float).tolist())

    layer_graphs.save(tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz", allow_pickle=False) as z:
        import scipy.sparse as sp
        A = sp.csr_array((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        assert (A != g.to_scipy()).nnz == 0
        assert z["partition_names"].tolist()[:2] == ["features.0:in", "features.0:out"]

    layer_graphs.save(tmp_path / "g.mtx")
    M = scipy.io.mmread(tmp_path / "g.mtx")
    assert (sp.csr_array(M).astype(np.float32) != g.to_scipy()).nnz == 0

    layer_graphs.save(tmp_path / "g.tsv.gz")
    with gzip.open(tmp_path / "g.tsv.gz", "rt", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == g.num_edges and rows[0]["layer"] == "features.0"
    assert sorted(np.float32(r["weight"]) for r in rows) == sorted(g.arrays.weight.tolist())


def test_edge_list_reads_in_networkx_and_igraph_as_documented(tmp_path, layer_graphs):
    import igraph
    import networkx as nx

    g = layer_graphs.union()
    path = tmp_path / "g.tsv"
    layer_graphs.save(path)
    # the header is a '#' comment, which read_edgelist skips
    G = nx.read_edgelist(path, delimiter="\t", nodetype=int, data=[("weight", float), ("layer", str)],
                         create_using=nx.DiGraph)
    assert G.number_of_edges() == g.num_edges
    src, dst = int(g.arrays.src[0]), int(g.arrays.dst[0])
    assert G[src][dst]["weight"] == pytest.approx(float(g.arrays.weight[0])) and G[src][dst]["layer"] == "features.0"
    # igraph's NCOL reader takes at most 3 columns and no comments: docs/formats.md uses TupleList
    with open(path) as f:
        rows = [(int(a), int(b), float(w), layer) for a, b, w, layer in
                (line.rstrip("\n").split("\t") for line in f if not line.startswith("#"))]
    ig = igraph.Graph.TupleList(rows, directed=True, edge_attrs=["weight", "layer"])
    assert ig.ecount() == g.num_edges


def test_edge_list_with_the_old_plain_header_is_still_read(tmp_path, layer_graphs):
    path = tmp_path / "g.tsv"
    layer_graphs.save(path)
    current = columns(sg.load_graph(path).union())
    path.write_text(path.read_text().removeprefix("# "))
    # the edit changes the content the sidecar's checksum covers, hence verify=False
    assert columns(sg.load_graph(path, verify=False).union()) == current


def test_mtx_of_one_layer_is_the_biadjacency(tmp_path, bipartite_graph):
    import scipy.io

    bipartite_graph.save(tmp_path / "b.mtx")
    text = (tmp_path / "b.mtx").read_text().split("\n")
    assert text[0] == "%%MatrixMarket matrix coordinate real general"
    assert text[1].startswith("% sparsegraph {")
    M = scipy.io.mmread(tmp_path / "b.mtx")
    assert M.shape == (bipartite_graph.num_left, bipartite_graph.num_right)


@pytest.mark.parametrize("name,content", [
    ("bad.pt", b"not a torch file"), ("bad.graphml", b"<graphml><graph"), ("bad.npz", b"PK\x03\x04junk"),
    ("bad.tsv", b"a\tb\n"), ("bad.mtx", b"%%MatrixMarket matrix coordinate real general\n1 1 1\n")])
def test_corrupt_files_raise_graph_file_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(GraphFileError) as info:
        sg.load_graph(path)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_unknown_or_missing_files(tmp_path):
    with pytest.raises(GraphFileError, match="format"):
        sg.load_graph(tmp_path / "graph.xyz")
    with pytest.raises(GraphFileError, match="no such"):
        sg.load_graph(tmp_path / "missing.npz")
    (tmp_path / "g.tsv").write_text("source\ttarget\tweight\tlayer\n")
    with pytest.raises(GraphFileError, match="sidecar"):
        sg.load_graph(tmp_path / "g.tsv")


def test_names_with_tabs_cannot_go_to_edge_lists(tmp_path):
    g = sg.bipartite(torch.ones(2, 2, dtype=torch.bool), name="a\tb")
    with pytest.raises(ValueError, match="tab"):
        g.save(tmp_path / "g.tsv")


def test_edge_list_to_stdout_warns_and_skips_sidecar(capsys, bipartite_graph):
    from sparsegraph.graphs.io import write_stream
    from sparsegraph.graphs.stream import EdgeStream

    with pytest.warns(UserWarning, match="sidecar"):
        write_stream(EdgeStream.from_graph(bipartite_graph), "-", "edgelist")
    out = capsys.readouterr().out.split("\n")
    assert out[0] == "# source\ttarget\tweight\tlayer" and len(out) == bipartite_graph.num_edges + 2


def small_net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 8, 3, groups=2),
                              torch.nn.Flatten(), torch.nn.Linear(8, 5))
    masks = {name: torch.rand_like(p) < 0.5 for name, p in net.named_parameters() if name.endswith("weight")}
    return net, masks


@pytest.mark.parametrize("encoding", ["rolled", "rolled-channel"])
@pytest.mark.parametrize("fmt,name", FILES)
def test_streamed_export_equals_in_memory_save(tmp_path, encoding, fmt, name):
    net, masks = small_net()
    graphs = sg.encode(net, masks, encoding=encoding)
    sg.export(net, masks, tmp_path / name, fmt, encoding=encoding)
    back = as_graph(sg.load_graph(tmp_path / name))
    ref = graphs.union()
    assert back.partitions == ref.partitions
    assert back.graph_attributes() == ref.graph_attributes()
    assert [r[:3] for r in columns(back)] == [r[:3] for r in columns(ref)]


def test_graphml_in_another_layout_reads_through_the_generic_parser(tmp_path, general_graph):
    path = tmp_path / "g.graphml"
    general_graph.save(path)
    # a tool re-saving the file may indent it: the fast reader declines, the XML parser reads it
    path.write_text(path.read_text().replace("><data", ">\n  <data"))
    back = sg.load_graph(path)
    assert columns(back) == columns(general_graph)
    assert back.graph_attributes() == general_graph.graph_attributes()


@pytest.mark.parametrize("fmt,name", FILES)
def test_graph_without_edges_round_trips(tmp_path, fmt, name):
    g = sg.bipartite(torch.zeros(3, 2, 3, 3, dtype=torch.bool), torch.ones(3, 2, 3, 3), "unrolled", input_hw=4)
    g.save(tmp_path / name)
    back = sg.load_graph(tmp_path / name)
    assert back.num_edges == 0 and back.partitions == g.partitions


@pytest.mark.parametrize("fmt,name", [("pyg", "g.pt"), ("graphml", "g.graphml"), ("npz", "g.npz")])
def test_multiplicity_round_trips(tmp_path, general_graph, fmt, name):
    general_graph.arrays.multiplicity = np.arange(1, general_graph.num_edges + 1, dtype=np.int32)
    general_graph.save(tmp_path / name)
    back = sg.load_graph(tmp_path / name)
    key = lambda g: sorted(zip(g.arrays.src.tolist(), g.arrays.dst.tolist(), g.arrays.edge_set.tolist(),
                               g.arrays.multiplicity.tolist()))
    assert key(back) == key(general_graph)
