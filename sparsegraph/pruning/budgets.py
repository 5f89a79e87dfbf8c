"""Per-layer budgets t_l for layer-scope selection: uniform, ER and ERK (spec pruning §1.4, §2).

Budgets are real numbers with Σ t_l = d·N; :func:`sparsegraph.pruning.counts.allocate` turns them into
exact integer counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sparsegraph.errors import UsageError

ALLOCATIONS = ("uniform", "er", "erk")


@dataclass(frozen=True)
class ErkBudget:
    """ER/ERK budgets: ``targets`` t_l, the scale ε and the indices of the layers forced dense."""

    targets: np.ndarray
    epsilon: float
    dense: tuple[int, ...]


def raw_density(shape: Sequence[int], kind: str) -> float:
    """The un-normalised ERK / ER density p_l of one weight shape.

    ERK: (sum of dims)/(product of dims), i.e. conv (C_out + C_in + k_h + k_w)/(C_out·C_in·k_h·k_w) and
    linear (n_out + n_in)/(n_out·n_in). ER (RigL ``include_kernel=False``): (C_in + C_out)/(C_in·C_out), the
    kernel ignored; equal to ERK for linear layers.
    """
    dims = [int(s) for s in shape]
    if kind == "er":
        dims = dims[:2]
    elif kind != "erk":
        raise UsageError(f"unknown ER kind {kind!r}")
    return float(sum(dims)) / float(np.prod(dims, dtype=np.float64))


def erk_budgets(shapes: Sequence[Sequence[int]], density: float, *, kind: str = "erk",
                power: float = 1.0) -> ErkBudget:
    """ER / ERK budgets with dense capping (Evci et al. 2020, ``google-research/rigl``).

    With D the dense layers (initially empty) solve ε·Σ_{l∉D} p_l^γ·N_l = d·Σ_{l∉D} N_l − (1 − d)·Σ_{l∈D} N_l;
    while ε·max_{l∉D} p_l^γ > 1, move every layer whose p_l^γ equals that maximum into D and solve again.
    Budgets: t_l = N_l on D, ε·p_l^γ·N_l elsewhere (Σ t_l = d·N). γ = ``power`` (``erk_power_scale``);
    γ = 0 gives uniform budgets.

    Args:
        shapes: weight shapes in MaskSet order.
        density: d ∈ (0, 1].
        kind: ``"erk"`` or ``"er"``.
        power: γ.
    """
    sizes = np.array([float(np.prod(s, dtype=np.float64)) for s in shapes])
    p = np.array([raw_density(s, kind) for s in shapes]) ** float(power)
    dense = np.zeros(len(sizes), dtype=bool)
    d = float(density)
    while True:
        free = ~dense
        if not free.any():
            return ErkBudget(sizes.copy(), float("nan"), tuple(range(len(sizes))))
        rhs = d * sizes[free].sum() - (1.0 - d) * sizes[dense].sum()
        epsilon = rhs / float((p[free] * sizes[free]).sum())
        top = p[free].max()
        if epsilon * top > 1.0:
            dense |= free & (p == top)
            continue
        targets = np.where(dense, sizes, epsilon * p * sizes)
        return ErkBudget(targets, float(epsilon), tuple(int(i) for i in np.flatnonzero(dense)))


def uniform_budgets(sizes: Sequence[int], total: int) -> np.ndarray:
    """t_l = K·N_l/N."""
    n = np.asarray(sizes, dtype=np.float64)
    return float(total) * n / n.sum()


def layer_budgets(allocation: str, shapes: Sequence[Sequence[int]], density: float, total: int, *,
                  power: float = 1.0) -> np.ndarray:
    """Budgets t_l for ``allocation`` ∈ {uniform, er, erk}: uniform sums to K = ``total``, ER/ERK to d·N."""
    sizes = [int(np.prod(s)) for s in shapes]
    if allocation == "uniform":
        return uniform_budgets(sizes, total)
    if allocation in ("er", "erk"):
        return erk_budgets(shapes, density, kind=allocation, power=power).targets
    raise UsageError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
