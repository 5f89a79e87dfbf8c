"""sparsegraph.topology: trace prunable layers and the dataflow DAG between them (graphs.md §1)."""

from sparsegraph.topology.topology import NODE_KINDS, DagNode, LayerInfo, Topology
from sparsegraph.topology.trace import trace

__all__ = ["NODE_KINDS", "DagNode", "LayerInfo", "Topology", "trace"]
