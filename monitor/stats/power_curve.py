"""The power curve of a one-sided test, from the effect it detects with 80 % power.

A check fails when its one-sided test at the look's level ``alpha`` rejects and its estimate is
beyond its allowance ``a``. Its detectable effect (80 % power) ``d`` is then
``max(a, z_{1-alpha} se) + z_{0.8} se`` on its scale (the log for ratios, the unit for shifts), which
gives ``se``, and an effect ``x`` is caught with probability ``Phi((x - max(a, z_{1-alpha} se)) / se)``:
80 % at ``d``, at most ``alpha`` at no change. Pure: numbers in, numbers out, drawn by the backtest page.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from monitor.stats.power import POWER as DESIGN_POWER
from monitor.stats.power import detectable_from_interval, normal_quantile

_NORMAL = NormalDist()


def standard_error(
    detectable: float, alpha: float, allowed: float = 0.0, design_power: float = DESIGN_POWER
) -> float:
    """The standard error of a check that catches ``detectable`` with ``design_power``.

    Solves ``detectable = max(allowed, z_{1-alpha} * se) + z_{power} * se``: the test's threshold
    ``z_{1-alpha} * se`` when it is the larger, else the allowance.
    """
    if detectable <= 0 or not 0 < alpha < 1:
        raise ValueError(f"detectable must be positive and alpha in (0, 1), got {detectable}, {alpha}")
    z_alpha, z_power = normal_quantile(1.0 - alpha), normal_quantile(design_power)
    se = detectable / (z_alpha + z_power)
    if z_alpha * se < allowed < detectable:
        se = (detectable - allowed) / z_power
    return se


def power_at(
    effect: float,
    detectable: float,
    alpha: float,
    design_power: float = DESIGN_POWER,
    *,
    allowed: float = 0.0,
) -> float:
    """The probability of catching ``effect`` (on the scale ``detectable`` is on, no change at 0)
    for a check that catches ``detectable`` with ``design_power``, failing when its test at level
    ``alpha`` rejects and its estimate exceeds ``allowed``: ``Phi((effect - max(allowed,
    z_{1-alpha} se)) / se)``. ``alpha`` is the level of the look's test, not the run's."""
    se = standard_error(detectable, alpha, allowed, design_power)
    threshold = max(allowed, normal_quantile(1.0 - alpha) * se)
    return _NORMAL.cdf((effect - threshold) / se)


def ratio_power_at(
    ratio: float, detectable_ratio: float, alpha: float, *, allowed_ratio: float = 1.0
) -> float:
    """:func:`power_at` for ratios (no change at 1), on the log scale the tests use for them."""
    allowed = math.log(allowed_ratio) if allowed_ratio > 1.0 else 0.0
    return power_at(math.log(ratio), math.log(detectable_ratio), alpha, allowed=allowed)


def past_allowance(
    detectable: float, alpha: float, allowed: float, design_power: float = DESIGN_POWER
) -> float:
    """The detectable effect of a check whose test alone catches ``detectable`` with ``design_power``
    but which also needs its estimate beyond ``allowed``: ``max(allowed, z_{1-alpha} se) + z_{power} se``.

    For effects reckoned without the allowance (documents written before it was counted).
    """
    se = standard_error(detectable, alpha, 0.0, design_power)
    return detectable_from_interval(normal_quantile(1.0 - alpha) * se, alpha, design_power, allowed=allowed)
