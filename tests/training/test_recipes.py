import math

import pytest

from sparsegraph.errors import UsageError
from sparsegraph.training import RECIPES, resolve_recipe


def test_step_schedule_drops_at_half_and_three_quarters():
    r = RECIPES["cifar"]
    per_epoch = 10
    assert r.lr_at(0, per_epoch) == pytest.approx(0.1)
    assert r.lr_at(79 * per_epoch, per_epoch) == pytest.approx(0.1)
    assert r.lr_at(80 * per_epoch, per_epoch) == pytest.approx(0.01)
    assert r.lr_at(120 * per_epoch, per_epoch) == pytest.approx(0.001)


def test_seed250_milestones_are_epochs():
    r = RECIPES["seed250"]
    assert r.lr_at(124, 1) == pytest.approx(0.1)
    assert r.lr_at(125, 1) == pytest.approx(0.01)
    assert r.lr_at(187, 1) == pytest.approx(0.001)


def test_cosine_reaches_zero_per_iteration():
    r = RECIPES["cifar-cos"]
    total = r.epochs * 7
    assert r.lr_at(0, 7) == pytest.approx(0.1)
    assert r.lr_at(total // 2, 7) == pytest.approx(0.05 * (1 + math.cos(math.pi * (total // 2) / total)))
    assert r.lr_at(total, 7) == pytest.approx(0.0, abs=1e-15)


def test_resolve_defaults_and_overrides():
    assert resolve_recipe(None, "digits").batch_size == 64
    assert resolve_recipe(None, "mnist").name == "small"
    assert resolve_recipe(None, "cifar10").name == "cifar"
    r = resolve_recipe("cifar", None, epochs=3, lr=None)
    assert (r.epochs, r.lr) == (3, 0.1)


def test_resolve_rejects_unknown_names():
    with pytest.raises(UsageError, match="unknown recipe 'fast'"):
        resolve_recipe("fast")
    with pytest.raises(UsageError, match="unknown recipe field 'momentun'"):
        resolve_recipe("small", momentun=0.5)
