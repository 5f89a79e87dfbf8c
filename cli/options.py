"""Option decorators shared by every command, spelled the same everywhere."""

from __future__ import annotations

import sys
from typing import Callable

import click

Decorator = Callable[[Callable], Callable]


def seed_option(default: int | None = 0) -> Decorator:
    """``--seed N``: the one seed from which every random stream of the command derives."""
    return click.option("--seed", type=click.IntRange(min=0), default=default, show_default=True,
                        help="Random seed (every random stream derives from it).")


def device_option(default: str = "auto") -> Decorator:
    """``--device auto|cpu|cuda[:N]``."""
    return click.option("--device", default=default, show_default=True, metavar="auto|cpu|cuda[:N]",
                        help="Where to compute: auto = CUDA if available, else CPU.")


def format_option(choices: tuple[str, ...], default: str) -> Decorator:
    """``--format`` with the command's own choices."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True,
                        help="Output format.")


def no_progress_option() -> Decorator:
    """``--no-progress``: silence progress bars (they are off anyway when stderr is not a terminal)."""
    return click.option("--no-progress", is_flag=True, help="Do not show progress bars on stderr.")


def progress_enabled(no_progress: bool) -> bool:
    """Progress bars show only on an interactive stderr and without ``--no-progress``."""
    return not no_progress and sys.stderr.isatty()


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """Parse ``3,32,32`` into ``(3, 32, 32)``."""
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a shape like 3,32,32") from None
    if not shape or any(s <= 0 for s in shape):
        raise click.BadParameter(f"{text!r} is not a shape like 3,32,32")
    return shape
