"""The per-measure cache: explicit keys, stable graph keys, scoped to a with-block."""

import torch

import sparsegraph as sg
from sparsegraph.metrics.cache import MetricCache, current_cache, metric_cache


def test_cache_is_current_only_inside_the_block():
    assert current_cache() is None
    with metric_cache() as cache:
        assert current_cache() is cache
        inner = MetricCache()
        with metric_cache(inner):
            assert current_cache() is inner
        assert current_cache() is cache
    assert current_cache() is None


def test_get_or_compute_computes_once():
    cache = MetricCache()
    calls = []
    assert cache.get_or_compute(("k", 1), lambda: calls.append(1) or 42) == 42
    assert cache.get_or_compute(("k", 1), lambda: calls.append(1) or 43) == 42
    assert calls == [1] and ("k", 1) in cache and len(cache) == 1 and cache.get("missing") is None


def test_graph_keys_are_stable_and_distinct_while_the_cache_lives():
    cache = MetricCache()
    keys = [cache.graph_key(sg.bipartite(torch.eye(2, dtype=torch.bool))) for _ in range(5)]
    assert len(set(keys)) == 5  # the cache holds the graphs, so ids are never reused
    graph = sg.bipartite(torch.eye(3, dtype=torch.bool))
    assert cache.graph_key(graph) == cache.graph_key(graph)
