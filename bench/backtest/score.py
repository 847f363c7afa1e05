"""A backtest's findings scored against the simulated history's ground truth (pure).

A true deploy is *found* when the backtest discovered a deploy of the same version starting within
:data:`START_TOLERANCE_S` of the true start; its *mode* is right when a canary phase was found
exactly for the canary deploys. A regression is *caught* when its replay failed; a healthy deploy
whose replay failed is a *false alarm*. A discovered deploy that matches no true one is spurious.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.backtest.result import Backtest, CheckCalibration, ReplayedDeploy
from monitor.models import VerdictStatus
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
    """The backtest against the truth: per true deploy, the spurious finds, and the A/A calibration."""

    deploys: tuple[DeployScore, ...]
    spurious: tuple[ReplayedDeploy, ...]
    calibration: tuple[CheckCalibration, ...]

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
    """Match the backtest's replayed deploys to the history's true ones and score them."""
    unmatched = list(backtest.deploys)
    scores = []
    for truth in history.deploys:
        replay = next((r for r in unmatched if _matches(r, truth)), None)
        if replay is not None:
            unmatched.remove(replay)
        scores.append(DeployScore(truth, replay))
    return BacktestScore(tuple(scores), tuple(unmatched), backtest.calibration)


def pooled_false_alarms(
    calibration: Sequence[CheckCalibration], baseline: str | None = None
) -> tuple[int, int]:
    """False alarms and trials summed over checks (of one ``baseline`` choice when given)."""
    chosen = [c for c in calibration if baseline is None or c.baseline == baseline]
    return sum(c.false_alarms for c in chosen), sum(c.trials for c in chosen)
