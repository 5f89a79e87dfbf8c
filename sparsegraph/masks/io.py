"""Reading and writing mask files: ``.safetensors`` (canonical), ``.pt``/``.pth`` and ``.npz``.

Every file written by sparsegraph carries the same text header (a ``str -> str`` dict): the
safetensors metadata, or the JSON string stored under the key ``__metadata__`` of a ``.pt`` dict
or ``.npz`` archive. Files from elsewhere need no header.

Compact ``.safetensors`` files (``compact=True``; topology-tracking snapshots) store each mask as the
smaller of its bit-packed bytes (``numpy.packbits`` of the C-order flat mask, uint8) and the int32/int64
flat indices of its kept entries; the header entry ``encoding`` (JSON: name -> [``bits`` | ``indices``,
shape]) says which, and every reader of this module decodes them transparently.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sparsegraph.errors import MaskError
from sparsegraph.utils.atomic import atomic_path, atomic_torch_save, atomic_write_bytes

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth")
NUMPY_SUFFIXES = (".npz",)
SUFFIXES = SAFETENSORS_SUFFIXES + TORCH_SUFFIXES + NUMPY_SUFFIXES
# Key of the text header inside .pt dicts and .npz archives (the name safetensors uses for its own).
HEADER_KEY = "__metadata__"
ENCODING_KEY = "encoding"
PRUNE_MASK_SUFFIX = "_mask"
PRUNE_WEIGHT_MASK = "weight_mask"


def _suffix(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise MaskError(f"{path}: unsupported mask file suffix {suffix or '(none)'!r} "
                        f"(expected {', '.join(SUFFIXES)})")
    return suffix


_WEIGHTS_ONLY_CAUSE = "WeightsUnpickler error:"


def _reason(exc: BaseException) -> str:
    """The cause of a reader failure in one short sentence (torch's messages run over many lines)."""
    text = str(exc).strip()
    if _WEIGHTS_ONLY_CAUSE in text:  # torch.load(weights_only=True): keep the cause, drop the advice
        text = text.split(_WEIGHTS_ONLY_CAUSE, 1)[1].strip()
    line = text.splitlines()[0].strip() if text else type(exc).__name__
    return line.split(". ")[0].rstrip(".")


def read_mask_file(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Read the raw entries of a mask file.

    Returns:
        ``(entries, header, ignored)``: parameter name -> tensor or array (not yet validated), in
        file order; the text header ({} if none); keys of a ``torch.nn.utils.prune`` state dict that
        are not weight masks (``*_orig``, buffers, ``bias_mask``), skipped.

    Raises:
        MaskError: unsupported suffix, missing, unreadable, corrupt or truncated file.
    """
    suffix = _suffix(path)
    if not Path(path).is_file():
        raise MaskError(f"{path}: no such mask file")
    try:
        if suffix in SAFETENSORS_SUFFIXES:
            entries, header = _read_safetensors(path)
        elif suffix in TORCH_SUFFIXES:
            entries, header = _read_torch(path)
        else:
            entries, header = _read_npz(path)
    except MaskError:
        raise
    except Exception as exc:  # every reader failure (bad zip, pickle, header) is a bad file
        why = ("corrupt, truncated, or holding objects that torch.load(weights_only=True) refuses"
               if suffix in TORCH_SUFFIXES else f"corrupt, truncated or not a {suffix} file")
        raise MaskError(f"{path}: cannot read the mask file ({why}): {_reason(exc)}") from exc
    entries, ignored = _prune_state_dict_masks(entries)
    if not entries:
        raise MaskError(f"{path}: the file holds no masks")
    return entries, header, ignored


def _read_safetensors(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        header = dict(handle.metadata() or {})
        names = list(handle.keys())
        # safetensors sorts its keys; the header's "order" restores MaskSet order.
        order = json.loads(header["order"]) if "order" in header else names
        if not isinstance(order, list) or sorted(map(str, order)) != sorted(names):
            raise MaskError(f"{path}: the header's parameter order does not list the file's tensors")
        entries = {name: handle.get_tensor(name) for name in order}
    if ENCODING_KEY in header:
        entries = _decode_compact(path, entries, json.loads(header[ENCODING_KEY]))
    return entries, header


def _encode_compact(masks: dict[str, Tensor]) -> tuple[dict[str, Tensor], dict[str, list]]:
    """Each mask as packed bits or kept indices, whichever is smaller, and the ``encoding`` entry."""
    tensors, encoding = {}, {}
    for name, mask in masks.items():
        flat = mask.reshape(-1).numpy()
        index_type = np.int32 if flat.size < 2**31 else np.int64
        kept = int(np.count_nonzero(flat))
        if kept * np.dtype(index_type).itemsize < (flat.size + 7) // 8:
            tensors[name] = torch.from_numpy(np.flatnonzero(flat).astype(index_type))
            encoding[name] = ["indices", list(mask.shape)]
        else:
            tensors[name] = torch.from_numpy(np.packbits(flat))
            encoding[name] = ["bits", list(mask.shape)]
    return tensors, encoding


def _decode_compact(path, entries: dict[str, Tensor], encoding: dict[str, list]) -> dict[str, Tensor]:
    out = {}
    for name, value in entries.items():
        kind, shape = encoding.get(name, (None, None))
        numel = int(np.prod(shape, dtype=np.int64)) if shape is not None else 0
        if kind == "bits":
            flat = np.unpackbits(value.numpy(), count=numel).astype(bool)
        elif kind == "indices":
            flat = np.zeros(numel, dtype=bool)
            flat[value.numpy()] = True
        else:
            raise MaskError(f"{path}: the header's encoding does not describe parameter {name!r}")
        out[name] = torch.from_numpy(flat).reshape(shape)
    return out


def _read_torch(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict):
        raise MaskError(f"{path}: expected a dict of parameter name -> mask tensor, got a {type(obj).__name__}")
    if not all(isinstance(key, str) for key in obj):
        raise MaskError(f"{path}: expected a dict of parameter name -> mask tensor, found non-string keys")
    header_text = obj.pop(HEADER_KEY, None)
    return obj, _parse_header(path, header_text)


def _read_npz(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, str]]:
    with np.load(path, allow_pickle=False) as archive:
        entries = {name: archive[name] for name in archive.files}
    header_array = entries.pop(HEADER_KEY, None)
    header_text = str(header_array[()]) if header_array is not None else None
    return entries, _parse_header(path, header_text)


def _parse_header(path: str | os.PathLike, text: Any) -> dict[str, str]:
    if text is None:
        return {}
    try:
        header = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or not all(isinstance(v, str) for v in header.values()):
        raise MaskError(f"{path}: entry {HEADER_KEY!r} is not a sparsegraph mask header (a JSON object of strings)")
    return header


def _prune_state_dict_masks(entries: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map a ``torch.nn.utils.prune`` state dict (``<module>.weight_mask``) to parameter names."""
    is_prune_state = any(key == PRUNE_WEIGHT_MASK or key.endswith("." + PRUNE_WEIGHT_MASK) for key in entries)
    if not is_prune_state:
        return entries, []
    masks, ignored = {}, []
    for key, value in entries.items():
        if key == PRUNE_WEIGHT_MASK or key.endswith("." + PRUNE_WEIGHT_MASK):
            masks[key[: -len(PRUNE_MASK_SUFFIX)]] = value
        else:
            ignored.append(key)
    return masks, ignored


def write_mask_file(path: str | os.PathLike, masks: dict[str, Tensor], header: dict[str, str],
                    compact: bool = False) -> None:
    """Write ``masks`` (CPU bool tensors) and the text ``header`` atomically; format from the suffix.

    ``compact=True`` (``.safetensors`` only) stores bit-packed masks or kept indices (module docstring).
    The bytes depend only on the masks (names, order, shapes, bits) and the header: header keys are
    sorted, zip members carry fixed dates and names, and nothing random (temporary file names, map
    order) reaches the file, so the file's hash identifies its content.
    """
    suffix = _suffix(path)
    if compact and suffix not in SAFETENSORS_SUFFIXES:
        raise MaskError(f"{path}: compact mask files are .safetensors files")
    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors.torch import save

        if compact:
            masks, encoding = _encode_compact(masks)
            header = {**header, ENCODING_KEY: json.dumps(encoding)}
        atomic_write_bytes(path, _sorted_safetensors_header(save(masks, metadata=dict(sorted(header.items())))))
    elif suffix in TORCH_SUFFIXES:
        # through a file object: torch then names the records "archive/...", not after the temporary file
        atomic_torch_save({**masks, HEADER_KEY: json.dumps(dict(sorted(header.items())))}, path)
    else:
        with atomic_path(path) as tmp:
            _write_npz(tmp, {name: mask.numpy() for name, mask in masks.items()}, json.dumps(header))


def _sorted_safetensors_header(data: bytes) -> bytes:
    """The same safetensors file with its JSON header's keys sorted (the writer's map order is random).

    Layout: an 8-byte little-endian header length N, N bytes of JSON padded with spaces to a multiple
    of 8, then the tensor bytes (offsets are relative to them, so they do not move).
    """
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + length:]


def _write_npz(path: Path, arrays: dict[str, np.ndarray], header_text: str) -> None:
    # np.savez(file, **arrays) would clash with parameter names such as "file"; write its layout directly.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in {**arrays, HEADER_KEY: np.array(header_text)}.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
