"""Replaying past deploys: the windows each is judged over (pure), and a whole backtest of a simulated
three-day history backfilled into a real Prometheus, against the history's ground truth."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from scipy.stats import binomtest

from monitor.backtest.replay import Cadence, DeployWindows, deploy_windows
from monitor.backtest.result import Backtest, PastDeploy
from monitor.backtest.run import backtest
from monitor.config import Settings
from monitor.models import BaselineChoice, Mode, VerdictStatus, Window
from monitor.profiles import load_profile
from monitor.simulate.history import SMALL, SimulatedHistory, simulate_history
from monitor.simulate.history_prometheus import history_into_prometheus
from monitor.sources.prometheus import PrometheusSource

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)
CADENCE = Cadence(warmup_s=120.0, interval_s=60.0, min_duration_s=900.0, max_duration_s=3600.0)


def test_a_canary_is_judged_over_its_overlap_after_the_warm_up() -> None:
    deploy = PastDeploy("v2", "v1", T0, Window(T0, T0 + 40 * MIN))
    windows = deploy_windows(deploy, CADENCE, baseline_since=None, until=T0 + 50 * MIN)
    assert windows == DeployWindows(Window(T0 + 2 * MIN, T0 + 40 * MIN))


def test_a_switch_is_judged_against_the_old_versions_last_hour_cut_to_when_it_served() -> None:
    deploy = PastDeploy("v2", "v1", T0, end=T0 + 30 * MIN)
    windows = deploy_windows(deploy, CADENCE, baseline_since=None, until=T0 + 5 * 60 * MIN)
    assert windows == DeployWindows(Window(T0 + 2 * MIN, T0 + 30 * MIN), Window(T0 - 60 * MIN, T0),
                                    BaselineChoice.PREVIOUS)  # fmt: skip
    cut = deploy_windows(deploy, CADENCE, baseline_since=T0 - 20 * MIN, until=T0 + 5 * 60 * MIN)
    assert isinstance(cut, DeployWindows) and cut.baseline == Window(T0 - 20 * MIN, T0)


def test_a_seasonal_environment_and_a_calibrated_profile_choose_the_day_baseline() -> None:
    deploy = PastDeploy("v2", "v1", T0)
    auto = Cadence(120.0, 60.0, 900.0, 3600.0, BaselineChoice.AUTO)
    windows = deploy_windows(deploy, auto, calibrated="day", baseline_since=None, until=T0 + 2 * 60 * MIN)
    day = timedelta(days=1)
    canary = Window(T0 + 2 * MIN, T0 + 62 * MIN)
    assert windows == DeployWindows(canary, Window(canary.start - day, canary.end - day), BaselineChoice.DAY)
    plain = deploy_windows(deploy, auto, baseline_since=None, until=T0 + 2 * 60 * MIN)
    assert isinstance(plain, DeployWindows) and plain.choice is BaselineChoice.PREVIOUS


def test_a_deploy_too_short_to_look_at_says_why() -> None:
    short = PastDeploy("v2", "v1", T0, Window(T0, T0 + 2 * MIN))
    assert "shorter than one look" in str(
        deploy_windows(short, CADENCE, baseline_since=None, until=T0 + MIN * 90)
    )
    fresh = PastDeploy("v2", "v1", T0)
    assert "served only 30 s" in str(
        deploy_windows(fresh, CADENCE, baseline_since=T0 - timedelta(seconds=30), until=T0 + MIN * 90)
    )


@pytest.fixture(scope="module")
def history() -> SimulatedHistory:
    return simulate_history(SMALL)


@pytest.fixture(scope="module")
def backtested(
    history: SimulatedHistory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Backtest, list[tuple[int, int, str]]]]:
    """The backtest of the small history (staging's cadence, 45 A/A runs), and its progress reports."""
    reports: list[tuple[int, int, str]] = []
    with history_into_prometheus(history, tmp_path_factory.mktemp("history")) as prometheus:

        async def run() -> Backtest:
            source = PrometheusSource(prometheus.url)
            try:
                return await backtest(
                    source, SMALL.service, "staging", history.span.start, history.span.end,
                    load_profile("otel-http"), Settings(), max_trials=45,
                    progress=lambda done, total, what: reports.append((done, total, what)),
                )  # fmt: skip
            finally:
                await source.close()

        yield asyncio.run(run()), reports


@pytest.mark.prometheus
@pytest.mark.slow
def test_the_backtest_finds_every_deploy_of_the_history(
    backtested: tuple[Backtest, list[tuple[int, int, str]]], history: SimulatedHistory
) -> None:
    result, _ = backtested
    found = [(d.deploy.version, d.deploy.baseline_version, d.deploy.mode) for d in result.deploys]
    truth = [(d.version, d.previous_version, d.mode) for d in history.deploys]
    assert found == truth and any(m is Mode.CANARY for *_, m in truth)
    for replayed, simulated in zip(result.deploys, history.deploys, strict=True):
        assert abs((replayed.deploy.start - simulated.start).total_seconds()) <= 60
    assert result.warnings == ()


@pytest.mark.prometheus
@pytest.mark.slow
def test_the_regression_fails_and_the_healthy_deploys_do_not(
    backtested: tuple[Backtest, list[tuple[int, int, str]]], history: SimulatedHistory
) -> None:
    result, _ = backtested
    verdicts = {d.deploy.version: d for d in result.deploys}
    for simulated in history.deploys:
        replayed = verdicts[simulated.version]
        assert replayed.looks and replayed.looks[-1].status is replayed.verdict
        if simulated.regressed:
            assert replayed.verdict is VerdictStatus.FAIL, replayed.summary
        else:
            assert replayed.verdict is not VerdictStatus.FAIL, replayed.summary


@pytest.mark.prometheus
@pytest.mark.slow
def test_a_a_runs_alarm_no_more_than_the_profiles_false_alarm_budget_allows(
    backtested: tuple[Backtest, list[tuple[int, int, str]]],
) -> None:
    result, _ = backtested
    assert {c.baseline for c in result.calibration} == {"previous", "day"}  # three days: no week earlier
    for calibration in result.calibration:
        assert calibration.trials >= 10
        # At most the run's alpha (1 %) per check, up to the binomial's chance of more.
        assert (
            binomtest(calibration.false_alarms, calibration.trials, 0.01, alternative="greater").pvalue
            > 0.001
        )
        assert calibration.rate_interval[0] <= 0.01
    assert {s.check for s in result.suggestions} == {
        "http_error_ratio",
        "http_latency",
        "cpu_per_request",
        "memory",
    }


@pytest.mark.prometheus
@pytest.mark.slow
def test_progress_counts_up_to_its_total(backtested: tuple[Backtest, list[tuple[int, int, str]]]) -> None:
    result, reports = backtested
    dones = [done for done, _, _ in reports]
    assert dones == sorted(dones) and all(done <= total for done, total, _ in reports)
    # One step for the discovery, then one per replayed deploy and per A/A run.
    assert reports[-1][0] == reports[-1][1] > len(result.deploys) + 1
