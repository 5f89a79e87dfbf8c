"""Plot a PAGS/PEGS run: best and candidate scores against the number of samples, from ``log.jsonl``."""

from __future__ import annotations

import os
from pathlib import Path

from sparsegraph.errors import BadInputError
from sparsegraph.training.runlog import read_events
from sparsegraph.utils.atomic import atomic_path


def read_samples(log_path: str | os.PathLike, rows: list[dict] | None = None) -> list[dict]:
    """The ``pags_sample`` rows of a run log (or of its already-read ``rows``), in sample order."""
    path = Path(log_path)
    if rows is None:
        rows = read_events(path)
    samples = sorted((r for r in rows if r.get("event") == "pags_sample"), key=lambda r: r["j"])
    if not samples:
        raise BadInputError(f"{path}: no pags_sample rows (not a PAGS/PEGS run log)")
    return samples


def plot_pags(log_path: str | os.PathLike, out_path: str | os.PathLike, title: str | None = None) -> Path:
    """Write a PNG of the best score (line) and each candidate's score (dots) against the sample index.

    Args:
        log_path: a run's ``log.jsonl``.
        out_path: the PNG to write (atomically).
        title: the figure title (default: the log's directory name).

    Returns:
        ``out_path`` as a Path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = read_samples(log_path)
    j = [r["j"] for r in samples]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    cand = [(r["j"], r["candidate"]) for r in samples if r["candidate"] is not None]
    if cand:
        ax.scatter(*zip(*cand), s=8, alpha=0.45, color="tab:gray", label="candidate")
    ax.plot(j, [r["best"] for r in samples], color="tab:blue", linewidth=2.0, label="best so far")
    ax.axhline(samples[0]["best"], color="tab:red", linestyle="--", linewidth=1.0, label="base (sample 0)")
    ax.set_xlabel("samples")
    ax.set_ylabel("network score")
    ax.set_title(title or Path(log_path).resolve().parent.name)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = Path(out_path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return out
