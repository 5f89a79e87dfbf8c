"""Exact input→output path counts and effectiveness over a traced dataflow (metrics.md §5.1, §8).

The collapsed DAG of :func:`sparsegraph.trace` is evaluated as a linear, nonnegative count network
whose prunable weights are their 0/1 masks: convolutions are cross-correlations with the mask (zero
padding carries no paths, biases are ignored), norms and activations are the identity, every pooling
is a window sum, additions and concatenations sum and join.

Four passes run over the DAG, two at a time: every tensor is carried as a batch of two,

* sample 0, the **count** (``f`` forward, ``b`` backward), held as ``values · 2**e`` with an integer
  exponent ``e`` per tensor and renormalised after every operation so that ``max(values)`` lies in
  ``[1, 2)`` (dividing by a power of two is exact, so counts below ``2**53`` stay exact integers and
  counts far above ``1e308`` stay finite);
* sample 1, the **indicator** (``F⁺``, ``B⁺``), clamped to ``{0, 1}`` after every operation (sums
  become ORs).

A kept weight is effective iff the weight-gradient of ``(F⁺, B⁺)`` is positive at it: for a conv weight
``(o, i, r, s)``, iff some output position ``p`` has ``F⁺[i, p·stride + (r, s)·dilation − padding] = 1``
(in bounds) and ``B⁺[o, p] = 1``. A unit (channel or feature) is effective iff ``F⁺ = B⁺ = 1`` at one
of its positions.

Layers at density ≤ :data:`SPARSE_DENSITY`, and grouped convolutions (whose rolled matrix is block
diagonal), run as one sparse ``Cout × Cin·kh·kw`` product per sample against
the unfolded (im2col) input, i.e. the ``kh·kw`` shifted, strided views of the input stacked, which costs
``O(nnz·Ho·Wo)``; their effectiveness is one sampled product at the mask's nonzeros. Denser layers use
``conv2d`` with the 0/1 mask and its input/weight gradient ops. Everything is float64 on one device.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sparsegraph.errors import MetricError
from sparsegraph.utils.memory import check_memory
from sparsegraph.utils.sparse_matvec import torch_csr

# At or below this density a layer runs as sparse products (metrics.md §8).
SPARSE_DENSITY = 0.1

# node kinds whose output may be a view of their input
_VIEW_KINDS = ("reshape", "slice")


@dataclass(frozen=True)
class _Counts:
    """A tensor of the two passes: ``data[0]`` counts (times ``2**exponent``), ``data[1]`` the indicator."""

    data: Tensor  # (2, *sample_shape), float64
    exponent: int
    is_zero: bool


@dataclass(frozen=True)
class PathPasses:
    """The results of the exact passes over one (model, masks, input shape).

    Attributes:
        layers: traced prunable layer names, in trace order.
        params: layer name -> parameter name of its weight.
        log10_paths: ``log10 P``, or None when ``P = 0``.
        paths: ``P`` as a float (``inf`` when it exceeds the float64 range).
        kept: layer name -> number of kept weights.
        numel: layer name -> number of weights.
        effective: layer name -> bool tensor (weight shape, on the compute device) of effective weights.
        input_units: layer name -> number of effective units of the tensor it reads.
        tensor_of: layer name -> key of the tensor it reads (reshapes of one tensor share a key).
        input_key: key of the network input; ``output_key`` / ``output_units``: the logits.
        input_units_native: effective units of the network input in its own layout (used when no layer
            reads it).
        log_conservation: ``(log10 Σ_out f, log10 Σ_in b)`` for checks (``None`` entries when zero).
        output_indicator: layer name -> ``B⁺`` of the tensor the layer writes (its output shape); filled
            only when ``run_passes(..., output_indicators=True)``.
    """

    layers: tuple[str, ...]
    params: Mapping[str, str]
    log10_paths: float | None
    paths: float
    kept: Mapping[str, int]
    numel: Mapping[str, int]
    effective: Mapping[str, Tensor]
    input_units: Mapping[str, int]
    tensor_of: Mapping[str, int]
    input_key: int
    input_units_native: int
    output_key: int
    output_units: int
    log_conservation: tuple[float | None, float | None]
    output_indicator: Mapping[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Inflow:
    """What reaches a prunable layer in the forward count pass.

    Attributes:
        counts: path counts into every input entry, times ``2**-exponent`` (shape: the layer's input).
        exponent: the power of two the counts are scaled by.
        indicator: ``F⁺`` of the same entries (0/1).
    """

    counts: Tensor
    exponent: int
    indicator: Tensor

    def per_unit(self) -> Tensor:
        """Counts summed over the positions of each unit (channel of (C,H,W), feature of (F,))."""
        return self.counts.reshape(self.counts.shape[0], -1).sum(dim=1)

    def alive_units(self) -> Tensor:
        """Bool per unit: some path reaches one of its positions (exact, also where ``counts`` underflow)."""
        return self.indicator.reshape(self.indicator.shape[0], -1).amax(dim=1) > 0


# ------------------------------------------------------------------------------------------ numerics
def _renormalise(data: Tensor, exponent: int, owned: bool = False) -> _Counts:
    """Scale the count sample into ``[1, 2)`` by an exact power of two; clamp the indicator to {0, 1}.

    ``owned``: ``data`` is a fresh tensor that nothing else references, so it is updated in place;
    otherwise (views from reshapes and slices, gradients from autograd) the result is a new tensor.
    """
    if not owned:
        data = data.clone(memory_format=torch.contiguous_format)
    counts = data[0]
    peak = float(counts.max()) if counts.numel() else 0.0
    if peak > 0:
        shift = math.frexp(peak)[1] - 1  # floor(log2 peak)
        if shift:
            counts.mul_(2.0 ** -shift)  # exact: a power of two
            exponent += shift
    data[1].clamp_(max=1.0)
    return _Counts(data, exponent, peak <= 0)


def _aligned(parts: Sequence[_Counts]) -> tuple[list[Tensor], int]:
    """The parts' data with their counts rescaled to the largest exponent among the nonzero parts."""
    live = [p.exponent for p in parts if not p.is_zero]
    top = max(live) if live else 0
    out = []
    for part in parts:
        data = part.data
        if part.exponent != top and not part.is_zero:
            data = data.clone()
            data[0].mul_(2.0 ** (part.exponent - top))
        out.append(data)
    return out, top


def _log10_total(counts: Sequence[_Counts]) -> float | None:
    """``log10 Σ (values · 2**e)`` over ``counts``, computed without forming the (possibly huge) sum."""
    if not counts:
        return None
    datas, top = _aligned(counts)
    total = float(sum(d[0].sum() for d in datas))
    if total <= 0:
        return None
    return (top * math.log(2.0) + math.log(total)) / math.log(10.0)


# ----------------------------------------------------------------------------------- linear operators
def _csr(rows: Tensor, cols: Tensor, size: tuple[int, int]) -> Tensor:
    """A float64 CSR matrix of ones at ``(rows, cols)``, given sorted by row and then column."""
    crow = torch.zeros(size[0] + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=size[0]), 0)
    values = torch.ones(rows.numel(), dtype=torch.float64, device=rows.device)
    return torch_csr(crow, cols, values, size)  # int32 on the CPU: ≈ 20 % of the paths family on ResNet-18


def _runs_sparse(info: Any, kept: int, numel: int) -> bool:
    """Whether a layer runs as sparse products: density at most SPARSE_DENSITY, or a grouped conv."""
    return numel > 0 and (kept <= SPARSE_DENSITY * numel or (info.kind == "conv2d" and info.groups > 1))


class _LayerOp:
    """Forward, transposed and weight-gradient operators of one prunable layer with weight = its mask."""

    def __init__(self, info: Any, mask: Tensor, device: torch.device):
        self.info = info
        self.mask = mask.to(device=device, dtype=torch.bool)
        self.kept = int(torch.count_nonzero(self.mask))
        self.numel = self.mask.numel()
        self.is_conv = info.kind == "conv2d"
        self.input_indicator_cols: Tensor | None = None
        self.sparse = _runs_sparse(info, self.kept, self.numel)
        if self.sparse:
            rows, cols = self._rolled_indices()
            n_cols = (info.in_shape[0] * info.kernel_size[0] * info.kernel_size[1]) if self.is_conv \
                else info.in_features
            n_rows = self.mask.shape[0]
            self.matrix = _csr(rows, cols, (n_rows, n_cols))  # nonzero() order is (row, column)-sorted
            by_column = torch.argsort(cols * n_rows + rows)
            self.matrix_t = _csr(cols[by_column], rows[by_column], (n_cols, n_rows))
        else:
            self.dense = self.mask.to(torch.float64)

    def _rolled_indices(self) -> tuple[Tensor, Tensor]:
        """Row (output) and column (rolled input ``c·kh·kw + r·kw + s``) indices of the kept weights.

        Also keeps :attr:`flat_kept`, the C-order flat positions of the kept weights (row-major, so
        sorted by row and then rolled column: the order of the CSR values).
        """
        self.flat_kept = _flat_nonzero(self.mask)
        per_row = self.numel // self.mask.shape[0]  # in_features, or C_in/groups·kh·kw
        rows, local = self.flat_kept // per_row, self.flat_kept % per_row
        if not self.is_conv or self.info.groups == 1:
            return rows, local
        # grouped conv: the rolled column of input channel g·C_in/groups + c is offset by its group g
        per_group_out = self.mask.shape[0] // self.info.groups
        return rows, (rows // per_group_out) * per_row + local

    def _unfold(self, x: Tensor) -> Tensor:
        info = self.info
        return F.unfold(x, info.kernel_size, dilation=info.dilation, padding=info.padding, stride=info.stride)

    def forward(self, x: Tensor) -> Tensor:
        info = self.info
        batch = x.shape[0]
        if not self.is_conv:
            return (self.matrix @ x.t()).t() if self.sparse else x @ self.dense.t()
        if not self.sparse:
            return F.conv2d(x, self.dense, None, info.stride, info.padding, info.dilation, info.groups)
        cols = self._unfold(x)  # (B, Cin·kh·kw, L); each sample's block is contiguous
        self.input_indicator_cols = cols[1]  # F⁺ unfolded, reused by the weight-gradient op
        return torch.stack([self.matrix @ cols[b] for b in range(batch)]).reshape(batch, *info.out_shape)

    def transpose(self, g: Tensor) -> Tensor:
        info = self.info
        batch = g.shape[0]
        if not self.is_conv:
            return (self.matrix_t @ g.t()).t() if self.sparse else g @ self.dense
        if not self.sparse:
            return torch.nn.grad.conv2d_input((batch, *info.in_shape), self.dense, g, info.stride, info.padding,
                                              info.dilation, info.groups)
        flat = g.reshape(batch, info.out_shape[0], -1)
        cols = torch.stack([self.matrix_t @ flat[b] for b in range(batch)])
        return F.fold(cols, info.in_shape[1:], info.kernel_size, dilation=info.dilation, padding=info.padding,
                      stride=info.stride)

    def effective(self, f_ind: Tensor, b_ind: Tensor) -> Tensor:
        """Kept weights with a positive weight-gradient of the indicators (bool, weight shape)."""
        info = self.info
        if not self.is_conv:
            return self.mask & (torch.outer(b_ind, f_ind) > 0)
        if not self.sparse:
            grad = torch.nn.grad.conv2d_weight(f_ind[None], self.mask.shape, b_ind[None], info.stride,
                                               info.padding, info.dilation, info.groups)
            return self.mask & (grad > 0)
        cols, self.input_indicator_cols = self.input_indicator_cols, None  # (Cin·kh·kw, L), from the forward
        if self.kept == 0:
            return self.mask.clone()
        b_flat = b_ind.reshape(b_ind.shape[0], -1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            sampled = torch.sparse.sampled_addmm(self.matrix, b_flat, cols.t(), beta=0.0)
        # the CSR values are in (row, rolled column) order, which is the C order of the mask's nonzeros
        out = torch.zeros_like(self.mask)
        out.view(-1)[self.flat_kept] = sampled.values() > 0
        return out


def _flat_nonzero(mask: Tensor) -> Tensor:
    """C-order flat indices of the True entries of a bool tensor (int64, ascending).

    On the CPU NumPy's ``flatnonzero`` is ≈ 5× faster than ``torch.nonzero`` on these masks.
    """
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return torch.nonzero(mask.reshape(-1)).squeeze(1)


def _window_sum_matrix(size: int, out: int, device: torch.device) -> Tensor:
    """0/1 matrix ``(out, size)`` of PyTorch's adaptive windows ``floor(i·size/out) .. ceil((i+1)·size/out)``."""
    i = torch.arange(out, device=device)
    start = (i * size) // out
    end = ((i + 1) * size + out - 1) // out
    j = torch.arange(size, device=device)
    return ((j[None] >= start[:, None]) & (j[None] < end[:, None])).to(torch.float64)


def _pool_sum(x: Tensor, params: Mapping[str, Any], out_shape: Sequence[int]) -> Tensor:
    """Window sums of a (max or avg) pooling: zero padding, and right padding up to the ceil-mode size."""
    (kh, kw), (sh, sw) = params["kernel"], params["stride"]
    (ph, pw), (dh, dw) = params["padding"], params["dilation"]
    ho, wo = out_shape[1], out_shape[2]
    need_h = (ho - 1) * sh + dh * (kh - 1) + 1
    need_w = (wo - 1) * sw + dw * (kw - 1) + 1
    padded = F.pad(x, (pw, max(0, need_w - x.shape[3] - pw), ph, max(0, need_h - x.shape[2] - ph)))
    cols = F.unfold(padded, (kh, kw), dilation=(dh, dw), stride=(sh, sw))  # (B, C·kh·kw, L)
    batch, channels = x.shape[0], x.shape[1]
    sums = cols.reshape(batch, channels, kh * kw, -1).sum(2)
    return sums[:, :, : ho * wo].reshape(batch, channels, ho, wo)


def _node_function(node: Any, topology: Any, device: torch.device) -> Callable[..., Tensor]:
    """The linear map of a non-layer DAG node, on batched inputs ``(B, *sample_shape)``."""
    kind, params = node.kind, node.params
    out_shape = tuple(node.out_shape)
    if kind == "add":
        return lambda *xs: sum(xs[1:], xs[0])
    if kind == "cat":
        return lambda *xs: torch.cat(xs, dim=params["sample_dim"] + 1)
    if kind == "pool":
        return lambda x: _pool_sum(x, params, out_shape)
    if kind == "adaptive_pool":
        in_shape = topology.nodes[node.inputs[0]].out_shape
        rows = _window_sum_matrix(in_shape[1], out_shape[1], device)
        cols = _window_sum_matrix(in_shape[2], out_shape[2], device)
        return lambda x: rows @ x @ cols.t()
    if kind == "global_pool":
        return lambda x: x.sum(dim=(2, 3)).reshape(x.shape[0], *out_shape)
    if kind == "reshape":
        perm = params.get("perm")
        if perm is None:
            return lambda x: x.reshape(x.shape[0], *out_shape)
        axes = (0, *(p + 1 for p in perm))
        return lambda x: x.permute(*axes).reshape(x.shape[0], *out_shape)
    if kind == "slice":
        dim = params["sample_dim"] + 1
        index = slice(params["start"], params["stop"], params["step"])
        return lambda x: x[(slice(None),) * dim + (index,)]
    if kind == "pad":
        return lambda x: F.pad(x, tuple(params["pad"]))
    raise MetricError(f"paths: unsupported operation {node.op} at node {node.id} ({node.kind}, module "
                      f"{node.module or '(root)'})")


def _transpose(function: Callable[..., Tensor], in_shapes: Sequence[Sequence[int]], g: Tensor) -> tuple[Tensor, ...]:
    """The transposed map applied to ``g`` (the vector-Jacobian product of a linear map)."""
    with torch.enable_grad():
        dummies = [torch.zeros((g.shape[0], *s), dtype=g.dtype, device=g.device, requires_grad=True)
                   for s in in_shapes]
        out = function(*dummies)
        grads = torch.autograd.grad(out, dummies, g, allow_unused=True)
    return tuple(torch.zeros_like(d) if gr is None else gr for d, gr in zip(dummies, grads))


# ------------------------------------------------------------------------------------------ the passes
def _source_key(topology: Any, node_id: int) -> int:
    """The DAG node whose tensor ``node_id`` is (reshapes are views of the same tensor)."""
    while topology.nodes[node_id].kind == "reshape":
        node_id = topology.nodes[node_id].inputs[0]
    return node_id


def _effective_units(f_ind: Tensor, b_ind: Tensor) -> int:
    both = (f_ind > 0) & (b_ind > 0)
    if both.dim() > 1:
        both = both.reshape(both.shape[0], -1).any(dim=1)
    return int(both.sum())


def run_passes(model: nn.Module, masks: Mapping[str, Tensor] | None, input_shape: Sequence[int],
               device: torch.device | str | None = None, topology: Any = None,
               output_indicators: bool = False) -> PathPasses:
    """Trace ``model`` and run the exact count and indicator passes.

    Args:
        model: the network (not modified).
        masks: parameter name -> 0/1 mask; a traced layer without a mask is all ones.
        input_shape: per-sample input shape.
        device: where the passes run (default: the masks' device, else the model's, else CPU).
        topology: ``sg.trace(model, input_shape)`` when the caller already has it.
        output_indicators: also keep ``B⁺`` of every layer's output (``PathPasses.output_indicator``).

    Raises:
        MetricError: an operation without a count-network meaning (``paths: unsupported operation``), or
            a model that cannot be traced.
        MemoryLimitError: the trace or the passes are estimated above the memory limit (nothing is
            allocated then).
    """
    masks = dict(masks or {})
    device = torch.device(device) if device is not None else _default_device(model, masks)
    if topology is None:
        topology = traced(model, input_shape)
    check_memory(passes_bytes(topology, masks), "the paths passes (float64, every node of the traced dataflow) "
                 f"on input {'x'.join(map(str, input_shape))}")
    ops: dict[str, _LayerOp] = {}
    for info in topology.layers:
        mask = masks.get(info.param)
        mask = torch.ones(info.weight_shape, dtype=torch.bool) if mask is None else torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(info.weight_shape):
            raise MetricError(f"paths: mask {info.param!r} has shape {tuple(mask.shape)}, the weight has "
                              f"{tuple(info.weight_shape)}")
        ops[info.name] = _LayerOp(info, mask if mask.dtype == torch.bool else mask != 0, device)

    with torch.no_grad():
        f_ind, logits = _forward(topology, ops, device)
        b_ind, input_counts, effective = _backward(topology, ops, f_ind, device)

    output = topology.nodes[-1]
    log10_paths = _log10_total(logits)
    return PathPasses(
        layers=tuple(i.name for i in topology.layers),
        params={i.name: i.param for i in topology.layers},
        log10_paths=log10_paths, paths=_exact_float(logits) if log10_paths is not None else 0.0,
        kept={n: op.kept for n, op in ops.items()}, numel={n: op.numel for n, op in ops.items()},
        effective=effective,
        input_units={i.name: _effective_units(f_ind[i.inputs[0]], b_ind[i.inputs[0]]) for i in topology.layers},
        tensor_of={i.name: _source_key(topology, i.inputs[0]) for i in topology.layers},
        input_key=0, input_units_native=_effective_units(f_ind[0], b_ind[0]),
        output_key=_source_key(topology, output.inputs[0]),
        output_units=sum(_effective_units(f_ind[i], b_ind[i]) for i in output.inputs),
        log_conservation=(log10_paths, _log10_total([input_counts])),
        output_indicator={i.name: b_ind[i.node] for i in topology.layers} if output_indicators else {},
    )


def forward_layerwise(topology: Any, choose: Callable[[Any, Inflow], Tensor],
                      device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """The forward count pass, each layer's mask chosen from what reaches it (NPB's layer sweep).

    The DAG is walked in topological order; at each prunable layer ``choose(info, inflow)`` returns the
    layer's 0/1 mask (weight-shaped) given the :class:`Inflow` through the layers already chosen, and
    the pass goes on with it. Every layer's inflow depends only on the layers before it in this order.

    Returns:
        parameter name -> the chosen bool mask (on ``device``).
    """
    device = torch.device(device)
    ops: dict[str, _LayerOp] = {}
    chosen: dict[str, Tensor] = {}

    def decide(info: Any, x: _Counts) -> None:
        mask = torch.as_tensor(choose(info, Inflow(x.data[0], x.exponent, x.data[1])))
        if tuple(mask.shape) != tuple(info.weight_shape):
            raise MetricError(f"paths: mask {info.param!r} has shape {tuple(mask.shape)}, the weight has "
                              f"{tuple(info.weight_shape)}")
        ops[info.name] = _LayerOp(info, mask if mask.dtype == torch.bool else mask != 0, device)
        chosen[info.param] = ops[info.name].mask

    with torch.no_grad():
        _forward(topology, ops, device, decide)
    return chosen


def potential_effective(info: Any, f_ind: Tensor, b_ind: Tensor) -> Tensor:
    """Every weight position, kept or not, that would be effective: the positive weight-gradient of the
    indicators ``F⁺`` (the layer's input) and ``B⁺`` (its output); bool, weight-shaped."""
    everything = torch.ones(info.weight_shape, dtype=torch.bool, device=f_ind.device)
    with torch.no_grad():
        return _LayerOp(info, everything, f_ind.device).effective(f_ind, b_ind)


def traced(model: nn.Module, input_shape: Sequence[int]) -> Any:
    """``sg.trace(model, input_shape)``, with tracing failures reported as ``MetricError``."""
    from sparsegraph.errors import MemoryLimitError, SparsegraphError, UnsupportedOpError
    from sparsegraph.topology import trace

    try:
        return trace(model, tuple(input_shape))
    except MemoryLimitError:
        raise
    except UnsupportedOpError as exc:
        raise MetricError(f"paths: unsupported operation {exc.op} at {exc.module or '(root)'}: {exc.reason}") from exc
    except SparsegraphError as exc:
        raise MetricError(f"paths: {exc}") from exc


def passes_bytes(topology: Any, masks: Mapping[str, Tensor]) -> int:
    """Estimated peak bytes of :func:`run_passes` (float64), from the trace's shapes and the mask counts.

    Every node keeps its forward and backward indicator (8 bytes per element each); a few count
    tensors of two rows are live at a time (16 bytes per element, the three largest counted); each
    layer holds its 0/1 operator (8 bytes per weight dense, about 24 per kept weight sparse); a sparse
    convolution keeps its unfolded input (2 rows × C_in·kh·kw × output positions) from the forward to
    the backward.
    """
    sizes = sorted(math.prod(node.out_shape) for node in topology.nodes)
    total = 16 * sum(sizes) + 16 * sum(sizes[-3:])
    for info in topology.layers:
        numel = math.prod(info.weight_shape)
        mask = masks.get(info.param)
        kept = numel if mask is None else int(torch.count_nonzero(torch.as_tensor(mask)))
        if not _runs_sparse(info, kept, numel):
            total += 8 * numel
            continue
        total += 24 * kept
        if info.kind == "conv2d":
            total += 16 * info.in_shape[0] * math.prod(info.kernel_size) * math.prod(info.out_shape[1:])
    return total


def _exact_float(counts: Sequence[_Counts]) -> float:
    """``Σ values · 2**e`` as a float (``inf`` beyond the float64 range)."""
    datas, top = _aligned(counts)
    try:
        return math.ldexp(float(sum(d[0].sum() for d in datas)), top)
    except OverflowError:
        return math.inf


def _default_device(model: nn.Module, masks: Mapping[str, Tensor]) -> torch.device:
    for mask in masks.values():
        return torch.as_tensor(mask).device
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _forward(topology: Any, ops: dict[str, _LayerOp], device: torch.device,
             before_layer: Callable[[Any, _Counts], None] | None = None
             ) -> tuple[dict[int, Tensor], list[_Counts]]:
    """The forward indicator ``F⁺`` of every node, and the counts of the tensors the output reads.

    A node's counts are dropped once every node reading it has been computed. ``before_layer(info,
    counts)``, when given, runs as each layer is reached and may set ``ops[info.name]``.
    """
    readers = Counter(i for node in topology.nodes for i in node.inputs)
    live: dict[int, _Counts] = {}
    indicators: dict[int, Tensor] = {}
    for node in topology.nodes[:-1]:  # the last node is the output
        if node.kind == "input":
            counts = _Counts(torch.ones((2, *node.out_shape), dtype=torch.float64, device=device), 0, False)
        elif node.kind == "layer":
            x = live[node.inputs[0]]
            if before_layer is not None:
                before_layer(topology.layer(node.params["name"]), x)
            counts = _renormalise(ops[node.params["name"]].forward(x.data), x.exponent, owned=True)
        else:
            datas, top = _aligned([live[i] for i in node.inputs])
            out = _node_function(node, topology, device)(*datas)
            counts = _renormalise(out, top, owned=node.kind not in _VIEW_KINDS)
        live[node.id] = counts
        indicators[node.id] = counts.data[1].clone()  # a copy, so the counts' storage can be freed
        for i in node.inputs:
            readers[i] -= 1
            if readers[i] == 0:
                del live[i]
    return indicators, [live[i] for i in topology.nodes[-1].inputs]


def _backward(topology: Any, ops: Mapping[str, _LayerOp], f_ind: Mapping[int, Tensor], device: torch.device
              ) -> tuple[dict[int, Tensor], _Counts, dict[str, Tensor]]:
    """The backward indicator ``B⁺`` of every node, the counts ``b`` at the input, and the effective weights.

    Effectiveness is decided at each layer as soon as ``B⁺`` of its output is known.
    """
    pending: dict[int, list[_Counts]] = {}
    for i in topology.nodes[-1].inputs:
        ones = torch.ones((2, *topology.nodes[i].out_shape), dtype=torch.float64, device=device)
        pending.setdefault(i, []).append(_Counts(ones, 0, False))
    indicators: dict[int, Tensor] = {}
    effective: dict[str, Tensor] = {}
    input_counts = None
    for node in reversed(topology.nodes[:-1]):
        parts = pending.pop(node.id, None)
        if parts is None:  # nothing downstream reads this tensor: no path leaves it
            zeros = torch.zeros((2, *node.out_shape), dtype=torch.float64, device=device)
            parts = [_Counts(zeros, 0, True)]
        datas, top = _aligned(parts)
        g = _renormalise(sum(datas[1:], datas[0]), top, owned=len(datas) > 1)
        indicators[node.id] = g.data[1].clone()  # a copy, so the counts' storage can be freed
        if node.kind == "input":
            input_counts = g
            continue
        if node.kind == "layer":
            op = ops[node.params["name"]]
            effective[node.params["name"]] = op.effective(f_ind[node.inputs[0]], g.data[1])
            grad = op.transpose(g.data)
            pending.setdefault(node.inputs[0], []).append(_renormalise(grad, g.exponent, owned=True))
            continue
        function = _node_function(node, topology, device)
        grads = _transpose(function, [topology.nodes[i].out_shape for i in node.inputs], g.data)
        for i, grad in zip(node.inputs, grads):  # autograd may hand out views of g or one tensor twice
            pending.setdefault(i, []).append(_renormalise(grad, g.exponent))
    return indicators, input_counts, effective
