"""Distribution comparison: latency histograms compared on their bucket counts.

**Test: is the canary slower anywhere?** Each finite bucket bound ``t`` splits both versions'
requests into those slower than ``t`` and the rest: a 2x2 table per period. Under "the canary is
no slower" its share of the requests slower than ``t`` is at most what its share of all
requests gives it; the exact conditional test is Fisher's (hypergeometric), stratified by period
like the counts (Mantel-Haenszel strata), so a traffic split that changes mid-window and a
slowdown that hits both versions cancel. Testing every bound is a one-sided homogeneity test
toward slower buckets: a shift of the median shows at the bounds around it, a slower tail only
at the top bounds, and both are seen. The bounds share the check's level by Tarone's rule
(:func:`monitor.stats.multiple.tarone`): a bound with too few requests beyond it to ever be
significant takes no share.

**Relevance: by how much?** Quantiles (default p50, p90, p99) stay the reported effect: the
check regresses when the test rejects **and** some quantile's estimated ratio canary/baseline
is beyond ``1 + allowed_effect`` (:mod:`monitor.stats.quantiles` for the estimate, exact for a
log-normal shift where Prometheus' linear interpolation is not). Intervals are the exact
order-statistic bounds of each version's quantile, the ratio's interval
``[c_low / b_high, c_high / b_low]``.

Assumptions: requests are independent given their version and period; the quantiles compare
the baseline reweighted to the canary's traffic profile over the periods
(:func:`reweighted_baseline`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from monitor.models import Bound, Classification, Comparison, ComparisonKind, Direction, HistogramData
from monitor.stats.exact import hypergeom_log_pmf, hypergeom_stratum, tail, whole
from monitor.stats.multiple import tarone
from monitor.stats.quantiles import quantile, quantile_bounds
from monitor.stats.special import ndtri

DEFAULT_QUANTILES = (0.5, 0.9, 0.99)
HARM_CONFIDENCE = 0.95


@dataclass(frozen=True)
class QuantileComparison:
    """One quantile of both versions with the ratio's confidence interval and harm bound."""

    q: float
    baseline: float
    canary: float
    ratio: float
    interval: tuple[float, float]
    bound: float = math.inf
    log_se: float = math.inf  # standard error of log(ratio), from both versions' order-statistic bounds


@dataclass(frozen=True)
class BoundaryTest:
    """The exact test at one bucket bound: its p-value and the smallest it could have been."""

    bound: float
    slower: bool  # tests "canary slower" (else "canary faster")
    p_value: float
    min_p_value: float


def _period_counts(hist: HistogramData) -> NDArray[np.float64]:
    """Per-period bucket counts (one row of totals without periods), as whole requests."""
    rows = hist.periods or (hist.counts,)
    return np.array([[whole(c) for c in row] for row in rows], dtype=float)


def boundary_tests(
    canary: HistogramData, baseline: HistogramData, direction: Direction, *, margins_only: bool = False
) -> list[BoundaryTest]:
    """One exact stratified test per finite bucket bound, in the direction(s) that regress.

    ``margins_only`` skips the p-values (left at 1) when only the smallest attainable ones matter.
    """
    aligned = bool(canary.periods) and len(canary.periods) == len(baseline.periods)
    c = (
        _period_counts(canary)
        if aligned
        else _period_counts(HistogramData(canary.upper_bounds, canary.counts))
    )
    b = (
        _period_counts(baseline)
        if aligned
        else _period_counts(HistogramData(baseline.upper_bounds, baseline.counts))
    )
    c_total, b_total = c.sum(axis=1), b.sum(axis=1)
    keep = (c_total > 0) & (b_total > 0)
    c, b, c_total, b_total = c[keep], b[keep], c_total[keep], b_total[keep]
    # Requests above bound j: everything in the buckets after it.
    c_above = c_total[:, None] - np.cumsum(c, axis=1)
    b_above = b_total[:, None] - np.cumsum(b, axis=1)
    sides = [
        s
        for s in (True, False)
        if (direction is not Direction.DECREASE) == s or direction is Direction.EITHER
    ]
    tests: list[BoundaryTest] = []
    for j, bound in enumerate(canary.upper_bounds):
        if not math.isfinite(bound):
            continue
        strata = [
            (int(ct + bt), int(ca + ba), int(ct), int(ca))
            for ct, bt, ca, ba in zip(c_total, b_total, c_above[:, j], b_above[:, j], strict=True)
        ]
        observed = sum(s[3] for s in strata)
        for slower in sides:
            p = 1.0
            if strata and not margins_only:
                p = tail(
                    [hypergeom_stratum(n, k, draws) for n, k, draws, _ in strata], observed, upper=slower
                )
            tests.append(BoundaryTest(bound, slower, p, _min_p(strata, slower)))
    return tests


def _min_p(strata: Sequence[tuple[int, int, int, int]], slower: bool) -> float:
    """Probability of the most extreme table in every stratum: the smallest attainable p-value."""
    log_p = 0.0
    for population, successes, draws, _ in strata:
        extreme = min(draws, successes) if slower else max(0, draws + successes - population)
        log_p += hypergeom_log_pmf(extreme, population, successes, draws)
    return math.exp(log_p)


def min_p_value(canary: HistogramData, baseline: HistogramData, direction: Direction) -> float:
    """The smallest p-value any bucket bound's test could give with these margins (Tarone's screen)."""
    return min(
        (t.min_p_value for t in boundary_tests(canary, baseline, direction, margins_only=True)), default=1.0
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


def _ratio(top: float, bottom: float) -> float:
    if bottom <= 0:
        return math.inf if top > 0 else 1.0
    return top / bottom


def compare_quantile(
    canary: HistogramData,
    baseline: HistogramData,
    q: float,
    alpha: float,
    harm_confidence: float = HARM_CONFIDENCE,
) -> QuantileComparison:
    """Quantile ratio canary/baseline; each end of its interval holds at ``alpha`` (split over versions)."""
    c_low, c_high = quantile_bounds(canary, q, alpha / 2)
    b_low, b_high = quantile_bounds(baseline, q, alpha / 2)
    c_est, b_est = quantile(canary, q), quantile(baseline, q)
    harm_alpha = (1.0 - harm_confidence) / 2
    c_harm, b_harm = quantile_bounds(canary, q, harm_alpha), quantile_bounds(baseline, q, harm_alpha)
    # Each version's standard error of its log quantile, read off its harm-level interval.
    z = float(ndtri(1.0 - harm_alpha))
    log_se = math.sqrt(sum(_log_width(low, high) ** 2 for low, high in (c_harm, b_harm))) / (2 * z)
    return QuantileComparison(
        q=q,
        baseline=b_est,
        canary=c_est,
        ratio=_ratio(c_est, b_est),
        interval=(_ratio(c_low, b_high), _ratio(c_high, b_low)),
        bound=_ratio(c_harm[1], b_harm[0]),
        log_se=log_se,
    )


def _log_width(low: float, high: float) -> float:
    if low <= 0 or not math.isfinite(high):
        return math.inf
    return math.log(high / low)


def family_p_value(tests: Sequence[BoundaryTest], alpha: float) -> tuple[float, int]:
    """The smallest Tarone-adjusted p-value of ``tests`` at ``alpha``, and how many tests shared it."""
    if not tests:
        return 1.0, 1
    m = tarone([t.min_p_value for t in tests], alpha)
    eligible = [t.p_value for t in tests if t.min_p_value <= alpha / m]
    return (min(1.0, min(eligible) * m) if eligible else 1.0), m


def compare_distribution(
    canary: HistogramData,
    baseline: HistogramData,
    *,
    direction: Direction = Direction.INCREASE,
    alpha: float = 0.01,
    allowed_effect: float = 0.0,
    min_count: float = 50.0,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    harm_confidence: float = HARM_CONFIDENCE,
    tests: Sequence[BoundaryTest] | None = None,
    significant: bool | None = None,
    relevance: float = 0.5,
    lower_allowed: float | None = None,
) -> tuple[Comparison, tuple[QuantileComparison, ...]]:
    """Compare two histograms; return the deciding comparison and every quantile's comparison.

    The check is ``high`` (``low``) when the bucket-bound tests find the canary slower (faster)
    at ``alpha`` and a quantile's estimated ratio is beyond the allowance; the reported quantile
    is then the one furthest beyond it, else the median. ``tests`` and ``significant`` let a
    caller that tests many histograms as one family (a trace check's operations) decide
    significance itself. ``relevance`` is how sure the size must be: 0.5 asks a quantile's
    estimated ratio to be beyond the allowance, 0.95 its one-sided 95% bound (early looks),
    with the log ratio's standard error from both versions' order-statistic intervals.
    ``lower_allowed``: the ratio below which a decrease (a latency collapse) is beyond tolerance.
    """
    for name, hist in (("canary", canary), ("baseline", baseline)):
        if not all(math.isfinite(c) and c >= 0 for c in hist.counts):
            raise ValueError(f"{name} histogram has negative or non-finite bucket counts: {hist.counts}")
    if canary.total < min_count or baseline.total < min_count:
        return Comparison.nodata(ComparisonKind.DISTRIBUTION, baseline.total, canary.total), ()
    if tests is None:
        tests = boundary_tests(canary, baseline, direction)
    side_alpha = alpha / 2 if direction is Direction.EITHER else alpha
    p_slower, _ = family_p_value([t for t in tests if t.slower], side_alpha)
    p_faster, _ = family_p_value([t for t in tests if not t.slower], side_alpha)
    observed_baseline_n = baseline.total
    reweighted = reweighted_baseline(canary, baseline)
    per_q_alpha = side_alpha / len(quantiles)
    compared = tuple(compare_quantile(canary, reweighted, q, per_q_alpha, harm_confidence) for q in quantiles)
    upper_allowed = 1.0 + allowed_effect
    lower_allowed = 1.0 / upper_allowed if lower_allowed is None else lower_allowed
    slower_clear = p_slower <= side_alpha if significant is None else significant
    faster_clear = p_faster <= side_alpha if significant is None else significant
    z = float(ndtri(relevance)) if relevance > 0.5 else 0.0

    def size(c: QuantileComparison, up: bool) -> float:
        if c.ratio <= 0 or not math.isfinite(c.ratio):
            return c.ratio
        shift = z * c.log_se if z > 0 else 0.0
        return math.exp(math.log(c.ratio) - shift) if up else math.exp(math.log(c.ratio) + shift)

    worst_up = max(compared, key=lambda c: size(c, True))
    worst_down = min(compared, key=lambda c: size(c, False))
    classification = Classification.PASS
    chosen = min(compared, key=lambda c: abs(c.q - 0.5))
    p = (
        p_slower
        if direction is Direction.INCREASE
        else p_faster
        if direction is Direction.DECREASE
        else min(1.0, 2 * min(p_slower, p_faster))
    )
    beyond_up = direction is not Direction.DECREASE and size(worst_up, True) > upper_allowed
    beyond_down = direction is not Direction.INCREASE and size(worst_down, False) < lower_allowed
    if beyond_up and slower_clear:
        classification, chosen, p = Classification.HIGH, worst_up, p_slower
    elif beyond_down and faster_clear:
        classification, chosen, p = Classification.LOW, worst_down, p_faster
    else:  # a quantile estimated beyond the allowance is shown, as not yet conclusive
        estimated_up = max(compared, key=lambda c: c.ratio)
        estimated_down = min(compared, key=lambda c: c.ratio)
        if direction is not Direction.DECREASE and estimated_up.ratio > upper_allowed:
            chosen = estimated_up
        elif direction is not Direction.INCREASE and estimated_down.ratio < lower_allowed:
            chosen = estimated_down
    settled = all(
        (direction is Direction.DECREASE or c.interval[1] < upper_allowed)
        and (direction is Direction.INCREASE or c.interval[0] > lower_allowed)
        for c in compared
    )
    worst_bound = max(compared, key=lambda c: c.bound)
    bound = None
    if direction is Direction.INCREASE:
        alike = _log_width(worst_bound.ratio, worst_bound.bound)
        quantity = f"p{worst_bound.q * 100:g}"
        bound = Bound(worst_bound.bound, worst_bound.ratio, quantity, harm_confidence, alike_width=alike)
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
            conclusive=classification is not Classification.PASS or settled,
            detail=f"p{chosen.q * 100:g}",
            bound=bound,
        ),
        compared,
    )
