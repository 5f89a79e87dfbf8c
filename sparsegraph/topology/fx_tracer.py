"""The torch.fx tracer: symbolic trace, one interpreter pass for concrete shapes, classification.

Built-in ``torch.nn`` modules, every ``nn.Conv2d``/``nn.Linear`` (subclasses included) and the
classes in ``leaf_modules`` are leaves; user containers are traced through. The interpreter runs the
traced graph once on the example input and records every value, so shape-dependent arguments such
as ``x.size(3)`` or ``x.view(x.size(0), -1)`` are known concretely when nodes are classified.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from sparsegraph.topology import classify as C
from sparsegraph.topology.builder import DagBuilder
from sparsegraph.topology.topology import Topology


class _LeafTracer(fx.Tracer):
    def __init__(self, leaf_classes: tuple[type, ...]):
        super().__init__()
        self.leaf_classes = leaf_classes

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return (isinstance(m, C.PRUNABLE) or isinstance(m, self.leaf_classes)
                or super().is_leaf_module(m, module_qualified_name))


class _Recorder(fx.Interpreter):
    """Runs the graph and keeps every node's value."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.values: dict[fx.Node, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        result = super().run_node(n)
        self.values[n] = result
        return result


@dataclass(frozen=True)
class _Split:
    """The tuple result of chunk/split: slices are created when an element is taken."""

    source: int
    dim: int
    sizes: tuple[int, ...]


def symbolic_trace(model: nn.Module, leaf_classes: tuple[type, ...]) -> fx.GraphModule:
    """The fx graph of ``model`` with the leaves of this module's docstring."""
    tracer = _LeafTracer(leaf_classes)
    graph = tracer.trace(model)
    return fx.GraphModule(tracer.root, graph)


def trace_fx(model: nn.Module, example: torch.Tensor, leaf_classes: tuple[type, ...]) -> Topology:
    """Trace ``model`` on ``example`` (batch of one) with torch.fx.

    The caller sets eval mode and no-grad. Raises whatever torch.fx raises on untraceable code, and
    :class:`~sparsegraph.errors.UnsupportedOpError` for operations outside the table.
    """
    gm = symbolic_trace(model, leaf_classes)
    recorder = _Recorder(gm)
    recorder.run(example)
    return _Classifier(model, gm, recorder.values, tuple(example.shape[1:]), leaf_classes).run()


def _qualified(target: Any) -> str:
    try:
        return fx.node._get_qualified_name(target).replace("_operator.", "operator.")
    except Exception:  # some builtins have no importable name; the repr is still informative
        return repr(target)


def _flat_nodes(value: Any) -> list[fx.Node]:
    found: list[fx.Node] = []
    fx.node.map_arg(value, found.append)
    return found


class _Classifier:
    def __init__(self, model: nn.Module, gm: fx.GraphModule, values: dict[fx.Node, Any],
                 input_shape: tuple[int, ...], leaf_classes: tuple[type, ...]):
        self.gm = gm
        self.values = values
        self.leaf_classes = leaf_classes
        self.b = DagBuilder(model, input_shape)
        self.env: dict[fx.Node, int | _Split] = {}
        self.leaf_fqns = [name for name, m in model.named_modules() if leaf_classes and isinstance(m, leaf_classes)]

    def run(self) -> Topology:
        # explicitly unsupported modules and attention are errors wherever they are called, as in the
        # hooks tracer
        for n in self.gm.graph.nodes:
            if n.op == "call_module":
                reason = C.unsupported_module_reason(self.gm.get_submodule(str(n.target)))
                if reason:
                    raise self.b.error(self.names(n)[0], str(n.target), reason)
            elif self.is_attention(n):
                op, target = self.names(n)
                raise self.b.error(op, self.module_of(n), C.ATTENTION_REASON, target)
        for index, n in enumerate(self.gm.graph.nodes):
            self.key = (index,)
            self.visit(n)
        inside = {name for name, m in self.b.modules.items() if isinstance(m, C.PRUNABLE)
                  and any(name.startswith(f"{leaf}.") for leaf in self.leaf_fqns)}
        return self.b.finalize("fx", inside)

    # ------------------------------------------------------------------ helpers
    def is_attention(self, n: fx.Node) -> bool:
        """An attention op, or a matrix product of two input-dependent operands (``q @ k.transpose(-2, -1)``)."""
        if n.op == "call_function" and n.target in C.ATTENTION_FUNCTIONS:
            return True
        product = ((n.op == "call_function" and n.target in C.PRODUCT_FUNCTIONS)
                   or (n.op == "call_method" and n.target in C.PRODUCT_METHODS))
        dependent = [a for a in n.args[:2] if isinstance(a, fx.Node) and self.values.get(a) is not None
                     and a.op != "get_attr" and self._depends_on_input(a)]
        return product and len(dependent) == 2

    def _depends_on_input(self, n: fx.Node) -> bool:
        seen, stack = set(), [n]
        while stack:
            node = stack.pop()
            if node.op == "placeholder":
                return True
            if node in seen:
                continue
            seen.add(node)
            stack.extend(_flat_nodes((node.args, node.kwargs)))
        return False

    def concrete(self, value: Any) -> Any:
        return fx.node.map_arg(value, lambda a: self.values[a])

    def ref(self, n: fx.Node) -> int:
        ref = self.env[n]
        if isinstance(ref, _Split):
            raise self.b.error("getitem", self.module_of(n), "a chunk/split result is used as a whole")
        return ref

    def module_of(self, n: fx.Node) -> str:
        if n.op == "call_module":
            return str(n.target)
        stack = n.meta.get("nn_module_stack") or {}
        return list(stack.values())[-1][0] if stack else ""

    def names(self, n: fx.Node) -> tuple[str, str]:
        """(short op name, qualified target) for messages and ``DagNode.op``."""
        if n.op == "call_method":
            return str(n.target), f"torch.Tensor.{n.target}"
        if n.op == "call_module":
            cls = type(self.gm.get_submodule(str(n.target)))
            return cls.__name__, f"{cls.__module__}.{cls.__qualname__}"
        return getattr(n.target, "__name__", str(n.target)), _qualified(n.target)

    # ------------------------------------------------------------------ dispatch
    def visit(self, n: fx.Node) -> None:
        b = self.b
        if n.op == "placeholder":
            if not self.env:
                self.env[n] = b.add_input("placeholder")
            return
        if n.op == "get_attr":
            return
        if n.op == "output":
            b.add_output("output", [self.ref(a) for a in _flat_nodes(n.args) if a in self.env])
            return
        data = [a for a in _flat_nodes((n.args, n.kwargs)) if a in self.env]
        value = self.values[n]
        is_tensor = isinstance(value, torch.Tensor)
        is_tuple = isinstance(value, (tuple, list)) and value and all(isinstance(v, torch.Tensor) for v in value)
        if not data or not (is_tensor or is_tuple):
            return  # shapes, sizes and constants: static values, already concrete in the interpreter
        if n.op == "call_module":
            self.env[n] = self.visit_module(n, data)
        else:
            self.env[n] = self.visit_call(n, data)
        # in-place methods (x.add_(y), x.relu_()) rebind their receiver for later uses
        if n.op == "call_method" and str(n.target).endswith("_") and n.args and n.args[0] in self.env:
            self.env[n.args[0]] = self.env[n]

    def visit_module(self, n: fx.Node, data: list[fx.Node]) -> int:
        b, name = self.b, str(n.target)
        m = self.gm.get_submodule(name)
        op, _ = self.names(n)
        out = tuple(self.values[n].shape) if isinstance(self.values[n], torch.Tensor) else None
        if len(data) != 1 or out is None:
            raise b.error(op, name, f"the module takes {len(data)} input-dependent tensors and returns "
                          f"{'a tuple' if out is None else 'one tensor'}; one tensor in and out is required")
        src = self.ref(data[0])
        if self.leaf_classes and isinstance(m, self.leaf_classes):
            return b.check_transparent(op, name, src, out)
        if isinstance(m, C.PRUNABLE):
            return b.add_layer(name, op, src, self.values[data[0]].shape, out, self.key)
        if isinstance(m, C.TRANSPARENT_MODULES):
            return b.check_transparent(op, name, src, out)
        for cls, pool_type in C.POOL_MODULES.items():
            if isinstance(m, cls):
                if getattr(m, "return_indices", False):
                    raise b.error(op, name, "pooling with return_indices=True")
                return b.add_pool(op, name, src, pool_type, m.kernel_size, m.stride, m.padding,
                                  getattr(m, "dilation", 1), m.ceil_mode, out, self.key)
        for cls, pool_type in C.ADAPTIVE_MODULES.items():
            if isinstance(m, cls):
                if getattr(m, "return_indices", False):
                    raise b.error(op, name, "pooling with return_indices=True")
                return b.add_adaptive(op, name, src, pool_type, out, self.key)
        if isinstance(m, C.RESHAPE_MODULES):
            return b.add_reshape(op, name, src, out, self.key)
        if isinstance(m, C.PAD_MODULES):
            if float(getattr(m, "value", 0.0)) != 0.0:
                raise b.error(op, name, f"constant padding with value {m.value}; only zero padding is supported")
            return b.add_pad(op, name, src, m.padding, out, self.key)
        raise b.error(op, name, f"no rule for module class {type(m).__name__}")

    def visit_call(self, n: fx.Node, data: list[fx.Node]) -> int | _Split:
        b, module, key = self.b, self.module_of(n), self.key
        op, target = self.names(n)
        f, is_method = n.target, n.op == "call_method"
        args, kwargs = self.concrete(n.args), self.concrete(n.kwargs)
        value = self.values[n]
        out = tuple(value.shape) if isinstance(value, torch.Tensor) else None

        def one_input() -> int:
            if len(data) != 1:
                raise b.error(op, module, f"an operation on {len(data)} input-dependent tensors", target)
            return self.ref(data[0])

        if f is operator.getitem:
            return self.visit_getitem(n, op, module)
        if (f in C.ARITH_FUNCTIONS) if not is_method else (f in C.ARITH_METHODS):
            operands = n.args[:2] if len(n.args) >= 2 else (*n.args, n.kwargs.get("other"))
            dependent = [a for a in operands if isinstance(a, fx.Node) and a in self.env]
            if len(dependent) == 1:
                return b.check_transparent(op, module, self.ref(dependent[0]), out, target)
            if (f in C.ADD_FUNCTIONS) if not is_method else (f in C.ADD_METHODS):
                return b.add_add(op, module, [self.ref(a) for a in dependent], key, target)
            kind = "product" if op.lstrip("i").startswith(("mul", "div", "truediv")) else "difference"
            raise b.error(op, module, f"{kind} of two input-dependent tensors has no weight-graph meaning",
                          target)
        if is_method:
            table = {"transparent": f in C.TRANSPARENT_METHODS, "reshape": f in C.RESHAPE_METHODS,
                     "permute": f in C.PERMUTE_METHODS, "reduce": f in C.REDUCE_METHODS,
                     "split": f in C.SPLIT_METHODS, "narrow": f in C.NARROW_METHODS}
        else:
            table = {"transparent": f in C.TRANSPARENT_FUNCTIONS, "reshape": f in C.RESHAPE_FUNCTIONS,
                     "permute": f in C.PERMUTE_FUNCTIONS, "reduce": f in C.REDUCE_FUNCTIONS,
                     "split": f in C.SPLIT_FUNCTIONS, "narrow": f in C.NARROW_FUNCTIONS}
        if table["transparent"]:
            return b.check_transparent(op, module, one_input(), out, target)
        if table["reshape"]:
            return b.add_reshape(op, module, one_input(), out, key)
        if table["permute"]:
            return b.add_reshape(op, module, one_input(), out, key, perm=self.permutation(n, args, kwargs))
        if table["reduce"]:
            bound = C.bind(args, kwargs, ("input", "dim", "keepdim"), {"dim": None, "keepdim": False})
            reduce_type = C.REDUCE_METHODS[f] if is_method else C.REDUCE_FUNCTIONS[f]
            return b.add_reduce(op, module, one_input(), reduce_type, bound["dim"], bound["keepdim"], out, key,
                                target)
        if table["split"]:
            src = one_input()
            bound = C.bind(args, kwargs, ("input", "sections", "dim"), {"dim": 0})
            dim = bound["dim"] % value[0].dim()
            return _Split(src, dim, tuple(int(v.shape[dim]) for v in value))
        if table["narrow"]:
            bound = C.bind(args, kwargs, ("input", "dim", "start", "length"), {})
            start = int(bound["start"]) % self.values[data[0]].shape[bound["dim"]]
            return b.add_slice(op, module, one_input(), bound["dim"], start, start + int(bound["length"]), 1, key)
        if not is_method and f in C.POOL_FUNCTIONS:
            pool_type = C.POOL_FUNCTIONS[f]
            names = (("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
                     if pool_type == "max" else
                     ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                      "divisor_override"))
            bound = C.bind(args, kwargs, names, {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False,
                                                 "return_indices": False})
            if bound["return_indices"]:
                raise b.error(op, module, "pooling with return_indices=True", target)
            return b.add_pool(op, module, one_input(), pool_type, bound["kernel_size"], bound["stride"],
                              bound["padding"], bound["dilation"], bound["ceil_mode"], out, key)
        if not is_method and f in C.ADAPTIVE_FUNCTIONS:
            bound = C.bind(args, kwargs, ("input", "output_size", "return_indices"), {"return_indices": False})
            if bound["return_indices"]:
                raise b.error(op, module, "pooling with return_indices=True", target)
            return b.add_adaptive(op, module, one_input(), C.ADAPTIVE_FUNCTIONS[f], out, key)
        if not is_method and f in C.CAT_FUNCTIONS:
            tensors = n.args[0] if n.args else n.kwargs["tensors"]
            if not all(isinstance(t, fx.Node) and t in self.env for t in tensors):
                raise b.error(op, module, "concatenation with a constant tensor: its elements would have no nodes",
                              target)
            dim = C.bind(args, kwargs, ("tensors", "dim"), {"dim": 0})["dim"]
            return b.add_cat(op, module, [self.ref(t) for t in tensors], dim, out, key)
        if not is_method and f in C.PAD_FUNCTIONS:
            bound = C.bind(args, kwargs, ("input", "pad", "mode", "value"), {"mode": "constant", "value": None})
            if bound["mode"] != "constant" or (bound["value"] or 0) != 0:
                raise b.error(op, module, f"padding mode {bound['mode']!r} with value {bound['value']}: only "
                              "constant zero padding is supported", target)
            return b.add_pad(op, module, one_input(), bound["pad"], out, key)
        reason = C.SPECIFIC_REASONS.get(f) if not is_method else None
        raise b.error(op, module, reason or "no rule for this operation on input-dependent tensors", target)

    def visit_getitem(self, n: fx.Node, op: str, module: str) -> int:
        b, key = self.b, self.key
        source, index = n.args[0], self.concrete(n.args[1])
        ref = self.env[source]
        if isinstance(ref, _Split):
            start = sum(ref.sizes[:index])
            return b.add_slice(op, module, ref.source, ref.dim, start, start + ref.sizes[index], 1, key)
        items = index if isinstance(index, tuple) else (index,)
        ndim = self.values[source].dim()
        explicit = sum(1 for i in items if i is not None and i is not Ellipsis)
        current, dim, reshaped = ref, 0, False
        for item in items:
            if item is Ellipsis:
                dim += ndim - explicit
            elif item is None:
                reshaped = True
            elif isinstance(item, slice):
                if dim == 0:
                    if len(range(*item.indices(1))) != 1:
                        raise b.error(op, module, "slicing along the batch dimension")
                else:
                    current = b.add_slice(op, module, current, dim, item.start, item.stop, item.step, key)
                dim += 1
            elif isinstance(item, int) and not isinstance(item, bool):
                if dim == 0:
                    raise b.error(op, module, "indexing the batch dimension")
                size = self.values[source].shape[dim]
                i = item % size
                current = b.add_slice(op, module, current, dim, i, i + 1, 1, key)
                reshaped = True
                dim += 1
            else:
                raise b.error(op, module, f"indexing with {type(item).__name__}: only ints, slices, None and "
                              "... are supported")
        if reshaped:
            current = b.add_reshape(op, module, current, tuple(self.values[n].shape), key)
        return current

    def permutation(self, n: fx.Node, args: tuple, kwargs: dict) -> list[int]:
        """The axis permutation of a permute-like call, read from the strides it produces."""
        ndim = args[0].dim()
        probe = torch.empty_strided([2] * ndim, [2 ** i for i in range(ndim)])
        if n.op == "call_method":
            result = getattr(probe, str(n.target))(*args[1:], **kwargs)
        else:
            result = n.target(probe, *args[1:], **kwargs)
        return [int(s).bit_length() - 1 for s in result.stride()]
