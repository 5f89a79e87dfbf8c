"""``sg.encode`` and ``sg.export``: a model (and masks) to graphs, in memory or streamed to a file.

Whole-network encodings plug in with one registry entry
(``GRAPH_ENCODINGS.register_lazy("mge", "sparsegraph.graphs.mge", scope="network")`` in
:mod:`sparsegraph.graphs.encodings`): a module with ``build`` (returns a
:class:`~sparsegraph.graphs.base.Graph` subclass), ``stream`` (an :class:`~sparsegraph.graphs.stream.EdgeStream`
with exact per-set counts, one set generated at a time, for the streaming writers) and ``GRAPH_CLASS``
(what ``load_graph`` returns).

:func:`layer_specs`, :func:`graph_attrs` and :func:`describe_encoding` give them the same support
rules, graph attributes and size-limit messages as the per-layer encodings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from sparsegraph.errors import MaskError, UnsupportedOpError, UsageError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Partition
from sparsegraph.graphs.encodings import GRAPH_ENCODINGS, LAYER_ENCODINGS, build_layer, check_compat, layer_size
from sparsegraph.graphs.encodings.spec import LayerSpec, as_pair
from sparsegraph.graphs.estimate import check_limit
from sparsegraph.graphs.formats import GRAPH_FORMATS, resolve_format, write_stream
from sparsegraph.graphs.layer_graphs import LayerGraphs
from sparsegraph.graphs.stream import EdgeStream
from sparsegraph.masks.maskable import maskable_parameters
from sparsegraph.topology.trace import accepts_trace_options
from sparsegraph.utils.memory import with_memory_limit

ENCODINGS = tuple(GRAPH_ENCODINGS.names())
SUPPORT_RULES = ("mask", "nonzero")


def model_name(model: nn.Module, model_spec: str | None) -> str:
    """The ``model`` graph attribute: the SPEC string, else ``module:Class``."""
    if model_spec:
        return model_spec
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_input_shape(model: nn.Module, input_shape: tuple[int, ...] | None, model_spec: str | None,
                        encoding: str) -> tuple[int, ...] | None:
    """``input_shape``, else the zoo's (``model.input_shape``, set by the zoo and torchvision loaders,
    or the zoo entry named by ``model_spec``), else None; required for unrolled and mge."""
    if input_shape is not None:
        return tuple(int(s) for s in input_shape)
    own = getattr(model, "input_shape", None)
    if own is not None:
        return tuple(int(s) for s in own)
    if model_spec is not None:
        from sparsegraph.models import default_input_shape, list_models

        if model_spec in list_models():
            return tuple(default_input_shape(model_spec))
    if encoding in ("unrolled", "mge"):
        raise UsageError(f"encoding {encoding!r} needs input_shape=(C, H, W) or (F,) "
                         "(it is known only for zoo and torchvision models)")
    return None


def _prune_mask(module: nn.Module) -> torch.Tensor | None:
    """The ``torch.nn.utils.prune`` mask of a module's weight, if any."""
    mask = getattr(module, "weight_mask", None)
    return mask if isinstance(mask, torch.Tensor) else None


def _layer_list(model: nn.Module, input_shape: tuple[int, ...] | None, topology: Any = None
                ) -> list[dict[str, Any]]:
    """Prunable layers in trace order (registration order when no input shape is known)."""
    if input_shape is not None:
        from sparsegraph.topology import trace

        topology = topology if topology is not None else trace(model, input_shape)
        layers = []
        for info in topology.layers:
            layers.append({
                "name": info.name, "param": info.param, "kind": info.kind, "groups": int(info.groups or 1),
                "stride": tuple(info.stride) if info.kind == "conv2d" else (1, 1),
                "padding": tuple(info.padding) if info.kind == "conv2d" else (0, 0),
                "dilation": tuple(info.dilation) if info.kind == "conv2d" else (1, 1),
                "input_hw": tuple(info.in_shape[-2:]) if info.kind == "conv2d" else None,
                "inputs": tuple(getattr(info, "inputs", ()) or ()),
            })
        return layers
    layers = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd) \
                and not isinstance(module, nn.Conv2d):
            raise UnsupportedOpError(type(module).__name__.lower(), name, "only Conv2d and Linear weights have "
                                     "a graph encoding; exclude the module or replace it", type(module).__name__)
        if isinstance(module, nn.Conv2d) and module.padding_mode != "zeros":
            raise UnsupportedOpError("conv2d", name, f"padding_mode={module.padding_mode!r} has no weight-graph "
                                     "meaning (only zero padding is supported)", type(module).__name__)
        if isinstance(module, nn.Conv2d):
            if isinstance(module.padding, str):
                raise UnsupportedOpError("conv2d", name, f"padding={module.padding!r} needs input_shape= "
                                         "to be resolved", type(module).__name__)
            layers.append({"name": name, "param": f"{name}.weight" if name else "weight", "kind": "conv2d",
                           "groups": module.groups, "stride": as_pair(module.stride, "stride"),
                           "padding": as_pair(module.padding, "padding"),
                           "dilation": as_pair(module.dilation, "dilation"), "input_hw": None, "inputs": ()})
        elif isinstance(module, nn.Linear):
            layers.append({"name": name, "param": f"{name}.weight" if name else "weight", "kind": "linear",
                           "groups": 1, "stride": (1, 1), "padding": (0, 0), "dilation": (1, 1),
                           "input_hw": None, "inputs": ()})
    return layers


def _is_projection_shortcut(layer: dict[str, Any], earlier: list[dict[str, Any]], kernel: tuple[int, ...]) -> bool:
    """A 1×1, padding-0 conv reading the same tensor as an earlier layer (the block's first conv)."""
    if layer["kind"] != "conv2d" or tuple(kernel) != (1, 1) or layer["padding"] != (0, 0) or not layer["inputs"]:
        return False
    return any(e["inputs"] == layer["inputs"] for e in earlier)


def layer_specs(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, input_shape: tuple[int, ...] | None,
                support: str | None = None, topology: Any = None) -> tuple[list[LayerSpec], str, list[str]]:
    """Every prunable layer as a :class:`LayerSpec` (CPU float32 numpy copies).

    ``topology`` (a :class:`~sparsegraph.topology.Topology` of ``input_shape``) saves a second trace.

    Returns:
        ``(specs, support rule, unmasked layer names)``.
    """
    use_prune_buffers = masks is None and any(_prune_mask(m) is not None for m in model.modules())
    known_masks = masks is not None or use_prune_buffers
    rule = support or ("mask" if known_masks else "nonzero")
    if rule not in SUPPORT_RULES:
        raise UsageError(f"support must be one of {SUPPORT_RULES}, got {support!r}")
    specs, unmasked = [], []
    layers = _layer_list(model, input_shape, topology)
    for i, layer in enumerate(layers):
        module = model.get_submodule(layer["name"])
        weight = module.weight.detach().to("cpu", torch.float32).numpy().copy()
        mask = masks.get(layer["param"]) if masks is not None else _prune_mask(module)
        if mask is None:
            kept = np.ones(weight.shape, dtype=bool)
            unmasked.append(layer["name"])
        else:
            kept = mask.detach().to("cpu").numpy().astype(bool) if isinstance(mask, torch.Tensor) \
                else np.asarray(mask).astype(bool)
            if kept.shape != weight.shape:
                raise MaskError(f"mask for {layer['param']!r} has shape {tuple(kept.shape)}, "
                                f"the weight has {tuple(weight.shape)}")
        if rule == "nonzero":
            kept = kept & (weight != 0)
        shortcut = _is_projection_shortcut(layer, layers[:i], weight.shape[2:])
        specs.append(LayerSpec(layer["name"], kept, weight, layer["groups"], layer["stride"], layer["padding"],
                               layer["dilation"], layer["input_hw"], shortcut))
    if masks is not None:
        # layers the trace lists as unused (inside leaf modules, never called) have masks but no graph
        params = {layer["param"] for layer in layers} | set(maskable_parameters(model))
        stray = sorted(set(masks) - params)
        if stray:
            raise MaskError(f"masks name parameters that are not prunable layer weights of the model: "
                            + ", ".join(stray[:5]) + (" ..." if len(stray) > 5 else ""))
    return specs, rule, unmasked


def graph_attrs(model: nn.Module, masks: Any, encoding: str, input_shape: tuple[int, ...] | None,
                compat: str | None, rule: str, unmasked: list[str], model_spec: str | None) -> dict[str, Any]:
    """The graph attributes of graphs.md §3 that depend on the request (the tables come later)."""
    fingerprint = masks.fingerprint() if hasattr(masks, "fingerprint") else None
    return {"encoding": encoding, "compat": compat, "model": model_name(model, model_spec),
            "mask_fingerprint": fingerprint, "input_shape": None if input_shape is None else list(input_shape),
            "support": rule, "weighted": True, "unmasked_layers": unmasked}


def describe_encoding(encoding: str, model: nn.Module, model_spec: str | None,
                      input_shape: tuple[int, ...] | None) -> str:
    """``encoding 'unrolled' of resnet20 (3x32x32)``: how size-limit errors name the request."""
    shape = "" if input_shape is None else " (" + "x".join(str(s) for s in input_shape) + ")"
    return f"encoding '{encoding}' of {model_name(model, model_spec)}{shape}"


def check_encoding(encoding: str | None, compat: str | None) -> None:
    """Refuse an unknown (or missing) encoding or compat mode before any work (UsageError)."""
    if encoding is None:
        raise UsageError("encoding is required: one of " + ", ".join(ENCODINGS))
    if encoding not in ENCODINGS:
        raise UsageError(f"unknown encoding {encoding!r}; expected one of: " + ", ".join(ENCODINGS))
    check_compat(compat)


@accepts_trace_options
@with_memory_limit
def encode(model: nn.Module, masks: Mapping[str, torch.Tensor] | None = None, encoding: str | None = None,
           input_shape: tuple[int, ...] | None = None, compat: str | None = None, *, support: str | None = None,
           max_bytes: int | str | None = None, model_spec: str | None = None):
    """Encode a model's prunable layers as graphs (graphs.md §2).

    Args:
        model: the network (never modified).
        masks: parameter name -> bool tensor (a :class:`sparsegraph.MaskSet` or any mapping); None uses
            ``torch.nn.utils.prune`` buffers if present, else the nonzero weights.
        encoding: ``rolled``, ``rolled-channel`` or ``unrolled`` (required).
        input_shape: per-sample input shape, (C,H,W) or (F,); required for ``unrolled`` unless the
            model is a zoo CIFAR model.
        compat: None, or ``"mge2024"`` for the published code's per-layer graphs.
        support: ``"mask"`` (every kept weight is an edge; default with masks) or ``"nonzero"``.
        max_bytes: memory limit (default ``SPARSEGRAPH_MAX_BYTES`` or 4 GiB), checked before the
            trace and before any edge array is allocated.
        model_spec: the SPEC string stored as the ``model`` attribute.
        leaf_modules, input_dtype: for the trace (see :func:`sparsegraph.trace`), e.g.
            ``leaf_modules=[SqueezeExcite]``; ``input_dtype=torch.int64`` for token inputs.

    Returns:
        :class:`LayerGraphs` for the per-layer encodings.

    Example:
        >>> import torch, sparsegraph as sg
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        >>> graphs = sg.encode(net, encoding="rolled")
        >>> list(graphs), graphs.num_edges
        (['0', '2'], 18)
    """
    check_encoding(encoding, compat)
    input_shape = resolve_input_shape(model, input_shape, model_spec, encoding)
    if encoding not in LAYER_ENCODINGS:
        return GRAPH_ENCODINGS.get(encoding).build(model, masks, input_shape=input_shape, compat=compat, support=support,
                                          max_bytes=max_bytes, model_spec=model_spec)
    specs, rule, unmasked = layer_specs(model, masks, input_shape, support)
    sizes = [layer_size(spec, encoding, compat) for spec in specs]
    check_limit(sum(n for n, _ in sizes), sum(e for _, e in sizes), "arrays", max_bytes,
                describe_encoding(encoding, model, model_spec, input_shape))
    attrs = graph_attrs(model, masks, encoding, input_shape, compat, rule, unmasked, model_spec)
    graphs = {}
    for spec in specs:
        graph = build_layer(spec, encoding, compat)
        graph.attrs.update({k: v for k, v in attrs.items() if k != "encoding"})
        graphs[spec.name] = graph
    return LayerGraphs(graphs, attrs)


def layer_stream(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, encoding: str,
                 input_shape: tuple[int, ...] | None, compat: str | None, support: str | None,
                 model_spec: str | None) -> EdgeStream:
    """The disjoint union of the layer graphs as an :class:`EdgeStream` (one layer built at a time)."""
    specs, rule, unmasked = layer_specs(model, masks, input_shape, support)
    attrs = graph_attrs(model, masks, encoding, input_shape, compat, rule, unmasked, model_spec)
    partitions: list[Partition] = []
    edge_sets: list[EdgeSet] = []
    offsets: list[int] = []
    offset = 0
    for i, spec in enumerate(specs):
        # the tables come from a build of an empty-support twin: same partitions, no edges
        skeleton = build_layer(LayerSpec(spec.name, np.zeros_like(spec.support), None, spec.groups, spec.stride,
                                         spec.padding, spec.dilation, spec.input_hw, spec.shortcut),
                               encoding, compat)
        for k, p in enumerate(skeleton.partitions):
            partitions.append(Partition(2 * i + k, p.name, p.kind, p.layer, offset + p.offset, p.size, p.shape,
                                        p.coords, p.pad))
        _, num_edges = layer_size(spec, encoding, compat)
        edge_sets.append(EdgeSet(i, spec.name, skeleton.edge_sets[0].kind, (2 * i,), (2 * i + 1,), num_edges))
        offsets.append(offset)
        offset += skeleton.num_nodes

    def generate(i: int) -> EdgeArrays:
        a = build_layer(specs[i], encoding, compat).arrays
        return EdgeArrays(a.src + offsets[i], a.dst + offsets[i], a.weight, a.signed_weight,
                          np.full(len(a), i, dtype=np.int32))

    return EdgeStream(partitions, edge_sets, attrs, generate)




@accepts_trace_options
@with_memory_limit
def export(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, path: str | os.PathLike, format: str | None = None,
           encoding: str | None = None, input_shape: tuple[int, ...] | None = None, compat: str | None = None,
           max_bytes: int | str | None = None, *, support: str | None = None, model_spec: str | None = None,
           notify: Callable[[str], None] | None = None, progress: bool = False, **options: Any) -> None:
    """Encode a model and write it to ``path`` (graphs.md §5–6).

    edgelist, npz, mtx and graphml are streamed edge set by edge set (peak memory O(N + largest set));
    ``pyg`` builds the graph in memory. Options as for :meth:`Graph.save`; ``leaf_modules`` and
    ``input_dtype`` as for :func:`encode`. Before anything is written,
    the memory estimate is checked against ``max_bytes`` and the file-size estimate (told to
    ``notify`` as one line, e.g. ``print``) against the free disk space. ``progress``: report the edge
    sets written on stderr.

    Raises:
        GraphTooLargeError: the graph needs more memory than ``max_bytes``.
        OutputError: ``path`` cannot be written, or the file needs more space than is free.
    """
    check_encoding(encoding, compat)
    fmt = resolve_format(path, format)
    if not GRAPH_FORMATS.info(fmt)["streams"]:
        graph = encode(model, masks, encoding, input_shape, compat, support=support, max_bytes=max_bytes,
                       model_spec=model_spec)
        graph.save(path, fmt, notify=notify, **options)
        return
    input_shape = resolve_input_shape(model, input_shape, model_spec, encoding)
    if encoding in LAYER_ENCODINGS:
        stream = layer_stream(model, masks, encoding, input_shape, compat, support, model_spec)
    else:
        stream = GRAPH_ENCODINGS.get(encoding).stream(model, masks, encoding, input_shape, compat, support,
                                                      model_spec)
    check_limit(stream.num_nodes, stream.largest_set, "stream", max_bytes,
                describe_encoding(encoding, model, model_spec, input_shape))
    stream.progress = progress
    write_stream(stream, path, fmt, notify, **options)
