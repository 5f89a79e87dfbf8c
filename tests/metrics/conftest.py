"""Registry isolation for the metric tests: every test that registers metrics gets its own registry."""

import pytest

from sparsegraph.metrics import plugins, registry

FAKE_BUILTIN_MODULE = "sparsegraph.metrics._test_builtin"


@pytest.fixture
def empty_registry(monkeypatch):
    """An empty registry with plugin discovery switched off; restored after the test."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_PREPARERS", {})
    monkeypatch.setitem(plugins._state, "discovered", True)
    return registry


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the real registry (built-ins and plugins) that the test may add to."""
    registry.list_metrics()  # discover plugins before copying
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_PREPARERS", dict(registry._PREPARERS))
    return registry


@pytest.fixture
def as_builtin():
    """A decorator making a function look defined inside sparsegraph (built-in families are reserved)."""
    def mark(func):
        func.__module__ = FAKE_BUILTIN_MODULE
        return func

    return mark
