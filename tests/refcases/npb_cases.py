"""The NPB layer MILP reference cases (``npb.json``, the authors' code under cvxpy + HiGHS) as problems."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from sparsegraph.pruning.npb.milp import LayerProblem

DOC = json.loads((Path(__file__).parent / "npb.json").read_text())


def case_problem(case: dict) -> LayerProblem:
    """The case's MILP: weight shape from ``layer``, budget ``n_params_budget``, max taps (linear: 1)."""
    dims = [int(x) for x in re.findall(r"\d+", case["layer"].split("(", 1)[1])]
    taps = dims[2] * dims[3] if case["layer"].startswith("Conv2d") else 1
    return LayerProblem(case["case"], dims[0], np.array(case["P_in"], dtype=np.float64), taps,
                        case["n_params_budget"], case.get("max_param_per_kernel", 1), case["alpha"], case["beta"])


CASES = {case["case"]: case for case in DOC["cases"]}
