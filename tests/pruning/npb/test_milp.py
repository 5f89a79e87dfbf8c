"""NPB layer MILPs: the authors' optima, brute-force enumeration, layouts, errors (spec pruning §2 npb)."""

import itertools

import numpy as np
import pytest

from refcases.npb_cases import CASES, DOC, case_problem
from sparsegraph.errors import SolverError
from sparsegraph.pruning.npb.milp import (LayerProblem, kernel_counts, layer_terms, max_path, solve_layer)

TERM_KEYS = {"A": "A_nodes", "B": "B_paths", "Reg": "Reg", "objective": "objective", "max_path": "max_path"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_milps_reach_the_authors_optimum(name):
    case = CASES[name]
    problem = case_problem(case)
    solution = solve_layer(problem)
    tol = DOC["tolerances"]
    for ours, theirs in TERM_KEYS.items():
        assert getattr(solution.terms, ours) == pytest.approx(case["expected"][theirs], abs=tol["terms_abs"]), ours
    assert solution.terms.objective == pytest.approx(case["expected"]["objective"], abs=tol["objective_abs"])
    counts = solution.counts
    assert counts.shape == (problem.c_out, problem.c_in)
    assert counts.sum() == case["kept"] == problem.budget
    assert counts.min() >= 0 and counts.max() <= problem.max_p


def test_the_authors_illustrated_optimum_scores_the_same():
    case = CASES["npb_conv"]
    terms = layer_terms(np.array(case["kept_per_kernel_out_in"]), case_problem(case))
    assert terms.objective == pytest.approx(case["expected"]["objective"], abs=1e-12)
    assert terms.B == pytest.approx(case["expected"]["B_paths"], abs=1e-12)


def _brute_force(problem: LayerProblem) -> float:
    """max objective over every M ∈ {0…max_p}^(C_out×C_in) with Σ M ≤ n (≤: the spec's budget).

    The objective depends on a mask only through its kernel counts M, so this covers every mask with
    at most max_p taps per kernel."""
    best = -np.inf
    for values in itertools.product(range(problem.max_p + 1), repeat=problem.c_out * problem.c_in):
        m = np.array(values).reshape(problem.c_out, problem.c_in)
        if 0 < m.sum() <= problem.budget:
            best = max(best, layer_terms(m, problem).objective)
    return best


@pytest.mark.parametrize("p_in,alpha,beta,budget,node_term", [
    ([3.0, 1.0, 2.0], 0.01, 0.0, 3, "code"),
    ([3.0, 0.0, 2.0], 0.5, 0.3, 2, "code"),
    ([3.0, 0.0, 2.0], 0.5, 0.3, 4, "paths"),
    ([1.0, 1.0, 1.0], 0.9, 1.0, 5, "code"),
])
def test_linear_2x3_milp_equals_the_best_of_every_mask(p_in, alpha, beta, budget, node_term):
    problem = LayerProblem("linear", 2, np.array(p_in), 1, budget, 1, alpha, beta, node_term)
    assert solve_layer(problem).terms.objective == pytest.approx(_brute_force(problem), abs=1e-9)


@pytest.mark.parametrize("p_in,alpha,beta,budget,node_term", [
    ([5.0, 1.0], 0.01, 1.0, 3, "code"),
    ([5.0, 1.0], 0.01, 2.0, 5, "code"),
    ([4.0, 0.0], 0.7, 0.001, 2, "paths"),
    ([2.0, 3.0], 0.3, 0.0, 7, "code"),
])
def test_conv_2x2x3x3_milp_with_max_p_2_equals_brute_force(p_in, alpha, beta, budget, node_term):
    problem = LayerProblem("conv", 2, np.array(p_in), 9, budget, 2, alpha, beta, node_term)
    solution = solve_layer(problem)
    assert solution.counts.sum() == budget and solution.counts.max() <= 2
    assert solution.terms.objective == pytest.approx(_brute_force(problem), abs=1e-9)


def test_max_path_pours_the_budget_into_the_highest_inputs_first():
    assert max_path(np.array([3.0, 1.0, 0.0, 2.0, 5.0, 1.0]), 4, 1, 12) == 40.0
    assert max_path(np.array([16.0, 32.0, 32.0]), 5, 4, 27) == 864.0
    # below one input's capacity: only the best input (the released code would sum all of them)
    assert max_path(np.array([1.0, 4.0, 2.0]), 3, 3, 5) == 20.0


def test_kernel_counts_realise_column_sums_kernels_and_full_coverage():
    rng = np.random.default_rng(0)
    for _ in range(200):
        c_out, c_in, max_p = rng.integers(1, 7), rng.integers(1, 7), rng.integers(1, 5)
        k = rng.integers(0, c_out + 1, size=c_in)
        s = k + rng.integers(0, max_p, size=c_in) * k  # k ≤ s ≤ max_p·k
        live = rng.random(c_in) < 0.7
        m = kernel_counts(s, k, c_out, max_p, live)
        assert np.array_equal(m.sum(axis=0), s) and np.array_equal((m > 0).sum(axis=0), k)
        assert m.max(initial=0) <= max_p
        covered = int((m[:, live].sum(axis=1) > 0).sum())
        assert covered == min(c_out, int(k[live].sum()))


def test_infeasible_budget_is_an_error_naming_the_layer():
    with pytest.raises(SolverError, match="layer4.0.conv1.*infeasible budget 37"):
        solve_layer(LayerProblem("layer4.0.conv1", 2, np.ones(2), 9, 37, 9, 0.01, 1.0))


def test_time_limit_is_an_error_naming_the_layer():
    rng = np.random.default_rng(1)
    problem = LayerProblem("big", 64, rng.random(512), 9, 3000, 6, 0.01, 2.0)
    with pytest.raises(SolverError, match="big: the MILP solver hit the time limit"):
        solve_layer(problem, time_limit=1e-7)


def test_variables_for_the_top_inputs_only_keep_the_optimum():
    from scipy.optimize import milp

    from sparsegraph.pruning.npb.milp import build_model, column_sums

    rng = np.random.default_rng(5)
    for trial in range(60):
        c_in = int(rng.integers(5, 40))
        p_in = np.round(rng.random(c_in) * 5) * (rng.random(c_in) < 0.8)  # ties and dead inputs
        c_out, max_p = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        budget = min(int(rng.integers(1, 30)), c_out * c_in * max_p)
        problem = LayerProblem("t", c_out, p_in, 9, budget, max_p, float(rng.random()), float(rng.random() * 2),
                               ("code", "paths")[trial % 2])
        cost, constraints, integrality, bounds = build_model(problem)  # every input gets variables
        x = milp(cost, constraints=constraints, integrality=integrality, bounds=bounds,
                 options={"mip_rel_gap": 1e-12}).x
        s = column_sums(x, (np.arange(c_in),) * 3, c_in)
        counts = kernel_counts(s, np.minimum(s, problem.c_out), problem.c_out, problem.max_p,
                               problem.live_inputs())
        assert solve_layer(problem).terms.objective == pytest.approx(layer_terms(counts, problem).objective,
                                                                     abs=1e-9)
