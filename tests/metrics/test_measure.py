"""sg.measure: layer selection, rows, aggregation rules, convention routing, preparers, output formats."""

import csv
import io
import json
import types

import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import MetricError, UnknownMetricError
from sparsegraph.metrics import MetricResult, measure, register_metric, register_preparer
from sparsegraph.metrics.cache import current_cache


def _net():
    """conv(2->3, 3x3) -> conv(3->4, 1x1) -> flatten -> linear(4*4*4 -> 5), with fixed masks."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 4, 1), nn.Flatten(),
                          nn.Linear(64, 5))
    masks = {
        "0.weight": torch.arange(54).reshape(3, 2, 3, 3) % 2 == 0,   # 27 of 54
        "2.weight": torch.ones(4, 3, 1, 1, dtype=torch.bool),         # 12 of 12
        "4.weight": torch.arange(320).reshape(5, 64) % 4 == 0,        # 80 of 320
    }
    return model, masks


LAYER_VALUES = {"0": 1.0, "2": None, "4": 4.0}


def _layer_metric(name, values=LAYER_VALUES, **kw):
    meta = {"scope": "layer", "encoding": "rolled", "description": "test values"}
    meta.update(kw)
    register_metric(lambda graph, **options: values[graph.name], name=name, **meta)


def test_layer_rows_in_registration_order_and_network_rows(scratch_registry):
    model, masks = _net()
    result = measure(model, masks, ["density"])
    assert result.layers == ["0", "2", "4"]
    assert result.rows == [
        {"scope": "layer", "layer": "0", "metric": "density", "value": 0.5, "status": "ok"},
        {"scope": "layer", "layer": "2", "metric": "density", "value": 1.0, "status": "ok"},
        {"scope": "layer", "layer": "4", "metric": "density", "value": 0.25, "status": "ok"},
        {"scope": "network", "layer": None, "metric": "density", "value": 119 / 386, "status": "ok",
         "n_layers": 3, "n_defined": 3},
    ]
    assert result.notes == ["layer order: module registration order (no input_shape given to trace the model)"]


@pytest.mark.parametrize("rule, value, status", [
    ("zero_mean", 5.0 / 3, "ok"),     # undefined counted as 0 over all 3 layers
    ("valid_mean", 2.5, "ok"),        # mean over the 2 defined layers
    ("mean", None, "undefined"),      # one layer undefined
])
def test_aggregation_rules_on_known_layer_values(scratch_registry, rule, value, status):
    _layer_metric("testagg.value", aggregate=rule)
    model, masks = _net()
    result = measure(model, masks, "testagg.value")
    network = result.rows[-1]
    assert (network["value"], network["status"]) == (value, status)
    assert (network["n_layers"], network["n_defined"]) == (3, 2)
    assert [r["status"] for r in result.rows[:3]] == ["ok", "undefined", "ok"]


def test_aggregate_follows_the_convention_and_can_be_forced(scratch_registry):
    _layer_metric("testagg.conv", conventions=("zeroish", "validish"),
                  aggregate={"zeroish": "zero_mean", "validish": "valid_mean"})
    model, masks = _net()
    assert measure(model, masks, "testagg.conv").value("testagg.conv") == 5.0 / 3
    assert measure(model, masks, "testagg.conv", convention="validish").value("testagg.conv") == 2.5
    assert measure(model, masks, "testagg.conv", aggregate="valid_mean").value("testagg.conv") == 2.5
    forced_none = measure(model, masks, "testagg.conv", aggregate="none")
    assert [r["scope"] for r in forced_none.rows] == ["layer"] * 3
    with pytest.raises(ValueError, match="aggregate 'median' is not valid"):
        measure(model, masks, "testagg.conv", aggregate="median")


def test_all_undefined_valid_mean_is_undefined(scratch_registry):
    _layer_metric("testagg.none", values={"0": None, "2": None, "4": None}, aggregate="valid_mean")
    network = measure(*_net(), "testagg.none").rows[-1]
    assert (network["value"], network["status"], network["reason"]) == (None, "undefined",
                                                                          "undefined in all 3 layers")


def test_errors_give_error_rows_and_measure_goes_on(scratch_registry):
    def fails_on_fc(graph):
        if graph.name == "4":
            raise MetricError(f"non-finite weights in layer {graph.name}")
        return 1.0

    register_metric(fails_on_fc, name="testagg.fails", scope="layer", encoding="rolled", description="fails")
    result = measure(*_net(), "testagg.fails,density")
    rows = {(r["metric"], r["layer"]): r for r in result.rows}
    assert rows[("testagg.fails", "4")] == {"scope": "layer", "layer": "4", "metric": "testagg.fails",
                                            "value": None, "status": "error",
                                            "message": "non-finite weights in layer 4"}
    assert rows[("testagg.fails", None)]["status"] == "error"
    assert rows[("testagg.fails", None)]["message"] == "1 of 3 layers failed"
    assert rows[("density", None)]["status"] == "ok"


def test_non_finite_weights_error_only_the_metrics_that_read_weights(scratch_registry):
    register_metric(lambda g: float(g.arrays.weight.sum()), name="testagg.wsum", scope="layer",
                    encoding="rolled", requires_weights=True, description="sum of |w|")
    model, masks = _net()
    with torch.no_grad():
        model[2].weight[0, 0, 0, 0] = float("nan")
    rows = {(r["metric"], r["layer"]): r for r in measure(model, masks, ["testagg.wsum", "density"]).rows}
    assert rows[("testagg.wsum", "2")]["message"] == "non-finite weights in layer 2"
    assert rows[("testagg.wsum", "0")]["status"] == "ok"
    assert rows[("density", "2")]["value"] == 1.0


def test_missing_masks_mean_dense_with_a_warning(scratch_registry):
    model, masks = _net()
    with pytest.warns(UserWarning, match="no masks given: measuring the dense model"):
        result = measure(model, None, "density")
    assert result.masks is None
    assert [r["value"] for r in result.rows] == [1.0, 1.0, 1.0, 1.0]
    del masks["2.weight"]  # a layer without a mask is dense
    assert measure(model, masks, "density").value("density", "2") == 1.0


def test_layer_graphs_carry_the_parameter_weights(scratch_registry):
    register_metric(lambda g: float(g.arrays.signed_weight.astype("float64").sum()), name="testagg.wsum",
                    scope="layer", encoding="rolled", requires_weights=True, description="sum of w")
    model, masks = _net()
    kept = (model[4].weight.detach().double() * masks["4.weight"]).sum().item()
    assert measure(model, masks, "testagg.wsum").value("testagg.wsum", "4") == pytest.approx(kept, rel=1e-6)


def test_include_and_exclude_patterns(scratch_registry):
    model, masks = _net()
    assert measure(model, masks, "density", include=["0", "4"]).layers == ["0", "4"]
    assert measure(model, masks, "density", exclude=["re:[02]"]).layers == ["4"]
    assert measure(model, masks, "density", include=["*"], exclude=["2"]).layers == ["0", "4"]
    with pytest.raises(ValueError, match="include pattern 'fc' matches no Conv2d/Linear layer"):
        measure(model, masks, "density", include=["fc"])
    with pytest.raises(ValueError, match="no Conv2d or Linear layer left"):
        measure(model, masks, "density", exclude=["*"])
    network = measure(model, masks, "density", exclude=["4"]).rows[-1]
    assert (network["value"], network["n_layers"]) == (39 / 66, 2)


def test_trace_order_is_used_with_an_input_shape(scratch_registry, monkeypatch):
    import sparsegraph.topology as topology

    def fake_trace(model, input_shape):
        assert input_shape == (2, 4, 4)
        return types.SimpleNamespace(layers=[types.SimpleNamespace(name=n) for n in ("4", "0", "2")])

    monkeypatch.setattr(topology, "trace", fake_trace, raising=False)
    result = measure(*_net(), "density", input_shape=(2, 4, 4))
    assert result.layers == ["4", "0", "2"]
    assert result.notes == []
    assert result.options["input_shape"] == [2, 4, 4]


def test_convention_routing_and_recording(empty_registry, as_builtin):
    for name in ("ramanujan.delta_r", "spectral.mu0"):
        register_metric(as_builtin(lambda g, convention: 1.0), name=name, scope="layer", encoding="rolled",
                        conventions=("neurips2023", "iclr2023"), description="x")
    seen = []
    register_metric(as_builtin(lambda t, convention: seen.append(convention) or 2.0), name="paths.log10_paths",
                    scope="network", encoding="model", conventions=("exact", "npb2023"), description="x")
    model, masks = _net()
    metrics = ["ramanujan.delta_r", "spectral.mu0", "paths.log10_paths"]
    default = measure(model, masks, metrics)
    assert (default.options["convention"], default.options["paths_convention"]) == ("neurips2023", "exact")
    bare = measure(model, masks, metrics, convention="iclr2023")
    assert (bare.options["convention"], bare.options["paths_convention"]) == ("iclr2023", "exact")
    pairs = measure(model, masks, metrics, convention="ramanujan=iclr2023,spectral=iclr2023,paths=npb2023")
    assert (pairs.options["convention"], pairs.options["paths_convention"]) == ("iclr2023", "npb2023")
    assert measure(model, masks, metrics, paths_convention="npb2023").options["paths_convention"] == "npb2023"
    both = measure(model, masks, metrics, convention="iclr2023,npb2023")
    assert (both.options["convention"], both.options["paths_convention"]) == ("iclr2023", "npb2023")
    assert seen == ["exact", "exact", "npb2023", "npb2023", "npb2023"]
    with pytest.raises(ValueError) as err:
        measure(model, masks, metrics, convention="iclr")
    assert str(err.value) == ("convention 'iclr' is not valid for any selected metric; expected one of: exact, "
                              "iclr2023, neurips2023, npb2023")
    with pytest.raises(ValueError) as err:
        measure(model, masks, metrics, convention="ramanujan=iclr")
    assert str(err.value) == ("convention 'iclr' is not valid for ramanujan.delta_r; expected one of: "
                              "neurips2023, iclr2023")
    with pytest.raises(ValueError, match="no selected metric of family 'topo' takes a convention"):
        measure(model, masks, metrics, convention="topo=x")


def test_options_go_to_the_metrics_that_declare_them(scratch_registry):
    seen = {}
    register_metric(lambda g, solver: seen.setdefault("a", solver) and 1.0, name="testopt.a", scope="layer",
                    encoding="rolled", options={"solver": "auto"}, description="a")
    register_metric(lambda g: 1.0, name="testopt.b", scope="layer", encoding="rolled", description="b")
    result = measure(*_net(), "testopt", solver="dense")
    assert seen == {"a": "dense"}
    assert result.options["solver"] == "dense"
    with pytest.raises(ValueError) as err:
        measure(*_net(), "testopt", slover="dense")
    assert str(err.value) == "option 'slover' is not valid for any selected metric; they accept: solver"


def test_unknown_metric_raises_before_any_work(scratch_registry):
    with pytest.raises(UnknownMetricError, match="unknown metric 'densty'; did you mean 'density'"):
        measure(*_net(), "densty")


def test_batch_preparer_runs_once_per_family_and_fills_the_cache(scratch_registry):
    calls = []

    def prepare(graphs, cache, *, convention):
        calls.append(([g.name for g in graphs], convention))
        for g in graphs:
            cache[("testprep.edges", cache.graph_key(g))] = float(g.num_edges)

    def edges(graph, convention):
        cache = current_cache()
        return cache[("testprep.edges", cache.graph_key(graph))]

    register_preparer("testprep", prepare)
    for name in ("testprep.edges", "testprep.edges_again"):
        register_metric(edges, name=name, scope="layer", encoding="rolled", conventions=("c1", "c2"),
                        description="edges from the preparer")
    result = measure(*_net(), "testprep", convention="c2")
    assert calls == [(["0", "2", "4"], "c2")]
    assert [r["value"] for r in result.rows if r["metric"] == "testprep.edges"] == [27.0, 12.0, 80.0, 119 / 3]
    assert current_cache() is None  # the cache lives only during the measure call


def test_failing_preparer_warns_and_layers_compute_alone(scratch_registry):
    def prepare(graphs, cache):
        raise MetricError("batched solver failed")

    register_preparer("testprep", prepare)
    register_metric(lambda g: 2.0, name="testprep.two", scope="layer", encoding="rolled", description="two")
    with pytest.warns(RuntimeWarning, match="batch preparation of family 'testprep' failed"):
        result = measure(*_net(), "testprep.two")
    assert result.value("testprep.two") == 2.0


def test_network_metrics_report_their_per_layer_rows(scratch_registry):
    received = {}

    def paths_like(target, layers, input_shape):
        model, masks = target
        received.update(layers=layers, input_shape=input_shape)
        per_layer = {"0": 10.0, "2": None, "4": MetricResult(None, "error", "unsupported op")}
        return MetricResult(3.5, per_layer=per_layer)

    register_metric(paths_like, name="testnet.count", scope="network", encoding="model",
                    options={"layers": None, "input_shape": None}, aggregate="none", description="paths-like")
    result = measure(*_net(), "testnet.count", input_shape=(2, 4, 4), exclude=["2"])
    assert received == {"layers": ["0", "4"], "input_shape": (2, 4, 4)}
    assert result.rows == [
        {"scope": "layer", "layer": "0", "metric": "testnet.count", "value": 10.0, "status": "ok"},
        {"scope": "layer", "layer": "4", "metric": "testnet.count", "value": None, "status": "error",
         "message": "unsupported op"},
        {"scope": "network", "layer": None, "metric": "testnet.count", "value": 3.5, "status": "ok",
         "n_layers": 2, "n_defined": 1},
    ]


def test_graph_metrics_without_a_graph_give_a_clean_error_row(scratch_registry, monkeypatch):
    import sparsegraph.graphs as graphs

    def failing_encode(model, masks, encoding, input_shape):
        raise ValueError("input_shape is required for the mge encoding")

    monkeypatch.setattr(graphs, "encode", failing_encode, raising=False)
    register_metric(lambda g: float(g.num_nodes), name="testgraph.nodes", scope="graph", encoding="mge",
                    description="nodes")
    result = measure(*_net(), "testgraph.nodes,density")
    assert result.rows[0] == {"scope": "network", "layer": None, "metric": "testgraph.nodes", "value": None,
                              "status": "error", "n_layers": 3, "n_defined": 0,
                              "message": "cannot build the mge graph: input_shape is required for the mge encoding"}
    assert result.value("density") == 119 / 386
    layerwise = measure(*_net(), "testgraph.nodes", topo_encoding="rolled")
    assert [(r["layer"], r["value"]) for r in layerwise.rows] == [("0", 21.0), ("2", 7.0), ("4", 69.0)]


def test_graph_metrics_run_once_on_the_encoded_graph(scratch_registry, monkeypatch):
    import sparsegraph.graphs as graphs

    encoded = []

    def fake_encode(model, masks, encoding, input_shape):
        encoded.append((encoding, input_shape))
        return sg.bipartite(torch.ones(2, 3, dtype=torch.bool))

    monkeypatch.setattr(graphs, "encode", fake_encode, raising=False)
    for name in ("testgraph.nodes", "testgraph.edges"):
        register_metric(lambda g: float(g.num_nodes), name=name, scope="graph", encoding="mge", description="n")
    result = measure(*_net(), "testgraph", input_shape=(2, 4, 4))
    assert encoded == [("mge", (2, 4, 4))]
    assert [(r["scope"], r["value"]) for r in result.rows] == [("network", 5.0), ("network", 5.0)]
    assert result.options["topo_encoding"] == "mge"


def test_json_jsonl_and_csv_outputs(scratch_registry):
    _layer_metric("testagg.value", aggregate="zero_mean")
    model, masks = _net()
    result = measure(model, masks, ["density", "testagg.value"], model_spec="tests:net")
    doc = json.loads(result.to_json())
    assert list(doc) == ["format", "model", "masks", "options", "notes", "rows"]
    assert doc["format"] == "sparsegraph.measure/1"
    assert doc["model"] == "tests:net"
    from sparsegraph.masks import MaskSet

    assert doc["masks"] == {"path": None, "fingerprint": MaskSet.from_dict(masks).fingerprint(),
                            "density": 119 / 386}
    assert doc["options"] == {"aggregate": "auto", "include": [], "exclude": [], "input_shape": None}
    undefined = doc["rows"][5]
    assert undefined == {"scope": "layer", "layer": "2", "metric": "testagg.value", "value": None,
                         "status": "undefined"}
    network_rows = [r for r in doc["rows"] if r["scope"] == "network"]
    assert all(r["layer"] is None and {"n_layers", "n_defined"} <= set(r) for r in network_rows)
    lines = result.to_jsonl().splitlines()
    assert [json.loads(line) for line in lines] == doc["rows"]
    table = list(csv.reader(io.StringIO(result.to_csv())))
    assert table[0] == ["scope", "layer", "metric", "value", "status"]
    assert table[1] == ["layer", "0", "density", "0.5", "ok"]
    assert table[6] == ["layer", "2", "testagg.value", "", "undefined"]
    assert table[8] == ["network", "", "testagg.value", repr(5.0 / 3), "ok"]
    assert len(table) == 1 + len(result.rows)


def test_grid_is_layer_by_metric(scratch_registry):
    _layer_metric("testagg.value", aggregate="zero_mean")
    columns, rows = measure(*_net(), ["density", "testagg.value"]).to_grid()
    assert columns == ["layer", "density", "testagg.value"]
    assert rows == [{"layer": "0", "density": 0.5, "testagg.value": 1.0},
                    {"layer": "2", "density": 1.0, "testagg.value": "undef"},
                    {"layer": "4", "density": 0.25, "testagg.value": 4.0},
                    {"layer": "(network)", "density": 119 / 386, "testagg.value": 5.0 / 3}]


def test_to_frame_needs_pandas(scratch_registry):
    pd = pytest.importorskip("pandas")
    frame = measure(*_net(), "density").to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["value"])[:3] == [0.5, 1.0, 0.25]


def test_measure_does_not_mutate_the_model_or_masks(scratch_registry):
    model, masks = _net()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = {k: v.clone() for k, v in masks.items()}
    measure(model, masks, "density")
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(before[k], v) for k, v in masks.items())


def test_mask_of_the_wrong_shape_is_bad_input(scratch_registry):
    from sparsegraph.errors import MaskError

    model, masks = _net()
    masks["4.weight"] = torch.ones(5, 63, dtype=torch.bool)
    with pytest.raises(MaskError, match=r"parameter '4.weight': mask shape \(5, 63\) does not match the "
                                        r"model's parameter shape \(5, 64\)"):
        measure(model, masks, "density")
    masks["4.weight"] = torch.ones(5, 64, dtype=torch.bool)
    masks["module.0.weight"] = masks.pop("0.weight")  # e.g. saved from a DataParallel model
    with pytest.raises(MaskError, match="module.0.weight"):
        measure(model, masks, "density", include=["4"])


def test_differing_ramanujan_and_spectral_conventions_are_both_recorded(empty_registry, as_builtin):
    for name in ("ramanujan.delta_r", "spectral.mu0"):
        register_metric(as_builtin(lambda g, convention: 1.0), name=name, scope="layer", encoding="rolled",
                        conventions=("neurips2023", "iclr2023"), description="x")
    options = measure(*_net(), "ramanujan,spectral", convention="ramanujan=iclr2023").options
    assert (options["ramanujan_convention"], options["spectral_convention"]) == ("iclr2023", "neurips2023")
    assert "convention" not in options


def test_layers_the_trace_never_calls_are_noted(scratch_registry, monkeypatch):
    import sparsegraph.topology as topology

    def fake_trace(model, input_shape):
        return types.SimpleNamespace(layers=[types.SimpleNamespace(name=n) for n in ("0", "4")])

    monkeypatch.setattr(topology, "trace", fake_trace, raising=False)
    result = measure(*_net(), "density", input_shape=(2, 4, 4))
    assert result.layers == ["0", "4"]
    assert result.notes == ["not measured (never called in the traced forward): 2"]


def test_untraceable_models_fall_back_to_registration_order(scratch_registry, monkeypatch):
    import sparsegraph.topology as topology
    from sparsegraph.errors import UnsupportedOpError

    def failing_trace(model, input_shape):
        raise UnsupportedOpError("interpolate", "up", "no weight-graph meaning")

    monkeypatch.setattr(topology, "trace", failing_trace, raising=False)
    result = measure(*_net(), "density", input_shape=(2, 4, 4))
    assert result.layers == ["0", "2", "4"]
    assert result.notes == ["layer order: module registration order (the model could not be traced: cannot "
                            "encode 'interpolate' in module 'up': no weight-graph meaning)"]
