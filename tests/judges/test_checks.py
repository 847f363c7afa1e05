"""Judging single checks: messages, numbers, and errors that never escape."""

from __future__ import annotations

import math

import pytest

from monitor.checks.kind import Judging, judge_safely
from monitor.checks.metric import Fetched, MetricPair
from monitor.checks.registry import kind_for
from monitor.models import (
    CheckData,
    CheckPurpose,
    CheckResult,
    Classification,
    ComparisonKind,
    CountsData,
    Direction,
    HistogramData,
    SamplesData,
)
from monitor.profiles import CheckSpec, TrafficPolicy
from monitor.stats import Claim, allocate, per_look_alpha

ERRORS = CheckSpec("http_error_ratio", ComparisonKind.COUNTS, critical=True, allowed_effect=0.5, unit="ratio")


def _pair(canary: CheckData, baseline: CheckData) -> MetricPair:
    return MetricPair(Fetched(canary, True, "c"), Fetched(baseline, True, "b"))


def judge_check(
    spec: CheckSpec, canary: CheckData, baseline: CheckData, *, alpha: float, traffic: TrafficPolicy
) -> CheckResult:
    """A metric check judged through its registered kind, as a look judges it."""
    return judge_safely(kind_for(spec), spec, _pair(canary, baseline), Judging(alpha, traffic))


def achievable_p(spec: CheckSpec, canary: CheckData, baseline: CheckData) -> float:
    return float(kind_for(spec).min_p(spec, _pair(canary, baseline)))


def test_counts_message_has_effect_and_both_values() -> None:
    result = judge_check(
        ERRORS, CountsData(100, 10_000), CountsData(180, 90_000), alpha=0.001, traffic=TrafficPolicy()
    )
    assert result.classification is Classification.HIGH
    assert "5.00x baseline (0.20% -> 1.00%)" in result.message
    assert (result.baseline_n, result.canary_n) == (90_000, 10_000)
    assert result.baseline_value == 0.002 and result.canary_value == 0.01


def test_a_samples_shift_beyond_its_allowance_but_not_significant_is_not_called_ok() -> None:
    """Few, noisy points 40 % higher: beyond the 10 % allowance, not yet significant."""
    cpu = CheckSpec("cpu", ComparisonKind.SAMPLES, allowed_effect=0.1, min_data=3, direction=Direction.EITHER)
    baseline = SamplesData((1.0, 3.0, 0.5, 2.5, 1.5, 2.0))
    canary = SamplesData((1.4, 4.2, 0.7, 3.5, 2.1, 2.8))
    result = judge_check(cpu, canary, baseline, alpha=0.001, traffic=TrafficPolicy())
    assert result.classification is Classification.PASS and not result.conclusive
    assert "not yet conclusive; allowed +10%" in result.message
    assert result.allowed == (0.9, 1.1)  # the judge's margin is symmetric around the baseline median
    quiet = judge_check(cpu, baseline, baseline, alpha=0.001, traffic=TrafficPolicy())
    assert "shift +0 (+0%)" in quiet.message and ", ok; allowed +10%" in quiet.message


def test_mismatched_data_is_an_error_result_not_an_exception() -> None:
    result = judge_check(
        ERRORS, CountsData(1, 10), SamplesData((1.0, 2.0)), alpha=0.01, traffic=TrafficPolicy()
    )
    assert result.classification is Classification.ERROR
    assert "different kinds" in result.message


def test_a_failing_statistic_is_an_error_result() -> None:
    latency = CheckSpec("http_latency", ComparisonKind.DISTRIBUTION, min_data=1)
    broken = HistogramData((0.1, math.inf), (math.nan, 5.0))
    result = judge_check(latency, broken, broken, alpha=0.01, traffic=TrafficPolicy())
    # The statistics refuse NaN counts; the judge turns that into an error result.
    assert result.classification is Classification.ERROR
    assert result.message.startswith("could not be judged (ValueError")


def test_traffic_far_below_expected_share_is_flagged_not_failed() -> None:
    spec = CheckSpec(
        "traffic_share", ComparisonKind.COUNTS, purpose=CheckPurpose.TRAFFIC, weight=0, min_data=100
    )
    policy = TrafficPolicy(expected_canary_share=0.1, tolerance_factor=2.0)
    result = judge_check(spec, CountsData(0, 1_000), CountsData(0, 99_000), alpha=0.01, traffic=policy)
    assert result.classification is Classification.LOW
    assert "suspect" in result.message and "1.0%" in result.message
    assert result.weight == 0


def test_alpha_is_spent_over_looks_and_split_over_checks_that_can_use_it() -> None:
    spent = sum(per_look_alpha(0.01, k, None) for k in range(1, 100_000))
    assert spent < 0.01
    assert per_look_alpha(0.01, 1, None) > per_look_alpha(0.01, 2, None)
    planned = [per_look_alpha(0.01, k, planned_looks=20) for k in range(1, 21)]
    assert sum(planned) == pytest.approx(0.01)
    assert planned[-1] == pytest.approx(0.005)
    assert per_look_alpha(0.01, 1, planned_looks=1) == 0.01  # a single look spends everything
    with pytest.raises(ValueError):
        per_look_alpha(0.01, 0, 20)
    claims = {
        "errors": Claim(2, True, 1e-9),
        "latency": Claim(2, True, 0.0),
        "cpu": Claim(1, False, 0.0),
        "memory": Claim(1, False, 0.0),
    }
    levels = allocate(0.01, claims, critical_share=0.75)
    assert levels["errors"] == pytest.approx(0.00375) and levels["cpu"] == pytest.approx(0.00125)
    # No errors in either version: the check cannot reject, so latency takes the critical share.
    quiet = allocate(0.01, {**claims, "errors": Claim(2, True, 1.0)}, critical_share=0.75)
    assert quiet["latency"] == pytest.approx(0.0075)
    # No non-critical check takes part: the critical ones take everything.
    alone = allocate(0.01, {"errors": claims["errors"], "latency": claims["latency"]}, critical_share=0.75)
    assert sum(alone.values()) == pytest.approx(0.01)


def test_achievable_p_screens_checks_that_cannot_judge() -> None:
    spec = CheckSpec("e", ComparisonKind.COUNTS, critical=True, min_data=100)
    assert achievable_p(spec, CountsData(0, 1_000), CountsData(0, 9_000)) == 1.0  # no events at all
    assert achievable_p(spec, CountsData(1, 50), CountsData(1, 9_000)) == 1.0  # below the minimum
    assert achievable_p(spec, CountsData(1, 1_000), CountsData(2, 9_000)) == pytest.approx(0.1**3)
