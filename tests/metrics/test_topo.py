"""topo.* metrics: mge-snn reference cases, closed forms (metrics.md §9), spectra vs dense eigvalsh."""

from __future__ import annotations

import math

import numpy as np
import pytest

from refcases.mge_nets import load_mge_refcases
from refcases.topo_graphs import (complete_bipartite, dense_mlp, layered_graph, random_layered_edges,
                                  refcase_layer_graph, refcase_mge_graph)

from sparsegraph.errors import MetricError, UsageError
from sparsegraph.metrics import compute, compute_detailed, list_metrics
from sparsegraph.metrics.cache import metric_cache

CASES, ARRAYS = load_mge_refcases()
TOPO = [info.name for info in list_metrics("topo.*")]
INTEGER_METRICS = {"topo.sink_nodes", "topo.source_nodes", "topo.disconnected_nodes", "topo.removable_out_edges",
                   "topo.removable_in_edges", "topo.cut_edges", "topo.cut_nodes", "topo.components"}
MEAN_METRICS = {"topo.one_hop", "topo.two_hop", "topo.kcore", "topo.mean_component_size"}
DIVISORS = {"topo.sink_nodes": "N", "topo.source_nodes": "N", "topo.disconnected_nodes": "N",
            "topo.removable_out_edges": "E", "topo.removable_in_edges": "E", "topo.one_hop": "E",
            "topo.two_hop": "E", "topo.motifs": "E", "topo.strength": "E", "topo.kcore": "E",
            "topo.cut_edges": "E", "topo.cut_nodes": "E", "topo.components": None,
            "topo.mean_component_size": "N", "topo.spectral_gap": None, "topo.spectral_radius": None}


def assert_reference(metric: str, value: float, ref: float, t1: float) -> None:
    """The refcases README tolerances."""
    if metric in INTEGER_METRICS:
        assert value == ref, metric
    elif metric in MEAN_METRICS:
        assert value == pytest.approx(ref, rel=1e-12), metric
    elif metric == "topo.strength":
        assert value == pytest.approx(ref, rel=1e-9), metric
    elif metric == "topo.spectral_gap":
        assert abs(value - ref) <= 2e-5 * max(1.0, t1), metric
    elif metric == "topo.spectral_radius":
        assert value == pytest.approx(ref, rel=1e-6), metric
    else:
        raise AssertionError(f"no tolerance for {metric}")


def test_sixteen_metrics_registered_in_spec_order():
    assert TOPO == list(DIVISORS)
    for info in list_metrics("topo.*"):
        assert info.scope == "graph" and info.encoding == "mge" and info.higher_is_better is None
        assert info.options["normalize"] is False and info.options["compat"] is None
        assert "MGE24" in info.source
    motifs = list_metrics("topo.motifs")[0]
    assert dict(motifs.options) == {"normalize": False, "compat": None, "motif_method": "auto",
                                    "motif_sample_rate": 0.001, "motif_seed": 0, "motif_exact_budget": 10_000_000}


# ------------------------------------------------------------------------------------ reference cases
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_refcase_multipartite_compat(case_name):
    case = CASES[case_name]
    graph = refcase_mge_graph(case, ARRAYS)
    details = case["details"]["mge2024"]
    t1 = details["adj_top3_abs_eig_f64"][0]
    expected = case["expected"]["topo"]["mge2024"]
    assert set(expected) == set(TOPO) - {"topo.motifs"}
    with metric_cache():
        for metric, ref in expected.items():
            assert_reference(metric, compute(metric, graph), ref, t1)
        gap = compute_detailed("topo.spectral_gap", graph)
        radius = compute("topo.spectral_radius", graph)
    # float64 references: 1e-9 relative
    assert gap.value == pytest.approx(details["spectral_gap_f64"], rel=1e-9)
    assert gap.extras["top3"] == pytest.approx(details["adj_top3_abs_eig_f64"], rel=1e-9)
    assert radius == pytest.approx(details["spectral_radius_f64"], rel=1e-9)


@pytest.mark.parametrize("case_name", sorted(CASES))
def test_refcase_exact_motif_counts(case_name):
    case = CASES[case_name]
    graph = refcase_mge_graph(case, ARRAYS)
    result = compute_detailed("topo.motifs", graph, motif_method="exact")
    assert result.value == case["details"]["mge2024"]["motifs_exact_size4"]
    assert result.extras["method"] == "exact"


@pytest.mark.parametrize("encoding", ["rolled", "rolled-channel"])
@pytest.mark.parametrize("case_name", sorted(CASES))
def test_refcase_layerwise(case_name, encoding):
    case = CASES[case_name]
    expected = {row["layer"]: row for row in case["expected"]["topo_layerwise"]["mge2024"][encoding]}
    exact_motifs = case["details"]["layerwise_motifs_exact_size4"][encoding]
    for row in case["expected"]["encodings"][encoding]:
        graph = refcase_layer_graph(case, ARRAYS, encoding, row)
        ref = expected[row["layer"]]
        with metric_cache():
            for metric, value in ref.items():
                if metric != "layer":
                    assert_reference(metric, compute(metric, graph), value, ref["topo.spectral_radius"])
            # small layer graphs are under the exact budget: auto counts exactly
            assert compute("topo.motifs", graph) == exact_motifs[row["layer"]]


def test_compat_option_follows_graph_and_can_be_overridden():
    case = CASES["mlp3"]
    graph = refcase_mge_graph(case, ARRAYS)
    # mlp3 has one isolated input node: compat counts 11 sources - |P_0| = -1, clean counts none outside P_0
    assert compute("topo.source_nodes", graph) == -1
    assert compute("topo.source_nodes", graph, compat=None) == -1  # None = the graph's own setting
    graph.attrs["compat"] = None
    assert compute("topo.source_nodes", graph) == 0
    assert compute("topo.source_nodes", graph, compat="mge2024") == -1
    with pytest.raises(UsageError, match="compat 'mge2025'"):
        compute("topo.source_nodes", graph, compat="mge2025")


def test_compat_motifs_auto_always_estimates_and_is_undefined_without_roots():
    graph = refcase_mge_graph(CASES["mlp3"], ARRAYS)  # N = 30: floor(0.001·30) = 0 roots
    result = compute_detailed("topo.motifs", graph)
    assert result.status == "undefined" and result.value is None and "0 sampled roots" in result.reason
    graph = refcase_mge_graph(CASES["minires_i7"], ARRAYS)  # N = 956
    result = compute_detailed("topo.motifs", graph, motif_sample_rate=0.01)
    assert result.extras["method"] == "estimate" and result.extras["roots"] == 9
    # the clean formulas count exactly under the budget
    assert compute_detailed("topo.motifs", graph, compat=None).extras["method"] == "estimate"
    graph.attrs["compat"] = None
    clean = compute_detailed("topo.motifs", graph, motif_exact_budget=10**12)
    assert clean.extras["method"] == "exact" and clean.value == 31022783


# ---------------------------------------------------------------------- compat vs clean formulas
def test_sink_source_and_removable_formulas():
    # partitions [2, 2, 2]: ids 0-1 | 2-3 | 4-5. Node 3 is a sink outside P_last (two parallel in-edges
    # from 0); node 2 has in-degree 0 and feeds 4 and 5 (a source outside P_0); node 1 is isolated.
    src, dst = [0, 0, 2, 2], [3, 3, 4, 5]
    graph = layered_graph([2, 2, 2], src, dst)
    # clean: sinks outside P_last = {3}; sources outside P_0 = {2}
    assert compute("topo.sink_nodes", graph) == 1
    assert compute("topo.source_nodes", graph) == 1
    assert compute("topo.disconnected_nodes", graph) == 1
    assert compute("topo.removable_out_edges", graph) == 2  # d⁻(3) = 2 (parallel edges counted)
    assert compute("topo.removable_in_edges", graph) == 2  # d⁺(2) = 2
    # compat: all sinks {3, 4, 5} − |P_last| = 1; all sources {0, 2} − |P_0| = 0
    assert compute("topo.sink_nodes", graph, compat="mge2024") == 1
    assert compute("topo.source_nodes", graph, compat="mge2024") == 0
    # compat removable_out: sinks with id < N − 1 − |P_last| = 3, so node 3 is left out
    assert compute("topo.removable_out_edges", graph, compat="mge2024") == 0
    # compat removable_in: sources with id > |P_0| = 2, so node 2 is left out
    assert compute("topo.removable_in_edges", graph, compat="mge2024") == 0


def test_bipartite_targets_ignore_compat():
    graph = complete_bipartite(2, 3)
    graph.attrs["compat"] = "mge2024"
    assert compute("topo.source_nodes", graph, compat="mge2024") == 0
    assert compute("topo.sink_nodes", graph, compat="mge2024") == 0


# ---------------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("widths", [(3, 4, 2), (2, 5, 3), (4, 2, 6)])
def test_dense_mlp_closed_forms(widths):
    a, b, c = widths
    graph = dense_mlp(widths)
    n, e = a + b + c, a * b + b * c
    assert (graph.num_nodes, graph.num_edges) == (n, e)
    with metric_cache():
        assert compute("topo.one_hop", graph) == pytest.approx(1 + e / n, rel=1e-12)
        assert compute("topo.two_hop", graph) == pytest.approx((a * (1 + b + c) + b * (1 + c) + c) / n, rel=1e-12)
        for metric in ("topo.sink_nodes", "topo.source_nodes", "topo.disconnected_nodes",
                       "topo.removable_out_edges", "topo.removable_in_edges", "topo.cut_edges", "topo.cut_nodes"):
            assert compute(metric, graph) == 0, metric
        assert compute("topo.components", graph) == 1
        assert compute("topo.mean_component_size", graph) == n


def test_dense_mlp_with_width_one_has_cut_nodes():
    graph = dense_mlp((3, 1, 2))  # the middle node separates the two sides; every edge is a bridge
    assert compute("topo.cut_nodes", graph) == 1
    assert compute("topo.cut_edges", graph) == 5


@pytest.mark.parametrize("m,n", [(1, 3), (2, 2), (3, 4), (5, 7)])
def test_complete_bipartite_closed_forms(m, n):
    graph = complete_bipartite(m, n)
    with metric_cache():
        assert compute("topo.kcore", graph) == min(m, n)
        assert compute("topo.spectral_gap", graph) == pytest.approx(math.sqrt(m * n), rel=1e-12)
        assert compute("topo.spectral_radius", graph) == pytest.approx(m + n, rel=1e-12)
        expected = math.comb(m + n, 4) - math.comb(m, 4) - math.comb(n, 4)
        assert compute("topo.motifs", graph, motif_method="exact") == expected
        assert compute("topo.motifs", graph) == expected  # auto: under the budget


def test_complete_bipartite_iterative_spectra():
    # N = 700 > the dense threshold: eigsh on A and on L
    m, n = 300, 400
    graph = complete_bipartite(m, n, weight=0.5)
    assert compute("topo.spectral_gap", graph) == pytest.approx(0.5 * math.sqrt(m * n), rel=1e-12)
    # L = D − A of K_{m,n} with weight c has largest eigenvalue c(m + n)
    assert compute("topo.spectral_radius", graph) == pytest.approx(0.5 * (m + n), rel=1e-12)


@pytest.mark.parametrize("src,dst", [([0, 0, 0], [1, 2, 3]), ([0, 1, 2], [1, 2, 3])], ids=["K13", "P4"])
def test_star_and_path_have_one_connected_quadruple(src, dst):
    graph = layered_graph([1, 3], src, dst) if src == [0, 0, 0] else layered_graph([1, 1, 1, 1], src, dst)
    assert compute("topo.motifs", graph, motif_method="exact") == 1
    assert compute("topo.motifs", graph, motif_method="estimate", motif_sample_rate=1.0) == 1


def test_identities_on_reference_graph():
    graph = refcase_mge_graph(CASES["convpool_i8"], ARRAYS)
    with metric_cache():
        components = compute("topo.components", graph)
        assert compute("topo.mean_component_size", graph) * components == pytest.approx(graph.num_nodes, rel=1e-12)
        weights = graph.arrays.weight.astype(np.float64)
        assert compute("topo.strength", graph) == pytest.approx(2 * weights.sum() / graph.num_nodes, rel=1e-12)
        assert compute("topo.strength", graph) == pytest.approx(
            2 * CASES["convpool_i8"]["details"]["mge2024"]["sum_abs_weight"] / graph.num_nodes, rel=1e-9)


@pytest.mark.parametrize("metric", list(DIVISORS))
def test_normalize_divides_by_the_stated_divisor(metric):
    graph = refcase_mge_graph(CASES["conv2_s1p1_i6"], ARRAYS)
    options = {"motif_method": "exact"} if metric == "topo.motifs" else {}
    with metric_cache():
        raw = compute(metric, graph, **options)
        normalized = compute_detailed(metric, graph, normalize=True, **options)
    divisor = {"N": graph.num_nodes, "E": graph.num_edges, None: 1}[DIVISORS[metric]]
    assert normalized.value == pytest.approx(raw / divisor, rel=1e-15)
    if DIVISORS[metric] is not None:
        assert normalized.extras["divisor"] == divisor


def test_normalize_with_zero_divisor_is_undefined():
    graph = layered_graph([2, 2], [], [])
    result = compute_detailed("topo.cut_edges", graph, normalize=True)
    assert result.status == "undefined" and "divisor is 0" in result.reason
    assert compute("topo.cut_edges", graph) == 0
    assert compute("topo.components", graph) == 4
    assert compute("topo.disconnected_nodes", graph, normalize=True) == 1.0


def test_motif_estimate_full_rate_is_exact_and_seeded():
    graph = refcase_mge_graph(CASES["conv2_s1p1_i6"], ARRAYS)
    graph.attrs["compat"] = None
    exact = compute("topo.motifs", graph, motif_method="exact")
    assert compute("topo.motifs", graph, motif_method="estimate", motif_sample_rate=1.0) == exact
    first = compute_detailed("topo.motifs", graph, motif_method="estimate", motif_sample_rate=0.05, motif_seed=3)
    again = compute_detailed("topo.motifs", graph, motif_method="estimate", motif_sample_rate=0.05, motif_seed=3)
    other = compute("topo.motifs", graph, motif_method="estimate", motif_sample_rate=0.05, motif_seed=4)
    assert first.value == again.value and first.extras["roots"] == 31
    assert other != first.value
    # auto with a zero budget estimates; at least one root is drawn
    tiny = compute_detailed("topo.motifs", graph, motif_exact_budget=0, motif_sample_rate=1e-6)
    assert tiny.extras == {**tiny.extras, "method": "estimate", "roots": 1}


def test_motif_option_errors():
    graph = complete_bipartite(2, 2)
    with pytest.raises(UsageError, match="motif_method 'fast'"):
        compute("topo.motifs", graph, motif_method="fast")
    with pytest.raises(UsageError, match="motif_sample_rate"):
        compute("topo.motifs", graph, motif_sample_rate=0)


# ------------------------------------------------------------------------ spectra vs dense solver
def _dense_reference(graph):
    n = graph.num_nodes
    w = np.zeros((n, n))
    np.add.at(w, (graph.arrays.src, graph.arrays.dst), graph.arrays.weight.astype(np.float64))
    a = w + w.T
    top = np.sort(np.abs(np.linalg.eigvalsh(a)))[::-1]
    top = np.concatenate([top, np.zeros(3)])[:3]
    lmax = np.linalg.eigvalsh(np.diag(a.sum(axis=1)) - a)[-1]
    return top, lmax


def _random_layered(sizes, edges_per_pair, seed, shortcut=True):
    src, dst, weight, _ = random_layered_edges(sizes, edges_per_pair, seed, shortcut)
    return layered_graph(sizes, src, dst, weight.astype(np.float32))


@pytest.mark.parametrize("sizes,edges,seed", [([5, 7, 3], 20, 0), ([40, 60, 30, 10], 150, 1),
                                              ([300, 250, 200, 100], 1200, 2)])
def test_spectra_match_dense_eigvalsh(sizes, edges, seed):
    graph = _random_layered(sizes, edges, seed)  # parallel edges included: entries are summed
    top, lmax = _dense_reference(graph)
    with metric_cache():
        gap = compute_detailed("topo.spectral_gap", graph)
        radius = compute("topo.spectral_radius", graph)
    assert np.abs(np.array(gap.extras["top3"]) - top).max() <= 1e-9 * max(1.0, top[0])
    assert abs(gap.value - (top[0] - top[2])) <= 1e-9 * max(1.0, top[0])
    assert abs(radius - lmax) <= 1e-9 * max(1.0, lmax)


def test_spectra_with_repeated_eigenvalues_across_components():
    # two disjoint copies of one graph: every eigenvalue is doubled, so t1 = t2 = t3 = σ1 (each 450-node copy
    # is solved on its own; test_topo_kernel.py covers copies above the dense limit)
    one = _random_layered([200, 150, 100], 600, 5, shortcut=False)
    n = one.num_nodes
    src = np.concatenate([one.arrays.src, one.arrays.src + n])
    dst = np.concatenate([one.arrays.dst, one.arrays.dst + n])
    w = np.concatenate([one.arrays.weight, one.arrays.weight])
    two = layered_graph([2 * n], src, dst, w)
    top, lmax = _dense_reference(two)
    assert top[0] == pytest.approx(top[2], rel=1e-12)
    gap = compute_detailed("topo.spectral_gap", two)
    assert np.abs(np.array(gap.extras["top3"]) - top).max() <= 1e-9 * top[0]
    assert compute("topo.spectral_radius", two) == pytest.approx(lmax, rel=1e-9)


def test_tiny_graphs_pad_missing_eigenvalues_with_zero():
    graph = layered_graph([1, 1], [0], [1], [2.0])
    result = compute_detailed("topo.spectral_gap", graph)
    assert result.extras["top3"] == [2.0, 2.0, 0.0]
    assert result.value == 2.0
    assert compute("topo.spectral_radius", graph) == pytest.approx(4.0)


def test_non_finite_weights_raise():
    graph = layered_graph([1, 2], [0, 0], [1, 2], [1.0, np.nan])
    with pytest.raises(MetricError, match="non-finite weights in layer edges"):
        compute("topo.strength", graph)


def test_unweighted_graph_uses_unit_weights():
    graph = dense_mlp((2, 3))
    assert compute("topo.strength", graph) == pytest.approx(2 * 6 / 5)


def test_cache_shares_one_view_per_graph():
    graph = complete_bipartite(3, 3)
    with metric_cache() as cache:
        for metric in TOPO:
            compute(metric, graph)
        views = [key for key in cache._values if key[0] == "topo.view"]
    assert len(views) == 1


def test_option_type_errors():
    graph = complete_bipartite(2, 2)
    with pytest.raises(UsageError, match="normalize must be true or false"):
        compute("topo.kcore", graph, normalize="yes")
    with pytest.raises(UsageError, match="motif_seed must be a nonnegative integer"):
        compute("topo.motifs", graph, motif_seed=1.5)
    with pytest.raises(UsageError, match="motif_exact_budget"):
        compute("topo.motifs", graph, motif_exact_budget=-1)


# ----------------------------------------------------------------------------------------- measure
def test_measure_layerwise_rows_match_compute():
    import torch
    from torch import nn

    import sparsegraph as sg

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4))
    masks = {"0.weight": torch.arange(30).reshape(5, 6) % 3 != 0, "2.weight": torch.arange(20).reshape(4, 5) % 2 == 0}
    result = sg.measure(model, masks, "topo", input_shape=(6,), topo_encoding="rolled", normalize=True,
                        motif_method="exact")
    assert {row["scope"] for row in result.rows} == {"layer"}
    assert len(result.rows) == 2 * 16
    for name, module in (("0", model[0]), ("2", model[2])):
        graph = sg.bipartite(masks[f"{name}.weight"], weight=module.weight, name=name)
        for metric in TOPO:
            options = {"motif_method": "exact"} if metric == "topo.motifs" else {}
            expected = compute(metric, graph, normalize=True, **options)
            assert result.value(metric, name) == pytest.approx(expected, rel=1e-12), (metric, name)
