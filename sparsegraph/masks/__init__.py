"""Masks: :class:`MaskSet` (parameter name -> bool tensor), its files, fingerprints and checks."""

from sparsegraph.masks.fingerprint import mask_fingerprint, model_fingerprint
from sparsegraph.masks.maskable import MASKABLE_MODULES, maskable_parameters
from sparsegraph.masks.maskset import MaskSet

__all__ = ["MASKABLE_MODULES", "MaskSet", "mask_fingerprint", "maskable_parameters", "model_fingerprint"]
