"""False-alarm control across looks, across checks and across the items of one check.

The run's budget ``alpha`` is spent by union bounds, valid whatever the dependence between
looks, metrics of one service, log templates or latency bounds (they are all strongly
dependent, which rules out procedures that assume independence):

* **Across looks** (:func:`per_look_alpha`): the number of looks ``K`` is known when a
  deployment starts (its maximum duration over its interval). The last look, where the whole
  window's data decides what early looks left open, gets ``final_share`` of alpha; each earlier
  look ``(1 - final_share) / (K - 1)`` of it, for early fails. A single look gets all of it. A
  run with no planned end spends ``6 / (pi^2 k^2)`` at look ``k``, which sums to 1.
* **Across checks** (:func:`allocate`): a look's alpha is split over the checks that can fail
  the run by weight, critical checks first taking ``critical_share`` of it. Only checks that
  take part share it: a check without enough data, or whose data cannot make it significant at
  the share it would get (no errors in either version, say), gives its share back (weighted
  Tarone, below). Being decided per look, from the data's totals, this stays a union bound.
* **Across the items of one check** (:func:`tarone`): a log check tests every template, a latency
  check every bucket bound, a trace check every operation. With discrete exact tests, an item
  whose totals could not reach significance even with every event on the canary's side cannot
  raise a false alarm, so it need not share the budget (Tarone, *Biometrics* 46, 1990): one
  clear new ERROR template is not diluted to nothing by hundreds of templates seen a few times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

FINAL_SHARE = 0.5
CRITICAL_SHARE = 0.9
EARLY_RELEVANCE = 0.95


def per_look_alpha(
    alpha: float, look: int, planned_looks: int | None, final_share: float = FINAL_SHARE
) -> float:
    """Share of ``alpha`` spent by the tests of look ``look`` (1-based) of ``planned_looks``."""
    if look < 1:
        raise ValueError(f"look must be >= 1, got {look}")
    if not 0.0 < final_share <= 1.0:
        raise ValueError(f"final_share must lie in (0, 1], got {final_share}")
    if planned_looks is None or look > planned_looks:
        return alpha * 6.0 / (math.pi**2 * look**2)
    if planned_looks == 1:
        return alpha
    if look == planned_looks:
        return alpha * final_share
    return alpha * (1.0 - final_share) / (planned_looks - 1)


def tarone(min_p_values: Sequence[float], alpha: float) -> int:
    """How many tests share ``alpha``: the least ``m`` with at most ``m`` tests able to reach ``alpha / m``.

    Tests whose smallest attainable p-value exceeds ``alpha / m`` cannot reject and are left
    out; the others are tested at ``alpha / m``. Returns at least 1.
    """
    ordered = sorted(min_p_values)
    for m in range(1, len(ordered) + 1):
        if m >= len(ordered) or ordered[m] > alpha / m:
            return m
    return 1


@dataclass(frozen=True)
class Claim:
    """A check's claim on a look's budget: its weight, whether it is critical, its best p-value."""

    weight: float
    critical: bool
    min_p_value: float


def allocate(alpha: float, claims: Mapping[str, Claim], critical_share: float) -> dict[str, float]:
    """Each check's level: ``alpha`` split by weight over the checks that can use it (weighted Tarone).

    Critical checks share ``critical_share`` of ``alpha`` and the others the rest; when either
    group is empty the other takes everything. A check whose best p-value is above the level it
    would get is left out and the shares recomputed, until every remaining check can use its
    share. A left-out check is reported at the level it last had (it cannot reject there).
    """
    taking_part = {name for name, claim in claims.items() if claim.weight > 0}
    levels: dict[str, float] = {}
    while True:
        current = _split(alpha, {n: claims[n] for n in taking_part}, critical_share)
        levels.update(current)
        out = {n for n in taking_part if claims[n].min_p_value > current[n]}
        if not out:
            return levels
        taking_part -= out


def _split(alpha: float, claims: Mapping[str, Claim], critical_share: float) -> dict[str, float]:
    groups = [
        {n: c for n, c in claims.items() if c.critical},
        {n: c for n, c in claims.items() if not c.critical},
    ]
    shares = (critical_share, 1.0 - critical_share) if all(groups) else (1.0, 1.0)
    levels: dict[str, float] = {}
    for group, share in zip(groups, shares, strict=True):
        total = sum(c.weight for c in group.values())
        levels.update({n: alpha * share * c.weight / total for n, c in group.items()})
    return levels
