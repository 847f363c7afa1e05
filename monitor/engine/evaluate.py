"""One look at a deployment: fetch every check's data for both versions, judge, decide."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

from monitor.engine.fetch import Fetched, fetch_check, selector
from monitor.engine.request import AnalysisRequest
from monitor.errors import MonitorError
from monitor.judges import decide, judge_check
from monitor.judges.checks import error_result
from monitor.judges.telemetry import judge_telemetry
from monitor.judges.traces import TraceData
from monitor.logs.counts import LogData
from monitor.models import (
    CheckResult,
    Classification,
    ComparisonKind,
    Signal,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.otlp.views import TelemetryReader, TelemetrySnapshot, Versions
from monitor.profiles import CheckSpec
from monitor.sources.base import MetricsSource
from monitor.stats import per_check_alpha, per_look_alpha
from monitor.tracing import tracer

_METRIC_SIGNALS = (Signal.METRICS, Signal.PROBE)


async def _judge_one(
    source: MetricsSource,
    request: AnalysisRequest,
    spec: CheckSpec,
    windows: tuple[Window, Window],
    alpha: float,
) -> tuple[CheckResult, tuple[str, ...]]:
    """Judge one check; also return the versions whose selector matched no series at all."""
    profile = request.profile
    canary_sel = selector(profile, request.service, request.canary_version, request.extra_matchers)
    baseline_sel = selector(profile, request.service, request.baseline_version, request.extra_matchers)
    # Periods only line up when both versions share the window (canary mode).
    period_s = profile.decision.period_s if request.baseline_window is None else None
    try:
        canary, baseline = await asyncio.gather(
            fetch_check(source, spec, profile, canary_sel, windows[0], period_s),
            fetch_check(source, spec, profile, baseline_sel, windows[1], period_s),
        )
    except MonitorError as exc:
        return error_result(spec, str(exc)), ()
    except Exception as exc:  # one broken check must never take the others down
        return error_result(spec, f"internal error while fetching ({type(exc).__name__}: {exc})"), ()
    canary_s, baseline_s = windows[0].duration_s, windows[1].duration_s
    # The statistics are CPU work: off the event loop, so the API keeps answering while a
    # replica evaluates hundreds of deployments.
    result = await asyncio.to_thread(
        functools.partial(
            judge_check,
            spec,
            canary.data,
            baseline.data,
            alpha=alpha,
            traffic=profile.traffic,
            window_ratio=None if request.baseline_window is None else canary_s / baseline_s,
        )
    )
    if result.classification is not Classification.NODATA:
        return result, ()
    # Only required checks speak for a missing version: optional metrics are often absent.
    result = replace(result, message=result.message + _unmatched(canary, baseline))
    if spec.optional:
        return result, ()
    versions = (request.canary_version, request.baseline_version)
    return result, tuple(v for v, f in zip(versions, (canary, baseline), strict=True) if not f.matched)


def _unmatched(*fetched: Fetched) -> str:
    missing = [f"{{{f.selector}}}" for f in fetched if not f.matched]
    return f"; no series matched {' nor '.join(missing)}" if missing else ""


async def _version_hint(
    source: MetricsSource, request: AnalysisRequest, missing: set[str], window: Window
) -> str:
    """Which versions of the service do have data, to turn a typo into an obvious fix."""
    match = "{" + selector(request.profile, request.service, None, request.extra_matchers) + "}"
    try:
        known = await source.label_values(request.profile.labels.version, match, window)
    except MonitorError:
        return ""
    missing_text = ", ".join(sorted(missing))
    if not known:
        return f"; no series at all match {match}: check --service and the profile's labels"
    verb = "has" if len(missing) == 1 else "have"
    return f"; {missing_text} {verb} no data, versions with data: {', '.join(sorted(known))}"


async def _traced(
    work: Coroutine[Any, Any, tuple[CheckResult, tuple[str, ...]]], check: str
) -> tuple[CheckResult, tuple[str, ...]]:
    with tracer().start_as_current_span(f"check {check}") as span:
        result = await work
        span.set_attribute("classification", result[0].classification.value)
        return result


def _telemetry_results(
    snapshot: TelemetrySnapshot, specs: list[CheckSpec], alpha_for: Callable[[CheckSpec], float]
) -> list[CheckResult]:
    """Judge the log and trace checks on one look's aggregates (each signal merged once)."""
    data: dict[Signal, LogData | TraceData] = {}
    for signal in {spec.signal for spec in specs}:
        data[signal] = snapshot.logs() if signal is Signal.LOGS else snapshot.traces()
    return [judge_telemetry(spec, data[spec.signal], alpha_for(spec)) for spec in specs]


def _versions(request: AnalysisRequest, windows: tuple[Window, Window]) -> Versions:
    return Versions(
        request.service, request.environment or "", request.canary_version, windows[0],
        request.baseline_version, windows[1],
    )  # fmt: skip


async def _snapshot(
    telemetry: TelemetryReader | None, request: AnalysisRequest, windows: tuple[Window, Window]
) -> TelemetrySnapshot | MonitorError | None:
    """The look's log and trace aggregates, the error reading them, or None without telemetry."""
    if telemetry is None or all(spec.signal in _METRIC_SIGNALS for spec in request.profile.checks):
        return None
    try:
        with tracer().start_as_current_span("read telemetry aggregates"):
            return await telemetry.snapshot(_versions(request, windows))
    except MonitorError as exc:  # the store failed: those checks error, the metrics still count
        return exc


def _checks_of_look(
    request: AnalysisRequest, snapshot: TelemetrySnapshot | MonitorError | None
) -> list[CheckSpec]:
    """The profile's checks for this look: log and trace checks only when both versions sent that
    signal (or, when reading them failed, to report the error)."""
    return [
        spec
        for spec in request.profile.checks
        if spec.signal in _METRIC_SIGNALS
        or isinstance(snapshot, MonitorError)
        or (snapshot is not None and snapshot.engaged(spec.signal))
    ]


async def evaluate_look(
    source: MetricsSource,
    request: AnalysisRequest,
    at: datetime,
    look: int,
    *,
    last_look: bool,
    planned_looks: int | None = None,
    telemetry: TelemetryReader | None = None,
) -> Verdict:
    """Evaluate the deployment as of ``at`` (the ``look``-th of ``planned_looks``, 1-based).

    Log and trace checks take part only when ``telemetry`` has data of both versions: a service
    that sends none is judged on its metrics alone, with the whole false-alarm budget.
    """
    profile = request.profile
    windows = request.windows_at(at)
    snapshot = await _snapshot(telemetry, request, windows)
    checks = _checks_of_look(request, snapshot)
    total_weight = sum(c.alpha_weight for c in checks)

    def alpha_for(spec: CheckSpec) -> float:
        if spec.alpha_weight == 0:
            return profile.alpha  # traffic checks test nothing
        check_alpha = per_check_alpha(profile.alpha, spec.alpha_weight, total_weight)
        # Samples tests are fixed-horizon: they spend their share over the looks.
        if spec.comparison is ComparisonKind.SAMPLES:
            return per_look_alpha(check_alpha, look, planned_looks)
        return check_alpha

    metric_checks = [spec for spec in checks if spec.signal in _METRIC_SIGNALS]
    telemetry_checks = [spec for spec in checks if spec not in metric_checks]
    judged = await asyncio.gather(
        *(
            _traced(_judge_one(source, request, spec, windows, alpha_for(spec)), spec.name)
            for spec in metric_checks
        )
    )
    results = [result for result, _ in judged]
    if isinstance(snapshot, MonitorError):
        message = f"reading the telemetry aggregates failed: {snapshot}"
        results += [error_result(spec, message) for spec in telemetry_checks]
    elif snapshot is not None and telemetry_checks:
        # Merging and judging are CPU work: off the event loop, like the metric checks' judging.
        results += await asyncio.to_thread(_telemetry_results, snapshot, telemetry_checks, alpha_for)
    missing = {version for _, versions in judged for version in versions}
    elapsed_s = windows[0].duration_s
    decision = decide(
        results,
        {c.name: c for c in profile.checks},
        profile.decision,
        last_look=last_look,
        elapsed_s=elapsed_s,
    )
    summary = decision.summary
    if missing and decision.status is VerdictStatus.INCONCLUSIVE:
        span = Window(min(w.start for w in windows), max(w.end for w in windows))
        summary += await _version_hint(source, request, missing, span)
    return Verdict(
        service=request.service,
        environment=request.environment,
        canary=VersionWindow(request.canary_version, windows[0]),
        baseline=VersionWindow(request.baseline_version, windows[1]),
        status=decision.status,
        score=decision.score,
        summary=summary,
        checks=tuple(results),
        decided_at=None if decision.status is VerdictStatus.RUNNING else at,
        deployment_id=request.deployment_id,
    )
