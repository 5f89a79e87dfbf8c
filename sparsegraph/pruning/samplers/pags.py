"""PAGS: sample masks from a base generator and keep the best by a graph metric (spec pruning §3).

Sample 0 is the base mask exactly as ``sg.prune(model, base, density, data, seed=seed)`` draws it and is
the initial best; sample j ≥ 1 is the base run with the seed derive(seed, "pags", j) (fresh scoring batches
for data-driven bases, fresh positions for random ones). Each sample is scored through the metric
registry (:mod:`.scoring`) and compare-merged into the best (:mod:`.merge`), in sample order, whatever
the executor. Every ``interval`` samples the best is snapshotted and the state saved for ``resume``.

Example:
    Merged layer by layer, the PAGS mask scores higher (``spectral.full_spectrum``) than every sample.

    >>> import torch, sparsegraph as sg
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
    ...                           torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> data = (torch.randn(32, 16), torch.randint(0, 3, (32,)))
    >>> result = sg.pruning.run(net, "pags", density=0.3, data=data, seed=0, base="random", population=4)
    >>> samples = [e["candidate"] for e in result.events if e["event"] == "pags_sample"]
    >>> len(samples), result.events[-1]["score"] > max(samples)
    (5, True)
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.outcomes import METADATA_KEY, SamplerOutcome
from sparsegraph.pruning.registry import get_generator
from sparsegraph.pruning.samplers.executors import (check_executor, make_executor, score_task, single_threaded,
                                                    worker_context)
from sparsegraph.pruning.samplers.merge import BestState, rebalance
from sparsegraph.pruning.samplers.scoring import DEFAULT_SCORE, ScoreSpec, resolve_score_spec
from sparsegraph.pruning.samplers.snapshots import (config_hash, load_state, save_state, trim_log,
                                                    weights_digest, write_snapshot)
from sparsegraph.utils.parallel import resolve_executor
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed

# PAGS's own options and defaults (= the paper); every other option goes to the base generator
PAGS_OPTIONS: dict[str, Any] = {
    "base": None, "population": 1000, "interval": 20, "score": DEFAULT_SCORE, "direction": None, "rule": None,
    "merge": "layer", "rebalance": True, "perturb": None, "first_mask_data": "samples", "convention": None,
    "score_options": None, "workers": 1, "executor": None, "ray_address": None, "run_dir": None,
    "resume": False, "log": None, "progress": False,
}
# bases that draw the same mask for every seed: sampling them needs perturb=σ
DETERMINISTIC_BASES = ("magnitude", "synflow")
SAMPLE_EVENTS = ("pags_sample", "pags_snapshot")
# options that do not change the sampled masks (a resumed run may change them)
FIRST_MASK_DATA = ("samples", "full")
_NOT_HASHED = ("population", "workers", "executor", "ray_address", "run_dir", "resume", "log", "progress",
               "rebalance")


@dataclass
class Sample:
    """One generated candidate: its masks, the base's raw scores and the generation time."""

    masks: dict[str, torch.Tensor]
    scores: dict[str, torch.Tensor] | None
    seconds: float
    excluded: list[str]


class Sampler:
    """Draws sample j of the base generator on θ (optionally on a perturbed copy of θ)."""

    def __init__(self, model: nn.Module, base: str, density: float, data: Any, seed: int,
                 base_options: Mapping[str, Any], perturb: float | None, first_full: bool = False):
        self.model, self.base, self.density, self.data = model, base, density, data
        self.seed, self.options, self.perturb, self.first_full = seed, dict(base_options), perturb, first_full

    def sample(self, j: int) -> Sample:
        from sparsegraph.pruning.api import run

        start = time.perf_counter()
        seed = self.seed if j == 0 else derive_seed(self.seed, "pags", j)
        model = self.model if j == 0 or not self.perturb else self._perturbed(j)
        data, options = self.data, self.options
        if j == 0 and self.first_full:
            data = full_split_batches(self.data, int(self.options.get("score_batch_size", 128)))
            options = {**self.options, "score_batches": len(data)}
        result = run(model, self.base, density=self.density, data=data, seed=seed, **options)
        masks = {n: m.to("cpu", torch.bool) for n, m in result.masks.items()}
        return Sample(masks, result.scores, time.perf_counter() - start, list(result.excluded))

    def _perturbed(self, j: int) -> nn.Module:
        """A copy with θ + σ·std(θ_l)·ε on every conv/linear weight, ε ~ N(0, 1) from
        derive(seed, "pags", j, "perturb")."""
        g = make_generator(derive_seed(self.seed, "pags", j, "perturb"))
        noisy = copy.deepcopy(self.model)
        with torch.no_grad():
            for module in noisy.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    w = module.weight
                    noise = torch.randn(w.shape, generator=g, dtype=torch.float64)
                    scale = float(w.detach().double().std()) if w.numel() > 1 else 0.0
                    w.add_((noise * (self.perturb * scale)).to(w.device, w.dtype))
        return noisy


def full_split_batches(data: Any, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The whole training split as unaugmented (x, y) batches in order: the authors' "full data ticket"."""
    from sparsegraph.training.batches import iterate_eval

    if data is None or not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise UsageError("first_mask_data='full' needs the training split as data (a dataset or TensorSplit)")
    return list(iterate_eval(data, batch_size, torch.device("cpu")))


def split_options(opts: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """PAGS options (defaults filled in) and the base generator's options."""
    own = {**PAGS_OPTIONS, **{k: v for k, v in opts.items() if k in PAGS_OPTIONS}}
    base = {k: v for k, v in opts.items() if k not in PAGS_OPTIONS}
    return own, base


def check_base(base: str | None, perturb: float | None) -> str:
    """The base generator name; refuses samplers, and deterministic bases without ``perturb``."""
    if not base:
        raise UsageError("PAGS needs a base generator: base='snip' (CLI --base)")
    info = get_generator(base)
    if info.runner is not None:
        raise UsageError(f"base {base!r} is itself a sampler or baseline; choose a mask generator")
    if perturb is not None and (not isinstance(perturb, (int, float)) or perturb <= 0):
        raise UsageError(f"perturb must be a positive relative noise scale, got {perturb!r}")
    if base in DETERMINISTIC_BASES and not perturb:
        raise UsageError(f"base {base!r} is deterministic: every sample would repeat one mask; "
                         "pass perturb=σ (CLI --perturb) to add relative Gaussian noise per sample")
    return base


def _check_counts(population: Any, interval: Any) -> None:
    for name, value, low in (("population", population, 0), ("interval", interval, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")


def run_pags(model: nn.Module, density: float, data: Any = None, seed: int | None = None, **opts: Any):
    """Run PAGS and return a :class:`~sparsegraph.pruning.api.PruneResult` (``method="pags"``).

    Args:
        model: the network at θ (not modified).
        density: kept fraction d.
        data: the base generator's scoring data.
        seed: the run seed (None: drawn from OS entropy).
        **opts: ``base`` (generator name, required), ``population`` n (1000), ``interval`` i (20),
            ``score`` (registry metric, ``spectral.full_spectrum``), ``direction`` (max | min; default
            the registry's ``higher_is_better``), ``rule`` (imdb | delta_r | single),
            ``merge`` (layer | whole), ``rebalance`` (True: the exported mask keeps exactly K weights;
            False: the layer-wise merge as published, whose count drifts from K), ``perturb`` σ
            (magnitude/synflow bases),
            ``convention``, ``score_options`` (metric options), ``workers`` (1), ``executor``
            (serial | process | ray; default process for more than one worker), ``ray_address``, ``run_dir`` (snapshots and state), ``resume``,
            ``log`` (a RunLog), ``progress``; every other option goes to the base generator.

    Returns:
        The best masks (rebalanced to exactly K weights unless ``rebalance=False``); ``weights`` = θ; ``events`` = the logged rows.
    """
    from sparsegraph.training.runlog import RunLog

    return PagsRun(model, density, data, resolve_seed(seed), opts, RunLog).execute()


class PagsRun:
    """One PAGS run: sampling loop, logging, snapshots and resume."""

    def __init__(self, model: nn.Module, density: float, data: Any, seed: int, opts: Mapping[str, Any],
                 log_factory):
        own, base_options = split_options(opts)
        self.base = check_base(own["base"], own["perturb"])
        own["executor"] = resolve_executor(own["executor"], own["workers"])
        check_executor(own["executor"])
        _check_counts(own["population"], own["interval"])
        self.own, self.base_options = own, base_options
        self.model, self.density, self.seed = model, density, seed
        input_shape = base_options.get("input_shape") or getattr(model, "input_shape", None)
        self.spec: ScoreSpec = resolve_score_spec(own["score"], own["rule"], own["merge"], own["convention"],
                                                  own["score_options"], input_shape, own["direction"])
        self.run_dir = None if own["run_dir"] is None else Path(own["run_dir"])
        self.log = own["log"] or log_factory(None if self.run_dir is None else self.run_dir / "log.jsonl")
        if own["first_mask_data"] not in FIRST_MASK_DATA:
            raise UsageError(f"first_mask_data must be one of {', '.join(FIRST_MASK_DATA)}, "
                             f"got {own['first_mask_data']!r}")
        first_full = own["first_mask_data"] == "full"
        if first_full and get_generator(self.base).data != "labels":
            raise UsageError(f"first_mask_data='full' needs a base that scores labelled data, not {self.base!r}")
        self.sampler = Sampler(model, self.base, density, data, seed, base_options, own["perturb"], first_full)
        self.rows: list[dict[str, Any]] = []
        self.timings = {"sampling": 0.0, "scoring": 0.0}

    def hashed_config(self) -> dict[str, Any]:
        own = {k: v for k, v in self.own.items() if k not in _NOT_HASHED}
        return {"method": "pags", "density": self.density, "seed": self.seed, **own, "spec": self.spec.to_dict(),
                "base_options": self.base_options, "weights": weights_digest(self.model)}

    def execute(self):
        from sparsegraph.masks import MaskSet
        from sparsegraph.pruning.api import PruneResult
        from sparsegraph.pruning.counts import keep_count

        started = time.perf_counter()
        digest = config_hash(self.hashed_config()) if self.run_dir is not None else ""
        state = load_state(self.run_dir, digest) if self.run_dir is not None and self.own["resume"] else None
        best: BestState | None = None
        excluded: list[str] = []
        if state is not None:
            best = BestState.from_state(state["best"])
            excluded = list(state["excluded"])
            if self.log.path is not None:
                trim_log(self.log.path, SAMPLE_EVENTS, best.j)
        population = self.own["population"]
        first = 0 if best is None else best.j + 1
        total = None if best is None else sum(m.numel() for m in best.masks.values())

        executor = make_executor(self.own["executor"], self.own["workers"],
                                 worker_context(self.model, self.spec), self.own["ray_address"])
        bar = self._progress(population + 1, first)
        driver = contextlib.ExitStack()
        if self.own["executor"] != "serial":  # a pool holds the cores: the driver generates on one thread too
            driver.enter_context(single_threaded())
        try:
            stream = ((j, self.sampler.sample(j)) for j in range(first, population + 1))
            for (j, sample), score in executor.imap(((j, s), s.masks) for j, s in stream):
                self.timings["sampling"] += sample.seconds
                self.timings["scoring"] += score.seconds
                if best is None:
                    best = BestState.first(sample.masks, score, sample.scores)
                    excluded = sample.excluded
                    total = sum(m.numel() for m in best.masks.values())
                    replaced = list(best.masks)
                else:
                    replaced = best.merge(j, sample.masks, score, sample.scores, self.spec)
                k = keep_count(self.density, total)
                self._row("pags_sample", j=j, candidate=score.network, best=best.network, replaced=replaced,
                          n_replaced=len(replaced), kept=best.kept, drift=best.kept - k,
                          explored=best.explored_fraction(), generate_s=round(sample.seconds, 4),
                          metric_s=round(score.seconds, 4))
                if j % self.own["interval"] == 0 or j == population:
                    self._checkpoint(best, excluded, digest)
                if bar is not None:
                    bar.update(1)
        finally:
            executor.close()
            driver.close()
            if bar is not None:
                bar.close()

        k = keep_count(self.density, total)
        final = best.masks
        if self.own["rebalance"]:
            final = rebalance(best, k, make_generator(derive_seed(self.seed, "pags", "rebalance")),
                              tie_break=self.base_options.get("tie_break", "random"))
            with single_threaded():
                rescored = score_task(final, worker_context(self.model, self.spec))
            self._row("pags_rebalance", kept=int(sum(int(m.sum()) for m in final.values())),
                      drift_before=best.kept - k, score=rescored.network, best_score=best.network)
        layers = self.layer_table(best)
        self._row("pags_layers", layers=layers, drift=best.kept - k, score=best.network)
        outcome = SamplerOutcome(base=self.base, base_score=best.base_network, score=best.network,
                                 samples=population, drift=best.kept - k, layers=layers,
                                 rebalanced_score=rescored.network if self.own["rebalance"] else None,
                                 rebalanced=bool(self.own["rebalance"]),
                                 kept=int(sum(int(m.sum()) for m in final.values())), target_kept=k)
        metadata = {"generator": "pags", "base": self.base, "seed": self.seed, "target_density": self.density,
                    "population": population, "score": self.spec.score, "merge": self.spec.merge,
                    "rule": self.spec.rule, "rebalanced": bool(self.own["rebalance"]),
                    METADATA_KEY: outcome.to_metadata()}
        weights = {name: t.detach().clone() for name, t in self.model.state_dict().items()}
        timings = {**self.timings, "total": time.perf_counter() - started}
        return PruneResult(masks=MaskSet(final, metadata=metadata), weights=weights, events=self.rows,
                           timings=timings, seed=self.seed, excluded=excluded, sampler=outcome)

    def layer_table(self, best: BestState) -> list[dict[str, Any]]:
        """Per layer: source sample, density and the stored metric values."""
        return [{"layer": n, "source": best.source[n], "density": float(m.sum()) / m.numel(),
                 **best.values[n]} for n, m in best.masks.items()]

    def _row(self, event: str, **fields: Any) -> None:
        self.rows.append(self.log.write(event, **fields))

    def _checkpoint(self, best: BestState, excluded: list[str], digest: str) -> None:
        if self.run_dir is None:
            return
        if best.changed:
            metadata = {"generator": "pags", "base": self.base, "seed": self.seed, "target_density": self.density}
            path, fingerprint = write_snapshot(self.run_dir, best.j, best.masks, best.network, metadata)
            self._row("pags_snapshot", j=best.j, path=str(path.relative_to(self.run_dir)),
                      fingerprint=fingerprint, score=best.network)
            best.changed = False
        save_state(self.run_dir, {"best": best.to_state(), "excluded": excluded}, digest)

    def _progress(self, total: int, initial: int):
        from sparsegraph.utils.progress import progress

        return progress(total, "pags", "mask", enabled=bool(self.own["progress"]), initial=initial)
