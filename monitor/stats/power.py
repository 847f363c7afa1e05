"""False-alarm rates and detectable effects of A/A calibration runs (pure: numbers in, numbers out).

A backtest judges a profile on windows where one version served alone, so every alarm is a false
one. :func:`false_alarm_interval` bounds the rate those runs show; :func:`detectable_ratio` and
:func:`detectable_from_interval` say how large an effect a check would have caught with a given
power at the traffic the runs saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monitor.stats.special import ndtri

POWER = 0.8


def false_alarm_interval(alarms: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Clopper-Pearson (exact) interval of a rate seen as ``alarms`` of ``trials``.

    ``(0, 1)`` without trials: nothing is known.
    """
    if trials <= 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest  # scipy.stats costs a second to import: only a backtest needs it

    ci = binomtest(alarms, trials).proportion_ci(confidence_level=confidence, method="exact")
    return (float(ci.low), float(ci.high))


def _z(p: float) -> float:
    return float(ndtri(p))


def detectable_ratio(
    rate: float, canary_exposure: float, baseline_exposure: float, alpha: float, power: float = POWER
) -> float | None:
    """The smallest ratio of rates canary/baseline a one-sided test at ``alpha`` detects with ``power``.

    Normal approximation on the log of the ratio of two Poisson rates, ``rate`` being the baseline's
    events per exposure: a test that rejects when the estimated log-ratio exceeds ``z_{1-alpha}``
    standard errors has power ``power`` at the ratio ``r`` with
    ``log r = (z_{1-alpha} + z_{power}) * se(r)``, ``se(r) = sqrt(1/(r*rate*n_c) + 1/(rate*n_b))``
    (the standard error where the canary's rate is ``r`` times the baseline's). ``r`` is found by
    fixed-point iteration from ``r = 1``; it contracts, as ``se`` falls while ``r`` grows. None
    without events to estimate it from.
    """
    if rate <= 0 or canary_exposure <= 0 or baseline_exposure <= 0:
        return None
    z = _z(1.0 - alpha) + _z(power)
    ratio = 1.0
    for _ in range(100):
        se = math.sqrt(1.0 / (ratio * rate * canary_exposure) + 1.0 / (rate * baseline_exposure))
        following = math.exp(z * se)
        if abs(following - ratio) <= 1e-9 * ratio:
            break
        ratio = following
    return following


def detectable_from_interval(half_width: float, alpha: float, power: float = POWER) -> float:
    """The effect detectable with ``power`` from a confidence bound's distance ``half_width``.

    A one-sided bound at ``alpha`` lies ``z_{1-alpha} * se`` from the estimate, so
    ``se = half_width / z_{1-alpha}`` and the detectable effect is
    ``half_width * (z_{1-alpha} + z_{power}) / z_{1-alpha}`` (on the scale the width is measured
    on: the log for ratios, the unit for shifts).
    """
    z_alpha = _z(1.0 - alpha)
    return half_width * (z_alpha + _z(power)) / z_alpha


def upper_quantile(values: Sequence[float], share_below: float) -> float:
    """The smallest observed value at or above ``share_below`` of ``values`` (no interpolation).

    With fewer than ``1 / (1 - share_below)`` values this is their maximum: the data cannot tell
    a rarer quantile apart from the largest value seen.
    """
    if not values:
        raise ValueError("upper_quantile of no values")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(share_below * len(ordered)) - 1))
    return ordered[index]
