"""sparsegraph.topology: trace prunable layers and the dataflow DAG between them (graphs.md §1)."""

from sparsegraph.topology.topology import NODE_KINDS, DagNode, LayerInfo, Topology
from sparsegraph.topology.trace import clear_cache, trace, trace_options

__all__ = ["NODE_KINDS", "DagNode", "LayerInfo", "Topology", "clear_cache", "trace", "trace_options"]
