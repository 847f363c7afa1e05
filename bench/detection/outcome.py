"""What one judge concluded about one simulated run."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Judge(StrEnum):
    """The three judges compared side by side."""

    MONITOR = "monitor"
    KAYENTA = "kayenta-style"
    FLAGGER = "flagger-style"


class Status(StrEnum):
    """A judge's final word on a run (Kayenta and Flagger only say pass or fail)."""

    PASS = "pass"
    MARGINAL = "marginal"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Outcome:
    """One judge's verdict on one run.

    ``minutes`` is when the verdict was reached, counted from the canary window's start
    (the horizon, 20, for a judge that decides once at the end). ``backend_error`` flags a
    verdict that a failed Prometheus query may have shaped, so the bench can refuse it.
    """

    judge: Judge
    cell: str
    service: str
    seed: int
    status: Status
    minutes: float
    detail: str
    backend_error: bool = False
