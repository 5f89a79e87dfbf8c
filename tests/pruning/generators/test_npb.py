"""npb end to end (spec pruning §2 npb, §8 items 1–3, 6): exact K, effective weights, paths, seeds."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import UsageError
from sparsegraph.models import load_model
from sparsegraph.pruning.budgets import erk_budgets
from sparsegraph.pruning.counts import allocate, keep_count
from sparsegraph.utils.seed import derive_seed

SHAPE = (3, 32, 32)
PATHS = ["paths.log10_paths", "paths.effective_weights"]


@pytest.fixture(scope="module")
def resnet20():
    return load_model("resnet20", num_classes=10, seed=0, input_shape=SHAPE)


@pytest.fixture(scope="module")
def npb_runs(resnet20):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "could not be placed on a path" warning
        return {s: sg.pruning.run(resnet20, "npb", sparsity=s, seed=0, input_shape=SHAPE) for s in (0.9, 0.99)}


@pytest.mark.parametrize("sparsity", [0.9, 0.99])
def test_resnet20_keeps_exactly_k_all_effective_with_more_paths_than_random_erk(resnet20, npb_runs, sparsity):
    result = npb_runs[sparsity]
    masks = result.masks
    assert masks.num_kept == keep_count(1 - sparsity, masks.numel)
    measured = sg.measure(resnet20, masks, PATHS, input_shape=SHAPE)
    assert measured.value("paths.effective_weights") == masks.num_kept  # every kept weight is effective
    assert result.npb.ineffective == 0
    erk = sg.prune(resnet20, "erk", sparsity=sparsity, seed=0, input_shape=SHAPE)
    random_paths = sg.measure(resnet20, erk, PATHS, input_shape=SHAPE).value("paths.log10_paths")
    assert measured.value("paths.log10_paths") > random_paths


def test_report_records_options_and_an_objective_per_layer(npb_runs, resnet20):
    report = npb_runs[0.99].npb
    assert report.options["npb_alpha"] == 0.01 and report.options["npb_max_p"] == 9
    assert [layer.layer for layer in report.layers] == list(sg.masks.maskable_parameters(resnet20))
    assert report.solves == sum(layer.chunks for layer in report.layers) and report.solver_seconds > 0
    for layer in report.layers:
        assert layer.objective == pytest.approx(0.01 * layer.A + 0.99 * layer.B + layer.beta * layer.Reg)
    events = [e for e in npb_runs[0.99].events if e["event"] == "npb_solve"]
    assert len(events) == report.solves and {"objective", "A", "B", "Reg", "variables"} <= set(events[0])


def test_before_the_post_pass_each_layer_keeps_its_erk_count(resnet20):
    result = sg.pruning.run(resnet20, "npb", sparsity=0.95, seed=0, input_shape=SHAPE, npb_refine=False)
    shapes = [tuple(p.shape) for p in sg.masks.maskable_parameters(resnet20).values()]
    sizes = np.array([int(np.prod(s)) for s in shapes])
    k = keep_count(0.05, int(sizes.sum()))
    expected = allocate(erk_budgets(shapes, 0.05).targets, sizes, k, 1)
    assert [int(m.sum()) for m in result.masks.values()] == expected.tolist()


def test_seeds_reproduce_and_random_placement_depends_on_the_seed(resnet20):
    run = lambda seed, **kw: sg.prune(resnet20, "npb", density=0.05, seed=seed, input_shape=SHAPE, **kw)  # noqa: E731
    assert run(0).fingerprint() == run(0).fingerprint()
    a, b = run(1, npb_placement="random"), run(1, npb_placement="random")
    assert a.fingerprint() == b.fingerprint() != run(2, npb_placement="random").fingerprint()


def test_paths_node_term_and_chunking_options_run(h):
    model = h.make_resnet()
    for options in ({"npb_node_term": "paths"}, {"npb_chunk": 4}, {"npb_init": "uniform"}):
        masks = sg.prune(model, "npb", density=0.2, seed=0, input_shape=(3, 8, 8), **options)
        assert masks.num_kept == keep_count(0.2, masks.numel), options


def test_another_generators_densities_as_init(h):
    model = h.make_resnet()
    batch = h.image_batch(shape=(3, 8, 8))
    # the init generator runs with its own derived seed; its per-layer counts are NPB's budgets
    snip = sg.prune(model, "snip", density=0.1, data=batch, seed=derive_seed(0, "npb", "init"))
    result = sg.pruning.run(model, "npb", density=0.1, data=batch, seed=0, npb_init="snip", npb_refine=False,
                            input_shape=(3, 8, 8))
    assert {n: int(m.sum()) for n, m in result.masks.items()} == {n: int(m.sum()) for n, m in snip.items()}


def test_exclusions_stay_dense_and_out_of_the_masks(h):
    model = h.make_resnet()
    masks = sg.prune(model, "npb", density=0.1, seed=0, input_shape=(3, 8, 8), dense_classifier=True)
    assert "linear.weight" not in masks and masks.num_kept == keep_count(0.1, masks.numel)


def test_no_side_effects(h):
    model = h.make_resnet()
    before = h.snapshot(model)
    sg.prune(model, "npb", density=0.1, seed=0, input_shape=(3, 8, 8), npb_placement="random")
    h.assert_same_snapshot(before, h.snapshot(model))


def test_bad_requests_are_usage_errors(h):
    model = h.make_resnet()
    with pytest.raises(UsageError, match="input shape"):
        sg.prune(model, "npb", density=0.1, seed=0)
    with pytest.raises(UsageError, match="unknown option"):
        sg.prune(model, "npb", density=0.1, seed=0, input_shape=(3, 8, 8), npb_gamma=1)
    with pytest.raises(UsageError, match="no one-shot score"):
        sg.pruning.scores("npb", model, input_shape=(3, 8, 8))
    grouped = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, groups=2),
                            nn.Flatten(), nn.Linear(8 * 16, 10))
    with pytest.raises(UsageError, match="grouped convolution '1'"):
        sg.prune(grouped, "npb", density=0.1, seed=0, input_shape=(4, 4, 4))


def test_mlp_layers_are_linear_milps(h):
    model = h.make_mlp()
    result = sg.pruning.run(model, "npb", density=0.05, seed=0, input_shape=(64,))
    assert {layer.role for layer in result.npb.layers} == {"linear"}
    assert result.masks.num_kept == keep_count(0.05, result.masks.numel)
    assert torch.equal(result.masks["fc1.weight"], result.masks["fc1.weight"].bool())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_model_on_cuda_gives_the_cpu_mask(h):
    model = h.make_resnet()
    cpu = sg.prune(model, "npb", density=0.1, seed=0, input_shape=(3, 8, 8))
    cuda = sg.prune(model.cuda(), "npb", density=0.1, seed=0, input_shape=(3, 8, 8))
    assert cuda.fingerprint() == cpu.fingerprint()


def test_budget_that_cannot_be_spent_effectively_warns_with_the_count_and_keeps_k(h):
    model = h.make_resnet()
    with pytest.warns(UserWarning, match=r"npb: (\d+) kept weight\(s\) could not be placed"):
        result = sg.pruning.run(model, "npb", density=0.01, seed=0, input_shape=(3, 8, 8), npb_placement="random")
    masks = result.masks
    assert masks.num_kept == keep_count(0.01, masks.numel)
    effective = sg.measure(model, masks, PATHS, input_shape=(3, 8, 8)).value("paths.effective_weights")
    assert result.npb.ineffective == masks.num_kept - effective > 0
