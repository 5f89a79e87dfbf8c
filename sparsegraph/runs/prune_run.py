"""``sparsegraph prune``: generate a mask, measure it, train the sparse network, summarise.

The run directory (interfaces.md)::

    RUN_DIR/config.json        the fully resolved configuration (seed included)
    RUN_DIR/masks.safetensors  the final mask
    RUN_DIR/metrics.json       ``measure`` JSON of the final mask
    RUN_DIR/log.jsonl          one line per event
    RUN_DIR/summary.json       final accuracy (if trained), density, timings
    RUN_DIR/checkpoints/       last.pt (every epoch) and best.safetensors
    RUN_DIR/masks_init.safetensors   set/rigl: the initial mask (masks.safetensors is the final one)
    RUN_DIR/track/, track.csv  with ``track``: mask snapshots and the tracked metrics per step

Every file is written atomically; a file that cannot be written raises
:class:`~sparsegraph.errors.OutputError` and leaves the files written before it intact.
``resume=True`` reuses the stored mask and continues training after the last completed epoch; the
configuration must be the one the run was started with.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sparsegraph._version import __version__
from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.models.outputs import logits_of
from sparsegraph.utils.atomic import atomic_write_text, prepare_output_dir
from sparsegraph.utils.device import resolve_device
from sparsegraph.utils.optional import require
from sparsegraph.utils.seed import derive_seed
from sparsegraph.utils.state_dict import load_state_dict, save_state_dict

DEFAULT_METRICS = ("density", "ramanujan", "spectral")
# meta-samplers get the training split, a run directory (snapshots, state) and the run log
SAMPLERS = ("pags", "pegs")
# baselines that train inside pruning get the whole TrainData and the training options
TRAINING_BASELINES = ("imp", "early-bird", "eb")
# generators that show their own progress (tqdm on stderr)
WITH_PROGRESS = ("npb",)
START_WEIGHTS = "start_weights.safetensors"
# configuration keys that change no result: a resumed run may differ in them
_OUTPUT_ONLY = ("sparsegraph_version", "plot")
# what a run writes before its first result; a directory holding only these can be started again
_START_FILES = ("config.json", "log.jsonl")
INITIAL_MASKS = "masks_init.safetensors"


@dataclass
class PruneRunConfig:
    """Everything a prune run depends on; stored as ``config.json``.

    Attributes:
        model: model SPEC (zoo name, ``torchvision:<name>``, ``file.py:callable``...).
        dataset: registered dataset name.
        method: pruning generator name.
        density: kept fraction of the maskable weights.
        seed: the run seed (initialisation, pruning and training streams derive from it).
        num_classes: classifier size (None: the dataset's).
        checkpoint: weights to start from instead of the seeded initialisation. A state dict written
            from a ``torch.nn.utils.prune`` model (``weight_orig``/``weight_mask``) starts pruning from
            its masks (``masks=``) and trains plain weights ``weight_orig ⊙ weight_mask``.
        model_args: keyword arguments of the model's constructor (``{"in_chans": 1}``).
        leaf_modules, input_dtype: trace options (``package.module.Class`` names; ``"int64"``).
        data_root, download, val_split, data_path: data options (see ``load_train_data``).
        method_options: generator options (``scope``, ``rounds``, ``score_batches``...).
        recipe: training recipe name (None: the dataset's default).
        train_options: recipe overrides (``epochs``, ``lr``, ``batch_size``...). ``epochs=0``
            only generates and measures.
        select_on_test: report the best test epoch as the headline (biased; warns).
        device, amp, channels_last, deterministic: execution options.
        metrics: metric names or families written to ``metrics.json``.
        train_snapshots: also train every PAGS/PEGS snapshot mask (the seed's "Best" / "Avg ± std").
        plot: write ``RUN_DIR/pags.png`` (best score against samples) for PAGS/PEGS runs, and
            ``RUN_DIR/track_<family>.png`` for tracked runs.
        track: metric names or families followed over training (``track.csv``, ``track/``); empty:
            no tracking.
        track_every: track every N steps (None: at step 0, every mask update and every epoch end).
    """

    model: str
    dataset: str
    method: str
    density: float
    seed: int = 0
    num_classes: int | None = None
    checkpoint: str | None = None
    model_args: dict[str, Any] | None = None
    leaf_modules: tuple[str, ...] = ()
    input_dtype: str | None = None
    data_root: str | None = None
    download: bool = False
    val_split: int | None = None
    data_path: str = "auto"
    method_options: dict[str, Any] = field(default_factory=dict)
    recipe: str | None = None
    train_options: dict[str, Any] = field(default_factory=dict)
    select_on_test: bool = False
    device: str = "auto"
    amp: str = "auto"
    channels_last: str = "auto"
    deterministic: bool = False
    metrics: tuple[str, ...] = DEFAULT_METRICS
    train_snapshots: bool = False
    plot: bool = False
    track: tuple[str, ...] = ()
    track_every: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["metrics"] = list(self.metrics)
        d["leaf_modules"] = list(self.leaf_modules)
        d["track"] = list(self.track)
        return d


def run_prune(config: PruneRunConfig, run_dir: str | Path, *, resume: bool = False,
              progress: bool = False) -> dict[str, Any]:
    """Run the pipeline into ``run_dir`` and return the summary (also in ``summary.json``).

    Raises:
        UsageError: ``run_dir`` is not empty and ``resume`` is False, or options are invalid.
        BadInputError: a resumed run's stored configuration differs, the model does not fit the
            dataset, or an input cannot be read.
        OutputError: a file of the run directory cannot be written.
    """
    from sparsegraph.models.loading import resolve_class
    from sparsegraph.topology import trace_options

    leaves = [resolve_class(name) for name in config.leaf_modules]
    with trace_options(leaf_modules=leaves or None, input_dtype=config.input_dtype):
        return _run_prune(config, run_dir, resume, progress)


def _run_prune(config: PruneRunConfig, run_dir: str | Path, resume: bool, progress: bool) -> dict[str, Any]:
    from sparsegraph.data import dataset_info
    from sparsegraph.masks import MaskSet
    from sparsegraph.pruning import run as prune
    from sparsegraph.pruning.dst.runner import DST_METHODS, split_dst_options
    from sparsegraph.training import RunLog, load_train_data, resolve_recipe, train

    started = time.perf_counter()
    run_dir = Path(run_dir)
    if not 0 < config.density <= 1:
        raise UsageError(f"density must be in (0, 1], got {config.density} (sparsity {1 - config.density})")
    if config.plot:
        require("matplotlib", "--plot")  # before any work: a run must not die at its end for a missing extra
    info = dataset_info(config.dataset)
    num_classes = config.num_classes or info.num_classes
    if num_classes != info.num_classes:
        raise BadInputError(f"--num-classes {num_classes} does not match dataset {info.name}, "
                            f"which has {info.num_classes} classes")
    recipe = resolve_recipe(config.recipe, info.name, **config.train_options)
    resolved = {**config.to_dict(), "dataset": info.name, "num_classes": num_classes,
                "recipe_resolved": recipe.to_dict(), "sparsegraph_version": __version__}
    _prepare_run_dir(run_dir, resolved, resume)
    log = RunLog(run_dir / "log.jsonl")
    log.write("config", **resolved)
    if config.select_on_test:
        _warn(log, "--select-on-test selects epochs on the test set, which biases accuracy upwards")

    model, start_masks = _load_model(config, num_classes, info.input_shape)
    data = load_train_data(info.name, config.data_root, val_split=config.val_split, download=config.download,
                           data_path=config.data_path, seed=config.seed)
    timings: dict[str, float] = {}

    masks_path = run_dir / "masks.safetensors"
    start_path = run_dir / START_WEIGHTS
    start_iteration = 0
    dst = config.method in DST_METHODS
    if (config.method in TRAINING_BASELINES or dst) and recipe.epochs < 1:
        raise UsageError(f"method {config.method!r} trains the network: give --recipe or --epochs > 0")
    if config.track_every is not None and not config.track:
        raise UsageError("--track-every needs --track METRICS")
    if config.track and recipe.epochs < 1:
        raise UsageError("tracking follows the mask over training: give --recipe or --epochs > 0")
    # set/rigl: the initial mask comes from the base generator, the mask then changes while training
    dst_options, base_config = None, config
    if dst:
        dst_options, base_options = split_dst_options(config.method, dict(config.method_options))
        base_config = dataclasses.replace(config, method=dst_options["base"], method_options=base_options)
    initial_path = run_dir / INITIAL_MASKS if dst else masks_path
    if resume and initial_path.exists():
        masks = MaskSet.load(initial_path)
        masks.check_fits(model, source=str(initial_path))
        start_iteration = int(masks.metadata.get("start_iteration", 0))
        if start_path.exists():
            model.load_state_dict(load_state_dict(start_path, "start weights"))
        pags_layers = None
        npb_report = _logged_npb_report(run_dir) if config.method == "npb" else None
    else:
        t0 = time.perf_counter()
        result = prune(model.to(resolve_device(config.device)), base_config.method, density=config.density,
                       seed=config.seed, input_shape=info.input_shape,
                       **({"masks": start_masks} if start_masks is not None else {}),
                       **_method_arguments(base_config, data, recipe, run_dir, resume, log, progress))
        timings["scoring"] = time.perf_counter() - t0
        for key, value in result.timings.items():
            if key != "total":
                timings[f"prune_{key}"] = value
        if config.method not in SAMPLERS:  # samplers log their own rows as they go
            for event in result.events:
                log.write(event.get("event", "score"), **{k: v for k, v in event.items() if k != "event"})
        pags_layers = next((e for e in result.events if e.get("event") == "pags_layers"), None)
        npb_report = None if result.npb is None else result.npb.to_dict()
        if npb_report is not None:
            log.write("npb", **npb_report)
        masks = result.masks
        start_iteration = result.start_iteration
        if start_iteration:
            masks.metadata["start_iteration"] = start_iteration
        if base_config.method in SAMPLERS + TRAINING_BASELINES:
            # θ_t (PEGS), θ_k (IMP) or the Early-Bird start: the weights sparse training starts from
            model.load_state_dict(result.weights)
            save_state_dict(start_path, model)
        _record_input(masks, info)
        masks.save(initial_path)
    masks.apply(model)

    if not dst:  # a DST run measures its final mask after training
        _write_metrics(config, model, masks, masks_path, info.input_shape, pags_layers, run_dir, timings)

    trained = dynamic = tracking = None
    if recipe.epochs > 0:
        t0 = time.perf_counter()
        hooks, updater, tracker = _training_hooks(config, dst_options, masks, model, data, recipe, run_dir, log,
                                                  info.input_shape)
        try:
            trained = train(model, masks, data, recipe=recipe, run_dir=run_dir, seed=config.seed,
                            device=config.device, amp=config.amp, channels_last=config.channels_last,
                            deterministic=config.deterministic, resume=resume and _has_checkpoint(run_dir),
                            progress=progress, log=log, select_on_test=config.select_on_test,
                            start_iteration=start_iteration, hooks=hooks)
        except BaseException:
            if tracker is not None:  # stop the worker; its pending files stay for --resume
                tracker.close()
            raise
        timings["training"] = time.perf_counter() - t0
        if tracker is not None:
            tracking = tracker.finish()
            if config.plot:
                from sparsegraph.tracking.plot import plot_tracking

                tracking.plots = [p.name for p in plot_tracking(run_dir / "track.csv", run_dir)]
        if updater is not None:
            from sparsegraph.pruning.dst.runner import DSTSummary, final_masks

            dynamic = DSTSummary.of(config.method, dst_options["base"], updater, masks.fingerprint())
            masks = final_masks(updater, dynamic, config.seed, config.density)
            _record_input(masks, info)
            masks.save(masks_path)
            _write_metrics(config, model, masks, masks_path, info.input_shape, None, run_dir, timings)
    snapshot_results = None
    if config.train_snapshots and recipe.epochs > 0 and config.method in SAMPLERS:
        t0 = time.perf_counter()
        snapshot_results = _train_snapshots(config, run_dir, data, recipe, log, resume, progress, num_classes,
                                            info.input_shape)
        timings["snapshot_training"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    summary = _summary(config, info.name, model, masks, trained, timings)
    if dynamic is not None:
        summary["dst"] = dynamic.to_dict()
    if tracking is not None:
        summary["tracking"] = tracking.to_dict()
    if snapshot_results is not None:
        summary["snapshots"] = snapshot_results
    if npb_report is not None:
        summary["npb"] = npb_report
    if config.method in SAMPLERS:
        from sparsegraph.pruning.samplers.plot import read_samples
        from sparsegraph.training.runlog import read_events

        rows = read_events(run_dir / "log.jsonl")
        samples = read_samples(run_dir / "log.jsonl", rows)
        summary.update(base=config.method_options.get("base"), pags_base_score=samples[0]["candidate"],
                       pags_score=samples[-1]["best"], pags_samples=samples[-1]["j"])
        rebalanced = [r for r in rows if r.get("event") == "pags_rebalance"]
        layers = [r for r in rows if r.get("event") == "pags_layers"]
        summary.update(pags_rebalanced=bool(rebalanced), pags_kept=masks.num_kept,
                       pags_target_kept=masks.num_kept - (0 if rebalanced else layers[-1]["drift"]))
        if rebalanced:  # the exported mask's own score (the merged best's is pags_score)
            summary["pags_rebalanced_score"] = rebalanced[-1]["score"]
    atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    log.write("summary", **summary)
    if config.plot and config.method in SAMPLERS:
        _plot(run_dir, log)
    return summary


def _record_input(masks, info) -> None:
    """The dataset's input shape in the mask metadata: later commands build the model for it (no --input-shape)."""
    masks.metadata.setdefault("input_shape", list(info.input_shape))
    masks.metadata.setdefault("dataset", info.name)


def _plot(run_dir: Path, log) -> None:
    """``pags.png``, drawn last: a plotting failure warns and never costs the results written before it."""
    from sparsegraph.pruning.samplers.plot import plot_pags

    try:
        plot_pags(run_dir / "log.jsonl", run_dir / "pags.png")
    except Exception as exc:  # matplotlib's own failures (backends, fonts) must not fail a finished run
        _warn(log, f"pags.png not written: {type(exc).__name__}: {exc}")


def _write_metrics(config: PruneRunConfig, model: torch.nn.Module, masks, masks_path: Path, input_shape,
                   pags_layers: dict | None, run_dir: Path, timings: dict[str, float]) -> None:
    """``metrics.json``: the ``measure`` document of ``masks`` on ``model`` (plus the PAGS layer table)."""
    from sparsegraph.metrics import measure

    t0 = time.perf_counter()
    metrics_doc = measure(model, masks, list(config.metrics), input_shape=input_shape,
                          model_spec=config.model, masks_path=str(masks_path)).to_dict()
    if pags_layers is not None:
        metrics_doc["pags"] = {"layers": pags_layers["layers"], "drift": pags_layers["drift"],
                               "score": pags_layers["score"]}
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics_doc, indent=2) + "\n")
    timings["metrics"] = time.perf_counter() - t0


def _training_hooks(config: PruneRunConfig, dst_options: dict | None, masks, model, data, recipe, run_dir: Path,
                    log, input_shape):
    """``(TrainHooks, DST updater or None, tracker or None)`` for the run's training."""
    from sparsegraph.pruning.baselines.training_run import iters_per_epoch
    from sparsegraph.training import TrainHooks

    ipe = iters_per_epoch(data, recipe)
    updater = tracker = None
    if dst_options is not None:
        from sparsegraph.pruning.dst.runner import dst_updater

        updater = dst_updater(config.method, recipe.epochs * ipe, dst_options, masks, config.seed, log,
                              config.method_options.get("tie_break", "random"))
    if config.track:
        from sparsegraph.tracking import TopologyTracker

        tracker = TopologyTracker(run_dir, model, masks, metrics=config.track, input_shape=input_shape,
                                  iters_per_epoch=ipe, epochs=recipe.epochs, every=config.track_every,
                                  updater=updater)
    return TrainHooks(mask_updater=updater, **(tracker.hooks() if tracker else {})), updater, tracker


def _method_arguments(config: PruneRunConfig, data, recipe, run_dir: Path, resume: bool, log,
                      progress: bool) -> dict[str, Any]:
    """The data and options ``sg.pruning.run`` gets for ``config.method``."""
    options = dict(config.method_options)
    if config.method in SAMPLERS:
        return {"data": data.train, **options, "run_dir": run_dir, "resume": resume, "log": log,
                "progress": progress}
    if config.method in TRAINING_BASELINES:
        return {"data": data, **options, "recipe": recipe, "run_dir": run_dir, "resume": resume, "log": log,
                "progress": progress, "device": config.device, "amp": config.amp,
                "channels_last": config.channels_last, "deterministic": config.deterministic,
                "select_on_test": config.select_on_test}
    if config.method in WITH_PROGRESS:
        return {"data": data.train, **options, "progress": progress}
    return {"data": data.train, **options}


def _logged_npb_report(run_dir: Path) -> dict[str, Any] | None:
    """The NPB report an interrupted run logged when it pruned (None for other methods)."""
    from sparsegraph.training.runlog import read_events

    rows = [r for r in read_events(run_dir / "log.jsonl") if r.get("event") == "npb"]
    if not rows:
        return None
    return {k: v for k, v in rows[-1].items() if k not in ("event", "time", "elapsed_s")}


def _train_snapshots(config: PruneRunConfig, run_dir: Path, data, recipe, log, resume: bool, progress: bool,
                     num_classes: int, input_shape) -> dict[str, Any]:
    """Train every snapshot mask from the start weights (``snapshot_runs/<name>/``); accuracies and stats."""
    import statistics

    from sparsegraph.masks import MaskSet
    from sparsegraph.training import train

    rows = []
    for path in sorted((run_dir / "snapshots").glob("mask_*.safetensors")):
        masks = MaskSet.load(path)
        model, _ = _load_model(config, num_classes, input_shape)
        model.load_state_dict(load_state_dict(run_dir / START_WEIGHTS, "start weights"))
        masks.apply(model)
        sub = run_dir / "snapshot_runs" / path.stem
        result = train(model, masks, data, recipe=recipe, run_dir=sub, seed=config.seed, device=config.device,
                       amp=config.amp, channels_last=config.channels_last, deterministic=config.deterministic,
                       resume=resume and _has_checkpoint(sub), progress=progress, select_on_test=config.select_on_test)
        row = {"snapshot": str(path.relative_to(run_dir)), "j": masks.metadata.get("pags_sample"),
               "score": masks.metadata.get("score"), "test_at_best_val": result.test_at_best_val,
               "test_final": result.test_final}
        log.write("snapshot_trained", **row)
        rows.append(row)
    accs = [r["test_at_best_val"] for r in rows if r["test_at_best_val"] is not None]
    stats: dict[str, Any] = {"runs": rows}
    if accs:
        stats.update(best=max(accs), mean=statistics.fmean(accs),
                     std=statistics.stdev(accs) if len(accs) > 1 else 0.0)
    return stats


def _prepare_run_dir(run_dir: Path, resolved: dict[str, Any], resume: bool) -> None:
    config_path = run_dir / "config.json"
    if resume:
        if not config_path.exists():
            raise UsageError(f"--resume given but {config_path} does not exist")
        try:
            stored = json.loads(config_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInputError(f"{config_path}: unreadable run configuration ({exc})") from None
        # a key added in a later version, absent from an older run's file, is unset there
        differing = sorted(k for k in set(stored) | set(resolved)
                           if k not in _OUTPUT_ONLY and _unset(stored.get(k)) != _unset(_jsonable(resolved.get(k))))
        if differing and not _has_results(run_dir):
            _restart(run_dir, resolved, f"differs in: {', '.join(differing)}")
            return
        if differing:
            raise BadInputError(f"{config_path}: the run was started with a different configuration "
                                f"(differs in: {', '.join(differing)}); start a new run directory instead")
        return
    if config_path.exists() and not _has_results(run_dir):
        _restart(run_dir, resolved, "an earlier start failed before producing results")
        return
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise UsageError(f"run directory {run_dir} is not empty; pass --resume to continue it or choose another -o")
    prepare_output_dir(run_dir)  # a file in the way, or a directory that cannot be created, fails here
    atomic_write_text(config_path, json.dumps(resolved, indent=2) + "\n")


def _has_results(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds anything but the files a run writes as it starts (empty folders aside)."""
    return any(p.is_file() and p.relative_to(run_dir).as_posix() not in _START_FILES for p in run_dir.rglob("*"))


def _restart(run_dir: Path, resolved: dict[str, Any], why: str) -> None:
    """Start a run directory again that holds no results: a failed start must not block its retry."""
    import warnings

    warnings.warn(f"{run_dir} holds no results ({why}); starting the run again there", stacklevel=4)
    (run_dir / "log.jsonl").unlink(missing_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(resolved, indent=2) + "\n")


def _unset(value: Any) -> Any:
    """None for the empty defaults (None, [], {}), else ``value``."""
    return None if value is None or value == [] or value == {} else value


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _load_model(config: PruneRunConfig, num_classes: int, input_shape: tuple[int, ...]):
    """``(model, start masks)``: the checked model, plain, and the masks of a torch.nn.utils.prune checkpoint."""
    from sparsegraph.masks import MaskSet
    from sparsegraph.masks.reparam import is_reparametrised, remove_reparametrisation
    from sparsegraph.models import load_model

    model = load_model(config.model, num_classes=num_classes, checkpoint=config.checkpoint,
                       seed=derive_seed(config.seed, "init"), input_shape=tuple(input_shape),
                       **(config.model_args or {}))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = logits_of(model(torch.zeros(1, *input_shape)))
    except RuntimeError as exc:
        raise BadInputError(f"model '{config.model}' cannot read {config.dataset} inputs of shape "
                            f"{tuple(input_shape)}: {str(exc).splitlines()[0]}") from None
    finally:
        model.train(was_training)
    if out.dim() != 2 or out.shape[1] != num_classes:
        raise BadInputError(f"model '{config.model}' outputs shape {tuple(out.shape[1:])} but dataset "
                            f"{config.dataset} has {num_classes} classes")
    start_masks = None
    if is_reparametrised(model):
        start_masks = MaskSet.from_model(model)
        remove_reparametrisation(model)
    return model, (start_masks if start_masks is not None and len(start_masks) else None)


def _has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / "checkpoints" / "last.pt").exists()


def _warn(log, message: str) -> None:
    import warnings

    warnings.warn(message, stacklevel=3)
    log.write("warning", message=message)


def _summary(config: PruneRunConfig, dataset: str, model: torch.nn.Module, masks, trained,
             timings: dict[str, float]) -> dict[str, Any]:
    weights = {f"{name}.weight": m.weight for name, m in model.named_modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    total = sum(w.numel() for w in weights.values())
    nonzero = sum(int(torch.count_nonzero(w)) for w in weights.values())
    dense_params = sum(w.numel() for name, w in weights.items() if name not in masks)
    summary: dict[str, Any] = {
        "format": "sparsegraph.summary/1",
        "model": config.model,
        "dataset": dataset,
        "method": config.method,
        "target_density": config.density,
        "masked_density": masks.density,
        "overall_density": (masks.num_kept + dense_params) / total if total else None,
        "nonzero_weights": nonzero,
        "layer_densities": masks.layer_densities(),
        "mask_fingerprint": masks.fingerprint(),
        "seed": config.seed,
        "timings": {k: round(v, 4) for k, v in timings.items()},
        "sparsegraph_version": __version__,
        "torch_version": torch.__version__,
    }
    if trained is not None:
        summary.update({
            "test_at_best_val": trained.test_at_best_val,
            "test_final": trained.test_final,
            "best_val": trained.best_val,
            "best_epoch": trained.best_epoch,
            "test_best_epoch": trained.test_best_epoch,
            "test_best_epoch_selected_on_test": True,
            "epochs": trained.epochs,
            "device": trained.device,
        })
    return summary
