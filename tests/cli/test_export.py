"""``sparsegraph export``: files written, and one-line errors with the documented exit codes."""

import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import sparsegraph as sg
from sparsegraph_cli.main import main

NET = textwrap.dedent("""
    import torch

    def build(num_classes=10):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                   torch.nn.Linear(4 * 4 * 4, num_classes))
""")


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(NET)
    return f"{path}:build"


@pytest.fixture
def mask_file(tmp_path):
    g = torch.Generator().manual_seed(0)
    masks = sg.MaskSet({"0.weight": torch.rand(4, 3, 3, 3, generator=g) < 0.5,
                        "3.weight": torch.rand(10, 64, generator=g) < 0.5})
    path = tmp_path / "masks.safetensors"
    masks.save(path)
    return path, masks


def run(*args):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.mark.parametrize("fmt,name", [("edgelist", "g.tsv"), ("npz", "g.npz"), ("mtx", "g.mtx"),
                                      ("graphml", "g.graphml"), ("pyg", "g.pt")])
def test_export_writes_a_readable_graph(tmp_path, spec, mask_file, fmt, name):
    path, masks = mask_file
    result = run("export", "--model", spec, "--masks", path, "--encoding", "rolled", "--format", fmt,
                 "-o", tmp_path / name)
    assert result.exit_code == 0, result.output
    graphs = sg.load_graph(tmp_path / name)
    assert list(graphs) == ["0", "3"]
    assert graphs["0"].num_edges == int(masks["0.weight"].sum())
    assert graphs["3"].num_edges == int(masks["3.weight"].sum())
    assert graphs.attrs["model"] == spec and graphs.attrs["mask_fingerprint"] == masks.fingerprint()
    assert graphs.attrs["support"] == "mask"


def one_line_error(result, code, *words):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.strip().split("\n") if line.startswith("Error")]
    assert len(lines) == 1
    for word in words:
        assert word in lines[0]


def test_usage_errors_exit_2(tmp_path, spec):
    one_line_error(run("export", "--model", spec, "--encoding", "bogus", "--format", "npz", "-o", tmp_path / "g.npz"),
                   2, "--encoding", "bogus")
    one_line_error(run("export", "--model", spec, "--encoding", "rolled", "--format", "csv", "-o", tmp_path / "g.csv"),
                   2, "--format", "csv")
    one_line_error(run("export", "--model", spec, "--encoding", "unrolled", "--format", "npz", "-o", tmp_path / "g.npz"),
                   2, "input_shape")
    one_line_error(run("export", "--model", spec, "--encoding", "rolled", "--format", "npz", "-o", tmp_path / "g.npz",
                       "--max-memory", "lots"), 2, "lots")


@pytest.mark.parametrize("fmt,name", [("edgelist", "g.tsv"), ("npz", "g.npz")])
def test_export_mge(tmp_path, spec, mask_file, fmt, name):
    path, masks = mask_file
    result = run("export", "--model", spec, "--masks", path, "--encoding", "mge", "--input-shape", "3,4,4",
                 "--format", fmt, "-o", tmp_path / name)
    assert result.exit_code == 0, result.output
    g = sg.load_graph(tmp_path / name)
    assert isinstance(g, sg.MultipartiteGraph)
    assert [p.name for p in g.partitions] == ["input", "0", "3"] and g.num_nodes == 48 + 64 + 10
    # the linear layer reads the flattened conv output directly: one edge per kept weight
    assert next(s for s in g.edge_sets if s.name == "3").num_edges == int(masks["3.weight"].sum())
    one_line_error(run("export", "--model", spec, "--masks", path, "--encoding", "mge", "--input-shape", "3,4,4",
                       "--compat", "mge2024", "--format", fmt, "-o", tmp_path / name), 3, "compat", "'3'")


def test_mask_that_does_not_fit_exits_3(tmp_path, spec):
    bad = tmp_path / "bad.safetensors"
    sg.MaskSet({"0.weight": torch.ones(2, 2, dtype=torch.bool)}).save(bad)
    one_line_error(run("export", "--model", spec, "--masks", bad, "--encoding", "rolled", "--format", "npz",
                       "-o", tmp_path / "g.npz"), 3, "0.weight")


def test_graph_too_large_exits_3(tmp_path, spec, mask_file):
    path, _ = mask_file
    result = run("export", "--model", spec, "--masks", path, "--encoding", "rolled", "--format", "npz",
                 "-o", tmp_path / "g.npz", "--max-memory", "100")
    one_line_error(result, 3, "above the limit")
    assert not (tmp_path / "g.npz").exists()


def test_edge_list_to_stdout(tmp_path, spec, mask_file):
    path, masks = mask_file
    result = CliRunner().invoke(main, ["export", "--model", spec, "--masks", str(path), "--encoding", "rolled-channel",
                                       "--format", "edgelist", "-o", "-"])
    assert result.exit_code == 0
    lines = [line for line in result.stdout.split("\n") if line]
    assert lines[0] == "source\ttarget\tweight\tlayer"
    slices = int(masks["0.weight"].any(dim=(2, 3)).sum()) + int(masks["3.weight"].sum())
    assert len(lines) == 1 + slices
    weights = np.array([float(line.split("\t")[2]) for line in lines[1:]], dtype=np.float32)
    assert (weights > 0).all()


def test_unsupported_layer_exits_3(tmp_path):
    path = tmp_path / "conv1d.py"
    path.write_text("import torch\n\ndef build(num_classes=10):\n"
                    "    return torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(3, 2))\n")
    one_line_error(run("export", "--model", f"{path}:build", "--encoding", "rolled", "--format", "npz",
                       "-o", tmp_path / "g.npz"), 3, "Conv1d")


def test_zoo_model_unrolled_without_input_shape(tmp_path):
    model = sg.create_model("resnet20")
    g = torch.Generator().manual_seed(0)
    masks = sg.MaskSet({n: torch.rand(p.shape, generator=g) < 0.02
                        for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1})
    masks.save(tmp_path / "m.safetensors")
    result = run("export", "--model", "resnet20", "--masks", tmp_path / "m.safetensors", "--encoding", "unrolled",
                 "--format", "npz", "-o", tmp_path / "r.npz")
    assert result.exit_code == 0, result.output
    graphs = sg.load_graph(tmp_path / "r.npz")
    assert graphs["conv1"].num_left == 3 * 32 * 32 and graphs.attrs["model"] == "resnet20"
    assert graphs.attrs["support"] == "mask" and graphs.attrs["input_shape"] == [3, 32, 32]
    assert graphs.attrs["mask_fingerprint"] == masks.fingerprint()
