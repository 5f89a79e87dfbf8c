"""``spectral.*``: singular values and weighted spectral gaps of one layer (metrics.md §2, §3).

Every function takes a :class:`~sparsegraph.graphs.bipartite.BipartiteGraph` and the options
``convention`` (``neurips2023`` default, or ``iclr2023``), ``aggregate`` (read by the registry),
``solver`` (``auto``, ``dense``, ``gram``, ``lanczos``) and ``device``; all quantities come from the shared
:mod:`~sparsegraph.metrics.spectral_kernel` record of the layer.

``S`` is the unweighted support, ``A_w = |W_F ⊙ F|`` the weighted biadjacency with support ``S_w ⊂ S``,
and ``A_w'`` is ``A_w`` without the isolated nodes of ``S_w``.
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.errors import MetricError
from sparsegraph.metrics import ramanujan
from sparsegraph.metrics.info import MetricResult
from sparsegraph.metrics.registry import register_metric, register_preparer
from sparsegraph.metrics.spectral_kernel import CONVENTIONS, layer_spectra, prepare

_COMMON = dict(scope="layer", encoding="rolled", conventions=CONVENTIONS)


def _require_weights(graph, name: str) -> None:
    if not graph.weighted:
        raise MetricError(f"metric {name} requires weights; the graph was built from a mask only")


def _sigma(graph, convention: str, solver: str, device, index: int) -> MetricResult:
    spectra = layer_spectra(graph, convention=convention, solver=solver, device=device)
    extras = spectra.extras()
    if spectra.mask.num_edges == 0:
        return MetricResult(None, "undefined", "empty layer: no edges", extras=extras)
    return MetricResult((spectra.mask.sigma1, spectra.mask.sigma2)[index], extras=extras)


@register_metric(name="spectral.mu0", requires_weights=False, higher_is_better=None, units="eigenvalue",
                 aggregate="valid_mean", description="largest singular value sigma1(S) of the layer's support",
                 source=f"[ICLR23] t1m: {ramanujan.ICLR23}", **_COMMON)
def mu0(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
        device=None) -> MetricResult:
    """Largest eigenvalue ``μ0 = σ1(S)`` of the support's adjacency, no threshold (undefined if empty).

    Source: [ICLR23] ``t1m`` (its code reports it only where the Δr threshold passes).
    """
    return _sigma(graph, convention, solver, device, 0)


@register_metric(name="spectral.mu_hat", requires_weights=False, higher_is_better=None, units="eigenvalue",
                 aggregate="valid_mean", description="second singular value sigma2(S) of the layer's support",
                 source=f"[ICLR23] t2m: {ramanujan.ICLR23}", **_COMMON)
def mu_hat(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
           device=None) -> MetricResult:
    """Non-trivial eigenvalue ``μ̂ = σ2(S)``, no threshold (undefined if empty).

    Source: [ICLR23] ``t2m``: the third-largest |eigenvalue| of ``[[0, S], [Sᵀ, 0]]`` with multiplicity,
    so a degenerate top singular value gives ``μ̂ = μ0``.

    Example:
        Two disjoint copies of one block share their top singular value.

        >>> import torch, sparsegraph as sg
        >>> block = torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.bool)
        >>> g = sg.bipartite(torch.block_diag(block, block))
        >>> round(mu0(g).value, 9) == round(mu_hat(g).value, 9) == round(3 ** 0.5, 9)
        True
    """
    return _sigma(graph, convention, solver, device, 1)


@register_metric(name="spectral.lambda", requires_weights=True, higher_is_better=True, units="eigenvalue(|w|)",
                 aggregate=ramanujan.GAP_AGGREGATE,
                 description="weighted spectral gap sigma1(A_w') - sigma2(A_w') (if the weighted threshold passes)",
                 source=f"[NeurIPS23] lambda: {ramanujan.NEURIPS23}", **_COMMON)
def spectral_gap(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
                 device=None) -> MetricResult:
    """Weighted spectral gap ``λ = σ1(A_w') − σ2(A_w')``, defined if ``T(S_w)``.

    Source: [NeurIPS23] λ. Under neurips2023 ``S_w`` may be smaller than the mask (kept weights equal to
    0); under iclr2023 (sg) ``S_w = S`` and the ICLR threshold applies.
    """
    _require_weights(graph, "spectral.lambda")
    spectra = layer_spectra(graph, convention=convention, solver=solver, device=device)
    extras = spectra.extras(weighted=True)
    w = spectra.weighted
    if not w.threshold_ok:
        return MetricResult(None, "undefined", w.threshold_reason, extras=extras)
    return MetricResult(w.sigma1 - w.sigma2, extras=extras)


@register_metric(name="spectral.lambda_imsg", requires_weights=True, higher_is_better=True,
                 units="eigenvalue(|w|)", aggregate=ramanujan.GAP_AGGREGATE,
                 description="iterative mean weighted spectral gap over the valid fan-out groups",
                 source=f"[NeurIPS23] lambda_imsg: {ramanujan.NEURIPS23}", **_COMMON)
def lambda_imsg(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
                device=None) -> MetricResult:
    """Iterative mean spectral gap ``λ_imsg = (1/|V|)·Σ_{K∈V} c_K·(σ1(W_K) − σ2(W_K))``.

    ``V`` and ``c_K`` are the valid fan-out groups and weights of :func:`ramanujan.imdb` (decided on
    ``S``). ``W_K = A_w[K, :]`` without its isolated nodes; under neurips2023 it must pass its own test
    (mean fan-out of its nonzero rows ≥ 3 and ``E_w,K > n_out,w(K)``), else the whole metric is undefined
    (the code's ``+inf``); under iclr2023 ``S_w = S`` and the group rule is the test. With ``V`` empty:
    0 (neurips2023) or undefined (iclr2023). Source: [NeurIPS23] code.
    """
    _require_weights(graph, "spectral.lambda_imsg")
    spectra = layer_spectra(graph, convention=convention, solver=solver, device=device)
    g = spectra.groups
    failed = g.valid & ~g.w_valid
    if failed.any():
        f = int(g.fan_out[np.flatnonzero(failed)[0]])
        return MetricResult(None, "undefined", f"weighted threshold failed in fan-out group f={f}",
                            extras=spectra.extras(weighted=True, groups=True))
    return ramanujan.group_mean(spectra, g.w_sigma1 - g.w_sigma2, "spectral.lambda_imsg", weighted=True)


@register_metric(name="spectral.full_spectrum", requires_weights=True, higher_is_better=True, units="eigenvalue",
                 aggregate="mean",
                 description="full-spectrum norm sqrt(delta_r^2 + lambda^2 + imdb^2 + lambda_imsg^2), undefined as 0",
                 source=f"[NeurIPS23] total_spectrum_measurement: {ramanujan.NEURIPS23}", **_COMMON)
def full_spectrum(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
                  device=None) -> MetricResult:
    """Full-spectrum coordinate ``sqrt(Δr² + λ² + IMDB² + λ_imsg²)`` in float64.

    The axes are ``ramanujan.delta_r``, ``spectral.lambda``, ``ramanujan.imdb`` and
    ``spectral.lambda_imsg`` under the same convention; an undefined axis (the code's ``+inf``) counts as
    0 inside the norm only, so the value is always defined (0 for an empty layer). Source: [NeurIPS23]
    ``total_spectrum_measurement``; the paper's "ℓ2 moving distance" is the network mean of this value.
    """
    _require_weights(graph, "spectral.full_spectrum")
    options = dict(convention=convention, solver=solver, device=device)
    axes = {
        "ramanujan.delta_r": ramanujan.delta_r(graph, **options).value,
        "spectral.lambda": spectral_gap(graph, **options).value,
        "ramanujan.imdb": ramanujan.imdb(graph, **options).value,
        "spectral.lambda_imsg": lambda_imsg(graph, **options).value,
    }
    value = math.sqrt(sum(0.0 if v is None else v * v for v in axes.values()))
    return MetricResult(value, extras={"axes": axes})


register_preparer("spectral", prepare)
