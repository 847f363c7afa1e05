"""Compare two samples of a metric by a rank test of location shift.

Method: the Mann-Whitney U test (Wilcoxon rank-sum test) with the normal approximation,
a tie correction of the variance and a continuity correction of 0.5, as R's
``wilcox.test(canary, baseline, exact=FALSE, correct=TRUE, conf.int=TRUE)`` computes it.
The shift ``canary - baseline`` is estimated as R does: a point where the uncorrected
standardised statistic of ``canary - d`` against ``baseline`` crosses zero, the
Hodges-Lehmann estimate located by root finding (where the statistic is zero over a whole
interval, as with ties, it is some point of that interval, not necessarily its middle).
Its confidence interval inverts the test (Bauer 1972): the ends are the shifts at which
the corrected statistic equals the normal quantile. The root finder is a port of R's
``uniroot`` (see ``rootfind``) because on these step functions the point found depends on
the exact sequence of steps; with it the numbers match R to the last digits.

Assumptions: observations independent within and between samples, and the two
distributions differ only by a shift. Points of a time series are autocorrelated, which
makes the p-values optimistic; callers must correct for that and for repeated looks.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from monitor.models import Classification, Comparison, ComparisonKind, Direction
from monitor.stats.rootfind import zeroin

Alternative = Literal["two_sided", "greater", "less"]

_TOL_ROOT = 1e-4  # wilcox.test's default tol.root
_NORMAL = statistics.NormalDist()
_ALTERNATIVE: dict[Direction, Alternative] = {
    Direction.INCREASE: "greater",
    Direction.DECREASE: "less",
    Direction.EITHER: "two_sided",
}


def mann_whitney_interval(
    canary: Iterable[float],
    baseline: Iterable[float],
    confidence: float = 0.95,
    alternative: Alternative = "two_sided",
) -> tuple[float, float, float]:
    """Return ``(low, high, estimate)`` for the location shift ``canary - baseline``.

    Numerically equal to R's ``wilcox.test(canary, baseline, conf.int=TRUE, exact=FALSE,
    correct=TRUE, conf.level=confidence, alternative=...)`` ``conf.int`` and ``estimate``.
    A one-sided interval has an infinite end. NaN values are dropped, as R drops ``NA``.

    Raises ``ValueError`` for an empty sample, an infinite value, a confidence outside
    (0, 1), or when all observations are tied at the only candidate shift, i.e. each
    sample is constant (R fails there too).
    """
    if alternative not in ("two_sided", "greater", "less"):
        raise ValueError(f"alternative must be two_sided, greater or less, got {alternative!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    x = _clean(canary, "canary")
    y = _clean(baseline, "baseline")
    w = _statistic(x, y)
    mumin = float(x.min() - y.max())
    mumax = float(x.max() - y.min())
    w_min, w_max = w(mumin, alternative), w(mumax, alternative)

    def root(zq: float) -> float:
        f_lower = w_min - zq
        if f_lower <= 0:
            return mumin
        f_upper = w_max - zq
        if f_upper >= 0:
            return mumax
        return zeroin(
            lambda d: w(d, alternative) - zq,
            mumin,
            mumax,
            f_lower=f_lower,
            f_upper=f_upper,
            tol=_TOL_ROOT,
        )

    alpha = 1.0 - confidence
    if alternative == "two_sided":
        low, high = root(_qnorm_upper(alpha / 2)), root(-_qnorm_upper(alpha / 2))
    elif alternative == "greater":
        low, high = root(_qnorm_upper(alpha)), math.inf
    else:
        low, high = -math.inf, root(-_qnorm_upper(alpha))
    # R estimates without continuity correction and lets uniroot evaluate both ends.
    estimate = zeroin(lambda d: w(d, None), mumin, mumax, tol=_TOL_ROOT)
    return low, high, estimate


def compare_samples(
    canary: Iterable[float],
    baseline: Iterable[float],
    *,
    direction: Direction = Direction.INCREASE,
    confidence: float = 0.95,
    allowed_effect: float = 0.0,
    min_points: int = 3,
) -> Comparison:
    """Compare canary with baseline samples by the Mann-Whitney test of location shift.

    ``effect`` is the shift ``canary - baseline`` in the metric's unit; it is ``high``
    (``low``) when the test in the harmful direction is significant at ``confidence`` and
    the shift exceeds ``allowed_effect`` relative to the baseline median (any nonzero
    shift does when that median is zero). The test is one-sided for ``increase`` and
    ``decrease``. ``interval`` is the test's interval with its infinite end replaced by
    the corresponding end of the two-sided interval at the same confidence.
    """
    x = _finite(canary)
    y = _finite(baseline)
    nx, ny = float(x.size), float(y.size)
    if min(x.size, y.size) < max(min_points, 1):
        return Comparison.nodata(ComparisonKind.SAMPLES, ny, nx)
    base_median = float(np.median(y))
    canary_median = float(np.median(x))

    def result(
        classification: Classification,
        effect: float,
        interval: tuple[float, float],
        p_value: float,
        conclusive: bool,
        detail: str,
    ) -> Comparison:
        return Comparison(
            kind=ComparisonKind.SAMPLES,
            classification=classification,
            effect=effect,
            interval=interval,
            p_value=p_value,
            baseline_value=base_median,
            canary_value=canary_median,
            baseline_n=ny,
            canary_n=nx,
            conclusive=conclusive,
            detail=detail,
        )

    alternative = _ALTERNATIVE[direction]
    if float(min(x.min(), y.min())) == float(max(x.max(), y.max())):
        # Every observation tied: the test has no variance and there is no shift.
        return result(Classification.PASS, 0.0, (0.0, 0.0), 1.0, False, "all observations tied")
    p_value = _p_value(_statistic(x, y)(0.0, alternative), alternative)
    margin = allowed_effect * abs(base_median)

    if float(x.min()) == float(x.max()) and float(y.min()) == float(y.max()):
        # Both samples constant: R cannot find an interval, but the shift is exact.
        shift = float(x[0] - y[0])
        effect, interval, two_sided = shift, (shift, shift), (shift, shift)
    else:
        low2, high2, effect = mann_whitney_interval(x, y, confidence, "two_sided")
        two_sided = (low2, high2)
        if alternative == "greater":
            interval = (mann_whitney_interval(x, y, confidence, "greater")[0], high2)
        elif alternative == "less":
            interval = (low2, mann_whitney_interval(x, y, confidence, "less")[1])
        else:
            interval = two_sided

    significant = p_value < 1.0 - confidence
    beyond = abs(effect) > margin if base_median != 0 else effect != 0
    classification = Classification.PASS
    conclusive = False
    if direction != Direction.DECREASE and significant and effect > 0 and beyond:
        classification = Classification.HIGH
        conclusive = interval[0] > margin
    elif direction != Direction.INCREASE and significant and effect < 0 and beyond:
        classification = Classification.LOW
        conclusive = interval[1] < -margin
    else:
        conclusive = -margin <= two_sided[0] and two_sided[1] <= margin
    return result(classification, effect, interval, p_value, conclusive, "hodges-lehmann shift")


def _statistic(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> Callable[[float, Alternative | None], float]:
    """R's ``W(d)``: the standardised rank-sum statistic of ``x - d`` against ``y``.

    The continuity correction follows ``alternative``; ``None`` means none, as R uses
    for the estimate.
    """
    nx, ny = float(x.size), float(y.size)

    def w(d: float, alternative: Alternative | None) -> float:
        ranks, ties = _average_ranks(np.concatenate((x - d, y)))
        dz = float(ranks[: x.size].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
        if alternative is None:
            correction = 0.0
        elif alternative == "two_sided":
            correction = 0.0 if dz == 0 else math.copysign(0.5, dz)
        else:
            correction = 0.5 if alternative == "greater" else -0.5
        tie_sum = float((ties**3 - ties).sum())
        sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - tie_sum / ((nx + ny) * (nx + ny - 1))))
        if sigma == 0:
            raise ValueError("cannot compute confidence interval when all observations are tied")
        return (dz - correction) / sigma

    return w


def _average_ranks(
    values: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return R's ``rank(values)`` (ties get their average rank) and the tie-group sizes."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], values.size)
    sizes = (ends - starts).astype(np.float64)
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks, sizes


def _p_value(z: float, alternative: Alternative) -> float:
    """R's normal-approximation p-value for the corrected standardised statistic ``z``."""
    upper = 0.5 * math.erfc(z / math.sqrt(2))
    lower = 0.5 * math.erfc(-z / math.sqrt(2))
    if alternative == "greater":
        return upper
    if alternative == "less":
        return lower
    return 2 * min(lower, upper)


def _qnorm_upper(p: float) -> float:
    """R's ``qnorm(p, lower.tail=FALSE)``, which evaluates the tail at ``p`` itself."""
    return -_NORMAL.inv_cdf(p)


def _finite(values: Iterable[float]) -> NDArray[np.float64]:
    array = np.asarray(list(values), dtype=np.float64)
    return array[np.isfinite(array)]


def _clean(values: Iterable[float], name: str) -> NDArray[np.float64]:
    array = np.asarray(list(values), dtype=np.float64)
    array = array[~np.isnan(array)]
    if array.size < 1:
        raise ValueError(f"not enough (non-missing) {name} observations")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains an infinite value")
    return array
