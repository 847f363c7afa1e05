"""The detectable ratio and the power curve against the real counts check: simulated Poisson counts at
the ratio the calibration reports are failed by :func:`monitor.stats.counts.compare_counts` (its
exact test at the look's level and its allowance) 80 % of the time, within the simulation's error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitor.backtest.calibration import allowed_ratio, last_look_level
from monitor.models import Classification, CountsData
from monitor.profiles import load_profile
from monitor.stats.counts import compare_counts
from monitor.stats.power import detectable_ratio
from monitor.stats.power_curve import ratio_power_at

PROFILE = load_profile("prometheus-http")
ERRORS = next(c for c in PROFILE.checks if c.name == "http_error_ratio")
RUNS = 2000
# Three binomial standard errors of a share near 0.8 over RUNS runs, plus two points for the normal
# approximation of a few hundred events (the exact test's discreteness and skew).
TOLERANCE = 3 * math.sqrt(0.8 * 0.2 / RUNS) + 0.02


def _caught(ratio: float, rate: float, canary_n: float, baseline_n: float, level: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    canary = rng.poisson(rate * ratio * canary_n, RUNS)
    baseline = rng.poisson(rate * baseline_n, RUNS)
    fails = 0
    for c, b in zip(canary.tolist(), baseline.tolist(), strict=True):
        result = compare_counts(
            CountsData(float(c), canary_n), CountsData(float(b), baseline_n),
            alpha=level, allowed_effect=ERRORS.allowed_effect,
        )  # fmt: skip
        fails += result.classification is Classification.HIGH
    return fails / RUNS


def test_the_check_gets_a_share_of_the_run_s_alpha_at_its_last_look() -> None:
    level = last_look_level(PROFILE, ERRORS)
    assert 0 < level < PROFILE.alpha * PROFILE.decision.final_share


@pytest.mark.parametrize(
    ("rate", "canary_n", "baseline_n", "binds"),
    [
        (0.005, 20_000.0, 100_000.0, "test"),  # ~100 canary events: the test's threshold is the larger
        (0.01, 400_000.0, 400_000.0, "allowance"),  # ~4,000: the estimate must clear 1.25x
    ],
)
def test_the_detectable_ratio_is_caught_four_times_in_five_by_the_real_check(
    rate: float, canary_n: float, baseline_n: float, binds: str
) -> None:
    level = last_look_level(PROFILE, ERRORS)
    ratio = detectable_ratio(rate, canary_n, baseline_n, level, allowed_ratio=allowed_ratio(ERRORS))
    assert ratio is not None
    se = math.sqrt(1 / (ratio * rate * canary_n) + 1 / (rate * baseline_n))
    test_threshold = math.exp(_z(1 - level) * se)
    assert (test_threshold > allowed_ratio(ERRORS)) == (binds == "test")
    assert _caught(ratio, rate, canary_n, baseline_n, level, seed=16) == pytest.approx(0.8, abs=TOLERANCE)
    # The power curve drawn from that ratio says 80 % there, and what the check catches further down.
    floor = allowed_ratio(ERRORS) if binds == "allowance" else 1.0
    assert ratio_power_at(ratio, ratio, level, allowed_ratio=floor) == pytest.approx(0.8)
    lower = 1.0 + (ratio - 1.0) * 0.85
    expected = ratio_power_at(lower, ratio, level, allowed_ratio=floor)
    # The curve holds se at its value at the detectable ratio: a few more points of slack below it.
    assert _caught(lower, rate, canary_n, baseline_n, level, seed=17) == pytest.approx(
        expected, abs=TOLERANCE + 0.03
    )


def test_the_run_s_alpha_without_the_allowance_overstates_what_the_check_catches() -> None:
    """The old reckoning (the run's alpha, no allowance) names a ratio the check misses far more often."""
    naive = detectable_ratio(0.01, 400_000.0, 400_000.0, PROFILE.alpha)
    assert naive is not None
    caught = _caught(naive, 0.01, 400_000.0, 400_000.0, last_look_level(PROFILE, ERRORS), seed=18)
    assert caught < 0.8 - TOLERANCE


def _z(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)
