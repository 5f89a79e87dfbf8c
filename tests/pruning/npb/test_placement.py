"""Where NPB's taps go: by |θ| inside kernels, and the post-pass's fill order."""

import numpy as np
import torch

from sparsegraph.pruning.npb.placement import fill_order, place_taps, placement_keys, rank_within


def test_taps_go_to_the_largest_magnitudes_of_each_kernel():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 4, 3, 3, generator=g)
    counts = np.array([[0, 1, 2, 9], [3, 0, 0, 1], [5, 5, 5, 5]])
    mask = place_taps(counts, placement_keys(weight, "magnitude", g))
    assert np.array_equal(mask.sum(dim=(2, 3)).numpy(), counts)
    flat_w, flat_m = weight.abs().reshape(3, 4, 9), mask.reshape(3, 4, 9)
    for i in range(3):
        for j in range(4):
            kept, pruned = flat_w[i, j][flat_m[i, j]], flat_w[i, j][~flat_m[i, j]]
            if kept.numel() and pruned.numel():
                assert kept.min() > pruned.max()


def test_random_placement_is_seeded_and_keeps_the_counts():
    counts = np.full((2, 2), 4)
    a = place_taps(counts, placement_keys(torch.zeros(2, 2, 3, 3), "random", torch.Generator().manual_seed(1)))
    b = place_taps(counts, placement_keys(torch.zeros(2, 2, 3, 3), "random", torch.Generator().manual_seed(1)))
    c = place_taps(counts, placement_keys(torch.zeros(2, 2, 3, 3), "random", torch.Generator().manual_seed(2)))
    assert torch.equal(a, b) and not torch.equal(a, c) and int(a.sum()) == 16


def test_ranks_break_ties_by_lower_index():
    assert rank_within(torch.tensor([[1.0, 2.0, 1.0, 2.0]]), dim=1).tolist() == [[2, 0, 3, 1]]


def test_fill_order_takes_kernels_with_more_kept_taps_first_and_columns_for_1x1():
    kept = torch.zeros(2, 2, 1, 2, dtype=torch.bool)
    kept[1, 0, 0, 0] = True  # kernel (1, 0) has one kept tap
    keys = torch.arange(8, dtype=torch.float64).reshape(2, 2, 1, 2)
    order = fill_order(kept, keys).tolist()
    assert order[:2] == [5, 4]  # kernel (1, 0) first, larger key first
    kept_1x1 = torch.tensor([[False, True], [False, True]]).reshape(2, 2, 1, 1)
    order_1x1 = fill_order(kept_1x1, torch.zeros(2, 2, 1, 1, dtype=torch.float64)).tolist()
    assert order_1x1 == [1, 3, 0, 2]  # column 1 (two kept) first
