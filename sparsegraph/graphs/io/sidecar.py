"""The ``<path>.meta.json`` sidecar of edge lists and MatrixMarket files (graphs.md §5)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sparsegraph.errors import GraphFileError
from sparsegraph.utils.atomic import atomic_write_text

FORMAT = "sparsegraph.graph-meta/1"


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(path)}.meta.json")


def write_sidecar(path: str | os.PathLike, attributes: dict[str, Any], matrix: str, index_base: int) -> None:
    """Write ``<path>.meta.json``: the graph attributes, tables, matrix kind and index base."""
    payload = {"format": FORMAT, **{k: v for k, v in attributes.items() if k != "format"},
               "matrix": matrix, "index_base": index_base}
    atomic_write_text(sidecar_path(path), json.dumps(payload, indent=1) + "\n")


def read_sidecar(path: str | os.PathLike) -> tuple[dict[str, Any], str, int]:
    """``(graph attributes, matrix, index_base)`` of ``<path>.meta.json``."""
    side = sidecar_path(path)
    if not side.is_file():
        raise GraphFileError(f"{path}: its sidecar {side.name} is missing (it holds the node table)")
    try:
        payload = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraphFileError(f"{side}: unreadable sidecar ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GraphFileError(f"{side}: not a sparsegraph sidecar (format must be {FORMAT!r})")
    payload["format"] = "sparsegraph.graph/1"
    matrix = payload.pop("matrix", "adjacency")
    index_base = payload.pop("index_base", 0)
    return payload, matrix, index_base
