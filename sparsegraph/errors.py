"""Exception types shared across sparsegraph.

The command line maps them to exit codes (see ``docs/cli.md``):

* :class:`BadInputError` and subclasses -> exit code 3 (unreadable or mismatched model, mask,
  checkpoint or dataset; unsupported layers);
* :class:`OutputError` (an output that cannot be written) and :class:`MemoryLimitError` (work refused
  before allocation because its estimate exceeds the memory limit) -> exit code 3;
* :class:`UsageError` -> exit code 2;
* any other :class:`SparsegraphError` -> exit code 1.
"""

from __future__ import annotations


class SparsegraphError(Exception):
    """Base class of every error raised on purpose by sparsegraph."""


class UsageError(SparsegraphError, ValueError):
    """A request that can never work as given (unknown name, contradictory options)."""


class BadInputError(SparsegraphError, ValueError):
    """Input data (model, mask, checkpoint, dataset, graph file) that is unreadable or mismatched."""


class MaskError(BadInputError):
    """A mask that does not fit its model or is malformed."""


class CheckpointError(BadInputError):
    """A checkpoint that cannot be read or does not fit the model."""


class ModelSpecError(BadInputError):
    """A model SPEC that cannot be resolved to an ``nn.Module``."""


class DatasetError(BadInputError):
    """A dataset that is unknown or missing on disk."""


class GraphFileError(BadInputError):
    """A graph file that cannot be read."""


class UnsupportedOpError(BadInputError):
    """An operation that has no meaning in the weight graph (or is not supported by a tracer).

    Args:
        op: the operation (fx target or grad_fn name).
        module: the fully qualified name of the module in which it happens.
        reason: why it cannot be encoded, and how to proceed.
        module_class: the class name of ``module``, if known.
        target: the qualified name of the operation (``torch.Tensor.mul``), if it adds to ``op``.
    """

    def __init__(self, op: str, module: str, reason: str, module_class: str | None = None,
                 target: str | None = None):
        self.op = op
        self.module = module
        self.reason = reason
        self.module_class = module_class
        self.target = target
        what = f"'{op}'" + (f" ({target})" if target and target != op else "")
        where = f"'{module}'" + (f" ({module_class})" if module_class else "")
        super().__init__(f"cannot encode {what} in module {where}: {reason}")


class CompatError(UnsupportedOpError):
    """A construct outside the scope of a compatibility mode (e.g. ``compat="mge2024"``)."""


class TraceError(BadInputError):
    """Both tracers failed; carries both causes."""

    def __init__(self, message: str, causes: tuple[BaseException, ...] = ()):
        self.causes = causes
        super().__init__(message)


class OutputError(SparsegraphError, OSError):
    """An output that cannot be written: no permission, no space left, a parent that is a file, ...

    Writers leave no partial file behind, and an earlier file at ``path`` keeps its old content.

    Args:
        path: the output that could not be written.
        reason: why, in a few words (``permission denied``, ``no space left on device``, ...).
        needed_bytes: the free space the output needs, when known.
        free_bytes: the free space there is, when known.
    """

    def __init__(self, path: str, reason: str, *, needed_bytes: int | None = None,
                 free_bytes: int | None = None):
        from sparsegraph.utils.sizes import format_bytes

        self.path = str(path)
        self.reason = reason
        self.needed_bytes = needed_bytes
        self.free_bytes = free_bytes
        space = ""
        if needed_bytes is not None:
            space = f" (needs about {format_bytes(needed_bytes)}" + (
                f", {format_bytes(free_bytes)} free)" if free_bytes is not None else ")")
        super().__init__(f"cannot write {self.path}: {reason}{space}")


class MemoryLimitError(SparsegraphError, MemoryError):
    """Work whose estimated memory exceeds the configured limit (raised before allocation).

    The message names the estimate, the limit and the option that raises it.
    """

    def __init__(self, message: str, *, estimate_bytes: int, limit_bytes: int):
        self.estimate_bytes = estimate_bytes
        self.limit_bytes = limit_bytes
        super().__init__(message)


class GraphTooLargeError(MemoryLimitError):
    """A graph whose estimated memory exceeds the configured limit (raised before allocation)."""

    def __init__(self, message: str, *, num_nodes: int, num_edges: int, target: str,
                 estimate_bytes: int, limit_bytes: int):
        self.num_nodes = num_nodes
        self.num_edges = num_edges
        self.target = target
        super().__init__(message, estimate_bytes=estimate_bytes, limit_bytes=limit_bytes)


class MetricError(SparsegraphError):
    """A metric that failed on its input (non-finite weights, unsupported operation, ...)."""


class MetricRegistrationError(SparsegraphError, ValueError):
    """An invalid or duplicate metric registration."""


class UnknownMetricError(UsageError, KeyError):
    """A metric or family name that is not registered."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class GeneratorRegistrationError(SparsegraphError, ValueError):
    """An invalid or duplicate pruning-generator registration."""


class NonFiniteScoreError(SparsegraphError, ValueError):
    """A pruning score containing NaN or +-inf."""


class SolverError(SparsegraphError):
    """An exact solver (NPB's layer MILPs) failed, hit its time limit, or found the problem infeasible."""


class TrainingError(SparsegraphError):
    """Training could not continue (e.g. a NaN loss); the last good checkpoint is kept."""


class StudyInputError(BadInputError):
    """A study directory or study CSV that cannot be analysed (no readable runs, missing columns)."""
