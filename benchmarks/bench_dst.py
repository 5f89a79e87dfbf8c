"""Training speed of dynamic sparse training with and without topology tracking (issue: ≤ 10 % slower).

RigL on the zoo ResNet-20 / digits at 90 % sparsity (the DST tutorial's setting), ``--epochs`` epochs, one
torch thread in the trainer. Three runs of ``sparsegraph.training.train`` with the same seed:

- ``no tracking``: the DST updater only;
- ``tracking``: plus the default tracking (``spectral.full_spectrum,paths`` at step 0, every mask update
  and every epoch end) computed in the worker process;
- ``tracking (serial)``: the same metrics computed in the trainer process, to show what the worker saves.

Reported per run: wall-clock seconds of ``train()`` (the tracker's final drain of the worker queue is a
separate column), the trainer process's CPU seconds (``time.process_time``), the tracked steps and mask
updates; then the slowdown of ``tracking`` against ``no tracking`` in wall-clock and in trainer CPU time,
against the 10 % target. Also the cost of one ``dst_update`` on ResNet-20 (median of 20). On a shared
machine wall-clock times are inflated by other load; the CPU-time column is the reliable one there.

Usage: python benchmarks/bench_dst.py [--epochs 5] [--sparsity 0.9]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch


def _setup(sparsity: float):
    import sparsegraph as sg
    from sparsegraph.models import load_model
    from sparsegraph.training import load_train_data

    model = load_model("resnet20", num_classes=10, seed=0, input_shape=(1, 8, 8))
    masks = sg.prune(model, "erk", density=1 - sparsity, seed=0)
    return model, masks, load_train_data("digits", seed=0)


def _run(mode: str, epochs: int, sparsity: float) -> dict:
    from sparsegraph.pruning.baselines.training_run import iters_per_epoch
    from sparsegraph.pruning.dst import DSTUpdater, dst_schedule
    from sparsegraph.tracking import TopologyTracker
    from sparsegraph.training import TrainHooks, resolve_recipe, train

    model, masks, data = _setup(sparsity)
    recipe = resolve_recipe("small", "digits", epochs=epochs)
    ipe = iters_per_epoch(data, recipe)
    updater = DSTUpdater(dst_schedule("rigl", epochs * ipe), masks, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        tracker = None
        if mode != "none":
            tracker = TopologyTracker(Path(tmp), model, masks, input_shape=(1, 8, 8), iters_per_epoch=ipe,
                                      epochs=epochs, updater=updater,
                                      executor="serial" if mode == "serial" else "process")
        hooks = TrainHooks(mask_updater=updater, **(tracker.hooks() if tracker else {}))
        cpu, wall = time.process_time(), time.perf_counter()
        train(model, masks, data, recipe=recipe, seed=0, device="cpu", hooks=hooks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        drain = time.perf_counter()
        steps = tracker.finish().steps if tracker else 0
        drain = time.perf_counter() - drain
    return {"wall": wall, "cpu": cpu, "drain": drain, "steps": steps, "updates": updater.updates}


def _update_cost(sparsity: float) -> float:
    from sparsegraph.pruning.dst import dst_update

    model, masks, _ = _setup(sparsity)
    weights = dict(model.named_parameters())
    grads = {n: torch.randn_like(weights[n]) for n in masks}
    g = torch.Generator().manual_seed(0)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        dst_update(masks, {n: weights[n] for n in masks}, fraction=0.3, growth="gradient", grads=grads, generator=g)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--sparsity", type=float, default=0.9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {mode: _run(mode, args.epochs, args.sparsity) for mode in ("none", "process", "serial")}
    names = {"none": "no tracking", "process": "tracking", "serial": "tracking (serial)"}
    print(f"RigL, ResNet-20 / digits, sparsity {args.sparsity}, {args.epochs} epochs, 1 trainer thread")
    print(f"{'run':<20} {'train wall s':>12} {'trainer CPU s':>13} {'drain s':>8} {'tracked':>8} {'updates':>8}")
    for mode, r in results.items():
        print(f"{names[mode]:<20} {r['wall']:>12.2f} {r['cpu']:>13.2f} {r['drain']:>8.2f} {r['steps']:>8} "
              f"{r['updates']:>8}")
    base, tracked = results["none"], results["process"]
    wall = 100 * (tracked["wall"] / base["wall"] - 1)
    cpu = 100 * (tracked["cpu"] / base["cpu"] - 1)
    print(f"\nslowdown with tracking: wall {wall:+.1f} %, trainer CPU {cpu:+.1f} % (target <= +10 %)")
    print(f"one dst_update on ResNet-20 (RigL growth): {1000 * _update_cost(args.sparsity):.1f} ms (median of 20)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
