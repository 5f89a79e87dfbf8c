"""A synthetic study without training: masks at chosen densities, accuracy a known function of them."""

import json
import math

import pytest
import torch

from sparsegraph.masks import MaskSet

# the zoo ``mlp`` on digits (1 x 8 x 8 inputs, 10 classes)
SHAPES = {"fc1.weight": (300, 64), "fc2.weight": (100, 300), "fc3.weight": (10, 100)}
METHODS = ("a", "b", "c")
SPARSITIES = (0.8, 0.9)
SEEDS = (0, 1)


def random_masks(density: float, seed: int) -> MaskSet:
    generator = torch.Generator().manual_seed(seed)
    return MaskSet({name: torch.rand(shape, generator=generator) < density for name, shape in SHAPES.items()})


def accuracy_of(masks: MaskSet) -> float:
    """The synthetic ground truth: accuracy grows monotonically (non-linearly) with the kept fraction."""
    return 0.3 + 0.6 * math.sqrt(masks.density)


def write_run(root, run_id, *, method, sparsity, seed, masks, accuracy, summary=True, metrics=True):
    run = root / run_id
    run.mkdir(parents=True)
    density = 1.0 - sparsity
    (run / "config.json").write_text(json.dumps({"model": "mlp", "dataset": "digits", "method": method,
                                                 "density": density, "seed": seed, "num_classes": 10,
                                                 "checkpoint": None}))
    masks.save(run / "masks.safetensors")
    if metrics:
        rows = [{"scope": "layer", "layer": name, "metric": "density", "value": value, "status": "ok"}
                for name, value in masks.layer_densities().items()]
        rows.append({"scope": "network", "layer": None, "metric": "density", "value": masks.density, "status": "ok",
                     "n_layers": 3, "n_defined": 3})
        (run / "metrics.json").write_text(json.dumps({"format": "sparsegraph.measure/1", "rows": rows}))
    if summary:
        document = {"format": "sparsegraph.summary/1", "model": "mlp", "dataset": "digits", "method": method,
                    "target_density": density, "masked_density": masks.density,
                    "layer_densities": masks.layer_densities(), "seed": seed}
        if accuracy is not None:
            document.update({"test_at_best_val": accuracy, "test_final": accuracy})
        (run / "summary.json").write_text(json.dumps(document))  # NaN accuracies are written as NaN
    return run


@pytest.fixture
def synthetic_study(tmp_path):
    """3 methods x 2 sparsities x 2 seeds with accuracy = f(density); dense runs; and broken runs."""
    root = tmp_path / "study"
    root.mkdir()
    runs = []
    for mi, method in enumerate(METHODS):
        for sparsity in SPARSITIES:
            for seed in SEEDS:
                # methods keep slightly different fractions around the target, so density varies per level
                masks = random_masks((1 - sparsity) * (1 + 0.15 * mi + 0.04 * seed), seed=100 * mi + 10 * seed)
                run_id = f"{method}_s{sparsity:g}_seed{seed}"
                write_run(root, run_id, method=method, sparsity=sparsity, seed=seed, masks=masks,
                          accuracy=accuracy_of(masks))
                runs.append(run_id)
    for seed, accuracy in zip(SEEDS, (0.97, 0.95)):
        write_run(root, f"dense_seed{seed}", method="random", sparsity=0.0, seed=seed,
                  masks=random_masks(1.0, seed), accuracy=accuracy)
        runs.append(f"dense_seed{seed}")
    write_run(root, "a_s0.95_seed0", method="a", sparsity=0.95, seed=0, masks=random_masks(0.05, 1), accuracy=None,
              summary=False)
    write_run(root, "b_s0.95_seed0", method="b", sparsity=0.95, seed=0, masks=random_masks(0.05, 2),
              accuracy=float("nan"))
    write_run(root, "c_s0.95_seed0", method="c", sparsity=0.95, seed=0, masks=random_masks(0.05, 3), accuracy=None)
    runs += ["a_s0.95_seed0", "b_s0.95_seed0", "c_s0.95_seed0", "c_s0.95_seed1"]  # the last one never started
    manifest = {"format": "sparsegraph.study-grid/1", "shared": {},
                "runs": [{"run_id": r} for r in runs]}
    (root / "study.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture
def helpers():
    """The module's helpers (tests run in importlib mode and cannot import conftest)."""
    import types

    return types.SimpleNamespace(SHAPES=SHAPES, random_masks=random_masks, accuracy_of=accuracy_of,
                                 write_run=write_run)
