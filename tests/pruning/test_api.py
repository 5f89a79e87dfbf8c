"""Invariants every generator satisfies through sg.pruning.run / sg.prune (spec §8 items 1-8)."""

import pytest
import torch

import sparsegraph as sg
from sparsegraph.errors import NonFiniteScoreError, UsageError
from sparsegraph.pruning.counts import keep_count, schedule
from sparsegraph.pruning.maskable import resolve_maskable

ALL = ["random", "random-global", "er", "erk", "magnitude", "snip", "grasp", "synflow", "iter-snip"]
LAYERWISE = {"random", "er", "erk"}
FAST = {"rounds": 5}          # iterative methods: fewer rounds keep the invariant tests quick


def options(method, net_input):
    opts = dict(FAST) if method in ("synflow", "iter-snip") else {}
    if method == "synflow":
        opts["input_shape"] = tuple(net_input[0].shape[1:])
    return opts


@pytest.fixture(params=["mlp", "vgg", "resnet"])
def net(request, h):
    if request.param == "mlp":
        return h.make_mlp(), h.flat_batch()
    if request.param == "vgg":
        return h.make_vgg(), h.image_batch()
    return h.make_resnet(), h.image_batch()


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("density", [0.5, 0.1, 0.01, 0.001])
def test_exact_counts_and_well_formed(method, density, net, tmp_path):
    model, batch = net
    result = sg.pruning.run(model, method, density=density, data=batch, seed=0, **options(method, batch))
    masks = result.masks
    maskable = resolve_maskable(model)
    assert list(masks) == list(maskable.params)
    for name, mask in masks.items():
        assert mask.dtype == torch.bool and mask.shape == maskable.params[name].shape
    total = sum(maskable.sizes)
    assert sum(int(m.sum()) for m in masks.values()) == keep_count(density, total)
    assert masks.metadata == {"generator": method, "seed": 0, "target_density": density}
    masks.save(tmp_path / "m.safetensors")  # metadata fits the file header
    assert type(masks).load(tmp_path / "m.safetensors").metadata["target_density"] == density
    rounds = FAST["rounds"] if method in ("synflow", "iter-snip") else 1
    assert [e["kept"] for e in result.events] == schedule(density, total, rounds)


@pytest.mark.parametrize("method", ALL)
def test_same_seed_same_masks(method, h):
    batch = h.image_batch()
    opts = options(method, batch)
    a = sg.prune(h.make_vgg(), method, density=0.1, data=batch, seed=5, **opts)
    b = sg.prune(h.make_vgg(), method, density=0.1, data=batch, seed=5, **opts)
    assert all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("method", ["random", "random-global", "er", "erk"])
def test_another_seed_changes_random_masks(method, vgg):
    a = sg.prune(vgg, method, density=0.1, seed=0)
    b = sg.prune(vgg, method, density=0.1, seed=1)
    assert any(not torch.equal(a[n], b[n]) for n in a)


def test_synflow_does_not_depend_on_the_seed(vgg):
    a = sg.prune(vgg, "synflow", density=0.1, seed=0, input_shape=(3, 8, 8), rounds=5)
    b = sg.prune(vgg, "synflow", density=0.1, seed=1, input_shape=(3, 8, 8), rounds=5)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_a_given_generator_replaces_the_seed(vgg):
    from sparsegraph.utils.seed import make_generator

    a = sg.prune(vgg, "random", density=0.1, seed=3)
    b = sg.prune(vgg, "random", density=0.1, seed=99, generator=make_generator(3))
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_none_seed_is_drawn_and_recorded(vgg):
    result = sg.pruning.run(vgg, "random", density=0.1)
    assert isinstance(result.seed, int) and result.masks.metadata["seed"] == result.seed
    again = sg.prune(vgg, "random", density=0.1, seed=result.seed)
    assert all(torch.equal(again[n], result.masks[n]) for n in again)


@pytest.mark.parametrize("method", ALL)
def test_no_side_effects(method, h):
    model = h.make_resnet()
    batch = h.image_batch()
    model.train()
    model(batch[0]).sum().backward()          # non-trivial BN statistics and stale gradients
    model.linear.bias.grad = None             # None must stay None
    model.layer1.bn1.weight.requires_grad_(False)
    model.layer2.eval()                       # mixed modes
    torch.manual_seed(1234)
    before = h.snapshot(model)
    extra = {"bn_mode": "train"} if method in ("snip", "grasp", "iter-snip") else {}
    sg.pruning.run(model, method, density=0.1, data=batch, seed=0, **extra, **options(method, batch))
    h.assert_same_snapshot(before, h.snapshot(model))


@pytest.mark.parametrize("method", ["snip", "grasp", "synflow"])
def test_no_side_effects_without_copy(method, h):
    model = h.make_resnet()
    batch = h.image_batch()
    model.train()
    model(batch[0]).sum().backward()
    before = h.snapshot(model)
    extra = {"bn_mode": "train"} if method != "synflow" else {}
    sg.pruning.run(model, method, density=0.1, data=batch, seed=0, copy=False, **extra, **options(method, batch))
    h.assert_same_snapshot(before, h.snapshot(model))


def test_copy_false_scores_equal_copy_scores(h):
    model, batch = h.make_vgg(), h.image_batch()
    a = sg.pruning.scores("grasp", model, batch)
    b = sg.pruning.scores("grasp", model, batch, copy=False)
    assert all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("method", ["random", "random-global", "er", "erk", "snip", "grasp", "iter-snip"])
def test_no_layer_emptied_at_density_0_1(method, net):
    model, batch = net
    masks = sg.prune(model, method, density=0.1, data=batch, seed=0, **options(method, batch))
    assert all(int(m.sum()) > 0 for m in masks.values())


def test_non_finite_scores_raise_naming_the_parameter(vgg):
    with torch.no_grad():
        vgg.features[0].weight[0, 0, 0, :2] = float("nan")
    with pytest.raises(NonFiniteScoreError, match=r"features\.0\.weight.* 2 non-finite"):
        sg.prune(vgg, "magnitude", density=0.1)
    assert issubclass(NonFiniteScoreError, ValueError)


@pytest.mark.filterwarnings("ignore:dense_first_layer/dense_classifier use registration order")
def test_exclusions_leave_the_mask_set_and_n(h):
    model = h.make_resnet()
    with pytest.warns(UserWarning, match="matches no"):
        sg.prune(model, "erk", density=0.1, seed=0, exclude=[r"^nothing$"])
    result = sg.pruning.run(model, "erk", density=0.1, seed=0, exclude=[r"shortcut"], dense_classifier=True,
                            input_shape=(3, 8, 8))
    names = list(result.masks)
    assert "layer2.shortcut.0.weight" not in names and "linear.weight" not in names
    assert result.excluded == ["layer2.shortcut.0.weight", "linear.weight"]
    n = sum(p.numel() for name, p in model.named_parameters() if name in names)
    assert sum(int(m.sum()) for m in result.masks.values()) == keep_count(0.1, n)


def test_given_masks_are_pruned_further_and_too_many_is_an_error(vgg):
    first = sg.prune(vgg, "magnitude", density=0.3)
    second = sg.prune(vgg, "random-global", density=0.1, seed=0, masks=first)
    assert all(bool((second[n] <= first[n]).all()) for n in first)
    with pytest.raises(UsageError, match="unpruned"):
        sg.prune(vgg, "random-global", density=0.5, seed=0, masks=first)


def test_bad_options_are_usage_errors(vgg):
    with pytest.raises(UsageError, match="unknown option"):
        sg.prune(vgg, "random", density=0.1, score_batches=2)        # random takes no data options
    with pytest.raises(UsageError, match="unknown pruning method"):
        sg.prune(vgg, "nope", density=0.1)
    with pytest.raises(UsageError, match=r"did you mean 'snip'\? choose one of"):
        sg.prune(vgg, "snipp", density=0.1)
    with pytest.raises(UsageError, match="exactly one"):
        sg.pruning.run(vgg, "random", density=0.1, sparsity=0.9)
    with pytest.raises(UsageError, match="input shape"):
        sg.prune(vgg, "synflow", density=0.1)
    with pytest.raises(UsageError, match="needs labelled"):
        sg.prune(vgg, "snip", density=0.1)


def test_sparsity_is_one_minus_density(vgg):
    a = sg.pruning.run(vgg, "random", sparsity=0.9, seed=0).masks
    b = sg.prune(vgg, "random", density=0.1, seed=0)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_run_reports_weights_events_timings(vgg):
    result = sg.pruning.run(vgg, "synflow", density=0.1, seed=0, input_shape=(3, 8, 8), rounds=3)
    state = vgg.state_dict()
    assert result.weights.keys() == state.keys()
    assert all(torch.equal(result.weights[k], state[k]) for k in state)
    assert [e["round"] for e in result.events] == [1, 2, 3]
    assert set(result.timings) == {"data", "scoring", "selection", "total"}
    assert result.timings["total"] >= result.timings["scoring"]


def test_layer_scope_for_score_methods_uses_budgets(h):
    model, batch = h.make_vgg(), h.image_batch()
    masks = sg.prune(model, "snip", density=0.1, data=batch, seed=0, scope="layer", allocation="erk")
    erk = sg.prune(model, "erk", density=0.1, seed=0, min_per_layer=0)
    assert [int(m.sum()) for m in masks.values()] == [int(m.sum()) for m in erk.values()]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", ["random", "random-global", "erk"])
def test_random_masks_match_across_devices(method, h):
    cpu = sg.prune(h.make_resnet(), method, density=0.1, seed=11)
    gpu = sg.prune(h.make_resnet().cuda(), method, density=0.1, seed=11)
    assert all(torch.equal(cpu[n].cpu(), gpu[n].cpu()) for n in cpu)


@pytest.mark.parametrize("method", ["random", "erk"])
def test_weight_free_generators_skip_the_copy_with_the_same_masks(method, h, monkeypatch):
    # random keys read only shapes: scoring the model itself (no copy, no masking between rounds) gives
    # the masks that the copied, masked scoring model gives, and leaves the model as it was
    import dataclasses

    from sparsegraph.pruning import api

    model, batch = h.make_resnet(), h.image_batch()
    model.train()
    model(batch[0]).sum().backward()
    before = h.snapshot(model)
    fast = sg.prune(model, method, density=0.1, seed=3, rounds=3)
    h.assert_same_snapshot(before, h.snapshot(model))
    assert not api.get_generator(method).reads_weights
    copied = dataclasses.replace(api.get_generator(method), reads_weights=True)
    monkeypatch.setattr(api, "get_generator", lambda name: copied)
    slow = sg.pruning.run(model, method, density=0.1, seed=3, rounds=3)
    assert all(torch.equal(fast[n], slow.masks[n]) for n in fast)
    assert slow.weights.keys() == model.state_dict().keys()
    assert sg.prune(model, method, sparsity=0.9, seed=3, rounds=3).fingerprint() == fast.fingerprint()
