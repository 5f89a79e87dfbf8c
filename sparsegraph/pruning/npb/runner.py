"""``run(model, "npb", ...)``: Node-Path Balancing (Pham et al., NeurIPS 2023; spec pruning §2 ``npb``).

1. Layer counts k_l (Σ k_l = K exactly): ERK (default) or uniform budgets with the §1.2 allocation, or
   the per-layer counts of another generator's mask (``npb_init``).
2. One forward count sweep (:func:`sparsegraph.metrics.path_counting.forward_layerwise`): at each layer
   ``P_in`` = paths into each input unit through the layers already optimised (all-ones input, weights
   1, biases 0, norms identity, pooling as sums), then one exact MILP per chunk
   (:mod:`sparsegraph.pruning.npb.milp`) and the taps placed (:mod:`sparsegraph.pruning.npb.placement`).
3. The effective-weight post-pass (:mod:`sparsegraph.pruning.npb.refine`), unless ``npb_refine=False``.

Everything runs on the CPU in float64; the caller's model is not modified and no global RNG is used.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.npb.milp import LayerProblem, layer_terms, solve_layer
from sparsegraph.pruning.npb.plan import BASE_INITS, NPB_OPTIONS, LayerPlan, NpbOptions, plan_layers
from sparsegraph.pruning.npb.placement import place_taps, placement_keys

logger = logging.getLogger(__name__)

# the common options NPB accepts besides its own (data options go to a data-driven npb_init generator)
COMMON_NPB_OPTIONS: dict[str, Any] = {"dense_first_layer": False, "dense_classifier": False, "exclude": (),
                                      "input_shape": None, "min_per_layer": 1, "erk_power_scale": 1.0,
                                      "generator": None, "progress": False}
INIT_DATA_OPTIONS = ("score_batches", "score_batch_size", "samples_per_class", "score_augment", "bn_mode")


@dataclass(frozen=True)
class NpbLayerReport:
    """One layer's MILP result.

    Attributes:
        layer: the weight's parameter name; ``role``: first, shortcut, conv or linear.
        kept: taps the MILPs kept (k_l); ``max_p``, ``beta``: the layer's rules.
        chunks: MILPs solved for the layer.
        objective, A, B, Reg: the whole-layer objective and its terms for the kept kernel counts.
        chunk_objective: the sum of the chunk optima (equals ``objective`` for one chunk).
        seconds: time in the solver.
    """

    layer: str
    role: str
    kept: int
    max_p: int
    beta: float
    chunks: int
    objective: float
    A: float
    B: float
    Reg: float
    chunk_objective: float
    seconds: float


@dataclass
class NpbReport:
    """What an NPB run records in the prune summary (``summary["npb"]``).

    Attributes:
        options: the ``npb_*`` values used.
        layers: one :class:`NpbLayerReport` per optimised layer, forward order.
        solves: chunk problems (the released code solves each); ``milps``: distinct MILPs solved (chunks of
            a layer with equal rows, budget and max_p are one MILP); ``solver_seconds``: their time;
            ``seconds``: the whole generator.
        moved: taps the post-pass moved to effective positions; ``ineffective``: kept taps that stayed
            ineffective (0 unless the budget could not be spent effectively; then a warning).
    """

    options: dict[str, Any]
    layers: list[NpbLayerReport] = field(default_factory=list)
    solves: int = 0
    milps: int = 0
    solver_seconds: float = 0.0
    seconds: float = 0.0
    moved: int = 0
    ineffective: int | None = None

    @property
    def objective(self) -> float:
        """Σ over layers of the layer objectives."""
        return float(sum(layer.objective for layer in self.layers))

    def to_dict(self) -> dict[str, Any]:
        return {"options": dict(self.options), "objective": self.objective, "solves": self.solves, "milps": self.milps,
                "solver_seconds": self.solver_seconds, "seconds": self.seconds, "moved": self.moved,
                "ineffective": self.ineffective, "layers": [asdict(layer) for layer in self.layers]}


def _options(opts: dict[str, Any]) -> tuple[NpbOptions, dict[str, Any], dict[str, Any]]:
    valid = {**COMMON_NPB_OPTIONS, **NPB_OPTIONS, **{k: None for k in INIT_DATA_OPTIONS}}
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise UsageError(f"unknown option(s) for 'npb': {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    common = {**COMMON_NPB_OPTIONS, **{k: v for k, v in opts.items() if k in COMMON_NPB_OPTIONS and v is not None}}
    init_data = {k: opts[k] for k in INIT_DATA_OPTIONS if opts.get(k) is not None}
    return NpbOptions.from_options(opts), common, init_data


def _input_shape(model: nn.Module, data: Any, shape: Any, seed: int) -> tuple[int, ...]:
    if shape is None:
        shape = getattr(model, "input_shape", None)
    if shape is None and data is not None:
        from sparsegraph.pruning.data import scoring_batches
        from sparsegraph.utils.seed import derive_seed, make_generator

        batch = scoring_batches(data, score_batches=1, score_batch_size=1,
                                generator=make_generator(derive_seed(seed, "data")))
        shape = tuple(batch[0][0].shape[1:])
    if shape is None:
        raise UsageError("npb needs the input shape: pass input_shape=(C, H, W)")
    return tuple(int(s) for s in shape)


def layer_counts(model: nn.Module, maskable: Any, density: float, options: NpbOptions, common: dict[str, Any],
                 data: Any, seed: int, input_shape: tuple[int, ...], init_data: dict[str, Any]) -> dict[str, int]:
    """k_l per maskable weight (Σ = K): ERK / uniform budgets allocated exactly, or another generator's counts."""
    from sparsegraph.pruning.budgets import layer_budgets
    from sparsegraph.pruning.counts import allocate, keep_count

    names, shapes = list(maskable.params), maskable.shapes
    sizes = np.array(maskable.sizes, dtype=np.int64)
    total = keep_count(density, int(sizes.sum()))
    if options.init in BASE_INITS:
        targets = layer_budgets(options.init, shapes, density, total, power=float(common["erk_power_scale"]))
        counts = allocate(targets, sizes, total, int(common["min_per_layer"]))
        return {n: int(k) for n, k in zip(names, counts)}
    from sparsegraph.pruning.api import run
    from sparsegraph.pruning.registry import get_generator
    from sparsegraph.utils.seed import derive_seed

    extra = init_data if get_generator(options.init).data == "labels" else {}
    result = run(model, options.init, density=density, data=data, seed=derive_seed(seed, "npb", "init"),
                 input_shape=input_shape, dense_first_layer=common["dense_first_layer"],
                 dense_classifier=common["dense_classifier"], exclude=common["exclude"], **extra)
    return {n: int(result.masks[n].sum()) for n in names}


def _progress(total: int, enabled: bool):
    """A bar on a terminal, plain lines otherwise (:mod:`sparsegraph.utils.progress`); a silent bar if off."""
    from sparsegraph.utils.progress import progress

    if enabled:
        return progress(total, "npb", "MILP")
    from tqdm import tqdm

    return tqdm(total=total, disable=True)


def run_npb(model: nn.Module, density: float, data: Any = None, seed: int | None = None, **opts: Any):
    """NPB masks with exactly K kept weights; see the module docstring.

    Options: ``npb_alpha`` (0.01), ``npb_beta`` (1), ``npb_max_p`` (9), ``npb_chunk`` (32; 0 = whole layers),
    ``npb_init`` (erk | uniform | a generator), ``npb_node_term`` (code | paths), ``npb_placement``
    (magnitude | random), ``npb_refine`` (True), ``npb_time_limit`` (seconds per solve, None), plus
    ``dense_first_layer``, ``dense_classifier``, ``exclude``, ``input_shape``, ``min_per_layer`` (1),
    ``erk_power_scale``, ``generator``, ``progress`` (stderr: a bar on a terminal, else lines) and, for a data-driven ``npb_init``,
    its scoring-data options.

    Raises:
        UsageError: bad options, a grouped conv, or a maskable weight the forward pass never uses.
        SolverError: a MILP failed, was infeasible or hit the time limit (the message names the layer).
    """
    from sparsegraph.masks import MaskSet
    from sparsegraph.metrics.path_counting import forward_layerwise
    from sparsegraph.pruning.api import PruneResult
    from sparsegraph.pruning.maskable import resolve_maskable
    from sparsegraph.pruning.npb.refine import refine_masks
    from sparsegraph.topology import trace
    from sparsegraph.utils.seed import resolve_seed, run_generator

    started = time.perf_counter()
    options, common, init_data = _options(opts)
    seed = resolve_seed(seed)
    generator = run_generator(seed, common["generator"])
    shape = _input_shape(model, data, common["input_shape"], seed)
    maskable = resolve_maskable(model, dense_first_layer=common["dense_first_layer"],
                                dense_classifier=common["dense_classifier"], exclude=common["exclude"],
                                input_shape=shape)
    t0 = time.perf_counter()
    budgets = layer_counts(model, maskable, density, options, common, data, seed, shape, init_data)
    timings = {"init": time.perf_counter() - t0}
    topology = trace(model, shape)
    plans = {plan.param: plan for plan in plan_layers(topology, budgets, options)}
    report = NpbReport(options=options.to_dict())
    events: list[dict[str, Any]] = []
    bar = _progress(sum(1 for p in plans.values() for c in p.chunks if c.budget), bool(common["progress"]))

    def choose(info: Any, inflow: Any) -> torch.Tensor:
        plan = plans.get(info.param)
        if plan is None:  # excluded: dense
            return torch.ones(info.weight_shape, dtype=torch.bool)
        p_in = inflow.per_unit().cpu().numpy().astype(np.float64)
        alive = inflow.alive_units().cpu().numpy()
        counts, seconds, chunk_sum, milps = _solve_plan(plan, p_in, alive, options, events, bar)
        keys = placement_keys(maskable.params[info.param], options.placement, generator)
        if not plan.budget:
            return place_taps(counts, keys)
        whole = LayerProblem(plan.name, plan.c_out, p_in, plan.taps, max(plan.budget, 1), plan.max_p,
                             options.alpha, plan.beta, options.node_term, alive)
        terms = layer_terms(counts, whole)
        report.layers.append(NpbLayerReport(info.param, plan.role, int(counts.sum()), plan.max_p, plan.beta,
                                            len(plan.chunks), terms.objective, terms.A, terms.B, terms.Reg,
                                            chunk_sum, seconds))
        report.solves += sum(1 for c in plan.chunks if c.budget)
        report.milps += milps
        report.solver_seconds += seconds
        return place_taps(counts, keys)

    t0 = time.perf_counter()
    try:
        masks = {p: m.cpu() for p, m in forward_layerwise(topology, choose).items() if p in plans}
    finally:
        bar.close()
    timings["milp"] = time.perf_counter() - t0
    if options.refine:
        t0 = time.perf_counter()
        refined = refine_masks(model, topology, masks, options.placement, generator)
        masks, report.moved, report.ineffective = refined.masks, refined.moved, refined.ineffective
        timings["refine"] = time.perf_counter() - t0
    report.seconds = time.perf_counter() - started
    timings["total"] = report.seconds
    metadata = {"generator": "npb", "seed": seed, "target_density": density, **options.to_dict()}
    ordered = {name: masks[name] for name in maskable.params}
    weights = {name: t.detach().clone() for name, t in model.state_dict().items()}
    return PruneResult(masks=MaskSet(ordered, metadata=metadata), weights=weights, events=events, timings=timings,
                       seed=seed, excluded=list(maskable.excluded), npb=report)


def _solve_plan(plan: LayerPlan, p_in: np.ndarray, alive: np.ndarray, options: NpbOptions,
                events: list[dict[str, Any]], bar: Any) -> tuple[np.ndarray, float, float, int]:
    """Solve every chunk of ``plan``: the layer's kernel counts, solver seconds, Σ chunk optima and MILPs solved.

    The chunks of a layer share P_in, so chunks with the same rows, budget and max_p are one MILP: it is
    solved once and its optimum reused (the released code solves each again).
    """
    counts = np.zeros((plan.c_out, plan.c_in), dtype=np.int64)
    seconds = chunk_sum = 0.0
    solved: dict[tuple[int, int, int], Any] = {}
    for index, chunk in enumerate(plan.chunks):
        if not chunk.budget:
            continue
        label = plan.name if len(plan.chunks) == 1 else f"{plan.name} (chunk {index}, rows {chunk.start}:{chunk.stop})"
        key = (chunk.stop - chunk.start, chunk.budget, chunk.max_p)
        solution = solved.get(key)
        reused = solution is not None
        if not reused:
            problem = LayerProblem(label, key[0], p_in, plan.taps, chunk.budget, chunk.max_p, options.alpha,
                                   plan.beta, options.node_term, alive)
            solution = solved[key] = solve_layer(problem, time_limit=options.time_limit)
            seconds += solution.seconds
            size = solution.size
            logger.debug("npb: %s: %d variables (%d integer), %d constraints, %d nonzeros; solved in %.4f s",
                         label, size.variables, size.integers, size.constraints, size.nonzeros, solution.seconds)
        counts[chunk.start:chunk.stop] = solution.counts
        chunk_sum += solution.terms.objective
        events.append({"event": "npb_solve", "layer": plan.param, "chunk": index, "rows": [chunk.start, chunk.stop],
                       "budget": chunk.budget, "max_p": chunk.max_p, "beta": plan.beta,
                       **asdict(solution.terms), **asdict(solution.size),
                       "seconds": 0.0 if reused else solution.seconds, "reused": reused})
        bar.update(1)
    return counts, seconds, chunk_sum, len(solved)
