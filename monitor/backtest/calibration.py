"""A/A calibration: the profile judged on windows where one version served alone, so every alarm is false.

A pseudo-deploy at ``t`` inside such a stretch compares the version with itself, before/after, through
the same request and looks as a replayed deploy (:mod:`monitor.backtest.replay`): the pseudo-canary
over ``[t + warm-up, t + warm-up + max duration)``, the pseudo-baseline over the window a real
before/after deploy would have used (``previous``: the same length just before ``t``) or over the
pseudo-canary's window a day (``day``) or a week (``week``) earlier, when the version also served
alone then. Per check and baseline choice: how many runs alarmed, the exact interval of that rate,
and the effect the check would have caught with 80 % power at the traffic seen.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from monitor.backtest.cache import CachedSource
from monitor.backtest.discovery import Timeline
from monitor.backtest.replay import Cadence, alarmed, request_for, run_looks
from monitor.backtest.result import CheckCalibration
from monitor.engine.request import RequestDefaults
from monitor.models import (
    BaselineChoice,
    CheckPurpose,
    CheckResult,
    Classification,
    ComparisonKind,
    Direction,
    Verdict,
    Window,
)
from monitor.profiles import CheckSpec, Profile
from monitor.sources.base import MetricsSource
from monitor.stats.multiple import Claim, allocate, per_look_alpha
from monitor.stats.power import detectable_from_interval, detectable_ratio, false_alarm_interval

# The before/after baselines a calibration compares (monitor.models.BaselineChoice but auto).
BASELINES: tuple[str, ...] = tuple(c.value for c in BaselineChoice if c is not BaselineChoice.AUTO)
# A/A runs per backtest, shared by the baseline choices: 60 each when two apply (a 0-of-60 rate's exact
# upper bound is 6 %), and a 30-day backtest of one service at the production cadence stays under a
# minute on two cores (bench/backtest). More runs sharpen the rates in proportion to the time they take.
MAX_TRIALS = 120


@dataclass(frozen=True)
class Trial:
    """One A/A run: ``version`` against itself over two windows, the baseline's chosen as ``baseline``."""

    version: str
    baseline: str
    canary_window: Window
    baseline_window: Window


@dataclass(frozen=True)
class TrialOutcome:
    """What one A/A run's replay decided, and its checks at the deciding look."""

    trial: Trial
    verdict: Verdict
    alarmed: frozenset[str]

    @property
    def elapsed_s(self) -> float:
        """How long the pseudo-canary had run at the deciding look."""
        return self.verdict.canary.window.duration_s


def plan_trials(
    timeline: Timeline,
    cadence: Cadence,
    *,
    max_trials: int = MAX_TRIALS,
    baselines: Sequence[str] = BASELINES,
) -> list[Trial]:
    """A/A runs spread evenly over the stretches where one version served alone (a pure function).

    Pseudo-deploys are ``2 * (max duration + warm-up)`` apart inside each stretch, so the window
    before one (its ``previous`` baseline), its warm-up and its pseudo-canary never reach the next;
    each baseline choice keeps those whose baseline window the version also served alone, at most
    ``max_trials`` over all choices, evenly spread in time and sharing pseudo-canary windows where
    they can. No two runs with different pseudo-canary windows read a common minute (a seasonal
    baseline a day or a week back must not land on another run's windows either), so the runs of
    one choice are independent as far as their data go. The runs of different choices on one
    pseudo-canary window share it on purpose: the choices are then compared pair by pair
    (:func:`monitor.backtest.suggest.chosen_baseline`).

    Assumed, not corrected: runs on different windows are independent. Runs of one day share its
    traffic pattern and incidents, which can cluster alarms and make the exact intervals of
    :func:`calibrate` somewhat too narrow; the spacing keeps at most a dozen runs in a day.
    """
    length = timedelta(seconds=cadence.max_duration_s)
    warmup = timedelta(seconds=cadence.warmup_s)
    step = 2 * (length + warmup)
    candidates: list[tuple[str, Window, Window]] = []  # (version, window before t, pseudo-canary)
    following = timeline.span.start  # the earliest the next pseudo-deploy may come, across stretches
    for stretch in sorted(timeline.alone, key=lambda a: a.window.start):
        t = max(stretch.window.start + length, following)
        while t + warmup + length <= stretch.window.end:
            candidates.append(
                (stretch.version, Window(t - length, t), Window(t + warmup, t + warmup + length))
            )
            following = t + step
            t += step
    usable: dict[str, list[Trial]] = {}
    for choice in baselines:
        seasonal = BaselineChoice(choice)
        usable[choice] = []
        for version, before, canary in candidates:
            if seasonal.offset_s is None:
                usable[choice].append(Trial(version, choice, canary, before))
                continue
            earlier = seasonal.earlier(canary)
            if timeline.ran_alone(version, earlier):
                usable[choice].append(Trial(version, choice, canary, earlier))
    # The scarcest choice picks first, evenly spread; the others prefer the same pseudo-canary
    # windows, so runs of one window share its queries (run_trials) and the choices compare alike.
    # The runs are shared among the choices that have any (a history shorter than a week has no week).
    per_choice = max(1, max_trials // max(1, sum(1 for c in baselines if usable[c])))
    trials: list[Trial] = []
    taken: set[Window] = set()
    for choice in sorted(baselines, key=lambda c: len(usable[c])):
        pool = [t for t in usable[choice] if not _collides(t, trials)]
        shared = [t for t in pool if t.canary_window in taken]
        if len(shared) >= per_choice:
            picks = _spread(shared, per_choice)
        else:
            rest = [t for t in pool if t.canary_window not in taken]
            picks = shared + _spread(rest, per_choice - len(shared))
        kept: list[Trial] = []
        for trial in sorted(picks, key=lambda t: t.canary_window.start):
            if not _collides(trial, kept):  # a seasonal baseline on a run of its own choice
                kept.append(trial)
        taken.update(t.canary_window for t in kept)
        trials.extend(kept)
    return trials


def _overlap(a: Window, b: Window) -> bool:
    return a.start < b.end and b.start < a.end


def _collides(trial: Trial, others: Sequence[Trial]) -> bool:
    """Whether ``trial`` would read a minute another run reads (the same pseudo-canary aside)."""
    mine = (trial.canary_window, trial.baseline_window)
    for other in others:
        same_canary = other.canary_window == trial.canary_window
        theirs = (other.baseline_window,) if same_canary else (other.canary_window, other.baseline_window)
        if any(_overlap(a, b) for a in mine for b in theirs if not (same_canary and a == b)):
            return True
    return False


def _spread(items: list[Trial], at_most: int) -> list[Trial]:
    """At most ``at_most`` of ``items`` (in time order), evenly spaced over them."""
    if len(items) <= at_most:
        return items
    picks = np.unique(np.linspace(0, len(items) - 1, at_most).round().astype(int))
    return [items[i] for i in picks.tolist()]


async def run_trials(
    trials: Sequence[Trial],
    source: MetricsSource,
    defaults: RequestDefaults,
    profile: Profile,
    cadence: Cadence,
    *,
    service: str,
    environment: str | None,
    concurrency: int = 4,
    done: Callable[[Trial], None] | None = None,
) -> list[TrialOutcome]:
    """Replay every A/A run, ``concurrency`` pseudo-canary windows at once, calling ``done`` after each.

    The runs of one pseudo-canary window (one per baseline choice) run one after the other through
    one cache: the pseudo-canary's queries are asked once for all of them.
    """
    gate = asyncio.Semaphore(concurrency)
    groups: dict[Window, list[Trial]] = {}
    for trial in trials:
        groups.setdefault(trial.canary_window, []).append(trial)

    async def group(members: list[Trial]) -> list[TrialOutcome]:
        cached = CachedSource(source, members[0].canary_window.duration_s)
        outcomes: list[TrialOutcome] = []
        async with gate:
            for trial in members:
                request = request_for(
                    defaults, profile, cadence, service=service, environment=environment,
                    canary_version=trial.version, baseline_version=trial.version,
                    canary_window=trial.canary_window, baseline_window=trial.baseline_window,
                    baseline_choice=BaselineChoice(trial.baseline),
                )  # fmt: skip
                final, _, _ = await run_looks(request, cached)
                outcomes.append(TrialOutcome(trial, final, frozenset(alarmed(final))))
                if done is not None:
                    done(trial)
        return outcomes

    answers = await asyncio.gather(*(group(members) for members in groups.values()))
    return [outcome for members in answers for outcome in members]


def judged(result: CheckResult) -> bool:
    """Whether a check's result could have alarmed: it had data and no error."""
    return result.classification not in (Classification.NODATA, Classification.ERROR)


def calibrate(outcomes: Sequence[TrialOutcome], profile: Profile) -> tuple[CheckCalibration, ...]:
    """Per regression check and baseline choice: A/A runs, false alarms, their exact 95 % interval and
    the median detectable effect (a pure function)."""
    checks = [c for c in profile.checks if c.purpose is CheckPurpose.REGRESSION]
    out: list[CheckCalibration] = []
    for choice in BASELINES:
        runs = [o for o in outcomes if o.trial.baseline == choice]
        if not runs:
            continue
        for spec in checks:
            results = [r for o in runs for r in o.verdict.checks if r.name == spec.name and judged(r)]
            if not results:
                continue
            alarms = sum(1 for o in runs if spec.name in o.alarmed)
            level = last_look_level(profile, spec)
            effects = [e for r in results if (e := detectable_effect(r, spec, level)) is not None]
            out.append(
                CheckCalibration(
                    check=spec.name,
                    trials=len(results),
                    false_alarms=alarms,
                    rate_interval=false_alarm_interval(alarms, len(results)),
                    detectable_effect=statistics.median(effects) if effects else None,
                    baseline=choice,
                )
            )
    return tuple(out)


def last_look_level(profile: Profile, spec: CheckSpec) -> float:
    """The level ``spec``'s test gets at the last of a run's looks when every check takes part.

    The last look spends ``final_share`` of the run's alpha (:func:`per_look_alpha`, a run of
    several looks), split over the checks by weight, critical ones first (:func:`allocate`).
    Checks that sit a look out give their share back, so the level a run really used is at least
    this: an effect detectable at it is, if anything, a little larger than the true one.
    """
    look_alpha = per_look_alpha(profile.alpha, 2, 2, profile.decision.final_share)
    claims = {c.name: Claim(c.alpha_weight, c.critical, 0.0) for c in profile.checks}
    return allocate(look_alpha, claims, profile.decision.critical_share).get(spec.name, look_alpha)


def allowed_ratio(spec: CheckSpec) -> float:
    """The ratio away from 1x a ratio check must pass to fail (a fall to 0.8x is 1.25x the other way)."""
    if spec.direction is Direction.DECREASE:
        return 1.0 / spec.lower_allowed if spec.lower_allowed > 0 else math.inf
    return 1.0 + spec.allowed_effect


def detectable_effect(result: CheckResult, spec: CheckSpec, level: float) -> float | None:
    """The effect ``result``'s check would catch with 80 % power at the data it saw.

    The check fails when its test at ``level`` (the look's share for it, :func:`last_look_level`)
    rejects and its estimate is beyond its allowance, so the effect clears both by ``z_{0.8}``
    standard errors. Counts: from the baseline's rate and both exposures (:func:`detectable_ratio`).
    Distributions (a ratio) and samples (a shift, its allowance relative to the baseline's value):
    from the half-width of the check's interval (:func:`detectable_from_interval`), read as a bound
    at ``level``; an interval drawn at an early look's smaller level is wider, so this errs large.
    """
    # A check of both directions spends half its level on each side.
    side = level / 2.0 if spec.direction is Direction.EITHER else level
    if result.comparison is ComparisonKind.COUNTS:
        if result.baseline_value is None:
            return None
        return detectable_ratio(
            result.baseline_value, result.canary_n, result.baseline_n, side, allowed_ratio=allowed_ratio(spec)
        )
    if result.interval is None:
        return None
    low, high = result.interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    if result.comparison is ComparisonKind.DISTRIBUTION:
        if low <= 0 or high <= 0:
            return None
        allowed = math.log(allowed_ratio(spec))
        return math.exp(
            detectable_from_interval((math.log(high) - math.log(low)) / 2.0, side, allowed=allowed)
        )
    relative = 1.0 - spec.lower_allowed if spec.direction is Direction.DECREASE else spec.allowed_effect
    margin = relative * abs(result.baseline_value) if result.baseline_value is not None else 0.0
    return detectable_from_interval((high - low) / 2.0, side, allowed=margin)
