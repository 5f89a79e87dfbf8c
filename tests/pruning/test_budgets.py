"""ER / ERK budgets with dense capping, and the CIFAR ResNet-18 fixture of spec §2."""

import numpy as np
import pytest

from sparsegraph.pruning.budgets import erk_budgets, layer_budgets, raw_density
from sparsegraph.pruning.counts import allocate, keep_count


def resnet_shapes(blocks, classes=10):
    """Conv + linear weight shapes of a CIFAR ResNet with BasicBlocks in named_parameters order
    (conv1, conv2, then the 1x1 projection shortcut of the first block of stages 2-4)."""
    shapes, c_in = [(64, 3, 3, 3)], 64
    for stage, (width, count) in enumerate(zip((64, 128, 256, 512), blocks)):
        for b in range(count):
            shapes += [(width, c_in, 3, 3), (width, width, 3, 3)]
            if b == 0 and stage > 0:
                shapes.append((width, c_in, 1, 1))
            c_in = width
    return shapes + [(classes, 512)]


RESNET18 = resnet_shapes((2, 2, 2, 2))
# the fixture table of spec §2, expanded to the 21 layers in model order
FIXTURE = [
    (1_728, 0.514241, 889), *[(36_864, 0.044248, 1_631)] * 4, (73_728, 0.032690, 2_410),
    (147_456, 0.021629, 3_189), (8_192, 0.288270, 2_362), (147_456, 0.021629, 3_189),
    (147_456, 0.021629, 3_189), (294_912, 0.016098, 4_747), (589_824, 0.010690, 6_306),
    (32_768, 0.143392, 4_699), (589_824, 0.010690, 6_306), (589_824, 0.010690, 6_305),
    (1_179_648, 0.007987, 9_422), (2_359_296, 0.005314, 12_538), (131_072, 0.071510, 9_373),
    (2_359_296, 0.005314, 12_538), (2_359_296, 0.005314, 12_538), (5_120, 1.0, 5_120),
]


def check_fixture(shapes):
    sizes = np.array([int(np.prod(s)) for s in shapes])
    assert sizes.sum() == 11_164_352
    total = keep_count(0.01, int(sizes.sum()))
    assert total == 111_644
    budget = erk_budgets(shapes, 0.01)
    assert budget.epsilon == pytest.approx(12.17273, abs=1e-5)
    assert budget.dense == (20,)
    counts = allocate(budget.targets, sizes, total, min_per_layer=1)
    assert counts.sum() == total
    assert sizes.tolist() == [row[0] for row in FIXTURE]
    np.testing.assert_allclose(budget.targets / sizes, [row[1] for row in FIXTURE], atol=1e-6)
    assert counts.tolist() == [row[2] for row in FIXTURE]


def test_erk_fixture_resnet18_from_shapes():
    check_fixture(RESNET18)


def test_erk_fixture_resnet18_from_the_zoo(zoo):
    from sparsegraph.pruning.maskable import resolve_maskable

    model = zoo("resnet18", num_classes=10)
    check_fixture(resolve_maskable(model).shapes)


def test_erk_fixture_through_the_api(zoo):
    import sparsegraph as sg

    model = zoo("resnet18", num_classes=10)
    masks = sg.prune(model, "erk", density=0.01, seed=0)
    assert [int(m.sum()) for m in masks.values()] == [row[2] for row in FIXTURE]


def test_resnet34_and_vgg16_stems():
    shapes = resnet_shapes((3, 4, 6, 3))
    assert sum(int(np.prod(s)) for s in shapes) == 21_265_088
    budget = erk_budgets(shapes, 0.01)
    assert budget.targets[0] / 1728 == pytest.approx(0.5388, abs=1e-4)
    assert budget.dense == (len(shapes) - 1,)
    cfg = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    vgg, c_in = [], 3
    for c in cfg:
        vgg.append((c, c_in, 3, 3))
        c_in = c
    vgg.append((10, 512))
    assert sum(int(np.prod(s)) for s in vgg) == 14_715_584
    assert erk_budgets(vgg, 0.01).targets[0] / 1728 == pytest.approx(0.7485, abs=1e-4)


def test_erk_is_monotone_in_density():
    previous = None
    sizes = np.array([int(np.prod(s)) for s in RESNET18])
    for d in (0.001, 0.01, 0.05, 0.2, 0.5, 0.9):
        total = keep_count(d, int(sizes.sum()))
        counts = allocate(layer_budgets("erk", RESNET18, d, total), sizes, total, min_per_layer=1)
        assert counts.sum() == total
        if previous is not None:
            assert np.all(counts >= previous)
        previous = counts


def test_power_zero_is_uniform():
    budget = erk_budgets(RESNET18, 0.05, power=0.0)
    sizes = np.array([int(np.prod(s)) for s in RESNET18])
    np.testing.assert_allclose(budget.targets / sizes, 0.05, rtol=1e-12)


def test_er_equals_erk_on_linear_nets_and_differs_with_convs():
    linear = [(300, 784), (100, 300), (10, 100)]
    np.testing.assert_array_equal(erk_budgets(linear, 0.1, kind="er").targets,
                                  erk_budgets(linear, 0.1, kind="erk").targets)
    assert not np.allclose(erk_budgets(RESNET18, 0.01, kind="er").targets,
                           erk_budgets(RESNET18, 0.01, kind="erk").targets)
    assert raw_density((64, 3, 3, 3), "er") == pytest.approx(67 / 192)
    assert raw_density((64, 3, 3, 3), "erk") == pytest.approx(73 / 1728)


def test_density_one_is_all_dense():
    sizes = np.array([int(np.prod(s)) for s in RESNET18])
    np.testing.assert_allclose(erk_budgets(RESNET18, 1.0).targets, sizes)
