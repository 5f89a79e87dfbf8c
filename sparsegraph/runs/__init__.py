"""Run directories: the generate -> measure -> train -> summarise pipeline behind ``sparsegraph prune``."""

from sparsegraph.runs.prune_run import PruneRunConfig, run_prune
from sparsegraph.runs.summary import RunSummary

__all__ = ["PruneRunConfig", "RunSummary", "run_prune"]
