"""Figures of a study analysis (matplotlib, the ``plot`` extra; imported only here, lazily).

- ``scatter_<metric>.png``: metric vs target, one colour per method, each with its least-squares line
  and Spearman ρ in the legend; the overall ρ in the title.
- ``landscape.png``: the full-spectrum landscape of [NeurIPS23] Figs. 2–4: Δr vs λ and IMDB vs λ_imsg
  (network values), coloured by the target, one marker per method.
- ``heatmap_<metric>.png``: per-layer values of a metric (mean over seeds), methods x layers, one panel
  per sparsity level; by default for ``density`` (the baseline) and for the best-correlated metric
  with per-layer values.
- ``correlations.png``: Spearman ρ of every metric with its bootstrap interval (all runs), and the
  per-sparsity values as dots.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot state, no display needed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sparsegraph.utils.atomic import atomic_path, prepare_output_dir

if TYPE_CHECKING:
    from sparsegraph.study.report import Analysis

LANDSCAPE_AXES = (("spectral.lambda", "ramanujan.delta_r"), ("spectral.lambda_imsg", "ramanujan.imdb"))
LANDSCAPE_LABELS = {"spectral.lambda": "λ", "ramanujan.delta_r": "Δr", "spectral.lambda_imsg": "λ_imsg",
                    "ramanujan.imdb": "IMDB"}
MARKERS = "osD^vP*Xh<>p"
DPI = 90
SCATTER_DEFAULT = 4


class MissingMatplotlib(ImportError):
    """matplotlib is not installed."""


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingMatplotlib("plots skipped: matplotlib is not installed (pip install 'sparsegraph[plot]')") from None
    return Figure(figsize=(width, height), layout="constrained")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _colours(methods: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def _save(fig, path: Path) -> None:
    """A PNG written atomically (a failed write leaves no partial image)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")


def draw_all(analysis: Analysis, out_dir: str | Path, *, metrics: Sequence[str] | None = None,
             heatmap_metrics: Sequence[str] | None = None) -> list[str]:
    """Draw every figure into ``out_dir``; returns paths relative to its parent (``plots/x.png``)."""
    _figure(1, 1)  # fail early, before creating the folder, if matplotlib is missing
    out = prepare_output_dir(out_dir)
    for stale in [*out.glob("scatter_*.png"), *out.glob("heatmap_*.png"), out / "landscape.png",
                  out / "correlations.png"]:  # figures of an earlier analysis the report would not list
        stale.unlink(missing_ok=True)
    written: list[Path] = []
    for metric in metrics or top_metrics(analysis, SCATTER_DEFAULT):
        written.append(scatter(analysis, metric, out / f"scatter_{_safe(metric)}.png"))
    if all(m in analysis.metrics for pair in LANDSCAPE_AXES for m in pair):
        written.append(landscape(analysis, out / "landscape.png"))
    for metric in heatmap_metrics or default_heatmap_metrics(analysis):
        written.append(layer_heatmap(analysis, metric, out / f"heatmap_{_safe(metric)}.png"))
    if analysis.metrics:
        written.append(correlation_bars(analysis, out / "correlations.png"))
    return [f"{out.name}/{p.name}" for p in written]


def top_metrics(analysis: Analysis, count: int) -> list[str]:
    """The ``count`` metrics with the largest overall |Spearman ρ|."""
    overall = [(abs(e["spearman"]["value"]), e["metric"]) for e in analysis.document["correlations"]
               if e["level"] == "all" and e["spearman"]["value"] is not None]
    return [name for _, name in sorted(overall, key=lambda t: -t[0])[:count]]


def default_heatmap_metrics(analysis: Analysis) -> list[str]:
    """``density`` and the metric with the largest overall |ρ| that has per-layer values."""
    with_layers = [m for m in top_metrics(analysis, len(analysis.metrics))
                   if m != "density" and any(r.layers.get(m) for r in analysis.records)]
    return ["density", *with_layers[:1]]


def _target_label(analysis: Analysis) -> str:
    return analysis.target.replace("_", " ")


def scatter(analysis: Analysis, metric: str, path: Path) -> Path:
    """Metric vs target per method, with per-method fit lines and Spearman ρ in the legend."""
    from scipy.stats import spearmanr

    fig = _figure(5.2, 3.8)
    ax = fig.add_subplot()
    methods = sorted({r.method for r in analysis.records})
    colours = _colours(methods)
    for i, method in enumerate(methods):
        pairs = np.array([(r.network.get(metric), t) for r, t in zip(analysis.records, analysis.targets)
                          if r.method == method and r.network.get(metric) is not None], dtype=np.float64).reshape(-1, 2)
        pairs = pairs[np.isfinite(pairs).all(axis=1)]
        if not pairs.size:
            continue
        label = method
        if len(pairs) >= 3 and np.ptp(pairs[:, 0]) > 0 and np.ptp(pairs[:, 1]) > 0:
            rho = spearmanr(pairs[:, 0], pairs[:, 1])[0]
            label = f"{method} (ρ={rho:.2f})"
        ax.scatter(pairs[:, 0], pairs[:, 1], s=22, color=colours[method], marker=MARKERS[i % len(MARKERS)],
                   label=label, alpha=0.85)
        if len(pairs) >= 2 and np.ptp(pairs[:, 0]) > 0:
            slope, intercept = np.polyfit(pairs[:, 0], pairs[:, 1], 1)
            xs = np.linspace(pairs[:, 0].min(), pairs[:, 0].max(), 2)
            ax.plot(xs, slope * xs + intercept, color=colours[method], linewidth=1)
    overall = next((e for e in analysis.document["correlations"] if e["metric"] == metric and e["level"] == "all"), None)
    rho = overall["spearman"]["value"] if overall else None
    ax.set_title(f"{metric}" + (f" (all runs: ρ = {rho:.2f})" if rho is not None else ""), fontsize=10)
    ax.set_xlabel(metric)
    ax.set_ylabel(_target_label(analysis))
    ax.legend(fontsize=7, frameon=False)
    _save(fig, path)
    return path


def landscape(analysis: Analysis, path: Path) -> Path:
    """Δr vs λ and IMDB vs λ_imsg, coloured by the target ([NeurIPS23] Figs. 2–4)."""
    fig = _figure(8.4, 3.6)
    axes = fig.subplots(1, 2)
    methods = sorted({r.method for r in analysis.records})
    targets = np.asarray(analysis.targets, dtype=np.float64)
    norm = None
    from matplotlib.colors import Normalize

    norm = Normalize(vmin=float(targets.min()), vmax=float(targets.max()))
    mappable = None
    for ax, (x_name, y_name) in zip(axes, LANDSCAPE_AXES):
        for i, method in enumerate(methods):
            rows = [(r.network.get(x_name), r.network.get(y_name), t) for r, t in zip(analysis.records, targets)
                    if r.method == method]
            points = np.array([(np.nan if x is None else x, np.nan if y is None else y, t) for x, y, t in rows],
                              dtype=np.float64).reshape(-1, 3)
            points = points[np.isfinite(points).all(axis=1)]
            if not points.size:
                continue
            mappable = ax.scatter(points[:, 0], points[:, 1], c=points[:, 2], cmap="viridis", norm=norm, s=26,
                                  marker=MARKERS[i % len(MARKERS)], edgecolors="k", linewidths=0.3, label=method)
        ax.set_xlabel(LANDSCAPE_LABELS[x_name] + f" ({x_name})")
        ax.set_ylabel(LANDSCAPE_LABELS[y_name] + f" ({y_name})")
    axes[0].legend(fontsize=7, frameon=False)
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), label=_target_label(analysis))
    fig.suptitle("Full-spectrum landscape", fontsize=10)
    _save(fig, path)
    return path


def layer_heatmap(analysis: Analysis, metric: str, path: Path) -> Path:
    """Per-layer values of ``metric`` (``density``: the per-layer densities), methods x layers per sparsity."""
    records = analysis.records
    use_densities = metric == "density" and not any(r.layers.get("density") for r in records)
    layer_values = [(r.layer_densities if use_densities else r.layers.get(metric, {})) for r in records]
    layers = list(dict.fromkeys(name for values in layer_values for name in values))
    levels = sorted({r.sparsity for r in records if r.sparsity is not None}) or [None]
    methods = sorted({r.method for r in records})
    panel_width = 1.3 + 0.4 * max(len(layers), 1)
    panel_height = 0.9 + 0.22 * len(methods)
    side_by_side = panel_width * len(levels) <= 12  # few layers: panels in a row, else stacked
    if side_by_side:
        fig = _figure(0.8 + panel_width * len(levels), 0.6 + panel_height)
    else:
        fig = _figure(min(panel_width, 14), 0.4 + panel_height * len(levels))
    axes = fig.subplots(1 if side_by_side else len(levels), len(levels) if side_by_side else 1, squeeze=False).ravel()
    image = None
    for k, (ax, level) in enumerate(zip(axes, levels)):
        grid = np.full((len(methods), len(layers)), np.nan)
        for mi, method in enumerate(methods):
            rows = [vals for r, vals in zip(records, layer_values) if r.method == method and r.sparsity == level]
            for li, layer in enumerate(layers):
                cells = [v[layer] for v in rows if v.get(layer) is not None]
                if cells:
                    grid[mi, li] = float(np.mean(cells))
        image = ax.imshow(grid, aspect="auto", cmap="magma", interpolation="nearest")
        ax.set_yticks(range(len(methods)), methods if k == 0 or not side_by_side else [], fontsize=7)
        ax.set_xticks(range(len(layers)), [name.removesuffix(".weight") for name in layers], fontsize=6, rotation=60,
                      ha="right")
        ax.set_title(f"sparsity {level:g}" if level is not None else "all runs", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.04)
    fig.suptitle(f"per-layer {metric} (mean over seeds; blank: undefined)", fontsize=10)
    _save(fig, path)
    return path


def correlation_bars(analysis: Analysis, path: Path) -> Path:
    """Spearman ρ per metric (all runs) with bootstrap intervals; per-sparsity ρ as dots."""
    entries = analysis.document["correlations"]
    metrics = analysis.metrics
    fig = _figure(6.0, 1.7 + 0.28 * len(metrics))
    ax = fig.add_subplot()
    overall = {e["metric"]: e["spearman"] for e in entries if e["level"] == "all"}
    ys = np.arange(len(metrics))
    values = np.array([overall[m]["value"] if overall[m]["value"] is not None else np.nan for m in metrics])
    low = np.array([overall[m]["ci_low"] if overall[m]["ci_low"] is not None else np.nan for m in metrics])
    high = np.array([overall[m]["ci_high"] if overall[m]["ci_high"] is not None else np.nan for m in metrics])
    ax.barh(ys, np.nan_to_num(values), color="#4c72b0", alpha=0.8, label="all runs")
    errors = np.vstack([np.clip(values - low, 0, None), np.clip(high - values, 0, None)])
    has_ci = np.isfinite(errors).all(axis=0)
    ax.errorbar(values[has_ci], ys[has_ci], xerr=errors[:, has_ci], fmt="none", ecolor="k", linewidth=0.8)
    levels = sorted({e["level"] for e in entries if e["level"] != "all"}, key=float)
    colours = _colours(levels) if levels else {}
    for level in levels:
        per = {e["metric"]: e["spearman"]["value"] for e in entries if e["level"] == level}
        xs = np.array([per.get(m) if per.get(m) is not None else np.nan for m in metrics])
        ax.scatter(xs, ys, s=14, color=colours[level], zorder=3, label=f"sparsity {level}")
    ax.axvline(0, color="k", linewidth=0.6)
    ax.set_yticks(ys, metrics, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(f"Spearman ρ with {_target_label(analysis)}")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(4, 1 + len(levels)),
               fontsize=7, frameon=False)
    _save(fig, path)
    return path
