"""Iterative rounds: schedule, nesting, no revival (spec §1.5, §8 items 7 and 15)."""

import pytest
import torch

import sparsegraph as sg
from sparsegraph.pruning import registry
from sparsegraph.pruning.counts import schedule


def test_one_round_equals_snip(h):
    model, batch = h.make_vgg(), h.image_batch()
    a = sg.prune(model, "iter-snip", density=0.1, data=batch, seed=0, rounds=1)
    b = sg.prune(model, "snip", density=0.1, data=batch, seed=0)
    assert all(torch.equal(a[n], b[n]) for n in a)


def test_default_is_100_rounds(h):
    model, batch = h.make_mlp(), h.flat_batch()
    result = sg.pruning.run(model, "iter-snip", density=0.01, data=batch, seed=0)
    assert len(result.events) == 100 and result.events[-1]["kept"] == 170


@pytest.fixture
def reviving():
    """A generator whose live scores are all negative and pruned ones 0, as GraSP's can be: without −∞
    every pruned weight would come back. It records the masks it is called with."""
    seen = []

    def score(model, ctx):
        seen.append(None if ctx.masks is None else {n: m.clone() for n, m in ctx.masks.items()})
        return {n: -(1 + torch.rand(p.shape, generator=ctx.generator, dtype=torch.float64)) * (p.detach() != 0)
                for n, p in ctx.params.items()}

    with registry.GENERATORS.sandbox():
        sg.pruning.register_generator("reviving", score, rounds=6)
        yield seen


def test_rounds_are_nested_with_the_schedule_and_nothing_revives(reviving, vgg):
    result = sg.pruning.run(vgg, "reviving", density=0.05, seed=0)
    total = sum(m.numel() for m in result.masks.values())
    counts = schedule(0.05, total, 6)
    assert [e["kept"] for e in result.events] == counts
    rounds = reviving[1:] + [dict(result.masks)]
    assert reviving[0] is None
    for r, masks in enumerate(rounds):
        assert sum(int(m.sum()) for m in masks.values()) == counts[r]
        if r:
            assert all(bool((masks[n] <= rounds[r - 1][n]).all()) for n in masks)


def test_grasp_with_a_given_mask_does_not_revive(h):
    model, batch = h.make_vgg(), h.image_batch()
    start = sg.prune(model, "random-global", density=0.5, seed=0)
    scores = sg.pruning.scores("grasp", model, batch, masks=start)
    live_positive = sum(int((scores[n][start[n]] > 0).sum()) for n in scores)
    total = sum(m.numel() for m in start.values())
    density = (live_positive + 200) / total       # more than the positive live scores: 0 would win
    result = sg.prune(model, "grasp", density=density, data=batch, seed=0, masks=start)
    assert all(bool((result[n] <= start[n]).all()) for n in result)


def test_iter_snip_masks_are_nested_across_calls(h):
    model, batch = h.make_resnet(), h.image_batch()
    m1 = sg.prune(model, "iter-snip", density=0.2, data=batch, seed=0, rounds=3)
    m2 = sg.prune(model, "iter-snip", density=0.05, data=batch, seed=0, rounds=3, masks=m1)
    assert all(bool((m2[n] <= m1[n]).all()) for n in m1)
    assert sum(int(m.sum()) for m in m2.values()) == round(0.05 * sum(m.numel() for m in m1.values()))
