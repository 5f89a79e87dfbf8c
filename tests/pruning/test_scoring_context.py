"""Scoring copies and restores (spec §1.7)."""

import random

import numpy as np
import torch

from sparsegraph.pruning.scoring_context import preserved_global_rng, scoring_model


def test_global_rng_states_are_restored():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    with preserved_global_rng():
        torch.rand(10), np.random.rand(10), random.random()
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_copy_false_restores_dtype_values_buffers_grads_and_modes(h):
    model = h.make_resnet()
    model(h.image_batch()[0]).sum().backward()
    model.eval()
    before = h.snapshot(model)
    with scoring_model(model, copy=False) as scoring:
        assert scoring is model and all(p.grad is None for p in model.parameters())
        model.double().train()
        with torch.no_grad():
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.abs_()
        model(torch.ones(2, 3, 8, 8, dtype=torch.float64))
    h.assert_same_snapshot(before, h.snapshot(model))


def test_the_copy_starts_without_gradients_and_outside_autocast(h):
    model = h.make_mlp()
    model(h.flat_batch()[0]).sum().backward()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with scoring_model(model) as scoring:
            assert scoring is not model
            assert all(p.grad is None for p in scoring.parameters())
            assert scoring(h.flat_batch()[0]).dtype == torch.float32
    assert all(p.grad is not None for p in model.parameters())
