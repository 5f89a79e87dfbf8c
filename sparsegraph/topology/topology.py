"""The result of :func:`sparsegraph.trace`: prunable layers plus the collapsed dataflow DAG.

Shapes are per sample (the batch dimension is left out). Dimension parameters of ``cat`` and
``slice`` nodes are given twice: ``dim`` counts the batch dimension (as written in the model,
``torch.cat(..., 1)`` has ``dim=1``) and ``sample_dim`` indexes ``out_shape`` (``0`` for channels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sparsegraph.errors import UnknownNameError

# Node kinds of the collapsed DAG (graphs.md §1).
NODE_KINDS = (
    "input", "layer", "add", "cat", "pool", "adaptive_pool", "global_pool",
    "reshape", "slice", "pad", "output",
)


@dataclass(frozen=True)
class LayerInfo:
    """One prunable layer (``nn.Conv2d`` or ``nn.Linear``) as traced.

    Conv layers fill ``in_channels``/``out_channels`` and the (h, w) geometry pairs, with
    ``'same'``/``'valid'`` padding resolved to ints; linear layers fill ``in_features``/``out_features``
    and leave the geometry ``None``.

    Attributes:
        name: module FQN, e.g. ``layer1.0.conv1``.
        param: parameter FQN of the weight, e.g. ``layer1.0.conv1.weight``.
        kind: ``"conv2d"`` or ``"linear"``.
        weight_shape: the stored weight shape, e.g. (Cout, Cin/groups, kh, kw).
        groups: conv groups (1 for linear layers).
        in_shape, out_shape: per-sample shapes measured in the trace.
        inputs: ids of the DAG nodes that feed the layer.
        node: id of the layer's own DAG node.
    """

    name: str
    param: str
    kind: str
    weight_shape: tuple[int, ...]
    groups: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    inputs: tuple[int, ...]
    node: int
    in_channels: int | None = None
    out_channels: int | None = None
    in_features: int | None = None
    out_features: int | None = None
    kernel_size: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    padding: tuple[int, int] | None = None
    dilation: tuple[int, int] | None = None


@dataclass(frozen=True)
class DagNode:
    """One node of the collapsed dataflow DAG.

    Attributes:
        id: position in topological (trace) order, ``0`` for the input.
        kind: one of :data:`NODE_KINDS`.
        op: fx target (function or ``Tensor`` method name, module class for module calls) or
            autograd ``grad_fn`` class name, depending on the tracer.
        module: FQN of the innermost enclosing module (``""`` for the root).
        inputs: ids of the nodes it reads, in operand order.
        out_shape: per-sample output shape.
        params: kind-specific parameters:
            ``layer``: name; ``pool``: type (max|avg), kernel, stride, padding, dilation, ceil_mode;
            ``adaptive_pool``: type, output_size; ``global_pool``: type (avg|max|sum), keepdim;
            ``cat``: dim, sample_dim; ``slice``: dim, sample_dim, start, stop, step (concrete,
            ``0 <= start <= stop <= size``); ``reshape``: shape (per-sample target), perm (per-sample
            permutation of the input axes, or ``None`` for a C-order reshape); ``pad``: pad (the
            ``F.pad`` tuple, last dimension first).
    """

    id: int
    kind: str
    op: str
    module: str
    inputs: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Topology:
    """Prunable layers and dataflow of a model for one input shape.

    Attributes:
        input_shape: per-sample input shape, (C, H, W) or (F,).
        tracer: ``"fx"`` or ``"hooks"``; ``"layer"`` for a bare ``nn.Conv2d``/``nn.Linear`` (no trace needed).
        layers: one :class:`LayerInfo` per prunable layer, in order of first call.
        nodes: the collapsed DAG in topological order (``nodes[i].id == i``).
        unused: FQNs of prunable modules that were never called (or only inside leaf modules).
    """

    input_shape: tuple[int, ...]
    tracer: str
    layers: tuple[LayerInfo, ...]
    nodes: tuple[DagNode, ...]
    unused: tuple[str, ...] = ()

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` of the layer with module FQN ``name``."""
        for info in self.layers:
            if info.name == name:
                return info
        raise UnknownNameError(f"no traced prunable layer named {name!r}; layers: {[i.name for i in self.layers]}")

    def node(self, node_id: int) -> DagNode:
        """The DAG node with id ``node_id``."""
        return self.nodes[node_id]

    def predecessors(self, name: str) -> list[str]:
        """Names of the prunable layers whose outputs reach layer ``name`` without crossing another layer.

        The input node is reported as ``"input"``. Order follows the DAG ids.
        """
        found: set[int] = set()
        stack = list(self.layer(name).inputs)
        seen: set[int] = set()
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            node = self.nodes[node_id]
            if node.kind in ("layer", "input"):
                found.add(node_id)
            else:
                stack.extend(node.inputs)
        return [self.nodes[i].params["name"] if self.nodes[i].kind == "layer" else "input" for i in sorted(found)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (tuples become lists)."""
        return {
            "format": "sparsegraph.topology/1",
            "input_shape": list(self.input_shape),
            "tracer": self.tracer,
            "layers": [_jsonable(asdict(info)) for info in self.layers],
            "nodes": [_jsonable(asdict(node)) for node in self.nodes],
            "unused": list(self.unused),
        }

    def summary(self) -> str:
        """A text table of the layers, then of the DAG nodes."""
        def shape(s: tuple[int, ...]) -> str:
            return "x".join(map(str, s)) if s else "-"

        def table(header: list[str], rows: list[list[str]]) -> list[str]:
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            fmt = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
            return [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]

        layer_rows = []
        for info in self.layers:
            geometry = (f"k{shape(info.kernel_size)} s{shape(info.stride)} p{shape(info.padding)} "
                        f"d{shape(info.dilation)} g{info.groups}" if info.kind == "conv2d" else "")
            layer_rows.append([info.name, info.kind, shape(info.weight_shape), geometry,
                               shape(info.in_shape), shape(info.out_shape),
                               ",".join(map(str, info.inputs))])
        node_rows = []
        for node in self.nodes:
            params = ", ".join(f"{k}={v}" for k, v in node.params.items())
            node_rows.append([str(node.id), node.kind, node.module or "(root)",
                              ",".join(map(str, node.inputs)), shape(node.out_shape), params])
        lines = [f"Topology of input {shape(self.input_shape)} (tracer: {self.tracer}): "
                 f"{len(self.layers)} prunable layers, {len(self.nodes)} nodes"]
        lines += table(["layer", "kind", "weight", "geometry", "in", "out", "inputs"], layer_rows)
        lines.append("")
        lines += table(["id", "kind", "module", "inputs", "out", "params"], node_rows)
        if self.unused:
            lines.append("")
            lines.append("unused: " + ", ".join(self.unused))
        return "\n".join(lines)
