"""PAGS snapshots, the resumable state file and the configuration hash (spec pruning §3).

``RUN_DIR/snapshots/mask_<j:06d>.safetensors`` holds the best mask after sample j (written when it changed
since the previous snapshot); ``RUN_DIR/snapshots/state.pt`` is rewritten atomically at every snapshot
point and holds everything needed to continue at sample j + 1 with bitwise the same results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import BadInputError, CheckpointError
from sparsegraph.utils.atomic import atomic_path, atomic_torch_save

STATE_FORMAT = "sparsegraph.pags_state/1"


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of the model's state dict (names, dtypes, shapes, bytes): the θ a run samples on."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """A stable hash of the JSON-ready configuration that determines the sampled masks."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def snapshot_path(run_dir: Path, j: int) -> Path:
    return Path(run_dir) / "snapshots" / f"mask_{j:06d}.safetensors"


def state_path(run_dir: Path) -> Path:
    return Path(run_dir) / "snapshots" / "state.pt"


def write_snapshot(run_dir: Path, j: int, masks: Mapping[str, torch.Tensor], score: float | None,
                   metadata: Mapping[str, Any]) -> tuple[Path, str]:
    """Write the best mask after sample ``j``; returns its path and fingerprint."""
    from sparsegraph.masks import MaskSet

    maskset = MaskSet(dict(masks), metadata={**metadata, "pags_sample": j, "score": score})
    path = snapshot_path(run_dir, j)
    maskset.save(path)
    return path, maskset.fingerprint()


def save_state(run_dir: Path, state: Mapping[str, Any], digest: str) -> None:
    """Atomically rewrite ``snapshots/state.pt``."""
    path = state_path(run_dir)
    atomic_torch_save({"format": STATE_FORMAT, "config_hash": digest, **state}, path)


def load_state(run_dir: Path, digest: str) -> dict[str, Any] | None:
    """The stored state, or None when there is none; a different configuration is bad input."""
    path = state_path(run_dir)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file is reported the same way
        raise CheckpointError(f"{path}: unreadable PAGS state ({exc})") from None
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path}: not a PAGS state file (format {state.get('format')!r})")
    if state["config_hash"] != digest:
        raise BadInputError(f"{path}: the PAGS run was started with a different configuration or weights "
                            "(config hash mismatch); start a new run directory instead")
    return state


def trim_log(log_path: Path, events: tuple[str, ...], after: int) -> None:
    """Drop the rows of ``events`` with ``j > after`` from a log (written after the state being resumed)."""
    path = Path(log_path)
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the interruption
            continue
        if row.get("event") in events and int(row.get("j", -1)) > after:
            continue
        kept.append(line if line.endswith("\n") else line + "\n")
    with atomic_path(path) as tmp:
        tmp.write_text("".join(kept), encoding="utf-8")
