"""What a backtest found: typed value objects shared by the replay, the calibration, the
suggestions and every output (terminal, CSV, JSON, HTML, the API).

Pure data: nothing here reads Prometheus or formats for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import Mode, VerdictStatus, Window


@dataclass(frozen=True)
class PastDeploy:
    """A version change found in the history: ``version`` replacing ``baseline_version``.

    ``overlap`` is when both versions served (a canary phase), None for a plain switch; ``start``
    is when ``version`` first appeared, ``end`` when it last served (None: still at the range's end).
    """

    version: str
    baseline_version: str
    start: datetime
    overlap: Window | None = None
    end: datetime | None = None

    @property
    def mode(self) -> Mode:
        """Canary mode when both versions ran at once, before/after otherwise."""
        return Mode.CANARY if self.overlap is not None else Mode.BEFORE_AFTER


@dataclass(frozen=True)
class ReplayedLook:
    """One look of a replayed deploy, as the daemon would have recorded it."""

    look: int
    at: datetime
    status: VerdictStatus
    score: float
    # check name -> (classification, effect, interval low, interval high); None where not computed
    checks: tuple[tuple[str, str, float | None, float | None, float | None], ...] = ()


@dataclass(frozen=True)
class ReplayedDeploy:
    """A past deploy replayed look by look through the daemon's decision code."""

    deploy: PastDeploy
    mode: Mode
    canary_window: Window
    baseline_window: Window | None
    verdict: VerdictStatus
    decided_at: datetime | None
    looks: tuple[ReplayedLook, ...]
    summary: str

    @property
    def decided_after_s(self) -> float | None:
        """Seconds from the start of the canary window to the look that decided, if one did."""
        if self.decided_at is None:
            return None
        return (self.decided_at - self.canary_window.start).total_seconds()


@dataclass(frozen=True)
class CheckCalibration:
    """One check's behaviour on A/A windows (the same version on both sides).

    ``false_alarms`` of ``trials`` A/A runs failed the check; ``rate_interval`` is the two-sided
    95 % Clopper-Pearson interval of the false-alarm rate. ``detectable_effect`` is the smallest
    effect (ratio for counts and distributions, shift in the check's unit for samples) the check
    would catch with 80 % power at the observed traffic; None when it could not be estimated.
    """

    check: str
    trials: int
    false_alarms: int
    rate_interval: tuple[float, float]
    detectable_effect: float | None = None
    baseline: str = "previous"  # which baseline choice the A/A runs used (see Suggestion.baseline)

    @property
    def rate(self) -> float:
        return self.false_alarms / self.trials if self.trials else 0.0


@dataclass(frozen=True)
class AARun:
    """One A/A run: ``version`` judged against itself, the pseudo-canary over ``canary_window``, the
    pseudo-baseline chosen as ``baseline``.

    ``verdict`` is the replay's final verdict and ``alarmed`` the regression checks that found a
    regression at the deciding look. The run is a false alarm when the verdict is ``fail`` (a
    critical check failed it); a non-critical check's alarm alone warns and does not fail it.
    """

    version: str
    baseline: str
    canary_window: Window
    verdict: VerdictStatus
    alarmed: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether the daemon would have failed this healthy run: a false alarm."""
        return self.verdict is VerdictStatus.FAIL


@dataclass(frozen=True)
class Suggestion:
    """A setting for one check that would have kept false alarms at or under the target."""

    check: str
    allowance: float | None  # the relative or absolute allowance, in the profile's own terms
    # Always None today: a minimum duration defers passes, not alarms (kept for the document's shape).
    min_duration_s: float | None
    # "previous", "day", "week": the profile's before/after baseline, which leaves "previous" only
    # when another alarmed significantly less on the same windows (monitor.backtest.suggest)
    baseline: str | None
    reason: str


@dataclass(frozen=True)
class Backtest:
    """Everything one backtest of one service found."""

    service: str
    environment: str | None
    profile: str
    span: Window
    deploys: tuple[ReplayedDeploy, ...] = ()
    calibration: tuple[CheckCalibration, ...] = ()
    suggestions: tuple[Suggestion, ...] = ()
    false_alarm_target: float = 0.01
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # Every A/A run's verdict, for false-alarm rates per run (``calibration`` counts per check, and
    # one run may alarm on several checks). Not in the JSON document: a document read back has none.
    aa_runs: tuple[AARun, ...] = ()
