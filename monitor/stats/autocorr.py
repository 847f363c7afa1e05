"""Batch means for autocorrelated time series before a test that assumes independence.

Method: estimate the lag-1 autocorrelation ``r`` of the series; under an AR(1) model the
variance of a mean is inflated by ``(1 + r) / (1 - r)``, so non-overlapping batches of that
many consecutive points have nearly independent means (the batch-means method of simulation
output analysis). Points sampled every minute from ``rate(x[2m])`` overlap, and gauges such as
memory drift slowly: Mann-Whitney on the raw points would find "significant" shifts in noise.

Assumptions: the series is in time order and roughly stationary within the window; ``r`` is
clipped to [0, 0.95] (negative correlation only makes the raw test conservative).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def lag1_autocorrelation(values: Sequence[float]) -> float:
    """Sample lag-1 autocorrelation; 0 for fewer than 3 points or a constant series."""
    x = np.asarray(values, dtype=float)
    if x.size < 3:
        return 0.0
    centred = x - x.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0:
        return 0.0
    return float(np.dot(centred[:-1], centred[1:]) / denominator)


def batch_size(values: Sequence[float]) -> int:
    """Points per batch: the AR(1) variance inflation ``(1 + r) / (1 - r)``, rounded up.

    The sample autocorrelation is biased low in short series; Kendall's first-order correction
    ``r + (1 + 4r) / n`` is added before clipping.
    """
    n = len(values)
    r = lag1_autocorrelation(values)
    if n >= 3:
        r += (1 + 4 * r) / n
    r = min(max(r, 0.0), 0.95)
    return math.ceil((1 + r) / (1 - r) - 1e-9)


def batch_means(values: Sequence[float], size: int | None = None) -> tuple[float, ...]:
    """Means of consecutive non-overlapping batches of ``size`` points (default :func:`batch_size`).

    A strongly correlated short series leaves few batches: that is the honest amount of
    independent information it holds, and the caller's minimum of points decides.
    """
    size = batch_size(values) if size is None else size
    if size <= 1:
        return tuple(float(v) for v in values)
    usable = len(values) - len(values) % size
    x = np.asarray(values[:usable], dtype=float).reshape(-1, size)
    return tuple(float(m) for m in x.mean(axis=1))
