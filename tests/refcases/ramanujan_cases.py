"""The single-layer reference cases of ``ramanujan.{json,npz}`` here, as bipartite graphs.

Shared by the ramanujan.* and spectral.* tests; importable as ``refcases.ramanujan_cases``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np

import sparsegraph as sg

REFCASES = Path(__file__).resolve().parent


def ramanujan_cases() -> Iterator[tuple[dict, sg.BipartiteGraph]]:
    """``(case, graph)`` for each case: the layer's mask with weights ``weight * mask``, named after the case."""
    doc = json.loads((REFCASES / "ramanujan.json").read_text())
    arrays = np.load(REFCASES / "ramanujan.npz")
    for case in doc["cases"]:
        mask = arrays[case["npz"]["mask"]].astype(bool)
        yield case, sg.bipartite(mask, weight=arrays[case["npz"]["weight"]] * mask, name=case["case"])
