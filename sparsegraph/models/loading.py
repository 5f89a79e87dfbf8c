"""Model SPECs and checkpoints.

A SPEC names a model wherever one is asked for:

* a zoo name (``resnet20``; see :func:`sparsegraph.models.list_models`);
* ``torchvision:<name>``: ``torchvision.models.get_model(name, weights=None, num_classes=...)``;
* ``path/to/file.py:callable`` or ``package.module:callable``: the callable (a function or an
  ``nn.Module`` class; ``a.b`` attribute paths are followed) is called, with ``num_classes=`` when
  its signature accepts it, and must return an ``nn.Module``.

A checkpoint is a state dict in ``.safetensors``, or in ``.pt``/``.pth`` read with
``torch.load(weights_only=True)`` (never unpickling code); a dict holding the state dict under
``state_dict``, ``model`` or ``model_state_dict`` is unwrapped, and a ``module.`` (DataParallel)
or ``_orig_mod.`` (torch.compile) prefix on every key is stripped. Checkpoints written from a
model pruned with ``torch.nn.utils.prune`` (``<name>_orig`` and ``<name>_mask`` entries) are loaded
into the same reparametrisation, so the masks come with the model.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from sparsegraph.errors import CheckpointError, ModelSpecError
from sparsegraph.models.init import init_weights
from sparsegraph.models.registry import create_model
from sparsegraph.registry import did_you_mean

TORCHVISION_PREFIX = "torchvision:"
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth")
# keys under which training scripts commonly nest the state dict
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
# prefixes added by nn.DataParallel / DistributedDataParallel and by torch.compile
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# torchvision models whose expected input is not 3x224x224
_TORCHVISION_INPUT_SHAPES = {"inception_v3": (3, 299, 299)}


def load_model(spec: str, num_classes: int = 10, checkpoint: str | Path | None = None, *,
               init: str | None = None, seed: int | None = None,
               generator: torch.Generator | None = None, input_shape: tuple[int, ...] | None = None,
               **kw: Any) -> nn.Module:
    """Resolve a model SPEC (see the module docstring) and load ``checkpoint`` into it.

    Args:
        spec: zoo name, ``torchvision:<name>``, ``path/to/file.py:callable`` or
            ``package.module:callable``.
        num_classes: classifier width.
        checkpoint: optional state dict file (``.safetensors``, ``.pt``, ``.pth``).
        init, seed, generator: initialisation (see :func:`sparsegraph.models.init_weights`),
            applied before the checkpoint is loaded.
        input_shape: build a zoo model for this per-sample input shape (e.g. ``(1, 8, 8)``: the
            stem's channels and the first linear width follow it); other SPECs build their own
            architecture and ignore it.
        **kw: passed to the builder (zoo options such as ``shortcut="A"``, torchvision's
            ``get_model`` options, or the callable's keyword arguments).

    Returns:
        The model, on CPU. Zoo and torchvision models carry ``model.input_shape``.

    Raises:
        ModelSpecError: the SPEC cannot be resolved to an ``nn.Module``.
        CheckpointError: the checkpoint cannot be read or does not fit the model.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"model SPEC must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec.startswith(TORCHVISION_PREFIX):
        model = _torchvision_model(spec, num_classes, kw)
    elif ":" in spec:
        model = _callable_model(spec, num_classes, kw)
    else:  # the zoo applies the model's own initialisation scheme when init is None
        model = create_model(spec, num_classes, **({"input_shape": tuple(input_shape)} if input_shape else {}),
                             init=init, seed=seed, generator=generator, **kw)
    if ":" in spec and (init is not None or seed is not None or generator is not None):
        init_weights(model, init or "default", seed=seed, generator=generator)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    return model


def _torchvision_model(spec: str, num_classes: int, kw: dict[str, Any]) -> nn.Module:
    import torchvision

    name = spec[len(TORCHVISION_PREFIX):]
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available and name.lower() in available:
        name = name.lower()
    if name not in available:
        hint = did_you_mean(name, available, lower=True)
        hint = f"; {hint.rstrip()}" if hint else ""
        raise ModelSpecError(f"model SPEC {spec!r}: {name!r} is not a torchvision classification model{hint}")
    try:
        model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kw)
    except (TypeError, ValueError) as exc:
        raise ModelSpecError(f"model SPEC {spec!r}: torchvision could not build it: {exc}") from exc
    model.input_shape = _TORCHVISION_INPUT_SHAPES.get(name, (3, 224, 224))
    return model


def resolve_attribute(spec: str, what: str = "model SPEC", kind: str = "callable") -> Any:
    """The object named by ``<file.py or package.module>:<attribute path>``.

    Raises:
        ModelSpecError: ``"<what> '<spec>': ..."`` when the file, module or attribute does not exist.
    """
    target, _, attr_path = spec.rpartition(":")
    if not target or not attr_path:
        raise ModelSpecError(f"{what} {spec!r}: expected <file.py or package.module>:<{kind}>")
    owner = _import_file(spec, target, what) if _is_file_target(target) else _import_module(spec, target, what)
    found: Any = owner
    for attr in attr_path.split("."):
        if not hasattr(found, attr):
            raise ModelSpecError(f"{what} {spec!r}: {target} has no attribute {attr_path!r}")
        found = getattr(found, attr)
    return found


def resolve_class(spec: str, what: str = "leaf module") -> type:
    """The class named ``package.module.Class``, ``package.module:Class`` or ``file.py:Class``."""
    if ":" not in spec:
        module, _, name = spec.rpartition(".")
        spec = f"{module}:{name}"
    found = resolve_attribute(spec, what, "class")
    if not isinstance(found, type):
        raise ModelSpecError(f"{what} {spec!r} is not a class")
    return found


def _callable_model(spec: str, num_classes: int, kw: dict[str, Any]) -> nn.Module:
    factory = resolve_attribute(spec)
    target, _, attr_path = spec.rpartition(":")
    if not callable(factory):
        raise ModelSpecError(f"model SPEC {spec!r}: {attr_path!r} in {target} is not callable")
    kwargs = dict(kw)
    if _accepts_keyword(factory, "num_classes"):
        kwargs["num_classes"] = num_classes
    try:
        model = factory(**kwargs)
    except Exception as exc:  # the user's code: report it in one line, keep the cause chained
        raise ModelSpecError(f"model SPEC {spec!r}: calling {attr_path} failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ModelSpecError(f"model SPEC {spec!r}: {attr_path} returned {type(model).__name__}, "
                             "not a torch.nn.Module")
    return model


def _is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import_file(spec: str, target: str, what: str = "model SPEC") -> Any:
    path = Path(target).expanduser()
    if not path.is_file():
        raise ModelSpecError(f"{what} {spec!r}: file {target} not found")
    resolved = path.resolve()
    # a stable, unique module name per file: classes defined there pickle and compare consistently
    module_name = f"sparsegraph_user_model_{hashlib.sha1(str(resolved).encode()).hexdigest()[:12]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ModelSpecError(f"{what} {spec!r}: cannot import {target} as a Python file")
    module = importlib.util.module_from_spec(module_spec)
    # registered before execution: dataclasses and typing need the module in sys.modules
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ModelSpecError(f"{what} {spec!r}: importing {target} failed: "
                             f"{type(exc).__name__}: {exc}") from exc
    return module


def _import_module(spec: str, target: str, what: str = "model SPEC") -> Any:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise ModelSpecError(f"{what} {spec!r}: module {target!r} not found ({exc})") from exc
    except Exception as exc:
        raise ModelSpecError(f"{what} {spec!r}: importing {target} failed: "
                             f"{type(exc).__name__}: {exc}") from exc


def _accepts_keyword(func: Callable, name: str) -> bool:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any((p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)) or p.kind == p.VAR_KEYWORD
               for p in params)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat state dict of CPU tensors (see the module docstring).

    Raises:
        CheckpointError: missing or unreadable file, unknown suffix, or contents that are not a
            state dict.
    """
    path = Path(path)
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"checkpoint {path}: unknown format {path.suffix or '(no suffix)'!r} "
                              f"(expected {', '.join(CHECKPOINT_SUFFIXES)})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: file not found")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            raw: Any = load_file(str(path), device="cpu")
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"checkpoint {path}: cannot be read ({type(exc).__name__}: {first_line})") from exc
    state = _unwrap(raw, path)
    return _strip_prefixes(state)


def _unwrap(raw: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(raw, Mapping):
        for key in _WRAPPER_KEYS:
            if isinstance(raw.get(key), Mapping):
                raw = raw[key]
                break
    if not isinstance(raw, Mapping) or not raw:
        raise CheckpointError(f"checkpoint {path}: does not hold a state dict (got {type(raw).__name__})")
    for key, value in raw.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"checkpoint {path}: entry {key!r} is a {type(value).__name__}, "
                                  "not a tensor (expected a state dict)")
    return {str(k): v for k, v in raw.items()}


def _strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    stripped = True
    while stripped:
        stripped = False
        for prefix in _WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                stripped = True
    return state


def load_checkpoint(model: nn.Module, checkpoint: str | Path) -> nn.Module:
    """Load the state dict in ``checkpoint`` into ``model`` (in place), strictly.

    Entries ``<module>.<name>_orig`` / ``<module>.<name>_mask`` (``torch.nn.utils.prune``) make the
    parameter pruned with that mask. Missing ``num_batches_tracked`` buffers (older checkpoints)
    are tolerated.

    Returns:
        ``model``.

    Raises:
        CheckpointError: unreadable file; missing or unexpected entries; a shape mismatch (naming
            the parameter); NaN or infinite values (naming the entry).
    """
    path = Path(checkpoint)
    state = read_state_dict(path)
    _apply_pruning_reparametrisation(model, state)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing {len(missing)} entr{'y' if len(missing) == 1 else 'ies'} "
                              f"of the model: {_listing(missing)}")
    if unexpected:
        raise CheckpointError(f"checkpoint {path}: {len(unexpected)} unexpected entr"
                              f"{'y' if len(unexpected) == 1 else 'ies'} not in the model: {_listing(unexpected)}")
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise CheckpointError(f"checkpoint {path}: parameter {key!r} has shape {tuple(value.shape)}, "
                                  f"the model expects {tuple(expected[key].shape)}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint {path}: parameter {key!r} contains NaN or infinite values")
    model.load_state_dict(state, strict=False)
    _refresh_pruned_parameters(model)
    return model


def _listing(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def _apply_pruning_reparametrisation(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    from torch.nn.utils import prune

    modules = dict(model.named_modules())
    for key in state:
        if not key.endswith("_orig"):
            continue
        module_name, _, tensor_name = key[:-len("_orig")].rpartition(".")
        module = modules.get(module_name)
        if (module is not None and f"{key[:-len('_orig')]}_mask" in state
                and isinstance(module._parameters.get(tensor_name), nn.Parameter)):
            prune.identity(module, tensor_name)


def _refresh_pruned_parameters(model: nn.Module) -> None:
    # torch.nn.utils.prune caches `weight = weight_orig * weight_mask` as a plain attribute,
    # computed when the reparametrisation was applied; recompute it from the loaded tensors.
    from torch.nn.utils import prune

    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                setattr(module, hook._tensor_name, hook.apply_mask(module))
