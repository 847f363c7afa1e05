"""A backtest as its published JSON document: what ``monitor backtest --output json`` prints, what
``backtest.json`` holds and what ``GET /api/v1/services/{service}/backtest`` answers.

The shape is stable and described by ``monitor/schema/backtest.schema.json`` (generated from
:class:`monitor.schema.backtest.BacktestDocument`): times are RFC 3339 in UTC, durations in seconds
(``_s``), a number that is not finite (an effect of a version with no traffic) is ``null``.
:func:`backtest_from_document` reads a document back into the value objects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.backtest.result import (
    Backtest,
    CheckCalibration,
    PastDeploy,
    ReplayedDeploy,
    ReplayedLook,
    Suggestion,
)
from monitor.models import Mode, VerdictStatus, Window
from monitor.redact import redact_text
from monitor.timeparse import format_time, parse_time

SCHEMA_VERSION = 1


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _window(window: Window | None) -> dict[str, str] | None:
    if window is None:
        return None
    return {"start": format_time(window.start), "end": format_time(window.end)}


def _look(look: ReplayedLook) -> dict[str, Any]:
    return {
        "look": look.look,
        "at": format_time(look.at),
        "status": look.status.value,
        "score": _finite(look.score),
        "checks": [
            {
                "check": name,
                "classification": classification,
                "effect": _finite(effect),
                "interval_low": _finite(low),
                "interval_high": _finite(high),
            }
            for name, classification, effect, low, high in look.checks
        ],
    }


def _deploy(replayed: ReplayedDeploy) -> dict[str, Any]:
    deploy = replayed.deploy
    return {
        "version": deploy.version,
        "baseline_version": deploy.baseline_version,
        "start": format_time(deploy.start),
        "end": format_time(deploy.end) if deploy.end else None,
        "overlap": _window(deploy.overlap),
        "mode": replayed.mode.value,
        "canary_window": _window(replayed.canary_window),
        "baseline_window": _window(replayed.baseline_window),
        "verdict": replayed.verdict.value,
        "decided_at": format_time(replayed.decided_at) if replayed.decided_at else None,
        "decided_after_s": replayed.decided_after_s,
        "summary": redact_text(replayed.summary),
        "looks": [_look(look) for look in replayed.looks],
    }


def _calibration(calibration: CheckCalibration) -> dict[str, Any]:
    low, high = calibration.rate_interval
    return {
        "check": calibration.check,
        "baseline": calibration.baseline,
        "trials": calibration.trials,
        "false_alarms": calibration.false_alarms,
        "rate": calibration.rate,
        "rate_interval": [low, high],
        "detectable_effect": _finite(calibration.detectable_effect),
    }


def _suggestion(suggestion: Suggestion) -> dict[str, Any]:
    return {
        "check": suggestion.check,
        "allowance": _finite(suggestion.allowance),
        "min_duration_s": _finite(suggestion.min_duration_s),
        "baseline": suggestion.baseline,
        "reason": redact_text(suggestion.reason),
    }


def backtest_document(backtest: Backtest) -> dict[str, Any]:
    """The backtest as its JSON document (schema: ``monitor/schema/backtest.schema.json``).

    Free text (summaries, reasons, warnings) may quote a backend's error and its URL: it passes
    :func:`~monitor.redact.redact_text`, as verdict documents do.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "service": backtest.service,
        "environment": backtest.environment,
        "profile": backtest.profile,
        "since": format_time(backtest.span.start),
        "until": format_time(backtest.span.end),
        "false_alarm_target": backtest.false_alarm_target,
        "deploys": [_deploy(d) for d in backtest.deploys],
        "calibration": [_calibration(c) for c in backtest.calibration],
        "suggestions": [_suggestion(s) for s in backtest.suggestions],
        "warnings": [redact_text(w) for w in backtest.warnings],
    }


def render_json(backtest: Backtest) -> str:
    """The backtest document as indented JSON."""
    return json.dumps(backtest_document(backtest), indent=2)


# Reading a document back: the inverse of the builders above (tests, and tools that post-process).


def _time(text: str) -> datetime:
    return parse_time(text, "time")


def _span(node: Mapping[str, str]) -> Window:
    return Window(_time(node["start"]), _time(node["end"]))


def _read_window(node: Mapping[str, str] | None) -> Window | None:
    return None if node is None else _span(node)


def _read_look(node: Mapping[str, Any]) -> ReplayedLook:
    score = node["score"]
    return ReplayedLook(
        look=node["look"],
        at=_time(node["at"]),
        status=VerdictStatus(node["status"]),
        score=math.nan if score is None else float(score),
        checks=tuple(
            (c["check"], c["classification"], c["effect"], c["interval_low"], c["interval_high"])
            for c in node["checks"]
        ),
    )


def _read_deploy(node: Mapping[str, Any]) -> ReplayedDeploy:
    return ReplayedDeploy(
        deploy=PastDeploy(
            version=node["version"],
            baseline_version=node["baseline_version"],
            start=_time(node["start"]),
            overlap=_read_window(node["overlap"]),
            end=_time(node["end"]) if node["end"] else None,
        ),
        mode=Mode(node["mode"]),
        canary_window=_span(node["canary_window"]),
        baseline_window=_read_window(node["baseline_window"]),
        verdict=VerdictStatus(node["verdict"]),
        decided_at=_time(node["decided_at"]) if node["decided_at"] else None,
        looks=tuple(_read_look(look) for look in node["looks"]),
        summary=node["summary"],
    )


def _read_calibration(node: Mapping[str, Any]) -> CheckCalibration:
    low, high = node["rate_interval"]
    return CheckCalibration(
        check=node["check"],
        trials=node["trials"],
        false_alarms=node["false_alarms"],
        rate_interval=(low, high),
        detectable_effect=node["detectable_effect"],
        baseline=node["baseline"],
    )


def _read_suggestion(node: Mapping[str, Any]) -> Suggestion:
    return Suggestion(
        check=node["check"],
        allowance=node["allowance"],
        min_duration_s=node["min_duration_s"],
        baseline=node["baseline"],
        reason=node["reason"],
    )


def backtest_from_document(document: Mapping[str, Any]) -> Backtest:
    """The value objects of a document :func:`backtest_document` built (times to the second)."""
    return Backtest(
        service=document["service"],
        environment=document["environment"],
        profile=document["profile"],
        span=Window(_time(document["since"]), _time(document["until"])),
        deploys=tuple(_read_deploy(node) for node in document["deploys"]),
        calibration=tuple(_read_calibration(node) for node in document["calibration"]),
        suggestions=tuple(_read_suggestion(node) for node in document["suggestions"]),
        false_alarm_target=document["false_alarm_target"],
        warnings=tuple(document["warnings"]),
    )
