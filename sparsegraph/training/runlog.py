"""The JSONL event log of a run (``RUN_DIR/log.jsonl``)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import Any


class RunLog:
    """Appends one JSON object per event: ``event``, UTC ``time``, ``elapsed_s`` and the fields.

    Each line is flushed and fsynced as it is written, so an interrupted run keeps its history; a
    line that cannot be written completely (no space left) is cut off again, so the log never ends in
    half a line, and :class:`~sparsegraph.errors.OutputError` is raised. ``RunLog(None)`` logs nowhere
    (library use without a run directory).
    """

    def __init__(self, path: str | os.PathLike | None):
        from sparsegraph.utils.atomic import prepare_output

        self.path = None if path is None else Path(path)
        self._start = time.perf_counter()
        if self.path is not None:
            prepare_output(self.path)

    def write(self, event: str, **fields: Any) -> dict:
        row = {
            "event": event,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "elapsed_s": round(time.perf_counter() - self._start, 4),
            **fields,
        }
        if self.path is not None:
            self._append((json.dumps(row, default=_jsonable) + "\n").encode("utf-8"))
        return row

    def _append(self, line: bytes) -> None:
        from sparsegraph.utils.atomic import append_durably

        append_durably(self.path, line)


def read_events(path: str | os.PathLike) -> list[dict]:
    """Every row of a run log, in file order.

    Raises:
        BadInputError: the file cannot be read, or a line is not JSON (one line naming the file).
    """
    from sparsegraph.errors import BadInputError

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the run log ({exc.strerror})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise BadInputError(f"{path}: line {number} of the run log is not JSON") from None
    return rows


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
