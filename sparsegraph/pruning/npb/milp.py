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
interchangeable. A pair (s_j, k_j) is realisable iff ``k_j ≤ s_j ≤ max_p·k_j`` and ``k_j ≤ C_out``, and laying
the non-empty kernels of consecutive columns on consecutive outputs (cyclically) covers
``min(C_out, Σ_j k_j)`` outputs, the most any M with these k_j can cover. So the MILP over
``(s, k, u, v)`` below has the same optimum as the kernel-level MILP over M (``C_out·C_in`` integers
plus one zero-kernel indicator each), with ``3·C_in + 1`` variables: whole 512×512 layers solve in
milliseconds. The pos(·) node terms are the auxiliary variables ``u_j ≥ 1 − s_j`` and
``v ≥ C_out − Σ_j k_j`` (integral at the optimum because s and k are integers)::

    maximise   −α/(C_in+C_out)·(Σ u + v) + (1−α)/max_path·Σ P_j s_j + β/n·Σ k_j   (+ constants)
    subject to k_j ≤ s_j ≤ max_p·k_j,  Σ s_j = n,  s_j + u_j ≥ 1,  Σ_j k_j + v ≥ C_out,
               s_j ∈ {0…max_p·C_out}, k_j ∈ {0…C_out}, u_j ∈ [0, 1], v ∈ [0, C_out].

The budget is an equality: every term is non-decreasing in M, so ``Σ M ≤ n`` and ``Σ M = n`` have the same
optimum, and the layer keeps exactly n. The optimum is required to a relative gap of 1e-9.
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


def build_model(problem: LayerProblem):
    """The column model's ``(c, constraints, integrality, bounds)`` for ``scipy.optimize.milp``.

    Variables ``x = [s (C_in), k (C_in), u (C_in), v]``; everything is built with ``scipy.sparse``.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint

    c_in, c_out, n = problem.c_in, problem.c_out, problem.budget
    live = problem.live_inputs()
    normaliser = max_path(problem.p_in, c_out, problem.max_p, n)
    node_weight = problem.alpha / (c_in + c_out)
    path_weight = (1.0 - problem.alpha) / normaliser if normaliser > 0 else 0.0
    p = np.asarray(problem.p_in, dtype=np.float64)
    # milp minimises: the negated objective without its constants
    cost = np.concatenate([-path_weight * p, np.full(c_in, -problem.beta / n), np.full(c_in, node_weight),
                           [node_weight]])
    eye = sp.identity(c_in, format="csr")
    zero = sp.csr_matrix((c_in, c_in))
    col = sp.csr_matrix((c_in, 1))
    ones = sp.csr_matrix(np.ones((1, c_in)))
    rows = sp.vstack([
        sp.hstack([eye, -eye, zero, col]),                       # s_j − k_j ≥ 0
        sp.hstack([eye, -problem.max_p * eye, zero, col]),       # s_j − max_p·k_j ≤ 0
        sp.hstack([ones, sp.csr_matrix((1, 2 * c_in + 1))]),     # Σ s = n
        sp.hstack([eye, zero, eye, col]),                        # s_j + u_j ≥ 1
        sp.hstack([sp.csr_matrix((1, c_in)), sp.csr_matrix(live.astype(np.float64)[None]),
                   sp.csr_matrix((1, c_in)), sp.csr_matrix([[1.0]])]),  # Σ_live k + v ≥ C_out
    ], format="csr")
    lower = np.concatenate([np.zeros(c_in), np.full(c_in, -np.inf), [n], np.ones(c_in), [c_out]])
    upper = np.concatenate([np.full(c_in, np.inf), np.zeros(c_in), [n], np.full(c_in, np.inf), [np.inf]])
    # inputs that do not count in A (node_term="paths", P_in = 0) have u fixed at 1
    u_low = np.where(live, 0.0, 1.0)
    bounds = Bounds(np.concatenate([np.zeros(2 * c_in), u_low, [0.0]]),
                    np.concatenate([np.full(c_in, problem.max_p * c_out), np.full(c_in, c_out), np.ones(c_in),
                                    [c_out]]).astype(np.float64))
    integrality = np.concatenate([np.ones(2 * c_in), np.zeros(c_in + 1)])
    return cost, LinearConstraint(rows, lower, upper), integrality, bounds


def solve_layer(problem: LayerProblem, time_limit: float | None = None) -> LayerSolution:
    """The exact optimum of ``problem`` (HiGHS through ``scipy.optimize.milp``, relative gap ≤ 1e-9).

    Raises:
        SolverError: infeasible budget, solver failure or time limit; the message names the layer.
    """
    from scipy.optimize import milp

    check_problem(problem)
    cost, constraints, integrality, bounds = build_model(problem)
    options = {"mip_rel_gap": MIP_REL_GAP, "disp": False}
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
    c_in = problem.c_in
    s = np.rint(result.x[:c_in]).astype(np.int64)
    k = np.rint(result.x[c_in:2 * c_in]).astype(np.int64)
    k = np.where(s > 0, np.maximum(k, 1), 0)  # columns with taps have a kernel (exact at the optimum)
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
