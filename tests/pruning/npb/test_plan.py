"""NPB's options and per-layer rules: roles, max taps, β, chunks (spec pruning §2 npb)."""

import numpy as np
import pytest

from sparsegraph.errors import UsageError
from sparsegraph.models import load_model
from sparsegraph.pruning.npb.milp import LayerProblem, layer_terms, solve_layer
from sparsegraph.pruning.npb.plan import NpbOptions, _chunks, plan_layers
from sparsegraph.topology import trace


def _resnet18_plans(**options):
    model = load_model("resnet18", num_classes=10, seed=0, input_shape=(3, 32, 32))
    topology = trace(model, (3, 32, 32))
    budgets = {info.param: max(1, int(0.01 * np.prod(info.weight_shape))) for info in topology.layers}
    return plan_layers(topology, budgets, NpbOptions.from_options(options))


def test_resnet18_with_the_authors_settings_solves_298_milps():
    plans = _resnet18_plans(npb_beta=2, npb_max_p=6, npb_chunk=16)
    assert sum(len(p.chunks) for p in plans) == 298  # the authors' run: 298 solves
    roles = [p.role for p in plans]
    assert roles[0] == "first" and roles[-1] == "linear" and roles.count("shortcut") == 3
    first, linear = plans[0], plans[-1]
    assert (first.max_p, first.beta, len(first.chunks)) == (9, 2.0, 1)
    assert (linear.max_p, linear.beta, len(linear.chunks)) == (1, 0.0, 1)
    for p in plans:
        if p.role == "shortcut":
            assert (p.max_p, p.beta) == (1, 0.001)
    # max_p 6 until the first shortcut, then 6 − 2 = 4 (no further drop: 4 is not above 5)
    first_shortcut = roles.index("shortcut")
    assert [p.max_p for p in plans[1:first_shortcut]] == [6] * (first_shortcut - 1)
    assert {p.max_p for p in plans[first_shortcut + 1:] if p.role == "conv"} == {4}


def test_chunk_zero_solves_whole_layers():
    plans = _resnet18_plans(npb_chunk=0)
    assert all(len(p.chunks) == 1 for p in plans)


def test_chunk_budgets_split_the_layer_count_exactly_and_a_remainder_is_a_smaller_chunk():
    chunks = _chunks(c_out=40, c_in=8, taps=9, budget=101, max_p=4, rows=16)
    assert [(c.start, c.stop) for c in chunks] == [(0, 16), (16, 32), (32, 40)]
    assert sum(c.budget for c in chunks) == 101


def test_whole_layer_optimum_scores_at_least_the_chunked_optimum():
    rng = np.random.default_rng(3)
    p_in = rng.random(24) * 10
    for budget in (40, 150):
        chunks = _chunks(c_out=32, c_in=24, taps=9, budget=budget, max_p=4, rows=8)
        counts = np.zeros((32, 24), dtype=np.int64)
        for c in chunks:
            counts[c.start:c.stop] = solve_layer(LayerProblem("chunk", c.stop - c.start, p_in, 9, c.budget, c.max_p,
                                                              0.01, 1.0)).counts
        whole = LayerProblem("whole", 32, p_in, 9, budget, 4, 0.01, 1.0)
        assert counts.sum() == budget
        assert solve_layer(whole).terms.objective >= layer_terms(counts, whole).objective - 1e-12


@pytest.mark.parametrize("options,message", [
    ({"npb_alpha": 1.5}, "npb_alpha"), ({"npb_beta": -1}, "npb_beta"), ({"npb_max_p": 0}, "npb_max_p"),
    ({"npb_chunk": -2}, "npb_chunk"), ({"npb_node_term": "x"}, "npb_node_term"),
    ({"npb_placement": "x"}, "npb_placement"), ({"npb_init": "npb"}, "npb_init"),
    ({"npb_time_limit": 0}, "npb_time_limit"),
])
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        NpbOptions.from_options(options)


def test_options_record_every_value_under_its_api_name():
    values = NpbOptions.from_options({"npb_alpha": 0.2, "npb_refine": False}).to_dict()
    assert values == {"npb_alpha": 0.2, "npb_beta": 1.0, "npb_max_p": 9, "npb_chunk": 32, "npb_init": "erk",
                      "npb_node_term": "code", "npb_placement": "magnitude", "npb_refine": False,
                      "npb_time_limit": None}
