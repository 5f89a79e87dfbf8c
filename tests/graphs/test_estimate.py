"""Size estimates and the memory limit (graphs.md §6)."""

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import GraphTooLargeError
from sparsegraph.graphs import encoder as encode_module
from sparsegraph.graphs.estimate import estimate_bytes, resolve_max_bytes


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 4 * 4, 10))


def test_formula():
    # 1.1·(E·(18 + b_e) + N·b_n)
    assert estimate_bytes(1000, 10_000, "scipy") == int(1.1 * (10_000 * (18 + 24) + 1000 * 4))
    assert estimate_bytes(1000, 10_000, "networkx") == int(1.1 * (10_000 * 418 + 1000 * 650))
    with pytest.raises(ValueError, match="unknown target"):
        estimate_bytes(1, 1, "gpu")


def test_limit_sources(monkeypatch):
    monkeypatch.delenv("SPARSEGRAPH_MAX_BYTES", raising=False)
    assert resolve_max_bytes() == 4 * 2**30
    monkeypatch.setenv("SPARSEGRAPH_MAX_BYTES", "512MiB")
    assert resolve_max_bytes() == 512 * 2**20
    assert resolve_max_bytes("8GB") == 8 * 10**9
    monkeypatch.setenv("SPARSEGRAPH_MAX_BYTES", "lots")
    with pytest.raises(sg.errors.UsageError, match="SPARSEGRAPH_MAX_BYTES"):
        resolve_max_bytes()


def test_raises_before_any_edge_is_built(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("edges were generated before the size check")

    monkeypatch.setattr(encode_module, "build_layer", no_build)
    model = net()
    with pytest.raises(GraphTooLargeError) as info:
        sg.encode(model, encoding="rolled", max_bytes=1000, model_spec="tiny")
    err = info.value
    nnz = sum(int((p != 0).sum()) for n, p in model.named_parameters() if n.endswith("weight"))
    assert err.num_edges == nnz and err.num_nodes == 27 + 8 + 128 + 10
    assert err.target == "arrays" and err.limit_bytes == 1000
    assert err.estimate_bytes == estimate_bytes(err.num_nodes, nnz, "arrays")
    msg = str(err)
    assert "encoding 'rolled' of tiny" in msg and f"{nnz:,} edges" in msg and "1000 B" in msg
    assert "max_bytes" in msg and "SPARSEGRAPH_MAX_BYTES" in msg and "sparsegraph export" in msg


def test_unrolled_estimate_is_exact_without_building():
    from sparsegraph.graphs.encodings import LayerSpec, layer_size

    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 8, 3, 3, generator=g).numpy()
    mask = (torch.rand(16, 8, 3, 3, generator=g) < 0.1).numpy()
    spec = LayerSpec("c", mask, w, stride=(2, 2), padding=(1, 1), input_hw=(32, 32))
    n, e = layer_size(spec, "unrolled")
    built = sg.bipartite(mask, w, "unrolled", input_hw=32, stride=2, padding=1)
    assert (n, e) == (built.num_nodes, built.num_edges)


def test_converters_check_their_target(bipartite_graph, monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_MAX_BYTES", "2000")
    with pytest.raises(GraphTooLargeError) as info:
        bipartite_graph.to_networkx()
    assert info.value.target == "networkx"
    assert "stream to edgelist/npz/mtx with sparsegraph export" in str(info.value)
    with pytest.raises(GraphTooLargeError):
        bipartite_graph.to_igraph()
    assert bipartite_graph.to_scipy(max_bytes="1MiB").nnz == bipartite_graph.num_edges
    assert bipartite_graph.estimate_bytes("pyg") == estimate_bytes(bipartite_graph.num_nodes,
                                                                   bipartite_graph.num_edges, "pyg")


def test_streamed_export_checks_the_largest_set(tmp_path):
    model = net()
    with pytest.raises(GraphTooLargeError) as info:
        sg.export(model, None, tmp_path / "g.tsv", "edgelist", encoding="rolled", max_bytes=100)
    assert info.value.target == "stream"
    assert "--max-memory" in str(info.value) and "stream to" not in str(info.value)  # already streaming
    assert not (tmp_path / "g.tsv").exists()


@pytest.mark.parametrize("name", ["g.pt", "g.graphml", "g.tsv", "g.tsv.gz", "g.npz", "g.mtx"])
def test_file_estimates_are_close_to_the_written_size(tmp_path, name):
    from sparsegraph.graphs.estimate import estimate_file_bytes
    from sparsegraph.graphs.io import resolve_format

    g = torch.Generator().manual_seed(0)
    graph = sg.bipartite(torch.rand(32, 16, 3, 3, generator=g) < 0.3, torch.randn(32, 16, 3, 3, generator=g),
                         "unrolled", input_hw=16, padding=1)
    path = tmp_path / name
    graph.save(path)
    written = sum(p.stat().st_size for p in tmp_path.iterdir())  # with the sidecar
    estimate = estimate_file_bytes(graph, resolve_format(path, None), path)
    # text: the digits of the weights vary; gzip: the assumed ratio is rough
    tolerance = 0.6 if name.endswith(".gz") else 0.25
    assert abs(estimate.file_bytes - written) <= tolerance * written, (estimate, written)
    assert estimate.needed_bytes >= estimate.file_bytes


def test_export_tells_its_estimate_and_refuses_without_space(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    model = net()
    told = []
    sg.export(model, None, tmp_path / "g.graphml", "graphml", encoding="rolled", notify=told.append)
    assert len(told) == 1 and told[0].startswith(f"writing {tmp_path / 'g.graphml'}: about ")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100, 90, 10))
    with pytest.raises(sg.errors.OutputError, match="not enough free space") as info:
        sg.export(model, None, tmp_path / "h.npz", "npz", encoding="rolled")
    assert info.value.free_bytes == 10 and info.value.needed_bytes > 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.graphml"]
