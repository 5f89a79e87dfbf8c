"""Registration rules, list order, name resolution and the exact error messages of metrics.md §1."""

import math

import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import MetricError, MetricRegistrationError, UnknownMetricError
from sparsegraph.metrics import MetricResult, compute, compute_detailed, list_metrics, register_metric
from sparsegraph.metrics.registry import BUILTIN_ORDER, resolve


def _register(name, func=None, **kw):
    meta = {"scope": "layer", "encoding": "rolled", "description": f"test metric {name}"}
    meta.update(kw)
    return register_metric(func or (lambda g, **o: 1.0), name=name, **meta)


def _layer():
    return sg.bipartite(torch.tensor([[True, False, True], [False, True, True]]), weight=torch.ones(2, 3))


def test_decorator_and_call_register_the_same_way(empty_registry):
    @register_metric(name="mine.edges", scope="layer", encoding="rolled", units="count", description="edges")
    def edges(graph):
        return float(graph.num_edges)

    assert edges(_layer()) == 4.0  # the decorator returns the function itself
    register_metric(lambda g: 2.0, name="mine.two", scope="layer", encoding="rolled", description="two")
    assert [i.name for i in list_metrics()] == ["mine.edges", "mine.two"]
    assert compute("mine.edges", _layer()) == 4.0
    assert compute("mine.two", _layer()) == 2.0
    info = list_metrics("mine.edges")[0]
    assert (info.family, info.scope, info.units, info.aggregate, info.version) == ("mine", "layer", "count",
                                                                                    "valid_mean", 1)


@pytest.mark.parametrize("name", ["Foo", "foo", "foo.Bar", "1a.b", "a.b.c", "a-b.c", "a.", ".b", "a.2b"])
def test_invalid_names_are_refused_with_the_spec_message(empty_registry, name):
    with pytest.raises(MetricRegistrationError) as err:
        _register(name)
    assert str(err.value) == (f"invalid metric name {name!r}: expected 'family.name' in lowercase letters, "
                              "digits and underscores")


@pytest.mark.parametrize("name", ["ramanujan.mine", "spectral.x", "paths.y", "topo.z", "density.w", "density"])
def test_plugins_may_not_use_builtin_families(empty_registry, name):
    with pytest.raises(MetricRegistrationError, match="built-in family"):
        _register(name)


def test_builtin_modules_may_use_builtin_families(empty_registry, as_builtin):
    _register("ramanujan.mine", as_builtin(lambda g: 1.0))
    assert [i.name for i in list_metrics()] == ["ramanujan.mine"]


def test_duplicate_names_the_registering_module_and_override_replaces(empty_registry):
    _register("mine.x", lambda g: 1.0)
    with pytest.raises(MetricRegistrationError) as err:
        _register("mine.x", lambda g: 2.0)
    assert str(err.value) == (f"metric 'mine.x' is already registered by {__name__}; pass override=True to "
                              "replace it")
    _register("mine.x", lambda g: 3.0, override=True)
    assert compute("mine.x", _layer()) == 3.0


@pytest.mark.parametrize("kw, problem", [
    ({"scope": "model"}, "scope must be one of layer, network, graph"),
    ({"encoding": "unrolled"}, "encoding must be one of rolled, model, mge"),
    ({"aggregate": "median"}, "aggregate must be one of"),
    ({"conventions": ("a", "b"), "aggregate": {"a": "zero_mean"}}, "aggregate mapping must give"),
    ({"options": {"convention": 1}}, "must not contain 'convention'"),
    ({"description": ""}, "description must be one non-empty line"),
    ({"description": "two\nlines"}, "description must be one non-empty line"),
    ({"higher_is_better": "yes"}, "higher_is_better must be True, False or None"),
    ({"version": 0}, "version must be a positive int"),
])
def test_invalid_metadata_is_refused(empty_registry, kw, problem):
    with pytest.raises(MetricRegistrationError, match=problem):
        _register("mine.x", **kw)


def test_list_order_builtins_in_spec_order_then_plugins_by_name(empty_registry, as_builtin):
    for name in ["ramanujan.delta_r", "zzz.last", "spectral.mu_hat", "aaa.first", "density", "spectral.mu0",
                 "spectral.unlisted"]:
        _register(name, as_builtin(lambda g: 1.0) if name.split(".")[0] in ("density", "ramanujan", "spectral")
                  else (lambda g: 1.0))
    assert [i.name for i in list_metrics()] == ["density", "spectral.mu0", "spectral.mu_hat", "ramanujan.delta_r",
                                                "spectral.unlisted", "aaa.first", "zzz.last"]
    assert [i.name for i in list_metrics("spectral.*")] == ["spectral.mu0", "spectral.mu_hat", "spectral.unlisted"]
    assert list_metrics("nothing.*") == []


def test_builtin_order_covers_the_spec_tables():
    assert len(BUILTIN_ORDER) == len(set(BUILTIN_ORDER)) == 1 + 12 + 4 + 16
    assert BUILTIN_ORDER[0] == "density"
    real = [i.name for i in list_metrics()]
    builtins = [n for n in real if n in BUILTIN_ORDER]
    assert builtins == [n for n in BUILTIN_ORDER if n in builtins]  # the real registry follows the spec order


def test_family_expands_in_list_order_without_repeats(empty_registry, as_builtin):
    for name in ["ramanujan.imdb", "ramanujan.delta_r", "density"]:
        _register(name, as_builtin(lambda g: 1.0))
    assert [i.name for i in resolve("ramanujan")] == ["ramanujan.delta_r", "ramanujan.imdb"]
    assert [i.name for i in resolve(["ramanujan.imdb", "ramanujan", "density"])] == [
        "ramanujan.imdb", "ramanujan.delta_r", "density"]
    assert [i.name for i in resolve("density, ramanujan.imdb")] == ["density", "ramanujan.imdb"]


def test_unknown_metric_suggests_close_names(empty_registry, as_builtin):
    for name in ["ramanujan.imdb", "ramanujan.imdb_norm", "density"]:
        _register(name, as_builtin(lambda g: 1.0))
    with pytest.raises(UnknownMetricError) as err:
        resolve("ramanujan.imbd")
    # difflib over metric and family names (n=3, cutoff=0.6): the family itself is close too
    assert str(err.value) == ("unknown metric 'ramanujan.imbd'; did you mean 'ramanujan.imdb', "
                              "'ramanujan.imdb_norm', 'ramanujan'? Run 'sparsegraph metrics' for the full list.")
    with pytest.raises(UnknownMetricError) as err:
        resolve("densty")
    assert str(err.value) == ("unknown metric 'densty'; did you mean 'density'? "
                              "Run 'sparsegraph metrics' for the full list.")
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_unknown_metric_without_close_names_lists_the_families(empty_registry, as_builtin):
    for name in ["ramanujan.imdb", "density", "spectral.mu0"]:
        _register(name, as_builtin(lambda g: 1.0))
    with pytest.raises(UnknownMetricError) as err:
        compute("xyz", _layer())
    assert str(err.value) == ("unknown metric 'xyz'; known families: density, spectral, ramanujan. "
                              "Run 'sparsegraph metrics' for the full list.")


def test_a_family_name_is_not_a_metric_for_compute(empty_registry, as_builtin):
    _register("ramanujan.imdb", as_builtin(lambda g: 1.0))
    with pytest.raises(UnknownMetricError) as err:
        compute("ramanujan", _layer())
    assert str(err.value) == "'ramanujan' is a metric family, not a metric; expected one of: ramanujan.imdb"


def test_bad_convention_and_option_raise_value_error(empty_registry, as_builtin):
    _register("ramanujan.delta_r", as_builtin(lambda g, convention, solver: 1.0),
              conventions=("neurips2023", "iclr2023"), options={"solver": "auto"})
    with pytest.raises(ValueError) as err:
        compute("ramanujan.delta_r", _layer(), convention="iclr")
    assert str(err.value) == ("convention 'iclr' is not valid for ramanujan.delta_r; expected one of: "
                              "neurips2023, iclr2023")
    with pytest.raises(ValueError) as err:
        compute("ramanujan.delta_r", _layer(), slover="dense")
    assert str(err.value) == ("option 'slover' is not valid for ramanujan.delta_r; expected one of: "
                              "solver, convention")
    _register("mine.plain", lambda g: 1.0)
    with pytest.raises(ValueError, match="it takes no convention"):
        compute("mine.plain", _layer(), convention="x")
    with pytest.raises(ValueError, match="it takes no options"):
        compute("mine.plain", _layer(), k=1)


def test_options_and_default_convention_reach_the_function(empty_registry):
    seen = []
    _register("mine.opts", lambda g, convention, k: seen.append((convention, k)) or 1.0,
              conventions=("first", "second"), options={"k": 3})
    compute("mine.opts", _layer())
    compute("mine.opts", _layer(), convention="second", k=5)
    assert seen == [("first", 3), ("second", 5)]


def test_wrong_target_raises_type_error(empty_registry, as_builtin):
    _register("paths.log10_paths", as_builtin(lambda t: 1.0), scope="network", encoding="model")
    with pytest.raises(TypeError) as err:
        compute("paths.log10_paths", _layer())
    assert str(err.value) == "metric paths.log10_paths needs a (model, masks) target, got BipartiteGraph"
    _register("mine.layer", lambda g: 1.0)
    with pytest.raises(TypeError, match="needs a BipartiteGraph target, got tuple"):
        compute("mine.layer", (nn.Linear(2, 2), {}))
    _register("mine.graph", lambda g: 1.0, scope="graph", encoding="mge")
    with pytest.raises(TypeError, match="needs a MultipartiteGraph or BipartiteGraph target, got dict"):
        compute("mine.graph", {})
    assert compute("mine.graph", _layer()) == 1.0  # a bipartite graph is accepted layer-wise
    assert compute("paths.log10_paths", (nn.Linear(2, 2), None)) == 1.0


def test_rolled_metrics_refuse_other_encodings(empty_registry):
    _register("mine.layer", lambda g: 1.0)
    graph = _layer()
    graph.attrs["encoding"] = "unrolled"
    with pytest.raises(TypeError, match="needs a rolled or rolled-channel graph, got encoding 'unrolled'"):
        compute("mine.layer", graph)
    graph.attrs["encoding"] = "rolled-channel"
    assert compute("mine.layer", graph) == 1.0


def test_requires_weights_on_a_mask_only_graph(empty_registry):
    _register("mine.weighted", lambda g: float(g.arrays.weight.sum()), requires_weights=True)
    with pytest.raises(MetricError) as err:
        compute("mine.weighted", sg.bipartite(torch.eye(3, dtype=torch.bool)))
    assert str(err.value) == "metric mine.weighted requires weights; the graph was built from a mask only"
    assert compute("mine.weighted", sg.bipartite(torch.eye(3, dtype=torch.bool), weight=2 * torch.ones(3, 3))) == 6.0


@pytest.mark.parametrize("returned, value, status", [
    (0.5, 0.5, "ok"), (3, 3.0, "ok"), (None, None, "undefined"),
    (MetricResult(None, "undefined", "threshold: mean fan-in 2.40 < 3"), None, "undefined"),
    (MetricResult(2.0, extras={"k": 1}), 2.0, "ok"),
])
def test_returned_values_become_results(empty_registry, returned, value, status):
    _register("mine.x", lambda g: returned)
    result = compute_detailed("mine.x", _layer())
    assert (result.value, result.status) == (value, status)
    assert compute("mine.x", _layer()) == value


@pytest.mark.parametrize("returned, message", [
    (math.nan, "returned a non-finite value (nan)"),
    (math.inf, "returned a non-finite value (inf)"),
    ("1.0", "returned str; expected a float, None or MetricResult"),
    (True, "returned bool; expected a float, None or MetricResult"),
    (MetricResult(None, "error", "solver diverged"), "solver diverged"),
])
def test_bad_returns_become_metric_errors(empty_registry, returned, message):
    _register("mine.x", lambda g: returned)
    with pytest.raises(MetricError) as err:
        compute("mine.x", _layer())
    assert message in str(err.value)


def test_metric_errors_propagate_from_compute(empty_registry):
    def fails(graph):
        raise MetricError(f"non-finite weights in layer {graph.name}")

    _register("mine.fails", fails)
    with pytest.raises(MetricError, match="non-finite weights in layer layer"):
        compute("mine.fails", _layer())


def test_real_registry_contains_density_first():
    infos = list_metrics()
    assert infos[0].name == "density" and infos[0].family == "density"
    assert infos[0].aggregate == "ratio"


def test_non_finite_weights_fail_metrics_that_require_weights(empty_registry):
    _register("mine.weighted", lambda g: float(g.arrays.weight.sum()), requires_weights=True)
    weight = torch.ones(3, 3)
    weight[1, 1] = float("nan")
    graph = sg.bipartite(torch.eye(3, dtype=torch.bool), weight=weight, name="fc")
    with pytest.raises(MetricError) as err:
        compute("mine.weighted", graph)
    assert str(err.value) == "non-finite weights in layer fc"


def test_preparers_of_builtin_families_are_reserved_and_duplicates_refused(empty_registry):
    from sparsegraph.metrics import register_preparer

    with pytest.raises(MetricRegistrationError, match="preparer of the built-in family 'spectral'"):
        register_preparer("spectral", lambda graphs, cache: None)

    def first(graphs, cache):
        return None

    register_preparer("mine", first)
    register_preparer("mine", first)  # the same function again is harmless
    with pytest.raises(MetricRegistrationError, match="family 'mine' already has a preparer"):
        register_preparer("mine", lambda graphs, cache: None)
    register_preparer("mine", lambda graphs, cache: None, override=True)


def test_options_come_from_the_signature_and_a_declaration_must_agree(empty_registry, as_builtin):
    @as_builtin
    def scaled(graph, *, scale=2.0, offset=0):
        return float(graph.num_edges) * scale + offset

    empty_registry.register_metric(scaled, name="mine.scaled", scope="layer", encoding="rolled",
                                   description="edges times scale")
    assert dict(empty_registry.get_info("mine.scaled").options) == {"scale": 2.0, "offset": 0}
    with pytest.raises(MetricRegistrationError, match=r"option scale=3.0 does not match the function's signature"):
        empty_registry.register_metric(scaled, name="mine.other", scope="layer", encoding="rolled",
                                       description="x", options={"scale": 3.0, "offset": 0})
