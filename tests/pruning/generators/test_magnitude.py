"""magnitude (spec §2, §8 items 4, 8, 11)."""

import torch

import sparsegraph as sg
from sparsegraph.pruning.counts import keep_count


def test_min_kept_is_at_least_max_pruned(resnet):
    masks = sg.prune(resnet, "magnitude", density=0.1)
    weights = dict(resnet.named_parameters())
    kept = torch.cat([weights[n].detach().abs().flatten()[m.flatten()] for n, m in masks.items()])
    pruned = torch.cat([weights[n].detach().abs().flatten()[~m.flatten()] for n, m in masks.items()])
    assert float(kept.min()) >= float(pruned.max())


def test_all_zero_and_half_zero_scores_keep_exactly_k_identically_per_seed(h):
    model = h.make_vgg()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    n = sum(m.numel() for m in sg.prune(model, "magnitude", density=0.5, seed=0).values())
    a = sg.prune(model, "magnitude", density=0.3, seed=1)
    b = sg.prune(model, "magnitude", density=0.3, seed=1)
    assert sum(int(m.sum()) for m in a.values()) == keep_count(0.3, n)
    assert all(torch.equal(a[k], b[k]) for k in a)
    half = h.make_vgg()
    with torch.no_grad():
        for p in half.parameters():
            p[torch.rand(p.shape, generator=torch.Generator().manual_seed(0)) < 0.5] = 0
    a = sg.prune(half, "magnitude", density=0.7, seed=1)
    b = sg.prune(half, "magnitude", density=0.7, seed=1)
    assert sum(int(m.sum()) for m in a.values()) == keep_count(0.7, n)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_magnitude_empties_the_resnet18_classifier_at_one_percent(zoo):
    """Documented behaviour (spec §2): Kaiming fan-out convs vs default Linear init at d = 0.01."""
    model = zoo("resnet18", num_classes=10, init="kaiming_fan_out", seed=0)
    masks = sg.prune(model, "magnitude", density=0.01, seed=0)
    classifier = list(masks)[-1]
    assert int(masks[classifier].sum()) == 0
