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

    Each line is flushed and fsynced as it is written, so an interrupted run keeps its history.
    ``RunLog(None)`` logs nowhere (library use without a run directory).
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        self._start = time.perf_counter()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields: Any) -> dict:
        row = {
            "event": event,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "elapsed_s": round(time.perf_counter() - self._start, 4),
            **fields,
        }
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row, default=_jsonable) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        return row


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
