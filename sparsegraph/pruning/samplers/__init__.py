"""Meta-samplers over mask generators: PAGS and PEGS (spec pruning §3–§4); importing registers them."""

from sparsegraph.pruning.samplers.pags import run_pags
from sparsegraph.pruning.samplers.pegs import run_pegs
from sparsegraph.pruning.samplers.registration import register_runner

register_runner("pags", run_pags, "PAGS: best of n base masks by a registry metric (layer-wise IMDB/full-spectrum)",
                data="labels")
register_runner("pegs", run_pegs, "PEGS: dense SGD warm-up for t steps, then PAGS on the warmed weights",
                data="labels")

__all__ = ["run_pags", "run_pegs"]
