"""``MaskSet``: the masks of a model, parameter name -> bool tensor, in MaskSet order."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from sparsegraph.errors import MaskError
from sparsegraph.masks.fingerprint import mask_fingerprint, model_fingerprint
from sparsegraph.masks.io import PRUNE_MASK_SUFFIX, read_mask_file, write_mask_file
from sparsegraph.masks.maskable import MASKABLE_MODULES, maskable_parameters, parameter_name
from sparsegraph.masks.metadata import check_stored_fingerprint, make_header, metadata_from_header
from sparsegraph.masks.validate import check_fits, check_keeps_something, to_bool_mask


class MaskSet(Mapping[str, Tensor]):
    """An ordered, read-only mapping parameter name -> bool mask (True = weight kept).

    Masks are CPU bool tensors of their parameter's shape, e.g. ``"layer1.0.conv1.weight"`` ->
    ``bool[64, 64, 3, 3]``. Parameters without a mask are dense. Two mask sets are equal when they
    have the same names in the same order and the same bits; metadata is not compared.

    Args:
        masks: parameter name -> tensor or numpy array of bools, or of numbers that are exactly 0 or 1.
        metadata: provenance, JSON-serialisable (``generator``, ``seed``, ``model_fingerprint``, ...).

    Raises:
        MaskError: a value that is not a mask (NaN, 0.5, 2, not an array), or masks that keep no
            weight at all.

    Example::

        masks = sg.MaskSet.load("masks.safetensors")
        masks.check_fits(model)
        masks.apply(model)                       # zero the pruned weights in place
        print(masks.density, masks.fingerprint())
    """

    def __init__(self, masks: Mapping[str, Any] | None = None, metadata: Mapping[str, Any] | None = None):
        self._init(masks or {}, metadata, source=None)

    def _init(self, masks: Mapping[str, Any], metadata: Mapping[str, Any] | None, source: str | None) -> None:
        checked: dict[str, Tensor] = {}
        for name, value in masks.items():
            if not isinstance(name, str) or not name:
                raise MaskError(f"{source + ': ' if source else ''}mask name {name!r} is not a parameter name")
            checked[name] = to_bool_mask(name, value, source)
        check_keeps_something(checked, source)
        self._masks = checked
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.source = source

    @classmethod
    def _trusted(cls, masks: dict[str, Tensor], metadata: Mapping[str, Any], source: str | None) -> MaskSet:
        """A mask set from tensors that are already valid bool masks (no copy, no device move)."""
        new = cls.__new__(cls)
        new._masks, new.metadata, new.source = masks, dict(metadata), source
        return new

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, masks: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> MaskSet:
        """A mask set from a dict of tensors or numpy arrays (bool, or numbers exactly 0/1)."""
        return cls(masks, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike) -> MaskSet:
        """Read a mask file; the format follows the suffix.

        * ``.safetensors`` (canonical): bool or uint8 tensors, with the text header of
          :mod:`sparsegraph.masks.metadata`;
        * ``.pt`` / ``.pth``: a dict parameter name -> mask tensor, or a ``torch.nn.utils.prune``
          state dict whose ``<module>.weight_mask`` entries become ``<module>.weight`` (``*_orig``
          and other entries are ignored); read with ``torch.load(weights_only=True)``;
        * ``.npz``: one array per parameter name; read with ``allow_pickle=False``.

        A stored mask fingerprint that no longer matches the bits (a file edited by another tool)
        gives a warning.

        Raises:
            MaskError: unsupported suffix; missing, corrupt or truncated file; a file with no masks;
                non-boolean values or NaN; masks that keep no weight.
        """
        source = str(path)
        entries, header, ignored = read_mask_file(path)
        skipped_masks = [key for key in ignored if key.endswith(PRUNE_MASK_SUFFIX)]
        if skipped_masks:
            warnings.warn(f"{source}: ignored {', '.join(skipped_masks)}: only Conv2d and Linear weights are masked",
                          stacklevel=2)
        masks = cls.__new__(cls)
        masks._init(entries, metadata_from_header(header, source), source)
        check_stored_fingerprint(header, masks.fingerprint(), source)
        return masks

    @classmethod
    def from_model(cls, model: nn.Module, infer_from_zeros: bool = False) -> MaskSet:
        """The masks a model carries.

        Reads the ``weight_mask`` buffers of its Conv2d and Linear modules (as registered by
        ``torch.nn.utils.prune``); with ``infer_from_zeros=True``, every other Conv2d/Linear weight
        gets the mask ``w != 0``. Without prune buffers and without ``infer_from_zeros`` the result is
        an empty MaskSet (a dense model). Other ``torch.nn.utils.prune`` masks (``bias_mask``, masks
        of other module types) are ignored with a warning.

        Raises:
            MaskError: masks that are not 0/1, or masks that keep no weight.
        """
        source = f"model {type(model).__name__}"
        found: dict[str, Any] = {}
        ignored: list[str] = []
        for module_name, module in model.named_modules():
            own_params = dict(module.named_parameters(recurse=False))
            for buffer_name, buffer in module.named_buffers(recurse=False):
                if not buffer_name.endswith(PRUNE_MASK_SUFFIX):
                    continue
                param = buffer_name[: -len(PRUNE_MASK_SUFFIX)]
                if param == "weight" and isinstance(module, MASKABLE_MODULES):
                    found[parameter_name(module_name)] = buffer
                elif f"{param}_orig" in own_params:
                    ignored.append(parameter_name(module_name, buffer_name))
        if ignored:
            warnings.warn(f"{source}: ignored the prune masks {', '.join(ignored)}: only Conv2d and Linear "
                          "weights are masked", stacklevel=2)
        generators = ["torch.nn.utils.prune"] if found else []
        weights = maskable_parameters(model)
        if infer_from_zeros:
            inferred = {name: weight.detach() != 0 for name, weight in weights.items() if name not in found}
            if inferred:
                generators.append("nonzero")
            found.update(inferred)
        if not found:
            return cls()
        ordered = {name: found[name] for name in weights if name in found}
        metadata = {"generator": "+".join(generators), "model_fingerprint": model_fingerprint(model)}
        masks = cls.__new__(cls)
        masks._init(ordered, metadata, source)
        return masks

    # ---- mapping ------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Tensor:
        return self._masks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._masks)

    def __len__(self) -> int:
        return len(self._masks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskSet):
            return NotImplemented
        return list(self) == list(other) and all(
            torch.equal(mask.cpu(), other[name].cpu()) for name, mask in self.items())

    __hash__ = None  # type: ignore[assignment]  # mutable metadata, array contents

    def __repr__(self) -> str:
        return (f"MaskSet({len(self)} parameters, {self.num_kept:,}/{self.numel:,} kept, "
                f"density {self.density:.6g}, fingerprint {self.fingerprint()})")

    # ---- statistics ---------------------------------------------------------------------------

    @property
    def numel(self) -> int:
        """Number of masked weights N (the sum of the masked parameters' sizes)."""
        return sum(mask.numel() for mask in self._masks.values())

    @property
    def num_kept(self) -> int:
        """Number of kept weights K (True entries)."""
        return sum(int(mask.count_nonzero()) for mask in self._masks.values())

    @property
    def density(self) -> float:
        """Global kept fraction K / N over the masked parameters (1.0 for an empty set: nothing is pruned)."""
        numel = self.numel
        return self.num_kept / numel if numel else 1.0

    def layer_densities(self) -> dict[str, float]:
        """Kept fraction of each masked parameter, in MaskSet order."""
        return {name: int(mask.count_nonzero()) / mask.numel() if mask.numel() else 1.0
                for name, mask in self._masks.items()}

    def fingerprint(self) -> str:
        """Short hex hash of the names, shapes and bits (see :func:`mask_fingerprint`)."""
        return mask_fingerprint(self._masks)

    # ---- files --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None,
             compact: bool = False) -> Path:
        """Write the masks atomically; the format follows the suffix (see :meth:`load`).

        Args:
            path: ``.safetensors`` (canonical), ``.pt``/``.pth`` or ``.npz``.
            metadata: extra metadata for this file, merged over :attr:`metadata`.
            compact: ``.safetensors`` only: store bit-packed masks or kept indices, whichever is
                smaller (8× to 32×+ smaller; read back transparently by :meth:`load`).

        Raises:
            MaskError: unsupported suffix.
            ValueError: metadata that is not JSON-serialisable or uses a key written by sparsegraph.
        """
        masks = {name: mask.cpu().contiguous() for name, mask in self._masks.items()}
        header = make_header(list(masks), fingerprint=self.fingerprint(), model_fingerprint=model_fingerprint(self),
                             num_kept=self.num_kept, numel=self.numel,
                             metadata={**self.metadata, **(metadata or {})})
        write_mask_file(path, masks, header, compact=compact)
        return Path(path)

    # ---- models -------------------------------------------------------------------------------

    def check_fits(self, model: nn.Module, source: str | None = None) -> None:
        """Check that every mask names a Conv2d/Linear weight of ``model`` and has its shape.

        A ``model_fingerprint`` in the metadata that matches neither ``model`` nor the masks' own
        names and shapes means the masks were made for another model whose masked layers look the
        same: a warning, since every name and shape fits.

        Args:
            source: what to call the masks in messages (default: the file they were loaded from).

        Raises:
            MaskError: an unknown name (with close matches), a parameter that is not maskable, a
                shape mismatch (both shapes), or masks that keep no weight.
        """
        source = source or self.source
        check_fits(self._masks, model, source)
        check_keeps_something(self._masks, source)
        stored = self.metadata.get("model_fingerprint")
        expected = model_fingerprint(model)
        if stored is not None and stored not in (expected, model_fingerprint(self)):
            warnings.warn(f"{source or 'masks'}: made for another model (model fingerprint {stored}, this model "
                          f"{expected}); every name and shape fits, so the masks are used", stacklevel=2)

    def in_model_order(self, model: nn.Module) -> MaskSet:
        """The same masks listed in ``model``'s MaskSet order (``named_parameters()`` order).

        Files from other tools may list parameters in another order (safetensors sorts its keys);
        the global flat index of the pruning code follows MaskSet order.

        Raises:
            MaskError: as :meth:`check_fits`.
        """
        self.check_fits(model)
        ordered = {name: self._masks[name] for name in maskable_parameters(model) if name in self._masks}
        return MaskSet._trusted(ordered, self.metadata, self.source)

    def apply(self, model: nn.Module, reparametrize: bool = False) -> nn.Module:
        """Apply the masks to ``model`` (after :meth:`check_fits`) and return it.

        Args:
            reparametrize: False: set pruned weights to exactly 0 in place, without gradient
                tracking. True: register ``torch.nn.utils.prune.custom_from_mask`` on each masked
                module (``weight_orig`` parameter, ``weight_mask`` buffer, ``weight`` recomputed
                before every forward); on a module already pruned this way torch keeps the
                intersection of both masks.
        """
        self.check_fits(model)
        weights = maskable_parameters(model)
        with torch.no_grad():
            for name, mask in self._masks.items():
                weight = weights[name]
                mask = mask.to(weight.device)
                if reparametrize:
                    prune.custom_from_mask(model.get_submodule(name.rpartition(".")[0]), "weight", mask)
                else:
                    weight.masked_fill_(~mask, 0)
        return model

    def to(self, device: str | torch.device) -> MaskSet:
        """A copy with every mask on ``device`` (same names, bits and metadata)."""
        return MaskSet._trusted({name: mask.to(device) for name, mask in self._masks.items()},
                                self.metadata, self.source)
