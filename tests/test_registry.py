"""The generic Registry: metadata, duplicates, "did you mean", lazy entries, aliases, isolated plugins."""

import importlib.metadata
import warnings

import pytest

from sparsegraph.errors import DatasetError, RegistrationError, UsageError
from sparsegraph.registry import Registry, did_you_mean, import_object


def test_register_with_metadata_and_refuse_duplicates():
    reg = Registry("colour")
    assert reg.register("red", 1, warm=True) == 1
    assert reg.get("red") == 1 and reg.info("red") == {"warm": True} and "red" in reg and len(reg) == 1
    with pytest.raises(RegistrationError, match="a colour named 'red' is already registered"):
        reg.register("red", 2)
    reg.register("red", 2, override=True)
    assert reg.get("red") == 2
    with pytest.raises(RegistrationError):
        reg.register("", 3)


def test_unknown_names_get_close_matches_and_the_listing():
    reg = Registry("method", listing=lambda: "choose one of: " + ", ".join(sorted(reg.names())))
    for name in ("snip", "synflow", "random"):
        reg.register(name, name)
    with pytest.raises(UsageError) as err:
        reg.get("snp")
    assert str(err.value) == "unknown method 'snp'; did you mean 'snip'? choose one of: random, snip, synflow"
    assert did_you_mean("zzz", ["snip"]) == ""


def test_lazy_entries_are_imported_on_first_use():
    reg = Registry("function")
    reg.register_lazy("join", "os.path:join", kind="path")
    assert reg.info("join") == {"kind": "path"}
    import os.path

    assert reg.get("join") is os.path.join
    assert import_object("os.path") is os.path


def test_keys_and_aliases_resolve_any_spelling():
    reg = Registry("dataset", key=lambda n: n.lower().replace("-", ""), error=DatasetError, lower=True)
    reg.register("cifar10", "C10", aliases=("CIFAR-10",))
    reg.register("fashion-mnist", "FM", aliases=("fmnist",))
    assert reg.get("Cifar-10") == "C10" and reg.get("FMNIST") == "FM"
    assert reg.canonical("fmnist") == "fashion-mnist" and reg.names() == ["cifar10", "fashion-mnist"]
    with pytest.raises(RegistrationError, match="already taken"):
        reg.register("other", "x", aliases=("fmnist",))
    with pytest.raises(DatasetError, match="did you mean 'fmnist'"):
        reg.get("fmnst")


class _EntryPoint:
    def __init__(self, name, value, load):
        self.name, self.value, self._load, self.dist = name, value, load, None

    def load(self):
        return self._load()


def test_plugins_are_isolated_and_broken_ones_listed(monkeypatch):
    reg = Registry("widget", entry_point_group="test.widgets")

    def good():
        return lambda registry: registry.register("good", 1)

    def broken():
        reg.register("half", 2)  # registered before the failure: rolled back
        raise ImportError("no module named 'missing'")

    points = [_EntryPoint("good", "pkg:good", good), _EntryPoint("broken", "pkg.broken", broken)]
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: points if group == "test.widgets" else [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reg.names() == ["good"]
    assert [str(w.message) for w in caught] == [
        "skipped widget plugin 'broken' of distribution 'unknown distribution': ImportError: no module named 'missing'"]
    assert reg.broken_plugins() == ["unknown distribution: broken = pkg.broken (ImportError: no module named 'missing')"]
    assert reg.plugin_names() == ["good"] and reg.is_plugin("good")
    assert reg.loaded_plugins() == ["unknown distribution: good = pkg:good (1 widget: good)"]
    reg.reset_plugins()
    assert reg.peek("good") is None
    with pytest.warns(RuntimeWarning, match="skipped widget plugin 'broken'"):
        assert reg.names() == ["good"]  # discovered again at the next access


def test_sandbox_restores_the_registry():
    reg = Registry("thing")
    reg.register("a", 1)
    with reg.sandbox():
        reg.register("b", 2)
        assert reg.names() == ["a", "b"]
    with reg.sandbox(empty=True):
        assert reg.names() == []
    assert reg.names() == ["a"]
