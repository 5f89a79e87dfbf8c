"""Entry-point discovery with small plugin distributions installed into tmp_path during the test."""

import importlib
import importlib.metadata
import json
import sys
import textwrap
import warnings

import pytest
import torch

import sparsegraph as sg
from sparsegraph.metrics import compute, failed_plugins, list_metrics, plugins

GOOD_MODULE = """
from sparsegraph.metrics import register_metric

@register_metric(name="sgplug.edges", scope="layer", encoding="rolled", units="count",
                 description="number of kept weights", source="test plugin")
def edges(graph):
    return float(graph.num_edges)
"""

CALLABLE_MODULE = """
CALLS = []

def register(registry):
    CALLS.append(1)
    registry.register_metric(lambda graph: 7.0, name="sgcall.seven", scope="layer", encoding="rolled",
                             units="count", description="always seven", source="test plugin")
"""

BROKEN_MODULE = """
from sparsegraph.metrics import register_metric

register_metric(lambda graph: 1.0, name="sgbroken.partial", scope="layer", encoding="rolled",
                description="registered before the failure")
raise ImportError("missing dependency 'nonexistent_lib'")
"""

RESERVED_MODULE = """
from sparsegraph.metrics import register_metric

register_metric(lambda graph: 1.0, name="ramanujan.fake", scope="layer", encoding="rolled",
                description="tries a built-in family")
"""

PLUGINS = {
    # distribution -> (module files, entry_points.txt body)
    "sgplug-good": ({"sgplug_good": GOOD_MODULE, "sgplug_call": CALLABLE_MODULE},
                    "good = sgplug_good\ncallable = sgplug_call:register\n"),
    "sgplug-broken": ({"sgplug_broken": BROKEN_MODULE}, "broken = sgplug_broken\n"),
    "sgplug-reserved": ({"sgplug_reserved": RESERVED_MODULE}, "reserved = sgplug_reserved\n"),
}


def _install(root, dist, modules, entry_points):
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sparsegraph.metrics]\n" + entry_points)


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The three plugin distributions importable from tmp_path; discovery reset before and after."""
    for dist, (modules, entry_points) in PLUGINS.items():
        _install(tmp_path, dist, modules, entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    plugins.reset()
    yield tmp_path
    plugins.reset()
    for module in ("sgplug_good", "sgplug_call", "sgplug_broken", "sgplug_reserved"):
        sys.modules.pop(module, None)


def _discover():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = [i.name for i in list_metrics()]
    return names, [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]


def test_plugins_are_discovered_after_the_builtins(installed):
    names, _ = _discover()
    assert names[0] == "density"
    assert names[-2:] == ["sgcall.seven", "sgplug.edges"]  # plugins sorted by name, after the built-ins
    graph = sg.bipartite(torch.eye(3, dtype=torch.bool))
    assert compute("sgplug.edges", graph) == 3.0
    assert compute("sgcall.seven", graph) == 7.0


def test_failing_plugins_are_skipped_with_one_warning_each_and_listed(installed):
    names, messages = _discover()
    assert sorted(messages) == [
        "skipped metric plugin 'broken' of distribution 'sgplug-broken': ImportError: missing dependency "
        "'nonexistent_lib'",
        "skipped metric plugin 'reserved' of distribution 'sgplug-reserved': MetricRegistrationError: metric "
        "'ramanujan.fake' uses the built-in family 'ramanujan'; plugins must use a family of their own",
    ]
    assert "sgbroken.partial" not in names  # what a failing plugin registered is rolled back
    assert "ramanujan.fake" not in names
    assert sorted(failed_plugins()) == [
        "sgplug-broken: broken = sgplug_broken (ImportError: missing dependency 'nonexistent_lib')",
        "sgplug-reserved: reserved = sgplug_reserved (MetricRegistrationError: metric 'ramanujan.fake' uses the "
        "built-in family 'ramanujan'; plugins must use a family of their own)",
    ]


def test_discovery_is_lazy_and_happens_once(installed):
    assert "sgplug_call" not in sys.modules  # nothing loaded before the first registry access
    _discover()
    names, messages = _discover()  # second access: no reload, no new warnings
    assert messages == []
    assert sys.modules["sgplug_call"].CALLS == [1]
    assert names.count("sgplug.edges") == 1


def test_reset_forgets_plugin_metrics(installed, monkeypatch):
    _discover()
    plugins.reset()
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [])
    names, _ = _discover()
    assert "sgplug.edges" not in names and failed_plugins() == []


def test_env_lists_loaded_plugins_with_their_metrics_and_broken_ones(installed):
    from click.testing import CliRunner

    from sparsegraph_cli.main import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = CliRunner().invoke(main, ["env"])
    assert result.exit_code == 0, result.output
    loaded = [line for line in result.output.splitlines() if line.startswith("metric plugin")]
    assert sorted(loaded) == [
        "metric plugin     sgplug-good: callable = sgplug_call:register (1 metric: sgcall.seven)",
        "metric plugin     sgplug-good: good = sgplug_good (1 metric: sgplug.edges)",
    ]
    assert sum(line.startswith("failed plugin") for line in result.output.splitlines()) == 2
    info = json.loads(CliRunner().invoke(main, ["env", "--format", "json"]).output)
    assert len(info["plugins"]) == 2 and len(info["failed_plugins"]) == 2
