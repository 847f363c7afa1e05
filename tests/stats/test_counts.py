"""Counts comparison: the decision rule on literal cases, and false alarms over repeated looks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest, chi2

from monitor.models import Classification, CountsData, Direction
from monitor.stats import compare_counts, per_look_alpha
from monitor.stats.counts import counts_test, rate_upper_bound


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


def test_clear_evidence_of_worse_and_an_estimate_beyond_the_allowance_fails() -> None:
    """The case a whole-interval rule passed: 0.2% -> 0.37% at 10 canary requests/s for 20 minutes.

    The interval's lower end (1.11x) is below the 1.25x allowance, but the data show the canary
    worse than the baseline (p = 4e-4 < alpha) and the estimate, 1.83x, is far beyond 1.25x.
    """
    canary, baseline = CountsData(44, 12_000), CountsData(216, 108_000)
    result = compare_counts(canary, baseline, alpha=0.0025, allowed_effect=0.25, negligible_rate=0.0005)
    expected_p = binomtest(44, 260, 0.1, alternative="greater").pvalue
    assert result.p_value == pytest.approx(expected_p, rel=1e-9)
    assert expected_p < 0.0025
    assert result.interval is not None and result.interval[0] < 1.25
    assert result.classification is Classification.HIGH


def test_equal_rates_pass_and_interval_covers_one() -> None:
    result = compare_counts(CountsData(100, 10_000), CountsData(900, 90_000), alpha=0.01, allowed_effect=0.5)
    assert result.classification is Classification.PASS
    assert result.effect == pytest.approx(1.0)
    assert result.interval is not None and result.interval[0] < 1.0 < result.interval[1]
    assert result.p_value is not None and result.p_value > 0.01


def test_clear_but_small_increase_is_within_allowed_effect() -> None:
    # 1.2x with a huge sample is statistically clear but below the allowed 1.5x.
    result = compare_counts(
        CountsData(12_000, 1_000_000), CountsData(90_000, 9_000_000), alpha=0.001, allowed_effect=0.5
    )
    assert result.p_value is not None and result.p_value < 1e-6
    assert result.classification is Classification.PASS
    assert result.conclusive  # the whole interval is below 1.5x


def test_decrease_is_not_a_regression_when_direction_is_increase() -> None:
    result = compare_counts(CountsData(10, 10_000), CountsData(2_700, 90_000), alpha=0.01)
    assert result.classification is Classification.PASS
    assert result.p_value == pytest.approx(1.0)
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
    """A/A: the canary's share of events is Bernoulli(0.1); 20 looks, one a minute, each testing
    at its share of alpha (per_look_alpha: half at the last look, the rest spread). The union
    bound keeps the chance of any false alarm at or below alpha. 2,000 seeded runs at alpha 0.05:
    the binomial standard error is 0.0049, so the bound is alpha + 3 of them. Testing at the
    full alpha at every look, for contrast, must inflate.
    """
    rng = np.random.default_rng(7)
    alpha, runs, looks = 0.05, 2_000, 20
    events = rng.poisson(30, size=(runs, looks)).cumsum(axis=1)
    canary = rng.binomial(np.diff(events, prepend=0, axis=1), 0.1).cumsum(axis=1)
    spent = [per_look_alpha(alpha, k, looks) for k in range(1, looks + 1)]
    alarms = naive = 0
    for run in range(runs):
        p_values = [
            counts_test(CountsData(float(k), 1_000.0), CountsData(float(n - k), 9_000.0)).p_value()
            for k, n in zip(canary[run], events[run], strict=True)
        ]
        alarms += any(p <= a for p, a in zip(p_values, spent, strict=True))
        naive += any(p <= alpha for p in p_values)
    assert alarms / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
    assert naive / runs > 2 * alpha


def test_the_bound_states_what_a_pass_rules_out() -> None:
    # Equal 1% error ratios over 12,000 and 108,000 requests: the exact 95% upper bound on the
    # ratio is Clopper-Pearson's for 120 of 1,200 errors, mapped to the ratio.
    result = compare_counts(CountsData(120, 12_000), CountsData(1_080, 108_000), alpha=0.0025)
    assert result.bound is not None and result.bound.confidence == 0.95
    theta = binomtest(120, 1_200).proportion_ci(confidence_level=0.90, method="exact").high
    assert result.bound.effect == pytest.approx(theta / (1 - theta) * 9, rel=1e-9)
    assert 1.1 < result.bound.effect < 1.3


def test_an_error_free_canary_is_settled_once_bounded_below_the_floor() -> None:
    quiet, quiet_base = CountsData(0, 100_000), CountsData(0, 900_000)
    without_floor = compare_counts(quiet, quiet_base, alpha=0.01, allowed_effect=0.25)
    assert without_floor.classification is Classification.PASS
    assert not without_floor.conclusive  # the ratio of two zeros is anyone's guess
    # 0 of 100,000 bounds the canary's rate at 4.6e-5 (exact Poisson), below a 0.05% floor.
    assert rate_upper_bound(0, 100_000, 0.01) == pytest.approx(chi2.ppf(0.99, 2) / 2 / 100_000)
    with_floor = compare_counts(quiet, quiet_base, alpha=0.01, allowed_effect=0.25, negligible_rate=0.0005)
    assert with_floor.conclusive and with_floor.bound is not None and with_floor.bound.negligible
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


def test_an_early_look_needs_the_size_bound_beyond_the_allowance_not_only_the_estimate() -> None:
    # 1% -> 1.6% over 10,000 canary requests: clear (p < 1e-6), estimated 1.6x (beyond 1.25x),
    # but the one-sided 95% lower bound, 1.35x, is beyond it too; at 1.35x estimated it is not.
    clear = compare_counts(CountsData(160, 10_000), CountsData(900, 90_000), alpha=1e-4, allowed_effect=0.25)
    assert clear.classification is Classification.HIGH
    early = compare_counts(
        CountsData(160, 10_000), CountsData(900, 90_000), alpha=1e-4, allowed_effect=0.25, relevance=0.95
    )
    assert early.classification is Classification.HIGH
    near = (CountsData(135, 10_000), CountsData(900, 90_000))
    assert compare_counts(*near, alpha=0.01, allowed_effect=0.25).classification is Classification.HIGH
    lower_95 = counts_test(*near).bound(0.05, upper=False)
    assert 1.0 < lower_95 < 1.25
    assert (
        compare_counts(*near, alpha=0.01, allowed_effect=0.25, relevance=0.95).classification
        is Classification.PASS
    )
