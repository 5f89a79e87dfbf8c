"""The result type of a study analysis (:func:`sparsegraph.study.report.analyze`), shared by the
report writers and the plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparsegraph.study.collect import StudyRecord


@dataclass
class Analysis:
    """The result of :func:`~sparsegraph.study.report.analyze`: a JSON-ready document plus its records.

    Attributes:
        document: what ``analysis.json`` holds (see :func:`analyze`).
        records: the sparse records analysed, in order.
        targets: their target values.
        dense: the dense reference records.
        plots: written plot files, relative to the output folder (filled by
            :func:`~sparsegraph.study.report.write_outputs`).
    """

    document: dict[str, Any]
    records: list[StudyRecord]
    targets: list[float]
    dense: list[StudyRecord] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return [m["name"] for m in self.document["metrics"]]

    @property
    def target(self) -> str:
        return self.document["target"]
