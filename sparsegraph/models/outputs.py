"""Model outputs as logits: the tensor itself, or the ``logits`` of a Hugging Face ``ModelOutput``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from sparsegraph.errors import BadInputError


def logits_of(output: Any) -> torch.Tensor:
    """The logits in a model's output.

    A tensor is returned as is; a mapping or object with ``logits`` (``transformers``' ``ModelOutput``,
    a dict) gives that entry; a tuple or list gives its first element (``return_dict=False`` outputs).

    Raises:
        BadInputError: no logits tensor can be found.
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    if isinstance(getattr(output, "logits", None), torch.Tensor):
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise BadInputError(f"the model returned a {type(output).__name__}, not logits: return a tensor, an object "
                        "with a 'logits' tensor, or a tuple whose first element is the logits")
