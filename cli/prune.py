"""``sparsegraph prune``: generate a mask, measure it, train the sparse network, write a run directory."""

from __future__ import annotations

import click

from sparsegraph_cli.options import (device_option, format_option, leaf_module_option, model_arg_option,
                                     no_progress_option, parse_options, progress_enabled, seed_option,
                                     training_options, training_settings)
from sparsegraph_cli.output import emit, render_json

# ``--track`` without a value (sparsegraph.tracking.DEFAULT_TRACK; not imported here to keep --help light)
TRACK_DEFAULT = ("spectral.full_spectrum", "paths")


def _metric_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@click.command()
@click.option("--model", "model_spec", required=True, metavar="SPEC",
              help="Zoo name, torchvision:<name>, file.py:callable or package.module:callable.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Start from these weights instead of the seeded initialisation (a torch.nn.utils.prune "
                   "state dict also gives the starting mask).")
@model_arg_option()
@leaf_module_option()
@click.option("--num-classes", type=click.IntRange(min=1), default=None, help="Classifier size (default: the dataset's).")
@click.option("--dataset", required=True, help="Registered dataset (digits, mnist, fashion-mnist, cifar10, cifar100, tinyimagenet).")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Data root (default $SPARSEGRAPH_DATA, else ./datasets).")
@click.option("--download", is_flag=True, help="Download a missing torchvision dataset.")
@click.option("--method", required=True,
              help="Pruning method: a generator (random, erk, snip, grasp, synflow, npb, ...), pags, pegs, imp, "
                   "early-bird (alias eb), or dynamic sparse training: set, rigl.")
@click.option("--sparsity", type=float, default=None, help="Pruned fraction s in [0, 1); or give --density.")
@click.option("--density", type=float, default=None, help="Kept fraction d = 1 - s in (0, 1].")
@click.option("--scope", type=click.Choice(["global", "layer"]), default=None, help="Global or layer-wise selection.")
@click.option("--allocation", type=click.Choice(["uniform", "er", "erk"]), default=None,
              help="Per-layer budgets for layer-wise selection.")
@click.option("--rounds", type=click.IntRange(min=1), default=None, help="Rounds of iterative methods (synflow, iter-snip).")
@click.option("--score-batches", type=click.IntRange(min=1), default=None, help="Scoring batches for data-driven methods.")
@click.option("--score-batch-size", type=click.IntRange(min=1), default=None, help="Scoring batch size.")
@click.option("--bn-mode", type=click.Choice(["eval", "train"]), default=None, help="BatchNorm mode while scoring.")
@click.option("--exclude", multiple=True, metavar="REGEX", help="Keep matching parameters dense (repeatable).")
@click.option("--dense-first-layer", is_flag=True, help="Keep the first prunable layer dense.")
@click.option("--dense-classifier", is_flag=True, help="Keep the last prunable layer dense.")
@click.option("--base", default=None,
              help="PAGS/PEGS: the base generator sampled (snip, grasp, erk, random, ...); "
                   "SET/RigL: the generator of the initial mask (default erk).")
@click.option("--population", type=click.IntRange(min=0), default=None,
              help="PAGS/PEGS: samples after the base mask (default 1000; 0 = the base mask).")
@click.option("--interval", type=click.IntRange(min=1), default=None,
              help="PAGS/PEGS: snapshot and state every N samples (default 20).")
@click.option("--score", "score_metric", default=None, metavar="METRIC",
              help="PAGS/PEGS: registry metric to optimise (default spectral.full_spectrum; "
                   "its direction comes from the registry).")
@click.option("--score-direction", type=click.Choice(["max", "min"]), default=None,
              help="PAGS/PEGS: optimise the score upwards or downwards (default: the registry's direction; "
                   "required for metrics without one).")
@click.option("--rule", type=click.Choice(["imdb", "delta_r", "single"]), default=None,
              help="PAGS/PEGS layer-wise rule (default imdb for full_spectrum, single otherwise).")
@click.option("--merge", type=click.Choice(["layerwise", "layer", "whole"]), default=None,
              help="PAGS/PEGS: merge per layer (default; 'layer' is an alias) or keep whole masks.")
@click.option("--rebalance/--no-rebalance", default=None,
              help="PAGS/PEGS: export exactly K kept weights (default), or keep the authors' layer-wise merge, "
                   "whose count drifts from K (--no-rebalance).")
@click.option("--perturb", type=float, default=None,
              help="PAGS/PEGS: relative Gaussian noise per sample (needed for magnitude/synflow bases).")
@click.option("--first-mask-data", type=click.Choice(["samples", "full"]), default=None,
              help="PAGS/PEGS: score sample 0 like the others (default) or on the whole training split.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="PAGS/PEGS: scoring workers (default 1).")
@click.option("--executor", type=click.Choice(["serial", "process", "ray"]), default=None,
              help="PAGS/PEGS: where candidates are scored (default serial; process when --workers > 1).")
@click.option("--ray-address", default=None, help="PAGS/PEGS with --executor ray: the cluster address.")
@click.option("--warmup-iters", type=click.IntRange(min=0), default=None,
              help="PEGS: dense SGD warm-up steps before sampling (default 500).")
@click.option("--train-snapshots", is_flag=True, help="PAGS/PEGS: also train every snapshot mask.")
@click.option("--plot", is_flag=True,
              help="Write RUN_DIR/pags.png (PAGS/PEGS) and, with --track, RUN_DIR/track_<family>.png "
                   "(needs matplotlib).")
@click.option("--rewind-iter", type=click.IntRange(min=0), default=None,
              help="IMP: rewind iteration k (default 3 epochs' worth, at most half the schedule; 0 = initial weights).")
@click.option("--eb-epsilon", type=float, default=None, help="Early-Bird: mask distance threshold (default 0.1).")
@click.option("--eb-max-epochs", type=click.IntRange(min=1), default=None,
              help="Early-Bird: give up after this many epochs (default half the recipe).")
@click.option("--eb-retrain", type=click.Choice(["rewind", "continue", "reinit"]), default=None,
              help="Early-Bird: retrain from θ_0 (default), the Early-Bird weights, or a re-initialisation.")
@click.option("--npb-alpha", type=click.FloatRange(0, 1), default=None,
              help="NPB: weight α of the node term (default 0.01; 1 − α weighs the path term).")
@click.option("--npb-beta", type=click.FloatRange(min=0), default=None,
              help="NPB: weight β of non-empty kernels (default 1; the authors' ResNet-18 script: 2).")
@click.option("--npb-max-p", type=click.IntRange(min=1), default=None,
              help="NPB: most taps per kernel of the inner convs (default 9; ResNet-18 script: 6).")
@click.option("--npb-chunk", type=click.IntRange(min=0), default=None,
              help="NPB: output channels per MILP of large layers (default 32; 0 = whole layers).")
@click.option("--npb-init", default=None, metavar="erk|uniform|METHOD",
              help="NPB: layer densities from ERK (default), uniform, or another generator's mask.")
@click.option("--npb-node-term", type=click.Choice(["code", "paths"]), default=None,
              help="NPB: node term as the released code (default) or the paper's (channels with paths).")
@click.option("--npb-placement", type=click.Choice(["magnitude", "random"]), default=None,
              help="NPB: taps inside a kernel at the largest |w| (default) or seeded random positions.")
@click.option("--no-npb-refine", is_flag=True, help="NPB: skip the effective-weight post-pass.")
@click.option("--npb-time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="NPB: seconds per MILP solve (default: no limit); reaching it is an error.")
@click.option("--dst-interval", type=click.IntRange(min=1), default=None,
              help="SET/RigL: steps between mask updates (default 1500 / 4000, scaled down for runs shorter "
                   "than 88,000 steps).")
@click.option("--dst-fraction", type=click.FloatRange(0.0, 1.0), default=None,
              help="SET/RigL: initial drop-and-regrow fraction ζ0 (default 0.5).")
@click.option("--dst-schedule", type=click.Choice(["cosine", "constant", "linear"]), default=None,
              help="SET/RigL: decay of the fraction over training (default cosine).")
@click.option("--dst-stop", type=click.FloatRange(0.0, 1.0), default=None,
              help="SET/RigL: stop updating the mask after this fraction of training (default 1.0 / 0.75).")
@click.option("--track", "track", is_flag=False, flag_value=",".join(TRACK_DEFAULT), default=None, metavar="METRICS",
              help="Follow these metrics (names or families) over training: RUN_DIR/track.csv and track/ "
                   f"snapshots (--track alone: {','.join(TRACK_DEFAULT)}).")
@click.option("--track-every", type=click.IntRange(min=1), default=None,
              help="With --track: every N steps (default: every mask update and every epoch end).")
@training_options()
@click.option("--metrics", "metrics", default="density,ramanujan,spectral", show_default=True,
              help="Metric names or families written to metrics.json.")
@device_option()
@seed_option(0)
@click.option("-o", "--output", "run_dir", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in RUN_DIR.")
@format_option(("table", "json"), "table")
@no_progress_option()
def prune(model_spec, checkpoint, model_args, leaf_modules, num_classes, dataset, data_root, download, method, sparsity,
          density, scope,
          allocation, rounds, score_batches, score_batch_size, bn_mode, exclude, dense_first_layer,
          dense_classifier, base, population, interval, score_metric, score_direction, rule, merge, rebalance,
          perturb, first_mask_data, workers, executor, ray_address, warmup_iters, train_snapshots, plot,
          rewind_iter, eb_epsilon, eb_max_epochs, eb_retrain, npb_alpha, npb_beta, npb_max_p, npb_chunk, npb_init,
          npb_node_term, npb_placement, no_npb_refine, npb_time_limit, dst_interval, dst_fraction, dst_schedule,
          dst_stop, track, track_every, recipe, epochs, batch_size, lr, weight_decay,
          val_split, select_on_test, amp, channels_last, deterministic, data_path, metrics, device, seed,
          run_dir, resume, fmt, no_progress):
    """Prune at initialisation, measure the mask, train the sparse network.

    Writes RUN_DIR/config.json, masks.safetensors, metrics.json, log.jsonl, summary.json and
    checkpoints/. The summary goes to stdout.
    """
    from sparsegraph.pruning.counts import resolve_density
    from sparsegraph.runs import PruneRunConfig, run_prune

    d = resolve_density(density, sparsity)
    method_options = {k: v for k, v in {
        "scope": scope, "allocation": allocation, "rounds": rounds, "score_batches": score_batches,
        "score_batch_size": score_batch_size, "bn_mode": bn_mode, "exclude": list(exclude) or None,
        "dense_first_layer": dense_first_layer or None, "dense_classifier": dense_classifier or None,
        "base": base, "population": population, "interval": interval, "score": score_metric,
        "direction": score_direction, "rule": rule,
        "merge": merge, "rebalance": rebalance, "perturb": perturb,
        "first_mask_data": first_mask_data, "workers": workers,
        "executor": executor, "ray_address": ray_address,
        "warmup_iters": warmup_iters, "rewind_iter": rewind_iter, "eb_epsilon": eb_epsilon,
        "eb_max_epochs": eb_max_epochs, "eb_retrain": eb_retrain,
        "npb_alpha": npb_alpha, "npb_beta": npb_beta, "npb_max_p": npb_max_p, "npb_chunk": npb_chunk,
        "npb_init": npb_init, "npb_node_term": npb_node_term, "npb_placement": npb_placement,
        "npb_refine": False if no_npb_refine else None, "npb_time_limit": npb_time_limit,
        "dst_interval": dst_interval, "dst_fraction": dst_fraction, "dst_schedule": dst_schedule,
        "dst_stop": dst_stop,
    }.items() if v is not None}
    training = training_settings(recipe, epochs, batch_size, lr, weight_decay, val_split, select_on_test, amp,
                                 channels_last, deterministic, data_path)
    config = PruneRunConfig(
        model=model_spec, dataset=dataset, method=method, density=d, seed=seed, num_classes=num_classes,
        checkpoint=checkpoint, model_args=parse_options(model_args, "--model-arg") or None,
        leaf_modules=tuple(leaf_modules), data_root=data_root, download=download, method_options=method_options,
        device=device, metrics=_metric_list(metrics), train_snapshots=train_snapshots, plot=plot,
        track=_metric_list(track or ""), track_every=track_every, **training)
    summary = run_prune(config, run_dir, resume=resume, progress=progress_enabled(no_progress))
    emit(render_json(summary.to_dict()) if fmt == "json" else summary.describe(run_dir), None)
