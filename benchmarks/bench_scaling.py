"""Benchmark: time and peak memory against edge count — spectral family, paths, MGE build (issue #15).

Inputs, growing (seed 0; ERK masks through ``sg.prune`` for the CNNs, uniform random masks for the
linear stacks):

* CIFAR ResNet-18 and ResNet-34 at 1 % (ERK), input 3×32×32;
* ImageNet ResNet-50 (torchvision's architecture, no weights downloaded) at 1 % (ERK), input 3×224×224;
* a ViT-B/16-shaped stack of linear layers at 10 %: 12 blocks of ViT-B/16's encoder linears
  (qkv 768→2304, fc1 768→3072, fc2 3072→768) with the 768→768 attention projection drawn as
  2304→768 so that the stack composes as a chain, input (768,);
* one 4096×11008 linear layer (an LLM MLP up-projection, ``nn.Linear(4096, 11008)``) at 50 % and 90 %.

Families, each timed once in a fresh child process (so that its peak RSS is its own):

* ``spectral``: the rolled layer graphs (``sg.bipartite``) and the four full-spectrum axes of
  ``bench_spectral.py`` (one batch preparation, then every metric on every layer); E = kept weights;
* ``paths``: the four ``paths.*`` metrics (exact); E = kept weights;
* ``mge``: the clean MGE build (``sg.encode(..., encoding="mge")``); E = MGE edges.

Each child runs its family twice (a warm-up, then the timed run). Memory is reported as the child's peak
RSS minus its RSS once model and masks exist, per edge, and fitted as fixed + bytes/edge·E. Before a
child runs, the estimate decides whether it may (``--max-memory``, default 2 GiB, as ``SPARSEGRAPH_MAX_BYTES``):
the MGE build checks its own estimate (``sparsegraph.graphs.estimate``, before any edge array is
allocated) and refuses with it; for the other families the fit of the smaller inputs at E is the estimate
(twice the graph arrays' ``estimate_bytes(..., "arrays")`` per edge until two are measured).
The growth of each family is the least-squares slope of log(CPU s) against log(E) over the inputs that
ran (≈ 1: O(E)). Run::

    python benchmarks/bench_scaling.py [--families spectral paths mge] [--max-memory 2GiB] [--plot docs/img/scaling.png]

Prints one row per input and family, the growth per family, and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import harness  # noqa: F401  (puts the checkout on sys.path)
from harness import add_thread_option

from sparsegraph.errors import GraphTooLargeError
from sparsegraph.graphs.estimate import estimate_bytes
from sparsegraph.utils.sizes import format_bytes, parse_bytes

CASES = {
    "resnet18": "CIFAR ResNet-18, ERK 1%",
    "resnet34": "CIFAR ResNet-34, ERK 1%",
    "resnet50": "ImageNet ResNet-50 (3x224x224), ERK 1%",
    "vit": "ViT-B/16-shaped linear stack, 10%",
    "llm50": "4096x11008 linear, 50%",
    "llm90": "4096x11008 linear, 90%",
}
FAMILIES = ("spectral", "paths", "mge")


# ------------------------------------------------------------------------------------------ child side
def build_case(case: str):
    """``(model, masks, input_shape)`` of one input."""
    import torch
    from torch import nn

    import sparsegraph as sg

    if case in ("resnet18", "resnet34"):
        model = sg.create_model(case, seed=0)
        return model, sg.prune(model, "erk", density=0.01, seed=0), tuple(model.input_shape)
    if case == "resnet50":
        import torchvision

        torch.manual_seed(0)
        model = torchvision.models.resnet50(weights=None)
        return model, sg.prune(model, "erk", density=0.01, seed=0), (3, 224, 224)
    torch.manual_seed(0)
    if case == "vit":
        layers = []
        for _ in range(12):
            layers += [nn.Linear(768, 2304), nn.Linear(2304, 768), nn.Linear(768, 3072), nn.Linear(3072, 768)]
        model, density, shape = nn.Sequential(*layers), 0.1, (768,)
    else:
        model, density, shape = nn.Sequential(nn.Linear(4096, 11008)), 0.5 if case == "llm50" else 0.9, (4096,)
    return model, sg.prune(model, "random", density=density, seed=0), shape


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(case: str, family: str, max_bytes: int) -> dict:
    """Time one family on one input in this (fresh) process; the result as a dict."""
    from torch import nn

    import sparsegraph as sg
    from bench_spectral import FULL_SPECTRUM_AXES
    from sparsegraph.metrics.cache import metric_cache
    from sparsegraph.metrics.spectral_kernel import prepare

    model, masks, shape = build_case(case)
    layers = {f"{n}.weight": m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    kept = int(sum(int(masks[p].sum()) for p in layers))

    def spectral() -> int:
        graphs = [sg.bipartite(masks[p], weight=m.weight.detach(), name=p) for p, m in layers.items()]
        with metric_cache() as cache:
            prepare(graphs, cache, convention="neurips2023")
            for graph in graphs:
                for metric in FULL_SPECTRUM_AXES:
                    metric(graph, convention="neurips2023")
        return kept

    def paths() -> int:
        sg.measure(model, masks, "paths", input_shape=shape)
        return kept

    def mge() -> int:
        return sg.encode(model, masks, encoding="mge", input_shape=shape, max_bytes=max_bytes).num_edges

    work = {"spectral": spectral, "paths": paths, "mge": mge}[family]
    before = _rss_mib()
    work()  # warm-up: first-call imports and allocations; the peak RSS covers both runs
    wall, cpu = time.perf_counter(), time.process_time()
    edges = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "family": family, "edges": edges, "kept": kept, "wall": wall, "cpu": cpu,
            "rss_before_mib": before, "peak_rss_mib": peak, "bytes_per_edge": (peak - before) * 2**20 / max(edges, 1)}


# ----------------------------------------------------------------------------------------- parent side
def kept_weights(case: str) -> int:
    """Kept weights of an input, from the layer shapes and densities (no model built)."""
    if case == "llm50":
        return round(0.5 * 4096 * 11008)
    if case == "llm90":
        return round(0.9 * 4096 * 11008)
    return -1  # measured by the child


def child(case: str, family: str, max_bytes: int, threads: int | None) -> dict:
    cmd = [sys.executable, __file__, "--child", case, family, "--max-memory", str(max_bytes)]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"case": case, "family": family, "error": last}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def memory_fit(rows: list[dict]) -> tuple[float, float]:
    """``(fixed bytes, bytes per edge)`` of the RSS growth of the inputs measured so far (least squares),
    or the graph arrays' estimate (``estimate_bytes(..., "arrays")``, doubled for the kernel's copies)
    before two inputs are measured."""
    points = [(r["edges"], (r["peak_rss_mib"] - r["rss_before_mib"]) * 2**20) for r in rows if "cpu" in r]
    if len(points) < 2 or len({e for e, _ in points}) < 2:
        return 0.0, 2.0 * estimate_bytes(0, 1, "arrays")
    mx = sum(e for e, _ in points) / len(points)
    my = sum(b for _, b in points) / len(points)
    b = sum((e - mx) * (m - my) for e, m in points) / sum((e - mx) ** 2 for e, _ in points)
    b = max(b, 1.0)
    return max(my - b * mx, 0.0), b


def slope(rows: list[dict]) -> float | None:
    """Least-squares slope of log(CPU s) against log(E)."""
    points = [(math.log(r["edges"]), math.log(max(r["cpu"], 1e-6))) for r in rows if "cpu" in r and r["edges"] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return None if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx


def growth_words(s: float | None) -> str:
    if s is None:
        return "too few points"
    if s < 0.8:
        return f"≈ O(E^{s:.2f}): sub-linear over this range (fixed costs per layer or per call dominate)"
    if s <= 1.2:
        return f"≈ O(E^{s:.2f}), about linear"
    return f"≈ O(E^{s:.2f}), faster than linear"


def plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for family, rows in results.items():
        ok = sorted((r for r in rows if "cpu" in r), key=lambda r: r["edges"])
        if not ok:
            continue
        edges = [r["edges"] for r in ok]
        ax_t.loglog(edges, [r["cpu"] for r in ok], "o-", label=family)
        ax_m.loglog(edges, [max(r["peak_rss_mib"] - r["rss_before_mib"], 0.1) for r in ok], "o-", label=family)
    span = [1e5, 1e8]
    ax_t.loglog(span, [1e-6 * e for e in span], "k:", label="∝ E (1 µs/edge)")
    ax_m.loglog(span, [40 * e / 2**20 for e in span], "k:", label="40 bytes/edge")
    ax_t.set(xlabel="edges E", ylabel="CPU seconds", title="time against edge count")
    ax_m.set(xlabel="edges E", ylabel="peak RSS growth, MiB", title="memory against edge count")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--max-memory", default="2GiB", help="refuse what the estimate puts above this")
    parser.add_argument("--plot", type=Path, default=None, help="write the growth plot (PNG) here")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "FAMILY"), help=argparse.SUPPRESS)
    add_thread_option(parser)
    args = parser.parse_args()
    max_bytes = parse_bytes(args.max_memory)
    if args.child:
        harness.apply_threads(args)
        try:
            print(json.dumps(run_child(*args.child, max_bytes)))
        except GraphTooLargeError as exc:
            print(json.dumps({"case": args.child[0], "family": args.child[1], "refused": str(exc),
                              "edges": exc.num_edges, "estimate": exc.estimate_bytes}))
        return 0

    results: dict[str, list[dict]] = {f: [] for f in args.families}
    print(f"{'input':<40} {'family':<9} {'edges':>11} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>12} "
          f"{'bytes/edge':>10}  note")
    for case in args.cases:
        for family in args.families:
            kept = kept_weights(case)
            if family != "mge" and kept > 0:
                fixed, per_edge = memory_fit(results[family])
                need = fixed + per_edge * kept
                if need > max_bytes:
                    row = {"case": case, "family": family, "edges": kept,
                           "refused": f"estimate {format_bytes(int(need))} ({per_edge:.0f} B/edge × {kept:,} "
                                      f"+ {format_bytes(int(fixed))}) above {format_bytes(max_bytes)}"}
                    results[family].append(row)
                    print(f"{CASES[case]:<40} {family:<9} {kept:>11,} {'-':>8} {'-':>8} {'-':>12} {'-':>10}  "
                          f"refused: {row['refused']}")
                    continue
            row = child(case, family, max_bytes, args.threads)
            results[family].append(row)
            if "cpu" in row:
                note = "over 40 B/edge" if row["bytes_per_edge"] > 40 else ""
                print(f"{CASES[case]:<40} {family:<9} {row['edges']:>11,} {row['wall']:>8.3f} {row['cpu']:>8.3f} "
                      f"{row['peak_rss_mib']:>12.1f} {row['bytes_per_edge']:>10.1f}  {note}")
            else:
                why = row.get("refused") or row.get("error")
                edges = f"{row['edges']:,}" if row.get("edges") else "-"
                print(f"{CASES[case]:<40} {family:<9} {edges:>11} {'-':>8} {'-':>8} {'-':>12} {'-':>10}  "
                      f"{'refused' if 'refused' in row else 'failed'}: {why}")
            sys.stdout.flush()
    print()
    for family, rows in results.items():
        fixed, per_edge = memory_fit(rows)
        print(f"growth, {family}: time {growth_words(slope(rows))} over {sum('cpu' in r for r in rows)} inputs; "
              f"memory ≈ {format_bytes(int(fixed))} + {per_edge:.0f} bytes/edge (least squares)")
    if args.plot:
        plot(results, args.plot)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
