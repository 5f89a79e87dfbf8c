"""The input-aware unrolled encoding of one layer (graphs.md §2.3; Cunegatti et al., TMLR 2024).

Clean: left nodes are the real input pixels ``(j, y, x)`` at ``j·H·W + y·W + x``; right nodes are the
output pixels ``(o, oy, ox)`` at ``o·Ho·Wo + oy·Wo + ox``. A supported tap ``W[o, jl, a, b]`` (input
channel ``j = (o // Cout_g)·Cin_g + jl``) gives the edge ``(j, y, x) -> (o, oy, ox)`` with
``y = oy·s_h − p_h + a·d_h`` and ``x = ox·s_w − p_w + b·d_w`` whenever ``0 ≤ y < H`` and ``0 ≤ x < W``:
``E = Σ_{supported taps} n_h(a)·n_w(b)``.

``compat="mge2024"`` (graphs.md §2.5, per-layer compat): the published graph on the full padded grid
``P`` (cropped to ``(o−1)·s + k`` when s does not divide ``P0 − k``), so padding pixels are left nodes
and every supported tap gives ``o_h·o_w`` edges, in the published order (input channel, output
channel, oy, ox, then taps with column outer and row inner). Projection shortcuts use the unpadded,
uncropped block-input grid.

Linear layers are as in the rolled encoding.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.errors import CompatError, UsageError
from sparsegraph.graphs.bipartite import BipartiteGraph, assemble
from sparsegraph.graphs.encodings import rolled
from sparsegraph.graphs.encodings.spec import LayerSpec, output_size, valid_outputs


def _input_hw(spec: LayerSpec) -> tuple[int, int]:
    if spec.input_hw is None:
        raise UsageError(f"layer {spec.name!r}: the unrolled encoding needs the conv input size "
                         "(input_hw=(H, W), or input_shape= for a model)")
    return spec.input_hw


def _geometry(spec: LayerSpec) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """``(H, W)``, ``(Ho, Wo)`` and ``(kh, kw)`` of a conv layer."""
    H, W = _input_hw(spec)
    kh, kw = spec.support.shape[2:]
    Ho = output_size(H, kh, spec.stride[0], spec.padding[0], spec.dilation[0])
    Wo = output_size(W, kw, spec.stride[1], spec.padding[1], spec.dilation[1])
    if Ho < 1 or Wo < 1:
        raise UsageError(f"layer {spec.name!r}: input {H}x{W} is smaller than the kernel's reach")
    return (H, W), (Ho, Wo), (kh, kw)


def _compat_grid(spec: LayerSpec) -> tuple[int, int, int]:
    """``(P, o, pad)`` of the published per-layer unrolled graph (square geometry only)."""
    (H, W), _, (kh, kw) = _geometry(spec)
    s, p, d = spec.stride, spec.padding, spec.dilation
    if H != W or kh != kw or s[0] != s[1] or p[0] != p[1]:
        raise CompatError("conv2d", spec.name, "compat='mge2024' needs square inputs, kernels, strides "
                          "and paddings")
    if d != (1, 1):
        raise CompatError("conv2d", spec.name, "compat='mge2024' needs dilation 1")
    cout, cin_g = spec.support.shape[:2]
    if spec.groups != 1 and not (cin_g == 1 and spec.groups == cout == spec.in_channels):
        raise CompatError("conv2d", spec.name, "compat='mge2024' needs groups 1 or depthwise convs")
    if spec.shortcut:
        pad = 0
        P = H
        o = (H - kh) // s[0] + 1
        return P, o, pad
    pad = p[0]
    P0 = H + 2 * pad
    o = (P0 - kh) // s[0] + 1
    P = (o - 1) * s[0] + kh if (P0 - kh) % s[0] else P0
    return P, o, pad


def count_nodes(spec: LayerSpec, compat: str | None = None) -> int:
    if not spec.is_conv:
        return rolled.count_nodes(spec, compat)
    if compat == "mge2024":
        P, o, _ = _compat_grid(spec)
        return spec.in_channels * P * P + spec.out_channels * o * o
    (H, W), (Ho, Wo), _ = _geometry(spec)
    return spec.in_channels * H * W + spec.out_channels * Ho * Wo


def _tap_ranges(spec: LayerSpec) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Per kernel row a and column b, the output range ``[lo, hi)`` that reads real pixels."""
    (H, W), (Ho, Wo), (kh, kw) = _geometry(spec)
    rows = [valid_outputs(H, Ho, a, spec.stride[0], spec.padding[0], spec.dilation[0]) for a in range(kh)]
    cols = [valid_outputs(W, Wo, b, spec.stride[1], spec.padding[1], spec.dilation[1]) for b in range(kw)]
    return rows, cols


def count_edges(spec: LayerSpec, compat: str | None = None) -> int:
    """The exact edge count from the support alone (no edge is generated)."""
    if not spec.is_conv:
        return rolled.count_edges(spec, compat)
    per_tap = spec.support.sum(axis=(0, 1), dtype=np.int64)  # (kh, kw)
    if compat == "mge2024":
        _, o, _ = _compat_grid(spec)
        return int(per_tap.sum()) * o * o
    rows, cols = _tap_ranges(spec)
    n_h = np.array([hi - lo for lo, hi in rows], dtype=np.int64)
    n_w = np.array([hi - lo for lo, hi in cols], dtype=np.int64)
    return int((per_tap * np.outer(n_h, n_w)).sum())


def build(spec: LayerSpec, compat: str | None = None) -> BipartiteGraph:
    if not spec.is_conv:
        graph = rolled.build(spec, compat)
        graph.attrs["encoding"] = "unrolled"
        return graph
    if compat == "mge2024":
        return _build_compat(spec)
    (H, W), (Ho, Wo), (kh, kw) = _geometry(spec)
    cout, cin_g = spec.support.shape[:2]
    cout_g = cout // spec.groups
    s, p, d = spec.stride, spec.padding, spec.dilation
    rows, cols = _tap_ranges(spec)
    srcs, dsts, vals = [], [], []
    for a in range(kh):
        oy = np.arange(*rows[a], dtype=np.int64)
        for b in range(kw):
            ox = np.arange(*cols[b], dtype=np.int64)
            o, jl = np.nonzero(spec.support[:, :, a, b])
            if o.size == 0 or oy.size == 0 or ox.size == 0:
                continue
            j = (o // cout_g) * cin_g + jl
            y = oy * s[0] - p[0] + a * d[0]
            x = ox * s[1] - p[1] + b * d[1]
            # broadcast (pair, oy, ox): one edge per supported pair and valid output position
            src = (j[:, None, None] * H + y[None, :, None]) * W + x[None, None, :]
            dst = (o[:, None, None] * Ho + oy[None, :, None]) * Wo + ox[None, None, :]
            srcs.append(src.ravel())
            dsts.append(dst.ravel())
            if spec.weight is not None:
                w = spec.weight[o, jl, a, b]
                vals.append(np.broadcast_to(w[:, None, None], src.shape).ravel())
    src, dst, signed = _concat_sorted(srcs, dsts, vals if spec.weight is not None else None,
                                      cout * Ho * Wo)
    left = ((spec.in_channels, H, W), "chw", 0)
    right = ((cout, Ho, Wo), "chw")
    return assemble(spec, "unrolled", left, right, src, dst, signed, compat)


def _concat_sorted(srcs: list[np.ndarray], dsts: list[np.ndarray], vals: list[np.ndarray] | None,
                   num_right: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Concatenate per-tap edges and sort them into canonical (source, target) order."""
    if not srcs:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), None if vals is None else np.zeros(0, dtype=np.float32)
    src = np.concatenate(srcs)
    dst = np.concatenate(dsts)
    order = np.argsort(src * num_right + dst, kind="stable")
    signed = None if vals is None else np.concatenate(vals)[order]
    return src[order], dst[order], signed


def _build_compat(spec: LayerSpec) -> BipartiteGraph:
    P, o, pad = _compat_grid(spec)
    cout, cin_g = spec.support.shape[:2]
    kh, kw = spec.support.shape[2:]
    s = spec.stride[0]
    depthwise = spec.groups != 1
    # published order: input channel j, output channel c, oy, ox, then tap column b outer, row a inner
    c, jl, a, b = np.nonzero(spec.support)
    j = c if depthwise else jl
    tap_order = np.lexsort((a, b, c, j))
    c, jl, a, b, j = c[tap_order], jl[tap_order], a[tap_order], b[tap_order], j[tap_order]
    # group the (j, c) runs: each run is repeated over all (oy, ox), taps innermost
    pair_key = j * cout + c
    run_start = np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]])
    run_len = np.diff(np.r_[run_start, pair_key.size])
    pos = np.arange(o * o, dtype=np.int64)
    oy, ox = pos // o, pos % o
    # edge index within its run block: (run r, position q, tap t) in that order
    block = run_len * (o * o)
    block_start = np.r_[0, np.cumsum(block)[:-1]]
    total = int(block.sum())
    edge_run = np.repeat(np.arange(run_start.size), block)
    local = np.arange(total, dtype=np.int64) - block_start[edge_run]
    q = local // run_len[edge_run]
    tap = run_start[edge_run] + local % run_len[edge_run]
    y = oy[q] * s + a[tap]
    x = ox[q] * s + b[tap]
    src = (j[tap] * P + y) * P + x
    dst = (c[tap] * o + oy[q]) * o + ox[q]
    signed = None if spec.weight is None else spec.weight[c, jl, a, b][tap]
    left = ((spec.in_channels, P, P), "chw", pad)
    right = ((cout, o, o), "chw")
    return assemble(spec, "unrolled", left, right, src, dst, signed, "mge2024")
