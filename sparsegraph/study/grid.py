"""The study grid: every (method, sparsity, seed) pruned, measured and trained into its own run directory.

Layout::

    STUDY_DIR/study.json                 the grid (shared run settings + the list of runs)
    STUDY_DIR/<method>_s<sparsity>_seed<seed>/   one ``sparsegraph prune`` run directory each
    STUDY_DIR/dense_seed<seed>/          with ``dense=True``: the unpruned reference (density 1)

Each run is :func:`sparsegraph.runs.run_prune` with the shared settings. Running the grid again skips
finished runs (``summary.json`` present), resumes started ones (``config.json`` present: the stored
mask is reused and training continues from the last checkpoint), and starts the rest. A study
directory keeps its shared settings: a second call with other settings is refused, while other
methods, sparsities or seeds are added to the grid. A failing run is reported and the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from sparsegraph.errors import BadInputError, UsageError
from sparsegraph.pruning.registry import get_generator
from sparsegraph.study.collect import DENSE_METHOD, MANIFEST
from sparsegraph.study.executors import check_executor, execute
from sparsegraph.utils.atomic import atomic_write_text, prepare_output_dir

GRID_FORMAT = "sparsegraph.study-grid/1"
# the generator that realises the dense reference: at density 1 it keeps every weight
DENSE_GENERATOR = "random"
# PruneRunConfig fields that differ between the runs of a grid
_PER_RUN = ("method", "density", "seed")


@dataclass(frozen=True)
class GridRun:
    """One cell of the grid: its directory name and configuration."""

    run_id: str
    method: str
    sparsity: float
    seed: int
    config: Any  # PruneRunConfig

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "method": self.method, "sparsity": self.sparsity, "seed": self.seed}


@dataclass
class GridSpec:
    """A method x sparsity x seed grid on one model and dataset.

    Attributes:
        model: model SPEC.
        dataset: registered dataset name.
        methods: pruning generators.
        sparsities: pruned fractions in (0, 1).
        seeds: run seeds.
        dense: also run the unpruned network once per seed (reference for ``accuracy_drop``).
        settings: the shared :class:`~sparsegraph.runs.PruneRunConfig` fields (``train_options``,
            ``recipe``, ``metrics``, ``device``, ``model_args``, ``leaf_modules``...), everything but
            method, density and seed. ``model_args`` (constructor keywords; empty: None) and
            ``leaf_modules`` (``package.module.Class`` names, any iterable) reach every run as
            ``sparsegraph prune --model-arg/--leaf-module`` would pass them.
    """

    model: str
    dataset: str
    methods: tuple[str, ...]
    sparsities: tuple[float, ...]
    seeds: tuple[int, ...]
    dense: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from sparsegraph.runs import PruneRunConfig

        self.methods = tuple(self.methods)
        self.sparsities = tuple(float(s) for s in self.sparsities)
        self.seeds = tuple(int(s) for s in self.seeds)
        if not self.methods or not self.sparsities or not self.seeds:
            raise UsageError("a study grid needs at least one method, one sparsity and one seed")
        bad = [s for s in self.sparsities if not 0 < s < 1]
        if bad:
            raise UsageError(f"sparsities must be in (0, 1), got {', '.join(f'{s:g}' for s in bad)}")
        if DENSE_METHOD in self.methods:
            raise UsageError("'dense' is not a pruning method; use dense=True (--dense) for the dense reference")
        for method in self.methods:
            get_generator(method)  # an unknown method is refused before any run starts
        allowed = {f.name for f in dataclasses.fields(PruneRunConfig)} - {*_PER_RUN, "model", "dataset"}
        unknown = sorted(set(self.settings) - allowed)
        if unknown:
            raise UsageError(f"unknown run setting(s) {', '.join(unknown)}; "
                             f"expected some of: {', '.join(sorted(allowed))}")
        self.settings = dict(self.settings)
        if "model_args" in self.settings:
            self.settings["model_args"] = dict(self.settings["model_args"] or {}) or None
        if "leaf_modules" in self.settings:
            self.settings["leaf_modules"] = tuple(self.settings["leaf_modules"] or ())

    def runs(self) -> list[GridRun]:
        """Every run of the grid: dense references first, then methods x sparsities x seeds."""
        cells = [(DENSE_METHOD, 0.0, seed) for seed in self.seeds] if self.dense else []
        cells += [(m, s, seed) for m in self.methods for s in self.sparsities for seed in self.seeds]
        return [GridRun(run_id(m, s, seed), m, s, seed, self._config(m, s, seed)) for m, s, seed in cells]

    def _config(self, method: str, sparsity: float, seed: int):
        from sparsegraph.pruning.dst.runner import DST_METHODS
        from sparsegraph.runs import PruneRunConfig

        settings = dict(self.settings)
        for key in ("metrics", "track"):
            if key in settings:
                settings[key] = tuple(settings[key])
        generator = DENSE_GENERATOR if method == DENSE_METHOD else method
        if generator not in DST_METHODS and "method_options" in settings:  # dst_* options: set/rigl runs only
            settings["method_options"] = {k: v for k, v in settings["method_options"].items()
                                          if not k.startswith("dst_")}
        return PruneRunConfig(model=self.model, dataset=self.dataset, method=generator, density=1.0 - sparsity,
                              seed=seed, **settings)

    def shared(self) -> dict[str, Any]:
        """The settings every run shares (what a study directory keeps), JSON-ready."""
        config = self._config(self.methods[0], self.sparsities[0], self.seeds[0]).to_dict()
        return json.loads(json.dumps({k: v for k, v in config.items() if k not in _PER_RUN}))


def run_id(method: str, sparsity: float, seed: int) -> str:
    """The run directory name: ``snip_s0.95_seed0``, ``dense_seed0``."""
    if method == DENSE_METHOD:
        return f"{DENSE_METHOD}_seed{seed}"
    return f"{method}_s{sparsity:g}_seed{seed}"


@dataclass
class GridResult:
    """What :func:`run_grid` did.

    Attributes:
        done: run ids that finished in this call.
        skipped: run ids that were already finished.
        failed: run id -> one-line error.
    """

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def run_state(run_dir: Path) -> str:
    """``finished`` (summary.json), ``started`` (config.json) or ``new``."""
    if (run_dir / "summary.json").exists():
        return "finished"
    if (run_dir / "config.json").exists():
        return "started"
    return "new"


def _write_manifest(study_dir: Path, spec: GridSpec, runs: list[GridRun]) -> None:
    """Create ``study.json``, or add the runs it does not list yet (same shared settings only)."""
    path = study_dir / MANIFEST
    shared = {"model": spec.model, "dataset": spec.dataset, **spec.shared()}
    listed = [r.to_dict() for r in runs]
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            stored_shared, stored_runs = stored["shared"], stored["runs"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path}: unreadable study manifest ({exc})") from None
        differing = sorted(k for k in set(stored_shared) | set(shared)
                           if stored_shared.get(k) != shared.get(k))
        if differing:
            raise UsageError(f"{study_dir} holds a study with other settings (differs in: {', '.join(differing)}); "
                             "use another -o")
        known = {r["run_id"] for r in stored_runs}
        listed = stored_runs + [r for r in listed if r["run_id"] not in known]
    document = {"format": GRID_FORMAT, "shared": shared, "runs": listed}
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")


def _run_one(run_id: str, config: Any, run_dir: str, threads: int | None) -> tuple[str, str, str | None]:
    """Task body (top level, so process pools and Ray can pickle it): one prune run."""
    from sparsegraph.runs import run_prune
    from sparsegraph.utils.threads import set_threads

    if threads:
        set_threads(threads)
    resume = run_state(Path(run_dir)) == "started"
    try:
        run_prune(config, run_dir, resume=resume)
    except Exception as exc:  # one bad run must not stop the grid; the message names it
        text = " ".join(str(exc).split()) or exc.__class__.__name__
        return run_id, "failed", f"{exc.__class__.__name__}: {text}"
    return run_id, "resumed" if resume else "done", None


def run_grid(spec: GridSpec, study_dir: str | os.PathLike, *, executor: str | None = None, workers: int | None = None,
             ray_address: str | None = None,
             on_result: Callable[[str, str, str | None], None] | None = None) -> GridResult:
    """Run every unfinished run of ``spec`` into ``study_dir`` (see the module docstring).

    Args:
        spec: the grid.
        study_dir: the study directory (created).
        executor: ``serial``, ``process`` (spawn pool of ``workers``) or ``ray``; None: ``process`` for more
            than one worker, else ``serial``.
        workers: parallel runs (None: 1 for ``process``, as many as Ray schedules for ``ray``).
        ray_address: Ray cluster address.
        on_result: called with ``(run_id, status, message)`` as each run ends; status is ``skipped``
            (finished earlier), ``done``, ``resumed`` or ``failed``.

    Returns:
        A :class:`GridResult`.

    Raises:
        UsageError: bad executor or worker count, Ray not installed, a study directory with other
            settings, or an unknown metric name.
    """
    from sparsegraph.metrics.registry import resolve
    from sparsegraph.models.loading import resolve_class
    from sparsegraph.runs.prune_run import DEFAULT_METRICS

    executor = check_executor(executor, workers)
    resolve(spec.settings.get("metrics", DEFAULT_METRICS))  # an unknown metric fails once, before any run
    for name in spec.settings.get("leaf_modules", ()):  # so does an unknown leaf module class
        resolve_class(name, "leaf module")
    study = prepare_output_dir(study_dir)
    runs = spec.runs()
    _write_manifest(study, spec, runs)
    result = GridResult()
    tasks = []
    threads = _threads_per_worker(executor, workers)
    for run in runs:
        if run_state(study / run.run_id) == "finished":
            result.skipped.append(run.run_id)
            if on_result:
                on_result(run.run_id, "skipped", None)
            continue
        tasks.append((run.run_id, run.config, str(study / run.run_id), threads))
    for rid, status, message in execute(_run_one, tasks, executor=executor, workers=workers, address=ray_address):
        if status == "failed":
            result.failed[rid] = message
        else:
            result.done.append(rid)
        if on_result:
            on_result(rid, status, message)
    return result


def _threads_per_worker(executor: str, workers: int | None) -> int | None:
    """Split the available cores between pool workers so that they do not oversubscribe the cores."""
    from sparsegraph.utils.threads import worker_share

    if executor != "process" or not workers or workers <= 1:
        return None
    return worker_share(workers)


def parse_list(text: str | Iterable[Any], kind: type, name: str) -> tuple:
    """``"0.9,0.95"`` -> ``(0.9, 0.95)``; a clear error naming the option on a bad item."""
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    items = [p for p in items if p != ""]
    try:
        return tuple(kind(p) for p in items)
    except ValueError:
        raise UsageError(f"{name}: expected comma-separated {kind.__name__} values, got {text!r}") from None
