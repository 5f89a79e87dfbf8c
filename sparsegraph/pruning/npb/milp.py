"""One NPB layer MILP: the objective, its terms, and its exact optimum with HiGHS (spec pruning §2 ``npb``).

A layer (or a chunk of its output channels) with C_out outputs, C_in inputs and kernels of T taps chooses
``M[i, j] ∈ {0, …, max_p}``, the kept taps of kernel (output i, input j), under the budget ``Σ M = n`` and
maximises ``α·A + (1 − α)·B + β·Reg`` with

* ``A = (C_in + C_out − Σ_j pos(1 − Σ_i M[i,j]) − Σ_i pos(1 − Σ_j M[i,j])) / (C_in + C_out)`` (channels with
  at least one tap; ``node_term="paths"`` counts input j only if P_in[j] > 0 and output i only through
  such inputs),
* ``B = Σ_{i,j} P_in[j]·M[i,j] / max_path`` (paths through the layer, normalised by the budget poured into
  the highest-P_in inputs first),
* ``Reg = (n − #{(i,j): M[i,j] = 0}) / n`` (kernels that keep a tap).

**The solved model.** The objective depends on M only through the column sums ``s_j = Σ_i M[i,j]``, the
non-empty kernels per column ``k_j = #{i: M[i,j] ≥ 1}`` and the covered outputs; outputs are
interchangeable. A pair (s_j, k_j) is realisable iff ``k_j ≤ s_j ≤ max_p·k_j`` and ``k_j ≤ C_out``; every
term is non-decreasing in k_j, so ``k_j = min(s_j, C_out)`` is optimal (and realisable whenever
``s_j ≤ max_p·C_out``), and laying the non-empty kernels of consecutive columns on consecutive outputs
(cyclically) covers ``min(C_out, Σ_j k_j)`` outputs, the most any M with these k_j covers. Each column's
value is then concave in s_j, with three slopes: the first tap (``a_j ∈ {0, 1}``: path, kernel and the
input node), taps 2…C_out (``b_j``: path and kernel) and the rest up to ``max_p·C_out`` (``c_j``: path
only). Decreasing slopes make the segment variables fill in order at an optimum, so the MILP over
``(a, b, c, v)``, ``s_j = a_j + b_j + c_j``, has the same optimum as the kernel-level MILP over M
(``C_out·C_in`` integers plus one zero-kernel indicator each), with ``3·C_in + 1`` variables and two rows;
whole 512×512 layers solve in milliseconds. The pos(·) node terms are the first-tap segments and the
auxiliary ``v ≥ C_out − Σ_j (a_j + b_j)`` (uncovered outputs)::

    maximise   Σ_j [(w_B·P_j + β/n + w_A)·a_j + (w_B·P_j + β/n)·b_j + w_B·P_j·c_j] − w_A·v   (+ constants)
    subject to Σ_j (a_j + b_j + c_j) = n,  Σ_j (a_j + b_j) + v ≥ C_out,
               a_j ∈ {0, 1}, b_j ∈ {0…C_out − 1}, c_j ∈ {0…(max_p − 1)·C_out}, v ∈ [0, C_out],

with ``w_A = α/(C_in + C_out)`` and ``w_B = (1 − α)/max_path`` (``node_term="paths"``: inputs without
paths get no ``w_A`` and do not cover outputs). The budget is an equality: every term is
non-decreasing in M, so ``Σ M ≤ n`` and ``Σ M = n`` have the same optimum, and the layer keeps exactly n.
The optimum is required to a relative gap of 1e-9; the terms are recomputed from the integer M.

Only the highest-P_in inputs get variables (:func:`candidate_columns`): A, Reg and the coverage depend
on the multiset of the s_j within each group (inputs that count in A, the others) and B grows when
larger s_j sit on larger P_in, so some optimum has s_j non-increasing in P_in within each group, and
at most n/t columns hold t or more taps. The constraint matrix is
totally unimodular (0/1 columns with consecutive ones), so the root LP is integral; presolve is off
(on this model HiGHS's presolve costs ~40× the solve).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from sparsegraph.errors import SolverError, UsageError

NODE_TERMS = ("code", "paths")
MIP_REL_GAP = 1e-9


@dataclass(frozen=True)
class LayerProblem:
    """One layer (or chunk) MILP.

    Attributes:
        name: the layer (and chunk) named in errors.
        c_out: output channels (rows of M).
        p_in: paths into each input channel, float64 (any common positive scale), length C_in.
        taps: taps per kernel T (k_h·k_w; 1 for linear layers).
        budget: n, the taps kept.
        max_p: the most taps per kernel (≤ T).
        alpha, beta: the objective's weights.
        node_term: ``"code"`` (A ignores P_in, as the released code) or ``"paths"`` (the paper's A).
        alive: input channels with P_in > 0 (decided exactly, even where ``p_in`` underflows); None: p_in > 0.
    """

    name: str
    c_out: int
    p_in: np.ndarray
    taps: int
    budget: int
    max_p: int
    alpha: float
    beta: float
    node_term: str = "code"
    alive: np.ndarray | None = None

    @property
    def c_in(self) -> int:
        return int(len(self.p_in))

    def live_inputs(self) -> np.ndarray:
        """Bool per input channel: it counts in A (all of them under ``node_term="code"``)."""
        if self.node_term == "code":
            return np.ones(self.c_in, dtype=bool)
        return np.asarray(self.p_in > 0 if self.alive is None else self.alive, dtype=bool)


@dataclass(frozen=True)
class LayerTerms:
    """The objective of one M: ``objective = α·A + (1 − α)·B + β·Reg``; ``max_path`` is B's normaliser."""

    A: float
    B: float
    Reg: float
    objective: float
    max_path: float


@dataclass(frozen=True)
class ModelSize:
    """The solved MILP's size: variables (of which integer), constraint rows and matrix nonzeros."""

    variables: int
    integers: int
    constraints: int
    nonzeros: int


@dataclass(frozen=True)
class LayerSolution:
    """An optimal M (``counts``, shape (C_out, C_in), int64), its terms, the model size and solver seconds."""

    counts: np.ndarray
    terms: LayerTerms
    size: ModelSize
    seconds: float


def max_path(p_in: np.ndarray, c_out: int, max_p: int, budget: int) -> float:
    """B's normaliser: ``Σ P_in·M`` when the budget fills the highest-P_in inputs first.

    Each input takes at most C_out·max_p taps; the remainder goes to the next input. (The released code
    sums every input when the budget is below one input's capacity, a slicing slip; not reproduced.)
    """
    p = np.sort(np.asarray(p_in, dtype=np.float64))[::-1]
    capacity = int(c_out) * int(max_p)
    full = min(int(budget) // capacity, len(p))
    value = capacity * float(p[:full].sum())
    if full < len(p):
        value += (int(budget) - full * capacity) * float(p[full])
    return value


def layer_terms(counts: np.ndarray, problem: LayerProblem) -> LayerTerms:
    """A, B, Reg and the objective of the kernel counts ``counts`` (C_out, C_in) for ``problem``."""
    m = np.asarray(counts, dtype=np.int64)
    live = problem.live_inputs()
    alive_in = int(((m.sum(axis=0) >= 1) & live).sum())
    alive_out = int((m[:, live].sum(axis=1) >= 1).sum())
    a = (alive_in + alive_out) / (problem.c_in + problem.c_out)
    normaliser = max_path(problem.p_in, problem.c_out, problem.max_p, problem.budget)
    b = float(np.asarray(problem.p_in, dtype=np.float64) @ m.sum(axis=0)) / normaliser if normaliser > 0 else 0.0
    reg = (problem.budget - int((m == 0).sum())) / problem.budget
    objective = problem.alpha * a + (1.0 - problem.alpha) * b + problem.beta * reg
    return LayerTerms(float(a), float(b), float(reg), float(objective), float(normaliser))


def check_problem(problem: LayerProblem) -> None:
    """Refuse what has no feasible M: budget outside [1, C_out·C_in·max_p], max_p outside [1, T]."""
    capacity = problem.c_out * problem.c_in * problem.max_p
    if problem.node_term not in NODE_TERMS:
        raise UsageError(f"npb_node_term must be one of {NODE_TERMS}, got {problem.node_term!r}")
    if not 1 <= problem.max_p <= problem.taps:
        raise SolverError(f"npb: layer {problem.name}: max taps per kernel {problem.max_p} is outside "
                          f"[1, {problem.taps}]")
    if not 1 <= problem.budget <= capacity:
        raise SolverError(f"npb: layer {problem.name}: infeasible budget {problem.budget} (at most "
                          f"{capacity} = {problem.c_out}×{problem.c_in}×{problem.max_p} taps fit)")


def candidate_columns(problem: LayerProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs that get an a, b and c variable (see the module docstring), sorted.

    At most ``n / t`` columns hold t or more taps, and within each group (inputs that count in A, the
    others) an optimum has s_j non-increasing in P_in, so the a, b and c variables go to the
    ``n``, ``n // 2`` and ``n // (C_out + 1)`` highest-P_in inputs of each group.
    """
    p = np.asarray(problem.p_in, dtype=np.float64)
    live = problem.live_inputs()
    orders = [group[np.argsort(-p[group], kind="stable")] for group in (np.flatnonzero(live), np.flatnonzero(~live))]
    n = problem.budget
    return tuple(np.sort(np.concatenate([order[:limit] for order in orders]))
                 for limit in (n, n // 2, n // (problem.c_out + 1)))


def build_model(problem: LayerProblem, columns: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
    """The segment model's ``(c, constraints, integrality, bounds)`` for ``scipy.optimize.milp``.

    Variables ``x = [a, b, c, v]`` with a, b, c for the inputs in ``columns`` (default: every input);
    the two rows are built with ``scipy.sparse``.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint

    c_out, n = problem.c_out, problem.budget
    if columns is None:
        columns = (np.arange(problem.c_in),) * 3
    cols_a, cols_b, cols_c = columns
    live = problem.live_inputs().astype(np.float64)
    normaliser = max_path(problem.p_in, c_out, problem.max_p, n)
    node_weight = problem.alpha / (problem.c_in + c_out)
    path = ((1.0 - problem.alpha) / normaliser if normaliser > 0 else 0.0) * np.asarray(problem.p_in, np.float64)
    kernel = problem.beta / n
    # milp minimises: the negated objective without its constants
    cost = -np.concatenate([path[cols_a] + kernel + node_weight * live[cols_a], path[cols_b] + kernel,
                            path[cols_c], [-node_weight]])
    sizes = (len(cols_a), len(cols_b), len(cols_c))
    rows = sp.csr_matrix(np.vstack([np.concatenate([np.ones(sum(sizes)), [0.0]]),  # Σ s = n
                                    np.concatenate([live[cols_a], live[cols_b], np.zeros(sizes[2]), [1.0]])]))
    constraints = LinearConstraint(rows, np.array([n, c_out], dtype=np.float64), np.array([n, np.inf]))
    upper = np.concatenate([np.ones(sizes[0]), np.full(sizes[1], c_out - 1),
                            np.full(sizes[2], (problem.max_p - 1) * c_out), [c_out]]).astype(np.float64)
    integrality = np.concatenate([np.ones(sum(sizes)), [0]])
    return cost, constraints, integrality, Bounds(np.zeros(sum(sizes) + 1), upper)


def column_sums(x: np.ndarray, columns: tuple[np.ndarray, np.ndarray, np.ndarray], c_in: int) -> np.ndarray:
    """s_j = a_j + b_j + c_j (int64, every input) from a solution ``x`` of :func:`build_model`."""
    s = np.zeros(c_in, dtype=np.float64)
    start = 0
    for cols in columns:
        np.add.at(s, cols, x[start:start + len(cols)])
        start += len(cols)
    return np.rint(s).astype(np.int64)


def solve_layer(problem: LayerProblem, time_limit: float | None = None) -> LayerSolution:
    """The exact optimum of ``problem`` (HiGHS through ``scipy.optimize.milp``, relative gap ≤ 1e-9).

    Raises:
        SolverError: infeasible budget, solver failure or time limit; the message names the layer.
    """
    from scipy.optimize import milp

    check_problem(problem)
    columns = candidate_columns(problem)
    cost, constraints, integrality, bounds = build_model(problem, columns)
    options = {"mip_rel_gap": MIP_REL_GAP, "presolve": False, "disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    start = time.perf_counter()
    result = milp(cost, constraints=constraints, integrality=integrality, bounds=bounds, options=options)
    seconds = time.perf_counter() - start
    if result.status != 0 or result.x is None:
        reason = {1: f"hit the time limit of {time_limit} s" if time_limit is not None else "hit an iteration limit",
                  2: "found the problem infeasible", 3: "found the problem unbounded"}.get(result.status,
                                                                                          "failed")
        raise SolverError(f"npb: layer {problem.name}: the MILP solver {reason} ({result.message.strip()})")
    s = column_sums(result.x, columns, problem.c_in)
    k = np.minimum(s, problem.c_out)
    counts = kernel_counts(s, k, problem.c_out, problem.max_p, problem.live_inputs())
    if int(counts.sum()) != problem.budget or int(counts.max(initial=0)) > problem.max_p:
        raise SolverError(f"npb: layer {problem.name}: the MILP solution is infeasible after rounding "
                          f"(kept {int(counts.sum())} of {problem.budget})")
    size = ModelSize(variables=len(cost), integers=int(integrality.sum()), constraints=constraints.A.shape[0],
                     nonzeros=int(constraints.A.nnz))
    return LayerSolution(counts, layer_terms(counts, problem), size, seconds)


def kernel_counts(s: np.ndarray, k: np.ndarray, c_out: int, max_p: int, live: np.ndarray) -> np.ndarray:
    """An M (C_out, C_in) with column sums ``s``, ``k`` non-empty kernels per column and the most covered
    outputs (``min(C_out, Σ_live k)``), the taps concentrated as a simplex vertex would.

    In each column the extra ``s_j − k_j`` taps fill kernels up to ``max_p`` one after the other
    (``max_p, …, max_p, partial, 1, …, 1``); the filled kernels sit on the same low rows in every column
    (hub outputs) and the single-tap kernels follow one cyclic sequence over the other rows, downwards
    from the last, live columns first. Should that layout collide or cover fewer outputs, the columns' kernels are
    laid out on consecutive rows cyclically instead (always covering ``min(C_out, Σ_live k)``).
    """
    s = np.asarray(s, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    c_out = int(c_out)
    order = np.argsort(~np.asarray(live, dtype=bool), kind="stable")
    extra = s - k
    step = max(int(max_p) - 1, 1)
    heavy = np.where(k > 0, np.minimum(-(-extra // step), k), 0) if max_p > 1 else np.zeros_like(k)
    # tap counts of the kernels of column j, heavy ones first
    ks = k[order]
    total = int(ks.sum())
    columns = np.repeat(order, ks)
    within = np.arange(total) - np.repeat(np.cumsum(ks) - ks, ks)
    counts_per = 1 + np.clip(extra[columns] - within * step, 0, step)
    light = within >= heavy[columns]
    light_index = np.cumsum(light) - 1
    hubs = min(int(heavy.max(initial=0)), c_out - 1)
    rows = np.where(light, hubs + (c_out - hubs - 1 - light_index) % (c_out - hubs), within)
    m = np.zeros((c_out, len(s)), dtype=np.int64)
    m[rows, columns] = counts_per
    covered = int((m[:, np.asarray(live, dtype=bool)].sum(axis=1) > 0).sum())
    if int((m > 0).sum()) == total and covered == min(c_out, int(k[np.asarray(live, dtype=bool)].sum())):
        return m
    m[:] = 0
    m[np.arange(total) % c_out, columns] = counts_per  # consecutive rows, cyclically: distinct per column
    return m


def whole_layer_max_p(max_p: int, taps: int, budget: int, c_out: int, c_in: int) -> int:
    """The code's rule: ``max_p`` (capped at the kernel's T taps) raised to ⌈n / (C_in·C_out)⌉ when larger."""
    return max(min(int(max_p), int(taps)), math.ceil(int(budget) / (int(c_in) * int(c_out))))
