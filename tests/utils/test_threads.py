"""The one place that sets BLAS/OpenMP/torch threads (issue #15)."""

import os

import pytest
import torch
from threadpoolctl import threadpool_info

from sparsegraph.errors import UsageError
from sparsegraph.utils import threads


@pytest.fixture(autouse=True)
def _restore():
    before = torch.get_num_threads()
    yield
    threads.set_threads(before)


def _blas_limits() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info()}


def test_available_cores_is_the_affinity_mask():
    assert threads.available_cores() == len(os.sched_getaffinity(0))


def test_set_threads_sets_every_pool():
    assert threads.set_threads(1) == 1
    assert torch.get_num_threads() == 1
    assert _blas_limits() == {1}
    assert threads.current_threads() == 1


def test_default_is_the_affinity_mask():
    assert threads.set_threads() == threads.available_cores()
    assert torch.get_num_threads() == threads.available_cores()


def test_worker_rule_is_one_thread():
    assert threads.use_worker_threads() == 1
    assert torch.get_num_threads() == 1 and _blas_limits() == {1}


def test_thread_limit_restores():
    threads.set_threads(2)
    with threads.thread_limit(1):
        assert torch.get_num_threads() == 1 and _blas_limits() == {1}
    assert torch.get_num_threads() == 2


def test_worker_share_splits_the_cores():
    assert threads.worker_share(1) == threads.available_cores()
    assert threads.worker_share(10_000) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_counts_are_usage_errors(bad):
    with pytest.raises(UsageError, match="threads must be a positive integer"):
        threads.set_threads(bad)


def test_cli_threads_option(monkeypatch):
    from click.testing import CliRunner

    from sparsegraph_cli.main import main

    seen = []
    monkeypatch.setattr(threads, "set_threads", lambda n=None: seen.append(n) or 1)
    result = CliRunner().invoke(main, ["--threads", "1", "models"])
    assert result.exit_code == 0, result.output
    assert seen == [1]
    assert CliRunner().invoke(main, ["--threads", "0", "models"]).exit_code == 2
