"""Every unsupported construct raises UnsupportedOpError naming op, module and class, with both tracers."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg
from sparsegraph.errors import BadInputError, TraceError, UnsupportedOpError

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")


class SE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.fc = nn.Linear(c, c)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(x.mean((2, 3))))[:, :, None, None]


class Wrap(nn.Module):
    """conv -> <body> -> global pool -> fc, with ``body`` under the name ``body``."""

    def __init__(self, body, cin=3, c=4):
        super().__init__()
        self.conv = nn.Conv2d(cin, c, 3, padding=1)
        self.body = body

    def forward(self, x):
        return self.body(self.conv(x))


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


class Broadcast(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 1)
        self.b = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        return self.a(x) + self.b(x)


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Seq1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 4, 3)

    def forward(self, x):
        return self.conv(x.flatten(2))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 1)

    def forward(self, x):
        seq = x.flatten(2).permute(2, 0, 1)
        return self.attn(seq, seq, seq)[0]


class LinearOn3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(x)


CASES = {
    # name: (model, input shape, op, module, class, reason fragment)
    "product": (lambda: Wrap(SE(4)), (3, 5, 5), "mul", "body", "SE", "product of two input-dependent"),
    "called twice": (Twice, (3, 5, 5), "Conv2d", "conv", "Conv2d", "called more than once"),
    "broadcasting add": (Broadcast, (3, 5, 5), "add", "", "Broadcast", "broadcasting add"),
    "interpolate": (lambda: Wrap(Fn(lambda x: F.interpolate(x, scale_factor=2.0))), (3, 4, 4),
                    "interpolate", "body", "Fn", "interpolation"),
    "conv1d": (Seq1d, (3, 4, 4), "Conv1d", "conv", "Conv1d", "only 2-D convolutions"),
    "conv transpose": (lambda: Wrap(nn.ConvTranspose2d(4, 2, 2)), (3, 4, 4), "ConvTranspose2d", "body",
                       "ConvTranspose2d", "transposed"),
    "attention": (Attention, (4, 2, 2), "MultiheadAttention", "attn", "MultiheadAttention", "attention"),
    "reflect padding": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")), (3, 5, 5),
                        "Conv2d", "0", "Conv2d", "padding_mode='reflect'"),
    "asymmetric same": (lambda: nn.Sequential(nn.Conv2d(3, 4, 4, padding="same")), (3, 5, 5), "Conv2d", "0",
                        "Conv2d", "asymmetrically"),
    "linear on 3-D": (LinearOn3d, (3, 4), "Linear", "fc", "Linear", "only 2-D (N, F) input"),
    "partial reduction": (lambda: Wrap(Fn(lambda x: x.mean(3))), (3, 4, 4), "mean", "body", "Fn",
                          "reduction over dims [3]"),
    "unknown op": (lambda: Wrap(Fn(lambda x: x.flip(2))), (3, 4, 4), "flip", "body", "Fn", "no rule"),
    "subtraction": (lambda: Wrap(Fn(lambda x: x - x.relu())), (3, 4, 4), "sub", "body", "Fn",
                    "difference of two input-dependent"),
    "cropping pad": (lambda: Wrap(Fn(lambda x: F.pad(x, (-1, -1)))), (3, 4, 4), "pad", "body", "Fn",
                     "negative padding"),
}
HOOKS_OPS = {"product": "MulBackward0", "broadcasting add": "AddBackward0", "interpolate": "UpsampleNearest2DBackward0",
             "partial reduction": "MeanBackward1", "unknown op": "FlipBackward0", "subtraction": "SubBackward0",
             "cropping pad": "ConstantPadNdBackward0"}


@pytest.mark.parametrize("tracer", ["fx", "hooks"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_constructs(case, tracer):
    make, shape, op, module, cls, reason = CASES[case]
    if tracer == "hooks":
        op = HOOKS_OPS.get(case, op)
    with pytest.raises(UnsupportedOpError) as info:
        sg.trace(make(), shape, tracer=tracer)
    err = info.value
    assert (err.op, err.module, err.module_class) == (op, module, cls)
    assert f"cannot encode '{op}'" in str(err) and f"in module '{module}' ({cls})" in str(err)
    assert reason in str(err)
    assert isinstance(err, BadInputError)  # CLI exit code 3


def test_message_says_how_to_proceed():
    with pytest.raises(UnsupportedOpError) as info:
        sg.trace(Wrap(SE(4)), (3, 5, 5))
    assert str(info.value) == (
        "cannot encode 'mul' (operator.mul) in module 'body' (SE): product of two input-dependent tensors has no "
        "weight-graph meaning; mark the module as a leaf (sg.trace(..., leaf_modules=[<its class>])) or exclude "
        "it from the model")


def test_embedding_is_rejected():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x + self.emb(torch.zeros(1, dtype=torch.long)))

    for tracer in ("fx", "hooks"):
        with pytest.raises(UnsupportedOpError, match="'Embedding' in module 'emb' \\(Embedding\\)"):
            sg.trace(Net(), (4,), tracer=tracer)


def test_both_tracers_fail_gives_trace_error():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            if y.sum() > 1e9:  # fx cannot trace this
                y = y * 2
            return y * y

    with pytest.raises(TraceError) as info:
        sg.trace(Net(), (3, 4, 4))
    fx_error, hooks_error = info.value.causes
    assert "control flow" in str(fx_error)
    assert isinstance(hooks_error, UnsupportedOpError) and hooks_error.op == "MulBackward0"
    assert "torch.fx failed" in str(info.value) and "cannot encode 'MulBackward0' in module ''" in str(info.value)


def test_fx_unsupported_error_is_not_masked_by_fallback():
    # a definite UnsupportedOpError from fx is raised as is, not retried with hooks
    with pytest.raises(UnsupportedOpError) as info:
        sg.trace(Wrap(SE(4)), (3, 5, 5), tracer="auto")
    assert info.value.op == "mul"


def test_squeeze_dropping_the_batch_dimension():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), Fn(lambda x: x.squeeze()), nn.Linear(4, 2))
    for tracer in ("fx", "hooks"):
        with pytest.raises(UnsupportedOpError, match="no longer keeps the batch dimension first") as info:
            sg.trace(net, (3, 5, 5), tracer=tracer)
        assert info.value.module == "2"


def test_wrong_input_shape_gives_trace_error_with_both_causes():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with pytest.raises(TraceError, match=r"could not trace Sequential on input \(3, 6, 6\)") as info:
        sg.trace(net, (3, 6, 6))
    assert len(info.value.causes) == 2 and all(isinstance(c, RuntimeError) for c in info.value.causes)
    assert sg.trace(net, (3, 8, 8)).layer("2").in_shape == (144,)
