"""Output and resource failures on the command line: one line, exit 3, nothing lost (issue #17)."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from faults import deny_new_files, fail_path_writes, fill_disk_after, listing

from sparsegraph_cli.main import main

EXPORT = ["export", "--model", "mlp", "--encoding", "rolled"]
MEASURE = ["measure", "--model", "mlp", "--metrics", "density", "--format", "json"]


def run(args):
    return CliRunner().invoke(main, args)


def one_error_line(result, *fragments: str) -> str:
    """The run failed with exit 3 and one ``Error:`` line (no traceback) containing every fragment."""
    assert result.exit_code == 3, result.output
    assert isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def earlier(tmp_path):
    """An earlier result in the output folder, which no failure may touch."""
    path = tmp_path / "earlier.json"
    path.write_text('{"kept": true}\n')
    return path


def assert_kept(earlier) -> None:
    assert earlier.read_text() == '{"kept": true}\n'


# ------------------------------------------------------------------ a parent that is a regular file
@pytest.mark.parametrize("args,name", [
    (MEASURE, "m.json"),
    (EXPORT + ["--format", "npz"], "g.npz"),
    (EXPORT + ["--format", "edgelist"], "g.tsv"),
    (EXPORT + ["--format", "graphml"], "g.graphml"),
    (EXPORT + ["--format", "pyg"], "g.pt"),
])
def test_output_under_a_regular_file(tmp_path, earlier, args, name):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run([*args, "-o", str(blocker / name)])
    one_error_line(result, f"cannot write {blocker / name}", f"{blocker} is a file, not a directory")
    assert listing(tmp_path) == ["earlier.json", "file"]
    assert blocker.read_text() == "not a directory"
    assert_kept(earlier)


def test_export_onto_an_existing_directory(tmp_path, earlier):
    (tmp_path / "out").mkdir()
    result = run([*EXPORT, "--format", "npz", "-o", str(tmp_path / "out")])
    one_error_line(result, "it is a directory")
    assert listing(tmp_path) == ["earlier.json", "out"]
    assert_kept(earlier)


# ------------------------------------------------------------------ a read-only directory
@pytest.mark.parametrize("args,name", [
    (MEASURE, "m.json"),
    (EXPORT + ["--format", "npz"], "g.npz"),
    (EXPORT + ["--format", "edgelist"], "g.tsv"),
    (EXPORT + ["--format", "mtx"], "g.mtx"),
])
def test_read_only_directory_refused_writes(tmp_path, earlier, monkeypatch, args, name):
    deny_new_files(monkeypatch)  # what a read-only directory does, also for root
    result = run([*args, "-o", str(tmp_path / name)])
    one_error_line(result, f"cannot write {tmp_path / name}", "permission denied")
    assert listing(tmp_path) == ["earlier.json"]
    assert_kept(earlier)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_with_chmod(tmp_path, earlier):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for args, name in ((MEASURE, "m.json"), (EXPORT + ["--format", "edgelist"], "g.tsv")):
            one_error_line(run([*args, "-o", str(locked / name)]), "permission denied")
            assert listing(locked) == []
    finally:
        locked.chmod(0o755)
    assert_kept(earlier)


def test_prune_into_a_read_only_directory(tmp_path, monkeypatch):
    deny_new_files(monkeypatch)
    result = run(["prune", "--model", "lenet5", "--dataset", "digits", "--method", "random", "--sparsity", "0.5",
                  "--epochs", "0", "--metrics", "density", "-o", str(tmp_path / "run")])
    one_error_line(result, "config.json", "permission denied")
    assert listing(tmp_path) == ["run"]  # the folder, and nothing half-written in it


def test_prune_run_directory_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    result = run(["prune", "--model", "lenet5", "--dataset", "digits", "--method", "random", "--sparsity", "0.5",
                  "--epochs", "0", "-o", str(tmp_path / "file" / "run")])
    one_error_line(result, f"{tmp_path / 'file'} is a file, not a directory")
    assert (tmp_path / "file").read_text() == "x"


def test_prune_run_directory_that_is_a_file_through_the_api(tmp_path):
    from sparsegraph.errors import OutputError
    from sparsegraph.runs import PruneRunConfig, run_prune

    (tmp_path / "run").write_text("x")
    with pytest.raises(OutputError, match="it is a file, not a directory"):
        run_prune(PruneRunConfig(model="lenet5", dataset="digits", method="random", density=0.5,
                                 train_options={"epochs": 0}), tmp_path / "run")
    assert (tmp_path / "run").read_text() == "x"


# ------------------------------------------------------------------ a full disk
def test_full_disk_while_streaming_graphml_keeps_the_old_file(tmp_path, monkeypatch):
    from sparsegraph.graphs.io import graphml

    target = tmp_path / "g.graphml"
    target.write_text("<old/>")
    fill_disk_after(monkeypatch, graphml, "open_text", capacity=5000)
    result = run([*EXPORT, "--format", "graphml", "-o", str(target)])
    one_error_line(result, f"cannot write {target}", "no space left on device", "free")
    assert target.read_text() == "<old/>"
    assert listing(tmp_path) == ["g.graphml"]


def test_full_disk_keeps_an_edge_list_and_its_sidecar_together(tmp_path, monkeypatch):
    from sparsegraph.graphs.io import edgelist

    target = tmp_path / "g.tsv"
    assert run([*EXPORT, "--format", "edgelist", "-o", str(target)]).exit_code == 0
    before = target.read_bytes(), (tmp_path / "g.tsv.meta.json").read_bytes()
    # the edges fit, the sidecar does not: neither file may change
    fail_path_writes(monkeypatch, when=lambda p: p.name.startswith(".g.tsv.meta.json."))
    one_error_line(run([*EXPORT, "--format", "edgelist", "--model", "lenet5", "-o", str(target)]),
                   "no space left on device")
    assert (target.read_bytes(), (tmp_path / "g.tsv.meta.json").read_bytes()) == before
    assert listing(tmp_path) == ["g.tsv", "g.tsv.meta.json"]
    monkeypatch.undo()
    fill_disk_after(monkeypatch, edgelist, "open_text", capacity=100)
    one_error_line(run([*EXPORT, "--format", "edgelist", "--model", "lenet5", "-o", str(target)]),
                   "no space left on device")
    assert (target.read_bytes(), (tmp_path / "g.tsv.meta.json").read_bytes()) == before
    assert listing(tmp_path) == ["g.tsv", "g.tsv.meta.json"]


def test_full_disk_writing_npz(tmp_path, monkeypatch, earlier):
    from sparsegraph.graphs.io import npz

    fill_disk_after(monkeypatch, npz, "open", capacity=10_000)
    one_error_line(run([*EXPORT, "--format", "npz", "-o", str(tmp_path / "g.npz")]), "no space left on device")
    assert listing(tmp_path) == ["earlier.json"]  # no partial file, no scratch folder
    assert_kept(earlier)


def test_full_disk_overwriting_a_measure_output_keeps_the_old_content(tmp_path, monkeypatch, earlier):
    fail_path_writes(monkeypatch)
    one_error_line(run([*MEASURE, "-o", str(earlier)]), f"cannot write {earlier}", "no space left on device")
    assert_kept(earlier)
    assert listing(tmp_path) == ["earlier.json"]


def test_full_disk_in_a_prune_run_keeps_what_was_written(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    fail_path_writes(monkeypatch, when=lambda p: p.name.startswith(".metrics.json."))
    result = run(["prune", "--model", "lenet5", "--dataset", "digits", "--method", "random", "--sparsity", "0.5",
                  "--epochs", "0", "--metrics", "density", "-o", str(run_dir)])
    one_error_line(result, f"{run_dir / 'metrics.json'}", "no space left on device")
    assert listing(run_dir) == ["config.json", "log.jsonl", "masks.safetensors"]
    assert json.loads((run_dir / "config.json").read_text())["method"] == "random"
    for line in (run_dir / "log.jsonl").read_text().splitlines():
        json.loads(line)  # no half-written line


def test_not_enough_free_space_is_refused_before_writing(tmp_path, monkeypatch, earlier):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 1000, 1000))
    result = run([*EXPORT, "--format", "graphml", "-o", str(tmp_path / "g.graphml")])
    line = one_error_line(result, "not enough free space", "needs about", "1000 B free")
    assert "writing" in result.stderr and "about" in result.stderr  # the estimate came first
    assert listing(tmp_path) == ["earlier.json"], line
    assert_kept(earlier)


def test_export_prints_its_size_estimate(tmp_path):
    target = tmp_path / "g.graphml"
    result = run([*EXPORT, "--format", "graphml", "-o", str(target)])
    assert result.exit_code == 0, result.output
    estimate = [line for line in result.stderr.splitlines() if line.startswith(f"writing {target}: about ")]
    assert len(estimate) == 1


# ------------------------------------------------------------------ memory estimates before allocation
@pytest.mark.parametrize("args", [
    ["measure", "--model", "resnet20", "--input-shape", "3,100000,100000", "--metrics", "paths"],
    ["measure", "--model", "resnet20", "--input-shape", "3,100000,100000", "--metrics", "paths",
     "--masks-from-zeros"],
    ["export", "--model", "resnet20", "--encoding", "mge", "--input-shape", "3,100000,100000", "--format", "npz"],
    ["export", "--model", "resnet20", "--encoding", "unrolled", "--input-shape", "3,100000,100000",
     "--format", "edgelist"],
    ["measure", "--model", "resnet20", "--input-shape", "3,2000,2000", "--masks-from-zeros", "--metrics", "paths"],
])
def test_huge_inputs_are_refused_with_the_estimate(tmp_path, args):
    result = run([*args, *(["-o", str(tmp_path / "out")] if args[0] == "export" else [])])
    one_error_line(result, "needs about", "above the memory limit of 4.0 GiB", "--max-memory")
    assert listing(tmp_path) == []


def test_huge_inputs_with_masks_are_refused(tmp_path):
    import torch

    from sparsegraph.masks import MaskSet
    from sparsegraph.models import load_model

    model = load_model("resnet20")
    MaskSet({n: torch.ones_like(p, dtype=torch.bool) for n, p in model.named_parameters() if p.dim() == 4}
            ).save(tmp_path / "m.safetensors")
    result = run(["measure", "--model", "resnet20", "--masks", str(tmp_path / "m.safetensors"), "--input-shape",
                  "3,100000,100000", "--metrics", "paths"])
    one_error_line(result, "tracing CifarResNet on input 3x100000x100000 needs about", "--max-memory")


def test_models_sized_from_the_input_are_refused_before_they_are_built():
    result = run(["measure", "--model", "mlp", "--input-shape", "1,100000,100000", "--metrics", "density"])
    one_error_line(result, "building mlp for input 1x100000x100000 needs about", "--max-memory")


def test_max_memory_raises_the_limit_and_names_the_new_one():
    result = run(["measure", "--model", "resnet20", "--input-shape", "3,2000,2000", "--metrics", "paths",
                  "--max-memory", "5GiB"])
    one_error_line(result, "above the memory limit of 5.0 GiB")
    bad = run(["measure", "--model", "mlp", "--metrics", "density", "--max-memory", "lots"])
    assert bad.exit_code == 2 and "--max-memory" in bad.stderr


def test_layer_metrics_do_not_need_the_trace_of_a_huge_input():
    result = run(["measure", "--model", "resnet20", "--input-shape", "3,2000,2000", "--metrics", "density",
                  "--format", "json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["notes"]
    assert any("registration order" in n and "needs about" in n for n in notes)
