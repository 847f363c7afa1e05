"""What one judge concluded about one simulated run."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Judge(StrEnum):
    """The judges compared side by side (the fixed-horizon reference once at 20 and once at 10 minutes)."""

    MONITOR = "monitor"
    REFERENCE = "fixed-horizon"
    REFERENCE_10 = "fixed-horizon@10m"
    KAYENTA = "kayenta-style"
    FLAGGER = "flagger-style"


class Status(StrEnum):
    """A judge's final word on a run (Kayenta and Flagger only say pass or fail)."""

    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Decision:
    """A judge's verdict on a run, reached ``minutes`` after the canary window's start.

    ``backend_error`` flags a verdict that a failed Prometheus query may have shaped, so the
    bench can refuse it.
    """

    status: Status
    minutes: float
    detail: str
    backend_error: bool = False


@dataclass(frozen=True)
class Outcome:
    """One judge's decision on one run of one cell (the horizon, 20 minutes, is the
    ``minutes`` of a judge that decides once at the end)."""

    judge: Judge
    cell: str
    service: str
    seed: int
    decision: Decision

    @property
    def status(self) -> Status:
        return self.decision.status

    @property
    def minutes(self) -> float:
        return self.decision.minutes
