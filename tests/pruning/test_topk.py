"""Exact top-k with seeded tie keys (spec §1.3)."""

import pytest
import torch

from sparsegraph.errors import UsageError
from sparsegraph.pruning.topk import TIE_SEED_HIGH, kth_largest, topk_mask
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


def _tie_seed(seed):
    return int(torch.randint(TIE_SEED_HIGH, (1,), generator=make_generator(seed)))


def test_random_tie_keys_follow_the_permutation_of_the_drawn_tie_seed():
    scores = torch.zeros(10, dtype=torch.float64)
    perm = torch.randperm(10, generator=make_generator(_tie_seed(7)))
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


@pytest.mark.parametrize("scores", [torch.arange(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)])
def test_one_tie_seed_is_drawn_per_selection_ties_or_not(scores):
    g = make_generator(0)
    topk_mask(scores, 2, generator=g)
    reference = make_generator(0)
    torch.randint(TIE_SEED_HIGH, (1,), generator=reference)
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=reference))


def test_tied_selection_matches_the_randperm_rule_on_a_large_vector():
    scores = torch.cat([torch.rand(5000, generator=make_generator(1), dtype=torch.float64) + 1,
                        torch.full((3000,), 0.5, dtype=torch.float64)])
    keep = topk_mask(scores, 6000, generator=make_generator(5))
    perm = torch.randperm(8000, generator=make_generator(_tie_seed(5)))
    tied_in_key_order = perm[perm >= 5000]
    expected = torch.zeros(8000, dtype=torch.bool)
    expected[:5000] = True
    expected[tied_in_key_order[:1000]] = True
    assert torch.equal(keep, expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16, torch.int64])
def test_kth_largest_is_an_exact_entry_for_every_dtype(dtype):
    values = (torch.rand(1001, generator=make_generator(2), dtype=torch.float64) * 100).to(dtype)
    for k in (1, 17, 500, 1001):
        assert kth_largest(values, k) == torch.sort(values, descending=True).values[k - 1]


def test_pruned_entries_are_never_kept_and_asking_for_more_is_an_error():
    scores = torch.tensor([float("-inf"), -5.0, float("-inf"), -7.0], dtype=torch.float64)
    assert topk_mask(scores, 2, generator=make_generator(0)).tolist() == [False, True, False, True]
    with pytest.raises(UsageError, match="only 2"):
        topk_mask(scores, 3, generator=make_generator(0))


@pytest.mark.parametrize("layout", ["random", "ascending", "descending", "ties", "sampled_high"])
def test_kth_largest_prefilter_is_exact_on_large_vectors(layout):
    n = 200_003
    gen = make_generator(3)
    values = torch.rand(n, generator=gen, dtype=torch.float64)
    if layout == "ascending":
        values = values.sort().values
    elif layout == "descending":
        values = values.sort(descending=True).values
    elif layout == "ties":
        values = torch.floor(values * 7)
    elif layout == "sampled_high":  # the strided sample sees only the largest entries: the prefilter fails
        values = torch.zeros(n, dtype=torch.float64)
        values[:: n // (1 << 14)] = 1.0
    reference = torch.sort(values, descending=True).values
    for k in (1, 9, 2_000, 30_000, n // 4):
        assert kth_largest(values, k) == reference[k - 1]
