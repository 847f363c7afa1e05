"""A hand-built backtest result, for testing what renders, prints and serves one without running a
backtest against Prometheus: three past deploys (a canary that failed at its third look, a
before/after pass, one that never decided), A/A calibration of two checks, one suggestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.backtest.result import (
    Backtest,
    CheckCalibration,
    PastDeploy,
    ReplayedDeploy,
    ReplayedLook,
    Suggestion,
)
from monitor.models import Mode, VerdictStatus, Window

START = datetime(2026, 11, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def _classification(status: VerdictStatus) -> str:
    return "high" if status is VerdictStatus.FAIL else "pass"


def _looks(at: datetime, statuses: list[VerdictStatus], effect: float) -> tuple[ReplayedLook, ...]:
    return tuple(
        ReplayedLook(
            look=i,
            at=at + i * MINUTE,
            status=status,
            score=100.0 - 20 * i if status is VerdictStatus.FAIL else 90.0,
            checks=(
                (
                    "http_error_ratio",
                    _classification(status),
                    effect,
                    effect * 0.9,
                    effect * 1.1,
                ),
                ("http_latency", "pass", 1.01, 0.97, 1.05),
            ),
        )
        for i, status in enumerate(statuses, start=1)
    )


def sample_backtest(service: str = "checkout", warnings: tuple[str, ...] = ()) -> Backtest:
    """The backtest of the module's docstring over November 2026's first ten days."""
    canary_at = START + timedelta(days=2)
    switch_at = START + timedelta(days=5)
    quiet_at = START + timedelta(days=8)
    running = VerdictStatus.RUNNING
    deploys = (
        ReplayedDeploy(
            deploy=PastDeploy("v2", "v1", canary_at, Window(canary_at, canary_at + 30 * MINUTE)),
            mode=Mode.CANARY,
            canary_window=Window(canary_at, canary_at + 30 * MINUTE),
            baseline_window=None,
            verdict=VerdictStatus.FAIL,
            decided_at=canary_at + 3 * MINUTE,
            looks=_looks(canary_at, [running, running, VerdictStatus.FAIL], 2.5),
            summary="error-rate is 2.5x the baseline's",
        ),
        ReplayedDeploy(
            deploy=PastDeploy("v3", "v1", switch_at, end=quiet_at),
            mode=Mode.BEFORE_AFTER,
            canary_window=Window(switch_at, switch_at + 20 * MINUTE),
            baseline_window=Window(switch_at - 20 * MINUTE, switch_at),
            verdict=VerdictStatus.PASS,
            decided_at=switch_at + 4 * MINUTE,
            looks=_looks(switch_at, [running, running, running, VerdictStatus.PASS], 1.0),
            summary="no regression",
        ),
        ReplayedDeploy(
            deploy=PastDeploy("v4", "v3", quiet_at),
            mode=Mode.BEFORE_AFTER,
            canary_window=Window(quiet_at, quiet_at + 10 * MINUTE),
            baseline_window=Window(quiet_at - 10 * MINUTE, quiet_at),
            verdict=VerdictStatus.INCONCLUSIVE,
            decided_at=None,
            looks=_looks(quiet_at, [running, VerdictStatus.INCONCLUSIVE], 1.2),
            summary="too little traffic to decide",
        ),
    )
    calibration = (
        CheckCalibration("http_error_ratio", 120, 3, (0.0052, 0.0713), 1.18, "previous"),
        CheckCalibration("http_latency", 120, 0, (0.0, 0.0303), 1.08, "previous"),
        CheckCalibration("http_error_ratio", 40, 0, (0.0, 0.0881), None, "day"),
    )
    suggestions = (
        Suggestion(
            "http_error_ratio", 0.4, 600.0, "day", "3 of 120 A/A runs failed with the previous window"
        ),
    )
    return Backtest(
        service=service,
        environment="production",
        profile="otel-http",
        span=Window(START, START + timedelta(days=10)),
        deploys=deploys,
        calibration=calibration,
        suggestions=suggestions,
        false_alarm_target=0.01,
        warnings=warnings,
    )


def sample_look_count() -> int:
    """How many replayed looks :func:`sample_backtest` holds."""
    return sum(len(d.looks) for d in sample_backtest().deploys)
