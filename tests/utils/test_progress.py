"""Progress on stderr: tqdm on a terminal, plain periodic lines otherwise; durations in human units."""

import io

import pytest

from sparsegraph.utils.progress import LineProgress, format_duration, progress


@pytest.mark.parametrize("seconds,text", [(0.0421, "0.042 s"), (12.34, "12.3 s"), (245, "4 min 05 s"),
                                          (7380, "2 h 03 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_at_most_every_interval_and_a_last_line():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(10, "train", "epoch", stream=out, interval=10.0, clock=clock)
    for _ in range(10):
        clock.now += 4.0  # an epoch every 4 s: a line every third epoch
        bar.update(1)
        bar.set_postfix(loss="0.512", val=0.75)
    bar.close()
    assert out.getvalue().splitlines() == [
        "train: 3/10 epochs (30%), 12.0 s elapsed, about 28.0 s left (loss=0.512, val=0.75)",
        "train: 6/10 epochs (60%), 24.0 s elapsed, about 16.0 s left (loss=0.512, val=0.75)",
        "train: 9/10 epochs (90%), 36.0 s elapsed, about 4.0 s left (loss=0.512, val=0.75)",
        "train: 10/10 epochs (100%), 40.0 s elapsed (loss=0.512, val=0.75)",
    ]


def test_fast_steps_print_nothing_and_resumed_runs_count_from_initial():
    out, clock = io.StringIO(), Clock()
    bar = LineProgress(5, "pags", "mask", stream=out, clock=clock)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""
    bar = LineProgress(10, "pags", "mask", initial=6, stream=out, interval=1.0, clock=clock)
    clock.now += 2.0
    bar.update(2)
    assert out.getvalue() == "pags: 8/10 masks (80%), 2.0 s elapsed, about 2.0 s left\n"


def test_terminal_gets_tqdm_and_disabled_gets_none():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    from tqdm.auto import tqdm

    bar = progress(3, "graph", "edge set", stream=Tty())
    assert isinstance(bar, tqdm)
    bar.close()
    assert isinstance(progress(3, "graph", "edge set", stream=io.StringIO()), LineProgress)
    assert progress(3, "graph", "edge set", enabled=False) is None


def test_training_reports_epochs_on_a_non_terminal(monkeypatch, capsys):
    import sparsegraph as sg
    from sparsegraph.training import load_train_data, train
    from sparsegraph.utils import progress as module

    monkeypatch.setattr(module, "LINE_INTERVAL_S", 0.0)  # a line per epoch
    model = sg.create_model("mlp", 10, input_shape=(1, 8, 8), seed=0)
    train(model, None, load_train_data("digits"), epochs=2, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: ")]
    assert [line.split(",")[0] for line in lines] == ["train: 1/2 epochs (50%)", "train: 2/2 epochs (100%)"]
