"""Topology tracking: rows of track.csv, snapshots, resume reconciliation, plots."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from sparsegraph.masks import MaskSet
from sparsegraph.pruning.dst import DSTUpdater, dst_schedule
from sparsegraph.tracking import TopologyTracker, read_track, values_at
from sparsegraph.tracking.table import HAMMING, ITOP, MOVING, NETWORK, TrackRow, write_track
from sparsegraph.training import TensorSplit, TrainData, TrainHooks, train

METRICS = ("spectral.full_spectrum", "paths.log10_paths")


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 4, 4, generator=g)
    y = (x.flatten(1)[:, :4].argmax(1))
    split = lambda a, b: TensorSplit(x[a:b], y[a:b])  # noqa: E731
    return TrainData(train=split(0, 64), val=split(64, 80), test=split(80, 96), name="blobs")


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 4))


def _masks(model, density=0.5):
    import sparsegraph as sg

    return sg.prune(model, "erk", density=density, seed=1)


def _run(tmp_path, *, dst=False, every=None, epochs=2, hooks_extra=None, resume=False, model=None, dense_last=False):
    model = model or _model()
    masks = _masks(model)
    if dense_last:  # the classifier excluded: dense, not in the masks
        masks = MaskSet({n: m for n, m in masks.items() if n != "5.weight"})
    updater = DSTUpdater(dst_schedule("set", epochs * 8, dst_interval=3), masks, seed=0) if dst else None
    tracker = TopologyTracker(tmp_path, model, masks, metrics=METRICS, input_shape=(1, 4, 4), iters_per_epoch=8,
                              epochs=epochs, every=every, updater=updater, executor="serial")
    hooks = tracker.hooks()
    if hooks_extra:
        inner = hooks["after_step"]

        def after_step(i, m):
            inner(i, m)
            hooks_extra(i)
        hooks["after_step"] = after_step
    try:
        train(model, masks, _data(), recipe="small", epochs=epochs, batch_size=8, seed=0, run_dir=tmp_path,
              deterministic=True, resume=resume, hooks=TrainHooks(mask_updater=updater, **hooks))
    except BaseException:
        tracker.close()
        raise
    return tracker.finish(), masks, updater


def test_fixed_masks_rows_snapshots_and_accuracies(tmp_path):
    summary, masks, _ = _run(tmp_path)
    rows = read_track(tmp_path / "track.csv")
    steps = sorted({r.step for r in rows})
    assert steps == [0, 8, 16] and summary.steps == 3 and summary.final_step == 16
    net0, layers0 = values_at(rows, 0)
    assert net0[HAMMING] == 0 and net0[ITOP] == pytest.approx(masks.density) and net0[MOVING] == 0
    assert set(layers0[HAMMING]) == {"1", "3", "5"} == set(layers0["spectral.full_spectrum"])
    net16, _ = values_at(rows, 16)
    assert net16[HAMMING] == 0 and net16["test_acc"] is not None and "val_acc" in net16
    assert [r.epoch for r in rows if r.metric == "test_acc"] == [1, 2]
    assert summary.final["test_acc"] == net16["test_acc"]
    for step in steps:
        assert MaskSet.load(tmp_path / "track" / f"step_{step}.safetensors") == masks
    assert not (tmp_path / "track" / "pending").exists()


def test_tracked_values_equal_measure_on_the_snapshot(tmp_path):
    import sparsegraph as sg

    model = _model()
    _run(tmp_path, model=model, dense_last=True)
    rows = read_track(tmp_path / "track.csv")
    net, layers = values_at(rows, 16)
    final = MaskSet.load(tmp_path / "track" / "step_16.safetensors")
    trained = _model()
    trained.load_state_dict(torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["model"])
    expected = sg.measure(trained, final, list(METRICS), input_shape=(1, 4, 4))
    assert net["spectral.full_spectrum"] == pytest.approx(expected.value("spectral.full_spectrum"), rel=1e-12)
    assert net["paths.log10_paths"] == pytest.approx(expected.value("paths.log10_paths"), rel=1e-12)
    assert layers["spectral.full_spectrum"]["3"] == pytest.approx(expected.value("spectral.full_spectrum", "3"))
    assert layers["spectral.full_spectrum"]["5"] == pytest.approx(expected.value("spectral.full_spectrum", "5"))


def test_dst_tracking_follows_every_update(tmp_path):
    summary, masks, updater = _run(tmp_path, dst=True)
    rows = read_track(tmp_path / "track.csv")
    steps = sorted({r.step for r in rows if r.metric == ITOP})
    assert steps == [0, 3, 6, 8, 9, 12, 15, 16]
    itop = [values_at(rows, s)[0][ITOP] for s in steps]
    assert itop == sorted(itop) and itop[-1] == pytest.approx(updater.itop_rate)
    last = MaskSet.load(tmp_path / "track" / "step_15.safetensors")
    assert all(torch.equal(last[n], updater.masks[n]) for n in last)
    hamming = {n: int((last[n] != masks[n]).sum()) for n in masks}
    _, layers = values_at(rows, 15)
    assert {f"{n.rpartition('.')[0]}": float(v) for n, v in hamming.items()} == layers[HAMMING]
    assert values_at(rows, 15)[0][MOVING] > 0
    origin = json.loads((tmp_path / "track" / "origin.json").read_text())
    assert set(origin) == {"1", "3", "5"}


def test_every_n_steps_tracks_step_zero_multiples_and_the_last_step(tmp_path):
    _run(tmp_path, every=5, epochs=2)
    rows = read_track(tmp_path / "track.csv")
    assert sorted({r.step for r in rows if r.metric == ITOP}) == [0, 5, 10, 15, 16]
    assert sorted({r.step for r in rows if r.metric == "test_acc"}) == [8, 16]


class _Kill(Exception):
    pass


def test_interrupted_and_resumed_tracking_equals_the_uninterrupted_table(tmp_path):
    _run(tmp_path / "a", dst=True, epochs=3)

    def kill(iteration):
        if iteration == 13:  # mid epoch 2, after the update at step 12
            raise _Kill

    with pytest.raises(_Kill):
        _run(tmp_path / "b", dst=True, epochs=3, hooks_extra=kill)
    assert max(r.step for r in read_track(tmp_path / "b" / "track.csv")) == 12
    _run(tmp_path / "b", dst=True, epochs=3, resume=True)
    assert (tmp_path / "a" / "track.csv").read_text() == (tmp_path / "b" / "track.csv").read_text()
    names = sorted(p.name for p in (tmp_path / "a" / "track").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b" / "track").iterdir())
    for name in names:
        if name.endswith(".safetensors"):
            assert MaskSet.load(tmp_path / "a" / "track" / name) == MaskSet.load(tmp_path / "b" / "track" / name)


def test_reconcile_drops_later_rows_and_resubmits_pending_steps(tmp_path):
    model = _model()
    masks = _masks(model)
    tracker = TopologyTracker(tmp_path, model, masks, metrics=METRICS, input_shape=(1, 4, 4), iters_per_epoch=8,
                              epochs=2, executor="serial")
    tracker.on_start(0, model)  # step 0 tracked and committed
    tracker._track(5, model)  # pending: committed below, then pretend the kill came before cleanup
    tracker._commit_ready()
    tracker._track(6, model)
    pending_6 = tracker._rows_file(6).read_text()
    (tracker.pending_dir / "step_6.safetensors").write_bytes(tracker._weights(6).read_bytes())
    rows = read_track(tmp_path / "track.csv")
    reference = list(rows)
    tracker._queue.clear()
    # the kill: step 6 pending and not committed, a half-written line, a step 9 beyond the checkpoint
    tracker._rows_file(5).write_text(tracker._rows_file(6).read_text().replace('"step": 6', '"step": 5'))
    write_track(tmp_path / "track.csv", [r for r in reference if r.step <= 5] + [TrackRow(9, 2, ITOP, NETWORK, 1.0)])
    with open(tmp_path / "track.csv", "a") as fh:
        fh.write("9,2,track.ham")
    tracker._rows_file(6).write_text(pending_6)
    (tracker.dir / "step_9.safetensors").write_bytes((tracker.dir / "step_6.safetensors").read_bytes())
    resumed = TopologyTracker(tmp_path, model, masks, metrics=METRICS, input_shape=(1, 4, 4), iters_per_epoch=8,
                              epochs=2, executor="serial")
    resumed.on_start(8, model)
    resumed._commit_ready()
    rows = read_track(tmp_path / "track.csv")
    assert sorted({r.step for r in rows}) == [0, 5, 6]
    assert len([r for r in rows if r.step == 5]) == len([r for r in reference if r.step == 5])  # not doubled
    assert not (tracker.dir / "step_9.safetensors").exists()
    assert not list(tracker.pending_dir.iterdir())


def test_tracking_runs_in_a_worker_process(tmp_path):
    model = _model()
    masks = _masks(model)
    tracker = TopologyTracker(tmp_path, model, masks, metrics=METRICS, input_shape=(1, 4, 4), iters_per_epoch=8,
                              epochs=1)
    train(model, masks, _data(), recipe="small", epochs=1, batch_size=8, seed=0, run_dir=tmp_path,
          hooks=TrainHooks(**tracker.hooks()))
    assert tracker._pool is not None
    summary = tracker.finish()
    serial_dir = tmp_path / "serial"
    _run(serial_dir, epochs=1)
    assert summary.steps == 2
    ours, serial = read_track(tmp_path / "track.csv"), read_track(serial_dir / "track.csv")
    assert [(r.step, r.metric, r.layer) for r in ours] == [(r.step, r.metric, r.layer) for r in serial]


def test_plots_one_png_per_family(tmp_path):
    pytest.importorskip("matplotlib")
    from sparsegraph.tracking.plot import plot_tracking

    _run(tmp_path, dst=True)
    written = plot_tracking(tmp_path / "track.csv", tmp_path)
    assert sorted(p.name for p in written) == ["track_paths.png", "track_spectral.png", "track_track.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)


def test_bad_options_are_usage_errors(tmp_path):
    from sparsegraph.errors import UnknownMetricError, UsageError

    model = _model()
    with pytest.raises(UsageError, match="track_every"):
        TopologyTracker(tmp_path, model, _masks(model), iters_per_epoch=1, epochs=1, every=0)
    with pytest.raises(UnknownMetricError):
        TopologyTracker(tmp_path, model, _masks(model), metrics="spectral.nope", iters_per_epoch=1, epochs=1)


def test_a_failed_measurement_warns_and_keeps_the_other_rows(tmp_path, monkeypatch):
    from sparsegraph.tracking import tracker as tracker_module

    original = tracker_module.measure_snapshot

    def failing(masks_path, weights_path, state=None):
        if masks_path.endswith("step_8.safetensors"):
            raise RuntimeError("solver exploded")
        return original(masks_path, weights_path, state=state)

    monkeypatch.setattr(tracker_module, "measure_snapshot", failing)
    with pytest.warns(RuntimeWarning, match="step 8 failed"):
        _run(tmp_path)
    net8, _ = values_at(read_track(tmp_path / "track.csv"), 8)
    assert HAMMING in net8 and "test_acc" in net8 and "spectral.full_spectrum" not in net8
    assert "spectral.full_spectrum" in values_at(read_track(tmp_path / "track.csv"), 16)[0]
