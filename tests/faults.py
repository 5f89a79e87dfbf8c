"""Write faults for the output-failure tests: a disk that fills up, a directory that refuses writes.

The tests run as root in CI, where ``chmod`` cannot make a directory read-only, so permission and
full-disk faults are injected where the writers open or write their files.
"""

from __future__ import annotations

import errno
import os
import pathlib


class FullFile:
    """A file object whose writes fail with ENOSPC once more than ``capacity`` bytes were written."""

    def __init__(self, inner, capacity: int):
        self.inner = inner
        self.left = capacity

    def write(self, data):
        self.left -= len(data)
        if self.left < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.inner.close()
        return False


def fill_disk_after(monkeypatch, module, name: str, capacity: int = 1000) -> None:
    """Make ``module.name`` (an ``open``-like function) return files that fill up after ``capacity`` bytes."""
    real = getattr(module, name, open)

    def opener(*args, **kwargs):
        return FullFile(real(*args, **kwargs), capacity)

    monkeypatch.setattr(module, name, opener, raising=False)


def fail_path_writes(monkeypatch, code: int = errno.ENOSPC, when=lambda path: True) -> None:
    """``Path.write_bytes`` / ``Path.write_text`` fail with ``code`` for the paths ``when`` accepts."""
    for method in ("write_bytes", "write_text"):
        real = getattr(pathlib.Path, method)

        def failing(self, *args, _real=real, **kwargs):
            if when(self):
                raise OSError(code, os.strerror(code), str(self))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, method, failing)


def deny_new_files(monkeypatch) -> None:
    """``tempfile.mkstemp`` fails with EACCES: the directory is read-only (also for root)."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


def listing(directory: pathlib.Path) -> list[str]:
    """Every file name under ``directory`` (temporary files included), sorted."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))
