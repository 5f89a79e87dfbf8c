"""Dynamic sparse training (spec pruning §5): SET and RigL; importing registers ``set`` and ``rigl``.

``dst_update`` is the pure drop-and-grow step, :class:`DSTUpdater` applies it during training,
:func:`run_dst` is the ``sg.pruning.run`` entry.
"""

from functools import partial

from sparsegraph.pruning.dst.runner import DST_METHODS, DSTSummary, dst_schedule, run_dst
from sparsegraph.pruning.dst.schedule import drop_fraction
from sparsegraph.pruning.dst.update import dst_update
from sparsegraph.pruning.dst.updater import DSTSchedule, DSTUpdater
from sparsegraph.pruning.samplers.registration import register_runner

register_runner("set", partial(run_dst, method="set"),
                "SET: dynamic sparse training, magnitude drop and uniform random regrowth every ΔT steps (trains)")
register_runner("rigl", partial(run_dst, method="rigl"),
                "RigL: dynamic sparse training, magnitude drop and regrowth by the largest dense gradient (trains)")

__all__ = ["DST_METHODS", "DSTSchedule", "DSTSummary", "DSTUpdater", "drop_fraction", "dst_schedule", "dst_update",
           "run_dst"]
