"""Training speed of dynamic sparse training with and without topology tracking (issue: ≤ 10 % slower).

RigL on the zoo ResNet-20 / digits at 90 % sparsity (the DST tutorial's setting), ``--epochs`` epochs, one
torch thread in the trainer. Three runs of ``sparsegraph.training.train`` with the same seed:

- ``no tracking``: the DST updater only;
- ``tracking``: plus the default tracking (``spectral.full_spectrum,paths`` at step 0, every mask update
  and every epoch end) computed in the worker process;
- ``tracking (serial)``: the same metrics computed in the trainer process, to show what the worker saves.

Reported per run: wall-clock seconds of ``train()`` (the tracker's final drain of the worker queue is a
separate column), the trainer process's CPU seconds (``time.process_time``), the CPU seconds spent in the
tracking hooks inside the trainer (snapshots, Hamming distances, handing the weights over), the worker
process's CPU seconds, the tracked steps and mask updates; then the slowdown of ``tracking`` against ``no
tracking`` (wall-clock, and the hooks' share of the trainer's CPU time, which is what tracking costs the
training when the worker has a core of its own), against the 10 % target. Also the cost of one
``dst_update`` on ResNet-20 (median of 20). On a shared machine wall-clock times are inflated by other
load; the CPU-time columns are the reliable ones there.

Usage: python benchmarks/bench_dst.py [--epochs 5] [--sparsity 0.9]
"""

from __future__ import annotations

import argparse
import resource
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
        in_hooks = [0.0]

        def timed(hook):
            def call(*args):
                t0 = time.process_time()
                hook(*args)
                in_hooks[0] += time.process_time() - t0
            return call

        tracking_hooks = {k: timed(h) for k, h in (tracker.hooks() if tracker else {}).items()}
        hooks = TrainHooks(mask_updater=updater, **tracking_hooks)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, wall = time.process_time(), time.perf_counter()
        train(model, masks, data, recipe=recipe, seed=0, device="cpu", hooks=hooks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        drain = time.perf_counter()
        steps = tracker.finish().steps if tracker else 0
        drain = time.perf_counter() - drain
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        worker = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {"wall": wall, "cpu": cpu, "hooks": in_hooks[0], "worker": worker, "drain": drain, "steps": steps,
            "updates": updater.updates}


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
    print(f"{'run':<20} {'train wall s':>12} {'trainer CPU s':>13} {'in hooks s':>10} {'worker CPU s':>12} "
          f"{'drain s':>8} {'tracked':>8} {'updates':>8}")
    for mode, r in results.items():
        print(f"{names[mode]:<20} {r['wall']:>12.2f} {r['cpu']:>13.2f} {r['hooks']:>10.2f} {r['worker']:>12.2f} "
              f"{r['drain']:>8.2f} {r['steps']:>8} {r['updates']:>8}")
    base, tracked = results["none"], results["process"]
    wall = 100 * (tracked["wall"] / base["wall"] - 1)
    share = 100 * tracked["hooks"] / base["cpu"]
    print(f"\nslowdown with tracking (worker process): wall {wall:+.1f} %; tracking hooks in the trainer "
          f"{share:+.1f} % of its CPU time (target <= +10 %)")
    print(f"one dst_update on ResNet-20 (RigL growth): {1000 * _update_cost(args.sparsity):.1f} ms (median of 20)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
