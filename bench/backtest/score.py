"""A backtest's findings scored against the simulated history's ground truth (pure).

A true deploy is *found* when the backtest discovered a deploy of the same version starting within
:data:`START_TOLERANCE_S` of the true start; its *mode* is right when a canary phase was found
exactly for the canary deploys. A regression is *caught* when its replay failed; a healthy deploy
whose replay failed is a *false alarm*. A discovered deploy that matches no true one is spurious.

A/A false alarms are counted per run (:func:`aa_failed`): a run alarms when its verdict is ``fail``,
whatever number of checks failed it. Runs of different baseline choices share pseudo-canary windows,
so each choice gets its own rate; none is pooled with another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.backtest.calibration import BASELINES
from monitor.backtest.result import AARun, Backtest, CheckCalibration, ReplayedDeploy
from monitor.models import VerdictStatus, Window
from monitor.simulate.history import SimulatedDeploy, SimulatedHistory

START_TOLERANCE_S = 120.0


@dataclass(frozen=True)
class DeployScore:
    """One true deploy and what the backtest made of it (``replay`` None: not discovered)."""

    truth: SimulatedDeploy
    replay: ReplayedDeploy | None

    @property
    def found(self) -> bool:
        """Whether the backtest discovered this deploy."""
        return self.replay is not None

    @property
    def mode_right(self) -> bool:
        """Whether the discovered deploy has a canary phase exactly when the true one had."""
        return self.replay is not None and (self.replay.deploy.overlap is None) == (
            self.truth.overlap is None
        )

    @property
    def failed(self) -> bool:
        """Whether the replay failed this deploy."""
        return self.replay is not None and self.replay.verdict is VerdictStatus.FAIL

    @property
    def minutes_to_verdict(self) -> float | None:
        """Minutes from the true start to the replay's final verdict."""
        if self.replay is None or self.replay.decided_at is None:
            return None
        return (self.replay.decided_at - self.truth.start).total_seconds() / 60.0


@dataclass(frozen=True)
class BacktestScore:
    """The backtest against the truth: per true deploy of its span, the spurious finds, and the A/A runs
    (per check in ``calibration``, per run in ``aa_runs``)."""

    deploys: tuple[DeployScore, ...]
    spurious: tuple[ReplayedDeploy, ...]
    calibration: tuple[CheckCalibration, ...]
    aa_runs: tuple[AARun, ...] = ()

    @property
    def found(self) -> int:
        """True deploys discovered."""
        return sum(d.found for d in self.deploys)

    @property
    def modes_right(self) -> int:
        """Discovered deploys whose canary phase (or its absence) is the true one."""
        return sum(d.mode_right for d in self.deploys)

    @property
    def regressions(self) -> tuple[DeployScore, ...]:
        """The true regressions."""
        return tuple(d for d in self.deploys if d.truth.regressed)

    @property
    def healthy(self) -> tuple[DeployScore, ...]:
        """The true healthy deploys."""
        return tuple(d for d in self.deploys if not d.truth.regressed)

    @property
    def caught(self) -> int:
        """Regressions whose replay failed."""
        return sum(d.failed for d in self.regressions)

    @property
    def false_alarms(self) -> int:
        """Healthy deploys whose replay failed."""
        return sum(d.failed for d in self.healthy)


def _matches(replay: ReplayedDeploy, truth: SimulatedDeploy) -> bool:
    deploy = replay.deploy
    close = abs((deploy.start - truth.start).total_seconds()) <= START_TOLERANCE_S
    return close and deploy.version == truth.version


def score(history: SimulatedHistory, backtest: Backtest) -> BacktestScore:
    """Match the backtest's replayed deploys to the history's true ones inside the backtest's span and
    score them (a backtest of half the history is scored on that half's deploys)."""
    unmatched = list(backtest.deploys)
    scores = []
    for truth in history.deploys:
        if not backtest.span.start <= truth.start < backtest.span.end:
            continue
        replay = next((r for r in unmatched if _matches(r, truth)), None)
        if replay is not None:
            unmatched.remove(replay)
        scores.append(DeployScore(truth, replay))
    return BacktestScore(tuple(scores), tuple(unmatched), backtest.calibration, backtest.aa_runs)


def aa_failed(aa_runs: Sequence[AARun], baseline: str) -> tuple[int, int]:
    """A/A runs with ``baseline`` that failed (a false alarm each), and how many ran."""
    chosen = [r for r in aa_runs if r.baseline == baseline]
    return sum(r.failed for r in chosen), len(chosen)


def aa_baselines(aa_runs: Sequence[AARun]) -> tuple[str, ...]:
    """The baseline choices the A/A runs used, in the calibration's order (previous, day, week)."""
    used = {r.baseline for r in aa_runs}
    return tuple(b for b in BASELINES if b in used)


def split_point(history: SimulatedHistory) -> datetime:
    """Where the history splits into a fitting half and a held-out half: halfway between the two deploys
    around its middle (to the minute), so that no deploy's analysis straddles the split.

    The history's middle itself when it has no deploy on one side.
    """
    span = history.span
    middle = span.start + (span.end - span.start) / 2
    before = [d.start for d in history.deploys if d.start < middle]
    after = [d.start for d in history.deploys if d.start >= middle]
    if before and after:
        middle = max(before) + (min(after) - max(before)) / 2
    return middle.replace(second=0, microsecond=0)


def halves(history: SimulatedHistory) -> tuple[Window, Window]:
    """The history's span cut at :func:`split_point`: the half to fit on, the half to evaluate on."""
    mid = split_point(history)
    return Window(history.span.start, mid), Window(mid, history.span.end)
