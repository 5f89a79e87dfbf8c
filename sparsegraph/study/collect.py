"""Collect a study: one :class:`StudyRecord` (accuracy + metric values) per run directory or CSV row.

Two sources are accepted:

- a **study directory** written by :func:`sparsegraph.study.grid.run_grid` (or any directory whose
  subdirectories are ``sparsegraph prune`` run directories). Each run's accuracy comes from
  ``summary.json``, its network- and layer-level metric values from ``metrics.json``;
- a **CSV** with the columns ``mask_path, model, accuracy`` and optionally ``method, sparsity, seed,
  checkpoint, dataset, num_classes``. Relative mask paths are relative to the CSV's folder.

With ``at_step`` the metric values of a study directory come from each run's ``track.csv`` (runs made
with ``--track``) at that step instead: ``"final"`` is the last tracked step, an integer N the last
tracked step ≤ N; the run's mask is then the snapshot ``track/step_<n>.safetensors`` of that step. This
is the DST study of the seed paper: topology during training against the final accuracy.

Metrics requested but not stored are computed with :func:`sparsegraph.metrics.measure` on the stored
mask and the model rebuilt from its SPEC: with ``checkpoint`` if given, else the seeded initialisation
of the run (``derive_seed(seed, "init")``, as ``sparsegraph prune`` does), so weight-dependent metrics
see the same weights the run measured. The model is built for the run's input shape: the one its
``metrics.json`` records, else its dataset's; a CSV row whose mask lies in a run directory takes the
dataset, classes and input shape from there, and ``collect(dataset=..., input_shape=...)`` fills in
rows that say nothing (the zoo model's default shape is the last resort). The model's constructor
arguments and the tracer's leaf modules are the run's (``config.json``: ``model_args``,
``leaf_modules``, as ``sparsegraph prune``/``study run`` record them), else ``collect(model_args=...,
leaf_modules=...)``.

Runs that cannot be used (unfinished, no accuracy, NaN accuracy, missing mask file, a mask that does
not fit its model) are listed in :attr:`Collection.skipped` with the reason, never raised.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from sparsegraph.errors import BadInputError, StudyInputError

ACCURACY_KEYS = ("test_at_best_val", "test_final", "best_val", "test_best_epoch")
DENSE_METHOD = "dense"
MANIFEST = "study.json"
CSV_REQUIRED = ("mask_path", "model", "accuracy")
CSV_OPTIONAL = ("method", "sparsity", "seed", "checkpoint", "dataset", "num_classes")
# sparsities closer than this are one level (targets are printed with a few digits)
_SPARSITY_DIGITS = 6
# file paths inside skip reasons: replaced when skipped runs are grouped by reason
_PATH_IN_REASON = re.compile(r"[^\s'\"]*[/\\][^\s'\"]*")


@dataclass
class StudyRecord:
    """One pruned network of a study.

    Attributes:
        run_id: the run directory's name, or ``row<N>`` for a CSV row.
        model: model SPEC.
        masks_path: the mask file.
        accuracy: the accuracy read from the summary (``accuracy_key``) or the CSV.
        method: pruning method (``dense`` for a density-1 reference run; ``unknown`` if not given).
        sparsity: target sparsity ``1 - density`` (rounded to 6 digits so that levels group).
        seed: run seed.
        dataset, checkpoint, num_classes, input_shape: how to rebuild the model for missing metrics
            (``input_shape`` None: the dataset's, else the zoo model's default).
        model_args, leaf_modules: the model's constructor keywords and the classes traced as opaque
            blocks (``package.module.Class`` names) when it is rebuilt.
        network: metric name -> network-level value (None where undefined or failed).
        layers: metric name -> {layer -> value}.
        layer_densities: parameter name -> kept fraction.
    """

    run_id: str
    model: str
    masks_path: str
    accuracy: float
    method: str = "unknown"
    sparsity: float | None = None
    seed: int | None = None
    dataset: str | None = None
    checkpoint: str | None = None
    num_classes: int | None = None
    input_shape: tuple[int, ...] | None = None
    model_args: dict[str, Any] | None = None
    leaf_modules: tuple[str, ...] = ()
    network: dict[str, float | None] = field(default_factory=dict)
    layers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    layer_densities: dict[str, float] = field(default_factory=dict)

    @property
    def is_dense(self) -> bool:
        """A dense reference run (method ``dense`` or sparsity 0)."""
        return self.method == DENSE_METHOD or self.sparsity == 0.0


@dataclass
class Collection:
    """The usable records of a study, what was skipped and why, and the metrics available.

    Attributes:
        source: the study directory or CSV path.
        records: usable records (dense references included; see :attr:`StudyRecord.is_dense`).
        skipped: ``{"run": id, "reason": text}`` for every run or row left out.
        metrics: network-level metric names, requested ones first, in registry order.
        accuracy_key: the summary field used as accuracy (``csv`` for a CSV).
        notes: remarks (e.g. metrics computed because they were missing).
    """

    source: str
    records: list[StudyRecord]
    skipped: list[dict[str, str]]
    metrics: list[str]
    accuracy_key: str
    notes: list[str] = field(default_factory=list)


def collect(source: str | os.PathLike, metrics: str | Iterable[str] | None = None, *,
            accuracy_key: str = "test_at_best_val", compute_missing: bool = True,
            device: str | None = None, at_step: int | str | None = None, dataset: str | None = None,
            input_shape: Sequence[int] | None = None, model_args: dict[str, Any] | None = None,
            leaf_modules: Iterable[str] = ()) -> Collection:
    """Read a study directory or CSV into records.

    Args:
        source: a study directory, or a CSV file (see the module docstring).
        metrics: metric names or families to analyse (any registered metric, plugins included).
            None: the metrics stored in the runs' ``metrics.json`` (for a CSV: ``density``,
            ``ramanujan`` and ``spectral``, those registered).
        accuracy_key: summary field read as accuracy: ``test_at_best_val`` (headline), ``test_final``,
            ``best_val`` or ``test_best_epoch``.
        compute_missing: compute requested metrics a run does not store (otherwise they are None).
        device: device for metrics that take one.
        at_step: read the metrics from ``track.csv`` at this step (``"final"`` or an int; study
            directories only); None: from ``metrics.json``.
        dataset: the dataset of runs or rows that do not name one (classes and input shape).
        input_shape: the per-sample input shape of runs or rows that do not record one.
        model_args: constructor keywords of the model of runs or rows that record none.
        leaf_modules: leaf module classes (``package.module.Class``) of runs or rows that record none.

    Raises:
        StudyInputError: the source does not exist, is not a study directory or a readable CSV, or
            the CSV lacks a required column.
        UnknownMetricError: an unknown metric or family name.
        ModelSpecError: a leaf module class that cannot be imported.
    """
    from sparsegraph.metrics.registry import resolve
    from sparsegraph.models.loading import resolve_class

    path = Path(source)
    model_args = dict(model_args or {}) or None
    leaf_modules = tuple(leaf_modules or ())
    for name in leaf_modules:  # an unknown class fails here, not once per run
        resolve_class(name, "leaf module")
    if dataset is not None:
        from sparsegraph.data import dataset_info

        dataset_info(dataset)  # an unknown name fails here, not once per row
    if accuracy_key not in ACCURACY_KEYS:
        raise BadInputError(f"accuracy key {accuracy_key!r} is not valid; expected one of: {', '.join(ACCURACY_KEYS)}")
    requested = [info.name for info in resolve(metrics)] if metrics else None
    if at_step is not None and at_step != "final" and (isinstance(at_step, bool) or not isinstance(at_step, int)
                                                        or at_step < 0):
        raise BadInputError(f"at_step must be 'final' or a step number >= 0, got {at_step!r}")
    notes: list[str] = []
    if path.is_dir():
        records, skipped = _from_study_dir(path, accuracy_key, at_step)
        key = accuracy_key
        if at_step is not None:
            notes.append("metrics read from each run's track.csv at " + (
                "its last tracked step" if at_step == "final" else f"its last tracked step <= {at_step}"))
    elif path.is_file():
        if at_step is not None:
            raise BadInputError(f"{path}: --at-step reads the runs' track.csv; give a study directory")
        records, skipped = _from_csv(path)
        key = "csv"
        if requested is None:
            requested = _default_csv_metrics()
    else:
        raise StudyInputError(f"{path}: no such study directory or CSV file")
    for record in records:
        record.dataset = record.dataset or dataset
        if record.input_shape is None and input_shape is not None:
            record.input_shape = tuple(int(s) for s in input_shape)
        record.model_args = record.model_args or model_args
        record.leaf_modules = record.leaf_modules or leaf_modules
    if requested:
        records = _fill_missing(records, requested, compute_missing, device, skipped, notes)
    names = requested or _stored_metric_names(records)
    return Collection(source=str(path), records=records, skipped=skipped, metrics=names, accuracy_key=key,
                      notes=notes)


def summarize_skipped(skipped: list[dict[str, str]], examples: int = 3) -> list[dict[str, Any]]:
    """Skipped runs grouped by reason, most frequent first (ties: first seen first).

    Reasons that differ only in a file path (``mask file <path> not found``) form one group.

    Returns:
        ``{"reason", "count", "runs"}`` per group; ``runs`` holds the first ``examples`` run ids.
    """
    groups: dict[str, dict[str, Any]] = {}
    for entry in skipped:
        reason = _PATH_IN_REASON.sub("<path>", entry["reason"])
        group = groups.setdefault(reason, {"reason": reason, "count": 0, "runs": []})
        group["count"] += 1
        if len(group["runs"]) < examples:
            group["runs"].append(entry["run"])
    return sorted(groups.values(), key=lambda g: -g["count"])


def _default_csv_metrics() -> list[str]:
    from sparsegraph.metrics.registry import list_metrics
    from sparsegraph.runs.prune_run import DEFAULT_METRICS

    families = set(DEFAULT_METRICS)
    return [info.name for info in list_metrics() if info.family in families]


def _stored_metric_names(records: list[StudyRecord]) -> list[str]:
    from sparsegraph.metrics.registry import list_metrics

    present = {name for record in records for name in record.network}
    order = {info.name: i for i, info in enumerate(list_metrics())}
    return sorted(present, key=lambda name: (order.get(name, len(order)), name))


def round_sparsity(value: float | None) -> float | None:
    """Sparsity rounded so that runs of one target level compare equal."""
    return None if value is None else round(float(value), _SPARSITY_DIGITS) + 0.0


def _finite_accuracy(value: Any) -> tuple[float | None, str | None]:
    if value is None or value == "":
        return None, "no accuracy"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"accuracy {value!r} is not a number"
    if not math.isfinite(number):
        return None, f"accuracy is {number}"
    return number, None


def _read_json(path: Path) -> tuple[Any, str | None]:
    try:
        return json.loads(path.read_text()), None
    except FileNotFoundError:
        return None, f"no {path.name}"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"unreadable {path.name} ({str(exc).splitlines()[0]})"


def _run_dirs(root: Path, skipped: list[dict[str, str]]) -> list[Path]:
    manifest, problem = _read_json(root / MANIFEST)
    if manifest is not None:
        runs = manifest.get("runs") if isinstance(manifest, dict) else None
        if not isinstance(runs, list):
            raise StudyInputError(f"{root / MANIFEST}: expected an object with a 'runs' list")
        dirs = []
        for run in runs:
            run_id = run.get("run_id") if isinstance(run, dict) else None
            if not isinstance(run_id, str):
                raise StudyInputError(f"{root / MANIFEST}: every run needs a 'run_id' string")
            if (root / run_id).is_dir():
                dirs.append(root / run_id)
            else:
                skipped.append({"run": run_id, "reason": "missing run directory"})
        return dirs
    if problem and problem != f"no {MANIFEST}":
        raise StudyInputError(f"{root / MANIFEST}: {problem}")
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and ((p / "config.json").exists()
                                                                or (p / "summary.json").exists()))
    if not dirs:
        raise StudyInputError(f"{root}: not a study directory (no {MANIFEST} and no run directories with "
                              "config.json or summary.json)")
    return dirs


def _from_study_dir(root: Path, accuracy_key: str, at_step: int | str | None = None
                    ) -> tuple[list[StudyRecord], list[dict[str, str]]]:
    skipped: list[dict[str, str]] = []
    records = []
    for run_dir in _run_dirs(root, skipped):
        run_id = run_dir.name
        summary, problem = _read_json(run_dir / "summary.json")
        if not isinstance(summary, dict):
            reason = problem or "unreadable summary.json (not a JSON object)"
            skipped.append({"run": run_id, "reason": "unfinished (no summary.json)" if problem == "no summary.json"
                            else reason})
            continue
        accuracy, problem = _finite_accuracy(summary.get(accuracy_key))
        if accuracy is None:
            if problem == "no accuracy":
                problem = f"no {accuracy_key} in summary.json (trained with --epochs 0?)"
            skipped.append({"run": run_id, "reason": problem})
            continue
        config, _ = _read_json(run_dir / "config.json")
        config = config if isinstance(config, dict) else {}
        masks_path = run_dir / "masks.safetensors"
        density = summary.get("target_density", config.get("density"))
        sparsity = round_sparsity(1.0 - density) if isinstance(density, (int, float)) else None
        method = summary.get("method", config.get("method", "unknown"))
        record = StudyRecord(
            run_id=run_id, model=summary.get("model", config.get("model", "")), masks_path=str(masks_path),
            accuracy=accuracy, method=DENSE_METHOD if sparsity == 0.0 else method, sparsity=sparsity,
            seed=summary.get("seed", config.get("seed")), dataset=summary.get("dataset", config.get("dataset")),
            checkpoint=config.get("checkpoint"), num_classes=config.get("num_classes"),
            **_model_settings(config), layer_densities=_layer_densities(summary.get("layer_densities")))
        if at_step is None:
            record.input_shape = _read_stored_metrics(record, run_dir / "metrics.json")
        else:
            record.input_shape = _measured_input_shape(_read_json(run_dir / "metrics.json")[0])
            problem = _read_tracked_metrics(record, run_dir, at_step)
            if problem:
                skipped.append({"run": run_id, "reason": problem})
                continue
        records.append(record)
    return records, skipped


def _read_tracked_metrics(record: StudyRecord, run_dir: Path, at_step: int | str) -> str | None:
    """Fill ``record`` from ``track.csv`` at ``at_step``; a reason when the run cannot be used."""
    from sparsegraph.tracking.table import ACCURACY_METRICS, read_track, step_at, values_at

    path = run_dir / "track.csv"
    if not path.is_file():
        return "no track.csv (run the study with --track to use --at-step)"
    try:
        rows = read_track(path)
    except BadInputError as exc:
        return str(exc)
    step = step_at(rows, at_step)
    if step is None:
        return f"no tracked step <= {at_step} in track.csv"
    network, layers = values_at(rows, step)
    record.network = {k: v for k, v in network.items() if k not in ACCURACY_METRICS}
    record.layers = layers
    record.masks_path = str(run_dir / "track" / f"step_{step}.safetensors")
    return None


def _layer_densities(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}


def _read_stored_metrics(record: StudyRecord, path: Path) -> tuple[int, ...] | None:
    """Add the rows of a run's ``metrics.json`` to ``record``; the input shape it was measured with."""
    document, _ = _read_json(path)
    rows = document.get("rows") if isinstance(document, dict) else None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict):
            _add_row(record, row)
    return _measured_input_shape(document)


def _measured_input_shape(document: Any) -> tuple[int, ...] | None:
    options = document.get("options") if isinstance(document, dict) else None
    shape = options.get("input_shape") if isinstance(options, dict) else None
    if isinstance(shape, list) and shape and all(isinstance(s, int) and s > 0 for s in shape):
        return tuple(shape)
    return None


def _model_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The ``model_args`` and ``leaf_modules`` a run's ``config.json`` records (malformed values: none)."""
    model_args, leaves = config.get("model_args"), config.get("leaf_modules")
    return {"model_args": dict(model_args) if isinstance(model_args, dict) and model_args else None,
            "leaf_modules": tuple(leaves) if isinstance(leaves, list) and all(isinstance(x, str) for x in leaves)
            else ()}


def _run_dir_hints(mask: Path) -> dict[str, Any]:
    """What the run directory holding ``mask`` says about how to rebuild its model (``{}``: not a run)."""
    config, _ = _read_json(mask.parent / "config.json")
    hints: dict[str, Any] = {}
    if isinstance(config, dict):
        hints = {key: config.get(key) for key in ("dataset", "num_classes", "seed") if config.get(key) is not None}
        hints.update(_model_settings(config))
    document, _ = _read_json(mask.parent / "metrics.json")
    shape = _measured_input_shape(document)
    if shape is not None:
        hints["input_shape"] = shape
    return hints


def _add_row(record: StudyRecord, row: dict[str, Any]) -> None:
    name = row.get("metric")
    if not isinstance(name, str):
        return
    value = row.get("value") if row.get("status") == "ok" else None
    value = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    if row.get("scope") == "network" or row.get("layer") is None:
        record.network[name] = value
    else:
        record.layers.setdefault(name, {})[row["layer"]] = value


def _from_csv(path: Path) -> tuple[list[StudyRecord], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets write a BOM
            reader = csv.DictReader(fh)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            rows = [{(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else v
                     for k, v in row.items()} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StudyInputError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise StudyInputError(f"{path}: missing required column(s) {', '.join(missing)}; expected "
                              f"{', '.join(CSV_REQUIRED)}[, {', '.join(CSV_OPTIONAL)}]")
    if not rows:
        raise StudyInputError(f"{path}: no rows")
    skipped: list[dict[str, str]] = []
    records = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        run_id = f"row{number}"
        try:
            record = _csv_record(path, run_id, row)
        except ValueError as exc:
            skipped.append({"run": run_id, "reason": str(exc)})
            continue
        records.append(record)
    return records, skipped


def _csv_record(path: Path, run_id: str, row: dict[str, Any]) -> StudyRecord:
    accuracy, problem = _finite_accuracy(row.get("accuracy"))
    if accuracy is None:
        raise StudyInputError(problem)
    mask = Path(row["mask_path"]) if row.get("mask_path") else None
    if mask is None:
        raise StudyInputError("empty mask_path")
    mask = mask if mask.is_absolute() else path.parent / mask
    if not mask.is_file():
        raise StudyInputError(f"mask file {mask} not found")
    if not row.get("model"):
        raise StudyInputError("empty model")

    def number(key: str, kind: type) -> Any:
        text = row.get(key)
        if text in (None, ""):
            return None
        try:
            return kind(text)
        except ValueError:
            raise StudyInputError(f"{key} {text!r} is not a {kind.__name__}") from None

    sparsity = number("sparsity", float)
    if sparsity is not None and not 0 <= sparsity < 1:
        raise StudyInputError(f"sparsity {sparsity} is not in [0, 1)")
    method = row.get("method") or "unknown"
    sparsity = round_sparsity(sparsity)
    hints = _run_dir_hints(mask)
    seed = number("seed", int)
    return StudyRecord(run_id=run_id, model=row["model"], masks_path=str(mask), accuracy=accuracy,
                       method=DENSE_METHOD if sparsity == 0.0 else method, sparsity=sparsity,
                       seed=seed if seed is not None else hints.get("seed"),
                       dataset=row.get("dataset") or hints.get("dataset"),
                       checkpoint=row.get("checkpoint") or None,
                       num_classes=number("num_classes", int) or hints.get("num_classes"),
                       input_shape=hints.get("input_shape"), model_args=hints.get("model_args"),
                       leaf_modules=hints.get("leaf_modules", ()))


def _fill_missing(records: list[StudyRecord], requested: list[str], compute_missing: bool, device: str | None,
                  skipped: list[dict[str, str]], notes: list[str]) -> list[StudyRecord]:
    kept = []
    computed = 0
    for record in records:
        if not record.layer_densities:
            try:
                record.layer_densities = _mask_layer_densities(record.masks_path)
            except BadInputError as exc:
                skipped.append({"run": record.run_id, "reason": str(exc).splitlines()[0]})
                continue
        missing = [name for name in requested if name not in record.network]
        if missing and compute_missing:
            try:
                _measure_into(record, missing, device)
            except BadInputError as exc:
                skipped.append({"run": record.run_id, "reason": f"cannot measure: {str(exc).splitlines()[0]}"})
                continue
            computed += 1
        for name in missing:
            record.network.setdefault(name, None)
        kept.append(record)
    if computed:
        notes.append(f"computed missing metrics with sparsegraph.measure for {computed} run(s)")
    return kept


def _mask_layer_densities(masks_path: str) -> dict[str, float]:
    from sparsegraph.masks import MaskSet

    if not Path(masks_path).is_file():
        raise BadInputError(f"mask file {masks_path} not found")
    return MaskSet.load(masks_path).layer_densities()


def _measure_into(record: StudyRecord, names: list[str], device: str | None) -> None:
    from sparsegraph.metrics import measure
    from sparsegraph.models.loading import resolve_class

    model, input_shape = rebuild_model(record)
    leaves = [resolve_class(name, "leaf module") for name in record.leaf_modules]
    result = measure(model, record.masks_path, names, input_shape=input_shape, model_spec=record.model,
                     device=device, leaf_modules=leaves or None)
    for row in result.rows:
        _add_row(record, row)


def rebuild_model(record: StudyRecord):
    """The record's model as its run measured it, and its input shape.

    The checkpoint if one is recorded, else the run's seeded initialisation
    (``derive_seed(seed, "init")``, seed 0 when none is recorded).
    """
    from sparsegraph.data import dataset_info
    from sparsegraph.models import load_model
    from sparsegraph.utils.seed import derive_seed

    info = dataset_info(record.dataset) if record.dataset else None
    input_shape = record.input_shape or (tuple(info.input_shape) if info else None)
    num_classes = record.num_classes or (info.num_classes if info else 10)
    model = load_model(record.model, num_classes=num_classes, checkpoint=record.checkpoint,
                       seed=derive_seed(record.seed if record.seed is not None else 0, "init"),
                       input_shape=input_shape, **(record.model_args or {}))
    return model, input_shape or getattr(model, "input_shape", None)
