"""The conformance checker: every registered metric passes it, and it catches broken metrics."""

import pytest

from sparsegraph.errors import MetricError
from sparsegraph.metrics import MetricResult, list_metrics, register_metric
from sparsegraph.metrics.conformance import ConformanceError, check_metric


@pytest.mark.parametrize("name", [info.name for info in list_metrics()])
def test_every_registered_metric_conforms(name):
    passed = check_metric(name)
    assert any(p.startswith("deterministic.") for p in passed) and "metadata.source" in passed


def _register(func, name="testconf.metric", **kw):
    meta = {"scope": "layer", "encoding": "rolled", "units": "count", "description": "test",
            "source": "test suite"}
    meta.update(kw)
    register_metric(func, name=name, **meta)
    return name


def test_a_conforming_plugin_metric_passes(scratch_registry):
    name = _register(lambda g: float(g.num_edges))
    passed = check_metric(name)
    assert {"metadata.source", "returns.empty", "deterministic.conv", "no_mutation.dense", "wrong_target",
            "unknown_option", "nonfinite_weights"} <= set(passed)


def test_missing_source_and_units_are_reported(scratch_registry):
    name = _register(lambda g: 1.0, source="", units="")
    with pytest.raises(ConformanceError) as err:
        check_metric(name)
    assert "metadata.source: cite the paper and repository in source=" in str(err.value)
    assert "metadata.units: give the units" in str(err.value)


def test_nondeterministic_metric_is_caught(scratch_registry):
    counter = iter(range(1000))
    name = _register(lambda g: float(next(counter)))
    with pytest.raises(ConformanceError, match=r"deterministic.linear: two calls gave ok\(0.0\) and ok\(1.0\)"):
        check_metric(name)


def test_mutating_metric_is_caught(scratch_registry):
    def scales(graph):
        graph.arrays.weight *= 2
        return 1.0

    name = _register(scales)
    with pytest.raises(ConformanceError, match="no_mutation.linear: the target was modified"):
        check_metric(name)


def test_metric_crashing_on_an_empty_layer_is_caught(scratch_registry):
    name = _register(lambda g: float(g.arrays.weight.max()))  # max of an empty array raises ValueError
    with pytest.raises(ConformanceError, match="returns.empty: raised ValueError"):
        check_metric(name)


def test_nan_on_non_finite_weights_is_caught(scratch_registry):
    import numpy as np

    def mean_weight(graph):
        if graph.num_edges == 0:
            return None
        return MetricResult(float(np.mean(graph.arrays.weight)))

    name = _register(mean_weight)
    with pytest.raises(ConformanceError, match="nonfinite_weights: expected a result or MetricError, got "
                                               "ValueError"):
        check_metric(name)


def test_requires_weights_metric_is_checked_on_a_mask_only_graph(scratch_registry):
    name = _register(lambda g: float(g.arrays.weight.sum()), requires_weights=True)
    assert "requires_weights.mask_only" in check_metric(name)


def test_preparer_that_disagrees_is_caught(scratch_registry):
    from sparsegraph.metrics import register_preparer
    from sparsegraph.metrics.cache import current_cache

    def prepare(graphs, cache):
        for g in graphs:
            cache[("testconf", cache.graph_key(g))] = -1.0

    def edges(graph):
        cache = current_cache()
        if cache is not None and ("testconf", cache.graph_key(graph)) in cache:
            return cache[("testconf", cache.graph_key(graph))]
        return float(graph.num_edges)

    register_preparer("testconf", prepare)
    name = _register(edges)
    with pytest.raises(ConformanceError, match="preparer_agrees: values with the batch preparer differ"):
        check_metric(name)


def test_network_metric_gets_model_targets(scratch_registry):
    seen = []

    def kept(target, input_shape):
        model, masks = target
        seen.append(input_shape)
        if sum(int(m.sum()) for m in masks.values()) == 0:
            raise MetricError("no kept weight")
        return float(sum(int(m.sum()) for m in masks.values()))

    name = _register(kept, scope="network", encoding="model", options={"input_shape": None})
    passed = check_metric(name)
    assert {"returns.convnet", "returns.convnet_empty_layer", "no_mutation.convnet"} <= set(passed)
    assert set(seen) == {(2, 4, 4)}
