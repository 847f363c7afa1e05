"""Pure statistics: counts, distributions, samples and false-alarm control. No I/O.

Public API::

    compare_counts(canary, baseline, ...)        -> Comparison
    compare_distribution(canary, baseline, ...)  -> (Comparison, quantiles)
    compare_samples(canary, baseline, direction=...) -> Comparison
    mann_whitney_interval(canary, baseline, confidence) -> (low, high, estimate)
    per_look_alpha(alpha, look, planned_looks)   -> a look's share of alpha
    allocate(alpha, claims, critical_share)      -> each check's level
    tarone(min_p_values, alpha)                  -> how many tests share alpha
"""

from monitor.stats.counts import compare_counts
from monitor.stats.distribution import compare_distribution
from monitor.stats.multiple import Claim, allocate, per_look_alpha, tarone
from monitor.stats.samples import compare_samples, mann_whitney_interval

__all__ = [
    "Claim",
    "allocate",
    "compare_counts",
    "compare_distribution",
    "compare_samples",
    "mann_whitney_interval",
    "per_look_alpha",
    "tarone",
]
