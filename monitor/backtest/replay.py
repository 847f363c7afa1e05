"""A past deploy replayed as the daemon would have judged it: same request, same looks, same decisions.

The request is built by :func:`monitor.engine.request.build_request` from the settings' defaults and
the environment's warm-up, look interval and durations (what a registration would have got), and
judged look by look by :func:`monitor.engine.evaluate.evaluate_look` at the scheduler's look times
(:func:`monitor.engine.replay.look_times`), the code ``monitor analyze --interval`` and the daemon
run. Canary mode when both versions served together (over that overlap), before/after otherwise
(the old version's window just before the switch, as long as the analysis may run). A deploy whose
data ends before the daemon's plan does (replaced, its canary phase over, still serving at the
range's end) keeps the plan's looks and alpha spending and stops where the data stops: ``running``,
incomplete, unless a look before then decided as the daemon's would have.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.backtest.cache import CachedSource
from monitor.backtest.result import PastDeploy, ReplayedDeploy, ReplayedLook
from monitor.engine.evaluate import evaluate_look
from monitor.engine.replay import look_times
from monitor.engine.request import (
    AnalysisRequest,
    RequestDefaults,
    baseline_window,
    build_request,
    choose_baseline,
    resolve_baseline,
)
from monitor.environments import EnvironmentDefaults, Environments
from monitor.errors import InputError, MonitorError
from monitor.models import (
    BaselineChoice,
    CheckPurpose,
    Classification,
    Mode,
    Verdict,
    VerdictStatus,
    Window,
)
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
    """The windows a replayed deploy is judged over; ``baseline`` None is canary mode.

    ``canary`` is the daemon's plan (warm-up end to the maximum duration), whose looks and alpha
    spending the replay keeps; ``data_end``, when the comparison's data stops before the plan ends
    (the deploy replaced, its canary phase over, the range's end), is where the looks stop, ``cut``
    says why in words. ``problem`` is why the daemon's comparison cannot be replayed faithfully (the
    deploy is then inconclusive, not judged); ``notes`` are warnings for the backtest's reader.
    """

    canary: Window
    baseline: Window | None = None
    choice: BaselineChoice | None = None  # before/after: how ``baseline`` was chosen
    data_end: datetime | None = None
    cut: str = ""
    problem: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def judged(self) -> Window:
        """The part of the plan the data covers: where looks can run."""
        end = self.canary.end if self.data_end is None else min(self.data_end, self.canary.end)
        return Window(self.canary.start, end)


def _minutes(start: datetime, end: datetime) -> str:
    return f"{(end - start).total_seconds() / 60:.0f} min"


def _cut(
    plan: Window, stops: datetime, until: datetime, began: datetime, *, ongoing: str, ended: str
) -> tuple[datetime | None, str]:
    """Where the data stops (``stops``) before ``plan`` ends, and why in words; ``(None, "")`` if not.

    ``began`` is when what stops began; ``ongoing`` words a stop at the range's end (``until``),
    ``ended`` one before it.
    """
    if stops >= plan.end:
        return None, ""
    if stops >= until:
        return stops, f"{ongoing} when the range ends, {_minutes(began, stops)} in"
    return stops, f"{ended} after {_minutes(began, stops)}"


def deploy_windows(
    deploy: PastDeploy,
    cadence: Cadence,
    *,
    calibrated: str | None = None,
    baseline_since: datetime | None,
    until: datetime,
    served: Callable[[str, Window], bool] | None = None,
) -> DeployWindows | str:
    """The windows of a replayed deploy, or why it cannot be replayed (a pure function).

    The canary window is the daemon's plan: from the warm-up's end for the maximum duration. Its
    data ends where the comparison stops being possible: the overlap's end in canary mode, the
    version's last minute (or ``until``) before/after; looks past it are not run, so a deploy cut
    short is never judged over fewer looks than the daemon planned. Before/after, the old version's
    window is the environment's baseline choice (``auto``: the profile's ``calibrated`` one, else
    ``previous``) as the daemon chooses it; ``previous`` is cut to the stretch the old version
    served (``baseline_since`` on). A seasonal choice needs the old version to have served the
    whole earlier window (``served(version, window)``, when given): else a named one is a
    ``problem`` and ``auto`` falls back to ``previous``, with a note either way.
    """
    warmup = timedelta(seconds=cadence.warmup_s)
    longest = timedelta(seconds=cadence.max_duration_s)
    if deploy.overlap is not None:
        start = deploy.overlap.start + warmup
        plan = Window(start, start + longest)
        data_end, cut = _cut(
            plan, deploy.overlap.end, until, deploy.overlap.start,
            ongoing="still in its canary phase", ended="its canary phase ended",
        )  # fmt: skip
        windows = DeployWindows(plan, data_end=data_end, cut=cut)
        if windows.judged.duration_s < cadence.interval_s:
            return f"its overlap after the {cadence.warmup_s:g} s warm-up is shorter than one look"
        return windows
    start = deploy.start + warmup
    plan = Window(start, start + longest)
    stops = min(deploy.end or until, until)
    data_end, cut = _cut(
        plan, stops, until, deploy.start, ongoing="still serving", ended="replaced"
    )  # fmt: skip
    if Window(start, data_end or plan.end).duration_s < cadence.interval_s:
        return f"the time it served after the {cadence.warmup_s:g} s warm-up is shorter than one look"

    def unserved(choice: BaselineChoice) -> str | None:
        if choice.offset_s is None or served is None:
            return None
        looked = choice.earlier(Window(plan.start, data_end or plan.end))
        if served(deploy.baseline_version, looked):
            return None
        return (
            f"{deploy.baseline_version} did not serve all of {looked.start:%Y-%m-%d %H:%M} to "
            f"{looked.end:%Y-%m-%d %H:%M} UTC, the {choice.value} baseline's window"
        )

    choice, why = choose_baseline(cadence.baseline, calibrated, plan, deploy.start, unserved)
    problem: str | None = None
    notes: list[str] = []
    if why is not None and cadence.baseline is not BaselineChoice.AUTO:
        # The daemon refuses a named seasonal baseline it cannot serve, or compares with another
        # time of day where the old version did not serve: no verdict to replay.
        problem = f"the environment's {choice.value} baseline cannot serve it: {why}"
        notes.append(f"{deploy.version} at {deploy.start.isoformat()} inconclusive: {problem}")
    elif why is not None:
        calibrated_choice = resolve_baseline(cadence.baseline, calibrated)
        notes.append(
            f"{deploy.version} at {deploy.start.isoformat()}: the calibrated {calibrated_choice.value} "
            f"baseline cannot serve it ({why}); compared with the previous window instead"
        )
    if problem is not None:
        return DeployWindows(plan, None, choice, data_end, cut, problem, tuple(notes))
    baseline = baseline_window(choice, plan, deploy.start)
    if choice is BaselineChoice.PREVIOUS and baseline_since is not None and baseline_since > baseline.start:
        baseline = Window(baseline_since, baseline.end)
    if baseline.duration_s < cadence.interval_s:
        return f"{deploy.baseline_version} served only {baseline.duration_s:g} s before the switch"
    return DeployWindows(plan, baseline, choice, data_end, cut, None, tuple(notes))


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


class BacktestStopped(MonitorError):
    """The backtest was asked to stop (its caller went away, the process shuts down)."""


STOP: ContextVar[Callable[[], bool] | None] = ContextVar("backtest_stop", default=None)
"""Whether the running backtest should stop, asked between looks: set by
:func:`monitor.backtest.run.backtest` for every task it starts (they copy its context)."""


def check_stop() -> None:
    """:class:`BacktestStopped` when the running backtest was asked to stop."""
    should_stop = STOP.get()
    if should_stop is not None and should_stop():
        raise BacktestStopped("the backtest was stopped")


async def run_looks(
    request: AnalysisRequest, source: MetricsSource, *, data_end: datetime | None = None
) -> tuple[Verdict, list[Verdict], int]:
    """The verdict of ``request`` replayed look by look, every look's verdict, and how many looks the
    daemon plans over the canary window.

    The looks are the daemon's, planned over the whole canary window (each spends the alpha its
    place in that plan gives it, the last one decides); those after ``data_end`` are not run, so a
    run whose data ends early returns its last look's verdict, ``running`` unless already decided.
    Through a :class:`CachedSource` (unless ``source`` is one already, shared by runs that read the
    same windows): a fixed baseline window is read once, not at every look.
    """
    window = request.canary_window
    times = look_times(window.start, window.end, request.interval_s)
    reachable = [at for at in times if data_end is None or at <= data_end]
    if not reachable:
        raise InputError(f"no look of {window.start.isoformat()} to {window.end.isoformat()} has data")
    longest_s = (reachable[-1] - window.start).total_seconds()
    cached = source if isinstance(source, CachedSource) else CachedSource(source, longest_s)
    looks: list[Verdict] = []
    for look, at in enumerate(reachable, start=1):
        check_stop()
        verdict = await evaluate_look(
            cached, request, at, look, last_look=look == len(times), planned_looks=len(times)
        )
        looks.append(verdict)
        if verdict.final:
            break
    return looks[-1], looks, len(times)


async def replay_deploy(
    deploy: PastDeploy,
    request: AnalysisRequest,
    source: MetricsSource,
    windows: DeployWindows | None = None,
) -> ReplayedDeploy:
    """``deploy`` judged through the daemon's looks over ``request``'s windows, as far as the data
    of ``windows`` goes (``windows`` None: the whole canary window)."""
    data_end = windows.data_end if windows is not None else None
    final, looks, planned = await run_looks(request, source, data_end=data_end)
    summary = final.summary
    if not final.final and windows is not None:
        summary = (
            f"incomplete: {windows.cut}, after {len(looks)} of the daemon's {planned} looks; "
            f"the daemon would still have been looking ({final.summary})"
        )
    return ReplayedDeploy(
        deploy=deploy,
        mode=Mode.CANARY if request.baseline_window is None else Mode.BEFORE_AFTER,
        canary_window=windows.judged if windows is not None else request.canary_window,
        baseline_window=request.baseline_window,
        verdict=final.status,
        decided_at=final.decided_at,
        looks=tuple(replayed_look(i, v) for i, v in enumerate(looks, start=1)),
        summary=summary,
    )


def not_replayed(deploy: PastDeploy, windows: DeployWindows) -> ReplayedDeploy:
    """``deploy`` as inconclusive without a look, for a ``windows.problem`` the daemon could not judge."""
    return ReplayedDeploy(
        deploy=deploy,
        mode=deploy.mode,
        canary_window=windows.judged,
        baseline_window=windows.baseline,
        verdict=VerdictStatus.INCONCLUSIVE,
        decided_at=None,
        looks=(),
        summary=f"inconclusive: {windows.problem}",
    )


def alarmed(verdict: Verdict) -> set[str]:
    """The regression checks that found a regression in ``verdict`` (high or low beyond allowance)."""
    return {
        c.name
        for c in verdict.checks
        if c.classification in (Classification.HIGH, Classification.LOW)
        and c.purpose is CheckPurpose.REGRESSION
    }
