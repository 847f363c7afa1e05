"""The stratified rate-ratio test: a changing traffic split must not pose as a regression."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.models import Classification, CountsData, HistogramData
from monitor.stats import compare_counts
from monitor.stats.distribution import reweighted_baseline
from monitor.stats.mixture import Side
from monitor.stats.rate_ratio import PeriodCounts, RateRatio


def test_one_period_matches_the_pooled_ratio() -> None:
    model = RateRatio(PeriodCounts((300.0,), (10_000.0,), (900.0,), (90_000.0,)))
    assert math.exp(model.mle()) == pytest.approx(3.0)
    low, high = model.bounds(0.001)
    assert 2.0 < low < 3.0 < high < 4.5


def test_simpsons_paradox_is_avoided_with_periods() -> None:
    # Period 1: 10% canary share, 1% errors in both. Period 2: 50% share, a 10% error burst in both.
    canary = CountsData(510.0, 6_000.0, ((10.0, 1_000.0), (500.0, 5_000.0)))
    baseline = CountsData(590.0, 14_000.0, ((90.0, 9_000.0), (500.0, 5_000.0)))
    pooled = compare_counts(
        CountsData(canary.events, canary.exposure), CountsData(baseline.events, baseline.exposure), alpha=0.01
    )
    stratified = compare_counts(canary, baseline, alpha=0.01)
    assert pooled.classification is Classification.HIGH  # what a pooled test wrongly concludes
    assert stratified.classification is Classification.PASS
    assert stratified.effect == pytest.approx(1.0, abs=0.01)


def test_no_false_alarms_beyond_alpha_when_the_split_changes() -> None:
    """A/A: 10 one-minute periods, the canary share stepping from 10% to 50% and a burst of errors
    hitting both versions. Looking after every period, at most alpha of 1,000 seeded runs may
    reject (Ville's inequality); the bound adds 3 binomial standard errors (0.0069 at 0.05).
    """
    rng = np.random.default_rng(21)
    alpha, runs = 0.05, 1_000
    shares = np.array([0.1] * 5 + [0.5] * 5)
    error_ratio = np.array([0.01] * 7 + [0.1] * 3)
    rejected = 0
    for _ in range(runs):
        requests = rng.poisson(6_000, size=10).astype(float)
        canary_requests = rng.binomial(requests.astype(int), shares).astype(float)
        base_requests = requests - canary_requests
        canary_errors = rng.binomial(canary_requests.astype(int), error_ratio).astype(float)
        base_errors = rng.binomial(base_requests.astype(int), error_ratio).astype(float)
        for look in range(1, 11):
            model = RateRatio(
                PeriodCounts(
                    tuple(canary_errors[:look]), tuple(canary_requests[:look]),
                    tuple(base_errors[:look]), tuple(base_requests[:look]),
                )
            )  # fmt: skip
            if model.p_value(1.0, Side.BOTH) <= alpha:
                rejected += 1
                break
    assert rejected / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_reweighting_leaves_a_steady_split_alone_and_fixes_a_changing_one() -> None:
    bounds = (0.1, math.inf)
    fast, slow = (90.0, 10.0), (10.0, 90.0)
    steady_canary = HistogramData(bounds, (20.0, 20.0), ((18.0, 2.0), (2.0, 18.0)))
    steady_base = HistogramData(bounds, (200.0, 200.0), ((180.0, 20.0), (20.0, 180.0)))
    assert reweighted_baseline(steady_canary, steady_base).counts == pytest.approx(steady_base.counts)
    # The canary served 10% of its requests in the fast period, the baseline 90%.
    canary = HistogramData(bounds, (19.0, 81.0), ((9.0, 1.0), (10.0, 80.0)))
    base = HistogramData(bounds, (820.0, 180.0), (tuple(x * 9 for x in fast), slow))
    adjusted = reweighted_baseline(canary, base)
    share_fast = adjusted.counts[0] / sum(adjusted.counts)
    assert share_fast == pytest.approx(0.1 * 0.9 + 0.9 * 0.1)
    assert sum(adjusted.counts) < sum(base.counts)  # unequal weights cost effective sample size
