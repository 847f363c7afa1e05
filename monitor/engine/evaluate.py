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
from monitor.otlp.views import TelemetryReader, Versions
from monitor.profiles import CheckSpec
from monitor.sources.base import MetricsSource
from monitor.stats import per_check_alpha, per_look_alpha
from monitor.tracing import tracer


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


async def _telemetry_results(
    telemetry: TelemetryReader,
    request: AnalysisRequest,
    windows: tuple[Window, Window],
    specs: list[CheckSpec],
    alpha_for: Callable[[CheckSpec], float],
) -> list[CheckResult]:
    """Judge the log and trace checks from the receiver's aggregates (both signals read once)."""
    versions = _versions(request, windows)
    data: dict[Signal, LogData | TraceData] = {}
    for signal in {spec.signal for spec in specs}:
        with tracer().start_as_current_span(f"read {signal.value} aggregates"):
            data[signal] = await (
                telemetry.logs(versions) if signal is Signal.LOGS else telemetry.traces(versions)
            )

    def judge_all() -> list[CheckResult]:
        return [judge_telemetry(spec, data[spec.signal], alpha_for(spec)) for spec in specs]

    return await asyncio.to_thread(judge_all)


def _versions(request: AnalysisRequest, windows: tuple[Window, Window]) -> Versions:
    return Versions(
        request.service, request.environment or "", request.canary_version, windows[0],
        request.baseline_version, windows[1],
    )  # fmt: skip


async def _engaged_checks(
    telemetry: TelemetryReader | None, request: AnalysisRequest, windows: tuple[Window, Window]
) -> list[CheckSpec]:
    """The profile's checks for this look: log and trace checks only when both versions sent that signal."""
    specs = list(request.profile.checks)
    signals = {spec.signal for spec in specs} - {Signal.METRICS, Signal.PROBE}
    engaged = set()
    for signal in signals:
        if telemetry is not None and await telemetry.engaged(signal, _versions(request, windows)):
            engaged.add(signal)
    return [spec for spec in specs if spec.signal in (Signal.METRICS, Signal.PROBE) or spec.signal in engaged]


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
    checks = await _engaged_checks(telemetry, request, windows)
    total_weight = sum(c.alpha_weight for c in checks)

    def alpha_for(spec: CheckSpec) -> float:
        if spec.alpha_weight == 0:
            return profile.alpha  # traffic checks test nothing
        check_alpha = per_check_alpha(profile.alpha, spec.alpha_weight, total_weight)
        # Samples tests are fixed-horizon: they spend their share over the looks.
        if spec.comparison is ComparisonKind.SAMPLES:
            return per_look_alpha(check_alpha, look, planned_looks)
        return check_alpha

    metric_checks = [spec for spec in checks if spec.signal in (Signal.METRICS, Signal.PROBE)]
    telemetry_checks = [spec for spec in checks if spec not in metric_checks]
    judged = await asyncio.gather(
        *(
            _traced(_judge_one(source, request, spec, windows, alpha_for(spec)), spec.name)
            for spec in metric_checks
        )
    )
    results = [result for result, _ in judged]
    if telemetry is not None and telemetry_checks:
        try:
            results += await _telemetry_results(telemetry, request, windows, telemetry_checks, alpha_for)
        except MonitorError as exc:  # the store failed: those checks error, the metrics still count
            results += [
                error_result(spec, f"reading the receiver's aggregates failed: {exc}")
                for spec in telemetry_checks
            ]
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
