"""The ``<path>.meta.json`` sidecar of edge lists and MatrixMarket files (graphs.md §5)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparsegraph.errors import GraphFileError
from sparsegraph.graphs.io.checksum import KEY, ContentHash

FORMAT = "sparsegraph.graph-meta/1"


@dataclass
class Sidecar:
    """What a sidecar holds: the graph attributes, matrix kind, index base and the stored checksum."""

    meta: dict[str, Any]
    matrix: str
    index_base: int
    checksum: str | None
    payload: dict[str, Any]


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(path)}.meta.json")


def sidecar_payload(attributes: dict[str, Any], matrix: str, index_base: int) -> dict[str, Any]:
    """The sidecar's JSON object without its checksum."""
    return {"format": FORMAT, **{k: v for k, v in attributes.items() if k != "format"},
            "matrix": matrix, "index_base": index_base}


def digest(text_digest: ContentHash, payload: dict[str, Any]) -> str:
    """The checksum of a text file and its sidecar: the file's text, then the payload without the checksum."""
    text_digest.json({k: v for k, v in payload.items() if k != KEY})
    return text_digest.hexdigest()


def write_sidecar(destination: str | os.PathLike, payload: dict[str, Any], checksum: str) -> None:
    """Write the payload and its checksum to ``destination`` (a temporary path of :func:`atomic_paths`)."""
    Path(destination).write_text(json.dumps({**payload, KEY: checksum}, indent=1) + "\n", encoding="utf-8")


def read_sidecar(path: str | os.PathLike) -> Sidecar:
    """The sidecar of ``path``."""
    side = sidecar_path(path)
    if not side.is_file():
        raise GraphFileError(f"{path}: its sidecar {side.name} is missing (it holds the node table)")
    try:
        payload = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GraphFileError(f"{side}: unreadable sidecar ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise GraphFileError(f"{side}: not a sparsegraph sidecar (format must be {FORMAT!r})")
    meta = dict(payload)
    meta["format"] = "sparsegraph.graph/1"
    matrix = meta.pop("matrix", "adjacency")
    index_base = meta.pop("index_base", 0)
    checksum = meta.pop(KEY, None)
    return Sidecar(meta, matrix, index_base, checksum, payload)
