"""The operation table of graphs.md §1: which modules, functions, methods and grad_fns mean what.

Roles: ``layer`` (prunable modules), ``transparent`` (elements keep their nodes), index operations
(reshape, slice, cat, split, pad), pooling, and ``add``. Anything not listed here is unsupported.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

PRUNABLE = (nn.Conv2d, nn.Linear)

TRANSPARENT_MODULES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold, nn.LogSigmoid,
    # softmax heads normalise like LayerNorm does: no weights, the element keeps its node
    nn.Softmax, nn.LogSoftmax, nn.Softmin,
    nn.modules.dropout._DropoutNd, nn.Identity,
)
POOL_MODULES = {nn.MaxPool2d: "max", nn.AvgPool2d: "avg"}
ADAPTIVE_MODULES = {nn.AdaptiveAvgPool2d: "avg", nn.AdaptiveMaxPool2d: "max"}
RESHAPE_MODULES = (nn.Flatten, nn.Unflatten)
PAD_MODULES = (nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)

UNSUPPORTED_MODULES: dict[type[nn.Module], str] = {
    nn.Conv1d: "only 2-D convolutions are encoded",
    nn.Conv3d: "only 2-D convolutions are encoded",
    nn.modules.conv._ConvTransposeNd: "transposed convolutions are not supported",
    nn.Embedding: "an embedding lookup has no input-to-weight edges",
    nn.EmbeddingBag: "an embedding lookup has no input-to-weight edges",
    nn.MultiheadAttention: "attention multiplies input-dependent tensors, which has no weight-graph meaning",
    nn.Transformer: "attention multiplies input-dependent tensors, which has no weight-graph meaning",
    nn.TransformerEncoderLayer: "attention multiplies input-dependent tensors, which has no weight-graph "
                                "meaning",
    nn.TransformerDecoderLayer: "attention multiplies input-dependent tensors, which has no weight-graph "
                                "meaning",
    nn.modules.rnn.RNNBase: "recurrent layers are not supported",
    nn.Bilinear: "a bilinear layer multiplies input-dependent tensors",
    nn.Upsample: "interpolation (upsampling) has no weight-graph encoding",
}


def unsupported_module_reason(module: nn.Module) -> str | None:
    """The reason why ``module``'s class is explicitly unsupported, or ``None``."""
    for cls, reason in UNSUPPORTED_MODULES.items():
        if isinstance(module, cls):
            return reason
    return None


def _functions(*names: str) -> set[Any]:
    """Functions of ``torch``/``torch.nn.functional`` by dotted name, skipping ones this torch lacks."""
    found = set()
    for name in names:
        owner, _, attr = name.rpartition(".")
        obj = {"torch": torch, "F": F, "operator": operator}[owner]
        if hasattr(obj, attr):
            found.add(getattr(obj, attr))
    return found


_ACTIVATIONS = ("relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu", "gelu",
                "silu", "mish", "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "sigmoid", "tanh",
                "softplus", "softsign", "logsigmoid", "prelu", "rrelu", "threshold", "softmax", "log_softmax",
                "softmin", "tanhshrink", "softshrink", "hardshrink")
TRANSPARENT_FUNCTIONS = _functions(
    *(f"F.{a}" for a in _ACTIVATIONS),
    "F.dropout", "F.dropout1d", "F.dropout2d", "F.dropout3d", "F.alpha_dropout", "F.feature_alpha_dropout",
    "F.batch_norm", "F.layer_norm", "F.group_norm", "F.instance_norm",
    "torch.relu", "torch.relu_", "torch.sigmoid", "torch.tanh", "torch.clamp", "torch.clip", "torch.dropout",
    "torch.batch_norm", "torch.layer_norm", "torch.softmax", "torch.log_softmax", "torch.neg",
    "operator.neg", "operator.pos",
)
TRANSPARENT_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "clamp", "clamp_", "clip", "clip_", "neg",
    "contiguous", "clone", "to", "float", "double", "half", "bfloat16", "type", "type_as", "detach", "cpu",
    "cuda", "softmax", "log_softmax",
}
# Binary arithmetic: with a constant operand it is transparent; with two input-dependent operands
# only addition is supported.
ADD_FUNCTIONS = _functions("operator.add", "operator.iadd", "torch.add")
ADD_METHODS = {"add", "add_"}
ARITH_FUNCTIONS = ADD_FUNCTIONS | _functions(
    "operator.sub", "operator.isub", "torch.sub", "operator.mul", "operator.imul", "torch.mul",
    "operator.truediv", "operator.itruediv", "torch.div")
ARITH_METHODS = ADD_METHODS | {"sub", "sub_", "mul", "mul_", "div", "div_"}

RESHAPE_FUNCTIONS = _functions("torch.flatten", "torch.reshape", "torch.squeeze", "torch.unsqueeze",
                               "torch.unflatten")
RESHAPE_METHODS = {"flatten", "view", "reshape", "squeeze", "squeeze_", "unsqueeze", "unsqueeze_", "view_as",
                   "reshape_as", "unflatten"}
PERMUTE_FUNCTIONS = _functions("torch.permute", "torch.transpose", "torch.swapaxes", "torch.swapdims",
                               "torch.movedim", "torch.t")
PERMUTE_METHODS = {"permute", "transpose", "transpose_", "swapaxes", "swapdims", "movedim", "t"}
POOL_FUNCTIONS = {F.max_pool2d: "max", F.avg_pool2d: "avg"}
ADAPTIVE_FUNCTIONS = {F.adaptive_avg_pool2d: "avg", F.adaptive_max_pool2d: "max"}
REDUCE_FUNCTIONS = {torch.mean: "avg", torch.sum: "sum", torch.amax: "max"}
REDUCE_METHODS = {"mean": "avg", "sum": "sum", "amax": "max"}
CAT_FUNCTIONS = _functions("torch.cat", "torch.concat", "torch.concatenate")
SPLIT_FUNCTIONS = _functions("torch.chunk", "torch.split")
SPLIT_METHODS = {"chunk", "split"}
NARROW_FUNCTIONS = _functions("torch.narrow")
NARROW_METHODS = {"narrow"}
PAD_FUNCTIONS = _functions("F.pad")
ATTENTION_REASON = "attention multiplies input-dependent tensors, which has no weight-graph meaning"
# attention ops, refused before anything else is classified: whatever else a transformer does (a class
# token concatenated, say), attention is what no weight graph can represent
ATTENTION_FUNCTIONS = _functions("F.scaled_dot_product_attention", "F.multi_head_attention_forward")
PRODUCT_FUNCTIONS = _functions("operator.matmul", "torch.matmul", "torch.bmm", "torch.baddbmm")
PRODUCT_METHODS = {"matmul", "bmm", "baddbmm"}
SPECIFIC_REASONS = {
    **{f: "interpolation (upsampling) has no weight-graph encoding"
       for f in _functions("F.interpolate", "F.upsample", "F.upsample_nearest", "F.upsample_bilinear")},
    **{f: "a functional convolution or linear map is not a module, so its weight has no name; use "
          "nn.Conv2d / nn.Linear" for f in _functions("F.conv1d", "F.conv2d", "F.conv3d", "F.linear")},
    **{f: "attention multiplies input-dependent tensors, which has no weight-graph meaning"
       for f in _functions("F.scaled_dot_product_attention", "F.multi_head_attention_forward")},
    **{f: "an embedding lookup has no input-to-weight edges" for f in _functions("F.embedding")},
}

# ------------------------------------------------------------------ autograd (hooks tracer)
GRAD_TRANSPARENT = {
    "Relu", "Hardtanh", "LeakyRelu", "Elu", "Gelu", "Silu", "Mish", "Sigmoid", "Tanh", "Hardswish",
    "Hardsigmoid", "Softplus", "Softshrink", "Hardshrink", "Threshold", "LogSigmoid", "Prelu", "PreluKernel",
    "RreluWithNoise", "LogSoftmax", "Softmax", "NativeBatchNorm", "CudnnBatchNorm", "MiopenBatchNorm",
    "NativeLayerNorm", "NativeGroupNorm", "Clone", "ToCopy", "Alias", "Neg", "Clamp", "ClampMin", "ClampMax",
    "Detach",
}
GRAD_ARITH = {"Add", "Sub", "Mul", "Div"}
GRAD_RESHAPE = {"View", "Reshape", "ReshapeAlias", "UnsafeView", "Squeeze", "Unsqueeze", "SqueezeDim",
                "SqueezeDims"}
GRAD_PERMUTE = {"Permute", "Transpose", "T"}


def grad_fn_base(fn: Any) -> str:
    """``MaxPool2DWithIndicesBackward0`` -> ``MaxPool2DWithIndices``."""
    name = type(fn).__name__
    cut = name.rfind("Backward")
    return name[:cut] if cut > 0 else name


def conv_geometry(conv: nn.Conv2d) -> dict[str, tuple[int, int]] | str:
    """The (h, w) kernel, stride, padding and dilation of ``conv``, or the reason it is unsupported."""
    if conv.padding_mode != "zeros":
        return (f"padding_mode={conv.padding_mode!r}: padded elements would copy real pixels; only zero padding "
                "is supported")
    kernel = tuple(conv.kernel_size)
    dilation = tuple(conv.dilation)
    if conv.padding == "valid":
        padding = (0, 0)
    elif conv.padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(t % 2 for t in totals):
            return (f"padding='same' with kernel {kernel} and dilation {dilation} pads asymmetrically, which "
                    "nn.Conv2d does with an extra F.pad; use an odd kernel or explicit padding")
        padding = (totals[0] // 2, totals[1] // 2)
    else:
        padding = tuple(conv.padding)
    return {"kernel_size": kernel, "stride": tuple(conv.stride), "padding": padding, "dilation": dilation}


def bind(args: tuple, kwargs: dict, names: tuple[str, ...], defaults: dict[str, Any]) -> dict[str, Any]:
    """Positional and keyword arguments of a call, by parameter name, with defaults filled in."""
    bound = dict(defaults)
    bound.update(zip(names, args))
    bound.update(kwargs)
    return bound
