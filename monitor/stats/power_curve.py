"""The power curve of a one-sided test, from the effect it detects with 80 % power.

A check whose detectable effect (80 % power at level ``alpha``) is ``d`` has the standard error
``se = d / (z_{1-alpha} + z_{0.8})`` on its scale (the log for ratios, the unit for shifts), so an
effect ``x`` is caught with probability ``Phi(x / se - z_{1-alpha})``: ``alpha`` at no change, 80 %
at ``d``. Pure: numbers in, numbers out, drawn by the backtest page.
"""

from __future__ import annotations

import math
from statistics import NormalDist

DESIGN_POWER = 0.8
_NORMAL = NormalDist()


def power_at(effect: float, detectable: float, alpha: float, design_power: float = DESIGN_POWER) -> float:
    """The probability of catching ``effect`` (on the scale ``detectable`` is on, no change at 0)
    for a test that catches ``detectable`` with ``design_power`` at level ``alpha``."""
    if detectable <= 0 or not 0 < alpha < 1:
        raise ValueError(f"detectable must be positive and alpha in (0, 1), got {detectable}, {alpha}")
    z_alpha = _NORMAL.inv_cdf(1.0 - alpha)
    se = detectable / (z_alpha + _NORMAL.inv_cdf(design_power))
    return _NORMAL.cdf(effect / se - z_alpha)


def ratio_power_at(ratio: float, detectable_ratio: float, alpha: float) -> float:
    """:func:`power_at` for ratios (no change at 1), on the log scale the tests use for them."""
    return power_at(math.log(ratio), math.log(detectable_ratio), alpha)
