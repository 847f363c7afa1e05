"""Distribution comparison: latency histograms compared from their bucket counts.

Method: for each quantile ``q`` (default p50, p90, p99) every version gets an anytime-valid
confidence sequence for its ``q``-quantile (Howard & Ramdas, Bernoulli 2022, fixed-quantile
confidence sequence: the ranks at which the beta-binomial mixture test of ``Binomial(n, q)``
rejects bracket the quantile). Ranks are turned into values by linear interpolation inside a
bucket, the same assumption Prometheus' ``histogram_quantile`` makes. The effect is the
quantile ratio canary/baseline with the interval ``[c_low / b_high, c_high / b_low]``; each
one-sided bound of the ``2 * len(quantiles)`` sequences gets ``alpha / (2 * len(quantiles))``
(Bonferroni), so each end of a ratio's interval holds at ``alpha / len(quantiles)``.

This uses every request, not one point per minute: with 10 requests/s a 10-minute window
holds 6,000 observations, where a p99 time series holds 10.

Assumptions: observations within a version are exchangeable over the window, after the
baseline is reweighted to the canary's traffic profile over time (:func:`reweighted_baseline`,
so what moves both versions alike cancels even when the traffic split changes);
within a bucket, observations are spread evenly; the ``+Inf`` bucket is capped at the highest
finite bound, as ``histogram_quantile`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monitor.models import Classification, Comparison, ComparisonKind, Direction, HistogramData
from monitor.stats import mixture

DEFAULT_QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class QuantileComparison:
    """One quantile of both versions with the ratio's confidence interval."""

    q: float
    baseline: float
    canary: float
    ratio: float
    interval: tuple[float, float]


def histogram_quantile(hist: HistogramData, rank: float) -> float:
    """Value below which ``rank`` observations lie, interpolating linearly within buckets."""
    bounds = hist.upper_bounds
    cumulative = np.cumsum(hist.counts)
    finite = [b for b in bounds if math.isfinite(b)]
    top = finite[-1] if finite else 0.0
    index = int(np.searchsorted(cumulative, rank, side="left"))
    if index >= len(bounds):
        return top
    upper = bounds[index]
    if not math.isfinite(upper):
        return top
    lower = bounds[index - 1] if index > 0 else min(0.0, upper)
    below = float(cumulative[index - 1]) if index > 0 else 0.0
    in_bucket = float(hist.counts[index])
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / in_bucket


def quantile_band(hist: HistogramData, q: float, alpha: float) -> tuple[float, float, float]:
    """``(low, estimate, high)`` of one version's ``q``-quantile; each bound anytime-valid at ``alpha``."""
    n = hist.total
    rank_low, rank_high = mixture.rank_bounds(n, q, alpha)
    return (
        histogram_quantile(hist, rank_low),
        histogram_quantile(hist, n * q),
        histogram_quantile(hist, rank_high),
    )


def _safe_ratio(top: float, bottom: float) -> float:
    if bottom <= 0:
        return math.inf if top > 0 else 1.0
    return top / bottom


def compare_quantile(
    canary: HistogramData, baseline: HistogramData, q: float, alpha: float
) -> QuantileComparison:
    """Quantile ratio canary/baseline; each end of its interval holds at ``alpha`` (split over versions)."""
    c_low, c_est, c_high = quantile_band(canary, q, alpha / 2)
    b_low, b_est, b_high = quantile_band(baseline, q, alpha / 2)
    return QuantileComparison(
        q=q,
        baseline=b_est,
        canary=c_est,
        ratio=_safe_ratio(c_est, b_est),
        interval=(_safe_ratio(c_low, b_high), _safe_ratio(c_high, b_low)),
    )


def reweighted_baseline(canary: HistogramData, baseline: HistogramData) -> HistogramData:
    """The baseline's histogram as if its traffic had been spread over the periods like the canary's.

    With a traffic split that changes over the window (weight steps), each version's pooled
    histogram mixes the periods in different proportions, and anything that hit both versions in
    one period (a slowdown) weighs more in one of them. Weighting the baseline's period ``t`` by
    ``(canary share of the canary's requests in t) / (baseline share of the baseline's in t)``
    removes that. The weighted counts are scaled to Kish's effective sample size
    ``(sum w n)^2 / sum w^2 n``, so unequal weights cost the precision they should. Without
    periods, or with a steady split (all weights 1), the baseline is returned as it is.
    """
    if not canary.periods or len(canary.periods) != len(baseline.periods):
        return baseline
    canary_n = np.array([sum(p) for p in canary.periods], dtype=float)
    base_n = np.array([sum(p) for p in baseline.periods], dtype=float)
    if canary_n.sum() <= 0 or base_n.sum() <= 0:
        return baseline
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(base_n > 0, (canary_n / canary_n.sum()) / (base_n / base_n.sum()), 0.0)
    weighted_n = float((weights * base_n).sum())
    if weighted_n <= 0:
        return baseline
    effective_n = weighted_n**2 / float((weights**2 * base_n).sum())
    counts = (weights[:, None] * np.array(baseline.periods, dtype=float)).sum(axis=0)
    scaled = counts * (effective_n / weighted_n)
    return HistogramData(baseline.upper_bounds, tuple(float(c) for c in scaled))


def compare_distribution(
    canary: HistogramData,
    baseline: HistogramData,
    *,
    direction: Direction = Direction.INCREASE,
    alpha: float = 0.01,
    allowed_effect: float = 0.0,
    min_count: float = 50.0,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> tuple[Comparison, tuple[QuantileComparison, ...]]:
    """Compare two histograms by quantile ratios; return the deciding comparison and all quantiles.

    A quantile regresses when its whole interval lies beyond ``1 + allowed_effect`` (or below
    its inverse for decreases). The reported quantile is the regressing one with the
    strongest evidence, else the median.
    """
    for name, hist in (("canary", canary), ("baseline", baseline)):
        if not all(math.isfinite(c) and c >= 0 for c in hist.counts):
            raise ValueError(f"{name} histogram has negative or non-finite bucket counts: {hist.counts}")
    if canary.total < min_count or baseline.total < min_count:
        return Comparison.nodata(ComparisonKind.DISTRIBUTION, baseline.total, canary.total), ()
    observed_baseline_n = baseline.total
    baseline = reweighted_baseline(canary, baseline)
    # One-sided bounds each hold at their alpha; a two-sided question needs both ends.
    per_q_alpha = alpha / len(quantiles) / (2 if direction is Direction.EITHER else 1)
    compared = tuple(compare_quantile(canary, baseline, q, per_q_alpha) for q in quantiles)
    upper_allowed = 1.0 + allowed_effect
    lower_allowed = 1.0 / upper_allowed

    def classify(c: QuantileComparison) -> Classification:
        low, high = c.interval
        # The whole interval must lie beyond the allowance: with many requests the interval
        # excludes 1 for tiny shifts, and testing the noisy point estimate at every look
        # would turn them into false alarms.
        if direction is not Direction.DECREASE and low > upper_allowed:
            return Classification.HIGH
        if direction is not Direction.INCREASE and high < lower_allowed:
            return Classification.LOW
        return Classification.PASS

    classes = [classify(c) for c in compared]
    failing = [(c, cls) for c, cls in zip(compared, classes, strict=True) if cls is not Classification.PASS]
    classification: Classification
    if failing:
        chosen, classification = max(failing, key=lambda pair: _evidence(pair[0], pair[1]))
    else:
        chosen = min(compared, key=lambda c: abs(c.q - 0.5))
        classification = Classification.PASS
    settled = all(
        (direction is Direction.DECREASE or c.interval[1] < upper_allowed)
        and (direction is Direction.INCREASE or c.interval[0] > lower_allowed)
        for c in compared
    )
    p = _p_value(canary, baseline, chosen.q, direction, len(quantiles))
    return (
        Comparison(
            kind=ComparisonKind.DISTRIBUTION,
            classification=classification,
            effect=chosen.ratio,
            interval=chosen.interval,
            p_value=p,
            baseline_value=chosen.baseline,
            canary_value=chosen.canary,
            baseline_n=observed_baseline_n,
            canary_n=canary.total,
            conclusive=bool(failing) or settled,
            detail=f"p{round(chosen.q * 100):d}",
        ),
        compared,
    )


def _evidence(c: QuantileComparison, classification: Classification) -> float:
    low, high = c.interval
    if classification is Classification.HIGH:
        return low
    return 1.0 / high if high > 0 else math.inf


def _p_value(
    canary: HistogramData, baseline: HistogramData, q: float, direction: Direction, n_quantiles: int
) -> float:
    """Smallest level at which the quantile's interval excludes 1, Bonferroni-adjusted.

    Found by bisection on ``log(alpha)``; the interval only narrows as ``alpha`` grows. Each end
    of the interval holds at ``alpha``, so a two-sided question (EITHER) doubles the level.
    """
    sides = 2 if direction is Direction.EITHER else 1

    def excludes_one(alpha: float) -> bool:
        low, high = compare_quantile(canary, baseline, q, alpha).interval
        rises = direction is not Direction.DECREASE and low > 1.0
        falls = direction is not Direction.INCREASE and high < 1.0
        return rises or falls

    if not excludes_one(0.999):
        return 1.0
    lo, hi = math.log(1e-300), math.log(0.999)
    if excludes_one(math.exp(lo)):
        return min(1.0, 1e-300 * n_quantiles * sides)
    for _ in range(20):  # log-alpha to within 7e-4 of 690: plenty for a p-value
        mid = (lo + hi) / 2
        if excludes_one(math.exp(mid)):
            hi = mid
        else:
            lo = mid
    return min(1.0, math.exp(hi) * n_quantiles * sides)
