"""The topology of a bare ``nn.Conv2d`` / ``nn.Linear``: one layer, its output shape computed on meta tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sparsegraph.errors import UsageError
from sparsegraph.topology.builder import DagBuilder
from sparsegraph.topology.topology import Topology


def trace_single_layer(layer: nn.Conv2d | nn.Linear, input_shape: tuple[int, ...]) -> Topology:
    """``input -> layer -> output`` for ``layer`` as the root module (layer name ``""``, param ``weight``).

    Raises:
        UsageError: ``input_shape`` does not fit the layer (channels, features or spatial size).
        UnsupportedOpError: a convolution the encodings do not support (as for a traced one).
    """
    cls = type(layer).__name__
    meta_input = torch.empty((1, *input_shape), device="meta")
    meta_weight = torch.empty(layer.weight.shape, device="meta")
    try:
        if isinstance(layer, nn.Conv2d):
            out = F.conv2d(meta_input, meta_weight, None, layer.stride, layer.padding, layer.dilation, layer.groups)
        else:
            if len(input_shape) != 1:
                raise UsageError(f"a bare Linear takes input_shape=(in_features,), got {input_shape}")
            out = F.linear(meta_input, meta_weight)
    except RuntimeError as exc:
        raise UsageError(f"input_shape {input_shape} does not fit the bare {cls} {layer.weight.shape}: "
                         f"{str(exc).splitlines()[0]}") from None
    builder = DagBuilder(layer, input_shape)
    source = builder.add_input("placeholder")
    node = builder.add_layer("", cls, source, meta_input.shape, out.shape, (0,))
    builder.add_output("output", [node])
    return builder.finalize("layer", set())
