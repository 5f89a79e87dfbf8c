"""Construction of the collapsed DAG, shared by the fx and the hooks tracer.

Both tracers describe each recognised operation with full (batched) shapes and concrete arguments;
this module checks it, converts it to per-sample form, drops operations that turn out to be the
identity (a reshape to the same shape, a full slice, zero padding), and finally keeps only the nodes
that feed the output or a layer, renumbered in trace order. Keeping this in one place is what makes
the two tracers agree.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from torch import nn

from sparsegraph.errors import UnsupportedOpError
from sparsegraph.topology.classify import PRUNABLE, conv_geometry
from sparsegraph.topology.topology import DagNode, LayerInfo, Topology

HOW_TO_PROCEED = ("mark the module as a leaf (sg.trace(..., leaf_modules=[<its class>])) or exclude it "
                  "from the model")


class DagBuilder:
    """Accumulates DAG nodes for one trace.

    Node ids handed out while tracing are provisional; :meth:`finalize` renumbers them. Every
    ``add_*`` method returns the id of the node that now holds the value, which is the input id
    itself when the operation is an identity.

    Args:
        model: the traced model (for module classes and layer parameters).
        input_shape: per-sample input shape.
    """

    def __init__(self, model: nn.Module, input_shape: tuple[int, ...]):
        self.modules = dict(model.named_modules())
        self.input_shape = tuple(input_shape)
        self._nodes: list[dict[str, Any]] = []
        self._layers: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ errors and helpers
    def error(self, op: str, module: str, reason: str, target: str | None = None,
              advice: bool = True) -> UnsupportedOpError:
        """An :class:`UnsupportedOpError` naming op, module and class, with the way to proceed."""
        mod = self.modules.get(module)
        cls = type(mod).__name__ if mod is not None else None
        return UnsupportedOpError(op, module, f"{reason}; {HOW_TO_PROCEED}" if advice else reason,
                                  module_class=cls, target=target)

    def shape(self, node_id: int) -> tuple[int, ...]:
        return self._nodes[node_id]["out_shape"]

    def kind(self, node_id: int) -> str:
        return self._nodes[node_id]["kind"]

    def _sample(self, full_shape: Sequence[int], op: str, module: str) -> tuple[int, ...]:
        full = tuple(int(s) for s in full_shape)
        if len(full) < 2 or full[0] != 1:
            raise self.error(op, module, f"the result has shape {full}, which no longer keeps the batch "
                             "dimension first (traced with batch size 1; x.squeeze() or x.view(-1) also drop it: "
                             "use x.flatten(1) or x.squeeze((2, 3)))")
        return full[1:]

    def _sample_dim(self, dim: int, ndim: int, op: str, module: str) -> int:
        d = dim % ndim
        if d == 0:
            raise self.error(op, module, "the operation acts along the batch dimension")
        return d

    def _new(self, kind: str, op: str, module: str, inputs: Sequence[int], out_shape: tuple[int, ...],
             params: dict[str, Any] | None, key: Any) -> int:
        self._nodes.append({"kind": kind, "op": op, "module": module, "inputs": tuple(inputs),
                            "out_shape": tuple(out_shape), "params": params or {}, "key": key})
        return len(self._nodes) - 1

    # ------------------------------------------------------------------ node kinds
    def add_input(self, op: str) -> int:
        return self._new("input", op, "", (), self.input_shape, None, (-1,))

    def add_output(self, op: str, inputs: Sequence[int]) -> int:
        shape = self.shape(inputs[0]) if len(inputs) == 1 else ()
        return self._new("output", op, "", inputs, shape, None, (float("inf"),))

    def add_layer(self, name: str, op: str, input_id: int, full_in: Sequence[int], full_out: Sequence[int],
                  key: Any) -> int:
        """A call of the prunable module ``name`` on node ``input_id``."""
        module = self.modules[name]
        cls = type(module).__name__
        if name in self._layers:
            raise self.error(cls, name, "the module is called more than once (shared weights have no "
                             "single place in the weight graph)")
        full_in = tuple(int(s) for s in full_in)
        info: dict[str, Any] = {"name": name, "param": f"{name}.weight" if name else "weight",
                                "weight_shape": tuple(module.weight.shape)}
        if isinstance(module, nn.Conv2d):
            if len(full_in) != 4:
                raise self.error(cls, name, f"Conv2d on input of shape {full_in}; only batched (N,C,H,W) "
                                 "input is supported")
            geometry = conv_geometry(module)
            if isinstance(geometry, str):
                raise self.error(cls, name, geometry)
            info.update(kind="conv2d", groups=module.groups, in_channels=module.in_channels,
                        out_channels=module.out_channels, **geometry)
        else:
            if len(full_in) != 2:
                raise self.error(cls, name, f"Linear on input of shape {full_in}: only 2-D (N, F) input is "
                                 "supported, as each output row would otherwise need its own nodes; flatten "
                                 "the input first")
            info.update(kind="linear", groups=1, in_features=module.in_features,
                        out_features=module.out_features)
        info["in_shape"] = self._sample(full_in, cls, name)
        out = self._sample(full_out, cls, name)
        info["out_shape"] = out
        node_id = self._new("layer", op, name, (input_id,), out, {"name": name}, key)
        info["node"] = node_id
        self._layers[name] = info
        return node_id

    def add_add(self, op: str, module: str, inputs: Sequence[int], key: Any, target: str | None = None) -> int:
        shapes = {self.shape(i) for i in inputs}
        if len(shapes) != 1:
            raise self.error(op, module, f"broadcasting add of shapes {sorted(shapes)}: only additions of "
                             "equal shapes (residual connections) are supported", target)
        return self._new("add", op, module, inputs, self.shape(inputs[0]), None, key)

    def add_cat(self, op: str, module: str, inputs: Sequence[int], dim: int, full_out: Sequence[int],
                key: Any) -> int:
        out = self._sample(full_out, op, module)
        if len(inputs) == 1:
            return inputs[0]
        d = self._sample_dim(dim, len(out) + 1, op, module)
        return self._new("cat", op, module, inputs, out, {"dim": d, "sample_dim": d - 1}, key)

    def add_slice(self, op: str, module: str, input_id: int, dim: int, start: int | None, stop: int | None,
                  step: int | None, key: Any) -> int:
        in_shape = self.shape(input_id)
        d = self._sample_dim(dim, len(in_shape) + 1, op, module)
        size = in_shape[d - 1]
        start, stop, step = slice(start, stop, step).indices(size)
        if step <= 0:
            raise self.error(op, module, "slicing with a non-positive step")
        stop = max(start, stop)
        count = len(range(start, stop, step))
        if count == size:
            return input_id
        # stop normalised to one past the last taken element, so both tracers report the same value
        stop = start + (count - 1) * step + 1 if count else start
        out = list(in_shape)
        out[d - 1] = count
        params = {"dim": d, "sample_dim": d - 1, "start": start, "stop": stop, "step": step}
        return self._new("slice", op, module, (input_id,), tuple(out), params, key)

    def add_pad(self, op: str, module: str, input_id: int, pad: Sequence[int], full_out: Sequence[int],
                key: Any) -> int:
        pad = tuple(int(p) for p in pad)
        in_shape = self.shape(input_id)
        if len(pad) % 2 or len(pad) // 2 > len(in_shape):
            raise self.error(op, module, f"padding {pad} reaches the batch dimension")
        if any(p < 0 for p in pad):
            raise self.error(op, module, f"negative padding {pad} (cropping); use slicing instead")
        if not any(pad):
            return input_id
        return self._new("pad", op, module, (input_id,), self._sample(full_out, op, module), {"pad": pad}, key)

    def add_reshape(self, op: str, module: str, input_id: int, full_out: Sequence[int], key: Any,
                    perm: Sequence[int] | None = None) -> int:
        """A C-order reshape (``perm=None``) or an axis permutation ``perm`` (full, with batch)."""
        out = self._sample(full_out, op, module)
        sample_perm = None
        if perm is not None:
            perm = [p % len(perm) for p in perm]
            if perm[0] != 0:
                raise self.error(op, module, "the permutation moves the batch dimension")
            sample_perm = tuple(p - 1 for p in perm[1:])
            if sample_perm == tuple(range(len(sample_perm))):
                return input_id
        elif out == self.shape(input_id):
            return input_id
        return self._new("reshape", op, module, (input_id,), out, {"shape": out, "perm": sample_perm}, key)

    def add_pool(self, op: str, module: str, input_id: int, pool_type: str, kernel: Any, stride: Any,
                 padding: Any, dilation: Any, ceil_mode: bool, full_out: Sequence[int], key: Any) -> int:
        if len(self.shape(input_id)) != 3:
            raise self.error(op, module, f"2-D pooling of input {self.shape(input_id)}; (C,H,W) expected")
        kernel = pair(kernel)
        params = {"type": pool_type, "kernel": kernel, "stride": pair(stride) if stride else kernel,
                  "padding": pair(padding), "dilation": pair(dilation), "ceil_mode": bool(ceil_mode)}
        return self._new("pool", op, module, (input_id,), self._sample(full_out, op, module), params, key)

    def add_adaptive(self, op: str, module: str, input_id: int, pool_type: str, full_out: Sequence[int],
                     key: Any) -> int:
        if len(self.shape(input_id)) != 3:
            raise self.error(op, module, f"adaptive 2-D pooling of input {self.shape(input_id)}; (C,H,W) "
                             "expected")
        out = self._sample(full_out, op, module)
        if out[1:] == (1, 1):
            return self._new("global_pool", op, module, (input_id,), out,
                             {"type": pool_type, "keepdim": True}, key)
        return self._new("adaptive_pool", op, module, (input_id,), out,
                         {"type": pool_type, "output_size": tuple(out[1:])}, key)

    def add_reduce(self, op: str, module: str, input_id: int, reduce_type: str, dims: Any, keepdim: bool,
                   full_out: Sequence[int], key: Any, target: str | None = None) -> int:
        """mean/sum/amax over ``dims``: a global pool when ``dims`` are exactly the spatial dims."""
        ndim = len(self.shape(input_id)) + 1
        if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
            reduced: set[int] = set(range(ndim))
        else:
            reduced = {d % ndim for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
        if ndim < 3 or reduced != set(range(2, ndim)):
            raise self.error(op, module, f"reduction over dims {sorted(reduced)} of a {ndim}-D tensor: only a "
                             "reduction over all spatial dims (global pooling, e.g. mean((2, 3))) is supported",
                             target)
        return self._new("global_pool", op, module, (input_id,), self._sample(full_out, op, module),
                         {"type": reduce_type, "keepdim": bool(keepdim)}, key)

    def check_transparent(self, op: str, module: str, input_id: int, full_out: Sequence[int],
                          target: str | None = None) -> int:
        """An element-wise operation: it must keep the shape of its one input-dependent operand."""
        out = self._sample(full_out, op, module)
        if out != self.shape(input_id):
            raise self.error(op, module, f"an element-wise operation changes the shape {self.shape(input_id)} "
                             f"to {out} (broadcasting against a constant)", target)
        return input_id

    # ------------------------------------------------------------------ result
    def finalize(self, tracer: str, inside_leaves: set[str]) -> Topology:
        """Keep the nodes that feed the output or a layer, renumber them in trace order.

        Args:
            tracer: ``"fx"`` or ``"hooks"``.
            inside_leaves: FQNs of prunable modules that were only called inside leaf modules.
        """
        keep: set[int] = set()
        stack = [i for i, n in enumerate(self._nodes) if n["kind"] in ("output", "layer")]
        while stack:
            i = stack.pop()
            if i not in keep:
                keep.add(i)
                stack.extend(self._nodes[i]["inputs"])
        order = sorted(keep, key=lambda i: (self._nodes[i]["key"], i))
        new_id = {old: new for new, old in enumerate(order)}
        nodes = tuple(
            DagNode(id=new_id[old], kind=self._nodes[old]["kind"], op=self._nodes[old]["op"],
                    module=self._nodes[old]["module"],
                    inputs=tuple(new_id[i] for i in self._nodes[old]["inputs"]),
                    out_shape=self._nodes[old]["out_shape"], params=dict(self._nodes[old]["params"]))
            for old in order)
        layer_infos = sorted(self._layers.values(), key=lambda info: new_id[info["node"]])
        layers = tuple(
            LayerInfo(**{**info, "node": new_id[info["node"]], "inputs": nodes[new_id[info["node"]]].inputs})
            for info in layer_infos)
        prunable = [name for name, m in self.modules.items() if isinstance(m, PRUNABLE)]
        unused = tuple(name for name in prunable if name not in self._layers)
        for name in unused:
            why = ("is only called inside a leaf module" if name in inside_leaves
                   else "is never called in the forward pass")
            warnings.warn(f"sg.trace: prunable module {name!r} {why}; it is listed in Topology.unused and has "
                          "no place in the graphs", stacklevel=3)
        return Topology(input_shape=self.input_shape, tracer=tracer, layers=layers, nodes=nodes, unused=unused)


def pair(value: Any) -> tuple[int, int]:
    """An int or a sequence of one or two ints as an (h, w) pair."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            return int(value[0]), int(value[0])
        return int(value[0]), int(value[1])
    return int(value), int(value)
