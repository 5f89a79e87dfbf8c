"""``sparsegraph study``: run a grid of pruned networks and find which graph metrics predict accuracy.

- :mod:`~sparsegraph.study.grid`: the method x sparsity x seed grid of prune runs (resumable, serial,
  process pool or Ray).
- :mod:`~sparsegraph.study.collect`: one :class:`StudyRecord` per run (or per CSV row), with network
  and per-layer metric values, computing missing metrics with ``sg.measure``.
- :mod:`~sparsegraph.study.stats`, :mod:`~sparsegraph.study.ranking`, :mod:`~sparsegraph.study.regression`:
  correlations with bootstrap intervals, method rankings, cross-validated ridge regression.
- :mod:`~sparsegraph.study.report`: ``analyze`` (all of the above) and the analysis.json / CSV / Markdown
  outputs; :mod:`~sparsegraph.study.plots`: the figures (matplotlib).
"""

from __future__ import annotations

from sparsegraph._lazy import lazy_attributes as _lazy_attributes
# imported eagerly: a lazy ``collect`` would be shadowed by the submodule of the same name once anything
# imports ``sparsegraph.study.collect`` (the import system binds the submodule on the package); the
# module only needs the standard library.
from sparsegraph.study.collect import collect

_LAZY = {
    "GridSpec": "sparsegraph.study.grid",
    "run_grid": "sparsegraph.study.grid",
    "StudyRecord": "sparsegraph.study.collect",
    "Collection": "sparsegraph.study.collect",
    "analyze": "sparsegraph.study.report",
    "Analysis": "sparsegraph.study.report",
    "write_outputs": "sparsegraph.study.report",
}

__all__ = sorted([*_LAZY, "collect"])


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY)
