"""False-alarm rates and detectable effects of A/A calibration runs (pure: numbers in, numbers out).

A backtest judges a profile on windows where one version served alone, so every alarm is a false
one. :func:`false_alarm_interval` bounds the rate those runs show; :func:`detectable_ratio` and
:func:`detectable_from_interval` say how large an effect a check would have caught with a given
power at the traffic the runs saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from monitor.stats.exact import binom_sf
from monitor.stats.rootfind import zeroin
from monitor.stats.special import ndtri

POWER = 0.8
_LOG_RATIO_LIMIT = 20.0


def false_alarm_interval(alarms: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Clopper-Pearson (exact) interval of a rate seen as ``alarms`` of ``trials``.

    ``(0, 1)`` without trials: nothing is known.
    """
    if trials <= 0:
        return (0.0, 1.0)
    from scipy.stats import binomtest  # scipy.stats costs a second to import: only a backtest needs it

    ci = binomtest(alarms, trials).proportion_ci(confidence_level=confidence, method="exact")
    return (float(ci.low), float(ci.high))


def normal_quantile(p: float) -> float:
    """The standard normal quantile: ``z_p`` with ``Phi(z_p) = p``."""
    return float(ndtri(p))


# Probabilists' Gauss-Hermite nodes and weights (5 points): the total of events, Poisson about its
# mean, averaged over as a normal variable would be.
_NODES = (0.0, -1.3556261799742657, 1.3556261799742657, -2.8569700138728056, 2.8569700138728056)
_WEIGHTS = (
    0.5333333333333333,
    0.2220759220056126,
    0.2220759220056126,
    0.0112574113277207,
    0.0112574113277207,
)


def _critical(total: int, theta: float, alpha: float) -> int:
    """The least canary count ``k`` whose upper tail under Binomial(``total``, ``theta``) is <= ``alpha``."""
    low, high = 0, total + 1  # binom_sf(total + 1) = 0 <= alpha
    while low < high:
        middle = (low + high) // 2
        if binom_sf(middle, total, theta) <= alpha:
            high = middle
        else:
            low = middle + 1
    return low


def counts_power(
    ratio: float,
    rate: float,
    canary_exposure: float,
    baseline_exposure: float,
    alpha: float,
    allowed_ratio: float = 1.0,
) -> float:
    """The chance the counts check fails a canary whose rate is ``ratio`` times the baseline's ``rate``.

    The check (:func:`monitor.stats.counts.compare_counts`, one period, last look) is the exact
    conditional test: given ``N`` events, the canary's count ``X`` is Binomial(``N``, ``theta``),
    ``theta = r c / (r c + b)``; it fails when ``X`` reaches the test's critical count at ``alpha``
    and the estimate ``X b / ((N - X) c)`` exceeds ``allowed_ratio``. Exact given ``N``; ``N``
    (Poisson) is averaged over by five-point Gauss-Hermite quadrature on its normal approximation.
    """
    c, b = canary_exposure, baseline_exposure
    mean = rate * (ratio * c + b)
    null, alternative = c / (c + b), ratio * c / (ratio * c + b)
    power = 0.0
    for node, weight in zip(_NODES, _WEIGHTS, strict=True):
        total = max(0, round(mean + node * math.sqrt(mean)))
        allowed = math.floor(allowed_ratio * c * total / (b + allowed_ratio * c)) + 1
        power += weight * binom_sf(max(_critical(total, null, alpha), allowed), total, alternative)
    return power


def detectable_ratio(
    rate: float,
    canary_exposure: float,
    baseline_exposure: float,
    alpha: float,
    power: float = POWER,
    *,
    allowed_ratio: float = 1.0,
) -> float | None:
    """The smallest ratio of rates canary/baseline a counts check catches with ``power``.

    The check (:func:`monitor.stats.counts.compare_counts`, last look) fails when its one-sided test
    at ``alpha`` rejects **and** the estimated ratio exceeds ``allowed_ratio`` (``1 +
    allowed_effect``). ``alpha`` must be the level the check's test gets at the look (a share of the
    run's alpha, :func:`monitor.stats.multiple.per_look_alpha` and
    :func:`~monitor.stats.multiple.allocate`), not the run's.

    First the normal approximation on the log of the ratio of two Poisson rates, ``rate`` being the
    baseline's events per exposure: the estimate must pass ``max(log allowed_ratio, z_{1-alpha} *
    se)``, so the power is ``power`` at ``r`` with ``log r = max(log allowed_ratio, z_{1-alpha} *
    se(r)) + z_{power} * se(r)``, ``se(r) = sqrt(1/(r*rate*n_c) + 1/(rate*n_b))`` (found by
    fixed-point iteration from ``r = 1``: it contracts, as ``se`` falls while ``r`` grows). Then the
    exact test's own power (:func:`counts_power`) moves it to where that is ``power``: with a
    hundred events the exact test at a small level is conservative enough that the approximation's
    ratio is caught only about 74 % of the time. None without events to estimate it from.
    """
    if rate <= 0 or canary_exposure <= 0 or baseline_exposure <= 0:
        return None
    z_alpha, z_power = normal_quantile(1.0 - alpha), normal_quantile(power)
    threshold = math.log(max(1.0, allowed_ratio))
    ratio = following = 1.0
    for _ in range(200):
        se = math.sqrt(1.0 / (ratio * rate * canary_exposure) + 1.0 / (rate * baseline_exposure))
        following = math.exp(max(threshold, z_alpha * se) + z_power * se)
        if abs(following - ratio) <= 1e-9 * ratio:
            break
        ratio = following

    def short(log_ratio: float) -> float:
        exact = counts_power(
            math.exp(log_ratio), rate, canary_exposure, baseline_exposure, alpha, allowed_ratio
        )
        return exact - power

    # Within a factor of two on the log scale either way (the approximation is within a few points
    # of power), and below e^20: beyond it a check has too few events to speak of a ratio at all.
    low, high = math.log(following) / 2.0, min(_LOG_RATIO_LIMIT, math.log(following) * 2.0)
    if low < high and short(low) < 0 < short(high):
        return math.exp(zeroin(short, low, high, tol=1e-6))
    return following


def detectable_from_interval(
    half_width: float, alpha: float, power: float = POWER, *, allowed: float = 0.0
) -> float:
    """The effect detectable with ``power`` from a confidence bound's distance ``half_width``.

    A one-sided bound at ``alpha`` lies ``z_{1-alpha} * se`` from the estimate, so
    ``se = half_width / z_{1-alpha}``; a check that also needs its estimate beyond ``allowed``
    catches ``max(allowed, z_{1-alpha} * se) + z_{power} * se`` with ``power`` (on the scale the
    width is measured on: the log for ratios, the unit for shifts). ``alpha`` is the level the
    interval was drawn at (the check's share of the look's alpha).
    """
    z_alpha = normal_quantile(1.0 - alpha)
    se = half_width / z_alpha
    return max(allowed, z_alpha * se) + normal_quantile(power) * se


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
