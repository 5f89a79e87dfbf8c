"""random / random-global keys (spec §2, §8 item 9)."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from torch import nn

import sparsegraph as sg
from sparsegraph.pruning.counts import keep_count


def test_random_layers_are_within_one_weight_of_the_uniform_budget(resnet):
    masks = sg.prune(resnet, "random", density=0.1, seed=0)
    sizes = np.array([m.numel() for m in masks.values()])
    total = keep_count(0.1, int(sizes.sum()))
    kept = np.array([int(m.sum()) for m in masks.values()])
    assert kept.sum() == total
    assert np.all(np.abs(kept - total * sizes / sizes.sum()) < 1)


def test_random_positions_are_uniform():
    model = nn.Sequential(nn.Linear(200, 200, bias=False), nn.Linear(200, 10, bias=False))
    mask = sg.prune(model, "random", density=0.1, seed=0)["0.weight"].flatten()
    counts = torch.bincount(torch.nonzero(mask).flatten() // 2000, minlength=20).numpy()
    assert counts.sum() == int(mask.sum())
    assert chisquare(counts).pvalue > 1e-3


def test_random_keys_are_float64_uniform_and_seeded(vgg):
    a = sg.pruning.scores("random", vgg, seed=4)
    b = sg.pruning.scores("random-global", vgg, seed=4)
    assert all(a[n].dtype == torch.float64 and torch.equal(a[n], b[n]) for n in a)
    flat = torch.cat([s.flatten() for s in a.values()])
    assert 0 <= float(flat.min()) and float(flat.max()) < 1
    assert abs(float(flat.mean()) - 0.5) < 0.01


def test_random_global_is_the_global_top_k_of_the_keys(vgg):
    keys = sg.pruning.scores("random-global", vgg, seed=2)
    masks = sg.prune(vgg, "random-global", density=0.2, seed=2)
    kept = torch.cat([keys[n].flatten()[masks[n].flatten()] for n in masks])
    pruned = torch.cat([keys[n].flatten()[~masks[n].flatten()] for n in masks])
    assert float(kept.min()) > float(pruned.max())
