"""Tests of the Mann-Whitney comparison of samples.

Reference numbers come from R 4.2.2, ``wilcox.test(x, y, conf.int=TRUE, exact=FALSE,
correct=TRUE, ...)`` printed with ``%.17g``. uniroot stops within ``tol.root = 1e-4`` of a
crossing, so any root finder would agree with R to about 1e-4; the port repeats R's
iteration step for step, so it must agree to rounding, and the tolerances below (1e-12
relative) are set to catch a root finder that lands elsewhere within 1e-4.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.models import Classification, ComparisonKind, Direction
from monitor.stats.rootfind import zeroin
from monitor.stats.samples import (
    Alternative,
    _statistic,
    compare_samples,
    mann_whitney_interval,
)

EXACT = 1e-12  # relative: same iteration as R, so only rounding may differ

SPINNAKER_6278_CANARY = [100.0] * 7 + [1.0] * 3
SPINNAKER_6278_BASELINE = [1.0] * 10
KAYENTA_426_CANARY = [0.0, 1.0, 2.0, 1.0, 0.0, 0.0]
KAYENTA_426_BASELINE = [0.0] * 6
BASELINE_50 = [100.0 + i for i in range(50)]
CANARY_50 = [v * 1.02 for v in BASELINE_50]


@pytest.mark.parametrize(
    ("canary", "baseline", "confidence", "alternative", "expected"),
    [
        ([10, 20, 30, 40], [1, 2, 3, 4], 0.95, "two_sided", (6.0, 39.0, 22.5)),
        (
            SPINNAKER_6278_CANARY,
            SPINNAKER_6278_BASELINE,
            0.95,
            "greater",
            (5.542586147544118e-05, math.inf, 98.999927858152745),
        ),
        (
            KAYENTA_426_CANARY,
            KAYENTA_426_BASELINE,
            0.95,
            "two_sided",
            (0.0, 1.0000355604008728, 0.82397840971395619),
        ),
        (
            CANARY_50,
            BASELINE_50,
            0.95,
            "two_sided",
            (-3.6200273232539653, 8.6000273232539541, 2.4899999999999949),
        ),
        (
            CANARY_50,
            BASELINE_50,
            0.95,
            "less",
            (-math.inf, 7.5799962818192039, 2.4899999999999949),
        ),
        (
            [1, 2, 3, 4, 5],
            [6.5, 7.5, 8.5, 9.5, 10.5],
            0.9,
            "less",
            (-math.inf, -3.5000509453840518, -5.5),
        ),
        (
            [3.1, 1.7, 2.2, 5.9, 4.4, 2.2],
            [1.0, 2.5, 0.3, 2.2, 1.8, 0.9, 3.3],
            0.9,
            "two_sided",
            (-4.0218231829970524e-05, 2.800038798467301, 1.2999395130170124),
        ),
    ],
)
def test_interval_matches_r(
    canary: list[float],
    baseline: list[float],
    confidence: float,
    alternative: Alternative,
    expected: tuple[float, float, float],
) -> None:
    result = mann_whitney_interval(canary, baseline, confidence, alternative)
    assert result == pytest.approx(expected, rel=EXACT, abs=1e-15)


def test_spinnaker_6278_matches_kayenta_interval() -> None:
    # Kayenta printed confidenceInterval [6.825022991538781E-5, 99.0] (R: 6.8250229915387881e-05).
    # Kayenta's normal quantile comes from another library, hence the last-digit slack.
    low, high, estimate = mann_whitney_interval(SPINNAKER_6278_CANARY, SPINNAKER_6278_BASELINE, 0.98)
    assert low == pytest.approx(6.825022991538781e-05, rel=1e-12)
    assert high == 99.0
    # R's estimate; Kayenta printed 98.99992904170193 (see the next test for why).
    assert estimate == pytest.approx(98.999927858152745, rel=EXACT)
    assert estimate == pytest.approx(98.99992904170193, abs=2e-6)


def test_kayenta_estimate_reproduced_with_its_continuity_correction() -> None:
    # Kayenta finds its estimate on the continuity-corrected statistic, R on the uncorrected
    # one. Given Kayenta's function, the ported root finder lands on its exact double.
    x = np.array(SPINNAKER_6278_CANARY)
    y = np.array(SPINNAKER_6278_BASELINE)
    w = _statistic(x, y)
    estimate = zeroin(lambda d: w(d, "two_sided"), 0.0, 99.0, tol=1e-4)
    assert estimate == 98.99992904170193


def test_identical_samples_estimate_zero() -> None:
    # Symmetric: the statistic is zero at d = 0 only, so the estimate is 0 within uniroot's
    # tol; R gives exactly 0 and the interval ±3.000013031674519.
    low, high, estimate = mann_whitney_interval(range(1, 11), range(1, 11))
    assert estimate == pytest.approx(0.0, abs=1e-4)
    assert (low, high) == pytest.approx((-3.000013031674519, 3.000013031674519), rel=EXACT)


def test_small_identical_samples_interval_is_the_whole_range() -> None:
    # With three points a side 95% is out of reach, so both ends stop at mumin and mumax.
    assert mann_whitney_interval([1, 2, 3], [1, 2, 3]) == (-2.0, 2.0, 0.0)


def test_exact_shift_estimate() -> None:
    # x = y + 5 with distinct y: the statistic crosses zero at d = 5 only.
    baseline = [1.0, 2.0, 4.0, 8.0, 16.0]
    canary = [v + 5 for v in baseline]
    low, high, estimate = mann_whitney_interval(canary, baseline)
    assert estimate == pytest.approx(5.0, abs=1e-4)
    assert (low, high) == pytest.approx((-6.9999600028245377, 16.999960002824537), rel=EXACT)


def test_nan_dropped_like_r_na() -> None:
    with_nan = mann_whitney_interval([10, 20, math.nan, 30, 40], [1, 2, 3, 4, math.nan])
    assert with_nan == mann_whitney_interval([10, 20, 30, 40], [1, 2, 3, 4])


@pytest.mark.parametrize(
    ("canary", "baseline", "message"),
    [
        ([], [1.0, 2.0], "not enough"),
        ([1.0, math.nan], [math.nan], "not enough"),
        ([1.0, math.inf], [1.0, 2.0], "infinite"),
        ([0.0, 0.0], [0.0, 0.0], "all observations are tied"),
        ([5.0, 5.0, 5.0], [1.0, 1.0, 1.0], "all observations are tied"),
    ],
)
def test_interval_rejects_unusable_samples(canary: list[float], baseline: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mann_whitney_interval(canary, baseline)


def test_interval_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        mann_whitney_interval([1, 2], [3, 4], confidence=1.0)


@pytest.mark.parametrize("confidence", [0.95, 0.98])
def test_spinnaker_6278_is_high(confidence: float) -> None:
    result = compare_samples(SPINNAKER_6278_CANARY, SPINNAKER_6278_BASELINE, confidence=confidence)
    assert result.kind is ComparisonKind.SAMPLES
    assert result.classification is Classification.HIGH
    assert result.effect == pytest.approx(98.999927858152745, rel=EXACT)
    # R, alternative = "greater": p = 0.00080838641531030407
    assert result.p_value == pytest.approx(0.00080838641531030407, rel=EXACT)
    assert result.conclusive
    assert (result.baseline_value, result.canary_value) == (1.0, 100.0)
    assert (result.baseline_n, result.canary_n) == (10.0, 10.0)


def test_kayenta_426_is_high() -> None:
    result = compare_samples(KAYENTA_426_CANARY, KAYENTA_426_BASELINE)
    assert result.classification is Classification.HIGH
    # R, alternative = "greater": p = 0.036569899829454466
    assert result.p_value == pytest.approx(0.036569899829454466, rel=EXACT)
    assert result.effect == pytest.approx(0.82397840971395619, rel=EXACT)
    # The one-sided interval starts at 0, so the data do not yet settle the check.
    assert not result.conclusive


def test_zero_baseline_median_any_shift_is_beyond_allowed_effect() -> None:
    result = compare_samples(KAYENTA_426_CANARY, KAYENTA_426_BASELINE, allowed_effect=0.5)
    assert result.classification is Classification.HIGH


def test_identical_samples_pass() -> None:
    result = compare_samples(BASELINE_50, BASELINE_50)
    assert result.classification is Classification.PASS
    assert result.effect == pytest.approx(0.0, abs=1e-4)


def test_small_shift_within_allowed_effect_passes_conclusively() -> None:
    result = compare_samples(CANARY_50, BASELINE_50, allowed_effect=0.10)
    assert result.classification is Classification.PASS
    # Two-sided interval (-3.62, 8.60) lies within ±0.10 x median 124.5.
    assert result.conclusive


def test_either_direction_reports_two_sided_test() -> None:
    result = compare_samples(CANARY_50, BASELINE_50, direction=Direction.EITHER)
    # R, two-sided: p = 0.40419381009055477
    assert result.p_value == pytest.approx(0.40419381009055477, rel=EXACT)
    assert result.interval == pytest.approx((-3.6200273232539653, 8.6000273232539541), rel=EXACT)


def test_decrease_is_low_and_increase_ignores_it() -> None:
    low = compare_samples(SPINNAKER_6278_BASELINE, SPINNAKER_6278_CANARY, direction=Direction.DECREASE)
    assert low.classification is Classification.LOW
    # R, alternative = "less": conf.int (-Inf, -5.542586147544118e-05); the infinite end is
    # replaced by the two-sided low end, -99.
    assert low.interval == pytest.approx((-99.0, -5.542586147544118e-05), rel=EXACT)
    assert low.conclusive
    ignored = compare_samples(SPINNAKER_6278_BASELINE, SPINNAKER_6278_CANARY)
    assert ignored.classification is Classification.PASS


@pytest.mark.parametrize("direction", list(Direction))
def test_interval_is_finite(direction: Direction) -> None:
    result = compare_samples(SPINNAKER_6278_CANARY, SPINNAKER_6278_BASELINE, direction=direction)
    assert result.interval is not None
    assert all(math.isfinite(end) for end in result.interval)


def test_too_few_finite_points_is_nodata() -> None:
    result = compare_samples([1.0, 2.0, math.nan, math.inf], [1.0, 2.0, 3.0])
    assert result.classification is Classification.NODATA
    assert (result.effect, result.interval, result.p_value) == (None, None, None)
    assert (result.canary_n, result.baseline_n) == (2.0, 3.0)


def test_all_tied_passes_inconclusively() -> None:
    result = compare_samples([0.0] * 5, [0.0] * 5)
    assert result.classification is Classification.PASS
    assert (result.effect, result.interval, result.p_value) == (0.0, (0.0, 0.0), 1.0)
    assert not result.conclusive


def test_constant_samples_shift_is_exact() -> None:
    # R's interval fails here (uniroot needs lower < upper); the shift is exactly 4.
    result = compare_samples([5.0, 5.0, 5.0], [1.0, 1.0, 1.0])
    assert result.classification is Classification.HIGH
    assert (result.effect, result.interval) == (4.0, (4.0, 4.0))
    # R, wilcox.test(exact=FALSE, alternative="greater"): p = 0.023427088801936877
    assert result.p_value == pytest.approx(0.023427088801936877, rel=EXACT)
    assert result.conclusive
