"""Zoo-wide contracts: names, descriptions, input shapes, forward shapes, layer order, fx tracing."""

import pytest
import torch
import torch.fx
from torch import nn

from sparsegraph.errors import ModelSpecError, UsageError
from sparsegraph.models import create_model, default_input_shape, describe_model, list_models, model_info

ZOO = ["mlp", "lenet5", "conv6", "resnet18", "resnet34", "resnet20", "resnet32", "vgg16", "wrn28_2"]
# the variants worth checking beyond the defaults
VARIANTS = [(name, {}) for name in ZOO] + [
    ("resnet20", {"shortcut": "A"}), ("resnet32", {"shortcut": "A"}),
    ("resnet18", {"classifier_bias": False, "log_softmax": True}),
    ("vgg16", {"variant": "vgg-d"}), ("conv6", {"batch_norm": True}),
]


def _prunable_names(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _forward_call_order(model: nn.Module, x: torch.Tensor) -> list[str]:
    calls: list[str] = []
    handles = [m.register_forward_hook(lambda mod, inp, out, name=name: calls.append(name))
               for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return calls


def test_list_models_is_the_zoo_in_order():
    assert list_models() == ZOO


def test_sparsegraph_lazy_api_exposes_the_zoo():
    import sparsegraph as sg

    assert sg.list_models() == ZOO
    assert isinstance(sg.create_model("mlp"), nn.Module)


@pytest.mark.parametrize("name", ZOO)
def test_describe_model_is_one_line(name):
    text = describe_model(name)
    assert text and "\n" not in text


def test_default_input_shapes():
    for name in ZOO:
        expected = (1, 28, 28) if name in ("mlp", "lenet5") else (3, 32, 32)
        assert default_input_shape(name) == expected


@pytest.mark.parametrize("name,kw", VARIANTS, ids=lambda v: str(v))
def test_forward_shape_input_shape_and_layer_order(name, kw):
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, **kw).eval()
    assert model.input_shape == default_input_shape(name)
    x = torch.randn(2, *model.input_shape)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 7)
    # prunable layers are registered in the order the forward pass calls them, each once
    assert _forward_call_order(model, x) == _prunable_names(model)


@pytest.mark.parametrize("name,kw", VARIANTS, ids=lambda v: str(v))
def test_fx_symbolic_trace_reproduces_the_model(name, kw):
    torch.manual_seed(0)
    model = create_model(name, **kw).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, *model.input_shape)
    with torch.no_grad():
        assert torch.equal(traced(x), model(x))


@pytest.mark.parametrize("name", ["mlp", "lenet5"])
def test_digits_input_8x8(name):
    model = create_model(name, input_shape=(1, 8, 8))
    assert model.input_shape == (1, 8, 8)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_input_channels_follow_input_shape():
    model = create_model("resnet20", input_shape=(1, 28, 28))
    assert model.conv1.weight.shape == (16, 1, 3, 3)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("spelling", ["ResNet-20", "resnet_20", "RESNET20"])
def test_names_ignore_case_dashes_and_underscores(spelling):
    assert model_info(spelling).name == "resnet20"
    assert model_info("WRN-28-2").name == "wrn28_2"


def test_unknown_name_suggests_close_matches_and_lists_the_zoo():
    with pytest.raises(ModelSpecError) as info:
        create_model("resnt20")
    message = str(info.value)
    assert "'resnt20'" in message and "did you mean 'resnet20'" in message
    assert all(name in message for name in ZOO)
    assert "\n" not in message


def test_unknown_option_is_a_usage_error_naming_it():
    with pytest.raises(UsageError, match="'resnet20' has no option 'depth'.*shortcut"):
        create_model("resnet20", depth=56)


@pytest.mark.parametrize("kw,match", [
    ({"num_classes": 0}, "num_classes"),
    ({"input_shape": (3, 32)}, "input_shape"),
    ({"input_shape": (3, -1, 32)}, "input_shape"),
])
def test_invalid_common_options(kw, match):
    with pytest.raises(UsageError, match=match):
        create_model("resnet20", **kw)


@pytest.mark.parametrize("name,shape", [("lenet5", (1, 3, 3)), ("conv6", (3, 7, 7)), ("vgg16", (3, 16, 16))])
def test_too_small_inputs_are_refused(name, shape):
    with pytest.raises(UsageError, match="too small"):
        create_model(name, input_shape=shape)


def test_models_sized_from_a_huge_input_are_refused_before_allocation():
    from sparsegraph.errors import MemoryLimitError

    with pytest.raises(MemoryLimitError, match=r"building mlp for input 1x100000x100000 needs about \d+ TiB"):
        create_model("mlp", input_shape=(1, 100000, 100000))
    assert create_model("mlp", input_shape=(1, 8, 8)).input_shape == (1, 8, 8)
