"""Network rows from layer results: the aggregation rules of metrics.md §4.

=============  ===========================================================================================
rule           network value over the ``n`` included layers
=============  ===========================================================================================
``ratio``      ``Σ numerator / Σ denominator`` from each layer's ``extras`` (density: ``Σnnz/Σnumel``)
``valid_mean`` mean over the layers with a defined value; undefined if there are none ([ICLR23])
``zero_mean``  ``Σ defined values / n``: undefined layers count as 0 ([NeurIPS23] ``avg_imdb``)
``mean``       mean over all ``n`` layers; undefined if any layer is undefined
``none``       no network row
=============  ===========================================================================================

A layer that failed (status ``error``) makes the network value an error too: a mean that silently skipped
failures would look like a valid number.
"""

from __future__ import annotations

import math
from typing import Sequence

from sparsegraph.errors import UsageError
from sparsegraph.metrics.info import MetricResult


def aggregate_results(rule: str, results: Sequence[MetricResult]) -> MetricResult | None:
    """The network result of ``results`` (one per included layer) under ``rule``; None for ``none``.

    Raises:
        ValueError: an unknown rule.
    """
    if rule == "none":
        return None
    if rule not in ("ratio", "valid_mean", "zero_mean", "mean"):
        raise UsageError(f"unknown aggregate {rule!r}; expected one of: ratio, valid_mean, zero_mean, mean, none")
    n = len(results)
    failed = sum(r.status == "error" for r in results)
    if failed:
        return MetricResult(None, "error", f"{failed} of {n} layers failed")
    if n == 0:
        return MetricResult(None, "undefined", "no layer selected")
    defined = [r.value for r in results if r.status == "ok"]
    if rule == "ratio":
        missing = [r for r in results if "numerator" not in r.extras or "denominator" not in r.extras]
        if missing:
            return MetricResult(None, "error", "the ratio aggregate needs numerator and denominator extras")
        numerator = math.fsum(float(r.extras["numerator"]) for r in results)
        denominator = math.fsum(float(r.extras["denominator"]) for r in results)
        if denominator == 0:
            return MetricResult(None, "undefined", "zero denominator")
        return MetricResult(numerator / denominator, "ok")
    if rule == "valid_mean":
        if not defined:
            return MetricResult(None, "undefined", f"undefined in all {n} layers")
        return MetricResult(math.fsum(defined) / len(defined), "ok")
    if rule == "zero_mean":
        return MetricResult(math.fsum(defined) / n, "ok")
    if len(defined) < n:  # mean
        return MetricResult(None, "undefined", f"undefined in {n - len(defined)} of {n} layers")
    return MetricResult(math.fsum(defined) / n, "ok")
