"""Topology tracking during training: mask snapshots, metrics in a worker process, ``track.csv``.

Files under ``RUN_DIR``::

    track/step_<n>.safetensors   the mask after step n (compact: bit-packed or kept indices); any
                                 ``sparsegraph measure --masks`` reads it
    track/pending/               weights and driver-side rows of steps whose metrics are not in
                                 track.csv yet (removed as they land)
    track/origin.json            the full-spectrum coordinates x_l(0) of the initial mask
    track.csv                    step,epoch,metric,layer,value (see :mod:`sparsegraph.tracking.table`)

Tracked steps: step 0, then by default every mask update and every epoch end (``every=N``: every N
steps and the last step). At each tracked step the driver writes the snapshot, the Hamming distance of
each layer's mask to the initial mask and the ITOP rate |∪_t M_t| / N (exact from the DST updater; for
fixed masks the initial density), and hands the conv/linear weights to the worker, which measures the registry
metrics and the four full-spectrum axes; the driver adds ‖x_l(t) − x_l(0)‖₂ and appends the rows to
``track.csv`` in step order. At each epoch end the accuracies join the rows of that step.

Resume: :meth:`TopologyTracker.on_start` at the checkpoint's step n drops every row, snapshot and
pending entry after n and sends the pending steps ≤ n to the worker again, so the table of a resumed run
equals the uninterrupted run's.
"""

from __future__ import annotations

import collections
import copy
import json
import math
import warnings
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sparsegraph.errors import BadInputError
from sparsegraph.tracking.table import (ACCURACY_METRICS, HAMMING, ITOP, MOVING, NETWORK, TrackRow, append_rows,
                                        read_track, values_at, write_track)
from sparsegraph.tracking.worker import TrackSpec, init_worker, measure_snapshot
from sparsegraph.utils.atomic import atomic_write_text
from sparsegraph.utils.state_dict import save_state_dict

DEFAULT_TRACK = ("spectral.full_spectrum", "paths")
EXECUTORS = ("process", "serial")


@dataclass
class TrackSummary:
    """What tracking wrote (``summary.json`` ``tracking``).

    Attributes:
        metrics: the tracked registry metrics; ``every``: the step interval (None: updates and epoch ends).
        steps: tracked steps; ``final_step`` the last; ``final`` the network values there (accuracies:
            the last evaluated epoch's).
        csv, snapshots: paths relative to the run directory; ``plots``: PNGs written by ``--plot``.
    """

    metrics: list[str]
    every: int | None
    steps: int
    final_step: int | None
    final: dict[str, float | None]
    csv: str = "track.csv"
    snapshots: str = "track/"
    plots: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass
class _Step:
    step: int
    epoch: int
    rows: list[TrackRow]
    future: Future | None = None
    open: bool = False  # an epoch-end step waits for its accuracies


def resolve_track_metrics(names) -> tuple[str, ...]:
    """Registry metric names of ``names`` (names or families, a list or comma-separated string)."""
    from sparsegraph.metrics.registry import resolve

    return tuple(info.name for info in resolve(names))


class TopologyTracker:
    """Follow the mask topology of one training run (see the module docstring).

    Args:
        run_dir: the run directory (``track/`` and ``track.csv`` go there).
        model: the model being trained (copied once to CPU for the worker).
        masks: the initial masks.
        metrics: registry metric names or families (default ``spectral.full_spectrum,paths``).
        input_shape: per-sample input shape (network metrics trace the model).
        iters_per_epoch, epochs: the schedule (epoch of a step, the last step).
        every: track every N steps instead of at mask updates and epoch ends.
        updater: the run's mask updater (DST), or None for fixed masks.
        executor: ``process`` (one worker process; default) or ``serial`` (in the driver, for tests).
    """

    def __init__(self, run_dir: str | Path, model: nn.Module, masks: Mapping[str, torch.Tensor], *,
                 metrics=DEFAULT_TRACK, input_shape=None, iters_per_epoch: int, epochs: int,
                 every: int | None = None, updater=None, executor: str = "process"):
        from sparsegraph.errors import UsageError
        from sparsegraph.masks import maskable_parameters

        if every is not None and (isinstance(every, bool) or int(every) < 1):
            raise UsageError(f"track_every must be a positive number of steps, got {every!r}")
        if executor not in EXECUTORS:
            raise UsageError(f"tracking executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "track"
        self.pending_dir = self.dir / "pending"
        self.csv = self.run_dir / "track.csv"
        self.spec = TrackSpec(resolve_track_metrics(metrics), None if input_shape is None else tuple(input_shape))
        self.ipe, self.epochs = int(iters_per_epoch), int(epochs)
        self.every = None if every is None else int(every)
        self.updater = updater
        self.executor = executor
        self.initial = {n: m.detach().to(torch.bool).clone() for n, m in masks.items()}
        self.numel = sum(m.numel() for m in self.initial.values())
        self._names = list(self.initial)
        self._cpu_model = copy.deepcopy(model).to("cpu")  # before the trainer hooks the parameters
        for p in self._cpu_model.parameters():
            p.requires_grad_(False)
        self._weight_names = list(maskable_parameters(model))  # every conv/linear weight, excluded dense ones too
        self._queue: collections.deque[_Step] = collections.deque()
        self._pool: ProcessPoolExecutor | None = None
        self._worker_state = None
        self._origin: dict[str, list[float]] | None = None
        self._steps: set[int] = set()

    # ------------------------------------------------------------------------------ trainer hooks
    def hooks(self) -> dict[str, Any]:
        """The :class:`~sparsegraph.training.TrainHooks` fields this tracker fills."""
        return {"on_start": self.on_start, "after_step": self.after_step, "before_checkpoint": self.before_checkpoint}

    def on_start(self, iteration: int, model: nn.Module) -> None:
        """Start the worker; after a resume drop what lies beyond ``iteration`` and redo pending steps."""
        self._start_worker()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self._reconcile(iteration)
        if not self._steps and not self._queue:  # a fresh run: its first step (0, or IMP's rewind point)
            self._track(iteration, model)

    def after_step(self, iteration: int, model: nn.Module) -> None:
        updated = self.updater is not None and self.updater.last_update == iteration
        due = updated if self.every is None else iteration % self.every == 0
        if due or (self.every is not None and iteration == self.ipe * self.epochs):
            self._track(iteration, model)
        self._commit_ready()

    def before_checkpoint(self, row: Mapping[str, Any], model: nn.Module) -> None:
        """Epoch end: track the step (default cadence) and attach the epoch's accuracies to it."""
        step, epoch = int(row["iteration"]), int(row["epoch"])
        if self.every is None and step not in self._steps:
            self._track(step, model)
        accuracy = [TrackRow(step, epoch, name, NETWORK, row.get(name)) for name in ACCURACY_METRICS if name in row]
        item = next((s for s in self._queue if s.step == step), None)
        if item is None:  # not a tracked step (every=N): the accuracies stand alone
            item = _Step(step, epoch, [])
            self._queue.append(item)
        item.rows.extend(accuracy)
        item.open = False
        self._write_pending_rows(item)
        self._commit_ready()

    # ------------------------------------------------------------------------------------- driver
    def _epoch(self, step: int) -> int:
        return -(-step // self.ipe)

    def _current_masks(self) -> Mapping[str, torch.Tensor]:
        return self.updater.masks if self.updater is not None else self.initial

    @torch.no_grad()
    def _track(self, step: int, model: nn.Module) -> None:
        from sparsegraph.masks import MaskSet

        epoch = self._epoch(step)
        masks = {n: m.detach().to("cpu", torch.bool) for n, m in self._current_masks().items()}
        MaskSet(masks, metadata={"step": step, "epoch": epoch}).save(self._snapshot(step), compact=True)
        rows = []
        total = 0
        for name in self._names:
            distance = int(torch.count_nonzero(masks[name] != self.initial[name]))
            total += distance
            rows.append(TrackRow(step, epoch, HAMMING, name.rpartition(".")[0] or name, float(distance)))
        rows.append(TrackRow(step, epoch, HAMMING, NETWORK, float(total)))
        itop = self.updater.itop_rate if self.updater is not None else (
            sum(int(torch.count_nonzero(m)) for m in self.initial.values()) / self.numel)
        rows.append(TrackRow(step, epoch, ITOP, NETWORK, itop))
        params = dict(model.named_parameters())
        save_state_dict(self._weights(step), {n: params[n] for n in self._weight_names})
        item = _Step(step, epoch, rows, open=step > 0 and step % self.ipe == 0)
        self._write_pending_rows(item)
        item.future = self._submit(step)
        self._queue.append(item)
        self._steps.add(step)

    def _snapshot(self, step: int) -> Path:
        return self.dir / f"step_{step}.safetensors"

    def _weights(self, step: int) -> Path:
        return self.pending_dir / f"step_{step}.safetensors"

    def _rows_file(self, step: int) -> Path:
        return self.pending_dir / f"step_{step}.json"

    def _write_pending_rows(self, item: _Step) -> None:
        atomic_write_text(self._rows_file(item.step), json.dumps({"step": item.step, "epoch": item.epoch,
                                                                  "open": item.open,
                                                                  "rows": [list(r) for r in item.rows]}))

    def _start_worker(self) -> None:
        if self.executor == "serial":
            self._worker_state = (self._cpu_model, self.spec)
        elif self._pool is None:
            import multiprocessing

            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker, initargs=(self._cpu_model, self.spec))

    def _submit(self, step: int) -> Future:
        args = (str(self._snapshot(step)), str(self._weights(step)))
        if self._pool is not None:
            return self._pool.submit(measure_snapshot, *args)
        done: Future = Future()
        try:
            done.set_result(measure_snapshot(*args, state=self._worker_state))
        except Exception as exc:  # reported when the step is committed, as from the worker
            done.set_exception(exc)
        return done

    def _commit_ready(self, wait: bool = False) -> None:
        """Append the rows of finished steps to ``track.csv``, strictly in step order."""
        while self._queue:
            head = self._queue[0]
            if head.open or (head.future is not None and not (wait or head.future.done())):
                return
            rows = list(head.rows)
            if head.future is not None:
                try:
                    values = head.future.result()
                except Exception as exc:  # a failed measurement must not stop the training run
                    warnings.warn(f"tracking: the metrics of step {head.step} failed ({exc}); "
                                  "track.csv keeps its other rows", RuntimeWarning, stacklevel=2)
                else:
                    rows += self._metric_rows(head, values)
            append_rows(self.csv, rows)
            for path in (self._weights(head.step), self._rows_file(head.step)):
                path.unlink(missing_ok=True)
            self._queue.popleft()

    def _metric_rows(self, item: _Step, values) -> list[TrackRow]:
        rows = [TrackRow(item.step, item.epoch, metric, NETWORK if layer is None else layer, value)
                for metric, layer, value in values.rows]
        if self._origin is None:
            origin_path = self.dir / "origin.json"
            if item.step == 0 or not origin_path.exists():
                self._origin = values.axes
                atomic_write_text(origin_path, json.dumps(values.axes))
            else:
                self._origin = json.loads(origin_path.read_text())
        distances = []
        for layer, axes in values.axes.items():
            start = self._origin.get(layer, [0.0] * 4)
            d = math.sqrt(sum((a - b) ** 2 for a, b in zip(axes, start)))
            distances.append(d)
            rows.append(TrackRow(item.step, item.epoch, MOVING, layer, d))
        rows.append(TrackRow(item.step, item.epoch, MOVING, NETWORK,
                             sum(distances) / len(distances) if distances else None))
        return rows

    def _reconcile(self, iteration: int) -> None:
        """Make the files describe exactly steps ≤ ``iteration`` and queue the pending ones again."""
        try:
            rows = read_track(self.csv, strict=False) if self.csv.exists() else []
        except BadInputError:  # killed while the header was being written
            rows = []
        if rows and len(rows) != _line_count(self.csv) - 1:  # killed while appending: that step is redone
            rows = [r for r in rows if r.step != rows[-1].step]
        kept = [r for r in rows if r.step <= iteration]
        committed = {r.step for r in kept}
        if self.csv.exists():
            write_track(self.csv, kept)
        self._steps = {r.step for r in kept if r.metric not in ACCURACY_METRICS}
        for path in sorted(self.dir.glob("step_*.safetensors")):
            if _step_of(path) > iteration:
                path.unlink()
        for path in sorted(self.pending_dir.glob("step_*.json"), key=_step_of):
            step = _step_of(path)
            if step > iteration or step in committed:  # beyond the checkpoint, or committed before the kill
                path.unlink()
                self._weights(step).unlink(missing_ok=True)
                continue
            stored = json.loads(path.read_text())
            item = _Step(step, int(stored["epoch"]), [TrackRow(*r) for r in stored["rows"]], open=bool(stored["open"]))
            if self._weights(step).exists():
                item.future = self._submit(step)
                self._steps.add(step)
            self._queue.append(item)
        for path in self.pending_dir.glob("step_*.safetensors"):
            if _step_of(path) not in {item.step for item in self._queue}:
                path.unlink()

    # ------------------------------------------------------------------------------------ the end
    def finish(self) -> TrackSummary:
        """Wait for the worker, write the final table (sorted, atomically) and return the summary."""
        for item in self._queue:
            item.open = False
        self._commit_ready(wait=True)
        self.close()
        rows = read_track(self.csv) if self.csv.exists() else []
        rows.sort(key=lambda r: r.step)  # stable: each step's rows keep their order
        write_track(self.csv, rows)
        for path in self.pending_dir.glob("*"):
            path.unlink()
        if self.pending_dir.exists():
            self.pending_dir.rmdir()
        from sparsegraph.tracking.table import step_at

        final_step = step_at(rows)
        final = values_at(rows, final_step)[0] if final_step is not None else {}
        accuracies = [r for r in rows if r.metric in ACCURACY_METRICS]
        for r in accuracies:  # the last evaluated epoch's accuracies
            final[r.metric] = r.value
        return TrackSummary(metrics=list(self.spec.metrics), every=self.every,
                            steps=len({r.step for r in rows if r.metric not in ACCURACY_METRICS}),
                            final_step=final_step, final=final)

    def close(self) -> None:
        """Stop the worker (pending work is dropped; its files stay for a resume)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _step_of(path: Path) -> int:
    return int(path.name.split(".")[0].split("_")[1])


def _line_count(path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())
