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


def test_a_line_that_does_not_fit_is_cut_off_again(tmp_path, monkeypatch):
    import builtins

    from faults import FullFile

    from sparsegraph.errors import OutputError

    log = RunLog(tmp_path / "log.jsonl")
    log.write("first", value=1)
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: FullFile(real_open(*a, **k), capacity=0))
    with pytest.raises(OutputError, match="no space left on device") as info:
        log.write("second", value=2)
    monkeypatch.undo()
    assert info.value.path == str(tmp_path / "log.jsonl")
    assert [row["event"] for row in read_events(tmp_path / "log.jsonl")] == ["first"]


def test_a_log_under_a_regular_file_is_an_output_error(tmp_path):
    from sparsegraph.errors import OutputError

    (tmp_path / "run").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        RunLog(tmp_path / "run" / "log.jsonl")
