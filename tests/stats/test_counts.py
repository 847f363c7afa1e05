"""Counts comparison: literal cases and the anytime-valid guarantee under repeated looks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.models import Classification, CountsData, Direction
from monitor.stats import compare_counts
from monitor.stats.mixture import Side
from monitor.stats.rate_ratio import PeriodCounts, RateRatio


def test_three_times_the_error_rate_is_high() -> None:
    # 1% vs 3% of requests: 900 baseline errors of 90,000, 300 canary errors of 10,000.
    result = compare_counts(CountsData(300, 10_000), CountsData(900, 90_000), alpha=0.001, allowed_effect=0.5)
    assert result.classification is Classification.HIGH
    assert result.effect == pytest.approx(3.0)
    assert result.interval is not None
    low, high = result.interval
    assert 2.0 < low < 3.0 < high < 4.5
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.conclusive


def test_equal_rates_pass_and_interval_covers_one() -> None:
    result = compare_counts(CountsData(100, 10_000), CountsData(900, 90_000), alpha=0.01, allowed_effect=0.5)
    assert result.classification is Classification.PASS
    assert result.effect == pytest.approx(1.0)
    assert result.interval is not None and result.interval[0] < 1.0 < result.interval[1]
    assert result.p_value == 1.0 or result.p_value > 0.01


def test_clear_but_small_increase_is_within_allowed_effect() -> None:
    # 1.2x with a huge sample is statistically clear but below the allowed 1.5x.
    result = compare_counts(
        CountsData(12_000, 1_000_000),
        CountsData(90_000, 9_000_000),
        alpha=0.001,
        allowed_effect=0.5,
    )
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.classification is Classification.PASS
    assert result.conclusive  # the whole interval is below 1.5x


def test_decrease_is_not_a_regression_when_direction_is_increase() -> None:
    result = compare_counts(CountsData(10, 10_000), CountsData(2_700, 90_000), alpha=0.01)
    assert result.classification is Classification.PASS
    assert result.p_value == 1.0
    low_result = compare_counts(
        CountsData(10, 10_000), CountsData(2_700, 90_000), alpha=0.01, direction=Direction.DECREASE
    )
    assert low_result.classification is Classification.LOW


def test_too_little_exposure_is_nodata() -> None:
    result = compare_counts(CountsData(0, 20), CountsData(5, 9_000), min_exposure=100)
    assert result.classification is Classification.NODATA
    assert result.effect is None and result.interval is None


def test_errors_only_in_canary_give_a_finite_effect() -> None:
    result = compare_counts(CountsData(40, 10_000), CountsData(0, 90_000), alpha=0.01)
    assert result.effect is not None and math.isfinite(result.effect)
    assert result.classification is Classification.HIGH


def test_false_alarms_stay_below_alpha_with_twenty_looks() -> None:
    """Under the null the canary's share of events is Bernoulli(theta0); looking after every
    minute for 20 minutes must still reject in at most alpha of runs (Ville's inequality), for
    the two-sided and the one-sided (ABOVE) mixture alike. 1,000 seeded runs: the binomial
    standard error of the rate at alpha=0.05 is 0.0069, so the bound is alpha + 3 of them.
    A fixed-sample z-test repeated at every look, for contrast, must inflate.
    """
    rng = np.random.default_rng(7)
    alpha, runs, looks, theta0 = 0.05, 1_000, 20, 0.1
    events_per_minute = rng.poisson(30, size=(runs, looks))
    canary_per_minute = rng.binomial(events_per_minute, theta0)
    n = events_per_minute.cumsum(axis=1).astype(float)
    k = canary_per_minute.cumsum(axis=1).astype(float)
    rejected = {Side.BOTH: 0, Side.ABOVE: 0}
    naive_rejected = 0
    for run in range(runs):
        for side in rejected:
            if any(_model(k[run, t], n[run, t], theta0).p_value(1.0, side) <= alpha for t in range(looks)):
                rejected[side] += 1
        z = (k[run] - n[run] * theta0) / np.sqrt(n[run] * theta0 * (1 - theta0))
        naive_rejected += bool((np.abs(z) > 1.96).any())
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    assert rejected[Side.BOTH] / runs <= bound
    assert rejected[Side.ABOVE] / runs <= bound
    assert naive_rejected / runs > 2 * alpha


def _model(k: float, n: float, theta0: float) -> RateRatio:
    """Counts whose exposures make ``theta0`` the canary's share under rho = 1."""
    return RateRatio(PeriodCounts((k,), (theta0,), (n - k,), (1 - theta0,)))


def test_confidence_bounds_cover_the_true_ratio_at_every_look() -> None:
    """300 seeded runs, five looks each; each one-sided bound at alpha/2, so the pair covers the
    true ratio at all looks in at least 1 - alpha of runs (bound: alpha + 3 standard errors).
    """
    rng = np.random.default_rng(11)
    alpha, runs, theta = 0.05, 300, 0.3
    true_rho = theta / (1 - theta)  # equal exposures
    misses = 0
    for _ in range(runs):
        draws = rng.random(2_000) < theta
        k = np.cumsum(draws)
        for n in (50, 200, 500, 1_000, 2_000):
            low, high = _model(float(k[n - 1]), float(n), 0.5).bounds(alpha / 2)
            if not low <= true_rho <= high:
                misses += 1
                break
    assert misses / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_an_error_free_canary_is_settled_once_bounded_below_the_floor() -> None:
    quiet, quiet_base = CountsData(0, 100_000), CountsData(0, 900_000)
    without_floor = compare_counts(quiet, quiet_base, alpha=0.01, allowed_effect=0.25)
    assert without_floor.classification is Classification.PASS
    assert not without_floor.conclusive  # the ratio of two zeros is anyone's guess
    # 0 of 100,000 bounds the canary's ratio near 5e-5 (anytime-valid), below a 0.05% floor.
    with_floor = compare_counts(quiet, quiet_base, alpha=0.01, allowed_effect=0.25, negligible_rate=0.0005)
    assert with_floor.conclusive
    # Too few requests to bound it below the floor yet.
    early = compare_counts(CountsData(0, 1_000), CountsData(0, 9_000), alpha=0.01, negligible_rate=0.0005)
    assert not early.conclusive


def test_a_tripled_but_negligible_error_ratio_does_not_fail() -> None:
    # 0.01% -> 0.03% over a million canary requests: clear, but below a 0.05% floor.
    canary, baseline = CountsData(300, 1_000_000), CountsData(900, 9_000_000)
    assert (
        compare_counts(canary, baseline, alpha=0.001, allowed_effect=0.25).classification
        is Classification.HIGH
    )
    floored = compare_counts(canary, baseline, alpha=0.001, allowed_effect=0.25, negligible_rate=0.0005)
    assert floored.classification is Classification.PASS
