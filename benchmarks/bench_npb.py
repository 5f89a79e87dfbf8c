"""Benchmark of NPB, the Node-Path Balancing pruner (pruning spec §2 ``npb``).

Workload: CIFAR ResNet-18 (3×32×32, 10 classes, Kaiming fan-out init, seed 0) at 99 % sparsity with the
authors' ResNet-18 settings (α 0.01, β 2, max_p 6, chunk 16; ERK densities, magnitude placement, the
effective-weight post-pass), then the same with whole layers (``npb_chunk=0``). The authors' code
(``pvh1602/NPB``, cvxpy + HiGHS) takes ≈ 207 s on 2 CPU cores for the chunked run (156 s in 298 solves);
the target is ≤ 20 s on 2 cores.

Printed: wall and CPU (process) seconds, chunk problems ("solves", as the authors count them) and
distinct MILPs solved (chunks of a layer with equal rows, budget and max_p are one MILP), seconds in the solver, in the MILP sweep and in the
post-pass; the objective per layer (sum of the chunk optima, and the whole-layer objective of the kept
kernel counts) for both variants; log10 paths and effective nodes (``exact`` and ``npb2023`` conventions)
next to a random ERK mask of the same density and the authors' figures; and the two reference MILPs of
``tests/refcases/npb.json`` (the per-chunk optimum against the authors' objective). Run::

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_npb.py [--sparsity 0.99] [--skip-whole]

(NPB's work is the single-threaded HiGHS solver plus small torch ops; on a machine shared with other
jobs, torch's thread pool at 2 threads makes those ops several times slower, so measure with 1.)

Prints the tables and exits 0.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import sparsegraph as sg

AUTHORS = {"wall_s": 207.0, "solver_s": 156.0, "solves": 298, "npb_log10_paths": 36.11, "npb_nodes": 1103,
           "erk_log10_paths": 27.38, "erk_nodes": 3917}
TARGET_S = 20.0
SETTINGS = {"npb_alpha": 0.01, "npb_beta": 2.0, "npb_max_p": 6, "npb_chunk": 16}
SHAPE = (3, 32, 32)
PATH_METRICS = ["paths.log10_paths", "paths.effective_nodes", "paths.effective_weights"]


def model() -> torch.nn.Module:
    return sg.create_model("resnet18", num_classes=10, init="kaiming_fan_out", seed=0)


def run(density: float, **overrides) -> dict:
    net = model()
    wall, cpu = time.perf_counter(), time.process_time()
    result = sg.pruning.run(net, "npb", density=density, seed=0, input_shape=SHAPE, **{**SETTINGS, **overrides})
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"net": net, "result": result, "wall": wall, "cpu": cpu}


def paths(net: torch.nn.Module, masks) -> dict:
    out = {}
    for convention in ("exact", "npb2023"):
        measured = sg.measure(net, masks, PATH_METRICS, input_shape=SHAPE, convention=convention)
        out[convention] = {m: measured.value(m) for m in PATH_METRICS}
    return out


def reference_cases() -> list[str]:
    from sparsegraph.pruning.npb.milp import solve_layer

    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from refcases.npb_cases import CASES, case_problem

    lines = []
    for name, case in sorted(CASES.items()):
        solution = solve_layer(case_problem(case))
        expected = case["expected"]["objective"]
        lines.append(f"  {name:<11} ours {solution.terms.objective:.12f}  authors {expected:.12f}  "
                     f"|diff| {abs(solution.terms.objective - expected):.1e}  ({solution.seconds * 1e3:.1f} ms)")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsity", type=float, default=0.99)
    parser.add_argument("--skip-whole", action="store_true", help="skip the whole-layer (npb_chunk=0) run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    density = 1.0 - args.sparsity
    variants = {"chunk 16": run(density)}
    if not args.skip_whole:
        variants["whole layers"] = run(density, npb_chunk=0)
    erk = sg.prune(variants["chunk 16"]["net"], "erk", density=density, seed=0, input_shape=SHAPE)

    print(f"NPB on CIFAR ResNet-18, sparsity {args.sparsity}, {SETTINGS}, torch threads {torch.get_num_threads()}")
    print(f"{'variant':<14}{'wall s':>9}{'cpu s':>9}{'solves':>8}{'milps':>7}{'solver s':>10}{'milp s':>9}"
          f"{'refine s':>10}{'moved':>8}{'ineff':>7}{'target':>9}")
    figures: dict = {"authors": AUTHORS, "target_s": TARGET_S, "variants": {}}
    for label, v in variants.items():
        r, t = v["result"], v["result"].timings
        ok = "met" if v["wall"] <= TARGET_S else "MISSED"
        print(f"{label:<14}{v['wall']:>9.2f}{v['cpu']:>9.2f}{r.npb.solves:>8}{r.npb.milps:>7}{r.npb.solver_seconds:>10.2f}"
              f"{t['milp']:>9.2f}{t.get('refine', 0.0):>10.2f}{r.npb.moved:>8}{r.npb.ineffective:>7}{ok:>9}")
        figures["variants"][label] = {"wall_s": v["wall"], "cpu_s": v["cpu"], "solves": r.npb.solves,
                                      "solver_s": r.npb.solver_seconds, "timings": t,
                                      "paths": paths(v["net"], r.masks), "report": r.npb.to_dict()}
    print(f"{'authors':<14}{AUTHORS['wall_s']:>9.1f}{'':>9}{AUTHORS['solves']:>8}{AUTHORS['solves']:>7}"
          f"{AUTHORS['solver_s']:>10.1f}"
          f"   (2 CPU cores; target <= {TARGET_S:g} s)")

    print("\nobjective per layer (chunk optima summed | whole-layer objective of the kept counts)")
    names = [layer.layer for layer in variants["chunk 16"]["result"].npb.layers]
    header = "".join(f"{label:>26}" for label in variants)
    print(f"{'layer':<28}{'role':<10}{header}")
    for i, name in enumerate(names):
        cells = ""
        for v in variants.values():
            layer = v["result"].npb.layers[i]
            cells += f"{layer.chunks:>4} x {layer.chunk_objective:>9.5f} | {layer.objective:>8.5f}"
        print(f"{name:<28}{variants['chunk 16']['result'].npb.layers[i].role:<10}{cells}")

    erk_paths = paths(variants["chunk 16"]["net"], erk)
    figures["erk_paths"] = erk_paths
    print("\npaths metrics (exact | npb2023 convention)")
    print(f"{'mask':<16}{'log10 paths':>24}{'effective nodes':>24}{'effective weights':>20}")
    rows = [(label, figures["variants"][label]["paths"]) for label in variants] + [("random ERK", erk_paths)]
    for label, p in rows:
        e, n = p["exact"], p["npb2023"]
        print(f"{label:<16}{e['paths.log10_paths']:>11.2f} | {n['paths.log10_paths']:>9.2f}"
              f"{e['paths.effective_nodes']:>11.0f} | {n['paths.effective_nodes']:>9.0f}"
              f"{e['paths.effective_weights']:>20.0f}")
    print(f"{'authors NPB':<16}{AUTHORS['npb_log10_paths']:>24.2f}{AUTHORS['npb_nodes']:>24}")
    print(f"{'authors ERK':<16}{AUTHORS['erk_log10_paths']:>24.2f}{AUTHORS['erk_nodes']:>24}")

    print("\nreference MILPs (tests/refcases/npb.json): our optimum vs the authors' objective")
    print("\n".join(reference_cases()))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
