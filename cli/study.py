"""``sparsegraph study``: run a method x sparsity x seed grid, then find which metrics predict accuracy."""

from __future__ import annotations

from pathlib import Path

import click

from sparsegraph_cli.options import (device_option, format_option, leaf_module_option, model_arg_option,
                                     no_progress_option, parse_options, parse_shape, training_options,
                                     training_settings)
from sparsegraph_cli.output import emit, render_json, render_table


@click.group("study")
def study() -> None:
    """Grids of pruned networks and the analysis the papers do on them.

    \b
    sparsegraph study run --model lenet5 --dataset digits --methods snip,erk,random \\
        --sparsities 0.9,0.95 --seeds 0,1 --epochs 5 -o STUDY
    sparsegraph study analyze STUDY --metrics density,ramanujan,spectral
    """


@study.command("run")
@click.option("--model", "model_spec", required=True, metavar="SPEC",
              help="Zoo name, torchvision:<name>, file.py:callable or package.module:callable.")
@click.option("--dataset", required=True, help="Registered dataset (digits, mnist, cifar10, ...).")
@click.option("--methods", default="snip,grasp,erk,random,synflow", show_default=True,
              help="Comma-separated pruning generators.")
@click.option("--sparsities", default="0.9,0.95,0.98,0.99", show_default=True,
              help="Comma-separated sparsities (pruned fractions in (0, 1)).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated run seeds.")
@click.option("--dense", is_flag=True, help="Also train the unpruned network per seed (reference for accuracy_drop).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Start every run from these weights instead of the seeded initialisation.")
@model_arg_option()
@leaf_module_option()
@click.option("--num-classes", type=click.IntRange(min=1), default=None, help="Classifier size (default: the dataset's).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Data root (default $SPARSEGRAPH_DATA, else ./datasets).")
@click.option("--download", is_flag=True, help="Download a missing torchvision dataset.")
@click.option("--score-batches", type=click.IntRange(min=1), default=None, help="Scoring batches for data-driven methods.")
@click.option("--score-batch-size", type=click.IntRange(min=1), default=None, help="Scoring batch size.")
@click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="Generator option for every method (repeatable), e.g. --option scope=layer; dst_* options "
                   "(dst_interval=...) go to the set/rigl runs only.")
@click.option("--track", is_flag=False, flag_value="spectral.full_spectrum,paths", default=None, metavar="METRICS",
              help="Follow these metrics over training in every run (track.csv; --track alone: "
                   "spectral.full_spectrum,paths); 'study analyze --at-step' reads them.")
@click.option("--track-every", type=click.IntRange(min=1), default=None,
              help="With --track: every N steps (default: every mask update and every epoch end).")
@training_options()
@click.option("--metrics", default="density,ramanujan,spectral", show_default=True,
              help="Metric names or families each run writes to metrics.json.")
@device_option()
@click.option("--executor", type=click.Choice(["serial", "process", "ray"]), default=None,
              help="How runs are spread: serial, a process pool, or Ray (default: process if --workers > 1).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Parallel runs (process pool size).")
@click.option("--ray-address", default=None, help="Ray cluster address (default: RAY_ADDRESS or a local Ray).")
@click.option("-o", "--output", "study_dir", required=True, type=click.Path(file_okay=False), help="Study directory.")
@format_option(("table", "json"), "table")
def run_command(model_spec, dataset, methods, sparsities, seeds, dense, checkpoint, model_args, leaf_modules,
                num_classes, data_root, download,
                score_batches, score_batch_size, option_pairs, track, track_every, recipe, epochs, batch_size, lr,
                weight_decay, val_split,
                select_on_test, amp, channels_last, deterministic, data_path, metrics, device, executor, workers,
                ray_address, study_dir, fmt):
    """Prune (and train) every method x sparsity x seed into STUDY_DIR/<method>_s<sparsity>_seed<seed>.

    Finished runs (summary.json present) are skipped and interrupted ones resumed, so the same
    command continues a grid. Exit code 1 if any run failed (the others still run).
    """
    from sparsegraph.study.grid import GridSpec, parse_list, run_grid

    method_options = {**parse_options(option_pairs),
                      **{k: v for k, v in {"score_batches": score_batches, "score_batch_size": score_batch_size}.items()
                         if v is not None}}
    settings = {"num_classes": num_classes, "checkpoint": checkpoint,
                "model_args": parse_options(model_args, "--model-arg"), "leaf_modules": leaf_modules,
                "data_root": data_root, "download": download,
                "method_options": method_options, "device": device, "metrics": parse_list(metrics, str, "--metrics"),
                "track": parse_list(track or "", str, "--track"), "track_every": track_every,
                **training_settings(recipe, epochs, batch_size, lr, weight_decay, val_split, select_on_test, amp,
                                    channels_last, deterministic, data_path)}
    spec = GridSpec(model=model_spec, dataset=dataset, methods=parse_list(methods, str, "--methods"),
                    sparsities=parse_list(sparsities, float, "--sparsities"), seeds=parse_list(seeds, int, "--seeds"),
                    dense=dense, settings=settings)
    total = len(spec.runs())
    finished = [0]

    def report(run_id: str, status: str, message: str | None) -> None:
        finished[0] += 1
        shown = "already finished" if status == "skipped" else status
        click.echo(f"[{finished[0]}/{total}] {run_id}: {shown}" + (f" ({message})" if message else ""), err=True)

    result = run_grid(spec, study_dir, executor=executor, workers=workers, ray_address=ray_address, on_result=report)
    rows = [{"status": "done", "runs": len(result.done)}, {"status": "already finished", "runs": len(result.skipped)},
            {"status": "failed", "runs": len(result.failed)}]
    if fmt == "json":
        emit(render_json({"study_dir": study_dir, "done": result.done, "skipped": result.skipped,
                          "failed": result.failed}), None)
    else:
        emit(render_table(rows, ["status", "runs"]), None)
    if result.failed:
        raise click.exceptions.Exit(1)


@study.command("analyze")
@click.argument("source", type=click.Path(exists=True))
@click.option("--metrics", default=None,
              help="Metric names or families to analyse (default: those stored in the runs; computed when missing).")
@click.option("--target", type=click.Choice(["accuracy", "accuracy_drop"]), default="accuracy", show_default=True,
              help="What the metrics should predict (accuracy_drop = dense reference - accuracy).")
@click.option("--dense-accuracy", type=float, default=None,
              help="Dense reference accuracy for accuracy_drop (default: the study's dense runs).")
@click.option("--accuracy-key", type=click.Choice(["test_at_best_val", "test_final", "best_val", "test_best_epoch"]),
              default="test_at_best_val", show_default=True, help="Summary field read as a run's accuracy.")
@click.option("--no-compute", is_flag=True, help="Do not compute metrics missing from metrics.json.")
@click.option("--at-step", default=None, metavar="N|final",
              help="Correlate the metrics tracked at step N (the last tracked step <= N; 'final': the last) "
                   "from each run's track.csv, instead of metrics.json (runs made with --track).")
@click.option("--dataset", default=None,
              help="Dataset of runs or CSV rows that name none (sets the input shape and classes of the rebuilt "
                   "model; default: the run directory's, else the zoo model's).")
@click.option("--input-shape", "input_shape", default=None, metavar="C,H,W",
              help="Input shape of runs or CSV rows that record none (default: the run directory's metrics.json, "
                   "else the dataset's).")
@model_arg_option()
@leaf_module_option()
@click.option("--bootstrap", "n_boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the correlation intervals.")
@click.option("--ci", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True, help="Interval coverage.")
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--plots/--no-plots", default=True, show_default=True, help="Draw the figures (needs matplotlib).")
@click.option("--plot-metrics", default=None, help="Metrics for the scatter plots (default: the 4 with the largest |ρ|).")
@click.option("--heatmap-metrics", default=None,
              help="Metrics of the per-layer heatmaps (default: density and the best-correlated metric with layer values).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Bootstrap and fold seed.")
@device_option()
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder (default: SOURCE/analysis, or <csv name>_analysis next to a CSV).")
@format_option(("table", "json"), "table")
@no_progress_option()
def analyze_command(source, metrics, target, dense_accuracy, accuracy_key, no_compute, at_step, dataset, input_shape,
                    model_args, leaf_modules, n_boot, ci, folds, plots, plot_metrics, heatmap_metrics, seed, device,
                    out_dir, fmt, no_progress):
    """Correlate metrics with accuracy over a study directory or a CSV of masks.

    SOURCE is a study directory (from 'study run', or any folder of prune run directories) or a CSV
    with columns mask_path, model, accuracy[, method, sparsity, seed, checkpoint, dataset, num_classes].
    Writes analysis.json, CSV tables, plots/ and report.md; prints the correlation table.
    """
    from sparsegraph.study.collect import collect, summarize_skipped
    from sparsegraph.study.grid import parse_list
    from sparsegraph.study.report import ALL, analyze, write_outputs

    path = Path(source)
    out = Path(out_dir) if out_dir else (path / "analysis" if path.is_dir() else path.with_name(f"{path.stem}_analysis"))
    if at_step is not None and at_step != "final":
        if not at_step.isdigit():
            raise click.BadParameter(f"{at_step!r} is not a step number or 'final'", param_hint="--at-step")
        at_step = int(at_step)
    collection = collect(path, parse_list(metrics, str, "--metrics") if metrics else None, accuracy_key=accuracy_key,
                         compute_missing=not no_compute, device=device,
                         at_step=at_step, dataset=dataset, input_shape=parse_shape(input_shape),
                         model_args=parse_options(model_args, "--model-arg"), leaf_modules=leaf_modules)
    if collection.skipped:
        total = len(collection.skipped) + len(collection.records)
        click.echo(f"skipped {len(collection.skipped)} of {total} runs, by reason:", err=True)
        for group in summarize_skipped(collection.skipped):
            more = ", …" if group["count"] > len(group["runs"]) else ""
            click.echo(f"  {group['count']:>5}  {group['reason']}  ({', '.join(group['runs'])}{more})", err=True)
    analysis = analyze(collection, target=target, dense_accuracy=dense_accuracy, n_boot=n_boot, ci=ci, folds=folds,
                       seed=seed)
    write_outputs(analysis, out, plots=plots,
                  plot_metrics=parse_list(plot_metrics, str, "--plot-metrics") if plot_metrics else None,
                  heatmap_metrics=parse_list(heatmap_metrics, str, "--heatmap-metrics") if heatmap_metrics else None)
    click.echo(f"wrote {out / 'report.md'}, analysis.json, CSV tables" + (", plots/" if analysis.plots else ""),
               err=True)
    if fmt == "json":
        emit(render_json(analysis.document), None)
        return
    delta = {e["metric"]: e["delta_r2"] for e in analysis.document["regression"]["metrics"] if e["level"] == ALL}
    rows = [{"metric": e["metric"], "n": e["n"], "pearson": e["pearson"]["value"], "spearman": e["spearman"]["value"],
             "kendall": e["kendall"]["value"], "delta_r2_vs_density": delta.get(e["metric"])}
            for e in analysis.document["correlations"] if e["level"] == ALL]
    rows.sort(key=lambda r: -abs(r["spearman"] or 0.0))
    emit(render_table(rows, ["metric", "n", "pearson", "spearman", "kendall", "delta_r2_vs_density"]), None)
