"""NPB's options and its per-layer plan: roles, max taps, β and chunks (spec pruning §2 ``npb``).

The per-layer rules are the released driver's (``pvh1602/NPB``, ``Optimization_Pruner.prune``), applied to
the traced layers in forward order:

* the first layer (a conv): ``max_p = k_h·k_w``, β = ``npb_beta``, never chunked;
* a 1×1 projection shortcut (a 1×1, padding-0 conv reading the same tensor as an earlier layer):
  ``max_p = 1``, β = 0.001; after it the running ``max_p`` drops by 2 while above 5;
* other convs: the running ``max_p`` (start ``npb_max_p``, capped at the kernel's taps), raised to
  ⌈n / (C_in·C_out)⌉ per chunk when larger;
* linear layers: ``max_p = 1``, β = 0.

Chunking (``npb_chunk`` output channels per block, 0 = whole layers): convs with C_out·C_in > 128²,
or > 64·32 on CIFAR-style residual nets (32×32 inputs and a residual addition, the code's ``is_resnet20``
test), and linear layers with more than 5,120 weights (blocks of 10 outputs). A remainder block is solved
as a smaller chunk (the code leaves it dense). Chunk budgets split the layer's exact count by size
(largest remainder, §1.2), so the layer keeps exactly k_l.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sparsegraph.errors import UsageError
from sparsegraph.pruning.counts import allocate
from sparsegraph.pruning.npb.milp import NODE_TERMS, whole_layer_max_p

PLACEMENTS = ("magnitude", "random")
BASE_INITS = ("erk", "uniform")
SHORTCUT_BETA = 0.001
LINEAR_CHUNK_ROWS = 10
LINEAR_CHUNK_ABOVE = 512 * 10
CONV_CHUNK_ABOVE = 128 * 128
CIFAR_RESNET_CHUNK_ABOVE = 64 * 32

# the API keywords (CLI flags: the same with dashes) and their defaults
NPB_OPTIONS: dict[str, Any] = {"npb_alpha": 0.01, "npb_beta": 1.0, "npb_max_p": 9, "npb_chunk": 32, "npb_init": "erk",
                               "npb_node_term": "code", "npb_placement": "magnitude", "npb_refine": True,
                               "npb_time_limit": None}


@dataclass(frozen=True)
class NpbOptions:
    """NPB's own options, validated once (the run summary records them as ``npb_*``).

    Attributes:
        alpha: α, the weight of the node term A (``1 − α`` weighs the path term B).
        beta: β, the weight of Reg (non-empty kernels) for the convs that are not the rules' exceptions.
        max_p: ``npb_max_p``, the starting most taps per kernel of the inner convs.
        chunk: output channels per MILP block of large layers; 0 solves whole layers.
        init: layer densities: ``erk``, ``uniform`` or any other generator's mask.
        node_term: ``code`` (A ignores P_in, as the released code) or ``paths`` (the paper's A).
        placement: taps inside a kernel at the largest |θ| (``magnitude``) or seeded uniform positions.
        refine: run the effective-weight post-pass.
        time_limit: seconds per MILP solve (None: no limit); reaching it is an error naming the layer.
    """

    alpha: float = 0.01
    beta: float = 1.0
    max_p: int = 9
    chunk: int = 32
    init: str = "erk"
    node_term: str = "code"
    placement: str = "magnitude"
    refine: bool = True
    time_limit: float | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> NpbOptions:
        """Validate the ``npb_*`` keywords (missing ones take their defaults)."""
        o = {**NPB_OPTIONS, **{k: v for k, v in options.items() if k in NPB_OPTIONS and v is not None}}
        alpha, beta = float(o["npb_alpha"]), float(o["npb_beta"])
        if not 0.0 <= alpha <= 1.0 or math.isnan(alpha):
            raise UsageError(f"npb_alpha must be in [0, 1], got {o['npb_alpha']}")
        if not beta >= 0.0:
            raise UsageError(f"npb_beta must be >= 0, got {o['npb_beta']}")
        max_p, chunk = o["npb_max_p"], o["npb_chunk"]
        if isinstance(max_p, bool) or int(max_p) != max_p or int(max_p) < 1:
            raise UsageError(f"npb_max_p must be an integer >= 1, got {max_p!r}")
        if isinstance(chunk, bool) or int(chunk) != chunk or int(chunk) < 0:
            raise UsageError(f"npb_chunk must be an integer >= 0 (0 = whole layers), got {chunk!r}")
        if o["npb_node_term"] not in NODE_TERMS:
            raise UsageError(f"npb_node_term must be one of {NODE_TERMS}, got {o['npb_node_term']!r}")
        if o["npb_placement"] not in PLACEMENTS:
            raise UsageError(f"npb_placement must be one of {PLACEMENTS}, got {o['npb_placement']!r}")
        if not isinstance(o["npb_init"], str) or o["npb_init"] == "npb":
            raise UsageError(f"npb_init must be erk, uniform or another generator's name, got {o['npb_init']!r}")
        limit = o["npb_time_limit"]
        if limit is not None and not float(limit) > 0:
            raise UsageError(f"npb_time_limit must be > 0 seconds, got {limit!r}")
        return cls(alpha, beta, int(max_p), int(chunk), o["npb_init"], o["npb_node_term"], o["npb_placement"],
                   bool(o["npb_refine"]), None if limit is None else float(limit))

    def to_dict(self) -> dict[str, Any]:
        """The values used, under their API names (``npb_alpha``, …)."""
        return {f"npb_{key}": value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class Chunk:
    """A block of output rows ``[start, stop)`` solved as one MILP with ``budget`` taps and ``max_p``."""

    start: int
    stop: int
    budget: int
    max_p: int


@dataclass(frozen=True)
class LayerPlan:
    """How one maskable layer is solved.

    Attributes:
        name: module name; ``param``: its weight.
        role: ``first``, ``shortcut``, ``conv`` or ``linear``.
        c_out, c_in, taps: the MILP's matrix (taps = k_h·k_w, 1 for linear layers).
        budget: the layer's exact count k_l.
        max_p: the layer's max taps per kernel (chunks may raise their own).
        beta: the layer's β (α is global).
        chunks: the MILP blocks, in row order.
    """

    name: str
    param: str
    role: str
    c_out: int
    c_in: int
    taps: int
    budget: int
    max_p: int
    beta: float
    chunks: tuple[Chunk, ...]


def is_projection_shortcut(info: Any, earlier: list[Any]) -> bool:
    """A 1×1, padding-0 conv reading the same tensor as an earlier layer (the block's first conv)."""
    return (info.kind == "conv2d" and tuple(info.kernel_size) == (1, 1) and tuple(info.padding) == (0, 0)
            and any(tuple(e.inputs) == tuple(info.inputs) for e in earlier))


def chunk_threshold(topology: Any) -> int:
    """C_out·C_in above which convs are chunked: 64·32 on 32×32-input residual nets, else 128²."""
    residual = any(node.kind == "add" for node in topology.nodes)
    side = tuple(topology.input_shape[-2:]) if len(topology.input_shape) == 3 else ()
    return CIFAR_RESNET_CHUNK_ABOVE if residual and side == (32, 32) else CONV_CHUNK_ABOVE


def _chunks(c_out: int, c_in: int, taps: int, budget: int, max_p: int, rows: int) -> tuple[Chunk, ...]:
    starts = list(range(0, c_out, rows))
    sizes = np.array([(min(s + rows, c_out) - s) * c_in * taps for s in starts], dtype=np.int64)
    budgets = allocate(budget * sizes / sizes.sum(), sizes, budget) if len(starts) > 1 else np.array([budget])
    return tuple(Chunk(s, min(s + rows, c_out), int(n), whole_layer_max_p(max_p, taps, int(n), min(s + rows, c_out) - s,
                                                                          c_in) if n else max_p)
                 for s, n in zip(starts, budgets))


def plan_layers(topology: Any, budgets: Mapping[str, int], options: NpbOptions) -> list[LayerPlan]:
    """The plans of the layers in ``budgets`` (param -> k_l), in forward (trace) order.

    Raises:
        UsageError: a maskable weight the trace never reaches, or a grouped convolution.
    """
    traced = {info.param for info in topology.layers}
    missing = [p for p in budgets if p not in traced]
    if missing:
        raise UsageError(f"npb: {missing[0]!r} is not reached by the forward pass, so it has no paths to "
                         "optimise; exclude it")
    threshold = chunk_threshold(topology)
    running_max_p = options.max_p
    plans: list[LayerPlan] = []
    for index, info in enumerate(topology.layers):
        if info.param not in budgets:
            continue
        if info.kind == "conv2d" and info.groups != 1:
            raise UsageError(f"npb: grouped convolution {info.name!r} (groups={info.groups}) is not supported; "
                             "exclude it")
        budget = int(budgets[info.param])
        c_out, c_in = int(info.weight_shape[0]), int(info.weight_shape[1])
        taps = int(np.prod(info.weight_shape[2:])) if info.kind == "conv2d" else 1
        rows = c_out
        if info.kind == "linear":
            role, max_p, beta = "linear", 1, 0.0
            if options.chunk and c_out * c_in > LINEAR_CHUNK_ABOVE:
                rows = LINEAR_CHUNK_ROWS
        elif index == 0:
            role, max_p, beta = "first", taps, options.beta
        elif is_projection_shortcut(info, list(topology.layers[:index])):
            role, max_p, beta = "shortcut", 1, SHORTCUT_BETA
        else:
            role, max_p, beta = "conv", min(running_max_p, taps), options.beta
        if role in ("shortcut", "conv") and options.chunk and c_out * c_in > threshold:
            rows = options.chunk
        layer_max_p = whole_layer_max_p(max_p, taps, budget, c_out, c_in) if budget else max_p
        plans.append(LayerPlan(info.name, info.param, role, c_out, c_in, taps, budget, layer_max_p, beta,
                               _chunks(c_out, c_in, taps, budget, max_p, rows)))
        if role == "shortcut" and running_max_p > 5:
            running_max_p -= 2
    return plans
