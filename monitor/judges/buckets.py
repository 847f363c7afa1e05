"""Both versions' histogram buckets on one set of bounds, few enough to publish in a verdict document.

The report draws them as overlaid distributions. Prometheus histograms often have dozens of
buckets; the document keeps at most :data:`MAX_BUCKETS`, merging neighbours (counts are summed,
so nothing is lost but resolution), and leaves out the empty buckets below the first observation.
"""

from __future__ import annotations

import math
from bisect import bisect_left

from monitor.models import BucketCounts, HistogramData

MAX_BUCKETS = 24


def _cumulative(data: HistogramData, bounds: list[float]) -> list[float]:
    """Observations at or below each of ``bounds`` (a bound ``data`` lacks takes the one below it)."""
    running, by_bound = 0.0, {}
    for bound, count in zip(data.upper_bounds, data.counts, strict=True):
        running += count
        by_bound[bound] = running
    cumulative, last = [], 0.0
    for bound in bounds:
        last = max(by_bound.get(bound, last), last)
        cumulative.append(last)
    return cumulative


def _kept(bounds: list[float], cap: int) -> list[int]:
    """Indexes of at most ``cap`` bounds, evenly spread, always with the last (often ``+Inf``)."""
    if len(bounds) <= cap:
        return list(range(len(bounds)))
    step = len(bounds) / cap
    kept = sorted({min(len(bounds) - 1, math.ceil((i + 1) * step) - 1) for i in range(cap)})
    return kept


def _differences(cumulative: list[float], kept: list[int]) -> tuple[float, ...]:
    previous, counts = 0.0, []
    for index in kept:
        counts.append(round(cumulative[index] - previous, 6))
        previous = cumulative[index]
    return tuple(counts)


def bucket_counts(
    canary: HistogramData, baseline: HistogramData, max_buckets: int = MAX_BUCKETS
) -> BucketCounts | None:
    """Per-bucket counts of both versions on the union of their bounds, at most ``max_buckets``.

    None when neither version has an observation.
    """
    bounds = sorted(set(canary.upper_bounds) | set(baseline.upper_bounds))
    if not bounds or canary.total + baseline.total <= 0:
        return None
    c_cum, b_cum = _cumulative(canary, bounds), _cumulative(baseline, bounds)
    # Buckets below the first observation of either version say nothing: start at the first filled.
    first = min(bisect_left(c_cum, 1e-12), bisect_left(b_cum, 1e-12))
    bounds, c_cum, b_cum = bounds[first:], c_cum[first:], b_cum[first:]
    kept = _kept(bounds, max_buckets)
    return BucketCounts(tuple(bounds[i] for i in kept), _differences(b_cum, kept), _differences(c_cum, kept))
