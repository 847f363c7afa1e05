"""Rendering verdicts: JSON valid against the published schema, text for a CI log."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from importlib import resources

import jsonschema
import pytest

from monitor.models import (
    CheckResult,
    Classification,
    ComparisonKind,
    Evidence,
    Signal,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.report import render_json, render_text

SCHEMA = json.loads(resources.files("monitor.schema").joinpath("verdict.schema.json").read_text())
WINDOW = Window(datetime(2026, 11, 26, 10, 0, tzinfo=UTC), datetime(2026, 11, 26, 10, 20, tzinfo=UTC))


def _verdict(check: CheckResult) -> Verdict:
    return Verdict(
        service="checkout",
        environment="production",
        canary=VersionWindow("v2", WINDOW),
        baseline=VersionWindow("v1", WINDOW),
        status=VerdictStatus.FAIL,
        score=0.0,
        summary="fail after 3m: http_error_ratio regressed",
        checks=(check,),
        decided_at=WINDOW.end,
    )


def test_unbounded_interval_and_effect_become_null_and_validate() -> None:
    check = CheckResult(
        name="http_error_ratio",
        signal=Signal.METRICS,
        comparison=ComparisonKind.COUNTS,
        classification=Classification.HIGH,
        critical=True,
        weight=2.0,
        message="errors only in the canary",
        baseline_value=0.0,
        baseline_n=90_000,
        canary_value=0.004,
        canary_n=10_000,
        effect=math.inf,
        interval=(3.2, math.inf),
        p_value=1e-12,
        unit="ratio",
        evidence=(Evidence("events", 0.0, 40.0),),
    )
    document = json.loads(render_json(_verdict(check)))
    jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert document["checks"][0]["interval"] == [3.2, None]
    assert document["checks"][0]["effect"] is None
    assert document["decided_at"] == "2026-11-26T10:20:00Z"


def test_schema_rejects_a_malformed_time() -> None:
    check = CheckResult("x", Signal.METRICS, ComparisonKind.COUNTS, Classification.PASS, False, 1.0, "ok")
    document = json.loads(render_json(_verdict(check)))
    document["decided_at"] = "yesterday"
    with pytest.raises(jsonschema.ValidationError, match="date-time"):
        jsonschema.validate(document, SCHEMA, format_checker=jsonschema.FormatChecker())


def test_text_puts_verdict_and_summary_first() -> None:
    check = CheckResult(
        "http_latency", Signal.METRICS, ComparisonKind.DISTRIBUTION, Classification.HIGH, True, 2.0,
        "p99 1.57x baseline", baseline_value=0.276, canary_value=0.435, effect=1.57, interval=(1.3, 1.86),
        unit="s", evidence=(Evidence("p50", 0.08, 0.1, "s"), Evidence("p99", 0.276, 0.435, "s")),
    )  # fmt: skip
    lines = render_text(_verdict(check)).splitlines()
    assert lines[0] == "verdict: FAIL  score 0"
    assert lines[1] == "summary: fail after 3m: http_error_ratio regressed"
    assert any("p50 80ms -> 100ms" in line and "p99 276ms -> 435ms" in line for line in lines)
