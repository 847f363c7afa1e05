"""Replaying past deploys: the windows each is judged over (pure), and a whole backtest of a simulated
three-day history backfilled into a real Prometheus, against the history's ground truth."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from scipy.stats import binomtest

import monitor.backtest.replay as replay_module
from monitor.backtest.replay import (
    STOP,
    BacktestStopped,
    Cadence,
    DeployWindows,
    deploy_windows,
    not_replayed,
    replay_deploy,
    request_for,
)
from monitor.backtest.result import Backtest, PastDeploy, ReplayedDeploy
from monitor.backtest.run import backtest
from monitor.config import Settings
from monitor.engine.request import AnalysisRequest, RequestDefaults
from monitor.models import BaselineChoice, Mode, Verdict, VerdictStatus, VersionWindow, Window
from monitor.profiles import load_profile
from monitor.simulate.history import SMALL, SimulatedHistory, simulate_history
from monitor.simulate.history_prometheus import history_into_prometheus
from monitor.sources.base import MetricsSource
from monitor.sources.prometheus import PrometheusSource

T0 = datetime(2026, 11, 2, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)
CADENCE = Cadence(warmup_s=120.0, interval_s=60.0, min_duration_s=900.0, max_duration_s=3600.0)


def test_a_canary_is_judged_over_its_overlap_after_the_warm_up() -> None:
    deploy = PastDeploy("v2", "v1", T0, Window(T0, T0 + 40 * MIN))
    windows = deploy_windows(deploy, CADENCE, baseline_since=None, until=T0 + 50 * MIN)
    # The daemon's plan (an hour after the warm-up), its data ending with the overlap.
    assert windows == DeployWindows(
        Window(T0 + 2 * MIN, T0 + 62 * MIN), data_end=T0 + 40 * MIN, cut="its canary phase ended after 40 min"
    )
    assert isinstance(windows, DeployWindows) and windows.judged == Window(T0 + 2 * MIN, T0 + 40 * MIN)


def test_a_switch_is_judged_against_the_old_versions_last_hour_cut_to_when_it_served() -> None:
    deploy = PastDeploy("v2", "v1", T0, end=T0 + 30 * MIN)
    windows = deploy_windows(deploy, CADENCE, baseline_since=None, until=T0 + 5 * 60 * MIN)
    plan = Window(T0 + 2 * MIN, T0 + 62 * MIN)  # the daemon's hour; the data ends at the replacement
    assert windows == DeployWindows(plan, Window(T0 - 60 * MIN, T0), BaselineChoice.PREVIOUS,
                                    T0 + 30 * MIN, "replaced after 30 min")  # fmt: skip
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


class _Looks:
    """Stands in for the engine's evaluate_look: records each look's place in the plan; a look
    decides (pass) only as the plan's last, as a quiet healthy deploy's would."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, bool]] = []

    async def __call__(
        self, source: object, request: AnalysisRequest, at: datetime, look: int, *,
        last_look: bool, planned_looks: int | None = None, telemetry: object = None,
    ) -> Verdict:  # fmt: skip
        self.calls.append((look, planned_looks, last_look))
        status = VerdictStatus.PASS if last_look else VerdictStatus.RUNNING
        canary = VersionWindow(request.canary_version, Window(request.canary_window.start, at))
        baseline = VersionWindow(request.baseline_version, request.baseline_window or canary.window)
        return Verdict(request.service, None, canary, baseline, status, 0.0, f"look {look}", ())


class _Unasked:
    """A source nobody queries (the looks are stood in for)."""

    url = "http://unasked"


def _replay(deploy: PastDeploy, until: datetime, looks: _Looks) -> ReplayedDeploy:
    windows = deploy_windows(deploy, CADENCE, baseline_since=None, until=until)
    assert isinstance(windows, DeployWindows)
    request = request_for(
        RequestDefaults(), load_profile("otel-http"), CADENCE, service="checkout", environment=None,
        canary_version=deploy.version, baseline_version=deploy.baseline_version,
        canary_window=windows.canary, baseline_window=windows.baseline, baseline_choice=windows.choice,
    )  # fmt: skip
    source = cast(MetricsSource, _Unasked())
    return asyncio.run(replay_deploy(deploy, request, source, windows))


def test_a_deploy_replaced_early_keeps_the_daemons_plan_and_stays_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Replaced 14 minutes in: the daemon planned 60 looks (an hour at one a minute after a 2-minute
    # warm-up) and would still be looking; 12 of them have data, none of them the deciding last.
    looks = _Looks()
    monkeypatch.setattr(replay_module, "evaluate_look", looks)
    replayed = _replay(PastDeploy("v2", "v1", T0, end=T0 + 14 * MIN), T0 + 5 * 60 * MIN, looks)
    assert looks.calls == [(n, 60, False) for n in range(1, 13)]
    assert replayed.verdict is VerdictStatus.RUNNING and replayed.decided_at is None
    assert replayed.summary.startswith("incomplete: replaced after 14 min, after 12 of the daemon's 60 looks")
    assert replayed.canary_window == Window(T0 + 2 * MIN, T0 + 14 * MIN)


def test_a_deploy_still_serving_at_the_ranges_end_is_running(monkeypatch: pytest.MonkeyPatch) -> None:
    looks = _Looks()
    monkeypatch.setattr(replay_module, "evaluate_look", looks)
    replayed = _replay(PastDeploy("v2", "v1", T0), T0 + 32 * MIN, looks)
    assert len(looks.calls) == 30 and all(planned == 60 and not last for _, planned, last in looks.calls)
    assert replayed.verdict is VerdictStatus.RUNNING
    assert "still serving when the range ends, 32 min in" in replayed.summary


def test_a_deploy_serving_the_whole_plan_is_decided_at_its_last_look(monkeypatch: pytest.MonkeyPatch) -> None:
    looks = _Looks()
    monkeypatch.setattr(replay_module, "evaluate_look", looks)
    replayed = _replay(PastDeploy("v2", "v1", T0, end=T0 + 3 * 60 * MIN), T0 + 5 * 60 * MIN, looks)
    assert looks.calls[-1] == (60, 60, True) and len(looks.calls) == 60
    assert replayed.verdict is VerdictStatus.PASS and replayed.summary == "look 60"


def test_a_stopped_backtest_stops_between_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    looks = _Looks()
    monkeypatch.setattr(replay_module, "evaluate_look", looks)
    stop = threading.Event()
    original = looks.__call__

    async def stopping(*args: Any, **kwargs: Any) -> Verdict:
        verdict = await original(*args, **kwargs)
        if len(looks.calls) == 3:
            stop.set()  # as a shutdown would, from another thread
        return verdict

    monkeypatch.setattr(replay_module, "evaluate_look", stopping)
    token = STOP.set(stop.is_set)
    try:
        with pytest.raises(BacktestStopped):
            _replay(PastDeploy("v2", "v1", T0), T0 + 5 * 60 * MIN, looks)
    finally:
        STOP.reset(token)
    assert len(looks.calls) == 3


def _seasonal(
    choice: BaselineChoice, served: bool, calibrated: str | None = None
) -> tuple[DeployWindows | str, list[tuple[str, Window]]]:
    asked: list[tuple[str, Window]] = []

    def serving(version: str, window: Window) -> bool:
        asked.append((version, window))
        return served

    cadence = Cadence(120.0, 60.0, 900.0, 3600.0, choice)
    deploy = PastDeploy("v2", "v1", T0, end=T0 + 32 * MIN)
    until = T0 + 5 * 60 * MIN
    return deploy_windows(deploy, cadence, calibrated=calibrated, baseline_since=None, until=until,
                          served=serving), asked  # fmt: skip


def test_a_named_day_baseline_the_old_version_did_not_fully_serve_is_inconclusive_and_said() -> None:
    windows, asked = _seasonal(BaselineChoice.DAY, served=False)
    day = timedelta(days=1)
    # The minutes the looks would read a day earlier: from the warm-up's end to where the data stops.
    assert asked == [("v1", Window(T0 + 2 * MIN - day, T0 + 32 * MIN - day))]
    assert isinstance(windows, DeployWindows) and windows.choice is BaselineChoice.DAY
    assert windows.problem is not None and "v1 did not serve all of" in windows.problem
    assert len(windows.notes) == 1 and "inconclusive" in windows.notes[0]
    replayed = not_replayed(PastDeploy("v2", "v1", T0, end=T0 + 32 * MIN), windows)
    assert replayed.verdict is VerdictStatus.INCONCLUSIVE and replayed.looks == ()
    assert replayed.summary.startswith("inconclusive: the environment's day baseline cannot serve it")
    served, _ = _seasonal(BaselineChoice.DAY, served=True)
    assert isinstance(served, DeployWindows) and served.problem is None and served.notes == ()
    assert served.baseline == Window(T0 + 2 * MIN - day, T0 + 62 * MIN - day)


def test_an_auto_day_baseline_falls_back_to_previous_with_a_warning() -> None:
    windows, _ = _seasonal(BaselineChoice.AUTO, served=False, calibrated="day")
    assert isinstance(windows, DeployWindows) and windows.problem is None
    assert windows.choice is BaselineChoice.PREVIOUS and windows.baseline == Window(T0 - 60 * MIN, T0)
    assert len(windows.notes) == 1 and "compared with the previous window instead" in windows.notes[0]


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
        assert calibration.trials >= 8  # runs 2 x (max duration + warm-up) apart: no shared minute
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
