"""Distribution comparison on literal histograms and seeded lognormal samples."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import binom, fisher_exact, gamma, lognorm, lomax, norm, weibull_min

from monitor.models import Classification, Direction, HistogramData
from monitor.stats import compare_distribution, per_look_alpha, tarone
from monitor.stats.distribution import boundary_tests
from monitor.stats.quantiles import binom_ppf, quantile, quantile_at, quantile_bounds

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)


def _histogram(values: np.ndarray) -> HistogramData:
    edges = [-math.inf, *BOUNDS[:-1], math.inf]
    counts, _ = np.histogram(values, bins=edges)
    return HistogramData(BOUNDS, tuple(float(c) for c in counts))


def _lognormal(median_s: float, n: float, sigma: float = 0.5) -> HistogramData:
    """The expected bucket counts of ``n`` log-normal requests (no sampling noise)."""
    cdf = [norm.cdf(math.log(b / median_s) / sigma) for b in BOUNDS[:-1]]
    return HistogramData(BOUNDS, tuple(float(x) for x in np.diff([0.0, *cdf, 1.0]) * n))


def test_quantile_interpolates_on_the_probit_scale_against_log_latency() -> None:
    # 10 below 0.1 s, 30 in (0.1, 0.25]: shares 0.25 and 1 (clipped at 1 - 0.5/40) at the ends.
    hist = HistogramData((0.1, 0.25, math.inf), (10.0, 30.0, 0.0))
    z_low, z_high, z = norm.ppf(0.25), norm.ppf(1 - 0.5 / 40), norm.ppf(0.5)
    expected = math.exp(math.log(0.1) + (z - z_low) / (z_high - z_low) * math.log(2.5))
    assert quantile_at(hist, 20.0) == pytest.approx(expected)
    # The first bucket (from 0) is linear, as in Prometheus; the +Inf bucket gives the top bound.
    assert quantile_at(hist, 5.0) == pytest.approx(0.05)
    assert quantile_at(HistogramData((0.1, math.inf), (10.0, 10.0)), 15.0) == 0.1


def test_quantile_ratios_of_a_shifted_lognormal_are_the_shift() -> None:
    """Linear interpolation reads a +2% shift as +13% at a p99 inside the 0.25-0.5 s bucket;
    the probit-log interpolation reads +2% at every quantile (exact for log-normal latency)."""
    base, shifted = _lognormal(0.08, 1e6), _lognormal(0.08 * 1.02, 1e6)
    for q in (0.5, 0.9, 0.99):
        assert quantile(shifted, q) / quantile(base, q) == pytest.approx(1.02, abs=1e-3)
    assert quantile(base, 0.99) == pytest.approx(0.08 * math.exp(norm.ppf(0.99) * 0.5), rel=1e-3)


def test_quantile_bounds_are_the_order_statistics_of_binomial_ranks() -> None:
    # 1,000 observations, one per unit-wide bucket.
    hist = HistogramData((*(float(b) for b in range(1, 1_001)), math.inf), (1.0,) * 1_000 + (0.0,))
    low, high = quantile_bounds(hist, 0.5, 0.025)
    low_rank, high_rank = binom.ppf(0.025, 1_000, 0.5), binom.ppf(0.975, 1_000, 0.5) + 1
    assert low == pytest.approx(quantile_at(hist, low_rank - 0.5))
    assert high == pytest.approx(quantile_at(hist, high_rank - 0.5))
    assert low < quantile(hist, 0.5) < high


def test_each_bucket_bound_is_fishers_test_of_the_requests_above_it() -> None:
    canary = HistogramData((0.1, 0.25, math.inf), (200.0, 80.0, 20.0))
    baseline = HistogramData((0.1, 0.25, math.inf), (2_100.0, 500.0, 100.0))
    tests = boundary_tests(canary, baseline, Direction.INCREASE)
    assert [t.bound for t in tests] == [0.1, 0.25]
    # Above 0.1 s: canary 100 of 300, baseline 600 of 2,700.
    assert tests[0].p_value == pytest.approx(
        fisher_exact([[100, 200], [600, 2_100]], alternative="greater").pvalue, rel=1e-9
    )
    assert tests[1].p_value == pytest.approx(
        fisher_exact([[20, 280], [100, 2_600]], alternative="greater").pvalue, rel=1e-9
    )


def test_tarone_leaves_out_tests_that_could_never_reach_their_share() -> None:
    assert tarone([1e-9, 0.2, 0.3, 0.5], 0.01) == 1
    assert tarone([1e-9, 1e-9, 0.003, 0.5], 0.01) == 3
    assert tarone([], 0.01) == 1


def test_median_shift_of_25_percent_is_high() -> None:
    rng = np.random.default_rng(3)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 54_000))
    canary = _histogram(rng.lognormal(math.log(0.1), 0.5, 6_000))
    result, quantiles = compare_distribution(canary, baseline, alpha=0.001, allowed_effect=0.05)
    assert result.classification is Classification.HIGH
    assert result.interval is not None and result.interval[0] > 1.0
    assert {q.q for q in quantiles} == {0.5, 0.9, 0.99}
    assert result.p_value is not None and result.p_value < 0.001


def test_tail_only_slowdown_is_found_in_the_tail() -> None:
    # 2% of requests twice as slow: p50 barely moves, p99 +6.5%; the top bounds see it.
    rng = np.random.default_rng(4)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 540_000))
    canary_values = rng.lognormal(math.log(0.08), 0.5, 60_000)
    canary_values[rng.random(60_000) < 0.02] *= 2
    result, quantiles = compare_distribution(
        _histogram(canary_values), baseline, alpha=0.001, allowed_effect=0.05
    )
    assert result.classification is Classification.HIGH
    assert result.detail == "p99"
    assert next(q for q in quantiles if q.q == 0.5).ratio < 1.02


def test_irrelevant_two_percent_shift_at_huge_traffic_passes() -> None:
    rng = np.random.default_rng(5)
    baseline = _histogram(rng.lognormal(math.log(0.08), 0.5, 1_600_000))
    canary = _histogram(rng.lognormal(math.log(0.08 * 1.02), 0.5, 180_000))
    result, quantiles = compare_distribution(canary, baseline, alpha=0.001, allowed_effect=0.05)
    assert result.classification is Classification.PASS
    assert result.p_value is not None and result.p_value < 1e-6  # clear, yet irrelevant
    for q in quantiles:
        assert q.ratio == pytest.approx(1.02, abs=0.01)
    assert result.bound is not None and result.bound.effect < 1.05


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
    """A/A: 200 seeded runs with 10 cumulative looks, each at its share of alpha = 0.05 and no
    allowance, so any significant difference fails. The union bound over looks and bucket bounds
    keeps alarms at or below alpha; the check is alpha + 3 binomial standard errors (0.046).
    """
    rng = np.random.default_rng(8)
    alpha, runs, looks = 0.05, 200, 10
    alarms = 0
    for _ in range(runs):
        base_all = rng.lognormal(math.log(0.08), 0.5, 9_000)
        canary_all = rng.lognormal(math.log(0.08), 0.5, 1_000)
        for look in range(1, looks + 1):
            result, _ = compare_distribution(
                _histogram(canary_all[: look * 100]),
                _histogram(base_all[: look * 900]),
                alpha=per_look_alpha(alpha, look, looks),
            )
            if result.classification is not Classification.PASS:
                alarms += 1
                break
    assert alarms / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)


def test_an_early_look_does_not_fail_an_irrelevant_shift_on_a_noisy_p99() -> None:
    """The +2% trap at its first look: 18,000 canary requests, the p99 estimate reads 1.06x from
    noise (its standard error is ~1.5%). The shift is real, so the bucket tests are significant;
    the estimate alone would fail the run, the one-sided 95% bound on the ratio does not."""
    base = _lognormal(0.08, 162_000)
    canary = HistogramData(
        BOUNDS, tuple(c * 18_000 / 162_000 for c in _lognormal(0.08 * 1.02, 162_000).counts)
    )
    # Move 60 of the canary's requests from 0.1-0.25 s to 0.25-0.5 s: a p99 of about 1.06x.
    counts = list(canary.counts)
    counts[6] -= 60
    counts[7] += 60
    noisy = HistogramData(BOUNDS, tuple(counts))
    final, quantiles = compare_distribution(noisy, base, alpha=1e-4, allowed_effect=0.05)
    p99 = next(q for q in quantiles if q.q == 0.99)
    assert 1.05 < p99.ratio < 1.1 and 0.01 < p99.log_se < 0.03
    assert final.classification is Classification.HIGH
    early, _ = compare_distribution(noisy, base, alpha=1e-4, allowed_effect=0.05, relevance=0.95)
    assert early.classification is Classification.PASS


def test_binomial_quantiles_match_scipy() -> None:
    for n, q in ((10, 0.5), (1_000, 0.99), (57, 0.1), (250_000, 0.9)):
        for prob in (1e-6, 0.025, 0.5, 0.975, 1 - 1e-6):
            assert binom_ppf(prob, n, q) == binom.ppf(prob, n, q)


@pytest.mark.parametrize(
    "cdf",
    [
        lambda x: gamma.cdf(x, 2, scale=0.04),
        lambda x: weibull_min.cdf(x, 1.5, scale=0.1),
        lambda x: 0.8 * lognorm.cdf(x, 0.3, scale=0.02) + 0.2 * lognorm.cdf(x, 0.4, scale=0.2),
        lambda x: lomax.cdf(x, 3, scale=0.1),
    ],
    ids=["gamma", "weibull", "bimodal", "pareto-tail"],
)
def test_a_two_percent_shift_reads_close_to_two_percent_for_other_shapes_too(
    cdf: Callable[[float], float],
) -> None:
    """The interpolation is exact for log-normal latency; for other shapes a +2% shift of every
    request still reads within a point of +2% at p50, p90 and p99, so an irrelevant shift stays
    within a 5% allowance (linear interpolation reads up to +13%)."""

    def hist(scale: float) -> HistogramData:
        shares = np.diff([0.0, *(cdf(b / scale) for b in BOUNDS[:-1]), 1.0])
        return HistogramData(BOUNDS, tuple(float(x) for x in shares * 1e7))

    base, shifted = hist(1.0), hist(1.02)
    for q in (0.5, 0.9, 0.99):
        assert quantile(shifted, q) / quantile(base, q) == pytest.approx(1.02, abs=0.01)
