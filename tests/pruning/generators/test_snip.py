"""snip (spec §2, §8 item 12)."""

import torch
from torch.func import functional_call

import sparsegraph as sg
import torch.nn.functional as F


def test_snip_equals_the_connection_sensitivity_in_float64(h):
    model = h.make_mlp().double()
    x, y = h.flat_batch()
    x = x.double()
    scores = sg.pruning.scores("snip", model, (x, y))
    names = list(scores)
    params = dict(model.named_parameters())
    gates = {n: torch.ones_like(params[n], requires_grad=True) for n in names}
    overrides = {n: params[n].detach() * gates[n] for n in names}
    loss = F.cross_entropy(functional_call(model, overrides, (x,)), y)
    grads = torch.autograd.grad(loss, [gates[n] for n in names])
    for n, g in zip(names, grads):
        torch.testing.assert_close(scores[n], g.abs(), rtol=1e-12, atol=0)


def test_gradients_are_summed_before_the_absolute_value(h):
    model = h.make_mlp().double()
    b1, b2 = h.flat_batch(seed=1), h.flat_batch(seed=2)
    b1, b2 = (b1[0].double(), b1[1]), (b2[0].double(), b2[1])
    both = sg.pruning.scores("snip", model, [b1, b2], score_batches=2)
    one = sg.pruning.scores("snip", model, b1)
    two = sg.pruning.scores("snip", model, b2)
    params = dict(model.named_parameters())
    differs = False
    for n in both:
        w = params[n].detach()
        signed = [sg.pruning.scores("snip", model, b)[n] for b in (b1, b2)]
        g1 = torch.autograd.grad(F.cross_entropy(model(b1[0]), b1[1]), params[n])[0]
        g2 = torch.autograd.grad(F.cross_entropy(model(b2[0]), b2[1]), params[n])[0]
        torch.testing.assert_close(both[n], (w * (g1 + g2)).abs(), rtol=1e-12, atol=1e-300)
        torch.testing.assert_close(signed[0], one[n])
        differs |= not torch.allclose(both[n], one[n] + two[n])
    assert differs                      # |Σ| ≠ Σ|·| in this two-batch case


def test_batch_order_changes_scores_only_within_fp_tolerance(h):
    model = h.make_vgg()
    batches = [h.image_batch(seed=s) for s in (1, 2, 3)]
    a = sg.pruning.scores("snip", model, batches, score_batches=3)
    b = sg.pruning.scores("snip", model, batches[::-1], score_batches=3)
    for n in a:
        torch.testing.assert_close(a[n], b[n], rtol=1e-5, atol=1e-9)


def test_given_mask_is_applied_in_the_forward_pass_and_pruned_entries_score_zero(h):
    model, batch = h.make_vgg(), h.image_batch()
    masks = sg.prune(model, "random-global", density=0.3, seed=0)
    scores = sg.pruning.scores("snip", model, batch, masks=masks)
    assert all(float(scores[n][~masks[n]].abs().max()) == 0 for n in scores)
    dense = sg.pruning.scores("snip", model, batch)
    assert any(not torch.allclose(scores[n][masks[n]], dense[n][masks[n]]) for n in scores)


def test_train_bn_mode_gives_other_scores(h):
    model, batch = h.make_vgg(), h.image_batch()
    eval_scores = sg.pruning.scores("snip", model, batch)
    train_scores = sg.pruning.scores("snip", model, batch, bn_mode="train")
    assert any(not torch.allclose(eval_scores[n], train_scores[n]) for n in eval_scores)
