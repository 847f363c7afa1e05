"""Quantiles of a bucketed histogram, and their exact distribution-free confidence bounds.

**Estimate.** Inside a bucket the position of a quantile has to be assumed. Prometheus'
``histogram_quantile`` assumes observations spread evenly (linear interpolation). Latency is
skewed: in a wide tail bucket such as 250-500 ms most requests sit near its lower end, and
linear interpolation then turns a true +2% shift of every request into +13% at the p99 (the
bucket's share moves, and its position is read off a flat line). Here the cumulative share is
interpolated on the **probit scale against log latency** (``Phi^-1(F)`` linear in ``log x``
within a bucket), which is exact for a log-normal distribution and close for any smooth,
locally log-normal one: a shift of every request by ``s`` moves every estimated quantile by
about ``s``. The first bucket (from 0) and buckets with a bound at or below 0 are interpolated
linearly; a quantile in the ``+Inf`` bucket is the highest finite bound, as in Prometheus.

**Bounds.** The number of observations at or below the true ``q``-quantile is Binomial(n, q),
so the order statistics of ranks ``binom.ppf(alpha, n, q)`` and ``binom.ppf(1 - alpha, n, q) + 1``
bound it from below and above, each with coverage at least ``1 - alpha`` (the classical
distribution-free interval; Conover, *Practical Nonparametric Statistics*, 3.2). Ranks become
values by the same interpolation.
"""

from __future__ import annotations

import math

import numpy as np

from monitor.models import HistogramData
from monitor.stats.special import bdtr, bdtrik, ndtri


def _probit(share: float, n: float) -> float:
    # Half an observation from either end keeps empty tails finite.
    edge = 0.5 / max(n, 1.0)
    return float(ndtri(min(max(share, edge), 1.0 - edge)))


def quantile_at(hist: HistogramData, rank: float) -> float:
    """The value below which ``rank`` of the histogram's observations lie (see module docstring)."""
    bounds = hist.upper_bounds
    counts = np.asarray(hist.counts, dtype=float)
    n = float(counts.sum())
    finite = [b for b in bounds if math.isfinite(b)]
    top = finite[-1] if finite else 0.0
    if n <= 0:
        return 0.0
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, rank, side="left"))
    if index >= len(bounds) or not math.isfinite(bounds[index]):
        return top
    upper = bounds[index]
    lower = bounds[index - 1] if index > 0 else min(0.0, upper)
    below = float(cumulative[index - 1]) if index > 0 else 0.0
    in_bucket = float(counts[index])
    if in_bucket <= 0:
        return upper
    if lower <= 0:
        return lower + (upper - lower) * (rank - below) / in_bucket
    z_low, z_high = _probit(below / n, n), _probit((below + in_bucket) / n, n)
    z = _probit(rank / n, n)
    fraction = 1.0 if z_high <= z_low else min(max((z - z_low) / (z_high - z_low), 0.0), 1.0)
    return math.exp(math.log(lower) + fraction * (math.log(upper) - math.log(lower)))


def quantile(hist: HistogramData, q: float) -> float:
    """The ``q``-quantile's estimate."""
    return quantile_at(hist, q * hist.total)


def quantile_bounds(hist: HistogramData, q: float, alpha: float) -> tuple[float, float]:
    """Lower and upper confidence bounds of the ``q``-quantile, each one-sided at ``alpha``."""
    n = round(hist.total)
    if n <= 0:
        return 0.0, math.inf
    low_rank = float(binom_ppf(alpha, n, q))
    high_rank = float(binom_ppf(1.0 - alpha, n, q)) + 1.0
    # An order statistic of rank r sits at cumulative position r - 1/2 of the histogram.
    low = quantile_at(hist, max(low_rank - 0.5, 0.0)) if low_rank >= 1 else 0.0
    high = quantile_at(hist, high_rank - 0.5) if high_rank <= n - _open_top(hist) else math.inf
    return low, high


def binom_ppf(prob: float, n: int, q: float) -> int:
    """The least ``k`` with ``P(Binomial(n, q) <= k) >= prob`` (scipy.stats' ``binom.ppf``)."""
    guess = bdtrik(prob, n, q)
    k = 0 if not math.isfinite(guess) else min(max(math.floor(guess), 0), n)
    while k > 0 and bdtr(k - 1, n, q) >= prob:
        k -= 1
    while k < n and bdtr(k, n, q) < prob:
        k += 1
    return k


def _open_top(hist: HistogramData) -> float:
    """Observations above the highest finite bound: a bound among them is unknown, not that bound."""
    return float(sum(c for b, c in zip(hist.upper_bounds, hist.counts, strict=True) if not math.isfinite(b)))
