"""``analyze``: correlations, rankings and regressions of a collected study; its JSON, CSV and Markdown.

Targets:

- ``accuracy``: the run's accuracy (higher is better);
- ``accuracy_drop``: ``reference − accuracy`` (lower is better). The reference is ``dense_accuracy`` when
  given; otherwise the dense runs of the study (method ``dense`` or sparsity 0, e.g. from
  ``sparsegraph study run --dense``): the dense run of the same seed when there is one, else the mean
  of all dense runs. With one reference for every run the drop is an affine function of accuracy and
  gives the same correlations with the sign flipped; per-seed references remove the seed's effect.

Dense runs serve only as references: correlations, rankings and regressions use the sparse runs.
Every analysis is done on all runs together (level ``all``) and per sparsity level; within a level
the overall density is constant, so those correlations show what a metric adds beyond sparsity.

Baseline. The papers' control is density: the target regressed (cross-validated ridge) on the
per-layer densities of the layers every run has. Each metric is reported alone, and added to the
baseline (ΔR² = R²(baseline + metric) − R²(baseline)). The "mixture" regresses the target on all
analysed metrics defined for at least 90 % of the runs, with permutation importance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sparsegraph.errors import StudyInputError
from sparsegraph.study.analysis import Analysis
from sparsegraph.study.collect import Collection, StudyRecord, summarize_skipped
from sparsegraph.study.ranking import rank_methods
from sparsegraph.study.regression import ridge_cv
from sparsegraph.study.stats import METHODS, correlate
from sparsegraph.utils.atomic import atomic_write_text, prepare_output_dir
from sparsegraph.utils.tabular import render_csv

FORMAT = "sparsegraph.study/1"
TARGETS = ("accuracy", "accuracy_drop")
ALL = "all"
MIXTURE_MIN_COVERAGE = 0.9


def level_key(sparsity: float | None) -> str:
    """A sparsity level as a label (``0.95``)."""
    return ALL if sparsity is None else f"{sparsity:g}"


def analyze(collection: Collection, *, target: str = "accuracy", dense_accuracy: float | None = None,
            n_boot: int = 1000, ci: float = 0.95, folds: int = 5, n_repeats: int = 10, seed: int = 0) -> Analysis:
    """Correlate, rank and regress a collected study.

    Args:
        collection: from :func:`sparsegraph.study.collect.collect`.
        target: ``accuracy`` or ``accuracy_drop`` (see the module docstring).
        dense_accuracy: the dense reference accuracy for ``accuracy_drop``.
        n_boot: bootstrap resamples for the correlation intervals.
        ci: interval coverage.
        folds: cross-validation folds.
        n_repeats: permutations per feature for the regression importance.
        seed: bootstrap, fold and permutation seed.

    Returns:
        An :class:`Analysis` whose ``document`` has: ``format``, ``source``, ``target``,
        ``accuracy_key``, ``reference``, ``counts``, ``skipped``, ``notes``, ``metrics``,
        ``correlations`` (one entry per metric and level), ``rankings`` (per sparsity level),
        ``regression`` (``baseline`` per level, ``metrics`` = per metric and level, ``mixture``),
        and ``records``.

    Raises:
        StudyInputError: no usable sparse run, an unknown target, or ``accuracy_drop`` without a reference.
    """
    if target not in TARGETS:
        raise StudyInputError(f"target {target!r} is not valid; expected one of: {', '.join(TARGETS)}")
    dense = [r for r in collection.records if r.is_dense]
    records = [r for r in collection.records if not r.is_dense]
    if not records:
        groups = "; ".join(f"{g['count']} x {g['reason']} ({', '.join(g['runs'])})"
                           for g in summarize_skipped(collection.skipped))
        raise StudyInputError(f"{collection.source}: no usable sparse runs ({len(collection.skipped)} skipped"
                              + (f": {groups}" if groups else "") + ")")
    targets, reference = _targets(records, dense, target, dense_accuracy)
    higher_is_better = target == "accuracy"
    infos = _metric_infos(collection.metrics)
    levels = _levels(records)

    correlations = []
    for name in collection.metrics:
        for level, members in levels.items():
            result = correlate([records[i].network.get(name) for i in members], [targets[i] for i in members],
                               n_boot=n_boot, ci=ci, seed=seed)
            correlations.append({"metric": name, "level": level, **result})

    rankings = {}
    directions = {name: infos[name].get("higher_is_better") for name in collection.metrics}
    for level, members in levels.items():
        if level == ALL:
            continue
        by_method: dict[str, list[int]] = {}
        for i in members:
            by_method.setdefault(records[i].method, []).append(i)
        methods = sorted(by_method)
        rankings[level] = rank_methods(
            methods, [[targets[i] for i in by_method[m]] for m in methods],
            {name: [[records[i].network.get(name) for i in by_method[m]] for m in methods]
             for name in collection.metrics},
            directions, target_higher_is_better=higher_is_better)

    regression = _regressions(records, targets, collection.metrics, levels, folds, n_repeats, seed)
    document = {
        "format": FORMAT,
        "source": collection.source,
        "target": target,
        "target_higher_is_better": higher_is_better,
        "accuracy_key": collection.accuracy_key,
        "reference": reference,
        "settings": {"n_boot": n_boot, "ci": ci, "folds": folds, "n_repeats": n_repeats, "seed": seed},
        "counts": {"runs": len(records), "dense": len(dense), "skipped": len(collection.skipped),
                   "methods": sorted({r.method for r in records}),
                   "sparsities": [level for level in levels if level != ALL]},
        "skipped": list(collection.skipped),
        "notes": list(collection.notes),
        "metrics": [infos[name] for name in collection.metrics],
        "correlations": correlations,
        "rankings": rankings,
        "regression": regression,
        "records": [_record_row(r, t) for r, t in zip(records, targets)],
    }
    return Analysis(document=document, records=records, targets=targets, dense=dense)


def _metric_infos(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    from sparsegraph.errors import UnknownMetricError
    from sparsegraph.metrics.registry import get_info

    infos = {}
    for name in names:
        try:
            info = get_info(name)
            infos[name] = {"name": name, "family": info.family, "higher_is_better": info.higher_is_better,
                           "units": info.units, "description": info.description}
        except UnknownMetricError:  # stored in metrics.json by a plugin that is not installed here
            infos[name] = {"name": name, "family": name.split(".")[0], "higher_is_better": None, "units": "",
                           "description": "(not registered here)"}
    return infos


def _levels(records: list[StudyRecord]) -> dict[str, list[int]]:
    levels: dict[str, list[int]] = {ALL: list(range(len(records)))}
    for sparsity in sorted({r.sparsity for r in records if r.sparsity is not None}):
        levels[level_key(sparsity)] = [i for i, r in enumerate(records) if r.sparsity == sparsity]
    return levels


def _targets(records: list[StudyRecord], dense: list[StudyRecord], target: str,
             dense_accuracy: float | None) -> tuple[list[float], dict[str, Any] | None]:
    if target == "accuracy":
        return [r.accuracy for r in records], None
    if dense_accuracy is not None:
        if not math.isfinite(dense_accuracy):
            raise StudyInputError(f"--dense-accuracy must be finite, got {dense_accuracy}")
        return [dense_accuracy - r.accuracy for r in records], {"kind": "given", "accuracy": dense_accuracy}
    if not dense:
        raise StudyInputError("target accuracy_drop needs a dense reference: pass --dense-accuracy, or include "
                              "dense runs (sparsegraph study run --dense, or CSV rows with sparsity 0)")
    mean = float(np.mean([r.accuracy for r in dense]))
    per_seed: dict[int, list[float]] = {}
    for r in dense:
        if r.seed is not None:
            per_seed.setdefault(r.seed, []).append(r.accuracy)
    seed_means = {s: float(np.mean(v)) for s, v in per_seed.items()}
    drops = [seed_means.get(r.seed, mean) - r.accuracy for r in records]
    matched = sum(r.seed in seed_means for r in records)
    return drops, {"kind": "dense runs", "accuracy": mean, "per_seed": {str(k): v for k, v in seed_means.items()},
                   "runs_with_seed_reference": matched}


def _feature_matrix(records: list[StudyRecord], members: list[int], columns: list[tuple[str, str]]) -> np.ndarray:
    """Rows ``members``; a column is ``("metric", name)`` or ``("layer_density", layer)``."""
    x = np.full((len(members), len(columns)), np.nan)
    for row, i in enumerate(members):
        record = records[i]
        for col, (kind, name) in enumerate(columns):
            value = record.network.get(name) if kind == "metric" else record.layer_densities.get(name)
            x[row, col] = np.nan if value is None else value
    return x


def _baseline_columns(records: list[StudyRecord], members: list[int]) -> list[tuple[str, str]]:
    layers = None
    for i in members:
        names = set(records[i].layer_densities)
        layers = names if layers is None else layers & names
    order = list(records[members[0]].layer_densities) if members else []
    return [("layer_density", name) for name in order if layers and name in layers]


def _regressions(records: list[StudyRecord], targets: list[float], metrics: list[str], levels: dict[str, list[int]],
                 folds: int, n_repeats: int, seed: int) -> dict[str, Any]:
    y_all = np.asarray(targets, dtype=np.float64)
    baseline: dict[str, Any] = {}
    per_metric = []
    for level, members in levels.items():
        y = y_all[members]
        base_cols = _baseline_columns(records, members)
        base_x = _feature_matrix(records, members, base_cols)
        base = ridge_cv(base_x, y, [f"density[{n}]" for _, n in base_cols], folds=folds, n_repeats=0, seed=seed)
        baseline[level] = base.to_dict()
        for name in metrics:
            metric_x = _feature_matrix(records, members, [("metric", name)])
            # compare on the same rows: those where the metric is defined
            rows = np.isfinite(metric_x[:, 0])
            alone = ridge_cv(metric_x[rows], y[rows], [name], folds=folds, n_repeats=0, seed=seed)
            base_same = ridge_cv(base_x[rows], y[rows], base.features, folds=folds, n_repeats=0, seed=seed)
            both = ridge_cv(np.hstack([base_x[rows], metric_x[rows]]), y[rows], [*base.features, name], folds=folds,
                            n_repeats=0, seed=seed)
            delta = (both.r2 - base_same.r2) if both.r2 is not None and base_same.r2 is not None else None
            per_metric.append({"metric": name, "level": level, "n": alone.n, "r2_metric": alone.r2,
                               "r2_baseline": base_same.r2, "r2_baseline_plus_metric": both.r2, "delta_r2": delta,
                               "reason": alone.reason or both.reason})
    all_members = levels[ALL]
    coverage = {name: float(np.mean([records[i].network.get(name) is not None for i in all_members]))
                for name in metrics}
    mixed = [name for name in metrics if coverage[name] >= MIXTURE_MIN_COVERAGE
             and np.ptp(np.nan_to_num(_feature_matrix(records, all_members, [("metric", name)])[:, 0])) > 0]
    mixture = ridge_cv(_feature_matrix(records, all_members, [("metric", n) for n in mixed]), y_all[all_members],
                       mixed, folds=folds, n_repeats=n_repeats, seed=seed) if mixed else None
    left_out = [name for name in metrics if name not in mixed]
    mixture_doc = mixture.to_dict() if mixture else {"features": [], "r2": None,
                                                     "reason": "no metric defined for 90 % of the runs"}
    mixture_doc["left_out"] = left_out
    return {"baseline": baseline, "metrics": per_metric, "mixture": mixture_doc}


def _record_row(record: StudyRecord, target: float) -> dict[str, Any]:
    return {"run_id": record.run_id, "method": record.method, "sparsity": record.sparsity, "seed": record.seed,
            "model": record.model, "masks_path": record.masks_path, "accuracy": record.accuracy, "target": target,
            "metrics": dict(record.network)}


# ---------------------------------------------------------------------------------------------- outputs

def write_outputs(analysis: Analysis, out_dir: str | Path, *, plots: bool = True,
                  plot_metrics: Sequence[str] | None = None, heatmap_metrics: Sequence[str] | None = None) -> list[Path]:
    """Write ``analysis.json``, the CSV tables, the plots (``plots/``) and ``report.md`` into ``out_dir``.

    Args:
        analysis: from :func:`analyze`.
        out_dir: output folder (created).
        plots: draw the figures (needs matplotlib: the ``plot`` extra). Without matplotlib the report
            says so and the rest is written.
        plot_metrics: metrics for the scatter plots (default: the 4 with the largest overall |ρ|).
        heatmap_metrics: metrics of the per-layer heatmaps (default: ``density`` and the metric with
            the largest overall |ρ| that has per-layer values).

    Returns:
        The files written.
    """
    out = prepare_output_dir(out_dir)
    if plots:
        from sparsegraph.study.plots import MissingMatplotlib, draw_all

        try:
            analysis.plots = draw_all(analysis, out / "plots", metrics=plot_metrics, heatmap_metrics=heatmap_metrics)
        except MissingMatplotlib as exc:
            analysis.document["notes"].append(str(exc))
    analysis.document["plots"] = list(analysis.plots)
    tables = {
        "records.csv": records_table(analysis),
        "correlations.csv": correlations_table(analysis),
        "rankings.csv": rankings_table(analysis),
        "rank_agreement.csv": agreement_table(analysis),
        "regression.csv": regression_table(analysis),
        "importance.csv": importance_table(analysis),
    }
    written = []
    path = out / "analysis.json"
    atomic_write_text(path, json.dumps(analysis.document, indent=2, allow_nan=False) + "\n")
    written.append(path)
    for name, (columns, rows) in tables.items():
        written.append(out / name)
        atomic_write_text(out / name, render_csv(rows, columns))
    atomic_write_text(out / "report.md", markdown_report(analysis))
    written.append(out / "report.md")
    written.extend(out / p for p in analysis.plots)
    return written


def records_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["run_id", "method", "sparsity", "seed", "accuracy", "target", *analysis.metrics]
    rows = [{**{k: v for k, v in row.items() if k != "metrics"}, **row["metrics"]}
            for row in analysis.document["records"]]
    return columns, rows


def correlations_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["metric", "level", "n"]
    for m in METHODS:
        columns += [m, f"{m}_ci_low", f"{m}_ci_high", f"{m}_p"]
    columns.append("reason")
    rows = []
    for entry in analysis.document["correlations"]:
        row = {"metric": entry["metric"], "level": entry["level"], "n": entry["n"], "reason": entry["reason"]}
        for m in METHODS:
            row.update({m: entry[m]["value"], f"{m}_ci_low": entry[m]["ci_low"], f"{m}_ci_high": entry[m]["ci_high"],
                        f"{m}_p": entry[m]["p_value"]})
        rows.append(row)
    return columns, rows


def rankings_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["sparsity", "ranked_by", "method", "value", "rank", "n"]
    rows = []
    for level, ranking in analysis.document["rankings"].items():
        for entry in ranking["methods"]:
            rows.append({"sparsity": level, "ranked_by": analysis.target, "method": entry["method"],
                         "value": entry["mean"], "rank": entry["rank"], "n": entry["n"]})
        for name, metric in ranking["metrics"].items():
            for method, value in metric["means"].items():
                rows.append({"sparsity": level, "ranked_by": name, "method": method, "value": value,
                             "rank": metric["ranks"][method]})
    return columns, rows


def agreement_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["sparsity", "metric", "kendall_tau", "p_value", "n_methods"]
    rows = [{"sparsity": level, "metric": name, **{k: metric[k] for k in columns[2:]}}
            for level, ranking in analysis.document["rankings"].items()
            for name, metric in ranking["metrics"].items()]
    return columns, rows


def regression_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    columns = ["metric", "level", "n", "r2_metric", "r2_baseline", "r2_baseline_plus_metric", "delta_r2", "reason"]
    return columns, analysis.document["regression"]["metrics"]


def importance_table(analysis: Analysis) -> tuple[list[str], list[dict[str, Any]]]:
    mixture = analysis.document["regression"]["mixture"]
    columns = ["feature", "importance", "importance_std", "coefficient"]
    rows = [{"feature": f, "importance": mixture["importance"].get(f), "importance_std": mixture["importance_std"].get(f),
             "coefficient": mixture["coefficients"].get(f)} for f in mixture.get("features", [])
            if "importance" in mixture]
    rows.sort(key=lambda r: -(r["importance"] or 0.0))
    return columns, rows


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _interval(entry: dict[str, Any]) -> str:
    if entry["value"] is None:
        return "–"
    if entry["ci_low"] is None:
        return f"{entry['value']:.3f}"
    return f"{entry['value']:.3f} [{entry['ci_low']:.2f}, {entry['ci_high']:.2f}]"


def markdown_report(analysis: Analysis) -> str:
    """The Markdown report: counts, skipped runs, correlation tables, rankings, regression, plots."""
    doc = analysis.document
    counts = doc["counts"]
    target = doc["target"]
    out = [f"# Study report: which graph metrics predict {target.replace('_', ' ')}\n",
           f"Source `{doc['source']}`; target **{target}** "
           f"({'higher' if doc['target_higher_is_better'] else 'lower'} is better; accuracy from "
           f"`{doc['accuracy_key']}`). {counts['runs']} sparse runs "
           f"({', '.join(counts['methods'])}) at sparsity {', '.join(counts['sparsities']) or 'not recorded'}; "
           f"{counts['dense']} dense reference run(s); {counts['skipped']} skipped. Bootstrap: "
           f"{doc['settings']['n_boot']} resamples, {doc['settings']['ci']:.0%} percentile intervals, seed "
           f"{doc['settings']['seed']}; regression: {doc['settings']['folds']}-fold ridge.\n"]
    if doc["reference"]:
        ref = doc["reference"]
        out.append(f"Dense reference ({ref['kind']}): accuracy {ref['accuracy']:.4f}.\n")
    for note in doc["notes"]:
        out.append(f"- Note: {note}\n")
    if doc["skipped"]:
        out.append("\n## Skipped runs\n")
        out.append(_md_table(["run", "reason"], [[s["run"], s["reason"]] for s in doc["skipped"][:100]]))
        if len(doc["skipped"]) > 100:
            out.append(f"\n… and {len(doc['skipped']) - 100} more (analysis.json lists all).\n")

    by_level: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in doc["correlations"]:
        by_level.setdefault(entry["level"], {})[entry["metric"]] = entry
    overall = by_level.get(ALL, {})
    order = sorted(overall, key=lambda m: -abs(overall[m]["spearman"]["value"] or 0.0))
    out.append(f"\n## Correlation with {target} (all runs)\n\nSorted by |Spearman ρ|; brackets are the "
               f"bootstrap intervals. Within one sparsity level (next table) overall density is constant.\n\n")
    out.append(_md_table(["metric", "n", "Pearson r", "Spearman ρ", "Kendall τ"],
                         [[m, overall[m]["n"], _interval(overall[m]["pearson"]), _interval(overall[m]["spearman"]),
                           _interval(overall[m]["kendall"])] for m in order]))
    levels = [level for level in by_level if level != ALL]
    if levels:
        out.append("\n## Spearman ρ per sparsity level\n\n")
        out.append(_md_table(["metric", *levels], [[m, *[_interval(by_level[lv][m]["spearman"]) for lv in levels]]
                                                   for m in order]))
    if doc["rankings"]:
        out.append(f"\n## Method ranking per sparsity\n\nMethods ranked by mean {target} (1 = best); "
                   "agreement = Kendall τ between that ranking and the ranking by each metric's mean "
                   "(in the metric's better direction).\n\n")
        for level, ranking in doc["rankings"].items():
            methods = sorted(ranking["methods"], key=lambda e: e["rank"])
            out.append(f"\n**Sparsity {level}**: " + ", ".join(
                f"{e['rank']:g}. {e['method']} ({e['mean']:.4f}" + ("" if e["std"] is None else f" ± {e['std']:.4f}")
                + ")" for e in methods) + "\n")
        out.append("\n" + _md_table(["metric", *doc["rankings"]], [
            [m, *[ranking["metrics"][m]["kendall_tau"] for ranking in doc["rankings"].values()]] for m in order]))
    regression = doc["regression"]
    out.append("\n## Cross-validated regression against the per-layer density baseline\n\n"
               "R² of pooled out-of-fold predictions (ridge, α by leave-one-out in each training fold). "
               "Baseline: the per-layer densities; ΔR² = R²(baseline + metric) − R²(baseline) on the runs where "
               "the metric is defined.\n\n")
    out.append(_md_table(["level", "baseline R²", "n"],
                         [[lv, b["r2"], b["n"]] for lv, b in regression["baseline"].items()]))
    rows = [e for e in regression["metrics"] if e["level"] == ALL]
    rows.sort(key=lambda e: -(e["delta_r2"] if e["delta_r2"] is not None else -np.inf))
    out.append("\n" + _md_table(["metric", "n", "R² alone", "R² baseline", "R² baseline + metric", "ΔR²"],
                                [[e["metric"], e["n"], e["r2_metric"], e["r2_baseline"], e["r2_baseline_plus_metric"],
                                  e["delta_r2"]] for e in rows]))
    mixture = regression["mixture"]
    out.append(f"\n### Mixture of metrics\n\nAll metrics defined on ≥ 90 % of the runs: R² = {_fmt(mixture['r2'])}"
               + (f" ({mixture['reason']})" if mixture.get("reason") else "")
               + (f"; left out: {', '.join(mixture['left_out'])}" if mixture["left_out"] else "") + ".\n\n")
    columns, rows = importance_table(analysis)
    if rows:
        out.append("Permutation importance (drop in out-of-fold R²) and standardised coefficients:\n\n")
        out.append(_md_table(["metric", "importance", "± std", "coefficient"],
                             [[r["feature"], r["importance"], r["importance_std"], r["coefficient"]] for r in rows]))
    if analysis.plots:
        out.append("\n## Plots\n\n")
        for path in analysis.plots:
            out.append(f"![{Path(path).stem}]({path})\n\n")
    out.append("\nTables: records.csv, correlations.csv, rankings.csv, rank_agreement.csv, regression.csv, "
               "importance.csv; everything in analysis.json.\n")
    return "".join(out)
