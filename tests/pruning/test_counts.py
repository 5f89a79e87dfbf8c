"""K = ⌊d·N + ½⌋, largest-remainder allocation, min_per_layer, exponential schedule (spec §1.2, §1.5)."""

import numpy as np
import pytest

from sparsegraph.errors import UsageError
from sparsegraph.pruning.counts import allocate, keep_count, resolve_density, schedule


def test_keep_count_rounds_half_up_and_clamps():
    assert keep_count(0.5, 5) == 3            # 2.5 + 0.5 -> 3
    assert keep_count(0.01, 11_164_352) == 111_644
    assert keep_count(1e-9, 100) == 1          # clamped to at least one weight
    assert keep_count(1.0, 100) == 100


def test_density_and_sparsity_are_exclusive():
    assert resolve_density(None, 0.9) == pytest.approx(0.1)
    assert resolve_density(0.25, None) == 0.25
    for density, sparsity in [(None, None), (0.1, 0.9), (0.0, None), (1.5, None), (None, 1.0)]:
        with pytest.raises(UsageError):
            resolve_density(density, sparsity)


def test_allocation_gives_the_largest_fractions_and_ties_to_the_earlier_layer():
    targets = np.array([1.5, 2.5, 0.5, 3.5])   # all fractions equal: the two earliest get +1
    k = allocate(targets, np.array([10, 10, 10, 10]), 8)
    assert k.tolist() == [2, 3, 0, 3]
    k = allocate(np.array([1.2, 1.7, 1.1]), np.array([5, 5, 5]), 4)
    assert k.tolist() == [1, 2, 1]


def test_min_per_layer_raises_short_layers_and_takes_the_surplus_from_the_largest_excess():
    targets = np.array([0.2, 4.4, 4.4])        # floors 0,4,4; +1 to the first of equal fractions
    k = allocate(targets, np.array([100, 100, 100]), 9, min_per_layer=0)
    assert k.tolist() == [0, 5, 4]
    # min 1: layer 0 -> 1, surplus 1 taken from the largest k - t (layer 1: 0.6)
    k = allocate(targets, np.array([100, 100, 100]), 9, min_per_layer=1)
    assert k.tolist() == [1, 4, 4]
    # equal excess: the later layer gives
    k = allocate(np.array([0.0, 4.0, 4.0]), np.array([100, 100, 100]), 8, min_per_layer=1)
    assert k.tolist() == [1, 4, 3]


def test_min_per_layer_never_exceeds_the_layer_and_infeasible_minimum_is_an_error():
    k = allocate(np.array([0.0, 5.0]), np.array([1, 100]), 5, min_per_layer=3)
    assert k.tolist() == [1, 4]
    with pytest.raises(UsageError):
        allocate(np.array([0.5, 0.5, 0.0]), np.array([10, 10, 10]), 1, min_per_layer=1)


def test_allocation_sums_exactly_where_independent_rounding_does_not():
    rng = np.random.default_rng(0)
    sizes = rng.integers(10, 1000, size=30)
    for d in (0.5, 0.1, 0.01, 0.001):
        total = keep_count(d, int(sizes.sum()))
        targets = total * sizes / sizes.sum()
        k = allocate(targets, sizes, total, min_per_layer=0)
        assert k.sum() == total
        assert np.all(np.abs(k - targets) < 1)


def test_exponential_schedule():
    counts = schedule(0.01, 10_000, 4)
    assert counts == [int(np.floor(0.01 ** (r / 4) * 10_000 + 0.5)) for r in range(1, 4)] + [100]
    assert counts == sorted(counts, reverse=True)
    assert schedule(0.3, 77, 1) == [keep_count(0.3, 77)]
