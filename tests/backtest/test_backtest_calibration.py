"""A/A calibration: its statistics (exact intervals, detectable effects checked by simulation) and the
placement of A/A runs on stretches where one version served alone."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor.backtest.calibration import BASELINES, plan_trials
from monitor.backtest.discovery import Timeline
from monitor.backtest.replay import Cadence
from monitor.models import VersionWindow, Window
from monitor.simulate.history import SMALL, simulate_history
from monitor.stats.power import (
    detectable_from_interval,
    detectable_ratio,
    false_alarm_interval,
    upper_quantile,
)
from monitor.stats.special import ndtri

T0 = datetime(2026, 11, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_no_false_alarm_in_n_runs_bounds_the_rate_by_the_exact_formula() -> None:
    # Clopper-Pearson with 0 successes: the upper end solves (1 - p)^n = 0.025.
    low, high = false_alarm_interval(0, 65)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 65))
    low, high = false_alarm_interval(6, 65)
    assert 0.03 < low < 6 / 65 < high < 0.2
    assert false_alarm_interval(0, 0) == (0.0, 1.0)


def test_the_detectable_ratio_is_caught_four_times_in_five_by_the_test_it_assumes() -> None:
    """Simulated Poisson counts at the detectable ratio; a one-sided Wald test on the log-ratio at
    alpha = 0.01 should reject in 80 % of 20,000 runs (seeded)."""
    rate, n_canary, n_baseline, alpha = 0.005, 40_000.0, 200_000.0, 0.01
    ratio = detectable_ratio(rate, n_canary, n_baseline, alpha)
    assert ratio is not None and 1.1 < ratio < 2.0
    rng = np.random.default_rng(16)
    runs = 20_000
    canary = rng.poisson(rate * ratio * n_canary, runs).astype(float)
    baseline = rng.poisson(rate * n_baseline, runs).astype(float)
    estimate = np.log((canary / n_canary) / (baseline / n_baseline))
    se = np.sqrt(1 / canary + 1 / baseline)
    power = float(np.mean(estimate / se > ndtri(1 - alpha)))
    # The normal approximation of a few hundred events is within a few points of the real power.
    assert power == pytest.approx(0.8, abs=0.03)


def test_more_traffic_detects_smaller_effects_and_no_events_none() -> None:
    small = detectable_ratio(0.01, 1e4, 1e4, 0.01)
    large = detectable_ratio(0.01, 1e6, 1e6, 0.01)
    assert small is not None and large is not None and 1.0 < large < small
    assert detectable_ratio(0.0, 1e4, 1e4, 0.01) is None


def test_an_interval_half_width_scales_to_the_effect_with_eighty_percent_power() -> None:
    z_alpha, z_power = float(ndtri(0.99)), float(ndtri(0.8))
    se = 0.05
    assert detectable_from_interval(z_alpha * se, 0.01) == pytest.approx((z_alpha + z_power) * se)


def test_an_allowance_beyond_the_test_s_reach_sets_the_detectable_effect() -> None:
    z_alpha, z_power = float(ndtri(0.99)), float(ndtri(0.8))
    assert detectable_from_interval(z_alpha * 0.05, 0.01, allowed=0.5) == pytest.approx(0.5 + z_power * 0.05)
    # A finer allowance than the test's threshold changes nothing.
    assert detectable_from_interval(z_alpha * 0.05, 0.01, allowed=0.01) == pytest.approx(
        (z_alpha + z_power) * 0.05
    )
    # Counts: at high traffic the allowance binds, 1.25 * exp(z_power * se), above the bare test's ratio.
    bare = detectable_ratio(0.01, 1e6, 1e6, 0.001)
    allowed = detectable_ratio(0.01, 1e6, 1e6, 0.001, allowed_ratio=1.25)
    assert bare is not None and allowed is not None and bare < 1.25 < allowed < 1.3


def test_the_upper_quantile_is_an_observed_value_and_the_maximum_of_few() -> None:
    values = [float(v) for v in range(1, 201)]
    assert upper_quantile(values, 0.99) == 198.0
    assert upper_quantile(values[:50], 0.99) == 50.0
    with pytest.raises(ValueError, match="no values"):
        upper_quantile([], 0.99)


CADENCE = Cadence(warmup_s=120.0, interval_s=60.0, min_duration_s=900.0, max_duration_s=3600.0)


def _timeline(*alone: tuple[str, datetime, datetime]) -> Timeline:
    windows = tuple(VersionWindow(v, Window(a, b)) for v, a, b in alone)
    return Timeline(Window(T0, T0 + 30 * 24 * HOUR), {}, windows, ())


def test_a_a_runs_fit_inside_stretches_of_one_version_with_room_before_and_after() -> None:
    timeline = _timeline(("v1", T0, T0 + 10 * HOUR), ("v2", T0 + 11 * HOUR, T0 + 13 * HOUR))
    trials = plan_trials(timeline, CADENCE)
    assert {t.baseline for t in trials} == {"previous"}  # nothing ran alone a day earlier
    assert all(t.version == "v1" for t in trials)  # v2's two hours leave no room after the warm-up
    for t in trials:
        assert timeline.ran_alone(t.version, Window(t.baseline_window.start, t.canary_window.end))
        assert t.canary_window.duration_s == 3600.0 and t.baseline_window.duration_s == 3600.0
        assert (t.canary_window.start - t.baseline_window.end).total_seconds() == CADENCE.warmup_s
    # Pseudo-deploys 2 x (1 h + 2 min) apart, the first an hour in: at 1:00, 3:04, 5:08 and 7:12.
    assert len(trials) == 4


def test_seasonal_a_a_runs_need_the_version_alone_a_day_or_a_week_earlier() -> None:
    timeline = _timeline(("v1", T0, T0 + 9 * 24 * HOUR))
    trials = plan_trials(timeline, CADENCE, max_trials=3000)
    by_choice = {c: [t for t in trials if t.baseline == c] for c in BASELINES}
    assert len(by_choice["previous"]) > len(by_choice["day"]) > len(by_choice["week"]) > 0
    for choice, back in (("day", timedelta(days=1)), ("week", timedelta(days=7))):
        for t in by_choice[choice]:
            assert t.baseline_window == Window(t.canary_window.start - back, t.canary_window.end - back)
            assert t.baseline_window.start >= T0


def test_the_number_of_a_a_runs_is_bounded_and_spread_over_the_range() -> None:
    timeline = _timeline(("v1", T0, T0 + 30 * 24 * HOUR))
    trials = plan_trials(timeline, CADENCE, max_trials=30)
    previous = sorted(t.canary_window.start for t in trials if t.baseline == "previous")
    assert len(trials) <= 30 and len(previous) == 10
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(previous)]
    # Evenly spread over 30 days: about three days apart, not the first ten hours.
    assert min(gaps) > 2 * 86400 and math.isclose(max(gaps), min(gaps), rel_tol=0.2)


def _intersects(a: Window, b: Window) -> bool:
    return a.start < b.end and b.start < a.end


@pytest.mark.parametrize("cadence", [CADENCE, Cadence(300.0, 60.0, 600.0, 1800.0)])
def test_no_two_a_a_runs_of_the_small_history_read_a_common_minute(cadence: Cadence) -> None:
    """The 3-day SMALL history: every run's pseudo-canary and baseline windows are apart from every
    other run's (runs of several baseline choices on one pseudo-canary share it, and only it)."""
    history = simulate_history(SMALL, end_unix_s=1_790_000_000)
    alone = tuple(VersionWindow(v, w) for v, w in history.solo_windows())
    timeline = Timeline(history.span, {}, alone, ())
    trials = plan_trials(timeline, cadence, max_trials=3000)
    assert {t.baseline for t in trials} >= {"previous", "day"} and len(trials) > 20
    for a, b in itertools.combinations(trials, 2):
        pairs = [(a.baseline_window, b.baseline_window)]
        if a.canary_window != b.canary_window:
            pairs += [
                (a.canary_window, b.canary_window),
                (a.canary_window, b.baseline_window),
                (a.baseline_window, b.canary_window),
            ]
        assert not any(_intersects(x, y) for x, y in pairs), (a, b)
    starts = sorted({t.canary_window.start for t in trials})
    step_s = 2 * (cadence.max_duration_s + cadence.warmup_s)
    assert min((b - a).total_seconds() for a, b in itertools.pairwise(starts)) >= step_s
