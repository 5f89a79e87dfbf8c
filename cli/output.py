"""Writing results to stdout or atomically to a file; the renderers are :mod:`sparsegraph.utils.tabular`."""

from __future__ import annotations

import click

from sparsegraph.utils import atomic_write_text
from sparsegraph.utils.tabular import render_csv, render_json, render_jsonl, render_table

__all__ = ["emit", "render_csv", "render_json", "render_jsonl", "render_table"]


def emit(text: str, output: str | None) -> None:
    """Send ``text`` to stdout, or write it atomically to ``output``."""
    if output is None or output == "-":
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"wrote {output}", err=True)
