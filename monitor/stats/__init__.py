"""Pure statistics: counts, distributions, samples and false-alarm control. No I/O.

Public API::

    compare_counts(canary, baseline, ...)        -> Comparison
    compare_distribution(canary, baseline, ...)  -> (Comparison, quantiles)
    compare_samples(canary, baseline, direction=...) -> Comparison
    mann_whitney_interval(canary, baseline, confidence) -> (low, high, estimate)
"""

from monitor.stats.counts import compare_counts
from monitor.stats.distribution import compare_distribution
from monitor.stats.multiple import per_check_alpha, per_look_alpha
from monitor.stats.samples import compare_samples, mann_whitney_interval

__all__ = [
    "compare_counts",
    "compare_distribution",
    "compare_samples",
    "mann_whitney_interval",
    "per_check_alpha",
    "per_look_alpha",
]
