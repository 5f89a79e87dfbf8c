"""A model's MGE as tables plus a per-edge-set generator: the one entry point for both builders.

``prepare`` traces the model, reads the supports and weights, plans the partitions and returns a
:class:`MgeSource` whose edge counts come from mask statistics alone (exact, or an upper bound for
sets whose repeated pairs get merged). ``encode`` turns it into a :class:`MultipartiteGraph`;
``export`` streams it with :class:`~sparsegraph.graphs.stream.EdgeStream`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from sparsegraph.graphs.base import EdgeArrays, EdgeSet, Partition, node_partition
from sparsegraph.graphs.encodings.spec import LayerSpec


@dataclass
class MgeSource:
    """The MGE of one model, before any edge is generated.

    Attributes:
        partitions: the partition table.
        edge_sets: the edge-set table; ``num_edges`` is exact where ``may_merge`` is False, else the
            count before merging (an upper bound).
        may_merge: per set, whether repeated (source, target) pairs can occur and be merged.
        attrs: graph attributes.
        generate: ``generate(i)`` -> set i's :class:`EdgeArrays` (global ids, final order).
    """

    partitions: list[Partition]
    edge_sets: list[EdgeSet]
    may_merge: list[bool]
    attrs: dict[str, Any]
    generate: Callable[[int], EdgeArrays]

    @property
    def num_nodes(self) -> int:
        return int(self.partitions[-1].offset + self.partitions[-1].size)

    @property
    def num_edges_bound(self) -> int:
        """The exact edge count, or an upper bound when merges may occur (graphs.md §6)."""
        return int(sum(s.num_edges for s in self.edge_sets))


def prepare(model: nn.Module, masks: Mapping[str, torch.Tensor] | None, input_shape: tuple[int, ...],
            compat: str | None, support: str | None, model_spec: str | None) -> MgeSource:
    """Trace, read the layers and plan the MGE of ``model`` (no edge is generated)."""
    from sparsegraph.graphs.encoder import graph_attrs, layer_specs
    from sparsegraph.graphs.mge.structure import plan as make_plan
    from sparsegraph.topology import trace

    topology = trace(model, input_shape)
    specs, rule, unmasked = layer_specs(model, masks, input_shape, support, topology)
    by_name = {spec.name: spec for spec in specs}
    structure = make_plan(topology)
    if compat == "mge2024":
        from sparsegraph.graphs.mge.compat import CompatEdges

        # the published code keeps the edges of nonzero kept weights (support = mask·w ≠ 0)
        by_name = {n: _nonzero(s) for n, s in by_name.items()}
        rule = "nonzero"
        builder = CompatEdges(structure, by_name)
        partitions, edge_sets, may_merge = builder.tables()
        generate = builder.generate
    else:
        from sparsegraph.graphs.mge.clean import CleanEdges

        clean = CleanEdges(structure, by_name)
        offsets = structure.offsets
        partitions = [Partition(k, p.name, p.kind, p.layer, int(offsets[k]), p.size, p.shape, p.coords)
                      for k, p in enumerate(structure.partitions)]
        edge_sets, may_merge = [], []
        for i, s in enumerate(structure.sets):
            hit = np.zeros(len(partitions), dtype=bool)  # the partitions holding a member of a source
            for n in s.sources:
                hit[node_partition(partitions, clean.maps[n].indices)] = True
            srcs = np.flatnonzero(hit)
            edge_sets.append(EdgeSet(i, s.name, s.kind, tuple(int(p) for p in srcs), (s.target,), clean.count(s)))
            may_merge.append(clean.may_merge(s))

        def generate(i: int) -> EdgeArrays:
            return clean.generate(structure.sets[i], i)

    attrs = graph_attrs(model, masks, "mge", input_shape, compat, rule, unmasked, model_spec)
    return MgeSource(partitions, edge_sets, may_merge, attrs, generate)


def _nonzero(spec: LayerSpec) -> LayerSpec:
    """The spec with support ``mask·w ≠ 0``."""
    return replace(spec, support=spec.support & (spec.weight != 0))
