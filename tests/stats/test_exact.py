"""Exact conditional tests against literal arrays and references computed with scipy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom, binomtest, fisher_exact, hypergeom

from monitor.stats.exact import (
    PeriodCounts,
    RateRatioTest,
    binomial_stratum,
    hypergeom_stratum,
    tail,
)


def _one(k: float, c: float, j: float, b: float) -> RateRatioTest:
    return RateRatioTest(PeriodCounts((k,), (c,), (j,), (b,)))


def test_one_period_is_the_conditional_binomial_test() -> None:
    # 30 canary errors of 1,000 requests against 100 of 9,000: theta0 = 0.1 of 130 errors.
    test = _one(30, 1_000, 100, 9_000)
    assert test.p_value() == pytest.approx(binomtest(30, 130, 0.1, alternative="greater").pvalue, rel=1e-9)
    assert test.p_value(above=False) == pytest.approx(binomtest(30, 130, 0.1, alternative="less").pvalue)
    assert test.estimate() == pytest.approx((30 / 1_000) / (100 / 9_000))


def test_one_period_bounds_are_clopper_pearson_mapped_to_the_ratio() -> None:
    test = _one(30, 1_000, 100, 9_000)
    ci = binomtest(30, 130, 0.1).proportion_ci(confidence_level=0.90, method="exact")
    to_rho = lambda theta: theta / (1 - theta) * 9  # noqa: E731  exposures 1,000 vs 9,000
    assert test.bound(0.05, upper=False) == pytest.approx(to_rho(ci.low), rel=1e-9)
    assert test.bound(0.05, upper=True) == pytest.approx(to_rho(ci.high), rel=1e-9)


def test_stratified_p_value_equals_enumeration_of_every_outcome() -> None:
    # Three periods with different splits: k_t ~ Binomial(n_t, theta_t), theta_t = c_t / (c_t + b_t).
    k, n, c, b = (3, 1, 4), (5, 3, 6), (1.0, 1.0, 3.0), (9.0, 3.0, 3.0)
    test = RateRatioTest(PeriodCounts(k, c, tuple(nt - kt for nt, kt in zip(n, k, strict=True)), b))
    thetas = [ct / (ct + bt) for ct, bt in zip(c, b, strict=True)]
    observed = sum(k)
    upper = sum(
        math.prod(binom.pmf(x, nt, th) for x, nt, th in zip(xs, n, thetas, strict=True))
        for xs in itertools.product(*(range(nt + 1) for nt in n))
        if sum(xs) >= observed
    )
    assert test.p_value() == pytest.approx(upper, rel=1e-9)
    # The smallest attainable p-value: every event on the canary's side.
    assert test.min_p_value() == pytest.approx(math.prod(th**nt for th, nt in zip(thetas, n, strict=True)))


def test_stratified_bounds_invert_the_test() -> None:
    test = RateRatioTest(PeriodCounts((12, 20), (1_000, 3_000), (40, 30), (9_000, 7_000)))
    low, high = test.bound(0.025, upper=False), test.bound(0.025, upper=True)
    assert low < test.estimate() < high
    assert test.p_value(low, above=True) == pytest.approx(0.025, rel=1e-4)
    assert test.p_value(high, above=False) == pytest.approx(0.025, rel=1e-4)


def test_a_split_that_changes_is_not_a_regression() -> None:
    # Period 1: canary 10% of traffic, 1% errors each; period 2: canary 50%, 10% errors each
    # (an incident hitting both). Pooled, the canary's error ratio looks 2.6x the baseline's.
    periods = PeriodCounts((10, 500), (1_000, 5_000), (90, 500), (9_000, 5_000))
    assert RateRatioTest(periods).estimate() == pytest.approx(1.0, abs=1e-6)
    pooled = _one(510, 6_000, 590, 14_000)
    assert pooled.estimate() > 2.0 and pooled.p_value() < 1e-9
    assert RateRatioTest(periods).p_value() > 0.3


def test_no_events_on_one_side_still_gives_finite_estimates_and_open_bounds() -> None:
    test = _one(8, 1_000, 0, 9_000)
    assert math.isfinite(test.estimate()) and test.estimate() > 10
    assert test.bound(0.05, upper=True) == math.inf
    assert test.p_value() == pytest.approx(0.1**8)
    assert _one(0, 1_000, 0, 9_000).p_value() == 1.0


def test_hypergeometric_sum_matches_fishers_exact_test_for_one_table() -> None:
    # 40 of 300 canary requests slower than a bound, 200 of 2,700 baseline requests.
    stratum = hypergeom_stratum(3_000, 240, 300)
    table = [[40, 260], [200, 2_500]]
    assert tail([stratum], 40, upper=True) == pytest.approx(
        fisher_exact(table, alternative="greater").pvalue, rel=1e-9
    )
    assert tail([stratum], 40, upper=False) == pytest.approx(
        fisher_exact(table, alternative="less").pvalue, rel=1e-9
    )
    support = np.arange(stratum.offset, stratum.offset + len(stratum.pmf))
    np.testing.assert_allclose(stratum.pmf, hypergeom.pmf(support, 3_000, 240, 300), rtol=1e-9)


def test_sums_of_strata_by_fft_agree_with_direct_convolution() -> None:
    # Large strata go through the FFT; the same sum built from scipy's pmfs directly must agree.
    strata = [binomial_stratum(40_000, 0.1), binomial_stratum(30_000, 0.2), binomial_stratum(500, 0.5)]
    means = 40_000 * 0.1 + 30_000 * 0.2 + 250
    observed = round(means + 300)
    direct = np.convolve(
        np.convolve(binom.pmf(np.arange(40_001), 40_000, 0.1), binom.pmf(np.arange(30_001), 30_000, 0.2)),
        binom.pmf(np.arange(501), 500, 0.5),
    )
    assert tail(strata, observed, upper=True) == pytest.approx(direct[observed:].sum(), rel=1e-6)
