"""Render the CLI reference (``docs/cli.md``) from the commands' own ``--help``.

Regenerate with ``python -m sparsegraph_cli.reference > docs/cli.md``; a test keeps the two in sync.
"""

from __future__ import annotations

import click


def render_reference(group: click.Group) -> str:
    """Markdown with the ``--help`` text of the group and of each command, in name order."""
    parts = [
        "# Command-line reference",
        "",
        "Generated from `--help` by `python -m sparsegraph_cli.reference > docs/cli.md`; do not edit by hand.",
        "",
        "Exit codes: 0 success; 1 runtime error; 2 usage error; 3 bad input (unreadable or mismatched",
        "model, mask, checkpoint or dataset), an output that cannot be written (no permission, no space",
        "left, a parent that is a file; an earlier file keeps its content), or work whose memory estimate",
        "is above --max-memory; always with a one-line message.",
        "",
        "Progress of long steps (training epochs, PAGS/PEGS sampling, NPB solves, streamed `export`s, and one",
        "line per finished run of `study run`) goes to stderr: a tqdm bar on a terminal; otherwise (a log file, CI, a",
        "batch job) plain lines such as `pags: 40/201 masks (19%), 12.0 s elapsed, about 48.3 s left`, at most",
        "one every 10 s, so fast steps print nothing. `--no-progress` silences it. Table output prints",
        "durations in human units (`34.8 s in all (scoring 24.2 s, training 8.4 s, …)`); `--format json` keeps",
        "the raw seconds (`timings`).",
        "",
    ]
    width = {"terminal_width": 100, "max_content_width": 100}
    # make_context applies the group's context_settings (-h as well as --help), as a real call does
    ctx = group.make_context("sparsegraph", [], resilient_parsing=True, **width)
    parts += ["## sparsegraph", "", "```text", group.get_help(ctx), "```", ""]
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        sub = cmd.make_context(name, [], parent=ctx, resilient_parsing=True, **width)
        parts += [f"## sparsegraph {name}", "", "```text", cmd.get_help(sub), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    from sparsegraph_cli.main import main

    print(render_reference(main), end="")
