"""topo.* through ``sg.encode``: compat="mge2024" graphs (multipartite and per layer) against the mge-snn
values, and the clean MGE of a dense MLP against the closed forms (metrics.md §9)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch import nn

from refcases.mge_nets import input_shape, load_mge_refcases, reference_model

import sparsegraph as sg
from sparsegraph.metrics import compute, list_metrics
from sparsegraph.metrics.cache import metric_cache

CASES, _ = load_mge_refcases()
# the two cases encoded here (test_topo.py checks every case from its reference edge lists)
NAMES = ["mlp3", "conv2_s1p1_i6"]


@pytest.mark.parametrize("name", NAMES)
def test_compat_encoding_reproduces_reference_topometrics(name):
    case = CASES[name]
    model, masks = reference_model(name)
    graph = sg.encode(model, masks, encoding="mge", input_shape=input_shape(name), compat="mge2024")
    details = case["details"]["mge2024"]
    with metric_cache():
        for metric, ref in case["expected"]["topo"]["mge2024"].items():
            value = compute(metric, graph)
            if metric == "topo.spectral_gap":
                assert value == pytest.approx(details["spectral_gap_f64"], rel=1e-9)
            elif metric in ("topo.strength", "topo.spectral_radius"):
                assert value == pytest.approx(ref, rel=1e-6), metric
            else:
                assert value == pytest.approx(ref, rel=1e-12, abs=0), metric
        assert compute("topo.motifs", graph, motif_method="exact") == details["motifs_exact_size4"]


@pytest.mark.parametrize("a,b,c", [(3, 4, 2), (2, 3, 5)])
def test_clean_encoding_of_a_dense_mlp(a, b, c):
    model = nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c))
    graph = sg.encode(model, None, encoding="mge", input_shape=(a,))
    n, e = a + b + c, a * b + b * c
    assert (graph.num_nodes, graph.num_edges) == (n, e)
    with metric_cache():
        values = {info.name: compute(info.name, graph) for info in list_metrics("topo.*")}
    assert values["topo.one_hop"] == pytest.approx(1 + e / n, rel=1e-12)
    assert values["topo.two_hop"] == pytest.approx((a * (1 + b + c) + b * (1 + c) + c) / n, rel=1e-12)
    for metric in ("topo.sink_nodes", "topo.source_nodes", "topo.disconnected_nodes", "topo.cut_edges",
                   "topo.cut_nodes"):
        assert values[metric] == 0, metric
    assert values["topo.components"] == 1
    assert values["topo.mean_component_size"] * values["topo.components"] == n
    weights = np.abs(np.concatenate([model[0].weight.detach().numpy().ravel(),
                                     model[2].weight.detach().numpy().ravel()]).astype(np.float64))
    assert values["topo.strength"] == pytest.approx(2 * weights.sum() / n, rel=1e-6)
    assert math.isfinite(values["topo.spectral_gap"])


@pytest.mark.parametrize("encoding", ["rolled", "rolled-channel"])
@pytest.mark.parametrize("name", NAMES)
def test_compat_layer_encodings_reproduce_reference_layerwise_values(name, encoding):
    case = CASES[name]
    model, masks = reference_model(name)
    graphs = sg.encode(model, masks, encoding=encoding, compat="mge2024", input_shape=input_shape(name))
    expected = {row["layer"]: row for row in case["expected"]["topo_layerwise"]["mge2024"][encoding]}
    exact_motifs = case["details"]["layerwise_motifs_exact_size4"][encoding]
    assert list(graphs) == list(expected)
    for layer, graph in graphs.items():
        ref = expected[layer]
        with metric_cache():
            for metric, value in ref.items():
                if metric == "layer":
                    continue
                got = compute(metric, graph)
                if metric == "topo.spectral_gap":
                    assert abs(got - value) <= 2e-5 * max(1.0, ref["topo.spectral_radius"]), (layer, metric)
                elif metric in ("topo.strength", "topo.spectral_radius"):
                    assert got == pytest.approx(value, rel=1e-6), (layer, metric)
                else:
                    assert got == pytest.approx(value, rel=1e-12, abs=0), (layer, metric)
            assert compute("topo.motifs", graph, motif_method="exact") == exact_motifs[layer]
