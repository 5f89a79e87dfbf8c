"""Executor choice, resolved in one place for PAGS/PEGS scoring and study grids.

Example:
    >>> resolve_executor(None, workers=4), resolve_executor(None, workers=None), resolve_executor("ray", 2)
    ('process', 'serial', 'ray')
"""

from __future__ import annotations

from sparsegraph.errors import UsageError

EXECUTORS = ("serial", "process", "ray")


def resolve_executor(executor: str | None, workers: int | None) -> str:
    """The executor to use: ``executor`` when given (checked), else ``process`` for more than one worker and
    ``serial`` otherwise.

    Raises:
        UsageError: an unknown executor or a worker count below 1.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UsageError(f"workers must be a positive integer, got {workers!r}")
    if executor is None:
        return "process" if workers is not None and workers > 1 else "serial"
    if executor not in EXECUTORS:
        raise UsageError(f"executor {executor!r} is not valid; expected one of: {', '.join(EXECUTORS)}")
    return executor


def require_ray():
    """Import ray, or fail before any work with a message naming the extra."""
    try:
        import ray
    except ImportError:
        raise UsageError("executor 'ray' needs Ray: install the extra with pip install 'sparsegraph[ray]'") \
            from None
    return ray
