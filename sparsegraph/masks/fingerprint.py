"""Short, stable hashes that identify a mask (its bits) and the model it was made for (names, shapes)."""

from __future__ import annotations

import hashlib
import json
from typing import Mapping, Sequence

import numpy as np
from torch import Tensor, nn

from sparsegraph.masks.maskable import maskable_parameters

FINGERPRINT_CHARS = 16


def _shape_table(shapes: Mapping[str, Sequence[int]]) -> bytes:
    # JSON keeps names and shapes unambiguous (no separator a parameter name could contain).
    return json.dumps([[name, [int(s) for s in shape]] for name, shape in shapes.items()]).encode("utf-8")


def mask_fingerprint(masks: Mapping[str, Tensor]) -> str:
    """sha256 over the names, shapes and bits of ``masks`` (in order), first 16 hex characters.

    Each mask is flattened in C order and packed 8 bits to a byte (``numpy.packbits``); the shape
    table in front fixes where every layer's bits start, so one flipped bit changes the hash.
    """
    digest = hashlib.sha256(b"sparsegraph.masks/1\n")
    digest.update(_shape_table({name: tuple(mask.shape) for name, mask in masks.items()}))
    for mask in masks.values():
        digest.update(np.packbits(mask.detach().cpu().numpy().reshape(-1)).tobytes())
    return digest.hexdigest()[:FINGERPRINT_CHARS]


def model_fingerprint(model_or_shapes: nn.Module | Mapping[str, Sequence[int] | Tensor]) -> str:
    """sha256 over the names and shapes of a model's maskable parameters, first 16 hex characters.

    Args:
        model_or_shapes: an ``nn.Module`` (its Conv2d/Linear weights in MaskSet order), or an ordered
            mapping parameter name -> shape or tensor (e.g. a :class:`MaskSet`).
    """
    if isinstance(model_or_shapes, nn.Module):
        model_or_shapes = maskable_parameters(model_or_shapes)
    shapes = {name: tuple(value.shape) if isinstance(value, (Tensor, np.ndarray)) else tuple(value)
              for name, value in model_or_shapes.items()}
    digest = hashlib.sha256(b"sparsegraph.model/1\n")
    digest.update(_shape_table(shapes))
    return digest.hexdigest()[:FINGERPRINT_CHARS]


__all__ = ["FINGERPRINT_CHARS", "mask_fingerprint", "model_fingerprint"]
