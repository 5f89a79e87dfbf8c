"""CIFAR ResNets: parameter counts, shortcut options, classifier variants."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.models import create_model
from sparsegraph.models.resnet_cifar import ChannelPadShortcut


def _counts(model: nn.Module) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    return total, weights


@pytest.mark.parametrize("name,kw,expected", [
    # the spec's numbers for the CIFAR ResNet-18/34 with 10 classes
    ("resnet18", {}, (11_173_962, 11_164_352)),
    ("resnet34", {}, (21_282_122, 21_265_088)),
    # He et al.'s 0.27M / 0.46M for option A; option B adds 1x1 projections 16->32 and 32->64 (+ BN)
    ("resnet20", {"shortcut": "A"}, (269_722, 268_336)),
    ("resnet20", {}, (269_722 + 512 + 64 + 2048 + 128, 268_336 + 512 + 2048)),
    ("resnet32", {"shortcut": "A"}, (464_154, 461_872)),
    ("resnet32", {}, (464_154 + 2752, 461_872 + 2560)),
])
def test_parameter_counts(name, kw, expected):
    assert _counts(create_model(name, **kw)) == expected


def test_classifier_without_bias_drops_ten_parameters():
    model = create_model("resnet18", classifier_bias=False)
    assert model.classifier.bias is None
    assert _counts(model) == (11_173_962 - 10, 11_164_352)


def test_log_softmax_head():
    torch.manual_seed(0)
    plain = create_model("resnet18").eval()
    head = create_model("resnet18", log_softmax=True).eval()
    head.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(head(x), F.log_softmax(plain(x), dim=1))
        assert torch.allclose(head(x).exp().sum(dim=1), torch.ones(2))


def test_reference_module_names():
    keys = create_model("resnet20").state_dict().keys()
    assert {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.shortcut.0.weight",
            "layer2.0.shortcut.1.weight", "linear.weight", "linear.bias"} <= set(keys)
    assert "classifier.weight" in create_model("resnet18").state_dict()


def test_shortcut_b_projects_where_the_shape_changes():
    model = create_model("resnet20")
    projections = [name for name, m in model.named_modules()
                   if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert projections == ["layer2.0.shortcut.0", "layer3.0.shortcut.0"]
    conv = model.layer2[0].shortcut[0]
    assert (conv.in_channels, conv.out_channels, conv.stride, conv.bias) == (16, 32, (2, 2), None)
    assert isinstance(model.layer2[0].shortcut[1], nn.BatchNorm2d)
    # identity elsewhere
    assert len(model.layer1[0].shortcut) == 0 and len(model.layer2[1].shortcut) == 0


def test_shortcut_a_has_no_parameters_and_pads_channels():
    model = create_model("resnet20", shortcut="A")
    assert not any(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in model.modules())
    shortcut = model.layer2[0].shortcut
    assert isinstance(shortcut, ChannelPadShortcut)
    x = torch.randn(2, 16, 32, 32)
    out = shortcut(x)
    assert out.shape == (2, 32, 16, 16)
    # channels 8..23 hold the subsampled input, the 8 channels on each side are zero
    assert torch.equal(out[:, 8:24], x[:, :, ::2, ::2])
    assert not out[:, :8].any() and not out[:, 24:].any()
    assert isinstance(model.layer3[0].shortcut, ChannelPadShortcut)


def test_block_counts_and_strides():
    model = create_model("resnet34")
    assert [len(getattr(model, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    assert [getattr(model, f"layer{i}")[0].conv1.stride for i in range(1, 5)] == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert not any(isinstance(m, nn.MaxPool2d) for m in model.modules())
    assert [len(getattr(create_model("resnet32"), f"layer{i}")) for i in (1, 2, 3)] == [5, 5, 5]


def test_bad_shortcut_is_refused():
    with pytest.raises(UsageError, match="shortcut must be 'A' or 'B'"):
        create_model("resnet20", shortcut="C")
