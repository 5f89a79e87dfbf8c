"""PEGS: a short dense warm-up, then PAGS on the warmed weights θ_t (spec pruning §4).

Warm-up: t = ``warmup_iters`` steps of dense SGD from the model's own weights (lr 0.1 constant, Nesterov
momentum 0.9, weight decay 5e-4, batch 128, standard augmentation, train mode, shuffling from the
``warmup`` stream) on a copy; the caller's model is never changed. θ_t (weights and BN buffers) is saved
as ``RUN_DIR/warmup.safetensors`` and reused on resume. PAGS then runs on θ_t with every §3 option and
the same seed, and ``PruneResult.weights`` = θ_t is where sparse training starts. With t = 0 no copy is
trained and no forward pass runs, so PEGS equals PAGS bitwise.

Example:
    Training starts from the warmed weights θ_t; the caller's model keeps θ_0.

    >>> import torch, sparsegraph as sg
    >>> from torch.utils.data import TensorDataset
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    >>> theta0 = net[0].weight.detach().clone()
    >>> data = TensorDataset(torch.randn(64, 16), torch.randint(0, 3, (64,)))
    >>> result = sg.pruning.run(net, "pegs", density=0.3, data=data, seed=0, base="random", population=2,
    ...                         warmup_iters=3)
    >>> torch.equal(net[0].weight, theta0), torch.equal(result.weights["0.weight"], theta0)
    (True, False)
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sparsegraph.errors import CheckpointError, UsageError
from sparsegraph.pruning.data import is_pair
from sparsegraph.utils.seed import derive_seed, resolve_seed
from sparsegraph.utils.state_dict import save_state_dict

WARMUP_OPTIONS: dict[str, Any] = {"warmup_iters": 500, "warmup_lr": 0.1, "warmup_batch_size": 128,
                                  "warmup_momentum": 0.9, "warmup_weight_decay": 5e-4}
WARMUP_FILE = "warmup.safetensors"


def warm_up(model: nn.Module, data: Any, iters: int, seed: int, *, lr: float = 0.1, batch_size: int = 128,
            momentum: float = 0.9, weight_decay: float = 5e-4) -> tuple[nn.Module, float]:
    """A trained copy of ``model`` after ``iters`` dense SGD steps, and the last batch loss.

    Batches come from :func:`sparsegraph.training.batches.iterate_train` with the seed
    derive(seed, "warmup"), epoch after epoch (augmented as the split defines), until ``iters`` steps ran.
    """
    from sparsegraph.training.batches import iterate_train

    if data is None or not hasattr(data, "__len__") or is_pair(data):
        raise UsageError("PEGS warm-up needs the training split as data (a dataset or TensorSplit), "
                         "not one (x, y) batch")
    warm = copy.deepcopy(model)
    device = next(warm.parameters()).device
    for p in warm.parameters():
        p.grad = None
    warm.train()
    params = [p for p in warm.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    stream, step, epoch, loss = derive_seed(seed, "warmup"), 0, 0, float("nan")
    while step < iters:
        for x, y in iterate_train(data, batch_size, stream, epoch, device):
            optimizer.zero_grad(set_to_none=True)
            batch_loss = F.cross_entropy(warm(x.to(device)), y.to(device))
            batch_loss.backward()
            optimizer.step()
            step, loss = step + 1, float(batch_loss.detach())
            if step == iters:
                break
        epoch += 1
    for p in warm.parameters():
        p.grad = None
    return warm, loss


def load_warmup(path: Path, model: nn.Module) -> nn.Module:
    from safetensors.torch import load_file

    warm = copy.deepcopy(model)
    try:
        warm.load_state_dict(load_file(str(path)))
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot load the PEGS warm-up weights ({exc})") from None
    return warm


def run_pegs(model: nn.Module, density: float, data: Any = None, seed: int | None = None, **opts: Any):
    """Run PEGS (``method="pegs"``): warm up for ``warmup_iters`` steps, then PAGS on θ_t.

    Args:
        model: the network at θ_0 (not modified).
        density, data, seed: as for PAGS; ``data`` is also the warm-up training split.
        **opts: ``warmup_iters`` t (500), ``warmup_lr`` (0.1), ``warmup_batch_size`` (128),
            ``warmup_momentum`` (0.9), ``warmup_weight_decay`` (5e-4), and every PAGS option.

    Returns:
        The PAGS result on θ_t; ``weights`` = θ_t, ``timings["warmup"]`` the warm-up seconds.
    """
    from sparsegraph.pruning.samplers.pags import run_pags
    from sparsegraph.training.runlog import RunLog

    warm_opts = {**WARMUP_OPTIONS, **{k: v for k, v in opts.items() if k in WARMUP_OPTIONS}}
    pags_opts = {k: v for k, v in opts.items() if k not in WARMUP_OPTIONS}
    iters = warm_opts["warmup_iters"]
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise UsageError(f"warmup_iters must be an integer >= 0, got {iters!r}")
    seed = resolve_seed(seed)
    if iters == 0:  # nothing trained: exactly PAGS on θ_0
        result = run_pags(model, density, data, seed, **pags_opts)
        result.masks.metadata.update({"generator": "pegs", "warmup_iters": 0})
        return result

    run_dir = None if pags_opts.get("run_dir") is None else Path(pags_opts["run_dir"])
    log = pags_opts.get("log") or RunLog(None if run_dir is None else run_dir / "log.jsonl")
    pags_opts["log"] = log
    start = time.perf_counter()
    path = None if run_dir is None else run_dir / WARMUP_FILE
    if path is not None and pags_opts.get("resume") and path.exists():
        warm = load_warmup(path, model)
        log.write("warmup", iters=iters, reused=str(path))
    else:
        warm, loss = warm_up(model, data, iters, seed, lr=warm_opts["warmup_lr"],
                             batch_size=warm_opts["warmup_batch_size"], momentum=warm_opts["warmup_momentum"],
                             weight_decay=warm_opts["warmup_weight_decay"])
        if path is not None:
            save_state_dict(path, warm)
        log.write("warmup", iters=iters, loss=loss, seconds=round(time.perf_counter() - start, 4),
                  path=None if path is None else str(path))
    seconds = time.perf_counter() - start
    result = run_pags(warm, density, data, seed, **pags_opts)
    result.masks.metadata.update({"generator": "pegs", "warmup_iters": iters})
    result.timings["warmup"] = seconds
    result.timings["total"] += seconds
    return result
