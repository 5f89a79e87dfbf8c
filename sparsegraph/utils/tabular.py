"""The one writer of tabular results: CSV, JSON, JSON lines and plain-text tables.

Every command and result type renders through these functions (``sparsegraph_cli.output`` re-exports
them), so a missing value is an empty CSV cell, a JSON null and a ``-`` in a table everywhere.

Example:
    >>> rows = [{"layer": "fc", "value": 0.5}, {"layer": "conv", "value": None}]
    >>> print(render_csv(rows, ["layer", "value"]), end="")
    layer,value
    fc,0.5
    conv,
    >>> print(render_table(rows, ["layer", "value"]), end="")
    layer  value
    -----  -----
    fc     0.5
    conv   -
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterable, Sequence


def render_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """CSV with a header row; missing values (None or absent) are empty cells."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in columns})
    return buf.getvalue()


def render_json(obj: Any, *, indent: int | None = 2, allow_nan: bool = True) -> str:
    """JSON with a trailing newline (``allow_nan=False`` refuses NaN and ±inf, which JSON cannot hold)."""
    return json.dumps(obj, indent=indent, allow_nan=allow_nan) + "\n"


def render_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    """One JSON object per line (NaN refused)."""
    return "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain-text table for people, columns padded to their widest cell (floats to 6 significant digits)."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
