"""IMP / lottery tickets with rewinding (spec pruning §5, ``method="imp"``).

Round 0 trains the dense network with the recipe and saves θ_k at iteration k = ``rewind_iter`` (default
3 epochs' worth, at most half the schedule; 0 = θ_0). Round r ≥ 1 keeps the k_r = ⌊(1 − f)^r·N + ½⌋
largest |w| of the previous round's trained weights among the live entries (pruned ones −∞, so masks are nested; the last round keeps
exactly K), with R = ⌈ln d / ln(1 − f)⌉ rounds, f = ``prune_fraction`` (0.2); then it rewinds the whole
state to θ_k (pruned weights 0), makes a fresh optimizer and trains from iteration k to the end of the
schedule. ``run`` trains rounds 0…R−1 and returns M_R with ``weights`` = θ_k and ``start_iteration`` = k:
the caller's sparse training (the ``prune`` command's) is round R, so the result is the last round's
trained network after (R + 1) trainings. Files under ``RUN_DIR/rounds/``: ``rewind.safetensors`` (θ_k),
``mask_r<r:02d>.safetensors``, and per round ``r<r:02d>/`` (checkpoints, ``trained.safetensors``); a resumed
run skips finished rounds and continues an interrupted one after its last epoch.

Example:
    The rewind point is capped at half the schedule: one epoch of 4 iterations on digits rewinds to k = 2,
    and the caller's sparse training resumes there.

    >>> import sparsegraph as sg
    >>> from sparsegraph.training import load_train_data
    >>> net = sg.create_model("lenet5", num_classes=10, input_shape=(1, 8, 8), seed=0)
    >>> result = sg.pruning.run(net, "imp", density=0.64, data=load_train_data("digits"), seed=0,
    ...                         recipe="small", train_options={"epochs": 1, "batch_size": 256})
    >>> result.start_iteration, result.masks.density
    (2, 0.64)
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.baselines.training_run import (check_train_data, iters_per_epoch, maskable_weights,
                                                        resolve_recipe, split_options, working_copy)
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed
from sparsegraph.utils.state_dict import load_state_dict, save_state_dict

IMP_OPTIONS: dict[str, Any] = {"rewind_iter": None, "prune_fraction": 0.2}


def imp_rounds(density: float, prune_fraction: float = 0.2) -> int:
    """R = ⌈ln d / ln(1 − f)⌉ (at least 1): 21 for d = 0.01, f = 0.2."""
    if density >= 1.0:
        return 1
    return max(1, math.ceil(math.log(density) / math.log(1.0 - prune_fraction) - 1e-12))


def imp_counts(density: float, total: int, prune_fraction: float = 0.2) -> list[int]:
    """k_r for r = 1…R: ⌊(1 − f)^r·N + ½⌋, the last exactly K."""
    from sparsegraph.pruning.counts import keep_count

    rounds = imp_rounds(density, prune_fraction)
    keep = 1.0 - prune_fraction
    return [keep_count(keep ** r, total) for r in range(1, rounds)] + [keep_count(density, total)]


def magnitude_round(weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor] | None, k: int,
                    generator: torch.Generator, tie_break: str = "random") -> dict[str, torch.Tensor]:
    """Global top-k of |w| over the live entries (pruned ones −∞): the next nested mask."""
    from sparsegraph.pruning.topk import topk_mask

    names = list(weights)
    flat = []
    for n in names:
        score = weights[n].detach().to("cpu", torch.float64).abs().reshape(-1)
        if masks is not None:
            score = torch.where(masks[n].reshape(-1), score, float("-inf"))
        flat.append(score)
    keep = topk_mask(torch.cat(flat), k, tie_break=tie_break, generator=generator)
    parts = keep.split([weights[n].numel() for n in names])
    return {n: part.reshape(weights[n].shape) for n, part in zip(names, parts)}


def run_imp(model: nn.Module, density: float, data: Any = None, seed: int | None = None, **opts: Any):
    """IMP with rewinding; see the module docstring. ``data`` is a TrainData, ``recipe`` required.

    Options: ``rewind_iter`` k (None: 3 epochs, at most half the schedule), ``prune_fraction`` f (0.2), ``recipe``,
    ``train_options`` (recipe overrides), ``device``, ``amp``, ``channels_last``, ``deterministic``,
    ``run_dir``, ``resume``, ``log``, ``progress``, and the maskable-set options.
    """
    from sparsegraph.masks import MaskSet
    from sparsegraph.pruning.api import PruneResult
    from sparsegraph.training import RunLog, train

    started = time.perf_counter()
    o = split_options(opts, IMP_OPTIONS, "imp")
    data = check_train_data(data, "imp")
    seed = resolve_seed(seed)
    recipe = resolve_recipe(o, data)
    if recipe.epochs < 1:
        raise UsageError("imp trains the network: give a recipe with epochs >= 1")
    f = float(o["prune_fraction"])
    if not 0.0 < f < 1.0:
        raise UsageError(f"prune_fraction must be in (0, 1), got {f}")
    ipe = iters_per_epoch(data, recipe)
    # default: 3 epochs' worth (the predecessor's LTH code), at most half the schedule so that short
    # schedules (tests, CPU demos) still have iterations left to retrain after rewinding
    k_iter = min(3 * ipe, recipe.epochs * ipe // 2) if o["rewind_iter"] is None else int(o["rewind_iter"])
    if not 0 <= k_iter < recipe.epochs * ipe:
        raise UsageError(f"rewind_iter {k_iter} is outside the schedule's {recipe.epochs * ipe} iterations")
    run_dir = None if o["run_dir"] is None else Path(o["run_dir"])
    rounds_dir = None if run_dir is None else run_dir / "rounds"
    log = o["log"] or RunLog(None if run_dir is None else run_dir / "log.jsonl")
    maskable = maskable_weights(model, o)
    names = list(maskable.params)
    counts = imp_counts(density, sum(maskable.sizes), f)
    train_kw = {k: o[k] for k in ("device", "amp", "channels_last", "deterministic", "progress", "select_on_test")}

    work = working_copy(model)
    rewind_path = None if rounds_dir is None else rounds_dir / "rewind.safetensors"
    theta_k: dict[str, torch.Tensor] | None = None
    if rewind_path is not None and o["resume"] and rewind_path.exists():
        theta_k = load_state_dict(rewind_path)
    elif k_iter == 0:
        theta_k = _capture(work, rewind_path)

    def capture(iteration: int, net: nn.Module) -> None:
        nonlocal theta_k
        if iteration == k_iter and theta_k is None:
            theta_k = _capture(net, rewind_path)

    from sparsegraph.training import TrainHooks

    masks: dict[str, torch.Tensor] | None = None
    trained: dict[str, torch.Tensor] | None = None
    for r in range(len(counts)):  # train rounds 0 … R−1; round R is the caller's training
        round_dir = None if rounds_dir is None else rounds_dir / f"r{r:02d}"
        if r >= 1:
            masks = _round_mask(rounds_dir, r, trained, masks, counts[r - 1], names, seed, o["tie_break"], log)
        done = None if round_dir is None else round_dir / "trained.safetensors"
        if done is not None and o["resume"] and done.exists():
            trained = load_state_dict(done)
            continue
        resume_round = bool(o["resume"] and round_dir is not None and (round_dir / "checkpoints" / "last.pt").exists())
        if r >= 1:
            work.load_state_dict(theta_k)
        result = train(work, masks, data, recipe=recipe, run_dir=round_dir, seed=derive_seed(seed, "imp", r),
                       resume=resume_round, log=log, start_iteration=k_iter if r >= 1 else 0,
                       hooks=TrainHooks(after_step=capture) if r == 0 else None, **train_kw)
        trained = {k: v.detach().to("cpu").clone() for k, v in work.state_dict().items()}
        if done is not None:
            save_state_dict(done, trained)
        kept = sum(int(masks[n].sum()) for n in names) if masks is not None else sum(maskable.sizes)
        log.write("imp_round", round=r, kept=kept, density=kept / sum(maskable.sizes),
                  test_at_best_val=result.test_at_best_val, test_final=result.test_final)
        if theta_k is None:
            raise UsageError(f"rewind_iter {k_iter} was never reached in round 0")
    final = _round_mask(rounds_dir, len(counts), trained, masks, counts[-1], names, seed, o["tie_break"], log)
    metadata = {"generator": "imp", "seed": seed, "target_density": density, "rounds": len(counts),
                "rewind_iter": k_iter}
    return PruneResult(masks=MaskSet(final, metadata=metadata), weights=dict(theta_k), events=[],
                       timings={"training": time.perf_counter() - started, "total": time.perf_counter() - started},
                       seed=seed, excluded=list(maskable.excluded), start_iteration=k_iter)


def _capture(net: nn.Module, path: Path | None) -> dict[str, torch.Tensor]:
    state = {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}
    if path is not None:
        save_state_dict(path, state)
    return state


def _round_mask(rounds_dir: Path | None, r: int, trained: dict[str, torch.Tensor], previous, k: int,
                names: list[str], seed: int, tie_break: str, log) -> dict[str, torch.Tensor]:
    """M_r from the previous round's trained weights; stored as ``rounds/mask_rXX.safetensors`` and reused."""
    from sparsegraph.masks import MaskSet

    path = None if rounds_dir is None else rounds_dir / f"mask_r{r:02d}.safetensors"
    if path is not None and path.exists():
        return {n: m for n, m in MaskSet.load(path).items()}
    masks = magnitude_round({n: trained[n] for n in names}, previous, k, make_generator(derive_seed(seed, "imp", r)),
                            tie_break)
    if path is not None:
        MaskSet(masks, metadata={"generator": "imp", "round": r}).save(path)
    return masks
