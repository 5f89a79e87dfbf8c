"""``compat="mge2024"``: the multipartite graph of ``eliacunegatti/mge-snn`` node for node (graphs.md §2.5).

The published code numbers a list of *units* (the partition-owning layers, shortcut convs excluded):
``dim = [L_0, R_0, …, R_{T−1}]`` with offsets ``S_t``. Unit t's local edges follow the published order
(input channel, output channel, output position, taps column-outer); the first unit keeps its padding
pixels as nodes (Q1), later units drop edges from padding and number their sources on the
``Q = P − 2p`` grid, which misplaces the sources and targets of stride-cropped convs (Q3). Pooled units
replace each local edge by one edge per member of its pooling window. Projection shortcuts follow
all units; identity shortcuts give no edges (Q2). Weights are ``float16(|w|)``.

Constructs on which the published code crashes, or silently drops or misplaces layers, raise
:class:`~sparsegraph.errors.CompatError` naming the layer and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from sparsegraph.errors import CompatError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Partition
from sparsegraph.graphs.encodings import build_layer
from sparsegraph.graphs.encodings.spec import LayerSpec, float16_weights
from sparsegraph.graphs.encodings.unrolled import _compat_grid
from sparsegraph.graphs.mge.structure import Plan

MODE = "mge2024"


@dataclass(frozen=True)
class Window:
    """The pooling a pooled unit reads through: windows of side ``kernel`` every ``stride`` on a g×g grid."""

    channels: int
    grid: int
    kernel: int
    stride: int

    @property
    def per_side(self) -> int:
        """``nw = ⌈g/s⌉``: window origins ``{0, s, 2s, …} < g``."""
        return -(-self.grid // self.stride)

    def lengths(self, v: np.ndarray) -> np.ndarray:
        """Members of window number ``v = c·nw² + wy·nw + wx`` (clipped at g)."""
        nw = self.per_side
        w = v % (nw * nw)

        def side(origin: np.ndarray) -> np.ndarray:
            return np.minimum(origin * self.stride + self.kernel, self.grid) - origin * self.stride

        return side(w // nw) * side(w % nw)

    def expand(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One row per member of window v, members row-major: ``(position in v, member m = c·g² + y·g + x)``."""
        nw, g = self.per_side, self.grid
        c, w = v // (nw * nw), v % (nw * nw)
        y0, x0 = (w // nw) * self.stride, (w % nw) * self.stride
        h = np.minimum(y0 + self.kernel, g) - y0
        wd = np.minimum(x0 + self.kernel, g) - x0
        counts = h * wd
        position = np.repeat(np.arange(v.size, dtype=np.int64), counts)
        inner = np.arange(position.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
        width = wd[position]
        y = y0[position] + inner // width
        x = x0[position] + inner % width
        return position, c[position] * g * g + y * g + x


@dataclass(frozen=True)
class Unit:
    """One unit of the published code: a partition-owning layer with its input side."""

    name: str
    spec: LayerSpec
    first: bool
    window: Window | None
    side: int = 0       # I, the (pooled) input side of a conv unit
    P: int = 0          # padded (and cropped) grid side
    o: int = 0          # output side
    pad: int = 0
    cropped: bool = False

    @property
    def Q(self) -> int:
        return self.P - 2 * self.pad

    @property
    def left(self) -> int:
        """``L_t``."""
        if not self.spec.is_conv:
            return int(self.spec.support.shape[1])
        side = self.P if self.first else self.Q
        return self.spec.in_channels * side * side

    @property
    def right(self) -> int:
        """``R_t``."""
        if not self.spec.is_conv:
            return int(self.spec.support.shape[0])
        return self.spec.out_channels * self.o * self.o


@dataclass(frozen=True)
class Shortcut:
    """A projection shortcut of the block whose input is partition a."""

    name: str
    spec: LayerSpec
    block_input: int
    side: int  # D


def _fail(layer: str, rule: str, op: str = "mge2024") -> CompatError:
    return CompatError(op, layer, f"outside the scope of compat='mge2024': {rule}; use compat=None for the "
                       "clean encoding")


class CompatEdges:
    """Tables and per-set edges of the published multipartite graph.

    Args:
        plan: the clean plan (it tells which layers own partitions and which are shortcuts).
        specs: layer FQN -> :class:`LayerSpec` with support ``mask·w ≠ 0``.
    """

    def __init__(self, plan: Plan, specs: Mapping[str, LayerSpec]):
        self.plan = plan
        self.specs = specs
        self.units, self.shortcuts = self._analyse()
        self.dim = [self.units[0].left] + [u.right for u in self.units]
        self.S = np.cumsum([0] + self.dim).astype(np.int64)

    # ------------------------------------------------------------------ scope and units
    def _walk(self, node_id: int) -> tuple[int, list]:
        """From a tensor back to the unit output (or input) it comes from: ``(partition, pools on the way)``."""
        nodes, plan = self.plan.topology.nodes, self.plan
        pools = []
        node = nodes[node_id]
        while node.kind not in ("layer", "input", "add"):
            if node.kind in ("pool", "global_pool"):
                pools.append(node)
            elif node.kind != "reshape":
                raise _fail(node.module or "(root)", f"'{node.kind}' operations ({node.op}) are not supported "
                            "(only conv/linear chains and ResNet blocks)", node.kind)
            node = nodes[node.inputs[0]]
        return plan.node_partition[node.id], pools

    def _analyse(self) -> tuple[list[Unit], list[Shortcut]]:
        plan = self.plan
        topo = plan.topology
        nodes = topo.nodes
        residual = any(n.kind == "add" for n in nodes)
        for n in nodes:
            if n.kind in ("cat", "slice", "pad", "adaptive_pool"):
                raise _fail(n.module or "(root)", f"'{n.kind}' operations ({n.op}) are not supported", n.kind)
            if n.kind == "pool" and residual and tuple(n.out_shape[1:]) != (1, 1):
                raise _fail(n.module or "(root)", "no pooling modules in residual nets (only global average "
                            "pooling)", n.kind)
            if n.kind == "global_pool" and n.params.get("type") != "avg":
                raise _fail(n.module or "(root)", "global pooling must be an average", n.kind)
        if any(p.kind == "add" for p in plan.partitions):
            add = next(p for p in plan.partitions if p.kind == "add")
            raise _fail(nodes[add.node].module or "(root)", "an addition without a layer output operand", "add")
        shape = topo.input_shape
        if len(shape) == 3 and shape[1] != shape[2]:
            raise _fail("input", f"square inputs only, got {shape[1]}x{shape[2]}")

        units: list[Unit] = []
        for t, part in enumerate(plan.partitions[1:]):
            spec = self.specs[part.layer]
            layer_node = nodes[part.node]
            source, pools = self._walk(layer_node.inputs[0])
            if source != t:
                raise _fail(part.layer, "each layer must read the output of the layer before it "
                            f"(it reads partition {plan.partitions[source].name!r})")
            if len(pools) > 1:
                raise _fail(part.layer, "one pooling between two layers at most")
            window = None
            if pools:
                if t == 0:
                    raise _fail(part.layer, "the input must not be pooled before the first layer")
                if t == 1:
                    raise _fail(part.layer, "the first layer must not be followed directly by pooling")
                window = self._window(pools[0], part.layer)
            elif not spec.is_conv and t > 0 and plan.partitions[t].kind == "conv":
                raise _fail(part.layer, "conv -> flatten -> linear needs a pooling in between")
            if spec.is_conv:
                P, o, pad = _compat_grid(replace(spec, shortcut=False))
                cropped = (spec.input_hw[0] + 2 * pad - spec.support.shape[2]) % spec.stride[0] != 0
                units.append(Unit(part.layer, spec, t == 0, window, spec.input_hw[0], P, o, pad, cropped))
            else:
                units.append(Unit(part.layer, spec, t == 0, window))
        for t, unit in enumerate(units):
            # a first-unit crop is Q1 (cropped pixels are not nodes); later crops misalign (Q3), and the
            # published code then reads its list of pooled units: it fails on a pooled conv (the window
            # count no longer matches) and on a conv after the last pooled unit (no entry left)
            if not unit.cropped or unit.first:
                continue
            if unit.window is not None:
                raise _fail(unit.name, "a stride-cropped conv must not read through a pooling")
            if not any(u.window is not None for u in units[t + 1:]):
                raise _fail(unit.name, "a stride-cropped conv after the first layer must be followed later by a "
                            "pooled layer")
        return units, self._shortcuts(units)

    def _window(self, pool, layer: str) -> Window:
        C, g = int(pool.out_shape[0]), int(self.plan.topology.nodes[pool.inputs[0]].out_shape[-1])
        if pool.kind == "global_pool":
            spec = self.specs[layer]
            fan_in = int(spec.support.shape[1]) * (spec.groups if spec.is_conv else 1)
            k = int(round(np.sqrt(C * g * g / fan_in)))
            return Window(C, g, k, k)
        k, s, p, d = (pool.params[key] for key in ("kernel", "stride", "padding", "dilation"))
        module = pool.module or "(root)"
        if k[0] != k[1] or s[0] != s[1]:
            raise _fail(module, "square pooling kernels and strides only", "pool")
        if tuple(p) != (0, 0) or tuple(d) != (1, 1):
            raise _fail(module, "pooling needs padding 0 and dilation 1", "pool")
        window = Window(C, g, int(k[0]), int(s[0]))
        if window.per_side != (g - k[0]) // s[0] + 1 or tuple(pool.out_shape[1:]) != (window.per_side,) * 2:
            raise _fail(module, f"pooling {k[0]}/{s[0]} on a {g}x{g} map leaves a partial window "
                        "(needs ceil(g/s) = floor((g-k)/s) + 1)", "pool")
        return window

    def _shortcuts(self, units: list[Unit]) -> list[Shortcut]:
        plan = self.plan
        nodes = plan.topology.nodes
        unit_index = {u.name: t for t, u in enumerate(units)}
        shortcuts: list[Shortcut] = []
        adds = [n for n in nodes if n.kind == "add"]
        for k, add in enumerate(adds):
            main_name = nodes[plan.main[add.id]].params["name"]
            t2 = unit_index[main_name]
            block_input = t2 - 1
            others = [i for i in add.inputs if i != plan.main[add.id]]
            if len(others) != 1:
                raise _fail(add.module or "(root)", "a residual add must have exactly two operands", "add")
            other = nodes[others[0]]
            if other.id in plan.absorbed:
                name = other.params["name"]
                spec = self.specs[name]
                source, pools = self._walk(other.inputs[0])
                if spec.support.shape[2:] != (1, 1) or spec.padding != (0, 0) or pools:
                    raise _fail(name, "projection shortcuts must be a single 1x1, padding-0 conv")
                if source != block_input:
                    raise _fail(name, "blocks must hold two convs, the shortcut reading the block input")
                if k == len(adds) - 1:
                    raise _fail(add.module or "(root)", "the last block must have an identity shortcut", "add")
                shortcuts.append(Shortcut(name, spec, block_input, int(spec.input_hw[0])))
            else:
                if other.kind not in ("layer", "add", "input"):
                    raise _fail(add.module or "(root)", f"the shortcut goes through '{other.kind}' "
                                f"({other.op}); only identity and 1x1-conv shortcuts are supported", other.kind)
                if plan.node_partition[other.id] != block_input:
                    raise _fail(add.module or "(root)", "blocks must hold two convs, the identity reading the "
                                "block input", "add")
        return shortcuts

    # ------------------------------------------------------------------ tables
    def tables(self) -> tuple[list[Partition], list[EdgeSet], list[bool]]:
        """The partition table, the edge-set table (exact counts) and the may-merge flags (never)."""
        first = self.units[0]
        in_shape = tuple(self.plan.partitions[0].shape)
        partitions = []
        if first.spec.is_conv:
            partitions.append(Partition(0, "input", "input", "", 0, self.dim[0],
                                        (first.spec.in_channels, first.P, first.P), "chw", first.pad))
        else:
            partitions.append(Partition(0, "input", "input", "", 0, self.dim[0], in_shape,
                                        "chw" if len(in_shape) == 3 else "f"))
        for t, (unit, part) in enumerate(zip(self.units, self.plan.partitions[1:])):
            partitions.append(Partition(t + 1, part.name, part.kind, part.layer, int(self.S[t + 1]),
                                        self.dim[t + 1], tuple(part.shape), part.coords))
        edge_sets = []
        for i, (name, kind, src_range, dst_range, count) in enumerate(self._set_rows()):
            edge_sets.append(EdgeSet(i, name, kind, self._touching(src_range), self._touching(dst_range), count))
        return partitions, edge_sets, [False] * len(edge_sets)

    def _touching(self, ids: tuple[int, int]) -> tuple[int, ...]:
        lo, hi = ids
        if hi <= lo:
            return ()
        first = int(np.searchsorted(self.S, lo, side="right")) - 1
        last = int(np.searchsorted(self.S, hi - 1, side="right")) - 1
        return tuple(range(first, min(last, len(self.dim) - 1) + 1))

    def _set_rows(self):
        S, dim = self.S, self.dim
        for t, unit in enumerate(self.units):
            kind = "conv" if unit.spec.is_conv else "linear"
            if unit.window is not None:
                src, dst = (S[t], S[t] + dim[t]), (S[t + 1], S[t + 1] + unit.right)
            else:
                src, dst = (S[t], S[t] + unit.left), (S[t] + unit.left, S[t] + unit.left + unit.right)
            yield unit.name, kind, src, dst, self._unit_count(unit)
        for sc in self.shortcuts:
            a = sc.block_input
            o = (sc.side - 1) // sc.spec.stride[0] + 1
            base = S[a] + dim[a + 1] + sc.spec.in_channels * sc.side ** 2
            yield (sc.name, "shortcut", (S[a], S[a] + dim[a]), (base, base + sc.spec.out_channels * o * o),
                   int(np.count_nonzero(sc.spec.support)) * o * o)

    def _unit_count(self, unit: Unit) -> int:
        """Edges of a unit from the support alone."""
        spec = unit.spec
        if not spec.is_conv:
            fan = spec.support.sum(axis=0, dtype=np.int64)
            if unit.window is None:
                return int(fan.sum())
            return int((fan * unit.window.lengths(np.arange(fan.size, dtype=np.int64))).sum())
        per_tap = spec.support.sum(axis=0, dtype=np.int64)  # (Cin/G, kh, kw) pairs per jl
        if unit.first:
            return int(per_tap.sum()) * unit.o * unit.o
        kh, kw = spec.support.shape[2:]
        s, P, p, Q = spec.stride[0], unit.P, unit.pad, unit.Q
        depthwise = spec.groups != 1
        per_j = spec.support[:, 0] if depthwise else None  # depthwise: (C, kh, kw), j = c
        total = 0
        for a in range(kh):
            ys = np.arange(unit.o) * s + a
            ys = ys[(ys >= p) & (ys < P - p)] - p
            for b in range(kw):
                xs = np.arange(unit.o) * s + b
                xs = xs[(xs >= p) & (xs < P - p)] - p
                pairs = per_j[:, a, b].astype(np.int64) if depthwise else per_tap[:, a, b]
                if unit.window is None:
                    total += int(pairs.sum()) * ys.size * xs.size
                    continue
                j = np.arange(pairs.size, dtype=np.int64)
                v = j[:, None, None] * Q * Q + ys[None, :, None] * Q + xs[None, None, :]
                total += int((pairs * unit.window.lengths(v).sum(axis=(1, 2))).sum())
        return total

    # ------------------------------------------------------------------ edges
    def generate(self, index: int) -> EdgeArrays:
        """Edge set ``index`` (units first, then shortcuts) in the published order."""
        if index < len(self.units):
            src, dst, signed = self._unit_edges(index)
        else:
            src, dst, signed = self._shortcut_edges(self.shortcuts[index - len(self.units)])
        signed = signed.astype(np.float32, copy=False)
        return EdgeArrays(src, dst, float16_weights(signed), signed, np.full(src.size, index, dtype=np.int32))

    def _unit_edges(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        unit = self.units[t]
        spec = replace(unit.spec, shortcut=False)
        local = build_layer(spec, "unrolled" if spec.is_conv else "rolled", MODE)
        v, u, signed = local.arrays.src, local.arrays.dst - local.num_left, local.arrays.signed_weight
        if spec.is_conv and not unit.first:
            P, p, Q = unit.P, unit.pad, unit.Q
            j, y, x = v // (P * P), (v // P) % P - p, v % P - p
            keep = (y >= 0) & (y < Q) & (x >= 0) & (x < Q)
            v, u, signed = j[keep] * Q * Q + y[keep] * Q + x[keep], u[keep], signed[keep]
        S = self.S
        if unit.window is None:
            return S[t] + v, S[t] + unit.left + u, signed
        position, member = unit.window.expand(v)
        return S[t] + member, S[t + 1] + u[position], signed[position]

    def _shortcut_edges(self, sc: Shortcut) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        local = build_layer(replace(sc.spec, shortcut=True), "unrolled", MODE)
        a = sc.block_input
        base = self.S[a] + self.dim[a + 1] + sc.spec.in_channels * sc.side ** 2
        return self.S[a] + local.arrays.src, base + local.arrays.dst - local.num_left, local.arrays.signed_weight
