"""The model zoo: names, one-line descriptions, default input shapes and builders.

Builders register themselves with :func:`register_model` in :data:`MODELS` when their module is
imported (the package ``__init__`` imports them all, in listing order). :func:`create_model` resolves a name, checks the options
against the builder's signature, builds the model, optionally re-initialises it, and records the
input shape on it as ``model.input_shape``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from sparsegraph.errors import ModelSpecError, UsageError
from sparsegraph.models.init import init_weights
from sparsegraph.registry import Registry
from sparsegraph.utils.memory import check_memory

CIFAR_INPUT_SHAPE = (3, 32, 32)
MNIST_INPUT_SHAPE = (1, 28, 28)

# options handled by create_model itself, never passed to a builder
_COMMON_OPTIONS = ("num_classes", "input_shape", "init", "seed", "generator")


@dataclass(frozen=True)
class ModelInfo:
    """A zoo entry.

    Attributes:
        name: the zoo name (lower case).
        builder: ``builder(num_classes=..., input_shape=..., **options) -> nn.Module``.
        description: one line for ``sparsegraph models``.
        input_shape: the default ``(C, H, W)`` input of one sample.
        init: the initialisation scheme used when none is asked for (``default``: PyTorch's own).
    """

    name: str
    builder: Callable[..., nn.Module]
    description: str
    input_shape: tuple[int, ...]
    init: str = "default"

    @property
    def options(self) -> tuple[str, ...]:
        """The builder's own keyword options (beyond num_classes and input_shape)."""
        params = inspect.signature(self.builder).parameters
        return tuple(p for p in params if p not in _COMMON_OPTIONS)


def _normalised(name: str) -> str:
    # "ResNet-20", "resnet_20" and "WRN-28-2" resolve to the zoo's spelling
    return name.lower().replace("-", "").replace("_", "")


#: The zoo: name -> ModelInfo. Lookups ignore case, ``-`` and ``_``.
MODELS: Registry[ModelInfo] = Registry(
    "model", error=ModelSpecError, key=_normalised, cutoff=0.5, lower=True,
    listing=lambda: f"zoo: {', '.join(MODELS.names())}; also torchvision:<name>, path/to/file.py:callable, "
                    "package.module:callable")


def register_model(name: str, *, description: str, input_shape: tuple[int, ...] = CIFAR_INPUT_SHAPE,
                   init: str = "default") -> Callable[[Callable], Callable]:
    """Decorator adding a builder to the zoo under ``name``.

    ``init`` is the model's own initialisation scheme (``create_model`` applies it when the caller names
    none), e.g. ``kaiming_normal`` for plain ReLU nets without batch norm.

    Raises:
        RegistrationError: ``name`` (ignoring case, ``-`` and ``_``) is already registered.
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(name, ModelInfo(name, builder, description, tuple(input_shape), init))
        return builder

    return decorate


def model_info(name: str) -> ModelInfo:
    """The zoo entry for ``name`` (case, ``-`` and ``_`` ignored).

    Raises:
        ModelSpecError: unknown name; the message lists close matches and the zoo.
    """
    return MODELS.get(name)


def list_models() -> list[str]:
    """The zoo's model names, in registration order."""
    return MODELS.names()


def describe_model(name: str) -> str:
    """One line describing the zoo model ``name``."""
    return model_info(name).description


def default_input_shape(name: str) -> tuple[int, ...]:
    """The ``(C, H, W)`` input of one sample that the zoo model ``name`` is built for by default."""
    return model_info(name).input_shape


def check_input_shape(input_shape: Any, where: str) -> tuple[int, ...]:
    """``input_shape`` as a tuple of 3 positive ints ``(C, H, W)``, or a UsageError naming ``where``."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise UsageError(f"{where}: input_shape must be (C, H, W) with positive sizes, got {input_shape!r}")
    return shape


def create_model(name: str, num_classes: int = 10, *, input_shape: tuple[int, ...] | None = None,
                 init: str | None = None, seed: int | None = None,
                 generator: torch.Generator | None = None, **options: Any) -> nn.Module:
    """Build a zoo model.

    Args:
        name: a zoo name (:func:`list_models`); case, ``-`` and ``_`` are ignored.
        num_classes: width of the classifier's output.
        input_shape: ``(C, H, W)`` of one sample; defaults to :func:`default_input_shape`. ``C``
            sets the first layer's input channels; models that flatten a feature map (mlp,
            lenet5, conv6, vgg16) size their first linear layer from ``H`` and ``W``.
        init: initialisation scheme (:data:`sparsegraph.models.init.INIT_SCHEMES`); None: the model's
            own (``kaiming_normal`` for lenet5 and conv6, PyTorch's default from the constructors for
            the others).
        seed: draw the initial weights from a generator seeded with ``seed`` (deterministic,
            global RNG untouched by the re-initialisation). Exclusive with ``generator``.
        generator: draw the initial weights from this CPU generator.
        **options: the model's own options (e.g. ``shortcut="A"`` for resnet20/32).

    Returns:
        The model (in training mode, on CPU), with ``model.input_shape`` set.

    Raises:
        ModelSpecError: unknown name.
        UsageError: unknown option or invalid option value.
        MemoryLimitError: the parameters for this ``input_shape`` would exceed the memory limit
            (counted on the meta device first).
    """
    info = model_info(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise UsageError(f"model {info.name!r}: num_classes must be a positive integer, got {num_classes!r}")
    shape = check_input_shape(info.input_shape if input_shape is None else input_shape, f"model {info.name!r}")
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join(info.options + _COMMON_OPTIONS[1:]) or "none"
        raise UsageError(f"model {info.name!r} has no option {unknown[0]!r} (options: {allowed})")
    if shape != info.input_shape:  # layers sized from H and W: check their memory before allocating them
        _check_parameter_memory(info, num_classes, shape, options)
    model = info.builder(num_classes=num_classes, input_shape=shape, **options)
    if init is not None or seed is not None or generator is not None or info.init != "default":
        init_weights(model, init or info.init, seed=seed, generator=generator)
    model.input_shape = shape
    return model


def _check_parameter_memory(info: ModelInfo, num_classes: int, shape: tuple[int, ...], options: dict[str, Any]) -> None:
    """Build the model on the meta device (nothing allocated) and check its parameter bytes."""
    with torch.device("meta"):
        skeleton = info.builder(num_classes=num_classes, input_shape=shape, **options)
    need = sum(t.numel() * t.element_size() for t in (*skeleton.parameters(), *skeleton.buffers()))
    check_memory(need, f"building {info.name} for input {'x'.join(map(str, shape))}")
