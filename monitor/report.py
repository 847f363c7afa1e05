"""Rendering a verdict: the published JSON document and the text a CI log shows.

Free text (the summary, check messages, evidence details) may quote a backend's error and with it
a URL: it passes :func:`~monitor.redact.redact_text`, so no password or token reaches a document
that is stored, served, posted to webhooks or shown on the report page.
"""

from __future__ import annotations

import json
import math
from typing import Any

from monitor.judges.format import fmt_ratio, fmt_value
from monitor.models import (
    Bound,
    BucketCounts,
    CheckResult,
    ComparisonKind,
    Evidence,
    Signal,
    Verdict,
    VersionWindow,
)
from monitor.redact import redact_text
from monitor.timeparse import format_time


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _version(vw: VersionWindow) -> dict[str, Any]:
    return {
        "version": vw.version,
        "start": format_time(vw.window.start),
        "end": format_time(vw.window.end),
    }


def _baseline(verdict: Verdict) -> dict[str, Any]:
    document = _version(verdict.baseline)
    if verdict.baseline_choice is not None:  # before/after: which window (previous, day, week)
        document["choice"] = verdict.baseline_choice.value
    return document


def _evidence(e: Evidence) -> dict[str, Any]:
    item: dict[str, Any] = {
        "label": e.label,
        "baseline": _finite(e.baseline),
        "canary": _finite(e.canary),
        "unit": e.unit,
    }
    if e.detail:
        item["detail"] = redact_text(e.detail)
    return item


def _histogram(h: BucketCounts) -> dict[str, Any]:
    # JSON has no infinity: the last bucket's +Inf bound is null.
    return {
        "le": [_finite(b) for b in h.upper_bounds],
        "baseline": list(h.baseline),
        "canary": list(h.canary),
    }


def _check(r: CheckResult) -> dict[str, Any]:
    interval = None
    if r.interval is not None:
        interval = [_finite(r.interval[0]), _finite(r.interval[1])]
    optional: dict[str, Any] = {}
    if r.allowed is not None:
        optional["allowed"] = [_finite(r.allowed[0]), _finite(r.allowed[1])]
    if r.histogram is not None:
        optional["histogram"] = _histogram(r.histogram)
    return {
        "name": r.name,
        "signal": r.signal.value,
        "comparison": r.comparison.value,
        "purpose": r.purpose.value,
        "classification": r.classification.value,
        "critical": r.critical,
        "weight": r.weight,
        "unit": r.unit,
        "baseline": {"value": _finite(r.baseline_value), "n": r.baseline_n},
        "canary": {"value": _finite(r.canary_value), "n": r.canary_n},
        "effect": _finite(r.effect),
        "interval": interval,
        "p_value": _finite(r.p_value),
        "conclusive": r.conclusive,
        "message": redact_text(r.message),
        "evidence": [_evidence(e) for e in r.evidence],
        "bound": _bound(r.bound),
        **optional,
    }


def _bound(b: Bound | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {
        "effect": _finite(b.effect),
        "estimate": _finite(b.estimate),
        "quantity": b.quantity,
        "confidence": b.confidence,
        "negligible": b.negligible,
    }


def verdict_document(verdict: Verdict) -> dict[str, Any]:
    """The verdict as its published JSON document (schema: ``monitor/schema/verdict.schema.json``).

    The one builder of that document: the CLI prints it, the daemon stores it per look, and the API
    builds a deployment's document before its first look with it too.
    """
    return {
        "deployment_id": verdict.deployment_id,
        "service": verdict.service,
        "environment": verdict.environment,
        "canary": _version(verdict.canary),
        "baseline": _baseline(verdict),
        "verdict": verdict.status.value,
        "score": verdict.score,
        "decided_at": format_time(verdict.decided_at) if verdict.decided_at else None,
        "summary": redact_text(verdict.summary),
        "checks": [_check(r) for r in verdict.checks],
    }


def render_json(verdict: Verdict) -> str:
    """The verdict document as indented JSON."""
    return json.dumps(verdict_document(verdict), indent=2)


def render_text(verdict: Verdict) -> str:
    """Verdict and summary first, then a table of checks: what a pipeline log should show."""
    lines = [
        f"verdict: {verdict.status.value.upper()}  score {verdict.score:g}",
        f"summary: {redact_text(verdict.summary)}",
        f"service: {verdict.service}  canary {verdict.canary.version} "
        f"[{format_time(verdict.canary.window.start)} .. {format_time(verdict.canary.window.end)}]  "
        f"baseline {verdict.baseline.version} "
        f"[{format_time(verdict.baseline.window.start)} .. {format_time(verdict.baseline.window.end)}]",
        "",
    ]
    header = ("check", "result", "crit", "baseline", "canary", "effect", "interval")
    rows = [header]
    for r in verdict.checks:
        unit = r.unit
        interval = ""
        if r.interval is not None:
            fmt = fmt_value if r.comparison is ComparisonKind.SAMPLES else _plain
            interval = f"[{fmt(r.interval[0], unit)}, {fmt(r.interval[1], unit)}]"
        effect = fmt_ratio(r.effect) if r.comparison.value != "samples" else fmt_value(r.effect, unit)
        rows.append(
            (
                r.name,
                r.classification.value,
                "yes" if r.critical else "",
                fmt_value(r.baseline_value, unit),
                fmt_value(r.canary_value, unit),
                effect if r.effect is not None else "",
                interval,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    for r in verdict.checks:
        lines.append(f"- {r.name}: {redact_text(r.message)}")
        if r.signal is Signal.PROBE:  # each attempt shown: when, where, and what answered
            lines.extend(f"    {e.label}: {redact_text(e.detail)}" for e in r.evidence if e.detail)
            continue
        quantiles = [e for e in r.evidence if e.unit]
        if quantiles:
            pairs = (
                f"{e.label} {fmt_value(e.baseline, e.unit)} -> {fmt_value(e.canary, e.unit)}"
                for e in quantiles
            )
            lines.append(f"    baseline -> canary: {', '.join(pairs)}")
    return "\n".join(lines)


def _plain(value: float, _unit: str) -> str:
    return f"{value:.3g}"
