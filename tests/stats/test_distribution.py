"""Distribution comparison on literal histograms and seeded lognormal samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.models import Classification, Direction, HistogramData
from monitor.stats import compare_distribution
from monitor.stats.distribution import histogram_quantile

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)


def _histogram(values: np.ndarray) -> HistogramData:
    edges = [-math.inf, *BOUNDS[:-1], math.inf]
    counts, _ = np.histogram(values, bins=edges)
    return HistogramData(BOUNDS, tuple(float(c) for c in counts))


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    # 10 below 0.1, 30 in (0.1, 0.25]: the median (rank 20) is 1/3 into the second bucket.
    hist = HistogramData((0.1, 0.25, math.inf), (10.0, 30.0, 0.0))
    assert histogram_quantile(hist, 20.0) == pytest.approx(0.1 + 0.15 / 3)
    assert histogram_quantile(hist, 5.0) == pytest.approx(0.05)
    # Ranks in the +Inf bucket are capped at the highest finite bound.
    tail = HistogramData((0.1, math.inf), (10.0, 10.0))
    assert histogram_quantile(tail, 15.0) == 0.1


def test_median_shift_of_25_percent_is_high() -> None:
    rng = np.random.default_rng(3)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 54_000))
    canary = _histogram(rng.lognormal(math.log(0.1), 0.5, 6_000))
    result, quantiles = compare_distribution(canary, baseline, alpha=0.001, allowed_effect=0.1)
    assert result.classification is Classification.HIGH
    assert result.interval is not None and result.interval[0] > 1.0
    assert {q.q for q in quantiles} == {0.5, 0.9, 0.99}
    assert result.p_value is not None and result.p_value < 0.001


def test_tail_only_slowdown_is_found_in_the_tail() -> None:
    rng = np.random.default_rng(4)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 54_000))
    canary_values = rng.lognormal(math.log(0.08), 0.5, 6_000)
    slow = rng.random(6_000) < 0.05
    canary_values[slow] *= 4
    result, _ = compare_distribution(_histogram(canary_values), baseline, alpha=0.001, allowed_effect=0.1)
    assert result.classification is Classification.HIGH
    assert result.detail in ("p90", "p99")


def test_irrelevant_two_percent_shift_at_huge_traffic_passes() -> None:
    rng = np.random.default_rng(5)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 1_600_000))
    canary = _histogram(rng.lognormal(math.log(0.08 * 1.02), 0.5, 180_000))
    result, quantiles = compare_distribution(canary, baseline, alpha=0.001, allowed_effect=0.1)
    assert result.classification is Classification.PASS
    median = next(q for q in quantiles if q.q == 0.5)
    # Statistically clear (the interval excludes 1) yet practically irrelevant.
    assert median.interval[0] > 1.0
    assert median.ratio == pytest.approx(1.02, abs=0.01)


def test_faster_canary_is_low_only_when_decrease_matters() -> None:
    rng = np.random.default_rng(6)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 20_000))
    canary = _histogram(rng.lognormal(math.log(0.05), 0.5, 5_000))
    up, _ = compare_distribution(canary, baseline, alpha=0.01, allowed_effect=0.1)
    either, _ = compare_distribution(
        canary, baseline, alpha=0.01, allowed_effect=0.1, direction=Direction.EITHER
    )
    assert up.classification is Classification.PASS
    assert either.classification is Classification.LOW


def test_too_few_observations_is_nodata() -> None:
    hist = HistogramData((0.1, math.inf), (10.0, 0.0))
    result, quantiles = compare_distribution(hist, hist, min_count=50)
    assert result.classification is Classification.NODATA
    assert quantiles == ()


def test_identical_distributions_rarely_alarm_over_repeated_looks() -> None:
    """A/A: 100 seeded runs with 10 cumulative looks each at alpha=0.05 and no allowed effect.
    The per-quantile sequences are anytime-valid, so at most alpha of runs may alarm; the
    check is alpha + 3 binomial standard errors (0.022) for 100 runs.
    """
    rng = np.random.default_rng(8)
    alpha, runs, looks = 0.05, 100, 10
    alarms = 0
    for _ in range(runs):
        base_all = rng.lognormal(math.log(0.08), 0.5, 9_000)
        canary_all = rng.lognormal(math.log(0.08), 0.5, 1_000)
        for look in range(1, looks + 1):
            result, _ = compare_distribution(
                _histogram(canary_all[: look * 100]),
                _histogram(base_all[: look * 900]),
                alpha=alpha,
            )
            if result.classification is not Classification.PASS:
                alarms += 1
                break
    assert alarms / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
