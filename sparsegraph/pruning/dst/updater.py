"""Drop-and-grow during training: the trainer's ``mask_updater`` for SET and RigL (spec pruning §5).

Step order (the ITOP code's ``Masking.step``): optimizer step, weights and momentum masked, ``steps += 1``;
an update fires when ``steps % ΔT == 0`` and ``steps ≤ dst_stop·T``, with ζ = ζ(steps) of the schedule.
The update runs where the model is (CUDA or CPU) on the live parameters: no host copy of the model. The
new masks go into the :class:`~sparsegraph.training.MaskEnforcer`, which zeroes the dropped weights and
their optimizer state; newly grown weights are already 0 with zero state (they were inactive), a dropped
and regrown weight keeps its value and state. RigL asks the trainer for the dense gradient of the batch of
an update step (:meth:`DSTUpdater.wants_dense_grad`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from sparsegraph.pruning.dst.schedule import drop_fraction
from sparsegraph.pruning.dst.update import drop_count, dst_update
from sparsegraph.utils.seed import derive_seed, make_generator


@dataclass(frozen=True)
class DSTSchedule:
    """When and how much the masks change.

    Attributes:
        growth: ``random`` (SET) or ``gradient`` (RigL).
        interval: ΔT, steps between updates.
        fraction: ζ₀.
        schedule: ``cosine``, ``constant`` or ``linear``.
        stop: updates only while ``steps ≤ stop·T``.
        tie_break: ``random`` or ``index`` (spec §1.3).
    """

    growth: str
    interval: int
    fraction: float
    schedule: str = "cosine"
    stop: float = 1.0
    tie_break: str = "random"

    def fires(self, step: int, total: int) -> bool:
        """Whether the update fires after completed step ``step`` of ``total``."""
        return step > 0 and step % self.interval == 0 and step <= self.stop * total

    def zeta(self, step: int, total: int) -> float:
        return drop_fraction(step, total, self.fraction, self.schedule)


class DSTUpdater:
    """Changes the masks of a training run every ΔT steps; its state goes into the checkpoint.

    Args:
        schedule: the :class:`DSTSchedule`.
        masks: the initial masks (parameter name -> bool tensor).
        seed: the run seed; the regrowth generator is seeded with ``derive_seed(seed, "dst")`` and its
            state is saved with every checkpoint, so a resumed run regrows exactly as an uninterrupted one.
        log: a :class:`~sparsegraph.training.RunLog` for one ``dst_update`` row per update.

    Attributes:
        masks: the current masks, on the training device.
        explored: ∪_t M_t, on the training device (the ITOP rate is its density).
        updates: the number of updates so far; ``last_update`` the step of the last one (0: none).
    """

    def __init__(self, schedule: DSTSchedule, masks: Mapping[str, torch.Tensor], seed: int, log=None):
        self.schedule = schedule
        self.masks = {name: m.detach().to(torch.bool).clone() for name, m in masks.items()}
        self.explored = {name: m.clone() for name, m in self.masks.items()}
        self.generator = make_generator(derive_seed(seed, "dst"))
        self.updates = 0
        self.last_update = 0
        self.total = 0
        self.log = log
        self._params: dict[str, nn.Parameter] = {}
        self._enforcer = None
        self._optimizer = None

    def attach(self, model: nn.Module, optimizer: torch.optim.Optimizer, enforcer, total_iterations: int) -> None:
        """Bind to the trainer's model, optimizer and mask enforcer (called once before the first step)."""
        params = dict(model.named_parameters())
        self._params = {name: params[name] for name in self.masks}
        self._optimizer, self._enforcer, self.total = optimizer, enforcer, int(total_iterations)
        self._to(next(iter(self._params.values())).device)

    def _to(self, device: torch.device) -> None:
        self.masks = {n: m.to(device) for n, m in self.masks.items()}
        self.explored = {n: m.to(device) for n, m in self.explored.items()}

    def wants_dense_grad(self, step: int) -> bool:
        """Whether step ``step`` (1-based, about to run) needs the unmasked gradient (RigL update steps)."""
        return self.schedule.growth == "gradient" and self.schedule.fires(step, self.total)

    @property
    def itop_rate(self) -> float:
        """|∪_t M_t| / N over the masked weights."""
        kept = sum(int(torch.count_nonzero(m)) for m in self.explored.values())
        return kept / sum(m.numel() for m in self.explored.values())

    @torch.no_grad()
    def after_step(self, step: int, grads: Mapping[str, torch.Tensor] | None = None) -> bool:
        """Run the update if it fires after step ``step``; True when the masks changed hands."""
        if not self.schedule.fires(step, self.total):
            return False
        zeta = self.schedule.zeta(step, self.total)
        before = self.masks
        new = dst_update(before, self._params, fraction=zeta, growth=self.schedule.growth, grads=grads,
                         generator=self.generator, tie_break=self.schedule.tie_break)
        self.masks = dict(new)
        self._enforcer.set_masks(self.masks, self._optimizer)
        removed = fresh = 0
        for name, mask in self.masks.items():
            removed += drop_count(zeta, int(torch.count_nonzero(before[name])))
            fresh += int(torch.count_nonzero(mask & ~before[name]))
            self.explored[name] |= mask
        self.updates += 1
        self.last_update = step
        if self.log is not None:
            self.log.write("dst_update", update=self.updates, step=step, zeta=zeta, removed=removed,
                           grown_fresh=fresh, regrown=removed - fresh, itop_rate=self.itop_rate)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Masks, explored union, regrowth generator state and counters (CPU tensors, weights_only-safe)."""
        return {"masks": {n: m.cpu() for n, m in self.masks.items()},
                "explored": {n: m.cpu() for n, m in self.explored.items()},
                "generator": self.generator.get_state(), "updates": self.updates, "last_update": self.last_update}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (after :meth:`attach`) and hand its masks to the enforcer."""
        device = next(iter(self._params.values())).device if self._params else torch.device("cpu")
        self.masks = {n: state["masks"][n].to(device) for n in self.masks}
        self.explored = {n: state["explored"][n].to(device) for n in self.explored}
        self.generator.set_state(state["generator"])
        self.updates, self.last_update = int(state["updates"]), int(state["last_update"])
        if self._enforcer is not None:
            self._enforcer.set_masks(self.masks, self._optimizer)
