"""Entry point of the ``sparsegraph`` command and its error-to-exit-code mapping."""

from __future__ import annotations

import sys

import click

import sparsegraph
from sparsegraph.errors import BadInputError, MemoryLimitError, OutputError, SparsegraphError, UsageError
from sparsegraph_cli.env import env
from sparsegraph_cli.export import export
from sparsegraph_cli.graph import graph
from sparsegraph_cli.masks import masks
from sparsegraph_cli.measure import measure_command
from sparsegraph_cli.metrics import metrics_command
from sparsegraph_cli.models import models
from sparsegraph_cli.prune import prune
from sparsegraph_cli.study import study

EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.split("\n"))


class SparsegraphGroup(click.Group):
    """A click group that turns sparsegraph errors into one-line messages and exit codes.

    Bad input (``BadInputError``), an output that cannot be written (``OutputError``) and work
    refused for its memory estimate (``MemoryLimitError``) exit with 3, usage errors with 2, other
    sparsegraph errors with 1. Unexpected exceptions keep their traceback: they are bugs.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (BadInputError, OutputError, MemoryLimitError) as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except UsageError as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_USAGE)
        except SparsegraphError as exc:
            click.echo(f"Error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_RUNTIME)


@click.group(cls=SparsegraphGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sparsegraph.__version__, "--version", prog_name="sparsegraph")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="BLAS/OpenMP/torch threads of this process (default: the cores of its CPU affinity mask; "
                   "pool workers always use 1).")
def main(threads: int | None) -> None:
    """Graph views, graph metrics and graph-guided pruning for sparse neural networks.

    Data goes to stdout (or -o), logs and progress to stderr. Exit codes: 0 success, 1 runtime
    error, 2 usage error, 3 bad input, an output that cannot be written or work above the memory
    limit.
    """
    from sparsegraph.utils.threads import set_threads

    set_threads(threads)


main.add_command(models)
main.add_command(env)
main.add_command(export)
main.add_command(graph)
main.add_command(masks)
main.add_command(measure_command)
main.add_command(metrics_command)
main.add_command(prune)
main.add_command(study)

if __name__ == "__main__":  # pragma: no cover
    main()
