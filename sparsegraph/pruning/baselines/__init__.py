"""Post-training baselines: IMP with rewinding and unstructured Early-Bird (spec pruning §5); importing
registers ``imp``, ``early-bird`` and its alias ``eb``."""

from sparsegraph.pruning.baselines.early_bird import run_early_bird
from sparsegraph.pruning.baselines.imp import run_imp
from sparsegraph.pruning.samplers.registration import register_runner

register_runner("imp", run_imp, "IMP / lottery tickets: 20 %/round global magnitude with rewinding (trains)")
register_runner("early-bird", run_early_bird, "unstructured Early-Bird: dense training until the magnitude "
                "mask stabilises (trains)")
register_runner("eb", run_early_bird, "alias of early-bird")

__all__ = ["run_early_bird", "run_imp"]
