import json

import numpy as np
import pytest
from click.testing import CliRunner

import sparsegraph as sg
from sparsegraph_cli.main import main


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "g.npz"
    sg.export(sg.create_model("mlp"), None, path, encoding="rolled")
    return path


def test_summary_of_a_verified_file(graph_file):
    result = CliRunner().invoke(main, ["graph", str(graph_file), "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["format"] == "npz" and summary["encoding"] == "rolled" and summary["model"].endswith(":MLP")
    assert summary["checksum_status"] == "verified" and summary["checksum"].startswith("sha256:")
    assert summary["num_edges"] == sg.load_graph(graph_file).num_edges


def test_an_edited_file_exits_3_unless_no_verify(graph_file):
    with np.load(graph_file, allow_pickle=False) as z:
        entries = {name: z[name] for name in z.files}
    entries["data"] = entries["data"] * 2
    with open(graph_file, "wb") as f:
        np.savez(f, **entries)
    result = CliRunner().invoke(main, ["graph", str(graph_file)])
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "checksum mismatch" in errors[0] and "--no-verify" in errors[0]
    result = CliRunner().invoke(main, ["graph", str(graph_file), "--no-verify"])
    assert result.exit_code == 0 and "checksum_status: not compared" in result.stdout


def test_a_file_without_a_checksum_is_read_and_said_so(graph_file):
    with np.load(graph_file, allow_pickle=False) as z:
        entries = {name: z[name] for name in z.files}
    meta = json.loads(str(entries["meta"]))
    del meta["checksum"]
    entries["meta"] = np.array(json.dumps(meta))
    with open(graph_file, "wb") as f:
        np.savez(f, **entries)
    result = CliRunner().invoke(main, ["graph", str(graph_file)])
    assert result.exit_code == 0 and "checksum_status: absent" in result.stdout


@pytest.mark.parametrize("name", ["g.graphml", "g.tsv", "g.mtx", "g.pt"])
def test_stored_checksum_of_every_format(tmp_path, name):
    from sparsegraph.graphs.io import stored_checksum

    path = tmp_path / name
    sg.export(sg.create_model("mlp"), None, path, encoding="rolled")
    assert stored_checksum(path).startswith("sha256:")
