"""Topology tracking: the graph metrics of a mask followed over training (snapshots, ``track.csv``, plots)."""

from sparsegraph.tracking.table import TrackRow, read_track, step_at, values_at
from sparsegraph.tracking.tracker import DEFAULT_TRACK, TopologyTracker, TrackSummary, resolve_track_metrics

__all__ = ["DEFAULT_TRACK", "TopologyTracker", "TrackRow", "TrackSummary", "read_track", "resolve_track_metrics",
           "step_at", "values_at"]
