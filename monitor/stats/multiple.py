"""False-alarm control across the checks of one run and across its repeated looks.

Across checks: weighted Bonferroni. Check ``i`` of those that can fail a run is tested at
``alpha * w_i / sum(w)``, so the chance that *any* of them raises a false alarm stays below
``alpha`` whatever their dependence; the budget follows the checks' weights, so optional
low-weight checks do not dilute the critical ones (metrics of one service are strongly
dependent, which rules out procedures that assume independence).

Across looks: counts and distribution tests are anytime-valid and need nothing more. The
samples test (Mann-Whitney) is a fixed-horizon test; when the number of looks ``K`` is known
in advance the last look gets ``alpha / 2`` and the others share the rest, otherwise look
``k`` gets ``alpha * 6 / (pi**2 * k**2)``, a spending sequence that sums to ``alpha`` over
infinitely many looks (union bounds, so valid under any dependence between looks).
"""

from __future__ import annotations

import math


def per_check_alpha(alpha: float, weight: float, total_weight: float) -> float:
    """Weighted Bonferroni share of ``alpha`` for a check of ``weight`` among ``total_weight``."""
    if weight <= 0 or total_weight <= 0:
        raise ValueError(f"weights must be positive, got {weight} of {total_weight}")
    return alpha * weight / total_weight


def per_look_alpha(alpha: float, look: int, planned_looks: int | None = None) -> float:
    """Share of ``alpha`` a fixed-horizon test may spend at look ``look`` (1-based).

    With the number of looks ``K`` known in advance (a replay, or a deployment with a maximum
    duration) the last look, which decides a run that early looks did not, gets ``alpha / 2`` and
    each earlier look ``alpha / (2 (K - 1))``; otherwise the ``6 / (pi**2 k**2)`` sequence.
    """
    if look < 1:
        raise ValueError(f"look must be >= 1, got {look}")
    if planned_looks is not None and look <= planned_looks:
        if planned_looks == 1:
            return alpha
        return alpha / 2 if look == planned_looks else alpha / (2 * (planned_looks - 1))
    return alpha * 6.0 / (math.pi**2 * look**2)
