"""Randomness normalised at the boundary: one seed, one generator, derived streams."""

from __future__ import annotations

import hashlib
import secrets

import torch


def resolve_seed(seed: int | None) -> int:
    """Return ``seed``, or a fresh one from OS entropy when it is None (record it!)."""
    if seed is None:
        return secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return seed


def derive_seed(seed: int, *tags: object) -> int:
    """A stable 63-bit seed for an independent stream: SHA-256 of the seed and tags.

    ``derive_seed(s, "pags", 3)`` is the same on every machine, worker count and resumption.
    """
    text = "\x1f".join([str(int(seed))] + [str(t) for t in tags])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded with ``seed`` (on CPU unless told otherwise)."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def run_generator(seed: int, generator: torch.Generator | None = None) -> torch.Generator:
    """The run's one CPU generator: ``generator`` when given (it must be a CPU ``torch.Generator``), else a
    new one seeded with ``seed``.

    Raises:
        UsageError: ``generator`` is not a CPU ``torch.Generator``.
    """
    if generator is None:
        return make_generator(seed)
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        from sparsegraph.errors import UsageError

        raise UsageError("generator must be a CPU torch.Generator")
    return generator
