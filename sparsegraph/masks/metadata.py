"""The text header of a mask file and the user metadata it carries.

Header keys (all values are strings):

* ``format`` = ``sparsegraph.masks/1``; ``sparsegraph_version``;
* ``fingerprint`` (:func:`mask_fingerprint`), ``model_fingerprint`` (the metadata's own, else the
  fingerprint of the masks' names and shapes), ``density``, ``num_kept``, ``numel``;
* ``order``: JSON list of the parameter names in MaskSet order (safetensors sorts its tensors);
* ``encoding`` (compact files only): how each mask is stored (:mod:`sparsegraph.masks.io`);
* ``metadata``: JSON object of the user metadata with its value types (exact round trip);
* every user metadata key again as plain text (``generator``, ``seed``, ...), for people and tools
  that read safetensors headers.

Keys are sorted (and so are the keys inside the JSON values), so equal masks with equal metadata give
byte-identical files whatever order the metadata was built in.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, Mapping

from sparsegraph._version import __version__
from sparsegraph.errors import MaskError, UsageError

FORMAT = "sparsegraph.masks/1"
# Keys computed on every save; user metadata cannot set them.
COMPUTED_KEYS = frozenset({"format", "sparsegraph_version", "fingerprint", "density", "num_kept", "numel",
                           "order", "metadata", "encoding"})


def make_header(names: list[str], *, fingerprint: str, model_fingerprint: str, num_kept: int, numel: int,
                metadata: Mapping[str, Any]) -> dict[str, str]:
    """The text header written with a mask set.

    Raises:
        ValueError: a user metadata key that is computed on save, or a value that is not JSON.
    """
    reserved = sorted(COMPUTED_KEYS.intersection(metadata))
    if reserved:
        raise UsageError(f"metadata key {reserved[0]!r} is written by sparsegraph itself; use another name")
    try:
        metadata_json = json.dumps(dict(metadata), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"mask metadata must be JSON-serialisable (str, int, float, bool, None, lists, "
                         f"dicts): {exc}") from None
    header = {key: value if isinstance(value, str) else json.dumps(value, sort_keys=True)
              for key, value in metadata.items()}
    header.update({
        "format": FORMAT,
        "sparsegraph_version": __version__,
        "fingerprint": fingerprint,
        "model_fingerprint": str(metadata.get("model_fingerprint", model_fingerprint)),
        "density": repr(num_kept / numel) if numel else "1.0",
        "num_kept": str(num_kept),
        "numel": str(numel),
        "order": json.dumps(names),
        "metadata": metadata_json,
    })
    return dict(sorted(header.items()))


def metadata_from_header(header: Mapping[str, str], source: str) -> dict[str, Any]:
    """The user metadata of a header: the typed ``metadata`` JSON if present, else the plain keys.

    Raises:
        MaskError: a header of another format, or a ``metadata`` entry that is not a JSON object.
    """
    fmt = header.get("format")
    if fmt is not None and fmt.startswith("sparsegraph.masks/") and fmt != FORMAT:
        raise MaskError(f"{source}: mask file format {fmt!r} is not supported (this version reads {FORMAT!r})")
    if fmt == FORMAT and "metadata" in header:
        try:
            metadata = json.loads(header["metadata"])
        except json.JSONDecodeError:
            metadata = None
        if not isinstance(metadata, dict):
            raise MaskError(f"{source}: header entry 'metadata' is not a JSON object")
        return metadata
    return {key: value for key, value in header.items() if key not in COMPUTED_KEYS}


def check_stored_fingerprint(header: Mapping[str, str], fingerprint: str, source: str) -> None:
    """Warn when the masks no longer match the fingerprint their header states (edited file)."""
    stored = header.get("fingerprint")
    if stored is not None and header.get("format") == FORMAT and stored != fingerprint:
        warnings.warn(f"{source}: the masks' fingerprint {fingerprint} differs from the {stored} stored in the "
                      "file's header: the file was modified after sparsegraph wrote it", stacklevel=3)
