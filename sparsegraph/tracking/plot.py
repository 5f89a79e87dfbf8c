"""``--plot`` for tracked runs: one PNG per metric family, network values and test accuracy against steps."""

from __future__ import annotations

import os
from pathlib import Path

from sparsegraph.tracking.table import ACCURACY_METRICS, NETWORK, OWN_METRICS, read_track


def _family(metric: str) -> str:
    if metric in OWN_METRICS:
        return "track"
    return metric.split(".", 1)[0]


def plot_tracking(csv_path: str | os.PathLike, out_dir: str | os.PathLike, title: str | None = None) -> list[Path]:
    """Write ``track_<family>.png`` into ``out_dir`` for every family in ``track.csv``.

    Each figure has one panel per metric (its network value at every tracked step) with the test
    accuracy of the evaluated epochs on a second axis. Returns the written paths.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sparsegraph.utils.atomic import atomic_path

    rows = read_track(csv_path)
    accuracy = sorted((r.step, r.value) for r in rows if r.metric == "test_acc" and r.value is not None)
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.layer == NETWORK and r.metric not in ACCURACY_METRICS and r.value is not None:
            series.setdefault(r.metric, []).append((r.step, r.value))
    families: dict[str, list[str]] = {}
    for metric in series:
        families.setdefault(_family(metric), []).append(metric)
    title = title or Path(csv_path).parent.name
    written = []
    for family, metrics in families.items():
        fig, axes = plt.subplots(len(metrics), 1, figsize=(6.4, 2.2 * len(metrics) + 0.6), dpi=110, sharex=True,
                                 squeeze=False)
        for ax, metric in zip(axes[:, 0], metrics):
            steps, values = zip(*sorted(series[metric]))
            ax.plot(steps, values, marker="o", markersize=2.5, linewidth=1.4, color="tab:blue")
            ax.set_ylabel(metric.split(".", 1)[-1], fontsize=8)
            ax.grid(alpha=0.3)
            if accuracy:
                twin = ax.twinx()
                twin.plot(*zip(*accuracy), color="tab:red", linestyle="--", linewidth=1.0)
                twin.set_ylabel("test acc", fontsize=8, color="tab:red")
        axes[-1, 0].set_xlabel("training step")
        fig.suptitle(f"{title}: {family}", fontsize=10)
        fig.tight_layout()
        path = Path(out_dir) / f"track_{family}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(path)
    return written
