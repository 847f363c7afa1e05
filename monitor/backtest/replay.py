"""A past deploy replayed as the daemon would have judged it: same request, same looks, same decisions.

The request is built by :func:`monitor.engine.request.build_request` from the settings' defaults and
the environment's warm-up, look interval and durations (what a registration would have got), and
judged look by look by :func:`monitor.engine.replay.analyze`, the code ``monitor analyze --interval``
and the scheduler run. Canary mode when both versions served together (over that overlap), before/after
otherwise (the old version's window just before the switch, as long as the analysis may run).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.backtest.cache import CachedSource
from monitor.backtest.result import PastDeploy, ReplayedDeploy, ReplayedLook
from monitor.engine.replay import analyze
from monitor.engine.request import (
    AnalysisRequest,
    RequestDefaults,
    baseline_window,
    build_request,
    resolve_baseline,
    seasonal_problem,
)
from monitor.environments import EnvironmentDefaults, Environments
from monitor.models import BaselineChoice, CheckPurpose, Classification, Mode, Verdict, Window
from monitor.profiles import Profile
from monitor.sources.base import MetricsSource


@dataclass(frozen=True)
class Cadence:
    """How a deployment's analysis runs in an environment: warm-up, look interval, durations."""

    warmup_s: float
    interval_s: float
    min_duration_s: float
    max_duration_s: float
    baseline: BaselineChoice = BaselineChoice.PREVIOUS  # before/after: the setting (auto unresolved)

    @classmethod
    def of(cls, environments: Environments, environment: str | None) -> Cadence:
        """The environment's defaults (an unnamed or unknown environment: the built-in defaults)."""
        env = environments.get(environment) if environment else None
        env = env or EnvironmentDefaults(environment or "default")
        return cls(env.warmup_s, env.interval_s, env.min_duration_s, env.max_duration_s, env.baseline)


def request_for(
    defaults: RequestDefaults,
    profile: Profile,
    cadence: Cadence,
    *,
    service: str,
    environment: str | None,
    canary_version: str,
    baseline_version: str,
    canary_window: Window,
    baseline_window: Window | None,
    baseline_choice: BaselineChoice | None = None,
) -> AnalysisRequest:
    """The analysis request of one replayed run, with the environment's minimum duration as a
    registration would have had it (``baseline_choice``: see :func:`build_request`)."""
    decision = replace(profile.decision, min_duration_s=cadence.min_duration_s)
    return build_request(
        defaults,
        replace(profile, decision=decision),
        service=service,
        canary_version=canary_version,
        baseline_version=baseline_version,
        canary_window=canary_window,
        baseline_window=baseline_window,
        interval_s=cadence.interval_s,
        environment=environment,
        baseline_choice=baseline_choice,
    )


@dataclass(frozen=True)
class DeployWindows:
    """The windows a replayed deploy is judged over; ``baseline`` None is canary mode."""

    canary: Window
    baseline: Window | None = None
    choice: BaselineChoice | None = None  # before/after: how ``baseline`` was chosen


def deploy_windows(
    deploy: PastDeploy,
    cadence: Cadence,
    *,
    calibrated: str | None = None,
    baseline_since: datetime | None,
    until: datetime,
) -> DeployWindows | str:
    """The windows of a replayed deploy, or why it cannot be replayed (a pure function).

    The canary window starts after the warm-up and lasts at most the maximum duration, ending
    where the comparison stops being possible: the overlap's end in canary mode, the version's
    last minute (or ``until``) before/after. Before/after, the old version's window is the
    environment's baseline choice (``auto``: the profile's ``calibrated`` one, else ``previous``)
    as the daemon chooses it; ``previous`` is cut to the stretch the old version served
    (``baseline_since`` on).
    """
    warmup = timedelta(seconds=cadence.warmup_s)
    longest = timedelta(seconds=cadence.max_duration_s)
    if deploy.overlap is not None:
        start = deploy.overlap.start + warmup
        canary = Window(start, min(start + longest, deploy.overlap.end))
        if canary.duration_s < cadence.interval_s:
            return f"its overlap after the {cadence.warmup_s:g} s warm-up is shorter than one look"
        return DeployWindows(canary)
    start = deploy.start + warmup
    canary = Window(start, min(start + longest, deploy.end or until, until))
    if canary.duration_s < cadence.interval_s:
        return f"the time it served after the {cadence.warmup_s:g} s warm-up is shorter than one look"
    choice = resolve_baseline(cadence.baseline, calibrated)
    if seasonal_problem(choice, canary, deploy.start) is not None:
        choice = BaselineChoice.PREVIOUS  # as the daemon does when the seasonal window cannot serve
    baseline = baseline_window(choice, Window(start, start + longest), deploy.start)
    if choice is BaselineChoice.PREVIOUS and baseline_since is not None and baseline_since > baseline.start:
        baseline = Window(baseline_since, baseline.end)
    if baseline.duration_s < cadence.interval_s:
        return f"{deploy.baseline_version} served only {baseline.duration_s:g} s before the switch"
    return DeployWindows(canary, baseline, choice)


def replayed_look(look: int, verdict: Verdict) -> ReplayedLook:
    """A look's verdict as a backtest records it: per check its classification, effect and interval."""
    checks = tuple(
        (
            c.name,
            c.classification.value,
            c.effect,
            c.interval[0] if c.interval else None,
            c.interval[1] if c.interval else None,
        )
        for c in verdict.checks
    )
    return ReplayedLook(look, verdict.canary.window.end, verdict.status, verdict.score, checks)


async def run_looks(request: AnalysisRequest, source: MetricsSource) -> tuple[Verdict, list[Verdict]]:
    """The final verdict of ``request`` replayed look by look, and every look's verdict.

    Through a :class:`CachedSource` (unless ``source`` is one already, shared by runs that read the
    same windows): a fixed baseline window is read once, not at every look.
    """
    looks: list[Verdict] = []
    longest_s = request.canary_window.duration_s
    cached = source if isinstance(source, CachedSource) else CachedSource(source, longest_s)
    final = await analyze(request, cached, on_look=looks.append)
    return final, looks


async def replay_deploy(
    deploy: PastDeploy,
    request: AnalysisRequest,
    source: MetricsSource,
) -> ReplayedDeploy:
    """``deploy`` judged through the daemon's looks over ``request``'s windows."""
    final, looks = await run_looks(request, source)
    return ReplayedDeploy(
        deploy=deploy,
        mode=Mode.CANARY if request.baseline_window is None else Mode.BEFORE_AFTER,
        canary_window=request.canary_window,
        baseline_window=request.baseline_window,
        verdict=final.status,
        decided_at=final.decided_at,
        looks=tuple(replayed_look(i, v) for i, v in enumerate(looks, start=1)),
        summary=final.summary,
    )


def alarmed(verdict: Verdict) -> set[str]:
    """The regression checks that found a regression in ``verdict`` (high or low beyond allowance)."""
    return {
        c.name
        for c in verdict.checks
        if c.classification in (Classification.HIGH, Classification.LOW)
        and c.purpose is CheckPurpose.REGRESSION
    }
