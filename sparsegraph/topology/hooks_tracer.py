"""The hooks tracer: forward hooks, one forward pass, then a walk of the autograd graph.

This follows Torch-Pruning's DependencyGraph: the example input requires grad, so every
input-dependent tensor has a ``grad_fn``, and the graph of ``grad_fn`` nodes from the output back to
the input is the dataflow. Forward hooks record, for every prunable module, the ``grad_fn`` of its
output and the tensor it read, so a layer is recognised by its output node whatever computes its
weight (plain parameter or a ``torch.nn.utils.prune`` reparametrisation). Operations are classified
by ``grad_fn`` class, with their parameters read from the saved attributes. The module in which a
``grad_fn`` was created is found from autograd sequence numbers taken at each module's entry and exit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from sparsegraph.topology import classify as C
from sparsegraph.topology.builder import DagBuilder
from sparsegraph.topology.topology import Topology

_INPUT = ("input",)


class _Recorder:
    """Forward hooks on every module: call intervals, layer and leaf inputs/outputs."""

    def __init__(self, model: nn.Module, builder: DagBuilder, leaf_classes: tuple[type, ...], device: torch.device):
        self.b = builder
        self.probe = torch.ones((), device=device, requires_grad=True)
        self.calls: list[tuple[int, int, str]] = []
        self.layers: dict[str, dict[str, Any]] = {}  # in call order
        self.leaves: dict[int, dict[str, Any]] = {}  # id(output grad_fn) -> call
        self.leaf_fqns = [n for n, m in model.named_modules() if leaf_classes and isinstance(m, leaf_classes)]
        self.leaf_classes = leaf_classes
        self._starts: list[int] = []
        self.handles = []
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._pre))
            self.handles.append(module.register_forward_hook(self._make_post(name)))

    def sequence_nr(self) -> int:
        """The current autograd sequence number (a fresh node is created to read it)."""
        return (self.probe * 1.0).grad_fn._sequence_nr()

    def _pre(self, module: nn.Module, inputs: Any) -> None:
        self._starts.append(self.sequence_nr())

    def _make_post(self, name: str):
        def post(module: nn.Module, inputs: Any, output: Any) -> None:
            start = self._starts.pop()
            self.calls.append((start, self.sequence_nr(), name))
            if any(name.startswith(f"{leaf}.") for leaf in self.leaf_fqns):
                return
            cls = type(module).__name__
            tensors = [t for t in tree_flatten(inputs)[0] if isinstance(t, torch.Tensor) and t.requires_grad]
            if self.leaf_classes and isinstance(module, self.leaf_classes):
                if len(tensors) != 1 or not isinstance(output, torch.Tensor) or output.grad_fn is None:
                    raise self.b.error(cls, name, "a leaf module must take one input-dependent tensor and "
                                       "return one tensor")
                self.leaves[id(output.grad_fn)] = {"name": name, "input": tensors[0], "fn": output.grad_fn,
                                                   "out_shape": tuple(output.shape)}
                return
            reason = C.unsupported_module_reason(module)
            if reason:
                raise self.b.error(cls, name, reason)
            if isinstance(module, C.PRUNABLE) and tensors:
                if name in self.layers:
                    raise self.b.error(cls, name, "the module is called more than once (shared weights have no "
                                       "single place in the weight graph)")
                self.layers[name] = {"input": inputs[0], "fn": output.grad_fn, "in_shape": tuple(inputs[0].shape),
                                     "out_shape": tuple(output.shape), "cls": cls}
        return post

    def module_at(self, sequence_nr: int) -> str:
        """The innermost module whose call created the autograd node numbered ``sequence_nr``."""
        best, best_len = "", None
        for start, end, name in self.calls:
            if start < sequence_nr < end and (best_len is None or end - start < best_len):
                best, best_len = name, end - start
        return best

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def trace_hooks(model: nn.Module, example: torch.Tensor, leaf_classes: tuple[type, ...]) -> Topology:
    """Trace ``model`` on ``example`` (batch of one) through forward hooks and autograd.

    The caller sets eval mode. No backward pass is run, so no gradient is written.
    """
    builder = DagBuilder(model, tuple(example.shape[1:]))
    floating = example.is_floating_point()
    # integer inputs (token ids) cannot require grad: the forward still runs, so the first module that
    # reads them (an embedding, refused by the recorder) is named
    x = example.detach().clone().requires_grad_(floating)
    recorder = _Recorder(model, builder, leaf_classes, x.device)
    try:
        with torch.enable_grad():
            output = model(x)
    finally:
        recorder.remove()
    if not floating:
        raise builder.error("input", "", f"the input is {x.dtype} (token ids), and integer inputs have no "
                            "input-to-weight edges", advice=False)
    return _Walker(model, builder, recorder, x).run(output)


class _Walker:
    """Iterative post-order walk of the autograd graph; one DAG node per recognised ``grad_fn``."""

    def __init__(self, model: nn.Module, builder: DagBuilder, recorder: _Recorder, x: torch.Tensor):
        self.b, self.rec, self.x = builder, recorder, x
        self.layer_of = {id(call["fn"]): name for name, call in recorder.layers.items()}
        self.memo: dict[Any, int | None] = {}
        self.fns: dict[int, Any] = {}  # keeps every visited grad_fn alive, so ids stay unique

    def key_of_tensor(self, t: torch.Tensor) -> Any:
        if t is self.x:
            return _INPUT
        if t.grad_fn is None:
            return None
        return self.key(t.grad_fn, t.output_nr)

    def key(self, fn: Any, nr: int) -> tuple[int, int]:
        self.fns[id(fn)] = fn
        return id(fn), nr

    def deps(self, key: Any) -> list[Any]:
        if key is _INPUT:
            return []
        fn = self.fns[key[0]]
        if key[0] in self.layer_of:
            dep = self.key_of_tensor(self.rec.layers[self.layer_of[key[0]]]["input"])
            return [dep] if dep is not None else []
        if key[0] in self.rec.leaves:
            return [self.key_of_tensor(self.rec.leaves[key[0]]["input"])]
        return [self.key(nf, nr) for nf, nr in fn.next_functions if nf is not None]

    def resolve(self, root: Any) -> int | None:
        stack = [root]
        while stack:
            key = stack[-1]
            if key in self.memo:
                stack.pop()
                continue
            missing = [d for d in self.deps(key) if d not in self.memo]
            if missing:
                stack.extend(missing)
                continue
            self.memo[key] = self.build(key)
            stack.pop()
        return self.memo[root]

    def run(self, output: Any) -> Topology:
        self.memo[_INPUT] = self.b.add_input("input")
        tensors = [t for t in tree_flatten(output)[0] if isinstance(t, torch.Tensor)]
        outputs = [self.resolve(k) for k in map(self.key_of_tensor, tensors) if k is not None]
        # layers whose output never reaches the model output still belong to the topology
        for call in self.rec.layers.values():
            self.resolve(self.key(call["fn"], 0))
        self.b.add_output("output", [o for o in outputs if o is not None])
        inside = {name for name, m in self.b.modules.items() if isinstance(m, C.PRUNABLE)
                  and any(name.startswith(f"{leaf}.") for leaf in self.rec.leaf_fqns)}
        return self.b.finalize("hooks", inside)

    def build(self, key: Any) -> int | None:
        b = self.b
        fn = self.fns[key[0]]
        nr = key[1]
        if key[0] in self.layer_of:
            name = self.layer_of[key[0]]
            call = self.rec.layers[name]
            in_key = self.key_of_tensor(call["input"])
            source = self.memo.get(in_key) if in_key is not None else None
            if source is None:
                raise b.error(call["cls"], name, "the layer's input does not depend on the model input")
            return b.add_layer(name, type(fn).__name__, source, call["in_shape"], call["out_shape"],
                               (fn._sequence_nr(), 0))
        if key[0] in self.rec.leaves:
            call = self.rec.leaves[key[0]]
            source = self.memo[self.key_of_tensor(call["input"])]
            return b.check_transparent(type(b.modules[call["name"]]).__name__, call["name"], source,
                                       call["out_shape"])
        if type(fn).__name__ == "AccumulateGrad":
            return self.memo[_INPUT] if fn.variable is self.x else None
        inputs = [self.memo[d] for d in self.deps(key)]
        data = [i for i in inputs if i is not None]
        if not data:
            return None
        return self.classify(fn, nr, data, len(fn.next_functions))

    def classify(self, fn: Any, nr: int, data: list[int], operands: int) -> int:
        b = self.b
        base = C.grad_fn_base(fn)
        op = type(fn).__name__
        sort_key = (fn._sequence_nr(), nr)
        module = self.rec.module_at(fn._sequence_nr())
        out = tuple(fn._input_metadata[nr].shape)

        def saved(name: str, default: Any = None) -> Any:
            return getattr(fn, f"_saved_{name}", default)

        def one_input() -> int:
            if len(data) != 1:
                raise b.error(op, module, f"an operation on {len(data)} input-dependent tensors")
            return data[0]

        if base in C.GRAD_TRANSPARENT:
            return b.check_transparent(op, module, one_input(), out)
        if base in C.GRAD_ARITH:
            if len(data) == 1:
                return b.check_transparent(op, module, data[0], out)
            if base == "Add":
                return b.add_add(op, module, data, sort_key)
            kind = "difference" if base == "Sub" else "product"
            raise b.error(op, module, f"{kind} of two input-dependent tensors has no weight-graph meaning")
        if base in ("MaxPool2DWithIndices", "MaxPool2D", "AvgPool2D"):
            return b.add_pool(op, module, one_input(), "avg" if base == "AvgPool2D" else "max", saved("kernel_size"),
                              saved("stride") or None, saved("padding"), saved("dilation", (1, 1)),
                              saved("ceil_mode"), out, sort_key)
        if base in ("AdaptiveAvgPool2D", "AdaptiveMaxPool2D"):
            return b.add_adaptive(op, module, one_input(), "avg" if base == "AdaptiveAvgPool2D" else "max", out,
                                  sort_key)
        if base in ("Mean", "Sum", "Amax"):
            reduce_type = {"Mean": "avg", "Sum": "sum", "Amax": "max"}[base]
            return b.add_reduce(op, module, one_input(), reduce_type, saved("dim"), saved("keepdim", False), out,
                                sort_key)
        if base in C.GRAD_RESHAPE:
            return b.add_reshape(op, module, one_input(), out, sort_key)
        if base in C.GRAD_PERMUTE:
            ndim = len(out)
            if base == "Permute":
                perm = list(saved("dims"))
            else:
                perm = list(range(ndim))
                d0, d1 = (saved("dim0") % ndim, saved("dim1") % ndim) if base == "Transpose" else (0, 1)
                perm[d0], perm[d1] = perm[d1], perm[d0]
            return b.add_reshape(op, module, one_input(), out, sort_key, perm=perm)
        if base == "Slice":
            return b.add_slice(op, module, one_input(), saved("dim"), saved("start"), saved("end"), saved("step"),
                               sort_key)
        if base == "Select":
            dim = saved("dim")
            size = saved("self_sym_sizes")[dim]
            index = saved("index") % size
            sliced = b.add_slice(op, module, one_input(), dim, index, index + 1, 1, sort_key)
            return b.add_reshape(op, module, sliced, out, sort_key)
        if base in ("Split", "SplitWithSizes", "UnsafeSplit", "UnsafeSplitWithSizes"):
            dim = saved("dim") % len(out)
            start = sum(int(fn._input_metadata[i].shape[dim]) for i in range(nr))
            return b.add_slice(op, module, one_input(), dim, start, start + out[dim], 1, sort_key)
        if base == "Cat":
            if len(data) != operands:
                raise b.error(op, module, "concatenation with a constant tensor: its elements would have no nodes")
            return b.add_cat(op, module, data, saved("dim"), out, sort_key)
        if base == "ConstantPadNd":
            # autograd saves the pad as unsigned 64-bit ints: -1 comes back as 2**64 - 1
            pad = [p - 2 ** 64 if p >= 2 ** 63 else p for p in saved("pad")]
            return b.add_pad(op, module, one_input(), pad, out, sort_key)
        if base in ("UpsampleNearest2D", "UpsampleBilinear2D", "UpsampleBicubic2D", "UpsampleNearest1D"):
            raise b.error(op, module, "interpolation (upsampling) has no weight-graph encoding")
        raise b.error(op, module, "no rule for this autograd operation on input-dependent tensors")
