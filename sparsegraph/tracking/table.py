"""``RUN_DIR/track.csv``: one row per tracked step and metric, ``step,epoch,metric,layer,value``.

``layer`` is a layer name, or ``network`` for a network-level value; ``value`` is empty where a
metric is undefined or failed. Besides the registry metrics, a run tracks ``track.itop_rate`` (network),
``track.hamming`` (per layer and network), ``track.moving_distance`` (per layer and the network mean)
and, at each evaluated epoch end, ``test_acc`` and ``val_acc`` (network).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from sparsegraph.errors import BadInputError
from sparsegraph.utils.atomic import atomic_write_text

COLUMNS = ("step", "epoch", "metric", "layer", "value")
NETWORK = "network"
ACCURACY_METRICS = ("test_acc", "val_acc")
ITOP = "track.itop_rate"
HAMMING = "track.hamming"
MOVING = "track.moving_distance"
OWN_METRICS = (ITOP, HAMMING, MOVING)


class TrackRow(NamedTuple):
    """One row of ``track.csv`` (``value`` None where undefined)."""

    step: int
    epoch: int
    metric: str
    layer: str
    value: float | None


def to_csv(rows: Iterable[TrackRow], header: bool = False) -> str:
    """CSV text of ``rows`` (with the header line if asked); floats with ``repr`` precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r.step, r.epoch, r.metric, r.layer, "" if r.value is None else repr(float(r.value))])
    return buf.getvalue()


def _parse(record: list[str]) -> TrackRow | None:
    if len(record) != len(COLUMNS):
        return None
    try:
        value = float(record[4]) if record[4] != "" else None
        return TrackRow(int(record[0]), int(record[1]), record[2], record[3],
                        value if value is None or math.isfinite(value) else None)
    except ValueError:
        return None


def read_track(path: str | os.PathLike, strict: bool = True) -> list[TrackRow]:
    """The rows of a ``track.csv``.

    Args:
        strict: a malformed line is an error; with False it is dropped (an interrupted run's last line).

    Raises:
        BadInputError: the file cannot be read, lacks the header, or (strict) has a malformed line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the tracking table ({exc.strerror})") from None
    records = list(csv.reader(io.StringIO(text)))
    if not records or tuple(records[0]) != COLUMNS:
        raise BadInputError(f"{path}: not a tracking table (expected the header {','.join(COLUMNS)})")
    rows = []
    for number, record in enumerate(records[1:], start=2):
        row = _parse(record)
        if row is None:
            if strict:
                raise BadInputError(f"{path}: line {number} of the tracking table is malformed")
            continue
        rows.append(row)
    return rows


def write_track(path: str | os.PathLike, rows: Iterable[TrackRow]) -> None:
    """Write the whole table atomically (header included)."""
    atomic_write_text(path, to_csv(rows, header=True))


def append_rows(path: Path, rows: Iterable[TrackRow]) -> None:
    """Append rows (creating the file with its header), flushed and fsynced like the run log; a write
    that fails (no space left) is cut off again and raises :class:`~sparsegraph.errors.OutputError`."""
    from sparsegraph.utils.atomic import append_durably

    append_durably(path, to_csv(rows, header=not path.exists()).encode("utf-8"))


def tracked_steps(rows: Iterable[TrackRow]) -> list[int]:
    """The steps that carry metric rows (not only accuracies), ascending."""
    return sorted({r.step for r in rows if r.metric not in ACCURACY_METRICS})


def step_at(rows: list[TrackRow], at_step: int | str = "final") -> int | None:
    """The tracked step to read for ``at_step``: ``final`` = the last one; an int N = the last one ≤ N."""
    steps = tracked_steps(rows)
    if at_step != "final":
        steps = [s for s in steps if s <= int(at_step)]
    return steps[-1] if steps else None


def values_at(rows: list[TrackRow], step: int) -> tuple[dict[str, float | None], dict[str, dict[str, float | None]]]:
    """``(network values, per-layer values)`` of every metric at ``step``."""
    network: dict[str, float | None] = {}
    layers: dict[str, dict[str, float | None]] = {}
    for r in rows:
        if r.step != step:
            continue
        if r.layer == NETWORK:
            network[r.metric] = r.value
        else:
            layers.setdefault(r.metric, {})[r.layer] = r.value
    return network, layers
