"""The 16 multipartite topometrics ``topo.*`` of [MGE24] (metrics.md §6).

Source: Cunegatti, Farina, Bucur, Iacca, *Understanding Sparse Neural Networks from their Topology via
Multipartite Graph Representations*, TMLR 2024 ([MGE24]); code eliacunegatti/mge-snn (``main.py``).

Every metric is registered with scope ``graph`` and encoding ``mge``: the target is a
``MultipartiteGraph`` (``sg.encode(model, masks, encoding="mge")``), or any bipartite layer graph used
layer-wise (``P_0`` = left, ``P_last`` = right). ``N`` is the node count, ``E`` the edge count, ``d⁺``/``d⁻``
the out/in-degree, and weights are the stored ``|w|`` (float16-rounded on ``compat="mge2024"`` graphs, 1 on
mask-only graphs).

Options shared by every topo metric:

* ``normalize=False``: divide the raw value by ``N`` or ``E`` as in the published CSVs (see each metric;
  a zero divisor makes the value undefined).
* ``compat=None``: ``"mge2024"`` selects the authors' ``main.py`` formulas where they differ (sinks,
  sources, removable edges, motif sampling). The default is the graph's own ``attrs["compat"]``; the option
  applies to multipartite targets only (bipartite targets always use the clean formulas).

Example:
    A layer whose kept weights all leave input 0 strands the other two inputs: they are disconnected
    nodes, each a component of its own.

    >>> import torch, sparsegraph as sg
    >>> from sparsegraph.metrics import compute
    >>> layer = sg.bipartite(torch.tensor([[1, 0, 0], [1, 0, 0]], dtype=torch.bool))  # 2 outputs x 3 inputs
    >>> compute("topo.disconnected_nodes", layer), compute("topo.components", layer)
    (2.0, 3.0)

``topo.motifs`` also takes ``motif_method="auto"``, ``motif_sample_rate=0.001``, ``motif_seed=0`` and
``motif_exact_budget=10_000_000`` (see :mod:`sparsegraph.metrics.motifs`).

Shared quantities (degrees, CSR adjacency, the igraph multigraph, components, eigenvalues) are computed
once per graph in a :class:`~sparsegraph.metrics.topo_kernel.TopoView`, kept in the ``measure`` call's
:class:`~sparsegraph.metrics.cache.MetricCache` (wrap plain :func:`~sparsegraph.metrics.compute` calls in
``metric_cache()`` to share it across them).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from sparsegraph.errors import UsageError
from sparsegraph.graphs.bipartite import BipartiteGraph
from sparsegraph.metrics import topo_kernel as kernel
from sparsegraph.metrics.cache import current_cache
from sparsegraph.metrics.info import MetricResult
from sparsegraph.metrics.motifs import METHODS, count_motifs
from sparsegraph.metrics.registry import register_metric

SOURCE = "[MGE24] Cunegatti et al., TMLR 2024; eliacunegatti/mge-snn (main.py)"
COMPAT_MODES = (None, "mge2024")


def topo_view(graph: Any) -> kernel.TopoView:
    """The graph's :class:`TopoView`, shared through the current metric cache when there is one."""
    cache = current_cache()
    if cache is None:
        return kernel.TopoView(graph)
    return cache.get_or_compute(("topo.view", cache.graph_key(graph)), lambda: kernel.TopoView(graph))


def resolve_compat(graph: Any, compat: str | None) -> bool:
    """Whether the ``mge2024`` formulas apply: the option, else the graph's ``attrs["compat"]``.

    Bipartite (layer) targets always use the clean formulas.
    """
    if compat not in COMPAT_MODES:
        raise UsageError(f"compat {compat!r} is not valid for topo metrics; expected one of: None, mge2024")
    if isinstance(graph, BipartiteGraph):
        return False
    mode = compat if compat is not None else graph.attrs.get("compat")
    return mode == "mge2024"


def check_normalize(normalize: Any) -> None:
    """Raise ``UsageError`` unless ``normalize`` is a bool (CLI strings like ``"yes"`` are not)."""
    if not isinstance(normalize, (bool, np.bool_)):
        raise UsageError(f"normalize must be true or false, got {normalize!r}")


def _finish(raw: float | int | None, divisor: int | None, normalize: bool, extras: dict[str, Any] | None = None,
            reason: str = "") -> MetricResult:
    """Apply ``normalize`` (÷ N or ÷ E; a zero divisor is undefined) and wrap the value."""
    extras = dict(extras or {})
    if raw is None:
        return MetricResult(None, "undefined", reason or "empty graph", extras=extras)
    if normalize and divisor is not None:
        extras.update(raw=raw, divisor=divisor)
        if divisor == 0:
            return MetricResult(None, "undefined", "normalize: divisor is 0", extras=extras)
        return MetricResult(raw / divisor, "ok", extras=extras)
    return MetricResult(float(raw), "ok", extras=extras)


def _register(name: str, units: str, description: str, divisor: str | None,
              raw: Callable[[kernel.TopoView, bool], float | int | None]) -> None:
    """Register ``topo.<name>``: ``raw(view, compat)`` normalised by ``divisor`` (``N``, ``E`` or None)."""

    def metric(graph: Any, normalize: bool = False, compat: str | None = None) -> MetricResult:
        check_normalize(normalize)
        view = topo_view(graph)
        size = {"N": view.num_nodes, "E": view.num_edges, None: None}[divisor]
        return _finish(raw(view, resolve_compat(graph, compat)), size, normalize)

    metric.__name__ = name
    metric.__qualname__ = name
    metric.__doc__ = (f"``topo.{name}``: {description}.\n\n"
                      f"Normalisation: {'÷ ' + divisor if divisor else 'none (raw)'}. Source: {SOURCE}.")
    register_metric(metric, name=f"topo.{name}", scope="graph", encoding="mge", higher_is_better=None,
                    units=units, aggregate="none", description=description, source=SOURCE)


_register("sink_nodes", "count",
          "nodes outside P_last with out-degree 0 and in-degree > 0 "
          "(mge2024: #{d+=0, d->0} - |P_last|, can be negative)",
          "N", kernel.sink_nodes)
_register("source_nodes", "count",
          "nodes outside P_0 with in-degree 0 and out-degree > 0 (mge2024: #{d+>0, d-=0} - |P_0|)",
          "N", kernel.source_nodes)
_register("disconnected_nodes", "count", "nodes with d+ = d- = 0",
          "N", lambda view, compat: kernel.disconnected_nodes(view))
_register("removable_out_edges", "count",
          "sum of in-degrees of the sinks outside P_last (mge2024: sinks with id < N-1-|P_last|)",
          "E", kernel.removable_out_edges)
_register("removable_in_edges", "count",
          "sum of out-degrees of the sources outside P_0 (mge2024: sources with id > |P_0|)",
          "E", kernel.removable_in_edges)
_register("one_hop", "mean count", "mean size of {v} ∪ N+(v)",
          "E", lambda view, compat: kernel.one_hop(view))
_register("two_hop", "mean count", "mean number of nodes within directed distance 2, v included",
          "E", lambda view, compat: kernel.two_hop(view))
_register("strength", "|w|", "mean weighted degree 2Σ|w|/N",
          "E", lambda view, compat: kernel.strength(view))
_register("kcore", "mean count", "mean coreness on the total degree d+ + d-",
          "E", lambda view, compat: kernel.kcore(view))
_register("cut_edges", "count", "number of bridges, direction ignored",
          "E", lambda view, compat: kernel.cut_edges(view))
_register("cut_nodes", "count", "number of articulation points, direction ignored",
          "E", lambda view, compat: kernel.cut_nodes(view))
_register("components", "count", "weakly connected components, isolated nodes included",
          None, lambda view, compat: kernel.components(view))
_register("mean_component_size", "mean count", "N / components",
          "N", lambda view, compat: kernel.mean_component_size(view))


@register_metric(name="topo.motifs", scope="graph", encoding="mge", higher_is_better=None, units="count",
                 aggregate="none",
                 description="connected induced 4-vertex subgraphs (ESU; exact or root-sampled estimate)",
                 source=SOURCE)
def motifs(graph: Any, normalize: bool = False, compat: str | None = None, motif_method: str = "auto",
           motif_sample_rate: float = 0.001, motif_seed: int = 0,
           motif_exact_budget: int = 10_000_000) -> MetricResult:
    """``topo.motifs``: the number of 4-vertex sets inducing a weakly connected subgraph.

    ESU roots each set at its smallest node id; ``c(v)`` counts the sets rooted at ``v`` and ``Σ_v c(v)``
    is the exact count.

    * ``exact``: full enumeration (igraph ``motifs_randesu_no``).
    * ``estimate``: ``k = max(1, floor(rate·N))`` roots from
      ``numpy.random.default_rng(motif_seed).choice(N, k, replace=False)``; value ``(N/k)·Σ_roots c(v)``.
    * ``auto``: exact when ``U = Σ_v C(deg_v,3) + Σ_(u,v) (deg_u−1)(deg_v−1) ≤ motif_exact_budget``,
      else the estimate. Under ``compat="mge2024"`` it always estimates with ``k = floor(rate·N)`` and is
      undefined when ``k = 0`` (the published code's ``int(0.001·N)`` sample).

    Normalisation: ÷ E. Source: [MGE24] (igraph ``motifs_randesu_estimate`` with ``size=4``).

    Returns:
        The count with ``extras`` ``method``, ``roots`` and ``work_bound``.
    """
    check_normalize(normalize)
    if motif_method not in METHODS:
        raise UsageError(f"motif_method {motif_method!r} is not valid for topo.motifs; "
                         f"expected one of: {', '.join(METHODS)}")
    if isinstance(motif_sample_rate, bool) or not isinstance(motif_sample_rate, (int, float)) \
            or not 0 < motif_sample_rate <= 1:
        raise UsageError(f"motif_sample_rate must be a number in (0, 1], got {motif_sample_rate!r}")
    for option, value in (("motif_seed", motif_seed), ("motif_exact_budget", motif_exact_budget)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise UsageError(f"{option} must be a nonnegative integer, got {value!r}")
    rate = float(motif_sample_rate)
    view = topo_view(graph)
    result = count_motifs(view.undirected, view.src, view.dst, method=motif_method, sample_rate=rate,
                          seed=int(motif_seed), exact_budget=int(motif_exact_budget),
                          compat=resolve_compat(graph, compat))
    extras = {"method": result.method, "roots": result.roots, "work_bound": result.work_bound}
    reason = f"compat mge2024: floor({rate}·N) = 0 sampled roots" if result.value is None else ""
    return _finish(result.value, view.num_edges, normalize, extras, reason)


@register_metric(name="topo.spectral_gap", scope="graph", encoding="mge", higher_is_better=None,
                 units="eigenvalue(|w|)", aggregate="none",
                 description="t1 - t3 over the largest |eigenvalues| of A = W + Wᵀ", source=SOURCE)
def spectral_gap(graph: Any, normalize: bool = False, compat: str | None = None) -> MetricResult:
    """``topo.spectral_gap``: ``t1 − t3``.

    ``A = Wᵈ + Wᵈᵀ`` with ``Wᵈ`` the directed weighted adjacency (parallel entries summed); ``t1 ≥ t2 ≥ t3``
    are its three largest |eigenvalues| with multiplicity (missing ones count as 0). On a bipartite layered
    graph ``t1 = t2``, so the gap is ``σ1 − σ2``. Float64, where [MGE24] used float32 ARPACK: each connected
    component is solved on its own (dense ``eigvalsh`` up to 600 nodes, else ``eigsh`` with a seeded
    start; see :func:`~sparsegraph.metrics.topo_kernel.top_abs_eigenvalues`). Not normalised.

    Returns:
        The gap with ``extras["top3"] = [t1, t2, t3]``.
    """
    check_normalize(normalize)
    view = topo_view(graph)
    top = [float(t) for t in view.adjacency_top3]
    return _finish(kernel.spectral_gap(view), None, normalize, {"top3": top})


@register_metric(name="topo.spectral_radius", scope="graph", encoding="mge", higher_is_better=None,
                 units="eigenvalue(|w|)", aggregate="none",
                 description="largest eigenvalue of the weighted Laplacian L = D - A", source=SOURCE)
def spectral_radius(graph: Any, normalize: bool = False, compat: str | None = None) -> MetricResult:
    """``topo.spectral_radius``: ``λ_max(L)`` with ``L = D − A`` and ``D = diag(row sums of A)``.

    Float64 (``eigsh(which="LA")`` on ``x ↦ D·x − A·x`` with a seeded start; dense ``eigvalsh`` on small
    graphs). Not normalised.
    """
    check_normalize(normalize)
    view = topo_view(graph)
    return _finish(kernel.spectral_radius(view), None, normalize)
