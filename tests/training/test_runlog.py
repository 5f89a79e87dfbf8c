import pytest

from sparsegraph.errors import BadInputError
from sparsegraph.training import RunLog
from sparsegraph.training.runlog import read_events


def test_rows_read_back_in_order_with_time_fields(tmp_path):
    log = RunLog(tmp_path / "log.jsonl")
    log.write("config", seed=3)
    log.write("epoch", epoch=1, loss=0.5)
    rows = read_events(tmp_path / "log.jsonl")
    assert [r["event"] for r in rows] == ["config", "epoch"]
    assert rows[0]["seed"] == 3 and rows[1]["loss"] == 0.5
    assert rows[1]["elapsed_s"] >= rows[0]["elapsed_s"] and rows[0]["time"].endswith("+00:00")


def test_unreadable_or_corrupt_logs_are_bad_input(tmp_path):
    with pytest.raises(BadInputError, match="cannot read the run log"):
        read_events(tmp_path / "missing.jsonl")
    (tmp_path / "log.jsonl").write_text('{"event": "config"}\n{"event": \n')
    with pytest.raises(BadInputError, match="line 2 of the run log is not JSON"):
        read_events(tmp_path / "log.jsonl")
