"""``sg.pruning.scores``, ``sg.pruning.run`` and ``sg.prune`` (spec pruning §1.11).

Every generator goes through the same machinery: resolve the maskable weights and the counts, make one
CPU generator from the seed, score on a side-effect-free copy with the current mask applied, reject
non-finite scores, set pruned entries to −∞ and select exactly k_r entries per round.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import MaskError, UsageError
from sparsegraph.masks import MaskSet, maskable_parameters
from sparsegraph.masks.reparam import is_reparametrised, plain_copy
from sparsegraph.pruning.budgets import ALLOCATIONS
from sparsegraph.pruning.counts import resolve_density, schedule
from sparsegraph.pruning.data import is_pair, scoring_batches
from sparsegraph.pruning.generators.context import ScoringContext
from sparsegraph.pruning.maskable import Maskable, resolve_maskable
from sparsegraph.pruning.outcomes import SamplerOutcome
from sparsegraph.pruning.registry import GeneratorInfo, get_generator
from sparsegraph.pruning.scoring_context import scoring_model
from sparsegraph.pruning.selection import check_finite, prune_scores, select
from sparsegraph.pruning.topk import TIE_BREAKS
from sparsegraph.topology.trace import accepts_trace_options, current_input_dtype
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed, run_generator

# options every generator accepts, with their defaults (None: the generator's own default)
COMMON_OPTIONS: dict[str, Any] = {
    "scope": None, "allocation": None, "min_per_layer": None, "erk_power_scale": 1.0, "tie_break": "random",
    "rounds": None, "dense_first_layer": False, "dense_classifier": False, "exclude": (),
    "input_shape": None, "copy": True, "masks": None, "generator": None,
}
DATA_OPTIONS: dict[str, Any] = {"score_batches": 1, "score_batch_size": 128, "samples_per_class": None,
                                "score_augment": False, "bn_mode": "eval"}
BN_MODES = ("eval", "train")


@dataclass
class PruneResult:
    """What :func:`run` returns.

    Attributes:
        masks: the ``MaskSet`` (metadata: generator, seed, density).
        weights: the state dict sparse training starts from (here θ, the caller's weights, cloned).
        events: one ``{"event": "score", ...}`` row per round (round, rounds, kept, seconds).
        timings: seconds spent on ``data``, ``scoring``, ``selection`` and in ``total``.
        seed: the seed used (drawn from OS entropy when None was given).
        excluded: the resolved exclusion list (weights kept dense, absent from the masks).
        scores: the raw scores of the last selection round, per maskable weight (meta-samplers use them,
            e.g. PAGS rebalancing); None for results that were not produced by one selection.
        start_iteration: where sparse training from ``weights`` resumes the schedule (IMP: the rewind
            iteration k; 0 otherwise).
        sampler: what a PAGS/PEGS search found (None for other methods).
        npb: NPB's report (options used, objective per layer; ``sparsegraph.pruning.npb.NpbReport``),
            None for other methods.
        dst: for ``set`` / ``rigl``: the :class:`~sparsegraph.pruning.dst.DSTSummary` of the training run.
    """

    masks: Any
    weights: dict[str, torch.Tensor]
    events: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    excluded: list[str] = field(default_factory=list)
    scores: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    start_iteration: int = 0
    sampler: SamplerOutcome | None = None
    npb: Any = None
    dst: Any = None


@dataclass
class _Plan:
    info: GeneratorInfo
    options: dict[str, Any]
    own: dict[str, Any]
    seed: int
    generator: torch.Generator


def _plan(method: str, seed: int | None, opts: Mapping[str, Any]) -> _Plan:
    info = get_generator(method)
    valid = dict(COMMON_OPTIONS)
    if info.data == "labels":
        valid.update(DATA_OPTIONS)
    valid.update(info.options)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise UsageError(f"unknown option(s) for {method!r}: {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    options = {**valid, **opts}
    options["scope"] = options["scope"] or info.scope
    options["allocation"] = options["allocation"] or info.allocation
    options["min_per_layer"] = info.min_per_layer if options["min_per_layer"] is None else int(options["min_per_layer"])
    options["rounds"] = info.rounds if options["rounds"] is None else int(options["rounds"])
    if options["scope"] not in ("global", "layer"):
        raise UsageError(f"scope must be 'global' or 'layer', got {options['scope']!r}")
    if options["allocation"] not in ALLOCATIONS:
        raise UsageError(f"allocation must be one of {ALLOCATIONS}, got {options['allocation']!r}")
    if options["tie_break"] not in TIE_BREAKS:
        raise UsageError(f"tie_break must be one of {TIE_BREAKS}, got {options['tie_break']!r}")
    if options.get("bn_mode", "eval") not in BN_MODES:
        raise UsageError(f"bn_mode must be one of {BN_MODES}, got {options['bn_mode']!r}")
    if options["rounds"] < 1:
        raise UsageError(f"rounds must be >= 1, got {options['rounds']}")
    seed = resolve_seed(seed)
    generator = run_generator(seed, options["generator"])
    own = {name: options[name] for name in info.options}
    return _Plan(info, options, own, seed, generator)


def _initial_masks(masks: Mapping[str, torch.Tensor] | None, maskable: Maskable
                   ) -> dict[str, torch.Tensor] | None:
    if masks is None:
        return None
    out = {}
    for name, p in maskable.params.items():
        if name not in masks:
            raise MaskError(f"the given masks have no entry for maskable weight {name!r}")
        m = torch.as_tensor(masks[name])
        if tuple(m.shape) != tuple(p.shape):
            raise MaskError(f"mask {name!r} has shape {tuple(m.shape)}, the weight {tuple(p.shape)}")
        out[name] = m.to("cpu", torch.bool)
    return out


@dataclass
class _ScoringData:
    batches: list = field(default_factory=list)
    second: list | None = None
    input_shape: tuple[int, ...] | None = None


def _scoring_data(plan: _Plan, model: nn.Module, data: Any, device: torch.device) -> _ScoringData:
    """Labelled batches (from the ``data`` stream), GraSP's second set, and the per-sample input shape."""
    options = plan.options
    out = _ScoringData()
    peek: list = []
    if plan.info.data == "labels":
        data_gen = make_generator(derive_seed(plan.seed, "data"))
        # GraSP's seed-code variant: a second, different set of batches for the Hessian pass
        split = options.get("grasp_same_batches") is False and not is_pair(data)
        count = options["score_batches"] * (2 if split else 1)
        out.batches = scoring_batches(data, score_batches=count, score_batch_size=options["score_batch_size"],
                                      samples_per_class=options["samples_per_class"],
                                      score_augment=options["score_augment"], generator=data_gen, device=device)
        if split:
            out.batches, out.second = out.batches[:count // 2], out.batches[count // 2:]
        peek = out.batches
    elif plan.info.data == "shape" and options["input_shape"] is None and data is not None:
        # a data-free method only needs the per-sample shape: peek at one sample
        peek = scoring_batches(data, score_batches=1, score_batch_size=1,
                               generator=make_generator(derive_seed(plan.seed, "data")))
    shape = options["input_shape"]
    if shape is None and peek:
        shape = tuple(peek[0][0].shape[1:])
    if shape is None:
        shape = getattr(model, "input_shape", None)
    out.input_shape = None if shape is None else tuple(int(s) for s in shape)
    if plan.info.data == "shape" and out.input_shape is None:
        raise UsageError(f"{plan.info.name} needs the input shape: pass input_shape=(C, H, W)")
    return out


@contextlib.contextmanager
def _scorer(plan: _Plan, model: nn.Module, names: list[str], scoring_data: _ScoringData,
            timings: dict[str, float]) -> Iterator[Callable[[dict | None], dict[str, torch.Tensor]]]:
    """Yield ``score(masks) -> raw scores`` working on a side-effect-free scoring model.

    Gradients flow to the maskable weights only; the BN mode is set; the generator's ``prepare`` runs
    once; each call applies the current mask in place (W = θ ⊙ M, masks are nested) and validates.
    """
    untouched = not plan.info.reads_weights and plan.info.prepare is None
    with scoring_model(model, copy=plan.options["copy"], untouched=untouched) as scoring:
        named = maskable_parameters(scoring)
        params = {name: named[name] for name in names}
        if not untouched:
            for p in scoring.parameters():
                p.requires_grad_(False)
            for p in params.values():
                p.requires_grad_(True)
            scoring.train(plan.options.get("bn_mode", "eval") == "train")
        ctx = ScoringContext(params=params, masks=None, generator=plan.generator, batches=scoring_data.batches,
                             second_batches=scoring_data.second, input_shape=scoring_data.input_shape,
                             input_dtype=current_input_dtype(),
                             options=plan.own)
        if plan.info.prepare is not None:
            plan.info.prepare(scoring, ctx)

        def score(masks: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
            start = time.perf_counter()
            if masks is not None and not untouched:  # scores that read no weight need no masking
                with torch.no_grad():
                    for name, p in params.items():
                        p.mul_(masks[name].to(p.device, p.dtype))
            ctx.masks = masks
            raw = plan.info.score(scoring, ctx)
            missing = [n for n in params if n not in raw]
            if missing:
                raise UsageError(f"generator {plan.info.name!r} returned no score for {missing[0]!r}")
            check_finite(raw)
            timings["scoring"] += time.perf_counter() - start
            return {n: raw[n] for n in params}

        yield score


def _prepare(method: str, model: nn.Module, data: Any, seed: int | None, opts: Mapping[str, Any]):
    plan = _plan(method, seed, opts)
    o = plan.options
    maskable = resolve_maskable(model, dense_first_layer=o["dense_first_layer"],
                                dense_classifier=o["dense_classifier"], exclude=o["exclude"],
                                input_shape=o["input_shape"] or getattr(model, "input_shape", None))
    masks = _initial_masks(o["masks"], maskable)
    timings = {"data": 0.0, "scoring": 0.0, "selection": 0.0}
    start = time.perf_counter()
    device = next(iter(maskable.params.values())).device
    scoring_data = _scoring_data(plan, model, data, device)
    timings["data"] = time.perf_counter() - start
    return plan, maskable, masks, scoring_data, timings


def _plain_model(model: nn.Module, opts: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    """A ``torch.nn.utils.prune`` model becomes a plain copy whose masks are the starting mask."""
    if not is_reparametrised(model):
        return model, opts
    plain, masks = plain_copy(model)
    if opts.get("masks") is None and len(masks):
        opts = {**opts, "masks": masks}
    return plain, opts


@accepts_trace_options
def scores(method: str, model: nn.Module, data: Any = None, *, seed: int | None = None,
           **opts: Any) -> dict[str, torch.Tensor]:
    """One-shot scores of ``method`` for every maskable weight (larger = kept), before thresholding.

    Random keys for random/random-global/er/erk; one round for iterative methods. With ``masks=M`` the
    score is computed with W = θ ⊙ M in the forward pass, so pruned entries score exactly 0 for the
    data-driven methods (the −∞ step belongs to selection). Options as for :func:`run`.

    Raises:
        NonFiniteScoreError: a score is NaN or ±inf.
    """
    model, opts = _plain_model(model, opts)
    plan, maskable, masks, scoring_data, timings = _prepare(method, model, data, seed, opts)
    with _scorer(plan, model, list(maskable.params), scoring_data, timings) as score:
        return {name: s.detach().clone() for name, s in score(masks).items()}


@accepts_trace_options
def run(model: nn.Module, method: str, density: float | None = None, sparsity: float | None = None,
        data: Any = None, seed: int | None = None, **opts: Any) -> PruneResult:
    """Prune ``model`` at initialisation with ``method``: exactly K = ⌊d·N + ½⌋ maskable weights kept.

    Args:
        model: the network (never modified; scoring works on a deep copy unless ``copy=False``).
        method: a registered generator (``sg.pruning.list_generators()``).
        density: kept fraction d ∈ (0, 1]; or give ``sparsity`` = 1 − d.
        data: scoring data for data-driven methods: a dataset, a DataLoader / iterable of (x, y),
            or an (x, y) tensor pair.
        seed: int, or None to draw one from OS entropy (recorded in the result and the metadata).
        **opts: ``scope`` (global | layer), ``allocation`` (uniform | er | erk), ``min_per_layer``,
            ``erk_power_scale``, ``tie_break`` (random | index), ``rounds``, ``dense_first_layer``,
            ``dense_classifier``, ``exclude`` (regexes), ``input_shape``, ``input_dtype`` (of generated
            inputs and traces: ``torch.int64`` for token ids), ``leaf_modules`` (for the trace),
            ``copy``, ``masks`` (an existing mask to prune further; a model pruned with
            ``torch.nn.utils.prune`` starts from its ``weight_mask`` buffers), ``generator`` (CPU
            torch.Generator); for labelled-data methods
            ``score_batches``, ``score_batch_size``, ``samples_per_class``, ``score_augment``,
            ``bn_mode`` (eval | train);
            grasp ``temperature``, ``grasp_same_batches``; synflow ``dtype``.

    Returns:
        :class:`PruneResult`.

    Raises:
        UsageError: bad options, or more weights asked for than are unpruned in ``masks``.
        NonFiniteScoreError: a score is NaN or ±inf.
    """
    return _run(model, method, density, sparsity, data, seed, opts, keep_weights=True)


def _run(model: nn.Module, method: str, density: float | None, sparsity: float | None, data: Any,
         seed: int | None, opts: dict[str, Any], *, keep_weights: bool) -> PruneResult:
    """:func:`run`; ``keep_weights=False`` leaves ``PruneResult.weights`` empty (no clone of the state dict)."""
    model, opts = _plain_model(model, opts)
    started = time.perf_counter()
    d = resolve_density(density, sparsity)
    runner = get_generator(method).runner
    if runner is not None:
        return runner(model, density=d, data=data, seed=seed, **opts)
    plan, maskable, masks, scoring_data, timings = _prepare(method, model, data, seed, opts)
    shapes = {name: tuple(p.shape) for name, p in maskable.params.items()}
    total = sum(maskable.sizes)
    rounds = plan.options["rounds"]
    live = total if masks is None else sum(int(m.sum()) for m in masks.values())
    counts = schedule(d, total, rounds, start=live / total)
    events = []
    with _scorer(plan, model, list(maskable.params), scoring_data, timings) as score:
        for r, k in enumerate(counts, start=1):
            round_start = time.perf_counter()
            raw = score(masks)
            start = time.perf_counter()
            ranked = prune_scores(raw, masks)
            masks = select(ranked, shapes, k, density=k / total if r < rounds else d,
                           scope=plan.options["scope"], allocation=plan.options["allocation"],
                           min_per_layer=plan.options["min_per_layer"], tie_break=plan.options["tie_break"],
                           generator=plan.generator, power=float(plan.options["erk_power_scale"]))
            timings["selection"] += time.perf_counter() - start
            events.append({"event": "score", "method": method, "round": r, "rounds": rounds, "kept": k,
                           "seconds": time.perf_counter() - round_start})
    metadata = {"generator": method, "seed": plan.seed, "target_density": d}
    weights = {name: t.detach().clone() for name, t in model.state_dict().items()} if keep_weights else {}
    timings["total"] = time.perf_counter() - started
    return PruneResult(masks=MaskSet(masks, metadata=metadata), weights=weights, events=events,
                       timings=timings, seed=plan.seed, excluded=list(maskable.excluded),
                       scores={name: s.detach() for name, s in raw.items()})


@accepts_trace_options
def prune(model: nn.Module, method: str, density: float | None = None, data: Any = None,
          seed: int | None = None, **opts: Any):
    """``run(model, method, density, data=data, seed=seed, **opts).masks``: the ``MaskSet``.

    The same masks as :func:`run`, without the clone of the model's state dict that
    ``PruneResult.weights`` holds (≈ 25 ms for a ResNet-18, once per PAGS candidate).
    """
    sparsity = opts.pop("sparsity", None)
    return _run(model, method, density, sparsity, data, seed, opts, keep_weights=False).masks
