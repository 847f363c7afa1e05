"""Counts comparison: canary vs baseline event rates, each over its exposure.

Method: events of each version are Poisson with rate ``lambda_v`` per unit of exposure (5xx
responses per request). Given the total ``n`` of events, the canary's share is binomial with
``theta = rho e_c / (rho e_c + e_b)``, ``rho`` being the rate ratio: the exact conditional
test of :class:`monitor.stats.exact.RateRatioTest`. Conditioning on the total cancels
whatever moves both versions alike (traffic ramps, time of day, a shared slowdown). When the
data come in periods (canary mode), each period keeps its own split, so a split that changes
during the window (canary weight steps) is accounted for.

Decision (DESIGN.md): the check regresses when the data show the canary worse than the
baseline, i.e. the one-sided exact test of ``rho <= 1`` rejects at ``alpha`` (the level this
look spends, :mod:`monitor.stats.multiple`), **and** the estimated ratio is beyond
``1 + allowed_effect`` (practical relevance), and the canary's rate is above
``negligible_rate``. The test controls false alarms; the allowance only keeps a clear but tiny
change at high traffic from failing a run.

Assumptions: events are independent given the rates; within a period the split is steady.
"""

from __future__ import annotations

import math

from monitor.models import Bound, Classification, Comparison, ComparisonKind, CountsData, Direction
from monitor.stats.exact import PeriodCounts, RateRatioTest, whole
from monitor.stats.special import gammaincinv, ndtri

HARM_CONFIDENCE = 0.95


def _periods(canary: CountsData, baseline: CountsData) -> PeriodCounts:
    """Per-period counts when both versions have aligned periods, else one period of totals."""
    if canary.periods and len(canary.periods) == len(baseline.periods):
        return PeriodCounts(
            tuple(e for e, _ in canary.periods),
            tuple(x for _, x in canary.periods),
            tuple(e for e, _ in baseline.periods),
            tuple(x for _, x in baseline.periods),
        )
    return PeriodCounts((canary.events,), (canary.exposure,), (baseline.events,), (baseline.exposure,))


def rate_upper_bound(events: float, exposure: float, alpha: float) -> float:
    """Exact Poisson upper confidence bound, at ``alpha``, of a rate seen as ``events`` per ``exposure``."""
    if exposure <= 0:
        return math.inf
    # The Gamma(k + 1) quantile: chi2.ppf(1 - alpha, 2 (k + 1)) / 2, Garwood's exact bound.
    return float(gammaincinv(whole(events) + 1, 1.0 - alpha)) / exposure


def counts_test(canary: CountsData, baseline: CountsData) -> RateRatioTest:
    """The exact conditional test of the two versions' counts (periods when aligned)."""
    return RateRatioTest(_periods(canary, baseline))


def compare_counts(
    canary: CountsData,
    baseline: CountsData,
    *,
    direction: Direction = Direction.INCREASE,
    alpha: float = 0.01,
    allowed_effect: float = 0.0,
    min_exposure: float = 1.0,
    negligible_rate: float = 0.0,
    quantity: str = "",
    harm_confidence: float = HARM_CONFIDENCE,
    relevance: float = 0.5,
    lower_allowed: float | None = None,
) -> Comparison:
    """Compare event rates per exposure; ``effect`` is the rate ratio canary/baseline.

    ``interval`` holds one-sided exact bounds at ``alpha`` each (the lower one above 1 is the
    test rejecting, for increases). ``relevance`` is how sure the size must be: 0.5 asks the
    estimate to be beyond the allowance, 0.95 the one-sided 95% bound (early looks).
    ``conclusive`` is true when the data already settle the check: it regressed, or the interval
    lies within the allowance, or the canary's own rate is bounded below ``negligible_rate``.
    ``bound`` is what a pass rules out, at ``harm_confidence``. ``lower_allowed`` is the ratio below
    which a decrease is beyond tolerance (default the inverse of ``1 + allowed_effect``).
    """
    for name, data in (("canary", canary), ("baseline", baseline)):
        if not (math.isfinite(data.events) and math.isfinite(data.exposure)):
            raise ValueError(f"{name} counts must be finite, got {data.events} of {data.exposure}")
    base_value = baseline.events / baseline.exposure if baseline.exposure > 0 else None
    canary_value = canary.events / canary.exposure if canary.exposure > 0 else None
    if canary.exposure < min_exposure or baseline.exposure < min_exposure:
        return Comparison.nodata(
            ComparisonKind.COUNTS, baseline.exposure, canary.exposure, base_value, canary_value
        )
    test = counts_test(canary, baseline)
    effect = test.estimate()
    # A two-sided question spends half its level on each side.
    side_alpha = alpha / 2 if direction is Direction.EITHER else alpha
    interval = (test.bound(side_alpha, upper=False), test.bound(side_alpha, upper=True))
    p_up = test.p_value(1.0, above=True) if direction is not Direction.DECREASE else 1.0
    p_down = test.p_value(1.0, above=False) if direction is not Direction.INCREASE else 1.0
    sides = 2.0 if direction is Direction.EITHER else 1.0
    p = min(1.0, sides * min(p_up, p_down))
    upper_allowed = 1.0 + allowed_effect
    lower_allowed = 1.0 / upper_allowed if lower_allowed is None else lower_allowed
    above_floor = canary_value is not None and canary_value > negligible_rate
    size_up = size_down = effect
    if relevance > 0.5:
        size_up, size_down = test.bound(1.0 - relevance, upper=False), test.bound(1.0 - relevance, upper=True)
    classification = Classification.PASS
    if p_up <= side_alpha and size_up > upper_allowed and above_floor:
        classification = Classification.HIGH
    elif p_down <= side_alpha and size_down < lower_allowed:
        classification = Classification.LOW
    negligible = (
        direction is Direction.INCREASE
        and negligible_rate > 0
        and rate_upper_bound(canary.events, canary.exposure, side_alpha) < negligible_rate
    )
    within = (direction is Direction.DECREASE or interval[1] < upper_allowed) and (
        direction is Direction.INCREASE or interval[0] > lower_allowed
    )
    return Comparison(
        kind=ComparisonKind.COUNTS,
        classification=classification,
        effect=effect,
        interval=interval,
        p_value=p,
        baseline_value=base_value,
        canary_value=canary_value,
        baseline_n=baseline.exposure,
        canary_n=canary.exposure,
        conclusive=classification is not Classification.PASS or within or negligible,
        detail="rate ratio",
        bound=_bound(test, canary, effect, direction, negligible_rate, quantity, harm_confidence),
    )


def _bound(
    test: RateRatioTest,
    canary: CountsData,
    effect: float,
    direction: Direction,
    negligible_rate: float,
    quantity: str,
    confidence: float,
) -> Bound:
    alpha = 1.0 - confidence
    # Were the versions alike, the events would split by exposure: the log ratio's standard error.
    c, b = test.exposures
    n = test.events
    alike = math.inf
    if n > 0 and c > 0 and b > 0:
        alike = float(ndtri(confidence)) * math.sqrt((c + b) / (n * c) + (c + b) / (n * b))
    if direction is Direction.DECREASE:
        return Bound(test.bound(alpha, upper=False), effect, quantity, confidence, alike_width=alike)
    negligible = (
        negligible_rate > 0 and rate_upper_bound(canary.events, canary.exposure, alpha) < negligible_rate
    )
    growth = floor_growth(canary, negligible_rate, alpha) if negligible_rate > 0 else math.inf
    return Bound(test.bound(alpha, upper=True), effect, quantity, confidence, negligible, alike, growth)


def floor_growth(canary: CountsData, floor: float, alpha: float) -> float:
    """How many times more exposure, at the canary's current rate, puts its rate's bound below ``floor``.

    Infinite when its rate is not below the floor (more data would only confirm it).
    """
    if canary.exposure <= 0 or canary.events / canary.exposure >= floor:
        return math.inf
    rate = canary.events / canary.exposure

    def above(growth: float) -> bool:
        exposure = canary.exposure * growth
        return rate_upper_bound(rate * exposure, exposure, alpha) >= floor

    if not above(1.0):
        return 1.0
    low, high = 1.0, 2.0
    while above(high):
        low, high = high, high * 2
        if high > 1e9:
            return math.inf
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if above(middle) else (low, middle)
    return high
