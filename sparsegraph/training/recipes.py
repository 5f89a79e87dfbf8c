"""Named training recipes (pruning.md §6); every field can be overridden."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sparsegraph.errors import UsageError


@dataclass(frozen=True)
class Recipe:
    """An SGD recipe: Nesterov momentum, weight decay on all parameters, cross-entropy on logits.

    Attributes:
        name: recipe name.
        epochs: number of epochs.
        batch_size: training batch size.
        lr: peak learning rate.
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 weight decay on all parameters.
        schedule: ``step`` (multiply by ``gamma`` at each milestone), ``cosine`` (to 0, per
            iteration) or ``constant``.
        milestones: epochs (``>= 1``) or fractions of the epochs (``< 1``) of the step schedule.
        gamma: step-schedule factor.
    """

    name: str
    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "step"
    milestones: tuple[float, ...] = (0.5, 0.75)
    gamma: float = 0.1

    def lr_at(self, iteration: int, iters_per_epoch: int) -> float:
        """The learning rate used for ``iteration`` (0-based, counted over the whole run)."""
        total = self.epochs * iters_per_epoch
        if self.schedule == "constant":
            return self.lr
        if self.schedule == "cosine":
            return 0.5 * self.lr * (1.0 + math.cos(math.pi * min(iteration, total) / max(total, 1)))
        epoch = iteration // max(iters_per_epoch, 1)
        factor = 1.0
        for m in self.milestones:
            boundary = m * self.epochs if m < 1 else m
            if epoch >= math.floor(boundary + 1e-9):
                factor *= self.gamma
        return self.lr * factor

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


RECIPES: dict[str, Recipe] = {
    "cifar": Recipe("cifar", epochs=160, batch_size=128, lr=0.1, schedule="step", milestones=(0.5, 0.75)),
    "cifar-cos": Recipe("cifar-cos", epochs=160, batch_size=128, lr=0.1, schedule="cosine"),
    "seed250": Recipe("seed250", epochs=250, batch_size=128, lr=0.1, schedule="step", milestones=(125, 187)),
    "small": Recipe("small", epochs=20, batch_size=128, lr=0.05, schedule="cosine"),
}

SMALL_DATASETS = ("digits", "mnist", "fashion-mnist", "fashionmnist")


def default_recipe_name(dataset: str | None) -> str:
    """``small`` for MNIST, Fashion-MNIST and digits; ``cifar`` otherwise."""
    return "small" if dataset in SMALL_DATASETS else "cifar"


def resolve_recipe(name: str | None = None, dataset: str | None = None, **overrides) -> Recipe:
    """The named recipe (or the dataset's default) with ``overrides`` applied.

    ``digits`` uses batch 64 under the ``small`` recipe. Overrides set to None are ignored.
    """
    name = name or default_recipe_name(dataset)
    if name not in RECIPES:
        raise UsageError(f"unknown recipe {name!r}; expected one of: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    if name == "small" and dataset == "digits":
        recipe = dataclasses.replace(recipe, batch_size=64)
    fields = {f.name for f in dataclasses.fields(Recipe)}
    clean = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in fields or key == "name":
            raise UsageError(f"unknown recipe field {key!r}; expected one of: {', '.join(sorted(fields - {'name'}))}")
        clean[key] = tuple(value) if key == "milestones" else value
    recipe = dataclasses.replace(recipe, **clean)
    if recipe.epochs < 0 or recipe.batch_size < 1 or recipe.lr < 0:
        raise UsageError(f"invalid recipe values: epochs={recipe.epochs}, batch_size={recipe.batch_size}, lr={recipe.lr}")
    if recipe.schedule not in ("step", "cosine", "constant"):
        raise UsageError(f"unknown schedule {recipe.schedule!r}; expected step, cosine or constant")
    return recipe
