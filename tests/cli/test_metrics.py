"""``sparsegraph metrics``: the registry listing, plugins and failed plugins included."""

import json

from click.testing import CliRunner

from sparsegraph.metrics import list_metrics
from sparsegraph.metrics.registry import METRICS
from sparsegraph_cli.main import main


def test_table_lists_every_metric_in_registry_order():
    result = CliRunner().invoke(main, ["metrics"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["name", "scope", "encoding", "weights", "higher_is_better", "description"]
    body = [line for line in lines[2:] if line.strip()]
    assert [line.split()[0] for line in body] == [i.name for i in list_metrics()]
    density = next(line for line in body if line.startswith("density "))
    assert density.split()[1:5] == ["layer", "rolled", "no", "-"]


def test_json_has_full_metadata_and_failed_plugins():
    result = CliRunner().invoke(main, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [m["name"] for m in doc["metrics"]] == [i.name for i in list_metrics()]
    density = doc["metrics"][0]
    assert density == {"name": "density", "family": "density", "scope": "layer", "encoding": "rolled",
                       "requires_weights": False, "higher_is_better": None, "units": "fraction",
                       "conventions": [], "options": {}, "aggregate": "ratio",
                       "description": "kept fraction nnz(M)/numel(M) of the layer's weight tensor",
                       "source": "sparsegraph (metrics.md §3)", "version": 1}
    assert doc["failed_plugins"] == []


def test_pattern_and_csv():
    result = CliRunner().invoke(main, ["metrics", "dens*", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "name,scope,encoding,weights,higher_is_better,description",
        "density,layer,rolled,no,-,kept fraction nnz(M)/numel(M) of the layer's weight tensor",
    ]


def test_failed_plugins_are_listed(monkeypatch):
    list_metrics()  # discovery done
    monkeypatch.setattr(METRICS, "broken_plugins", lambda: ["brokendist: broken = broken_mod (ImportError: no module 'x')"])
    result = CliRunner().invoke(main, ["metrics"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("failed plugins:\n  brokendist: broken = broken_mod (ImportError: no module 'x')\n")
    doc = json.loads(CliRunner().invoke(main, ["metrics", "--format", "json"]).output)
    assert doc["failed_plugins"] == ["brokendist: broken = broken_mod (ImportError: no module 'x')"]
