"""One backtest of one service: find its past deploys, replay them, calibrate on A/A runs, suggest.

:func:`backtest` ties :mod:`~monitor.backtest.discovery`, :mod:`~monitor.backtest.replay`,
:mod:`~monitor.backtest.calibration` and :mod:`~monitor.backtest.suggest` together and reports
progress as it goes, for a command to draw a bar and an ETA from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor.backtest.calibration import MAX_TRIALS, TrialOutcome, calibrate, plan_trials, run_trials
from monitor.backtest.discovery import (
    STEP_S,
    fetch_traffic,
    floor_to_step,
    read_timeline,
    version_traffic_query,
)
from monitor.backtest.replay import (
    STOP,
    Cadence,
    DeployWindows,
    check_stop,
    deploy_windows,
    not_replayed,
    replay_deploy,
    request_for,
)
from monitor.backtest.result import AARun, Backtest, PastDeploy, ReplayedDeploy
from monitor.backtest.suggest import DEFAULT_TARGET, suggest
from monitor.engine.request import AnalysisRequest, RequestDefaults
from monitor.errors import InputError
from monitor.models import Window
from monitor.profiles import Profile

if TYPE_CHECKING:
    from datetime import datetime

    from monitor.config import Settings
    from monitor.sources.prometheus import PrometheusSource

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: ``done`` of ``total`` steps, ``what`` the one just done or begun."""


@dataclass(frozen=True)
class _Planned:
    """A past deploy, its windows and the request that replays it."""

    deploy: PastDeploy
    windows: DeployWindows
    request: AnalysisRequest


class _Counter:
    """Steps done of a total that grows as the backtest learns how much there is to do."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self.done = 0
        self.total = 1

    def grow(self, steps: int, what: str) -> None:
        self.total += steps
        self.report(what)

    def step(self, what: str) -> None:
        self.done += 1
        self.report(what)

    def report(self, what: str) -> None:
        if self._progress is not None:
            self._progress(self.done, self.total, what)


async def backtest(
    source: PrometheusSource,
    service: str,
    environment: str | None,
    since: datetime,
    until: datetime,
    profile: Profile,
    settings: Settings,
    *,
    progress: Progress | None = None,
    false_alarm_target: float = DEFAULT_TARGET,
    max_trials: int = MAX_TRIALS,
    concurrency: int = 4,
    should_stop: Callable[[], bool] | None = None,
) -> Backtest:
    """How ``profile`` would have judged ``service``'s deploys in ``[since, until)``, how often it alarms
    on the service's own noise, and the settings that would keep that at ``false_alarm_target``.

    Deploys and A/A runs are judged as a registration into ``environment`` would have been (its
    warm-up, look interval and durations; the settings' matchers and harm limits).
    ``should_stop``, asked between queries and looks, ends the backtest early with
    :class:`~monitor.backtest.replay.BacktestStopped` once it says so (a caller gone, a shutdown).
    """
    token = STOP.set(should_stop)  # in this task's context, copied by every task it starts
    try:
        if until <= since:
            raise InputError(
                f"the backtest's range ends ({until.isoformat()}) before it starts ({since.isoformat()})"
            )
        if not 0.0 < false_alarm_target < 1.0:
            raise InputError(f"the false-alarm target must be between 0 and 1, got {false_alarm_target:g}")
        span = Window(floor_to_step(since), floor_to_step(until))
        defaults = RequestDefaults.from_settings(settings)
        cadence = Cadence.of(defaults.environments, environment)
        counter = _Counter(progress)
        counter.report("reading each version's traffic")
        query = version_traffic_query(profile, service, defaults.matchers, STEP_S)
        check_stop()
        frame = await fetch_traffic(source, query, span, profile.labels.version, STEP_S)
        check_stop()
        timeline = read_timeline(frame, STEP_S)
        warnings: list[str] = []
        if frame.empty:
            warnings.append(
                f"no traffic of service {service} between {span.start.isoformat()} and "
                f"{span.end.isoformat()} ({query}): check --service and the profile's labels"
            )
        counter.step(f"found {len(timeline.deploys)} deploys")

        planned: list[_Planned] = []
        unjudged: list[ReplayedDeploy] = []
        for deploy in timeline.deploys:
            since_base = timeline.serving_since(deploy.baseline_version, deploy.start)
            windows = deploy_windows(
                deploy, cadence, calibrated=profile.baseline, baseline_since=since_base, until=span.end,
                served=timeline.served,
            )  # fmt: skip
            if isinstance(windows, str):
                warnings.append(f"{deploy.version} at {deploy.start.isoformat()} not replayed: {windows}")
                continue
            warnings.extend(windows.notes)
            if windows.problem is not None:
                unjudged.append(not_replayed(deploy, windows))
                continue
            request = request_for(
                defaults, profile, cadence, service=service, environment=environment,
                canary_version=deploy.version, baseline_version=deploy.baseline_version,
                canary_window=windows.canary, baseline_window=windows.baseline,
                baseline_choice=windows.choice,
            )  # fmt: skip
            planned.append(_Planned(deploy, windows, request))
        trials = plan_trials(timeline, cadence, max_trials=max_trials)
        if not trials:
            warnings.append(
                f"no stretch of one version alone lasts {2 * cadence.max_duration_s + cadence.warmup_s:g} s: "
                "no A/A runs, so no calibration; widen --since"
            )
        counter.grow(len(planned) + len(trials), f"replaying {len(planned)} deploys, {len(trials)} A/A runs")

        gate = asyncio.Semaphore(concurrency)

        async def replay(task: _Planned) -> ReplayedDeploy:
            async with gate:
                replayed = await replay_deploy(task.deploy, task.request, source, task.windows)
            counter.step(f"{task.deploy.version}: {replayed.verdict.value}")
            return replayed

        replayed = [*await asyncio.gather(*(replay(task) for task in planned)), *unjudged]
        replayed.sort(key=lambda r: r.deploy.start)
        check_stop()
        outcomes = await run_trials(
            trials, source, defaults, profile, cadence, service=service, environment=environment,
            concurrency=concurrency, done=lambda t: counter.step(f"A/A {t.version} ({t.baseline})"),
        )  # fmt: skip
        calibration = calibrate(outcomes, profile)
        suggestions = suggest(outcomes, calibration, profile, false_alarm_target)
        return Backtest(
            service=service,
            environment=environment,
            profile=profile.name,
            span=span,
            deploys=tuple(replayed),
            calibration=calibration,
            suggestions=suggestions,
            false_alarm_target=false_alarm_target,
            warnings=tuple(warnings),
            aa_runs=tuple(map(_aa_run, outcomes)),
        )
    finally:
        STOP.reset(token)


def _aa_run(outcome: TrialOutcome) -> AARun:
    """An A/A run's outcome as the result reports it."""
    trial = outcome.trial
    return AARun(
        trial.version,
        trial.baseline,
        trial.canary_window,
        outcome.verdict.status,
        tuple(sorted(outcome.alarmed)),
    )
