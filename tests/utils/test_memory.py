import pytest

from sparsegraph.errors import MemoryLimitError, UsageError
from sparsegraph.utils.memory import check_memory, memory_limit, resolve_max_bytes, with_memory_limit


def test_limit_order_argument_block_environment_default(monkeypatch):
    monkeypatch.delenv("SPARSEGRAPH_MAX_BYTES", raising=False)
    assert resolve_max_bytes() == 4 * 2**30
    monkeypatch.setenv("SPARSEGRAPH_MAX_BYTES", "1GiB")
    assert resolve_max_bytes() == 2**30
    with memory_limit("2GiB") as limit:
        assert limit == resolve_max_bytes() == 2 * 2**30
        assert resolve_max_bytes(100) == 100
        with memory_limit(None):  # keeps the enclosing limit
            assert resolve_max_bytes() == 2 * 2**30
    assert resolve_max_bytes() == 2**30
    with pytest.raises(UsageError, match="max_bytes"):
        resolve_max_bytes("lots")


def test_check_memory_names_estimate_limit_and_option():
    assert check_memory(10, "x", 10) == 10
    with pytest.raises(MemoryLimitError) as info:
        check_memory(3 * 2**30, "tracing Net on input 3x9x9", "1GiB")
    assert str(info.value) == ("tracing Net on input 3x9x9 needs about 3.0 GiB, above the memory limit of 1.0 GiB. "
                               "Raise it with --max-memory SIZE, max_bytes=... or SPARSEGRAPH_MAX_BYTES.")
    assert (info.value.estimate_bytes, info.value.limit_bytes) == (3 * 2**30, 2**30)
    assert isinstance(info.value, MemoryError)


def test_with_memory_limit_applies_the_callers_limit_below():
    @with_memory_limit
    def work(n, max_bytes=None):
        return resolve_max_bytes()

    assert work(1, max_bytes=123) == 123
    assert work(1, 456) == 456
