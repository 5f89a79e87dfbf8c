"""Run directories: the generate -> measure -> train -> summarise pipeline behind ``sparsegraph prune``."""

from sparsegraph.runs.prune_run import PruneRunConfig, run_prune

__all__ = ["PruneRunConfig", "run_prune"]
