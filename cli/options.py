"""Option decorators shared by every command, spelled the same everywhere."""

from __future__ import annotations

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
    """``--no-progress``: silence progress on stderr (bars on a terminal, periodic lines otherwise)."""
    return click.option("--no-progress", is_flag=True,
                        help="Do not report progress on stderr (a bar on a terminal, else a line every 10 s at most).")


def progress_enabled(no_progress: bool) -> bool:
    """Progress shows unless ``--no-progress``: a tqdm bar on a terminal, plain periodic lines otherwise."""
    return not no_progress


def model_arg_option() -> Decorator:
    """``--model-arg KEY=VALUE`` (repeatable; parse with ``parse_options(model_args, "--model-arg")``)."""
    return click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
                        help="A constructor argument of the model, e.g. in_chans=1; repeatable.")


def leaf_module_option() -> Decorator:
    """``--leaf-module CLASS`` (repeatable): a class the tracer keeps opaque."""
    return click.option("--leaf-module", "leaf_modules", multiple=True, metavar="CLASS",
                        help="Trace this nn.Module class (package.module.Class) as an opaque element-wise block; "
                             "repeatable.")


# "none" stays a string: it is a value of options such as aggregate=none
_LITERALS = {"true": True, "false": False, "null": None}


def parse_option_value(text: str):
    """``--option`` values: true/false/null, an int, a float, else the string itself."""
    if text.lower() in _LITERALS:
        return _LITERALS[text.lower()]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_options(pairs: tuple[str, ...], param_hint: str = "--option") -> dict:
    """``KEY=VALUE`` pairs (``--option``, ``--model-arg``) -> keyword options."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=param_hint)
        options[key] = parse_option_value(value.strip())
    return options


def parse_max_memory(text: str | None) -> int | None:
    """``--max-memory`` as bytes (None: the default limit)."""
    from sparsegraph.errors import UsageError
    from sparsegraph.utils.sizes import parse_bytes

    if text is None:
        return None
    try:
        return parse_bytes(text)
    except ValueError as exc:
        raise UsageError(f"--max-memory: {exc}") from None


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


_TRAINING_OPTIONS = (
    click.option("--recipe", type=click.Choice(["cifar", "cifar-cos", "seed250", "small"]), default=None,
                 help="Training recipe (default: small for digits/MNIST, cifar otherwise)."),
    click.option("--epochs", type=click.IntRange(min=0), default=None,
                 help="Training epochs (0: only generate and measure)."),
    click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Training batch size."),
    click.option("--lr", type=float, default=None, help="Peak learning rate."),
    click.option("--weight-decay", type=float, default=None, help="Weight decay."),
    click.option("--val-split", type=click.IntRange(min=0), default=None,
                 help="Held-out val images (default 5000; digits: its fixed split; 0: none)."),
    click.option("--select-on-test", is_flag=True, help="Headline = best test epoch (published setting; biased)."),
    click.option("--amp", type=click.Choice(["auto", "off", "bf16", "fp16"]), default="auto", show_default=True,
                 help="Mixed precision on CUDA."),
    click.option("--channels-last", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                 help="channels_last memory format (auto: conv nets on CUDA)."),
    click.option("--deterministic", is_flag=True, help="Deterministic algorithms (bitwise-reproducible resume)."),
    click.option("--data-path", type=click.Choice(["auto", "tensors", "loader"]), default="auto", show_default=True,
                 help="Hold the dataset as tensors on the device (auto: when under 2 GiB) or use a DataLoader."),
)


def training_options() -> Decorator:
    """The training options shared by ``prune`` and ``study run`` (see :func:`training_settings`)."""

    def decorate(func: Callable) -> Callable:
        for opt in reversed(_TRAINING_OPTIONS):
            func = opt(func)
        return func

    return decorate


def training_settings(recipe, epochs, batch_size, lr, weight_decay, val_split, select_on_test, amp, channels_last,
                      deterministic, data_path) -> dict:
    """The :class:`~sparsegraph.runs.PruneRunConfig` fields that :func:`training_options` sets."""
    overrides = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay}
    return {"recipe": recipe, "train_options": {k: v for k, v in overrides.items() if v is not None},
            "val_split": val_split, "select_on_test": select_on_test, "amp": amp, "channels_last": channels_last,
            "deterministic": deterministic, "data_path": data_path}
