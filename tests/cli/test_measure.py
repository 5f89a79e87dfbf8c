"""``sparsegraph measure`` on a file.py:callable model and a saved mask file."""

import csv
import io
import json
import textwrap

import pytest
import torch
from click.testing import CliRunner

from sparsegraph_cli.main import main

MODEL_FILE = """
import torch
from torch import nn


def build(num_classes=5):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, num_classes))
"""


@pytest.fixture
def files(tmp_path):
    from sparsegraph.masks import MaskSet

    (tmp_path / "net.py").write_text(textwrap.dedent(MODEL_FILE))
    masks = MaskSet.from_dict({
        "0.weight": torch.arange(54).reshape(3, 2, 3, 3) % 3 == 0,  # 18 of 54
        "3.weight": torch.arange(240).reshape(5, 48) % 2 == 0,      # 120 of 240
    })
    masks.save(tmp_path / "masks.safetensors")
    return {"model": f"{tmp_path / 'net.py'}:build", "masks": str(tmp_path / "masks.safetensors"),
            "fingerprint": masks.fingerprint()}


def _run(*args):
    return CliRunner().invoke(main, ["measure", "--num-classes", "5", *args])


def test_json_output_follows_the_schema(files, tmp_path):
    out = tmp_path / "m.json"
    result = _run("--model", files["model"], "--masks", files["masks"], "--metrics", "density", "--format", "json",
                  "-o", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["format"] == "sparsegraph.measure/1"
    assert doc["model"] == files["model"]
    assert doc["masks"] == {"path": files["masks"], "fingerprint": files["fingerprint"], "density": 138 / 294}
    assert doc["rows"] == [
        {"scope": "layer", "layer": "0", "metric": "density", "value": 18 / 54, "status": "ok"},
        {"scope": "layer", "layer": "3", "metric": "density", "value": 0.5, "status": "ok"},
        {"scope": "network", "layer": None, "metric": "density", "value": 138 / 294, "status": "ok",
         "n_layers": 2, "n_defined": 2},
    ]


def test_table_csv_and_jsonl(files):
    base = ["--model", files["model"], "--masks", files["masks"], "--metrics", "density"]
    table = _run(*base)
    assert table.exit_code == 0, table.output
    lines = [line for line in table.output.splitlines() if not line.startswith("note:")]
    assert lines[0].split() == ["layer", "density"]
    assert [line.split() for line in lines[2:]] == [["0", "0.333333"], ["3", "0.5"], ["(network)", "0.469388"]]
    rows = list(csv.reader(io.StringIO(_run(*base, "--format", "csv").stdout)))
    assert rows[0] == ["scope", "layer", "metric", "value", "status"]
    assert rows[3] == ["network", "", "density", repr(138 / 294), "ok"]
    jsonl = [json.loads(line) for line in _run(*base, "--format", "jsonl").stdout.splitlines()]
    assert [r["layer"] for r in jsonl] == ["0", "3", None]


def test_include_exclude_and_options(files):
    base = ["--model", files["model"], "--masks", files["masks"], "--metrics", "density", "--format", "json"]
    doc = json.loads(_run(*base, "--exclude", "3").stdout)
    assert [r["layer"] for r in doc["rows"]] == ["0", None]
    doc = json.loads(_run(*base, "--include", "re:[0-9]", "--option", "aggregate=none").stdout)
    assert [r["scope"] for r in doc["rows"]] == ["layer", "layer"]
    assert doc["options"]["aggregate"] == "none"


def test_usage_errors_exit_2(files):
    base = ["--model", files["model"], "--masks", files["masks"]]
    unknown = _run(*base, "--metrics", "densty")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == ("Error: unknown metric 'densty'; did you mean 'density'? Run 'sparsegraph "
                                      "metrics' for the full list.")
    bad_option = _run(*base, "--metrics", "density", "--option", "solver")
    assert bad_option.exit_code == 2 and "'solver' is not KEY=VALUE" in bad_option.stderr


def test_bad_mask_file_exits_3(files, tmp_path):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a mask file")
    result = _run("--model", files["model"], "--masks", str(broken), "--metrics", "density")
    assert result.exit_code == 3
    assert str(broken) in result.stderr


def test_option_values_are_parsed():
    from sparsegraph_cli.measure import parse_options

    assert parse_options(("a=1", "b=0.5", "c=true", "d=null", "e=none", "f=dense", "g=")) == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": "none", "f": "dense", "g": ""}


def test_write_effective_masks(files, tmp_path):
    from sparsegraph.masks import MaskSet

    out = tmp_path / "effective.safetensors"
    result = _run("--model", files["model"], "--masks", files["masks"], "--metrics", "paths.effective_weights",
                  "--input-shape", "2,4,4", "--format", "json", "--write-effective-masks", str(out))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    effective = MaskSet.load(out)
    kept = MaskSet.load(files["masks"])
    assert list(effective) == ["0.weight", "3.weight"]
    assert effective.num_kept == next(r["value"] for r in doc["rows"] if r["layer"] is None)
    assert all(not bool((effective[n] & ~kept[n]).any()) for n in effective)


@pytest.fixture
def failing_metric():
    """``testfail.value``: fails on the conv layer with one reason, is 1.0 on the linear layer."""
    from sparsegraph.errors import MetricError
    from sparsegraph.metrics import register_metric
    from sparsegraph.metrics.registry import METRICS

    def value(graph):
        if graph.name == "0":
            raise MetricError("conv layers are not supported by testfail")
        return 1.0

    with METRICS.sandbox():
        register_metric(value, name="testfail.value", scope="layer", encoding="rolled", aggregate="valid_mean",
                        description="fails on conv layers")
        yield


def test_failures_are_reported_once_on_stderr_and_strict_exits_nonzero(files, failing_metric):
    base = ["--model", files["model"], "--masks", files["masks"], "--metrics", "density,testfail.value"]
    table = _run(*base)
    assert table.exit_code == 0, table.output
    assert [line.split() for line in table.stdout.splitlines()[2:]] == [
        ["0", "0.333333", "ERROR"], ["3", "0.5", "1"], ["(network)", "0.469388", "ERROR"]]
    errors = [line for line in table.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: testfail.value on 0: conv layers are not supported by testfail",
                      "error: testfail.value on (network): 1 of 2 layers failed"]
    csv_run = _run(*base, "--format", "csv")
    assert csv_run.exit_code == 0 and csv_run.stderr.count("conv layers are not supported") == 1
    strict = _run(*base, "--format", "csv", "--strict")
    assert strict.exit_code == 1
    assert strict.stdout == csv_run.stdout  # the output is written before the non-zero exit
    assert strict.stderr.splitlines()[-1] == ("Error: 2 metric value(s) failed (2 distinct reason(s) above); "
                                              "the output was written")
    clean = _run("--model", files["model"], "--masks", files["masks"], "--metrics", "density", "--strict")
    assert clean.exit_code == 0 and "error:" not in clean.stderr


def test_long_layout_has_one_row_per_value(files):
    base = ["--model", files["model"], "--masks", files["masks"], "--metrics", "density", "--layout", "long"]
    lines = _run(*base).stdout.splitlines()
    assert lines[0].split() == ["metric", "layer", "value"]
    assert [line.split() for line in lines[2:]] == [["density", "0", "0.333333"], ["density", "3", "0.5"],
                                                    ["density", "(network)", "0.469388"]]
