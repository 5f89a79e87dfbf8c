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


def test_failures_are_output_errors_naming_path_and_reason(tmp_path, monkeypatch):
    import errno

    from faults import deny_new_files, fail_path_writes

    from sparsegraph.errors import OutputError

    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory") as info:
        atomic_write_text(tmp_path / "file" / "a.txt", "y")
    assert info.value.path == str(tmp_path / "file" / "a.txt") and isinstance(info.value, OSError)
    (tmp_path / "dir").mkdir()
    with pytest.raises(OutputError, match="it is a directory"):
        atomic_write_text(tmp_path / "dir", "y")
    atomic_write_text(tmp_path / "a.txt", "kept")
    with monkeypatch.context() as m:
        fail_path_writes(m)
        with pytest.raises(OutputError, match="no space left on device") as info:
            atomic_write_text(tmp_path / "a.txt", "new")
        assert info.value.needed_bytes == 3 and info.value.free_bytes > 0
    with monkeypatch.context() as m:
        deny_new_files(m)
        with pytest.raises(OutputError, match="permission denied"):
            atomic_write_text(tmp_path / "a.txt", "new")
    with monkeypatch.context() as m:
        fail_path_writes(m, errno.EROFS)
        with pytest.raises(OutputError, match="read-only file system"):
            atomic_write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "dir", "file"]


def test_atomic_paths_replace_all_or_none(tmp_path, monkeypatch):
    from sparsegraph.errors import OutputError
    from sparsegraph.utils.atomic import atomic_paths

    a, b = tmp_path / "a.tsv", tmp_path / "a.tsv.meta.json"
    a.write_text("old a")
    b.write_text("old b")
    with pytest.raises(OutputError, match="no space left"):
        with atomic_paths(a, b) as (ta, tb):
            ta.write_text("new a")
            raise OSError(28, "No space left on device")
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    with atomic_paths(a, b) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tsv", "a.tsv.meta.json"]


def test_free_space_is_checked_first(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from sparsegraph.errors import OutputError

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(100, 90, 10))
    with pytest.raises(OutputError, match=r"not enough free space.*needs about 20 B, 10 B free"):
        with atomic_path(tmp_path / "a.bin", needed_bytes=20) as tmp:
            raise AssertionError("not reached")
    assert list(tmp_path.iterdir()) == []


def test_torch_and_safetensors_writes_fail_as_output_errors(tmp_path, monkeypatch):
    import torch

    from faults import fail_path_writes, fill_disk_after

    from sparsegraph.errors import OutputError
    from sparsegraph.utils import atomic as atomic_module
    from sparsegraph.utils.atomic import atomic_save_safetensors, atomic_torch_save

    with monkeypatch.context() as m:
        fill_disk_after(m, atomic_module, "open", capacity=10)
        with pytest.raises(OutputError, match="no space left"):
            atomic_torch_save({"w": torch.zeros(100)}, tmp_path / "c.pt")
    with monkeypatch.context() as m:
        fail_path_writes(m)
        with pytest.raises(OutputError, match="no space left"):
            atomic_save_safetensors({"w": torch.zeros(100)}, tmp_path / "c.safetensors")
    assert list(tmp_path.iterdir()) == []
