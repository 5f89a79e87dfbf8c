"""Progress of long steps on stderr: a tqdm bar on a terminal, plain periodic lines otherwise.

Logs of batch jobs, CI and ``2> file`` redirects get no carriage-return bars; they get one line such as
``pags: 40/201 masks (20%), 12.0 s elapsed, about 48.3 s left`` at most every :data:`LINE_INTERVAL_S`
seconds (so a fast step prints nothing), and a last line when the step ends after one was printed.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

# plain lines: at most one per this many seconds
LINE_INTERVAL_S = 10.0


def format_duration(seconds: float) -> str:
    """Seconds in human units: ``0.042 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(int(round(seconds)) // 60, 60)
    return f"{hours} h {rest:02d} min"


class LineProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close`` as plain lines on a stream that is not a terminal.

    Args:
        total: number of steps.
        desc: what is counted (``train``, ``pags``...).
        unit: one step's name (``epoch``, ``mask``...).
        initial: steps already done (a resumed run).
        stream: where lines go (default stderr).
        interval: seconds between two lines at least (default :data:`LINE_INTERVAL_S`).
        clock: the time source (tests pass a fake one).
    """

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0, stream: TextIO | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.stream = stream if stream is not None else sys.stderr
        self.interval = LINE_INTERVAL_S if interval is None else interval
        self.clock = clock
        self.start = self.last = clock()
        self.first = initial
        self.printed_at: int | None = None
        self.postfix: dict[str, Any] = {}

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last >= self.interval:
            self._line()

    def set_postfix(self, **fields: Any) -> None:
        self.postfix = {k: v for k, v in fields.items() if v is not None}

    def close(self) -> None:
        if self.printed_at is not None and self.printed_at != self.n:
            self._line()

    def _line(self) -> None:
        now = self.clock()
        elapsed = now - self.start
        done = self.n - self.first
        text = f"{self.desc}: {self.n}/{self.total} {self.unit}s"
        if self.total:
            text += f" ({100 * self.n // self.total}%)"
        text += f", {format_duration(elapsed)} elapsed"
        if 0 < done and self.n < self.total:
            text += f", about {format_duration(elapsed / done * (self.total - self.n))} left"
        if self.postfix:
            text += " (" + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in self.postfix.items()) + ")"
        print(text, file=self.stream, flush=True)
        self.last, self.printed_at = now, self.n


def progress(total: int, desc: str, unit: str, *, enabled: bool = True, initial: int = 0,
             stream: TextIO | None = None, leave: bool = True):
    """A progress reporter for ``total`` steps, or None when ``enabled`` is False.

    A tqdm bar when ``stream`` (default stderr) is a terminal, else a :class:`LineProgress`. Both take
    ``update(n)``, ``set_postfix(**fields)`` and ``close()``.
    """
    if not enabled:
        return None
    stream = stream if stream is not None else sys.stderr
    if stream.isatty():
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, file=stream)
    return LineProgress(total, desc, unit, initial=initial, stream=stream)
