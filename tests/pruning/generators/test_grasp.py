"""grasp (spec §2, §8 item 13)."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import sparsegraph as sg
from sparsegraph.pruning.topk import topk_mask


def small_mlp(h):
    model = h.make_mlp(seed=3, sizes=(6, 8, 5, 3)).double()     # 48 + 40 + 15 = 103 weights
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (12,), generator=g)
    return model, (x, y)


def explicit_scores(model, batch, temperature=200.0):
    """θ ⊙ (H g) with the full Hessian of the maskable weights built explicitly."""
    names = [n for n, p in model.named_parameters() if n.endswith("weight")]
    params = dict(model.named_parameters())
    shapes = [params[n].shape for n in names]
    flat = torch.cat([params[n].detach().flatten() for n in names])

    def loss(vector):
        parts = dict(zip(names, (v.view(s) for v, s in zip(vector.split([s.numel() for s in shapes]), shapes))))
        return F.cross_entropy(functional_call(model, parts, (batch[0],)) / temperature, batch[1])

    grad = torch.autograd.functional.jacobian(loss, flat)
    hessian = torch.autograd.functional.hessian(loss, flat)
    score = flat * (hessian @ grad)
    return dict(zip(names, (v.view(s) for v, s in zip(score.split([s.numel() for s in shapes]), shapes))))


def test_autograd_hg_equals_explicit_hessian_times_g(h):
    model, batch = small_mlp(h)
    assert sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight")) < 200
    scores = sg.pruning.scores("grasp", model, batch)
    expected = explicit_scores(model, batch)
    for n in scores:
        rel = (scores[n] - expected[n]).abs().max() / expected[n].abs().max()
        assert float(rel) < 1e-10


def test_kept_set_is_top_k_of_theta_hg_not_its_magnitude_nor_bottom_k(h):
    model, batch = small_mlp(h)
    scores = sg.pruning.scores("grasp", model, batch)
    flat = torch.cat([s.flatten() for s in scores.values()])
    assert bool((flat < 0).any()) and bool((flat > 0).any())
    k = 30
    masks = sg.prune(model, "grasp", density=k / flat.numel(), data=batch, seed=0)
    kept = torch.cat([m.flatten() for m in masks.values()])
    assert torch.equal(kept, topk_mask(flat, k, tie_break="index"))
    assert not torch.equal(kept, topk_mask(flat.abs(), k, tie_break="index"))
    assert not torch.equal(kept, topk_mask(-flat, k, tie_break="index"))


def test_temperature_acts_on_logits_also_for_log_softmax_models(h):
    model, batch = small_mlp(h)
    log_model = nn.Sequential(model, nn.LogSoftmax(dim=1))
    plain = sg.pruning.scores("grasp", model, batch)
    logged = sg.pruning.scores("grasp", log_model, batch)
    cold = sg.pruning.scores("grasp", log_model, batch, temperature=1.0)
    for n in plain:
        torch.testing.assert_close(logged["0." + n], plain[n], rtol=1e-9, atol=1e-300)
    a = torch.cat([s.flatten() for s in logged.values()])
    b = torch.cat([s.flatten() for s in cold.values()])
    assert not torch.allclose(a / a.norm(), b / b.norm(), rtol=1e-3)


def test_positive_loss_scale_leaves_the_mask_unchanged(h):
    model, batch = small_mlp(h)
    once = sg.prune(model, "grasp", density=0.3, data=batch, seed=0)
    # the same batch twice doubles the summed loss: g and Hg scale by 2 and 4
    twice = sg.prune(model, "grasp", density=0.3, data=[batch, batch], seed=0, score_batches=2)
    assert all(torch.equal(once[n], twice[n]) for n in once)


def test_different_second_pass_batches_change_the_scores(h):
    model = h.make_vgg()
    batches = [h.image_batch(seed=s) for s in (1, 2)]
    same = sg.pruning.scores("grasp", model, batches)
    other = sg.pruning.scores("grasp", model, batches, grasp_same_batches=False)
    assert any(not torch.allclose(same[n], other[n]) for n in same)


def test_biases_are_held_fixed(h):
    """Hg = H_ww g_w: the bias block of the Hessian does not enter."""
    model, batch = small_mlp(h)
    scores = sg.pruning.scores("grasp", model, batch)
    assert set(scores) == {"fc1.weight", "fc2.weight", "fc3.weight"}


def test_reinit_redraws_only_the_copys_linear_weights(h):
    model, batch = h.make_vgg(), h.image_batch()
    before = model.classifier.weight.detach().clone()
    plain = sg.pruning.scores("grasp", model, batch, seed=0)
    a = sg.pruning.scores("grasp", model, batch, seed=0, grasp_reinit=True)
    b = sg.pruning.scores("grasp", model, batch, seed=0, grasp_reinit=True)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert not torch.allclose(a["classifier.weight"], plain["classifier.weight"])
    assert torch.equal(model.classifier.weight, before)
