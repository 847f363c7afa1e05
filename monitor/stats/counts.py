"""Counts comparison: canary vs baseline event rates, each over its exposure.

Method: events of each version are modelled as Poisson with rate ``lambda_v`` per unit of
exposure (e.g. 5xx responses per request). Conditional on the total number of events
``n``, the canary's share ``k`` is Binomial(n, theta) with

    theta = rho * e_c / (rho * e_c + e_b),   rho = lambda_c / lambda_b (the rate ratio).

A mixture martingale on ``log rho`` (:mod:`monitor.stats.rate_ratio`) gives an anytime-valid
p-value for ``rho = 1`` (one-sided in the check's direction) and one-sided confidence bounds
for ``rho``, each valid at ``alpha``: looking every minute does not inflate false alarms.
Conditioning on the total cancels whatever moves both versions alike (traffic ramps, time of
day, a shared slowdown). When the data come in periods, each period keeps its own split, so a
split that changes during the window (canary weight steps) is accounted for.

Assumptions: events are independent given the rates; within a period the split is steady.
"""

from __future__ import annotations

import math

from monitor.models import Classification, Comparison, ComparisonKind, CountsData, Direction
from monitor.stats import mixture
from monitor.stats.rate_ratio import PeriodCounts, RateRatio

_SIDE = {
    Direction.INCREASE: mixture.Side.ABOVE,
    Direction.DECREASE: mixture.Side.BELOW,
    Direction.EITHER: mixture.Side.BOTH,
}


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


def compare_counts(
    canary: CountsData,
    baseline: CountsData,
    *,
    direction: Direction = Direction.INCREASE,
    alpha: float = 0.01,
    allowed_effect: float = 0.0,
    min_exposure: float = 1.0,
    negligible_rate: float = 0.0,
) -> Comparison:
    """Compare event rates per exposure; ``effect`` is the rate ratio canary/baseline.

    ``allowed_effect`` is the relative change tolerated (0.5: the canary's rate may be up to
    1.5x the baseline's). The check is ``high`` when the whole confidence sequence lies above
    ``1 + allowed_effect``: statistically clear and practically relevant at once.
    ``negligible_rate`` is an absolute floor (e.g. 0.0005 errors per request): a canary at or
    below it is never ``high``, and once the canary's anytime-valid upper bound is below it the
    check is settled (conclusive) even when neither version has had an event yet.
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
    k = max(canary.events, 0.0)
    n = k + max(baseline.events, 0.0)
    # Haldane's +0.5 keeps the pooled point estimate finite when one version has no events.
    if n == 0:
        effect = 1.0
    elif k == 0 or k == n:
        effect = ((k + 0.5) / canary.exposure) / ((n - k + 0.5) / baseline.exposure)
    else:
        effect = (k / canary.exposure) / ((n - k) / baseline.exposure)
    model = RateRatio(_periods(canary, baseline))
    if 0 < model.canary_events < model.events:
        effect = math.exp(model.mle())  # the stratified estimate; equals the pooled one for one period
    # Each one-sided bound holds at ``alpha``; a two-sided question splits it.
    side_alpha = alpha / 2 if direction is Direction.EITHER else alpha
    interval = model.bounds(side_alpha)
    p = model.p_value(1.0, _SIDE[direction])
    upper_allowed = 1.0 + allowed_effect
    lower_allowed = 1.0 / (1.0 + allowed_effect)
    # Beyond the allowed effect means the whole interval is: the test is then an anytime-valid
    # test of "rho <= 1 + allowed_effect", so noise in the point estimate cannot fail a run.
    classification = Classification.PASS
    above_floor = canary_value is not None and canary_value > negligible_rate
    if direction is not Direction.DECREASE and interval[0] > upper_allowed and above_floor:
        classification = Classification.HIGH
    elif direction is not Direction.INCREASE and interval[1] < lower_allowed:
        classification = Classification.LOW
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
        conclusive=_conclusive(classification, interval, direction, lower_allowed, upper_allowed)
        or (
            direction is Direction.INCREASE
            and negligible_rate > 0
            and mixture.proportion_upper_bound(canary.events, canary.exposure, alpha) < negligible_rate
        ),
        detail="rate ratio",
    )


def _conclusive(
    classification: Classification,
    interval: tuple[float, float],
    direction: Direction,
    lower_allowed: float,
    upper_allowed: float,
) -> bool:
    """True when the interval settles the check: a clear regression or clearly within tolerance."""
    if classification in (Classification.HIGH, Classification.LOW):
        return True
    low, high = interval
    within_high = direction is Direction.DECREASE or high < upper_allowed
    within_low = direction is Direction.INCREASE or low > lower_allowed
    return within_high and within_low
