"""Benchmark of the pruning-at-initialisation generators (pruning spec §2, cost column).

Workload: CIFAR ResNet-18 (10 classes, Kaiming fan-out init), density 0.01, every built-in generator on
synthetic CIFAR-shaped data (``score_batches`` × ``score_batch_size`` random 3×32×32 images and labels).
Runs on CPU, and on CUDA too when present. Iterative methods (synflow, iter-snip) default to their
100 rounds; ``--rounds`` lowers that on a small CPU, and the table also gives seconds per round so the
full cost can be read off. Columns: the data, scoring, selection and total seconds of ``PruneResult``.

A second table gives training throughput (images/s) of the sparse ResNet-18 under
``sparsegraph.training.train`` on synthetic CIFAR-shaped data held as uint8 tensors (the trainer's
resident data path: per-batch crop, flip and normalisation, masks re-applied after every step), one
short epoch per device (``--train-images``, default 2,048 on CPU and 50,000 on CUDA).
Run::

    PYTHONPATH=. OMP_NUM_THREADS=2 python benchmarks/bench_prune.py [--rounds 10] [--methods snip grasp] [--device cpu]

Prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import time

import torch

import sparsegraph as sg

METHODS = ("random", "random-global", "er", "erk", "magnitude", "snip", "grasp", "synflow", "iter-snip")


def synthetic_cifar(batches: int, batch_size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random normalised CIFAR-shaped images and labels, as a list of (x, y) batches."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch_size, 3, 32, 32, generator=g), torch.randint(0, 10, (batch_size,), generator=g))
            for _ in range(batches)]


def bench(method: str, device: str, density: float, rounds: int | None, data: list) -> dict:
    model = sg.create_model("resnet18", num_classes=10, init="kaiming_fan_out", seed=0).to(device)
    info = {g.name: g for g in sg.pruning.list_generators()}[method]
    opts: dict = {}
    if info.iterative and rounds is not None:
        opts["rounds"] = rounds
    if info.data == "labels":
        opts["score_batches"] = len(data)
        data = [(x.to(device), y.to(device)) for x, y in data]
    else:
        data = None
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    result = sg.pruning.run(model, method, density=density, data=data, seed=0, **opts)
    if device == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    kept = sum(int(m.sum()) for m in result.masks.values())
    return {"method": method, "device": device, "rounds": len(result.events), "kept": kept,
            **{k: result.timings[k] for k in ("data", "scoring", "selection")},
            "per_round": result.timings["scoring"] / len(result.events), "total": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                        help="all = CPU, plus CUDA when present")
    parser.add_argument("--density", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=None, help="rounds of synflow/iter-snip (default 100)")
    parser.add_argument("--score-batches", type=int, default=1)
    parser.add_argument("--score-batch-size", type=int, default=128)
    parser.add_argument("--train-images", type=int, default=None,
                        help="images in the throughput epoch (default 2048 on CPU, 50000 on CUDA)")
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d == "cpu" or torch.cuda.is_available()]
    data = synthetic_cifar(args.score_batches, args.score_batch_size)
    rows = [bench(m, d, args.density, args.rounds, data) for d in devices for m in args.methods]
    throughput = [train_throughput(d, args.density, args.train_images) for d in devices]
    header = f"{'method':<14}{'device':<7}{'rounds':>7}{'kept':>9}{'data s':>9}{'score s':>10}" \
             f"{'select s':>10}{'s/round':>9}{'total s':>9}"
    print(f"CIFAR ResNet-18, density {args.density}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<14}{r['device']:<7}{r['rounds']:>7}{r['kept']:>9}{r['data']:>9.3f}"
              f"{r['scoring']:>10.3f}{r['selection']:>10.3f}{r['per_round']:>9.3f}{r['total']:>9.3f}")
    print()
    print(f"{'training':<14}{'device':<7}{'images':>9}{'batch':>7}{'seconds':>9}{'images/s':>10}")
    for r in throughput:
        print(f"{'resnet18':<14}{r['device']:<7}{r['images']:>9}{r['batch']:>7}{r['seconds']:>9.2f}"
              f"{r['images_per_s']:>10.1f}")
    return 0


def train_throughput(device: str, density: float, images: int | None) -> dict:
    """Images per second of one training epoch of sparse ResNet-18 on synthetic CIFAR-shaped data."""
    from sparsegraph.training import TensorSplit, TrainData, train

    n = images or (50_000 if device == "cuda" else 2_048)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    split = TensorSplit(x, y, 255.0, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), crop_padding=4)
    model = sg.create_model("resnet18", num_classes=10, seed=0)
    masks = sg.prune(model, "erk", density=density, seed=0)
    start = time.perf_counter()
    result = train(model, masks, TrainData(split, None, None, name="synthetic"), recipe="cifar", epochs=1,
                   device=device)
    seconds = result.history[0]["seconds"]
    return {"device": device, "images": n, "batch": result.recipe["batch_size"], "seconds": seconds,
            "images_per_s": n / seconds, "wall": time.perf_counter() - start}


if __name__ == "__main__":
    raise SystemExit(main())
