"""Unstructured Early-Bird tickets (spec pruning §5, ``method="early-bird"``, alias ``eb``): this project's
own definition (the seed paper's version is unpublished; the original prunes channels via BN γ).

Train dense with the recipe; after each epoch e take M_e = global magnitude top-K at the target density.
δ(M_a, M_b) = 1 − |M_a ∧ M_b| / K. Keep the last 5 masks (``eb_window``); stop when the distances from the
newest to the other 4 are all ≤ ε (``eb_epsilon``, 0.1). Without a stop by ``eb_max_epochs`` (default half
the recipe's epochs) the last mask is used, with a warning. The returned weights are where the caller's
sparse training starts: θ_0 (``eb_retrain="rewind"``, default), the Early-Bird weights (``continue``) or
a fresh seeded initialisation (``reinit``). The mask history is saved each epoch under ``RUN_DIR/eb/`` so a
resumed run continues the dense phase after its last epoch.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.pruning.baselines.imp import magnitude_round
from sparsegraph.pruning.baselines.training_run import (check_train_data, maskable_weights, resolve_recipe,
                                                        split_options, working_copy)
from sparsegraph.utils.atomic import atomic_torch_save
from sparsegraph.utils.seed import derive_seed, make_generator, resolve_seed
from sparsegraph.utils.state_dict import load_state_dict, save_state_dict

EB_OPTIONS: dict[str, Any] = {"eb_epsilon": 0.1, "eb_window": 5, "eb_max_epochs": None, "eb_retrain": "rewind"}
RETRAIN = ("rewind", "continue", "reinit")


def mask_distance(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor], k: int) -> float:
    """δ(M_a, M_b) = 1 − |M_a ∧ M_b| / K (0 for equal masks of K entries, 1 for disjoint ones)."""
    overlap = sum(int((a[n] & b[n]).sum()) for n in a)
    return 1.0 - overlap / float(k)


def early_bird_fires(history: Sequence[Mapping[str, torch.Tensor]], k: int, epsilon: float = 0.1,
                     window: int = 5) -> tuple[bool, list[float]]:
    """Whether the newest of the last ``window`` masks is within ``epsilon`` of each of the others.

    Returns the rule's verdict and the distances from the newest mask to the others (oldest first).
    """
    recent = list(history)[-window:]
    if len(recent) < window:
        return False, []
    newest = recent[-1]
    distances = [mask_distance(newest, other, k) for other in recent[:-1]]
    return all(d <= epsilon for d in distances), distances


def run_early_bird(model: nn.Module, density: float, data: Any = None, seed: int | None = None, **opts: Any):
    """Early-Bird search; see the module docstring. ``data`` is a TrainData, ``recipe`` required."""
    from sparsegraph.masks import MaskSet
    from sparsegraph.pruning.api import PruneResult
    from sparsegraph.pruning.counts import keep_count
    from sparsegraph.training import RunLog, TrainHooks, train

    started = time.perf_counter()
    o = split_options(opts, EB_OPTIONS, "early-bird")
    data = check_train_data(data, "early-bird")
    seed = resolve_seed(seed)
    recipe = resolve_recipe(o, data)
    if o["eb_retrain"] not in RETRAIN:
        raise UsageError(f"eb_retrain must be one of {', '.join(RETRAIN)}, got {o['eb_retrain']!r}")
    if recipe.epochs < 1:
        raise UsageError("early-bird trains the network: give a recipe with epochs >= 1")
    max_epochs = int(o["eb_max_epochs"] or max(1, recipe.epochs // 2))
    if not 1 <= max_epochs <= recipe.epochs:
        raise UsageError(f"eb_max_epochs must be between 1 and the recipe's {recipe.epochs} epochs, got {max_epochs}")
    window, epsilon = int(o["eb_window"]), float(o["eb_epsilon"])
    run_dir = None if o["run_dir"] is None else Path(o["run_dir"])
    eb_dir = None if run_dir is None else run_dir / "eb"
    log = o["log"] or RunLog(None if run_dir is None else run_dir / "log.jsonl")
    maskable = maskable_weights(model, o)
    names = list(maskable.params)
    k = keep_count(density, sum(maskable.sizes))

    history: list[dict[str, torch.Tensor]] = []
    stop: dict[str, Any] = {}
    state_path = None if eb_dir is None else eb_dir / "history.pt"
    weights_path = None if eb_dir is None else eb_dir / "eb_weights.safetensors"
    if o["resume"] and state_path is not None and state_path.exists():
        stored = torch.load(state_path, map_location="cpu", weights_only=True)
        history, stop = list(stored["masks"]), dict(stored["stop"])

    def check(row: dict, net: nn.Module) -> bool:
        epoch = int(row["epoch"])
        weights = {n: p for n, p in net.named_parameters() if n in maskable.params}
        history.append(magnitude_round(weights, None, k, make_generator(derive_seed(seed, "eb", epoch)),
                                       o["tie_break"]))
        del history[:-window]
        fired, distances = early_bird_fires(history, k, epsilon, window)
        log.write("eb_check", epoch=epoch, distances=distances, fired=fired)
        if fired or epoch >= max_epochs:
            stop.update(epoch=epoch, fired=fired)
            if weights_path is not None:
                save_state_dict(weights_path, net)
        if state_path is not None:
            atomic_torch_save({"masks": history, "stop": stop}, state_path)
        return bool(stop)

    work = working_copy(model)
    if not stop:  # the dense phase (continued after its last epoch on resume)
        resume = bool(o["resume"] and eb_dir is not None and (eb_dir / "checkpoints" / "last.pt").exists())
        train_kw = {key: o[key] for key in ("device", "amp", "channels_last", "deterministic", "progress")}
        train(work, None, data, recipe=recipe, run_dir=eb_dir, seed=derive_seed(seed, "eb"), resume=resume,
              log=log, hooks=TrainHooks(after_epoch=check), **train_kw)
    elif weights_path is not None and weights_path.exists():
        work.load_state_dict(load_state_dict(weights_path))
    if not stop["fired"]:
        message = f"Early-Bird did not converge by epoch {max_epochs} (ε = {epsilon}); using the last mask"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        log.write("warning", message=message)
    masks = history[-1]
    if o["eb_retrain"] == "rewind":
        weights = {n: t.detach().clone() for n, t in model.state_dict().items()}
    elif o["eb_retrain"] == "continue":
        weights = {n: t.detach().to("cpu").clone() for n, t in work.state_dict().items()}
    else:
        weights = _reinitialised(model, derive_seed(seed, "eb", "reinit"))
    log.write("eb_stop", epoch=stop["epoch"], fired=stop["fired"], retrain=o["eb_retrain"])
    metadata = {"generator": "early-bird", "seed": seed, "target_density": density, "eb_epoch": stop["epoch"],
                "eb_fired": stop["fired"], "eb_retrain": o["eb_retrain"]}
    return PruneResult(masks=MaskSet(masks, metadata=metadata), weights=weights, events=[],
                       timings={"training": time.perf_counter() - started, "total": time.perf_counter() - started},
                       seed=seed, excluded=list(maskable.excluded))


def _reinitialised(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A fresh PyTorch-default initialisation of a copy, drawn from a seeded generator."""
    from sparsegraph.models.init import init_weights

    fresh = working_copy(model)
    init_weights(fresh, "default", seed=seed)
    return {n: t.detach().to("cpu").clone() for n, t in fresh.state_dict().items()}
