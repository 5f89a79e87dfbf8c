"""Which DAG tensors own partitions, and how additions merge (graphs.md §2.4, "Partitions", "Addition").

The plan is computed from the trace alone (no weights): the partition table, the node ids each layer
output is written to, the role of every add operand, and the edge-set table in trace order. Both the
clean builder and ``compat="mge2024"`` start from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sparsegraph.errors import UnsupportedOpError
from sparsegraph.topology import Topology


@dataclass(frozen=True)
class PartitionPlan:
    """One partition before offsets are known.

    Attributes:
        name: ``input``, the owning layer's FQN, or ``<M>.add``.
        kind: ``input``, ``conv``, ``linear`` or ``add``.
        layer: the owning layer's FQN (``""`` for input and add partitions).
        shape: per-sample shape.
        node: id of the DAG node whose elements are this partition's nodes.
        completed_at: trace position that orders the partitions (the add node for a merged one).
    """

    name: str
    kind: str
    layer: str
    shape: tuple[int, ...]
    node: int
    completed_at: int

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def coords(self) -> str:
        return "chw" if len(self.shape) == 3 else "f"


@dataclass(frozen=True)
class SetPlan:
    """One edge set: a layer's edges, or the identity edges of one addition.

    Attributes:
        name: the layer FQN, or ``<M>.identity`` (``_2``, ``_3`` for repeats).
        kind: ``conv``, ``linear``, ``shortcut`` or ``identity``.
        node: the layer node, or the add node.
        target: partition index the edges land in.
        sources: DAG node ids whose member sets are the edge sources (the layer's input, or the
            add's non-candidate operands).
    """

    name: str
    kind: str
    node: int
    target: int
    sources: tuple[int, ...]


@dataclass
class Plan:
    """The partition and edge-set tables of a traced model.

    Attributes:
        topology: the trace.
        partitions: in id order.
        node_partition: DAG node id -> partition index whose nodes its elements are (input, layer
            outputs, merged adds; absorbed shortcut layers map to their main partition).
        sets: edge sets in trace order.
        main: add node id -> main candidate layer node (absent: the add owns a partition).
        absorbed: layer node ids of absorbed candidates (projection shortcuts).
    """

    topology: Topology
    partitions: list[PartitionPlan]
    node_partition: dict[int, int]
    sets: list[SetPlan]
    main: dict[int, int] = field(default_factory=dict)
    absorbed: set[int] = field(default_factory=set)

    @property
    def offsets(self) -> np.ndarray:
        return np.cumsum([0] + [p.size for p in self.partitions]).astype(np.int64)


def _layer_name(topology: Topology, node_id: int) -> str:
    return topology.nodes[node_id].params["name"]


def _depths(topology: Topology) -> list[int]:
    """Prunable layers on the longest input -> node path, the node included."""
    depth = [0] * len(topology.nodes)
    for node in topology.nodes:
        below = max((depth[i] for i in node.inputs), default=0)
        depth[node.id] = below + (node.kind == "layer")
    return depth


def _unique_name(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


def plan(topology: Topology) -> Plan:
    """Partitions, add roles and edge sets of a traced model (graphs.md §2.4).

    Raises:
        UnsupportedOpError: an add whose operands differ in shape (broadcasting).
    """
    nodes = topology.nodes
    uses = np.zeros(len(nodes), dtype=np.int64)
    for node in nodes:
        for i in node.inputs:
            uses[i] += 1
    depth = _depths(topology)

    main: dict[int, int] = {}
    absorbed_by: dict[int, int] = {}  # absorbed layer node -> add node
    for node in nodes:
        if node.kind != "add":
            continue
        for i in node.inputs:
            if tuple(nodes[i].out_shape) != tuple(node.out_shape):
                raise UnsupportedOpError("add", node.module, f"operands of shapes {nodes[i].out_shape} and "
                                         f"{node.out_shape} differ (broadcasting add)")
        candidates = [i for i in node.inputs if nodes[i].kind == "layer" and uses[i] == 1
                      and node.inputs.count(i) == 1]
        if candidates:
            best = max(candidates, key=lambda i: (depth[i], -node.inputs.index(i)))
            main[node.id] = best
            for i in candidates:
                if i != best:
                    absorbed_by[i] = node.id

    # partitions ordered by the node that completes them: a layer, or the add merging into a main layer
    completed = {main_layer: add for add, main_layer in main.items()}
    entries: list[PartitionPlan] = []
    input_node = nodes[0]
    entries.append(PartitionPlan("input", "input", "", tuple(input_node.out_shape), 0, 0))
    taken_add: set[str] = set()
    for node in nodes:
        if node.kind == "layer" and node.id not in absorbed_by:
            info = topology.layer(_layer_name(topology, node.id))
            kind = "conv" if info.kind == "conv2d" else "linear"
            entries.append(PartitionPlan(info.name, kind, info.name, tuple(node.out_shape), node.id,
                                         completed.get(node.id, node.id)))
        elif node.kind == "add" and node.id not in main:
            name = _unique_name(f"{node.module}.add" if node.module else "add", taken_add)
            entries.append(PartitionPlan(name, "add", "", tuple(node.out_shape), node.id, node.id))
    entries.sort(key=lambda p: p.completed_at)
    index = {p.node: k for k, p in enumerate(entries)}

    node_partition: dict[int, int] = {0: 0}
    for node in nodes:
        if node.kind == "layer":
            owner = main[absorbed_by[node.id]] if node.id in absorbed_by else node.id
            node_partition[node.id] = index[owner]
        elif node.kind == "add":
            node_partition[node.id] = index[main.get(node.id, node.id)]

    sets: list[SetPlan] = []
    taken_identity: set[str] = set()
    for node in nodes:
        if node.kind == "layer":
            info = topology.layer(_layer_name(topology, node.id))
            kind = "shortcut" if node.id in absorbed_by else ("conv" if info.kind == "conv2d" else "linear")
            sets.append(SetPlan(info.name, kind, node.id, node_partition[node.id], tuple(node.inputs)))
        elif node.kind == "add":
            candidate_ops = {main.get(node.id)} | {i for i, a in absorbed_by.items() if a == node.id}
            others = tuple(i for i in node.inputs if i not in candidate_ops)
            if others:
                name = _unique_name(f"{node.module}.identity" if node.module else "identity", taken_identity)
                sets.append(SetPlan(name, "identity", node.id, node_partition[node.id], others))
    return Plan(topology, entries, node_partition, sets, main, set(absorbed_by))
