"""``ramanujan.*``: Ramanujan-gap metrics of one layer's rolled biadjacency (metrics.md §2, §3).

Every function takes a :class:`~sparsegraph.graphs.bipartite.BipartiteGraph` and the options
``convention`` (``neurips2023`` default, or ``iclr2023``), ``aggregate`` (read by the registry),
``solver`` (``auto``, ``dense``, ``gram``, ``lanczos``) and ``device``. All quantities come from the shared
:mod:`~sparsegraph.metrics.spectral_kernel` record of the layer.

Notation (metrics.md §0): ``S`` is the unweighted support (neurips2023: the mask; iclr2023: the nonzero
weights), ``E = nnz(S)``, ``nL'``/``nR'`` its non-isolated inputs/outputs, ``d_in = E/nL'``,
``d_out = E/nR'``, ``σ1 ≥ σ2`` its singular values and ``ub = sqrt(d_in − 1) + sqrt(d_out − 1)``. ``T(S)``
is the convention's whole-layer threshold (neurips2023: ``E ≥ 3·nR'`` and ``E > nL'``; iclr2023:
``E ≥ 3·nL'`` and ``E ≥ 3·nR'``).
"""

from __future__ import annotations

import math

import numpy as np

from sparsegraph.metrics.info import MetricResult
from sparsegraph.metrics.registry import register_metric, register_preparer
from sparsegraph.metrics.spectral_kernel import CONVENTIONS, LayerSpectra, layer_spectra, prepare

ICLR23 = "Hoang et al., ICLR 2023, VITA-Group/ramanujan-on-pai lib/graphs/scores.py"
NEURIPS23 = "Hoang et al., NeurIPS 2023, ScottHoang/dst-ram-pruning sparselearning/ramanujan.py"
GAP_AGGREGATE = {"neurips2023": "zero_mean", "iclr2023": "valid_mean"}
# options (aggregate, solver, device) come from the functions' signatures
_COMMON = dict(scope="layer", encoding="rolled", conventions=CONVENTIONS, aggregate=GAP_AGGREGATE)


def _spectra(graph, convention: str, solver: str, device) -> LayerSpectra:
    return layer_spectra(graph, convention=convention, solver=solver, device=device)


def _whole_layer(graph, convention: str, solver: str, device, formula) -> MetricResult:
    """Apply ``formula(spectra)`` to the mask support when ``T(S)`` passes, else undefined."""
    spectra = _spectra(graph, convention, solver, device)
    extras = spectra.extras()
    if not spectra.mask.threshold_ok:
        return MetricResult(None, "undefined", spectra.mask.threshold_reason, extras=extras)
    return MetricResult(formula(spectra), extras=extras)


def group_mean(spectra: LayerSpectra, terms: np.ndarray, what: str, *, weighted: bool = False) -> MetricResult:
    """``(1/|V|)·Σ_{K∈V} c_K·terms[K]`` over the valid groups, with the convention's empty rule.

    With no valid group the value is 0 under neurips2023 and undefined under iclr2023. ``weighted``
    selects the extras (the ``S_w`` counts and the ``W_K`` singular values).
    """
    groups = spectra.groups
    extras = spectra.extras(weighted=weighted, groups=True)
    valid = groups.valid
    if not valid.any():
        if spectra.convention == "neurips2023":
            return MetricResult(0.0, extras=extras)
        reason = "empty layer: no edges" if spectra.mask.num_edges == 0 else f"no valid fan-out group for {what}"
        return MetricResult(None, "undefined", reason, extras=extras)
    return MetricResult(float(np.mean(groups.weight[valid] * terms[valid])), extras=extras)


@register_metric(name="ramanujan.delta_r", requires_weights=False, higher_is_better=True, units="eigenvalue",
                 description="Ramanujan gap ub(S) - sigma2(S) of the layer (if the degree threshold passes)",
                 source=f"[ICLR23] rm: {ICLR23}; [NeurIPS23] delta_r: {NEURIPS23}", **_COMMON)
def delta_r(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
            device=None) -> MetricResult:
    """Ramanujan gap ``Δr = ub(S) − σ2(S)``, defined if ``T(S)``.

    Source: [ICLR23] ``rm`` (ramanujan-on-pai ``ramanujan_score``); [NeurIPS23] Δr (dst-ram-pruning
    ``Ramanujan``). ``σ2`` is the third-largest |eigenvalue| of the adjacency, i.e. σ2 of the biadjacency.
    ``convention`` picks the support and threshold; ``Δr`` is identical under both when both pass on the
    same support.

    Example:
        A dense layer with 10 inputs and 5 outputs is ``K_{10,5}``: ``σ2 = 0`` and ``Δr = sqrt(4) + sqrt(9)``.

        >>> import torch, sparsegraph as sg
        >>> delta_r(sg.bipartite(torch.ones(5, 10, dtype=torch.bool))).value
        5.0
    """
    return _whole_layer(graph, convention, solver, device, lambda s: s.mask.upper_bound - s.mask.sigma2)


@register_metric(name="ramanujan.delta_r_norm", requires_weights=False, higher_is_better=True, units="fraction",
                 description="normalised Ramanujan gap 1 - sigma2(S)/ub(S) (if the degree threshold passes)",
                 source=f"[ICLR23] rm/rm_ub: {ICLR23}", **_COMMON)
def delta_r_norm(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
                 device=None) -> MetricResult:
    """Normalised Ramanujan gap ``1 − σ2(S)/ub(S)``, defined if ``T(S)``.

    Source: [ICLR23] ``rm/rm_ub`` (plotted as "Δr"). Under neurips2023 (sg) it uses the NeurIPS support
    and threshold.
    """
    return _whole_layer(graph, convention, solver, device, lambda s: 1.0 - s.mask.sigma2 / s.mask.upper_bound)


@register_metric(name="ramanujan.delta_s", requires_weights=False, higher_is_better=True, units="eigenvalue",
                 description="spectral gap 2*sqrt(sigma1(S) - 1) - sigma2(S) (if the degree threshold passes)",
                 source=f"[ICLR23] sm: {ICLR23}", **_COMMON)
def delta_s(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
            device=None) -> MetricResult:
    """Spectral Ramanujan gap ``Δs = 2·sqrt(σ1(S) − 1) − σ2(S)``, defined if ``T(S)``.

    Source: [ICLR23] ``sm``. Under neurips2023 (sg) it uses the NeurIPS support and threshold.
    """
    return _whole_layer(graph, convention, solver, device,
                        lambda s: 2.0 * math.sqrt(max(s.mask.sigma1 - 1.0, 0.0)) - s.mask.sigma2)


@register_metric(name="ramanujan.imdb", requires_weights=False, higher_is_better=True, units="eigenvalue",
                 description="iterative mean difference of bound: mean of c_K*(ub_K - sigma2(B_K)) over valid groups",
                 source=f"[ICLR23] irm: {ICLR23}; [NeurIPS23] IMDB: {NEURIPS23}", **_COMMON)
def imdb(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
         device=None) -> MetricResult:
    """Iterative mean difference of bound ``IMDB = (1/|V|)·Σ_{K∈V} c_K·(ub_K − σ2(B_K))``.

    ``K`` runs over the fan-out groups of ``S`` (inputs of equal fan-out ``f``, ``c`` of them, reaching
    ``n_out(K)`` outputs; ``ub_K = sqrt(f−1) + sqrt(c·f/n_out(K) − 1)``). neurips2023
    (dst-ram-pruning ``iterative_mean_score``): groups with ``c ≥ 2``, valid if ``f ≥ 3`` and
    ``c·f > n_out(K)``, Cheeger-like ``c_K = max(c, n_out)/(c + n_out − 1)``, 0 with no valid group.
    iclr2023 (ramanujan-on-pai ``find_d_left_regular``): ``c ≥ 3``, valid if ``f ≥ 3`` and
    ``c·f ≥ 3·n_out(K)``, ``c_K = 1``, undefined with no valid group. No whole-layer threshold.
    """
    spectra = _spectra(graph, convention, solver, device)
    g = spectra.groups
    return group_mean(spectra, g.upper_bound - g.sigma2, "ramanujan.imdb")


@register_metric(name="ramanujan.imdb_norm", requires_weights=False, higher_is_better=True, units="fraction",
                 description="normalised IMDB: mean over valid fan-out groups of c_K*(1 - sigma2(B_K)/ub_K)",
                 source=f"[ICLR23] irm_norm: {ICLR23}", **_COMMON)
def imdb_norm(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
              device=None) -> MetricResult:
    """Normalised IMDB ``(1/|V|)·Σ_{K∈V} c_K·(1 − σ2(B_K)/ub_K)`` (groups as in :func:`imdb`).

    Source: [ICLR23] ``irm_norm`` (plotted as "IMDB"). Under neurips2023 (sg) it uses the NeurIPS group
    rules and Cheeger-like weights.
    """
    spectra = _spectra(graph, convention, solver, device)
    g = spectra.groups
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = 1.0 - g.sigma2 / g.upper_bound  # ub_K > 0 on every valid group (f ≥ 3)
    return group_mean(spectra, terms, "ramanujan.imdb_norm")


@register_metric(name="ramanujan.narc", requires_weights=False, higher_is_better=None, units="dimensionless",
                 description="normalised Ramanujan connectivity (NaRC) of the layer (if the degree threshold passes)",
                 source=f"[ICLR23] NaRC (random_factor): {ICLR23}", **_COMMON)
def narc(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
         device=None) -> MetricResult:
    """NaRC as the [ICLR23] code computes it, defined if ``T(S)``.

    ``NaRC = [(σ2²/4 + 1)·sqrt(nL'·nR') − |2E − E·nR'/nR|] / (nL·nR)``, where ``nL``, ``nR`` are the
    unfiltered sizes and ``E·nR'/nR = (d_in/nR)·nL'·nR'``. A dense 10×64 layer gives
    ``(sqrt(640) − 640)/640``. Under neurips2023 (sg) it uses the NeurIPS support and threshold.
    """
    def formula(s: LayerSpectra) -> float:
        m = s.mask
        edges = float(m.num_edges)
        spread = abs(2.0 * edges - edges * m.num_right / s.num_right)
        return ((m.sigma2 ** 2 / 4.0 + 1.0) * math.sqrt(m.num_left * m.num_right) - spread) / (s.num_left * s.num_right)

    return _whole_layer(graph, convention, solver, device, formula)


@register_metric(name="ramanujan.mixing", requires_weights=False, higher_is_better=None, units="eigenvalue",
                 description="expander-mixing term of the layer (if the degree threshold passes)",
                 source=f"[NeurIPS23] code, full-layer mixing term: {NEURIPS23}", **_COMMON)
def mixing(graph, *, convention: str = "neurips2023", aggregate: str = "auto", solver: str = "auto",
           device=None) -> MetricResult:
    """Expander-mixing term ``[σ2·sqrt(nL'·nR') − |2E − E·nL'/N|] / N`` with ``N = nL' + nR'``, if ``T(S)``.

    Source: the [NeurIPS23] code, where it replaced NaRC (its "left" side is the outputs, so its term with
    the right-side count is ``E·nL'/N`` here). Under iclr2023 (sg) it uses the ICLR support and threshold.
    """
    def formula(s: LayerSpectra) -> float:
        m = s.mask
        total = m.num_left + m.num_right
        edges = float(m.num_edges)
        return (m.sigma2 * math.sqrt(m.num_left * m.num_right) - abs(2.0 * edges - edges * m.num_left / total)) / total

    return _whole_layer(graph, convention, solver, device, formula)


register_preparer("ramanujan", prepare)
