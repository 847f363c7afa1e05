"""One look at a deployment: fetch every check's data for both versions, judge, decide."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.engine.fetch import Fetched, fetch_check, selector
from monitor.engine.request import AnalysisRequest
from monitor.engine.spans import SELECTOR as SPANS
from monitor.engine.spans import span_data
from monitor.errors import MonitorError
from monitor.judges import decide, judge_check
from monitor.judges.checks import achievable_p, error_result
from monitor.judges.telemetry import judge_telemetry, telemetry_min_p
from monitor.judges.traces import TraceData
from monitor.logs.counts import LogData
from monitor.models import (
    CheckResult,
    Classification,
    Signal,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.otlp.views import TelemetryReader, TelemetrySnapshot, Versions
from monitor.profiles import CheckSpec
from monitor.sources.base import MetricsSource
from monitor.stats import Claim, allocate, per_look_alpha
from monitor.tracing import tracer

_METRIC_SIGNALS = (Signal.METRICS, Signal.PROBE)


@dataclass(frozen=True)
class _MetricData:
    """One metric check's data for both versions, or the error fetching it."""

    spec: CheckSpec
    canary: Fetched | None = None
    baseline: Fetched | None = None
    error: CheckResult | None = None


async def _fetch_one(
    source: MetricsSource, request: AnalysisRequest, spec: CheckSpec, windows: tuple[Window, Window]
) -> _MetricData:
    """Both versions' data for one metric check; a failure becomes an error result."""
    profile = request.profile
    canary_sel = selector(profile, request.service, request.canary_version, request.extra_matchers)
    baseline_sel = selector(profile, request.service, request.baseline_version, request.extra_matchers)
    # Periods only line up when both versions share the window (canary mode).
    period_s = profile.decision.period_s if request.baseline_window is None else None
    with tracer().start_as_current_span(f"check {spec.name}"):
        try:
            canary, baseline = await asyncio.gather(
                fetch_check(source, spec, profile, canary_sel, windows[0], period_s),
                fetch_check(source, spec, profile, baseline_sel, windows[1], period_s),
            )
        except MonitorError as exc:
            return _MetricData(spec, error=error_result(spec, str(exc)))
        except Exception as exc:  # one broken check must never take the others down
            message = f"internal error while fetching ({type(exc).__name__}: {exc})"
            return _MetricData(spec, error=error_result(spec, message))
    return _MetricData(spec, canary, baseline)


def _or_spans(m: _MetricData, snapshot: TelemetrySnapshot, request: AnalysisRequest) -> _MetricData:
    """A check without any series for either version reads the versions' server spans, if it may."""
    if m.canary is None or m.baseline is None or m.canary.matched or m.baseline.matched:
        return m
    period_s = request.profile.decision.period_s if request.baseline_window is None else None
    data = span_data(m.spec, snapshot, period_s)
    if data is None:
        return m
    return _MetricData(m.spec, Fetched(data[0], True, SPANS), Fetched(data[1], True, SPANS))


def _judge_look(
    request: AnalysisRequest,
    metrics: list[_MetricData],
    telemetry: list[tuple[CheckSpec, LogData | TraceData]],
    look_alpha: float,
    window_ratio: float | None,
    relevance: float,
) -> list[CheckResult]:
    """Split the look's alpha over the checks that can use it, then judge every check (CPU work)."""
    profile = request.profile
    claims: dict[str, Claim] = {}
    for m in metrics:
        if m.canary is not None and m.baseline is not None:
            min_p = achievable_p(m.spec, m.canary.data, m.baseline.data)
            claims[m.spec.name] = Claim(m.spec.alpha_weight, m.spec.critical, min_p)
    for spec, data in telemetry:
        claims[spec.name] = Claim(spec.alpha_weight, spec.critical, telemetry_min_p(spec, data))
    levels = allocate(look_alpha, claims, profile.decision.critical_share)
    results: list[CheckResult] = []
    for m in metrics:
        if m.error is not None or m.canary is None or m.baseline is None:
            results.append(m.error or error_result(m.spec, "no data fetched"))
            continue
        result = judge_check(
            m.spec, m.canary.data, m.baseline.data, alpha=levels.get(m.spec.name, look_alpha),
            traffic=profile.traffic, window_ratio=window_ratio, relevance=relevance,
        )  # fmt: skip
        if result.classification is Classification.NODATA:
            result = replace(result, message=result.message + _unmatched(m.canary, m.baseline))
        elif m.canary.selector == SPANS:
            result = replace(result, message=f"{result.message} (from server spans: no metric series)")
        results.append(result)
    for spec, data in telemetry:
        results.append(judge_telemetry(spec, data, levels.get(spec.name, look_alpha), relevance))
    return results


def _missing_versions(
    request: AnalysisRequest, metrics: list[_MetricData], results: list[CheckResult]
) -> set[str]:
    """Versions whose selector matched no series at all, for required checks without data."""
    missing: set[str] = set()
    by_name = {r.name: r for r in results}
    for m in metrics:
        result = by_name[m.spec.name]
        if m.spec.optional or result.classification is not Classification.NODATA:
            continue
        for version, fetched in ((request.canary_version, m.canary), (request.baseline_version, m.baseline)):
            if fetched is not None and not fetched.matched:
                missing.add(version)
    return missing


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


def _telemetry_data(
    snapshot: TelemetrySnapshot, specs: list[CheckSpec]
) -> list[tuple[CheckSpec, LogData | TraceData]]:
    """Each log and trace check with its signal's data for this look (each signal merged once)."""
    data: dict[Signal, LogData | TraceData] = {}
    for signal in {spec.signal for spec in specs}:
        data[signal] = snapshot.logs() if signal is Signal.LOGS else snapshot.traces()
    return [(spec, data[spec.signal]) for spec in specs]


def _versions(request: AnalysisRequest, windows: tuple[Window, Window]) -> Versions:
    return Versions(
        request.service, request.environment or "", request.canary_version, windows[0],
        request.baseline_version, windows[1],
    )  # fmt: skip


async def _snapshot(
    telemetry: TelemetryReader | None, request: AnalysisRequest, windows: tuple[Window, Window]
) -> TelemetrySnapshot | MonitorError | None:
    """The look's log and trace aggregates, the error reading them, or None without telemetry."""
    checks = request.profile.checks
    if telemetry is None or all(s.signal in _METRIC_SIGNALS and s.from_spans is None for s in checks):
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
    signal (or, when reading that signal failed, to report the error)."""
    return [
        spec
        for spec in request.profile.checks
        if spec.signal in _METRIC_SIGNALS
        or isinstance(snapshot, MonitorError)
        or (
            snapshot is not None
            and (snapshot.engaged(spec.signal) or snapshot.error(spec.signal) is not None)
        )
    ]


def _signal_errors(
    snapshot: TelemetrySnapshot | MonitorError | None, specs: list[CheckSpec]
) -> tuple[list[CheckResult], list[CheckSpec]]:
    """Error results for the checks whose own signal could not be read, and the checks left to judge.

    Each error is its signal's: a trace check names the trace backend that failed, and a log
    check is judged as usual while only the traces are missing.
    """
    if isinstance(snapshot, MonitorError):
        message = f"reading the telemetry aggregates failed: {snapshot}"
        return [error_result(spec, message) for spec in specs], []
    failed: list[CheckResult] = []
    judged: list[CheckSpec] = []
    for spec in specs:
        error = snapshot.error(spec.signal) if snapshot is not None else None
        if error is None:
            judged.append(spec)
        else:
            failed.append(error_result(spec, f"reading {spec.signal.value} failed: {error}"))
    return failed, judged


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

    The look spends its share of the run's alpha (:func:`monitor.stats.per_look_alpha`) over the
    checks that have data to use it (:func:`monitor.stats.allocate`). Log and trace checks take
    part only when ``telemetry`` has data of both versions: a service that sends none is judged
    on its metrics alone, with the whole false-alarm budget.
    """
    profile = request.profile
    windows = request.windows_at(at)
    snapshot = await _snapshot(telemetry, request, windows)
    checks = _checks_of_look(request, snapshot)
    metric_checks = [spec for spec in checks if spec.signal in _METRIC_SIGNALS]
    telemetry_checks = [spec for spec in checks if spec not in metric_checks]
    metrics = list(
        await asyncio.gather(*(_fetch_one(source, request, spec, windows) for spec in metric_checks))
    )
    if isinstance(snapshot, TelemetrySnapshot):
        metrics = [_or_spans(m, snapshot, request) for m in metrics]
    telemetry_data: list[tuple[CheckSpec, LogData | TraceData]] = []
    failed, telemetry_checks = _signal_errors(snapshot, telemetry_checks)
    if isinstance(snapshot, TelemetrySnapshot) and telemetry_checks:
        telemetry_data = await asyncio.to_thread(_telemetry_data, snapshot, telemetry_checks)
    look_alpha = per_look_alpha(profile.alpha, look, planned_looks, profile.decision.final_share)
    # An early fail must be clear in size as well as in sign: the run could still go on, and the
    # first minutes' estimates are noisy. The last look decides on the estimate itself.
    relevance = 0.5 if last_look else profile.decision.early_relevance
    canary_s, baseline_s = windows[0].duration_s, windows[1].duration_s
    window_ratio = None if request.baseline_window is None else canary_s / baseline_s
    # The statistics are CPU work: off the event loop, so the API keeps answering while a
    # replica evaluates hundreds of deployments.
    with tracer().start_as_current_span("judge checks"):
        results = await asyncio.to_thread(
            _judge_look, request, metrics, telemetry_data, look_alpha, window_ratio, relevance
        )
    results += failed
    missing = _missing_versions(request, metrics, results)
    elapsed_s = windows[0].duration_s
    decision = decide(
        results,
        {c.name: c for c in profile.checks},
        profile.decision,
        last_look=last_look,
        elapsed_s=elapsed_s,
        harm=request.harm,
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
