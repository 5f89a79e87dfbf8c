"""``sparsegraph models``: the model zoo."""

from __future__ import annotations

import click

from sparsegraph_cli.options import format_option
from sparsegraph_cli.output import emit, render_csv, render_json, render_table


@click.command()
@format_option(("table", "json", "csv"), "table")
def models(fmt: str) -> None:
    """List the model zoo (names accepted wherever a model SPEC is asked for)."""
    from sparsegraph.models import describe_model, list_models

    rows = [{"name": name, "description": describe_model(name)} for name in list_models()]
    columns = ("name", "description")
    if fmt == "json":
        emit(render_json(rows), None)
    elif fmt == "csv":
        emit(render_csv(rows, columns), None)
    else:
        emit(render_table(rows, columns), None)
