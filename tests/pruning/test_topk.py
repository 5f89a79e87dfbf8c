"""Exact top-k with seeded tie keys (spec §1.3)."""

import pytest
import torch

from sparsegraph.errors import UsageError
from sparsegraph.pruning.topk import topk_mask
from sparsegraph.utils.seed import make_generator


def test_keeps_exactly_k_largest():
    scores = torch.tensor([0.1, 5.0, 3.0, 4.0, -1.0, 2.0], dtype=torch.float64)
    keep = topk_mask(scores, 3, generator=make_generator(0))
    assert keep.tolist() == [False, True, True, True, False, False]


@pytest.mark.parametrize("k", [1, 7, 50, 99, 100])
def test_all_tied_keeps_exactly_k_and_is_seeded(k):
    scores = torch.zeros(100, dtype=torch.float64)
    a = topk_mask(scores, k, generator=make_generator(3))
    b = topk_mask(scores, k, generator=make_generator(3))
    c = topk_mask(scores, k, generator=make_generator(4))
    assert int(a.sum()) == k and torch.equal(a, b)
    if 1 < k < 99:
        assert not torch.equal(a, c)


def test_random_tie_keys_follow_the_seeded_permutation():
    scores = torch.zeros(10, dtype=torch.float64)
    perm = torch.randperm(10, generator=make_generator(7))
    keep = topk_mask(scores, 4, generator=make_generator(7))
    expected = torch.zeros(10, dtype=torch.bool)
    expected[perm[:4]] = True            # key of perm[j] is j: the first four of perm win
    assert torch.equal(keep, expected)


def test_half_tied_keeps_the_strict_winners_and_fills_from_ties():
    scores = torch.cat([torch.arange(1, 51, dtype=torch.float64), torch.zeros(50, dtype=torch.float64)])
    keep = topk_mask(scores, 70, generator=make_generator(0))
    assert int(keep.sum()) == 70 and bool(keep[:50].all()) and int(keep[50:].sum()) == 20


def test_index_tie_break_prefers_lower_flat_index():
    keep = topk_mask(torch.zeros(6), 2, tie_break="index")
    assert keep.tolist() == [True, True, False, False, False, False]


def test_randperm_is_drawn_even_without_ties():
    g = make_generator(0)
    topk_mask(torch.arange(5, dtype=torch.float64), 2, generator=g)
    reference = make_generator(0)
    torch.randperm(5, generator=reference)
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=reference))


def test_pruned_entries_are_never_kept_and_asking_for_more_is_an_error():
    scores = torch.tensor([float("-inf"), -5.0, float("-inf"), -7.0], dtype=torch.float64)
    assert topk_mask(scores, 2, generator=make_generator(0)).tolist() == [False, True, False, True]
    with pytest.raises(UsageError, match="only 2"):
        topk_mask(scores, 3, generator=make_generator(0))
