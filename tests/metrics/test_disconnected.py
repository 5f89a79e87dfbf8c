"""A net with one layer pruned to zero (no input→output path): every answer is defined, never an error.

All-zero effective masks, 0 paths (``paths.log10_paths`` undefined with its reason), effective sparsity 1,
every topometric a number or None with a reason; the same through ``measure``, ``export`` and PAGS scoring.
"""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open
from torch import nn

import sparsegraph as sg
from sparsegraph.masks import MaskSet
from sparsegraph.metrics import list_metrics


def dead_net(seed=0):
    """conv1 -> pool -> conv2 -> pool -> fc1 -> fc2 (all zero) -> fc3: LeNet-5 on 1x8x8."""
    model = sg.create_model("lenet5", 10, input_shape=(1, 8, 8), seed=seed)
    g = torch.Generator().manual_seed(seed)
    masks = {f"{name}.weight": torch.rand(m.weight.shape, generator=g) < 0.5
             for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    masks["fc2.weight"][:] = False
    return model, MaskSet(masks)


@pytest.mark.parametrize("convention", ["exact", "npb2023"])
def test_effective_masks_are_all_zero(convention):
    model, masks = dead_net()
    found = sg.effective_masks(model, masks, (1, 8, 8), convention=convention)
    assert found.metadata["effective_masks_of"] == masks.fingerprint()
    if convention == "exact":
        assert list(found) == list(masks) and found.num_kept == 0
    else:  # the authors' biases are 1: fc2's bias still reaches the logits through fc3, nothing before it does
        assert all(found[n].sum() == 0 for n in ("conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"))
        assert torch.equal(found["fc3.weight"], masks["fc3.weight"])


def test_measure_paths_and_topometrics_are_defined():
    model, masks = dead_net()
    res = sg.measure(model, masks, ["paths", "topo", "ramanujan", "spectral", "density"], input_shape=(1, 8, 8))
    assert all(row["status"] != "error" for row in res.rows), [r for r in res.rows if r["status"] == "error"]
    assert all(row.get("reason") for row in res.rows if row["status"] == "undefined")
    log10 = next(r for r in res.rows if r["metric"] == "paths.log10_paths" and r["layer"] is None)
    assert log10["value"] is None and log10["reason"] == "no input→output path"
    assert res.details[("paths.log10_paths", None)].extras["paths"] == 0
    assert res.value("paths.effective_weights") == 0
    assert res.value("paths.effective_sparsity") == 1.0
    assert all(res.value("paths.effective_sparsity", layer) == 1.0 for layer in res.layers)
    # the MGE has no edge into fc2's partition: its 84 nodes are sources, fc1's 120 are sinks
    assert res.value("topo.sink_nodes") == 120 and res.value("topo.source_nodes") == 84
    assert res.value("topo.components") == 2
    topo = {info.name for info in list_metrics("topo.*")}
    assert topo <= {r["metric"] for r in res.rows if r["layer"] is None}
    # the rolled graph of the empty layer: undefined with a reason; the network aggregates the rest
    assert res.value("spectral.lambda", "fc2") is None and res.value("spectral.lambda") is not None


def test_cli_measure_writes_zero_effective_masks_and_export_builds(tmp_path):
    from sparsegraph_cli.main import main

    model, masks = dead_net()
    path = masks.save(tmp_path / "dead.safetensors")
    eff = tmp_path / "eff.safetensors"
    result = CliRunner().invoke(main, ["measure", "--model", "lenet5", "--input-shape", "1,8,8", "--masks", str(path),
                                       "--metrics", "paths", "--write-effective-masks", str(eff), "--format", "json"])
    assert result.exit_code == 0, result.output
    with safe_open(str(eff), framework="pt") as f:
        assert sorted(f.keys()) == sorted(masks) and not any(bool(f.get_tensor(k).any()) for k in f.keys())
        assert f.metadata()["num_kept"] == "0"
    out = tmp_path / "g.npz"
    result = CliRunner().invoke(main, ["export", "--model", "lenet5", "--input-shape", "1,8,8", "--masks", str(path),
                                       "--encoding", "mge", "--format", "npz", "-o", str(out)])
    assert result.exit_code == 0, result.output
    g = sg.load_graph(out)
    assert g.num_edges == sg.encode(model, masks, encoding="mge", input_shape=(1, 8, 8)).num_edges
    assert not any(s.num_edges for s in g.edge_sets if s.name == "fc2")


@pytest.mark.parametrize("score,merge", [("spectral.full_spectrum", "layer"), ("paths.log10_paths", "whole"),
                                         ("paths.effective_sparsity", "whole"), ("topo.spectral_gap", "whole")])
def test_pags_scores_a_disconnected_candidate(score, merge):
    from sparsegraph.pruning.samplers.scoring import resolve_score_spec, score_masks

    model, masks = dead_net()
    spec = resolve_score_spec(score, None, merge, None, None, (1, 8, 8), "max" if score.startswith("topo") else None)
    result = score_masks(model, dict(masks), spec)
    if score == "paths.log10_paths":
        assert result.network is None
    elif score == "paths.effective_sparsity":
        assert result.network == 1.0
    else:
        assert result.network is not None and np.isfinite(result.network)
