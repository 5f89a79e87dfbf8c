"""Dynamic sparse training (spec pruning §5, §8 invariant 20): schedule, update rule, trainer integration,
and the reference values of the authors' ITOP-based implementation (tests/refcases/dst.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import UsageError
from sparsegraph.pruning.dst import DSTSchedule, DSTUpdater, drop_fraction, dst_schedule, dst_update
from sparsegraph.pruning.dst.runner import default_interval
from sparsegraph.pruning.dst.update import drop_count
from sparsegraph.training import RunLog, TensorSplit, TrainData, TrainHooks, train

REF = json.loads((Path(__file__).parents[1] / "refcases" / "dst.json").read_text())
CASES = REF["cases"]


# ------------------------------------------------------------------------------------------ schedule
@pytest.mark.parametrize("name", sorted(REF["cosine_schedules"]))
def test_cosine_schedule_matches_the_reference_at_every_update(name):
    case = REF["cosine_schedules"][name]
    ours = [drop_fraction(t, case["T_max"], case["eta0"]) for t in case["update_steps"]]
    assert ours == pytest.approx(case["death_rate_at_updates"], abs=1e-12)
    sched = DSTSchedule("random", case["update_frequency"], case["eta0"], stop=1.0)
    fired = [t for t in range(1, case["T_max"] + 1) if sched.fires(t, case["T_max"])]
    assert fired == case["update_steps"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_per_step_fraction_and_update_steps_match_the_reference(name):
    steps = CASES[name]["steps"]
    total = REF["protocol"]["n_steps"]
    sched = DSTSchedule("random", REF["protocol"]["update_frequency"], REF["protocol"]["death_rate"], stop=1.0)
    for row in steps:
        assert sched.zeta(row["step"], total) == pytest.approx(row["death_rate"], abs=1e-12)
        assert sched.fires(row["step"], total) == row["update"]


def test_schedule_values_at_given_steps():
    assert drop_fraction(0, 100, 0.5) == pytest.approx(0.5)
    assert drop_fraction(50, 100, 0.5) == pytest.approx(0.005 + 0.495 / 2)
    assert drop_fraction(100, 100, 0.5) == pytest.approx(0.005)
    assert drop_fraction(25, 100, 0.3, "linear") == pytest.approx(0.3 - 0.295 / 4)
    assert drop_fraction(77, 100, 0.3, "constant") == 0.3
    for schedule in ("cosine", "linear", "constant"):
        assert drop_fraction(40, 100, 0.0, schedule) == 0.0
    with pytest.raises(UsageError, match="dst_schedule"):
        drop_fraction(1, 10, 0.5, "step")


def test_stop_and_default_interval():
    rigl = dst_schedule("rigl", 88_000)
    assert (rigl.interval, rigl.stop, rigl.growth) == (4000, 0.75, "gradient")
    assert dst_schedule("set", 200_000).interval == 1500 and dst_schedule("set", 1).stop == 1.0
    assert default_interval("rigl", 200) == 9 and default_interval("set", 10) == 1
    assert [t for t in range(1, 101) if rigl.__class__("gradient", 10, 0.5, stop=0.75).fires(t, 100)] == \
        [10, 20, 30, 40, 50, 60, 70]
    with pytest.raises(UsageError, match="dst_stop"):
        dst_schedule("set", 100, dst_stop=1.5)
    with pytest.raises(UsageError, match="dst_interval"):
        dst_schedule("set", 100, dst_interval=0)


# ------------------------------------------------------------------------------------ the update rule
@pytest.mark.parametrize("name", sorted(CASES))
def test_removed_counts_match_the_reference(name):
    for update in CASES[name]["updates"]:
        for layer, row in update["layers"].items():
            n = drop_count(update["death_rate"], row["nnz_before"])
            assert n == row["remove_target_ceil"], (name, update["step"], layer)
            if row["n_active_exact_zero"] == 0 and row["n_active_at_threshold"] == 1:  # no threshold ties
                assert n == row["n_removed"]
            assert row["grow_target"] == row["n_removed"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_itop_rate_definition_matches_the_reference(name):
    """The reference's ITOP rate at the start is the initial density Σ nnz / Σ numel, and it never decreases."""
    case = CASES[name]
    masks = {}
    for i, layer in enumerate(case["init"]["masked_layers"]):
        masks[layer] = _random_layer((case["init"]["numel"][layer],), case["init"]["nnz"][layer], i)[0]
    updater = DSTUpdater(dst_schedule("set", 30, dst_interval=5), masks, seed=0)
    assert updater.itop_rate == pytest.approx(case["init"]["itop_rate"], rel=1e-12)
    rates = [case["init"]["itop_rate"]] + [u["itop_rate"] for u in case["updates"]]
    assert rates == sorted(rates)


def _random_layer(shape, kept, seed):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(math.prod(shape), dtype=torch.bool)
    mask[torch.randperm(mask.numel(), generator=g)[:kept]] = True
    weight = torch.randn(shape, generator=g) * mask.reshape(shape)
    return mask.reshape(shape), weight, torch.randn(shape, generator=g)


@pytest.mark.parametrize("name", ["mlp_rigl", "cnn_rigl", "mlp_set", "cnn_set"])
def test_exact_counts_for_the_reference_layers(name):
    """Per layer: removed ⌈ζ·nnz⌉ as the reference, regrown the same number, nnz constant (the reference
    SET draws Bernoulli counts; ours stay exact, as its RigL's)."""
    case = CASES[name]
    growth = "gradient" if case["growth"] == "gradient" else "random"
    for update in case["updates"]:
        masks, weights, grads = {}, {}, {}
        for i, (layer, row) in enumerate(update["layers"].items()):
            shape = (row["numel"],)
            masks[layer], weights[layer], grads[layer] = _random_layer(shape, row["nnz_before"], i + update["step"])
        new = dst_update(masks, weights, fraction=update["death_rate"], growth=growth, grads=grads,
                         generator=torch.Generator().manual_seed(0))
        for layer, row in update["layers"].items():
            assert int(new[layer].sum()) == row["nnz_before"]
            survivors = masks[layer] & new[layer]
            removed = row["nnz_before"] - int(survivors.sum())
            # removed ones may be regrown: the survivors of death are at least nnz − n
            assert removed <= row["remove_target_ceil"]
            if case["growth"] == "gradient":
                assert int(new[layer].sum()) == row["nnz_after"]


def test_death_removes_the_smallest_magnitudes_and_zero_weights_first():
    mask = torch.tensor([True, True, True, True, False, False])
    weight = torch.tensor([0.0, -3.0, 0.5, 2.0, 0.0, 0.0])
    grad = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 2.0])
    new = dst_update({"w": mask}, {"w": weight}, fraction=0.5, growth="gradient", grads={"w": grad},
                     tie_break="index")
    # n = 2: drop |0.0| and |0.5|; grow the two largest |g| among inactive-after-death: positions 5, 4
    assert new["w"].tolist() == [False, True, False, True, True, True]


def test_rigl_regrows_exactly_the_largest_gradient_inactive_positions():
    g = torch.Generator().manual_seed(1)
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask.view(-1)[torch.randperm(120, generator=g)[:30]] = True
    weight = torch.randn(10, 12, generator=g) * mask
    grad = torch.randn(10, 12, generator=g)
    grad[mask] *= 100.0  # active positions have huge gradients: they must not count for growth
    new = dst_update({"w": mask}, {"w": weight}, fraction=0.4, growth="gradient", grads={"w": grad},
                     generator=torch.Generator().manual_seed(0))["w"]
    n = math.ceil(0.4 * 30)
    survivors = mask.clone()
    order = torch.argsort(weight.abs().masked_fill(~mask, float("inf")).view(-1))
    survivors.view(-1)[order[:n]] = False
    candidates = (~survivors).view(-1).nonzero().view(-1)
    expected = candidates[torch.argsort(grad.abs().view(-1)[candidates], descending=True)[:n]]
    grown = (new & ~survivors).view(-1).nonzero().view(-1)
    assert sorted(grown.tolist()) == sorted(expected.tolist())
    assert torch.equal(new & mask & survivors, survivors)


def test_random_growth_picks_inactive_positions_uniformly():
    mask = torch.zeros(2000, dtype=torch.bool)
    mask[:200] = True
    weight = torch.linspace(1, 2, 2000) * mask
    hits = torch.zeros(2000)
    gen = torch.Generator().manual_seed(0)
    for _ in range(200):
        new = dst_update({"w": mask}, {"w": weight}, fraction=0.5, growth="random", generator=gen)["w"]
        assert new[100:200].all() and int(new.sum()) == 200  # death drops the 100 smallest |w|: 0 … 99
        hits += new.float()
    # 100 regrown per update among the 1,900 positions inactive after death, just-pruned ones included
    assert hits[:100].sum() > 0
    fresh = torch.cat([hits[:100], hits[200:]])
    expected = 200 * 100 / 1900
    chi2 = float(((fresh - expected) ** 2 / expected).sum())
    assert chi2 < 1900 * 1.2  # χ² with 1,899 degrees of freedom: mean 1,899, sd ≈ 62


def test_zero_fraction_keeps_the_mask():
    mask, weight, _ = _random_layer((50,), 10, 0)
    new = dst_update({"w": mask}, {"w": weight}, fraction=0.0, growth="random", generator=torch.Generator())
    assert torch.equal(new["w"], mask)


def test_dst_update_is_exported_and_validates():
    assert sg.pruning.dst_update is dst_update
    mask, weight, _ = _random_layer((20,), 5, 0)
    with pytest.raises(UsageError, match="dense gradients"):
        dst_update({"w": mask}, {"w": weight}, fraction=0.5, growth="gradient")
    with pytest.raises(UsageError, match="growth"):
        dst_update({"w": mask}, {"w": weight}, fraction=0.5, growth="momentum")


# --------------------------------------------------------------------------------- during training
class RefMLP(nn.Module):
    """The reference cases' MLP: 64 → 32 → 16 → 10."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(64, 32), nn.Linear(32, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x.flatten(1))))))


def _data(n=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 64, generator=g)
    y = (x[:, :10].argmax(1))
    return TensorSplit(x, y)


def _ref_masks(case):
    """Masks of the reference's initial counts (positions seeded; the reference drew Bernoulli masks)."""
    model = RefMLP()
    shapes = {n: p.shape for n, p in model.named_parameters() if n.endswith("weight")}
    out = {}
    for i, name in enumerate(case["init"]["masked_layers"]):
        out[name] = _random_layer(shapes[name], case["init"]["nnz"][name], i)[0]
    return out


class _Recorder:
    """Hooks that record the masks, weights and momentum around every update."""

    def __init__(self, updater):
        self.updater, self.rows = updater, []
        self.optimizer = None

    def after_step(self, iteration, model):
        if self.updater.last_update == iteration:
            params = dict(model.named_parameters())
            momentum = {n: self.updater._optimizer.state[params[n]]["momentum_buffer"].clone() for n in params
                        if n in self.updater.masks}
            self.rows.append((iteration, {n: m.clone() for n, m in self.updater.masks.items()},
                              {n: params[n].detach().clone() for n in self.updater.masks}, momentum))


@pytest.mark.parametrize("name", ["mlp_rigl", "mlp_set"])
def test_training_updates_keep_counts_zero_new_weights_and_match_reference_removals(name, tmp_path):
    case = CASES[name]
    masks = _ref_masks(case)
    torch.manual_seed(0)
    model = RefMLP()
    growth = "rigl" if case["growth"] == "gradient" else "set"
    schedule = dst_schedule(growth, 30, dst_interval=5, dst_stop=1.0)
    log = RunLog(tmp_path / "log.jsonl")
    updater = DSTUpdater(schedule, masks, seed=0, log=log)
    recorder = _Recorder(updater)
    data = TrainData(train=_data(60), val=None, test=_data(20, 1), name="blobs")
    train(model, masks, data, recipe="small", epochs=1, batch_size=2, lr=0.1, seed=0, log=log,
          hooks=TrainHooks(mask_updater=updater, after_step=recorder.after_step))
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    updates = [r for r in rows if r["event"] == "dst_update"]
    assert [u["step"] for u in updates] == [u["step"] for u in case["updates"]]
    previous = masks
    itop = [sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())]
    assert itop[0] == pytest.approx(case["init"]["itop_rate"], abs=0.03)  # Bernoulli vs exact counts
    for ours, ref, (step, current, weights, momentum) in zip(updates, case["updates"], recorder.rows):
        assert ours["zeta"] == pytest.approx(ref["death_rate"], abs=1e-12)
        assert ours["removed"] == sum(drop_count(ref["death_rate"], int(previous[n].sum())) for n in previous)
        if case["growth"] == "gradient":  # the reference keeps RigL's counts exact too
            assert ours["removed"] == sum(v["n_removed"] for v in ref["layers"].values())
        for n, mask in current.items():
            assert int(mask.sum()) == case["init"]["nnz"][n]  # per-layer counts constant
            fresh = mask & ~previous[n].to(mask.device)
            assert torch.count_nonzero(weights[n][fresh]) == 0 and torch.count_nonzero(momentum[n][fresh]) == 0
            assert torch.count_nonzero(weights[n][~mask]) == 0 and torch.count_nonzero(momentum[n][~mask]) == 0
        itop.append(ours["itop_rate"])
        previous = current
    assert itop == sorted(itop) and itop[-1] > itop[0]
    union = {n: torch.zeros_like(m) for n, m in masks.items()}
    for n in union:
        union[n] = masks[n].clone()
        for _, current, _, _ in recorder.rows:
            union[n] |= current[n]
    assert itop[-1] == pytest.approx(sum(int(u.sum()) for u in union.values()) / sum(u.numel() for u in union.values()))


def test_zero_fraction_training_keeps_a_constant_mask():
    masks = _ref_masks(CASES["mlp_rigl"])
    torch.manual_seed(0)
    model = RefMLP()
    updater = DSTUpdater(dst_schedule("rigl", 30, dst_interval=5, dst_fraction=0.0), masks, seed=0)
    data = TrainData(train=_data(60), val=None, test=None, name="blobs")
    train(model, masks, data, recipe="small", epochs=1, batch_size=2, seed=0, hooks=TrainHooks(mask_updater=updater))
    assert updater.updates == 4
    assert all(torch.equal(updater.masks[n], masks[n]) for n in masks)
    assert updater.itop_rate == pytest.approx(sum(int(m.sum()) for m in masks.values()) / 2720)


def test_run_api_trains_and_returns_the_final_masks():
    torch.manual_seed(0)
    model = RefMLP()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = TrainData(train=_data(60), val=_data(20, 2), test=_data(20, 1), name="blobs")
    result = sg.pruning.run(model, "rigl", density=0.2, data=data, seed=3, recipe="small",
                            train_options={"epochs": 2, "batch_size": 10}, dst_interval=3)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the caller's model untouched
    assert result.dst.updates == 3 and result.dst.method == "rigl" and result.dst.base == "erk"
    erk = sg.prune(model, "erk", density=0.2, seed=3)
    assert {n: int(m.sum()) for n, m in result.masks.items()} == {n: int(m.sum()) for n, m in erk.items()}
    assert result.dst.initial_fingerprint == erk.fingerprint() != result.masks.fingerprint()
    assert result.masks.metadata["generator"] == "rigl" and result.dst.train.epochs == 2
    for n, m in result.masks.items():
        assert torch.count_nonzero(result.weights[n][~m]) == 0
    with pytest.raises(UsageError, match="TrainData"):
        sg.pruning.run(model, "set", density=0.2, data=_data(), seed=0)
    with pytest.raises(UsageError, match="base"):
        sg.pruning.run(model, "set", density=0.2, data=data, seed=0, base="rigl", recipe="small")


def test_resume_needs_the_update_state(tmp_path):
    masks = _ref_masks(CASES["mlp_rigl"])
    data = TrainData(train=_data(60), val=None, test=None, name="blobs")
    torch.manual_seed(0)
    train(RefMLP(), masks, data, recipe="small", epochs=1, batch_size=2, seed=0, run_dir=tmp_path)
    updater = DSTUpdater(dst_schedule("rigl", 60, dst_interval=5), masks, seed=0)
    with pytest.raises(sg.errors.CheckpointError, match="mask-update state"):
        train(RefMLP(), masks, data, recipe="small", epochs=2, batch_size=2, seed=0, run_dir=tmp_path, resume=True,
              hooks=TrainHooks(mask_updater=updater))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_updates_run_on_the_training_device():
    masks = _ref_masks(CASES["mlp_rigl"])
    torch.manual_seed(0)
    model = RefMLP()
    updater = DSTUpdater(dst_schedule("rigl", 30, dst_interval=5), masks, seed=0)
    data = TrainData(train=_data(60), val=None, test=None, name="blobs")
    train(model, masks, data, recipe="small", epochs=1, batch_size=2, seed=0, device="cuda",
          hooks=TrainHooks(mask_updater=updater))
    assert all(m.device.type == "cuda" for m in updater.masks.values()) and updater.updates == 4
    assert all(int(updater.masks[n].sum()) == int(masks[n].sum()) for n in masks)
