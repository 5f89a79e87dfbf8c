"""``sparsegraph metrics``: the metric registry, plugins included."""

from __future__ import annotations

import click

from sparsegraph_cli.options import format_option
from sparsegraph_cli.output import emit, render_csv, render_json, render_table

COLUMNS = ("name", "scope", "encoding", "weights", "higher_is_better", "description")


@click.command("metrics")
@click.argument("pattern", required=False)
@format_option(("table", "json", "csv"), "table")
def metrics_command(pattern: str | None, fmt: str) -> None:
    """List the registered metrics (optionally those matching PATTERN, e.g. 'ramanujan.*')."""
    from sparsegraph.metrics import failed_plugins, list_metrics

    infos = list_metrics(pattern)
    failures = failed_plugins()
    if fmt == "json":
        emit(render_json({"metrics": [i.to_dict() for i in infos], "failed_plugins": failures}), None)
        return
    rows = [{"name": i.name, "scope": i.scope, "encoding": i.encoding,
             "weights": "required" if i.requires_weights else "no",
             "higher_is_better": {True: "yes", False: "no", None: "-"}[i.higher_is_better],
             "description": i.description} for i in infos]
    if fmt == "csv":
        emit(render_csv(rows, COLUMNS), None)
        for failure in failures:
            click.echo(f"failed plugin: {failure}", err=True)
        return
    text = render_table(rows, COLUMNS)
    if failures:
        text += "\nfailed plugins:\n" + "".join(f"  {failure}\n" for failure in failures)
    emit(text, None)
