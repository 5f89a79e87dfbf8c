"""The memory limit, and checks of estimates against it before anything is allocated.

The limit is ``max_bytes`` where a function takes one, else the limit of an enclosing
:func:`memory_limit` block (``sg.measure(max_bytes=...)`` opens one), else ``$SPARSEGRAPH_MAX_BYTES``,
else 4 GiB. On the command line it is ``--max-memory``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
from typing import Callable, Iterator, TypeVar

from sparsegraph.errors import MemoryLimitError, UsageError
from sparsegraph.utils.sizes import format_bytes, parse_bytes

DEFAULT_MAX_BYTES = 4 * 2**30
ENV_VAR = "SPARSEGRAPH_MAX_BYTES"
RAISE_HINT = f"Raise it with --max-memory SIZE, max_bytes=... or {ENV_VAR}"
F = TypeVar("F", bound=Callable)
_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("sparsegraph_max_bytes", default=None)


def resolve_max_bytes(max_bytes: int | str | None = None) -> int:
    """The limit: ``max_bytes`` if given, else the enclosing :func:`memory_limit`'s, else
    ``$SPARSEGRAPH_MAX_BYTES``, else 4 GiB."""
    if max_bytes is not None:
        try:
            value = parse_bytes(max_bytes)
        except ValueError as exc:
            raise UsageError(f"max_bytes: {exc}") from None
    elif _LIMIT.get() is not None:
        value = _LIMIT.get()
    elif os.environ.get(ENV_VAR):
        try:
            value = parse_bytes(os.environ[ENV_VAR])
        except ValueError as exc:
            raise UsageError(f"{ENV_VAR}: {exc}") from None
    else:
        value = DEFAULT_MAX_BYTES
    if value <= 0:
        raise UsageError(f"the memory limit must be positive, got {value}")
    return value


@contextlib.contextmanager
def memory_limit(max_bytes: int | str | None) -> Iterator[int]:
    """Within the block, checks without their own ``max_bytes`` use this limit (None: keep the current one)."""
    token = _LIMIT.set(resolve_max_bytes(max_bytes))
    try:
        yield _LIMIT.get()
    finally:
        _LIMIT.reset(token)


def check_memory(need: int, what: str, max_bytes: int | str | None = None) -> int:
    """Raise :class:`MemoryLimitError` when ``what`` is estimated to need more than the limit.

    Returns:
        ``need``.
    """
    limit = resolve_max_bytes(max_bytes)
    if need > limit:
        raise MemoryLimitError(f"{what} needs about {format_bytes(need)}, above the memory limit of "
                               f"{format_bytes(limit)}. {RAISE_HINT}.", estimate_bytes=need, limit_bytes=limit)
    return need


def with_memory_limit(func: F) -> F:
    """Run ``func`` inside :func:`memory_limit` of its own ``max_bytes`` argument, so that every check
    below it (traces, encodings, metric passes) uses the limit the caller gave."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with memory_limit(signature.bind_partial(*args, **kwargs).arguments.get("max_bytes")):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
