"""The whole-network multipartite encoding ``mge`` (graphs.md §2.4–2.6; Cunegatti et al., TMLR 2024).

``sg.encode(model, masks, encoding="mge", input_shape=..., compat=None | "mge2024")`` builds a
:class:`~sparsegraph.graphs.multipartite.MultipartiteGraph`; ``sg.export`` streams it set by set.
Importing this package registers both with :mod:`sparsegraph.graphs.encode`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from sparsegraph.graphs.base import EdgeArrays, EdgeSet
from sparsegraph.graphs.encoder import NETWORK_ENCODINGS, NETWORK_STREAMS, describe_encoding
from sparsegraph.graphs.estimate import check_limit
from sparsegraph.graphs.mge.source import MgeSource, prepare
from sparsegraph.graphs.multipartite import MultipartiteGraph
from sparsegraph.graphs.rebuild import GRAPH_CLASSES
from sparsegraph.graphs.stream import EdgeStream
from sparsegraph.utils.threads import serial_kernel


def estimate_size(model: nn.Module, masks: Mapping[str, torch.Tensor] | None = None,
                  input_shape: tuple[int, ...] | None = None, compat: str | None = None, *,
                  support: str | None = None) -> tuple[int, int]:
    """``(num_nodes, num_edges)`` of the MGE from the trace and mask statistics, without building edges.

    ``num_edges`` is exact unless overlapping pooling windows make a layer repeat (source, target)
    pairs, which the build merges; it is then an upper bound (graphs.md §6).
    """
    from sparsegraph.graphs.encoder import resolve_input_shape

    shape = resolve_input_shape(model, input_shape, None, "mge")
    source = prepare(model, masks, shape, compat, support, None)
    return source.num_nodes, source.num_edges_bound


def _concat(parts: list[EdgeArrays], merged: bool) -> EdgeArrays:
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return EdgeArrays(empty, empty.copy(), np.zeros(0, np.float32), np.zeros(0, np.float32),
                          np.zeros(0, np.int32))
    columns = [np.concatenate([getattr(p, f) for p in parts])
               for f in ("src", "dst", "weight", "signed_weight", "edge_set")]
    multiplicity = None
    if merged:
        multiplicity = np.concatenate([p.multiplicity if p.multiplicity is not None
                                       else np.ones(len(p), dtype=np.int32) for p in parts])
    return EdgeArrays(*columns, multiplicity=multiplicity)


def encode_mge(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, *, input_shape: tuple[int, ...],
               compat: str | None = None, support: str | None = None, max_bytes: int | str | None = None,
               model_spec: str | None = None) -> MultipartiteGraph:
    """Build the MGE in memory (the ``mge`` entry of ``sg.encode``).

    The size limit is checked on the mask-statistics estimate before any edge array is allocated. The
    build runs on one thread (:func:`~sparsegraph.utils.threads.serial_kernel`): its trace and per-layer
    array work are small operations that a thread team only slows down.
    """
    with serial_kernel():
        source = prepare(model, masks, input_shape, compat, support, model_spec)
        check_limit(source.num_nodes, source.num_edges_bound, "arrays", max_bytes,
                    describe_encoding("mge", model, model_spec, input_shape))
        parts = [source.generate(s.index) for s in source.edge_sets]
    merged = any(p.multiplicity is not None for p in parts)
    edge_sets = [EdgeSet(s.index, s.name, s.kind, s.src_partitions, s.dst_partitions, len(p))
                 for s, p in zip(source.edge_sets, parts)]
    attrs = dict(source.attrs)
    attrs["merged_edges"] = merged
    return MultipartiteGraph(source.partitions, edge_sets, _concat(parts, merged), attrs)


def stream_mge(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, encoding: str,
               input_shape: tuple[int, ...], compat: str | None, support: str | None,
               model_spec: str | None) -> EdgeStream:
    """The MGE as an :class:`EdgeStream` (the ``mge`` entry of ``sg.export``): sets are generated on demand.

    Sets that may merge repeated pairs are generated once up front, so that every count in the
    edge-set table is exact.
    """
    source: MgeSource = prepare(model, masks, input_shape, compat, support, model_spec)
    edge_sets, merged = [], False
    for s, may in zip(source.edge_sets, source.may_merge):
        if may:
            arrays = source.generate(s.index)
            merged = merged or arrays.multiplicity is not None
            s = EdgeSet(s.index, s.name, s.kind, s.src_partitions, s.dst_partitions, len(arrays))
        edge_sets.append(s)
    attrs = dict(source.attrs)
    attrs["merged_edges"] = merged

    def generate(i: int) -> EdgeArrays:
        arrays = source.generate(i)
        if merged and arrays.multiplicity is None:
            arrays.multiplicity = np.ones(len(arrays), dtype=np.int32)
        return arrays

    return EdgeStream(source.partitions, edge_sets, attrs, generate, has_multiplicity=merged)


NETWORK_ENCODINGS["mge"] = encode_mge
NETWORK_STREAMS["mge"] = stream_mge
GRAPH_CLASSES["mge"] = MultipartiteGraph

__all__ = ["MultipartiteGraph", "encode_mge", "estimate_size", "stream_mge"]
