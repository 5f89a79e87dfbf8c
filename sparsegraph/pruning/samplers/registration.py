"""Meta-methods in the generator registry: ``run(model, "pags", base="snip", ...)`` dispatches to them."""

from __future__ import annotations

from collections.abc import Callable

from sparsegraph.errors import UsageError
from sparsegraph.pruning.registry import GeneratorInfo, register_generator


def register_runner(name: str, runner: Callable[..., object], description: str, data: str | None = None) -> None:
    """Register a meta-method whose ``runner`` replaces the score-and-select machinery of ``run``."""

    def no_one_shot_score(model, ctx):
        raise UsageError(f"{name!r} samples or trains masks and has no one-shot score; "
                         "use sg.pruning.run (or the base generator's scores)")

    register_generator(GeneratorInfo(name=name, score=no_one_shot_score, data=data, runner=runner,
                                     description=description))
