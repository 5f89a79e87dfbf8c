"""The model zoo and model loading.

``create_model(name, num_classes=10, **kw)`` builds a zoo model (see ``docs/models.md``);
``load_model(spec, num_classes=10, checkpoint=None, **kw)`` resolves any model SPEC (zoo name,
``torchvision:<name>``, ``path/to/file.py:callable``, ``package.module:callable``) and loads a
checkpoint into it.
"""

from sparsegraph.models.init import INIT_SCHEMES, init_weights
from sparsegraph.models.registry import (
    ModelInfo,
    create_model,
    default_input_shape,
    describe_model,
    list_models,
    model_info,
)

# importing the builders registers them, in the order that `sparsegraph models` lists them
from sparsegraph.models import mlp as _mlp  # noqa: E402,F401  isort: skip
from sparsegraph.models import lenet5 as _lenet5  # noqa: E402,F401  isort: skip
from sparsegraph.models import conv6 as _conv6  # noqa: E402,F401  isort: skip
from sparsegraph.models import resnet_cifar as _resnet_cifar  # noqa: E402,F401  isort: skip
from sparsegraph.models import vgg as _vgg  # noqa: E402,F401  isort: skip
from sparsegraph.models import wrn as _wrn  # noqa: E402,F401  isort: skip
from sparsegraph.models.loading import load_checkpoint, load_model, read_state_dict  # noqa: E402

__all__ = [
    "INIT_SCHEMES",
    "ModelInfo",
    "create_model",
    "default_input_shape",
    "describe_model",
    "init_weights",
    "list_models",
    "load_checkpoint",
    "load_model",
    "model_info",
    "read_state_dict",
]
