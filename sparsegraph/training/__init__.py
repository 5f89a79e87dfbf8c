"""Sparse training: recipes, mask enforcement, the training loop, checkpoints (pruning.md §6)."""

from sparsegraph.training.batches import TensorSplit
from sparsegraph.training.data import load_train_data
from sparsegraph.training.masking import MaskEnforcer
from sparsegraph.training.recipes import RECIPES, Recipe, resolve_recipe
from sparsegraph.training.runlog import RunLog
from sparsegraph.training.trainer import TrainData, TrainHooks, TrainResult, evaluate, train

__all__ = ["MaskEnforcer", "RECIPES", "Recipe", "RunLog", "TensorSplit", "TrainData", "TrainHooks", "TrainResult",
           "evaluate", "load_train_data", "resolve_recipe", "train"]
