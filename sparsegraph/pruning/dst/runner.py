"""``sg.pruning.run(model, "set" | "rigl", ...)``: dynamic sparse training from a base mask (spec pruning §5).

Options are normalised once here (:func:`dst_schedule`) for the API and the ``prune`` command alike:

- ``base`` (default ``erk``, exact counts): the generator of the initial mask; its options
  (``scope``, ``allocation``, ...) are the remaining keyword options;
- ``dst_interval`` ΔT: default 1,500 steps for SET and 4,000 for RigL (the ITOP README, CIFAR-10 at
  batch 128: T = 88,000 steps). A shorter run scales the default by T / 88,000 (at least 1 step), so it
  makes as many updates as the reference schedule does; an explicit value is used as given;
- ``dst_fraction`` ζ₀ (0.5), ``dst_schedule`` (``cosine``, ``constant``, ``linear``), ``dst_stop``
  (fraction of T after which the masks stay fixed; 1.0 for SET as the ITOP code, 0.75 for RigL as
  Google's RigL).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sparsegraph.errors import UsageError
from sparsegraph.pruning.dst.schedule import SCHEDULES
from sparsegraph.pruning.dst.updater import DSTSchedule, DSTUpdater

DST_METHODS = ("set", "rigl")
GROWTH = {"set": "random", "rigl": "gradient"}
REFERENCE_INTERVAL = {"set": 1500, "rigl": 4000}
REFERENCE_STOP = {"set": 1.0, "rigl": 0.75}
REFERENCE_ITERATIONS = 88_000  # the ITOP README's CIFAR-10 schedule at batch 128
DEFAULT_BASE = "erk"
# the DST options; every other option goes to the base generator
DST_OPTIONS: dict[str, Any] = {"base": None, "dst_interval": None, "dst_fraction": 0.5, "dst_schedule": "cosine",
                               "dst_stop": None}


def default_interval(method: str, total_iterations: int) -> int:
    """ΔT when none is given: the reference value, scaled down for runs shorter than 88,000 steps."""
    scale = min(1.0, total_iterations / REFERENCE_ITERATIONS)
    return max(1, round(REFERENCE_INTERVAL[method] * scale))


def dst_schedule(method: str, total_iterations: int, *, dst_interval: int | None = None, dst_fraction: float = 0.5,
                 dst_schedule: str = "cosine", dst_stop: float | None = None,
                 tie_break: str = "random") -> DSTSchedule:
    """The validated :class:`DSTSchedule` of a ``set`` / ``rigl`` run of ``total_iterations`` steps."""
    if method not in DST_METHODS:
        raise UsageError(f"dynamic sparse training methods are {', '.join(DST_METHODS)}, got {method!r}")
    interval = default_interval(method, total_iterations) if dst_interval is None else dst_interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise UsageError(f"dst_interval must be a positive number of steps, got {dst_interval!r}")
    if not 0.0 <= float(dst_fraction) <= 1.0:
        raise UsageError(f"dst_fraction must be in [0, 1], got {dst_fraction}")
    if dst_schedule not in SCHEDULES:
        raise UsageError(f"dst_schedule must be one of {', '.join(SCHEDULES)}, got {dst_schedule!r}")
    stop = REFERENCE_STOP[method] if dst_stop is None else float(dst_stop)
    if not 0.0 <= stop <= 1.0:
        raise UsageError(f"dst_stop must be in [0, 1] (a fraction of training), got {dst_stop}")
    return DSTSchedule(growth=GROWTH[method], interval=interval, fraction=float(dst_fraction),
                       schedule=dst_schedule, stop=stop, tie_break=tie_break)


def split_dst_options(method: str, options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(dst options with defaults, base generator options)`` from a DST method's keyword options.

    The options are checked here, before any work (the schedule itself needs the run's length).
    """
    dst = {key: options.get(key, default) for key, default in DST_OPTIONS.items()}
    dst["base"] = dst["base"] or DEFAULT_BASE
    if dst["base"] in DST_METHODS:
        raise UsageError(f"the base of {method!r} must be a mask generator, not another DST method")
    dst_schedule(method, REFERENCE_ITERATIONS, **{k: v for k, v in dst.items() if k != "base"})
    return dst, {k: v for k, v in options.items() if k not in DST_OPTIONS}


def dst_updater(method: str, total_iterations: int, dst: dict[str, Any], masks, seed: int, log=None,
                tie_break: str = "random") -> DSTUpdater:
    """The :class:`DSTUpdater` of a run from its options (as :func:`split_dst_options` returns them)."""
    schedule = dst_schedule(method, total_iterations, **{k: v for k, v in dst.items() if k != "base"},
                            tie_break=tie_break)
    return DSTUpdater(schedule, masks, seed, log)


@dataclass
class DSTSummary:
    """What a dynamic sparse training run did (``summary.json`` ``dst``; ``PruneResult.dst``).

    Attributes:
        method, base: ``set`` / ``rigl`` and the generator of the initial mask.
        interval, fraction, schedule, stop, growth: the resolved schedule (ΔT, ζ₀, ...).
        updates: mask updates done; ``itop_rate`` = |∪_t M_t| / N at the end.
        initial_fingerprint: the fingerprint of the initial mask (the final one is the run's mask).
        train: the :class:`~sparsegraph.training.TrainResult` (API only; not in ``to_dict``).
    """

    method: str
    base: str
    interval: int
    fraction: float
    schedule: str
    stop: float
    growth: str
    updates: int
    itop_rate: float
    initial_fingerprint: str
    train: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, method: str, base: str, updater: DSTUpdater, initial_fingerprint: str, train=None) -> DSTSummary:
        s = updater.schedule
        return cls(method=method, base=base, interval=s.interval, fraction=s.fraction, schedule=s.schedule,
                   stop=s.stop, growth=s.growth, updates=updater.updates, itop_rate=updater.itop_rate,
                   initial_fingerprint=initial_fingerprint, train=train)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("train")
        return d


def final_masks(updater: DSTUpdater, summary: DSTSummary, seed: int, density: float):
    """The updater's current masks as a CPU :class:`~sparsegraph.masks.MaskSet` with the run's metadata."""
    from sparsegraph.masks import MaskSet

    metadata = {"generator": summary.method, "base": summary.base, "seed": seed, "target_density": density,
                "dst_updates": summary.updates, "itop_rate": summary.itop_rate}
    return MaskSet({n: m.cpu() for n, m in updater.masks.items()}, metadata=metadata)


def run_dst(model, density: float, data: Any = None, seed: int | None = None, *, method: str, **opts: Any):
    """Train ``model`` (a copy) with SET or RigL from a base mask; see the module docstring.

    ``data`` is a :class:`~sparsegraph.training.TrainData`; training options as for IMP (``recipe``,
    ``train_options``, ``device``, ``run_dir``, ``resume``, ...). Returns a ``PruneResult`` whose
    ``masks`` are the final masks, ``weights`` the trained weights, ``dst`` a :class:`DSTSummary`.
    """
    from sparsegraph.pruning.api import PruneResult, run
    from sparsegraph.pruning.baselines.training_run import (TRAIN_OPTIONS, check_train_data, iters_per_epoch,
                                                            resolve_recipe, working_copy)
    from sparsegraph.training import RunLog, TrainHooks, train
    from sparsegraph.utils.seed import resolve_seed

    started = time.perf_counter()
    dst, rest = split_dst_options(method, opts)
    train_opts = {**TRAIN_OPTIONS, **{k: rest.pop(k) for k in list(rest) if k in TRAIN_OPTIONS}}
    data = check_train_data(data, method)
    seed = resolve_seed(seed)
    recipe = resolve_recipe(train_opts, data)
    if recipe.epochs < 1:
        raise UsageError(f"{method} trains the network: give a recipe with epochs >= 1")
    total = recipe.epochs * iters_per_epoch(data, recipe)
    base = run(model, dst["base"], density=density, data=data.train, seed=seed, **rest)
    run_dir = train_opts["run_dir"]
    log = train_opts["log"] or RunLog(None if run_dir is None else f"{run_dir}/log.jsonl")
    updater = dst_updater(method, total, dst, base.masks, seed, log, rest.get("tie_break", "random"))
    work = working_copy(model)
    trained = train(work, base.masks, data, recipe=recipe, run_dir=run_dir, seed=seed, resume=train_opts["resume"],
                    log=log, hooks=TrainHooks(mask_updater=updater),
                    **{k: train_opts[k] for k in ("device", "amp", "channels_last", "deterministic", "progress",
                                                  "select_on_test")})
    summary = DSTSummary.of(method, dst["base"], updater, base.masks.fingerprint(), trained)
    weights = {k: v.detach().to("cpu").clone() for k, v in work.state_dict().items()}
    return PruneResult(masks=final_masks(updater, summary, seed, density), weights=weights, events=[],
                       timings={"training": trained.seconds, "total": time.perf_counter() - started}, seed=seed,
                       excluded=base.excluded, dst=summary)
