"""Atomic writes: results appear complete or not at all, never half-written.

Every writer of sparsegraph goes through :func:`atomic_path` (or :func:`atomic_paths` for a file and
its sidecar): the data goes to a temporary file beside the target, which is renamed over the target
only once it is complete. A failed write (no permission, no space left, a parent that is a file, a
target that is a directory) raises :class:`~sparsegraph.errors.OutputError`, removes the temporary
file and leaves an earlier file at the target untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from sparsegraph.errors import OutputError

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "it is a directory",
    errno.ENOTDIR: "a parent of it is not a directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EFBIG: "file too large for the file system",
}
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def free_bytes(path: str | os.PathLike) -> int | None:
    """Free bytes on the file system that would hold ``path`` (its nearest existing ancestor)."""
    here = Path(os.path.abspath(path))
    for candidate in (here, *here.parents):
        if candidate.is_dir():
            try:
                return shutil.disk_usage(candidate).free
            except OSError:
                return None
    return None


def output_error(path: str | os.PathLike, exc: OSError, needed_bytes: int | None = None) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` raised while writing ``path``."""
    if isinstance(exc, OutputError):
        return exc
    reason = _REASONS.get(exc.errno) or (exc.strerror or str(exc) or type(exc).__name__).lower()
    if exc.errno in _NO_SPACE:
        return OutputError(os.fspath(path), reason, needed_bytes=needed_bytes, free_bytes=free_bytes(path))
    return OutputError(os.fspath(path), reason)


def prepare_output(path: str | os.PathLike, needed_bytes: int | None = None) -> Path:
    """Check that ``path`` can be a file and create its parent directories.

    Raises:
        OutputError: ``path`` is a directory, an ancestor is a file, the parents cannot be created,
            or (with ``needed_bytes``) the file system has less free space than that.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(os.fspath(path), "it is a directory; give a file name")
    for ancestor in target.parents:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise OutputError(os.fspath(path), f"{ancestor} is a file, not a directory")
            break
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc) from None
    check_free_space(target, needed_bytes)
    return target


def prepare_output_dir(path: str | os.PathLike) -> Path:
    """Create the directory ``path`` (and its parents), or raise :class:`OutputError` saying why not."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputError(os.fspath(path), "it is a file, not a directory")
    for ancestor in target.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise OutputError(os.fspath(path), f"{ancestor} is a file, not a directory")
            break
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(path, exc) from None
    if not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(os.fspath(path), "permission denied")
    return target


def check_free_space(path: str | os.PathLike, needed_bytes: int | None) -> None:
    """Raise :class:`OutputError` when the file system of ``path`` has less than ``needed_bytes`` free."""
    if needed_bytes is None:
        return
    free = free_bytes(path)
    if free is not None and needed_bytes > free:
        raise OutputError(os.fspath(path), "not enough free space on the file system; free some space or "
                          "write elsewhere", needed_bytes=needed_bytes, free_bytes=free)


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike, needed_bytes: int | None = None) -> Iterator[tuple[Path, ...]]:
    """Yield one temporary path beside each of ``paths``; on success each is renamed over its target.

    The renames happen only after every file was written, so a failure leaves all targets as they
    were. ``needed_bytes`` (an estimate of the total size) is checked against the free space first.

    Raises:
        OutputError: a target cannot be written (its message names the path and the reason).
    """
    targets = [prepare_output(p) for p in paths]
    check_free_space(targets[0], needed_bytes)
    temporaries: list[Path] = []
    try:
        for target in targets:
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            except OSError as exc:
                raise output_error(target, exc) from None
            os.close(fd)
            temporaries.append(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results get the usual permissions
        current = targets[0]
        try:
            yield tuple(temporaries)
            for target, tmp in zip(targets, temporaries):
                current = target
                os.replace(tmp, target)
        except OSError as exc:
            raise output_error(current, exc, needed_bytes) from None
    finally:
        for tmp in temporaries:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, needed_bytes: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``.

    An ``OSError`` while writing becomes :class:`OutputError`; the temporary file is removed and an
    earlier file at ``path`` keeps its content.

    Example::

        with atomic_path("masks.safetensors") as tmp:
            save_file(tensors, tmp)
    """
    with atomic_paths(path, needed_bytes=needed_bytes) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_workdir(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary directory beside ``path`` for a writer's scratch files, removed afterwards."""
    target = prepare_output(path)
    try:
        work = tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise output_error(target, exc) from None
    try:
        try:
            yield Path(work)
        except OSError as exc:
            raise output_error(target, exc) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, needed_bytes=len(data)) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj, path: str | os.PathLike, needed_bytes: int | None = None) -> None:
    """``torch.save(obj)`` to ``path`` atomically (through a file object, so a failed write is an ``OSError``)."""
    import torch

    with atomic_path(path, needed_bytes=needed_bytes) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)


def atomic_save_safetensors(tensors, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """A safetensors file of ``tensors`` (CPU, contiguous) written atomically."""
    from safetensors.torch import save

    atomic_write_bytes(path, save(tensors, metadata=metadata))


def append_durably(path: str | os.PathLike, data: bytes) -> None:
    """Append ``data`` to ``path``, flushed and fsynced; a write that fails (no space left) is cut off
    again, so the file never ends in a partial record, and :class:`OutputError` is raised."""
    try:
        with open(path, "ab") as fh:
            start = fh.tell()
            try:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                fh.truncate(start)
                raise
    except OSError as exc:
        raise output_error(path, exc, len(data)) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
