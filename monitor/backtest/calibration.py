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
    Verdict,
    Window,
)
from monitor.profiles import Profile
from monitor.sources.base import MetricsSource
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

    Pseudo-deploys are a maximum duration apart inside each stretch, with room for the window
    before them and the analysis after; each baseline choice keeps those whose baseline window the
    version also served alone, at most ``max_trials`` over all choices, evenly spread in time and
    sharing pseudo-canary windows where they can.
    """
    length = timedelta(seconds=cadence.max_duration_s)
    warmup = timedelta(seconds=cadence.warmup_s)
    candidates: list[tuple[str, Window, Window]] = []  # (version, window before t, pseudo-canary)
    for stretch in timeline.alone:
        t = stretch.window.start + length
        while t + warmup + length <= stretch.window.end:
            candidates.append(
                (stretch.version, Window(t - length, t), Window(t + warmup, t + warmup + length))
            )
            t += length
    usable: dict[str, list[Trial]] = {}
    for choice in baselines:
        offset_s = BaselineChoice(choice).offset_s
        usable[choice] = []
        for version, before, canary in candidates:
            if offset_s is None:
                usable[choice].append(Trial(version, choice, canary, before))
                continue
            back = timedelta(seconds=offset_s)
            earlier = Window(canary.start - back, canary.end - back)
            if timeline.ran_alone(version, earlier):
                usable[choice].append(Trial(version, choice, canary, earlier))
    # The scarcest choice picks first, evenly spread; the others prefer the same pseudo-canary
    # windows, so runs of one window share its queries (run_trials) and the choices compare alike.
    # The runs are shared among the choices that have any (a history shorter than a week has no week).
    per_choice = max(1, max_trials // max(1, sum(1 for c in baselines if usable[c])))
    trials: list[Trial] = []
    taken: set[Window] = set()
    for choice in sorted(baselines, key=lambda c: len(usable[c])):
        pool = usable[choice]
        shared = [t for t in pool if t.canary_window in taken]
        if len(shared) >= per_choice:
            picks = _spread(shared, per_choice)
        else:
            rest = [t for t in pool if t.canary_window not in taken]
            picks = shared + _spread(rest, per_choice - len(shared))
        taken.update(t.canary_window for t in picks)
        trials.extend(sorted(picks, key=lambda t: t.canary_window.start))
    return trials


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
                final, _ = await run_looks(request, cached)
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
            effects = [e for r in results if (e := detectable_effect(r, profile.alpha)) is not None]
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


def detectable_effect(result: CheckResult, alpha: float) -> float | None:
    """The effect ``result``'s check would catch with 80 % power at the data it saw.

    Counts: from the baseline's rate and both exposures (:func:`detectable_ratio`). Distributions
    (a ratio) and samples (a shift): from the half-width of the check's interval
    (:func:`detectable_from_interval`), taken as a bound at the run's ``alpha``; the look's own level
    is a share of it, so this overstates the effect a little (errs on the side of caution).
    """
    if result.comparison is ComparisonKind.COUNTS:
        if result.baseline_value is None:
            return None
        return detectable_ratio(result.baseline_value, result.canary_n, result.baseline_n, alpha)
    if result.interval is None:
        return None
    low, high = result.interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    if result.comparison is ComparisonKind.DISTRIBUTION:
        if low <= 0 or high <= 0:
            return None
        return math.exp(detectable_from_interval((math.log(high) - math.log(low)) / 2.0, alpha))
    return detectable_from_interval((high - low) / 2.0, alpha)
