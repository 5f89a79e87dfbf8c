import os
import stat

import pytest

from sparsegraph.utils import atomic_path, atomic_write_text


def test_atomic_write_replaces_and_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "first")
        atomic_write_text(tmp_path / "a.txt", "second")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "second"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "kept")
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert (tmp_path / "a.txt").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
