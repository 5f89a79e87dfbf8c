"""Content checksums of graph files (docs/formats.md, "Checksums").

Every graph file sparsegraph writes stores ``checksum = "sha256:<hex>"`` in its metadata: the npz
``meta`` entry, the ``.meta.json`` sidecar of edge lists and MatrixMarket files, the last graph
``<data>`` element of GraphML, the payload dict of PyG files. What it covers is given per format in
docs/formats.md. :func:`sparsegraph.load_graph` recomputes it and refuses a file whose content no
longer matches (``verify=False`` skips the check); files without a checksum (written by older
versions or other tools) are read as before.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from sparsegraph.errors import GraphFileError

KEY = "checksum"
PREFIX = "sha256:"
EDGE_RECORD = np.dtype([("src", "<i8"), ("dst", "<i8"), ("weight", "<f4"), ("signed", "<f4"), ("set", "<i4"),
                        ("multiplicity", "<i4")])


class ContentHash:
    """An incremental SHA-256 over text, arrays and JSON values, in the order they are fed."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def text(self, text: str) -> None:
        self._h.update(text.encode("utf-8"))

    def array(self, name: str, values: np.ndarray) -> None:
        """The name, dtype, shape and C-order bytes of an array."""
        values = np.ascontiguousarray(values)
        self._h.update(f"{name}:{values.dtype.str}:{values.shape};".encode("utf-8"))
        self._h.update(memoryview(values).cast("B") if values.size else b"")

    def edges(self, src, dst, weight, signed, edge_set, multiplicity=None) -> None:
        """Edge records ``(src, dst, weight, signed weight, set, multiplicity or 0)``, one per edge: the
        digest does not depend on how the edges are split into calls."""
        records = np.empty(len(src), dtype=EDGE_RECORD)
        records["src"], records["dst"], records["weight"], records["signed"] = src, dst, weight, signed
        records["set"] = edge_set
        records["multiplicity"] = 0 if multiplicity is None else multiplicity
        self._h.update(records.tobytes())

    def json(self, value: Any) -> None:
        """A JSON value in canonical form (sorted keys, no spaces)."""
        self.text(canonical_json(value))

    def hexdigest(self) -> str:
        return PREFIX + self._h.hexdigest()


class HashingWriter:
    """A text stream that feeds everything written through it to a :class:`ContentHash`."""

    def __init__(self, out, digest: ContentHash):
        self.out = out
        self.digest = digest

    def write(self, text: str) -> int:
        self.digest.text(text)
        return self.out.write(text)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def check(path: Any, stored: Any, computed: str, verify: bool) -> None:
    """Compare a stored checksum with the recomputed one.

    A file without a stored checksum passes (older files); ``verify=False`` skips the comparison.

    Raises:
        GraphFileError: the checksums differ, or the stored one is not a ``sha256:`` string.
    """
    if not verify or stored is None:
        return
    if not isinstance(stored, str) or not stored.startswith(PREFIX):
        raise GraphFileError(f"{path}: malformed checksum {stored!r} in the metadata "
                             "(expected 'sha256:<hex>'); pass verify=False (--no-verify) to read it anyway")
    if stored != computed:
        raise GraphFileError(f"{path}: checksum mismatch: the content was changed or damaged after it was "
                             "written (pass verify=False, --no-verify, to read it anyway)")
