"""One layer as a bipartite graph (left = inputs, right = outputs), and ``sg.bipartite``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from sparsegraph.errors import MaskError
from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Graph, Partition
from sparsegraph.graphs.formats import CONVERTERS
from sparsegraph.graphs.encodings import build_layer
from sparsegraph.graphs.encodings.spec import LayerSpec, as_pair, float16_weights


@dataclass
class BipartiteGraph(Graph):
    """A layer's bipartite graph: left ids ``0..L-1``, right ids ``L..L+R-1``, edges left -> right.

    Extra attributes (in ``attrs``): ``tensor_nnz`` and ``tensor_numel`` of the underlying weight
    tensor's support (used by the ``density`` metric), ``weighted`` (False when built from a mask
    alone: every weight is then 1.0).
    """

    single_layer: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self.edge_sets[0].name

    @property
    def num_left(self) -> int:
        return self.partitions[0].size

    @property
    def num_right(self) -> int:
        return self.partitions[1].size

    @property
    def weighted(self) -> bool:
        return bool(self.attrs.get("weighted", False))

    def to_scipy(self, weight: str | None = "weight", *, max_bytes: int | str | None = None):
        """The ``(L, R)`` biadjacency as a ``scipy.sparse.csr_array`` (float32, int32 indices).

        Args:
            weight: ``"weight"`` (``|w|``), ``"signed_weight"`` (``w``) or None (ones).
            max_bytes: memory limit (default: ``SPARSEGRAPH_MAX_BYTES`` or 4 GiB).
        """
        return CONVERTERS.get("scipy").biadjacency(self, weight, max_bytes=max_bytes)


def assemble(spec: LayerSpec, encoding: str, left: tuple[tuple[int, ...], str, int],
             right: tuple[tuple[int, ...], str], src: np.ndarray, dst_local: np.ndarray,
             signed: np.ndarray | None, compat: str | None = None) -> BipartiteGraph:
    """Wrap one layer's edges (local left ids, local right ids) as a :class:`BipartiteGraph`.

    Args:
        spec: the layer.
        encoding: the encoding name stored in ``attrs``.
        left: ``(shape, coords, pad)`` of the left partition.
        right: ``(shape, coords)`` of the right partition.
        src, dst_local: int arrays of left and right local ids, already in the encoding's order.
        signed: the signed float32 weight per edge, or None for a mask-only graph (weights 1.0).
        compat: None or ``"mge2024"`` (``weight`` is then ``float16(|w|)``).
    """
    L = int(np.prod(left[0]))
    R = int(np.prod(right[0]))
    n = int(src.shape[0])
    if signed is None:
        signed = np.ones(n, dtype=np.float32)
        weight = signed.copy()
    else:
        signed = signed.astype(np.float32, copy=False)
        weight = float16_weights(signed) if compat == "mge2024" else np.abs(signed)
    arrays = EdgeArrays(
        src=src.astype(np.int64, copy=False),
        dst=dst_local.astype(np.int64, copy=False) + L,
        weight=weight,
        signed_weight=signed,
        edge_set=np.zeros(n, dtype=np.int32),
    )
    kind = "conv" if spec.is_conv else "linear"
    partitions = [
        Partition(0, f"{spec.name}:in", "left", spec.name, 0, L, tuple(left[0]), left[1], left[2]),
        Partition(1, f"{spec.name}:out", "right", spec.name, L, R, tuple(right[0]), right[1]),
    ]
    edge_sets = [EdgeSet(0, spec.name, kind, (0,), (1,), n)]
    attrs = {
        "encoding": encoding,
        "compat": compat,
        "weighted": spec.weight is not None,
        "tensor_nnz": int(np.count_nonzero(spec.support)),
        "tensor_numel": int(spec.support.size),
    }
    return BipartiteGraph(partitions, edge_sets, arrays, attrs)


def _as_numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().to("cpu", copy=True).numpy()
    return np.array(t, copy=True)


def split_mask_weight(t: torch.Tensor | np.ndarray, weight: torch.Tensor | np.ndarray | None
                      ) -> tuple[np.ndarray, np.ndarray | None]:
    """Interpret ``sg.bipartite``'s inputs as ``(support, weight or None)``.

    A boolean (or 0/1 with ``weight`` given) first argument is a mask; a float first argument without
    ``weight`` is a weight tensor whose nonzero entries are the support.
    """
    arr = _as_numpy(t)
    w = None if weight is None else _as_numpy(weight).astype(np.float32)
    if arr.dtype == np.bool_:
        support = arr
    elif w is not None:
        if not np.isin(arr, (0, 1)).all():
            raise MaskError("with weight= given, the first argument must be a bool or 0/1 mask")
        support = arr.astype(bool)
    else:
        w = arr.astype(np.float32)
        support = w != 0
    if w is not None and w.shape != support.shape:
        raise MaskError(f"mask shape {support.shape} and weight shape {w.shape} differ")
    if support.ndim not in (2, 4):
        raise MaskError(f"expected a 2-D linear or 4-D conv tensor, got {support.ndim} dimensions")
    return support, w


def bipartite(t: torch.Tensor | np.ndarray, weight: torch.Tensor | np.ndarray | None = None,
              encoding: str = "rolled", *, name: str = "layer", input_hw: int | tuple[int, int] | None = None,
              stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
              dilation: int | tuple[int, int] = 1, groups: int = 1) -> BipartiteGraph:
    """Build the bipartite graph of one weight tensor (2-D linear or 4-D conv, PyTorch layout).

    Args:
        t: a bool (or 0/1) mask, or a weight tensor whose nonzero entries are the support.
        weight: the weights of the kept entries when ``t`` is a mask (every kept entry is an edge,
            even a zero weight).
        encoding: ``rolled``, ``rolled-channel`` or ``unrolled`` (graphs.md §2.1–2.3).
        name: the layer name (edge-set name and partition prefix).
        input_hw: the conv input's spatial size (H, W); required by ``unrolled`` for convs.
        stride, padding, dilation, groups: the conv geometry (``unrolled`` and ``rolled-channel``).

    Example:
        >>> import torch, sparsegraph as sg
        >>> g = sg.bipartite(torch.ones(3, 2, dtype=torch.bool))
        >>> (g.num_left, g.num_right, g.num_edges)
        (2, 3, 6)
    """
    support, w = split_mask_weight(t, weight)
    spec = LayerSpec(
        name=name, support=support, weight=w, groups=int(groups),
        stride=as_pair(stride, "stride"), padding=as_pair(padding, "padding"),
        dilation=as_pair(dilation, "dilation"),
        input_hw=None if input_hw is None else as_pair(input_hw, "input_hw"),
    )
    graph = build_layer(spec, encoding)
    # a weight tensor alone defines its support by its nonzeros; a mask keeps even zero weights
    from_weights = weight is None and w is not None
    graph.attrs["support"] = "nonzero" if from_weights else "mask"
    return graph
