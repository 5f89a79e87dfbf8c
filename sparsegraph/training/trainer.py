"""Sparse training with masks enforced after every step, checkpoints every epoch, exact resume."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from sparsegraph.errors import CheckpointError, TrainingError, UsageError
from sparsegraph.masks import MaskSet
from sparsegraph.masks.reparam import is_reparametrised, remove_reparametrisation
from sparsegraph.models.outputs import logits_of
from sparsegraph.training.batches import TensorSplit, iterate_eval, iterate_train
from sparsegraph.training.masking import MaskEnforcer
from sparsegraph.training.recipes import Recipe, resolve_recipe
from sparsegraph.training.runlog import RunLog
from sparsegraph.utils.atomic import atomic_save_safetensors, atomic_torch_save
from sparsegraph.utils.device import resolve_device

Split = TensorSplit | Dataset


@dataclass
class TrainData:
    """The three splits a run uses. ``val`` may be None (``--val-split 0``)."""

    train: Split
    val: Split | None
    test: Split | None
    name: str = "custom"


@dataclass
class TrainHooks:
    """Optional callbacks for methods that train inside pruning (IMP, Early-Bird), dynamic sparse
    training and topology tracking.

    Attributes:
        after_step: ``after_step(iteration, model)`` after every optimizer step and mask re-zeroing
            (and mask update); ``iteration`` counts completed steps over the whole run (1-based).
        after_epoch: ``after_epoch(row, model) -> bool`` after each epoch's evaluation and checkpoint;
            True stops training there.
        on_start: ``on_start(iteration, model)`` once before the first step (after a resume: at the
            checkpoint's iteration).
        before_checkpoint: ``before_checkpoint(row, model)`` after each epoch's evaluation, before its
            checkpoint is written.
        mask_updater: changes the masks during training (``sparsegraph.pruning.dst.DSTUpdater``):
            ``attach(model, optimizer, enforcer, total_iterations)``, ``wants_dense_grad(iteration)``,
            ``after_step(iteration, dense_grads)``, ``state_dict()`` / ``load_state_dict()`` (saved with
            every checkpoint).
    """

    after_step: Callable[[int, nn.Module], None] | None = None
    after_epoch: Callable[[dict, nn.Module], bool] | None = None
    on_start: Callable[[int, nn.Module], None] | None = None
    before_checkpoint: Callable[[dict, nn.Module], None] | None = None
    mask_updater: Any = None


@dataclass
class TrainResult:
    """The outcome of :func:`train`.

    Attributes:
        test_at_best_val: test accuracy of the epoch with the best validation accuracy (headline).
        test_final: test accuracy after the last epoch.
        best_val: best validation accuracy, and ``best_epoch`` its (1-based) epoch.
        test_best_epoch: best test accuracy over epochs (selected on test: optimistic).
        history: one dict per epoch (loss, accuracies, lr, seconds).
    """

    test_at_best_val: float | None
    test_final: float | None
    best_val: float | None
    best_epoch: int | None
    test_best_epoch: float | None
    epochs: int
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    recipe: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _fold_prune_reparametrisation(model: nn.Module, masks: Mapping[str, torch.Tensor] | None):
    """Fold a ``torch.nn.utils.prune`` model in place; its buffers are the masks unless masks are given."""
    if not is_reparametrised(model):
        return masks
    if masks is None:
        found = MaskSet.from_model(model)
        masks = found if len(found) else None
    remove_reparametrisation(model)
    return masks


def train(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, data: TrainData, *,
          recipe: Recipe | str | None = None, run_dir: str | Path | None = None, seed: int = 0,
          device: str | torch.device = "auto", amp: str = "auto", channels_last: str = "auto",
          deterministic: bool = False, resume: bool = False, progress: bool = False,
          log: RunLog | None = None, select_on_test: bool = False, num_workers: int = 0,
          start_iteration: int = 0, hooks: TrainHooks | None = None, **overrides: Any) -> TrainResult:
    """Train ``model`` with ``masks`` enforced, in place, and return the accuracies.

    SGD with Nesterov momentum, weight decay on all parameters and cross-entropy on the logits;
    the learning rate follows the recipe per iteration. Masked weights and their optimizer state
    are re-zeroed after every step. With ``run_dir``, ``checkpoints/last.pt`` is written
    atomically after every epoch and ``checkpoints/best.safetensors`` holds the best-validation
    weights; ``resume=True`` continues after the last completed epoch and reproduces the
    uninterrupted run (bitwise with ``deterministic=True`` on the same device and software).

    Args:
        model: the network (modified in place). A ``torch.nn.utils.prune`` reparametrisation is folded
            first (``weight = weight_orig ⊙ weight_mask`` as a plain parameter).
        masks: parameter name -> bool tensor, or None for dense training (for a model pruned with
            ``torch.nn.utils.prune``: its ``weight_mask`` buffers).
        data: the train / val / test splits.
        recipe: a :class:`Recipe` or recipe name (default from ``data.name``).
        run_dir: where checkpoints go (None: no checkpoints).
        seed: the run seed; epoch ``e`` shuffles with ``derive_seed(seed, "train", e)``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        amp: ``auto`` (bf16 autocast on CUDA where supported, else fp16 with a GradScaler),
            ``off``, ``bf16`` or ``fp16``. Ignored on CPU.
        channels_last: ``auto`` (on for conv nets on CUDA), ``on`` or ``off``.
        deterministic: deterministic algorithms, cudnn benchmark off.
        resume: continue from ``run_dir/checkpoints/last.pt``.
        progress: show progress on stderr (a tqdm bar on a terminal, else a line every 10 s at most).
        log: a :class:`RunLog` for ``epoch`` / ``checkpoint`` events.
        select_on_test: report ``test_best_epoch`` as the headline (published, biased setting).
        num_workers: DataLoader workers for datasets not held as tensors.
        start_iteration: start the schedule at this iteration (IMP rewinding to iteration k): training
            begins in epoch ⌊k / iters_per_epoch⌋, skipping that epoch's first k mod iters_per_epoch
            batches, so the remaining steps and learning rates are those of an uninterrupted run.
        hooks: :class:`TrainHooks` callbacks.
        **overrides: recipe fields (``epochs``, ``lr``, ``batch_size``, ...).
    """
    masks = _fold_prune_reparametrisation(model, masks)
    rec = recipe if isinstance(recipe, Recipe) else resolve_recipe(recipe, data.name, **overrides)
    if isinstance(recipe, Recipe) and overrides:
        rec = dataclasses.replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    dev = resolve_device(device)
    log = log or RunLog(None)
    _configure_determinism(deterministic, dev)
    model.to(dev)
    use_cl = channels_last == "on" or (channels_last == "auto" and dev.type == "cuda"
                                       and any(isinstance(m, nn.Conv2d) for m in model.modules()))
    if use_cl:
        model.to(memory_format=torch.channels_last)
    amp_dtype = _amp_dtype(amp, dev)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    splits = {k: _to_device(getattr(data, k), dev) for k in ("train", "val", "test")}
    enforcer = MaskEnforcer(model, masks) if masks else None
    if enforcer:
        enforcer.apply()
    trainable = [p for p in model.parameters() if p.requires_grad]  # weight decay applies to all of them
    optimizer = torch.optim.SGD(trainable, lr=rec.lr, momentum=rec.momentum, nesterov=rec.nesterov,
                                weight_decay=rec.weight_decay)
    n_train = len(splits["train"])
    iters_per_epoch = max(1, -(-n_train // rec.batch_size))
    hooks = hooks or TrainHooks()
    updater = hooks.mask_updater
    if updater is not None:
        if enforcer is None:
            raise UsageError("a mask updater (dynamic sparse training) needs masks")
        updater.attach(model, optimizer, enforcer, rec.epochs * iters_per_epoch)

    ckpt_dir = Path(run_dir) / "checkpoints" if run_dir is not None else None
    state = {"epoch": 0, "iteration": 0, "history": [], "best_val": None, "best_epoch": None}
    if resume:
        if ckpt_dir is None or not (ckpt_dir / "last.pt").exists():
            raise UsageError("--resume given but no checkpoint found"
                             + (f" at {ckpt_dir / 'last.pt'}" if ckpt_dir else ""))
        state = _load_checkpoint(ckpt_dir / "last.pt", model, optimizer, scaler, masks, updater)
    elif start_iteration:
        if not 0 <= start_iteration < rec.epochs * iters_per_epoch:
            raise UsageError(f"start_iteration {start_iteration} is outside the schedule's "
                             f"{rec.epochs * iters_per_epoch} iterations")
        state["epoch"], state["iteration"] = start_iteration // iters_per_epoch, start_iteration
    # batches of the first epoch already run before start_iteration (0 when resuming at an epoch end)
    skip = state["iteration"] - state["epoch"] * iters_per_epoch
    if hooks.on_start is not None:
        hooks.on_start(state["iteration"], model)

    start = time.perf_counter()
    bar = _progress(progress, rec.epochs, state["epoch"])
    try:
        for epoch in range(state["epoch"], rec.epochs):
            t0 = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            seen = 0
            for index, (x, y) in enumerate(iterate_train(splits["train"], rec.batch_size, seed, epoch, dev,
                                                         num_workers)):
                if index < skip:
                    continue
                lr = rec.lr_at(state["iteration"], iters_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                if use_cl and x.dim() == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                if updater is not None:
                    enforcer.capture_dense_grads = updater.wants_dense_grad(state["iteration"] + 1)
                with _autocast(dev, amp_dtype):
                    out = logits_of(model(x))
                    loss = F.cross_entropy(out.float(), y)
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                if enforcer:
                    enforcer.after_step(optimizer)
                state["iteration"] += 1
                if updater is not None:
                    updater.after_step(state["iteration"], enforcer.take_dense_grads())
                if hooks.after_step is not None:
                    hooks.after_step(state["iteration"], model)
                loss_sum += loss.detach().double() * y.shape[0]
                correct += (out.detach().argmax(1) == y).sum()
                seen += int(y.shape[0])
            train_loss = float(loss_sum) / max(seen, 1)
            if not torch.isfinite(torch.tensor(train_loss)):
                raise TrainingError(
                    f"training loss became {train_loss} in epoch {epoch + 1}; stopped"
                    + (f", last good checkpoint kept at {ckpt_dir / 'last.pt'}" if ckpt_dir and epoch else "")
                    + " (try a lower --lr)")
            row = {"epoch": epoch + 1, "iteration": state["iteration"],
                   "lr": rec.lr_at(max(state["iteration"] - 1, 0), iters_per_epoch),
                   "train_loss": train_loss, "train_acc": float(correct) / max(seen, 1)}
            for name in ("val", "test"):
                if splits[name] is not None:
                    row[f"{name}_loss"], row[f"{name}_acc"] = evaluate(model, splits[name], dev, amp_dtype)
            row["seconds"] = round(time.perf_counter() - t0, 4)
            state["history"].append(row)
            state["epoch"] = epoch + 1
            improved = row.get("val_acc") is not None and (state["best_val"] is None
                                                           or row["val_acc"] > state["best_val"])
            if improved:
                state["best_val"], state["best_epoch"] = row["val_acc"], epoch + 1
            log.write("epoch", **row)
            if hooks.before_checkpoint is not None:
                hooks.before_checkpoint(row, model)
            if ckpt_dir is not None:
                _save_checkpoint(ckpt_dir, model, optimizer, scaler, masks, state, rec, improved, updater)
                log.write("checkpoint", epoch=epoch + 1, path=str(ckpt_dir / "last.pt"))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{train_loss:.3f}", val=row.get("val_acc"), test=row.get("test_acc"))
            skip = 0
            if hooks.after_epoch is not None and hooks.after_epoch(row, model):
                break
    finally:
        if bar is not None:
            bar.close()
        if enforcer:
            enforcer.remove()
    return _result(state, rec, dev, time.perf_counter() - start, select_on_test)


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, device: torch.device,
             amp_dtype: torch.dtype | None = None, batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``split`` (eval mode, restored after)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in iterate_eval(split, batch_size, device):
        with _autocast(device, amp_dtype):
            out = logits_of(model(x)).float()
        loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        seen += int(y.shape[0])
    model.train(was_training)
    return loss_sum / max(seen, 1), correct / max(seen, 1)


def _result(state: dict, rec: Recipe, dev: torch.device, seconds: float, select_on_test: bool) -> TrainResult:
    hist = state["history"]
    tests = [r["test_acc"] for r in hist if "test_acc" in r]
    # rows by epoch number: a run started at start_iteration > 0 has no rows for the skipped epochs
    best_row = next((r for r in hist if r["epoch"] == state["best_epoch"]), {})
    at_best = best_row.get("test_acc")
    result = TrainResult(
        test_at_best_val=at_best,
        test_final=hist[-1].get("test_acc") if hist else None,
        best_val=state["best_val"],
        best_epoch=state["best_epoch"],
        test_best_epoch=max(tests) if tests else None,
        epochs=len(hist),
        history=hist,
        seconds=round(seconds, 3),
        device=str(dev),
        recipe=rec.to_dict(),
    )
    if select_on_test:
        result.test_at_best_val = result.test_best_epoch
    return result


def _save_checkpoint(ckpt_dir: Path, model: nn.Module, optimizer, scaler, masks, state: dict,
                     rec: Recipe, improved: bool, updater=None) -> None:
    payload = {
        "format": "sparsegraph.checkpoint/1",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "masks": {k: v.detach().cpu() for k, v in (masks or {}).items()},  # the initial masks
        "mask_updater": updater.state_dict() if updater is not None else {},
        "recipe": json.dumps(rec.to_dict()),
        **{k: state[k] for k in ("epoch", "iteration", "history", "best_val", "best_epoch")},
    }
    atomic_torch_save(payload, ckpt_dir / "last.pt")
    if improved:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        atomic_save_safetensors(tensors, ckpt_dir / "best.safetensors", metadata={"epoch": str(state["epoch"])})


def _load_checkpoint(path: Path, model: nn.Module, optimizer, scaler, masks, updater=None) -> dict:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        if scaler is not None and payload["scaler"]:
            scaler.load_state_dict(payload["scaler"])
        if updater is not None:
            if not payload.get("mask_updater"):
                raise KeyError("no mask-update state (written by a run with fixed masks)")
            updater.load_state_dict(payload["mask_updater"])
    except (RuntimeError, KeyError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot resume from this checkpoint ({str(exc).splitlines()[0]})") from None
    saved = payload.get("masks", {})
    if masks and (set(saved) != set(masks) or any(not torch.equal(saved[k], masks[k].cpu()) for k in masks)):
        raise CheckpointError(f"{path}: the checkpoint was trained with different masks than this run")
    return {k: payload[k] for k in ("epoch", "iteration", "history", "best_val", "best_epoch")}


def _to_device(split: Split | None, dev: torch.device) -> Split | None:
    return split.to(dev) if isinstance(split, TensorSplit) else split


def _amp_dtype(amp: str, dev: torch.device) -> torch.dtype | None:
    if dev.type != "cuda" or amp == "off":
        return None
    if amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    if amp in ("fp16", "auto"):
        return torch.float16
    raise UsageError(f"invalid amp setting {amp!r}: expected auto, off, bf16 or fp16")


def _autocast(dev: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


def _configure_determinism(deterministic: bool, dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def _progress(enabled: bool, total: int, initial: int):
    from sparsegraph.utils.progress import progress

    return progress(total, "train", "epoch", enabled=enabled, initial=initial, leave=False)
