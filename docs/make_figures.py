"""Figures of the documentation. Run from the repository root: ``python docs/make_figures.py``.

Writes ``docs/img/mge_example.png``: the clean multipartite graph (``encoding="mge"``) of a tiny
conv → conv (+ identity shortcut) → max-pool → linear network on a 1×4×4 input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import sparsegraph as sg

OUT = Path(__file__).resolve().parent / "img"


class TinyNet(nn.Module):
    """conv 1→2 (3×3, p1) → conv 2→2 (3×3, p1) + identity → max-pool 2 → flatten → linear 8→3."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(2, 2, 3, padding=1, bias=False)
        self.fc = nn.Linear(8, 3, bias=False)

    def forward(self, x):
        h = F.relu(self.conv1(x))
        h = F.relu(self.conv2(h) + h)
        return self.fc(torch.flatten(F.max_pool2d(h, 2), 1))


def mge_example(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    torch.manual_seed(0)
    model = TinyNet()
    gen = torch.Generator().manual_seed(3)
    masks = {f"{n}.weight": torch.rand(m.weight.shape, generator=gen) < 0.25
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    g = sg.encode(model, masks, encoding="mge", input_shape=(1, 4, 4))
    table = g.node_table()
    part = table["partition"]
    # x: partition column; y: nodes stacked top to bottom, channel blocks separated by a gap
    sizes = np.array([p.size for p in g.partitions])
    ypos = -(table["index"] + 2.0 * np.maximum(table["channel"], 0)).astype(float)
    ypos -= np.array([ypos[part == k].mean() for k in range(len(sizes))])[part]
    xpos = part * 3.0
    fig, ax = plt.subplots(figsize=(9, 6))
    colors = plt.get_cmap("tab10")
    src, dst, weight, _, edge_set = g.edges()
    for s in g.edge_sets:
        sel = edge_set == s.index
        segments = np.stack([np.stack([xpos[src[sel]], ypos[src[sel]]], 1),
                             np.stack([xpos[dst[sel]], ypos[dst[sel]]], 1)], 1)
        style = "--" if s.kind == "identity" else "-"
        ax.add_collection(LineCollection(segments, colors=[colors(s.index)], linewidths=0.7, alpha=0.55,
                                         linestyles=style, label=f"{s.name} ({s.kind}, {s.num_edges} edges)"))
    ax.scatter(xpos, ypos, s=22, c="black", zorder=3)
    for k, p in enumerate(g.partitions):
        ax.text(k * 3.0, ypos[part == k].max() + 2.0, f"{p.name}\n{'×'.join(map(str, p.shape))}",
                ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-1.5, 3.0 * (len(sizes) - 1) + 1.5)
    ax.set_ylim(ypos.min() - 2, ypos.max() + 6)
    ax.axis("off")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.12), ncol=2, fontsize=8, frameon=False)
    ax.set_title("encoding='mge' of conv → conv (+ identity) → max-pool 2 → linear, input 1×4×4", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    mge_example(OUT / "mge_example.png")


if __name__ == "__main__":
    main()
