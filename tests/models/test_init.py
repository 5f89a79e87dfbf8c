"""Initialisation schemes: distributions, constants, determinism."""

import math

import pytest
import torch
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.models import create_model, init_weights


def _convs(model):
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def _bns(model):
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def test_hoang2023():
    model = create_model("conv6", batch_norm=True, init="hoang2023", seed=0)
    for conv in _convs(model):
        k = conv.kernel_size[0]
        expected = math.sqrt(2.0 / (k * k * conv.out_channels))
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert abs(conv.weight.mean().item()) < 0.1 * expected
        assert not conv.bias.any()
    for bn in _bns(model):
        assert torch.all(bn.weight == 0.5) and not bn.bias.any()
    first_linear = model.linear[0]  # 4096 x 256 weights: the sample std is within 1%
    assert first_linear.weight.std().item() == pytest.approx(0.01, rel=0.01)
    assert all(not m.bias.any() for m in model.modules() if isinstance(m, nn.Linear))


def test_kaiming_fan_out():
    model = create_model("vgg16", init="kaiming_fan_out", seed=1)
    for conv in _convs(model):
        expected = math.sqrt(2.0 / (9 * conv.out_channels))
        assert conv.weight.std().item() == pytest.approx(expected, rel=0.05)
        assert not conv.bias.any()
    for bn in _bns(model):
        assert torch.all(bn.weight == 1) and not bn.bias.any()
    # linear layers keep PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert model.fc.weight.abs().max().item() <= 1 / math.sqrt(512)


def test_default_scheme_matches_pytorch_bounds():
    model = create_model("conv6", init="default", seed=2)
    conv = model.convs1[5]  # 128 x 64 x 3 x 3
    bound = 1 / math.sqrt(64 * 9)
    assert conv.weight.abs().max().item() <= bound
    assert conv.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert conv.bias.abs().max().item() <= bound


def test_seed_is_deterministic_and_leaves_the_global_rng_alone():
    a = create_model("resnet20", init="hoang2023", seed=7)
    state = torch.get_rng_state()
    init_weights(a, "hoang2023", seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    b = create_model("resnet20", init="hoang2023", seed=7)
    c = create_model("resnet20", init="hoang2023", seed=8)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.conv1.weight, c.conv1.weight)


def test_generator_equals_seed():
    from sparsegraph.utils import make_generator

    a = create_model("mlp", seed=3)
    b = create_model("mlp", generator=make_generator(3))
    assert torch.equal(a.fc1.weight, b.fc1.weight) and torch.equal(a.fc3.bias, b.fc3.bias)


def test_batch_norm_running_statistics_are_reset():
    model = create_model("resnet20")
    model(torch.randn(4, 3, 32, 32))
    assert not torch.all(model.bn1.running_mean == 0)
    init_weights(model, "hoang2023", seed=0)
    assert torch.all(model.bn1.running_mean == 0) and torch.all(model.bn1.running_var == 1)


def test_unknown_scheme_and_conflicting_sources():
    model = create_model("mlp")
    with pytest.raises(UsageError, match="unknown init scheme 'xavier'"):
        init_weights(model, "xavier")
    with pytest.raises(UsageError, match="seed or generator"):
        init_weights(model, seed=0, generator=torch.Generator())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_seeded_init_on_cuda_matches_cpu():
    cpu = init_weights(create_model("resnet20"), "hoang2023", seed=11)
    gpu = init_weights(create_model("resnet20").cuda(), "hoang2023", seed=11)
    for key, value in cpu.state_dict().items():
        assert torch.equal(value, gpu.state_dict()[key].cpu()), key
