"""One look at a deployment: fetch every check's data for both versions, judge, decide."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.checks.kind import CheckKind, Judging, Look, ProbeAttempts, VersionQuery, judge_safely
from monitor.checks.metric import MetricPair
from monitor.checks.registry import kind_for
from monitor.engine.request import AnalysisRequest
from monitor.engine.spans import span_data
from monitor.errors import MonitorError
from monitor.judges import decide
from monitor.judges.checks import error_result
from monitor.logs.counts import LogData
from monitor.models import (
    CheckData,
    CheckResult,
    Classification,
    Signal,
    TraceData,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.otlp.views import TelemetryReader, TelemetrySnapshot, Versions
from monitor.profiles import CheckSpec
from monitor.profiles.templates import selector
from monitor.sources.base import MetricsSource
from monitor.stats import Claim, allocate, per_look_alpha
from monitor.timeparse import format_time
from monitor.tracing import tracer


@dataclass(frozen=True)
class _Read:
    """One check's data for this look, or the error reading them."""

    spec: CheckSpec
    kind: CheckKind[Any]
    data: Any = None
    error: CheckResult | None = None


class _LookAggregates:
    """The look's snapshot of log and span aggregates, each signal merged once (off the event loop)."""

    def __init__(self, snapshot: TelemetrySnapshot, period_s: float | None) -> None:
        self._snapshot = snapshot
        self._period_s = period_s
        self._logs: asyncio.Future[LogData] | None = None
        self._traces: asyncio.Future[TraceData] | None = None

    async def logs(self) -> LogData:
        if self._logs is None:
            self._logs = asyncio.ensure_future(asyncio.to_thread(self._snapshot.logs))
        return await self._logs

    async def traces(self) -> TraceData:
        if self._traces is None:
            self._traces = asyncio.ensure_future(asyncio.to_thread(self._snapshot.traces))
        return await self._traces

    def server_spans(self, spec: CheckSpec) -> tuple[CheckData, CheckData] | None:
        return span_data(spec, self._snapshot, self._period_s)


def _look(
    source: MetricsSource,
    request: AnalysisRequest,
    windows: tuple[Window, Window],
    snapshot: TelemetrySnapshot | MonitorError | None,
    probes: ProbeAttempts | None = None,
) -> Look:
    profile = request.profile
    canary_sel = selector(profile, request.service, request.canary_version, request.extra_matchers)
    baseline_sel = selector(profile, request.service, request.baseline_version, request.extra_matchers)
    # Periods only line up when both versions share the window (canary mode).
    period_s = profile.decision.period_s if request.baseline_window is None else None
    aggregates = _LookAggregates(snapshot, period_s) if isinstance(snapshot, TelemetrySnapshot) else None
    return Look(
        source, profile, VersionQuery(canary_sel, windows[0]), VersionQuery(baseline_sel, windows[1]),
        period_s, aggregates, request.subjects, probes,
    )  # fmt: skip


async def _read(spec: CheckSpec, look: Look) -> _Read:
    """One check's data; a failure becomes an error result."""
    kind = kind_for(spec)
    try:
        return _Read(spec, kind, await kind.fetch(spec, look))
    except MonitorError as exc:
        return _Read(spec, kind, error=error_result(spec, str(exc)))
    except Exception as exc:  # one broken check must never take the others down
        message = f"internal error while fetching ({type(exc).__name__}: {exc})"
        return _Read(spec, kind, error=error_result(spec, message))


def _judge_look(
    request: AnalysisRequest,
    reads: list[_Read],
    look_alpha: float,
    window_ratio: float | None,
    relevance: float,
) -> list[CheckResult]:
    """Split the look's alpha over the checks that can use it, then judge every check (CPU work)."""
    profile = request.profile
    claims = {
        r.spec.name: Claim(r.spec.alpha_weight, r.spec.critical, r.kind.min_p(r.spec, r.data))
        for r in reads
        if r.error is None
    }
    levels = allocate(look_alpha, claims, profile.decision.critical_share)
    results: list[CheckResult] = []
    for r in reads:
        if r.error is not None:
            results.append(r.error)
            continue
        judging = Judging(levels.get(r.spec.name, look_alpha), profile.traffic, window_ratio, relevance)
        results.append(judge_safely(r.kind, r.spec, r.data, judging))
    return results


def _missing_versions(request: AnalysisRequest, reads: list[_Read], results: list[CheckResult]) -> set[str]:
    """Versions whose selector matched no series at all, for required metric checks without data."""
    missing: set[str] = set()
    by_name = {r.name: r for r in results}
    for r in reads:
        if r.spec.optional or by_name[r.spec.name].classification is not Classification.NODATA:
            continue
        if isinstance(r.data, MetricPair):
            for version, fetched in (
                (request.canary_version, r.data.canary),
                (request.baseline_version, r.data.baseline),
            ):
                if not fetched.matched:
                    missing.add(version)
    return missing


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
        return await _window_hint(source, request.service, match, window)
    verb = "has" if len(missing) == 1 else "have"
    return f"; {missing_text} {verb} no data, versions with data: {', '.join(sorted(known))}"


_PROBE_AROUND = timedelta(days=7)
_PROBE_POINTS = 1000


async def _window_hint(source: MetricsSource, service: str, match: str, window: Window) -> str:
    """Why nothing matched ``match`` in ``window``: the window, when the service's series have data
    within a week of it (one range query), else the service name or the profile's labels.

    ``last_over_time`` over one step sees every sample however sparse, so the extent is exact to a
    step; without it a series scraped less often than the lookback would seem absent.
    """
    probe = Window(window.start - _PROBE_AROUND, window.end + _PROBE_AROUND)
    step_s = float(math.ceil(probe.duration_s / _PROBE_POINTS))
    try:
        series = await source.range(f"count(last_over_time({match}[{step_s:g}s]))", probe, step_s)
    except MonitorError:
        series = []
    times = [ts for s in series for ts, value in s.points if value == value and value > 0]
    shown = f"{format_time(window.start)} and {format_time(window.end)}"
    if not times:
        return (
            f"; no series at all match {match} between {shown} nor within a week of it: check --service, "
            "the profile's labels and the window"
        )
    first = datetime.fromtimestamp(min(times) - step_s, UTC)
    last = datetime.fromtimestamp(max(times), UTC)
    return (
        f"; no samples of service {service} between {shown}; its series have data from about "
        f"{format_time(first)} to {format_time(last)}: check --start and --end"
    )


# Signals read without the telemetry aggregates: metrics from their source, probes from their runs.
_NOT_TELEMETRY = (Signal.METRICS, Signal.PROBE)


def _unneeded(request: AnalysisRequest) -> frozenset[str]:
    """Checks whose lack of data does not count (an error reading them still does).

    Added checks that are not awaited (an SLO's burn: its series may not tell the versions
    apart). Before a blue/green switch (a preview) the new version may have no traffic yet: only
    its probes are awaited, and its other checks count when they have data.
    """
    unneeded = {a.spec.name for a in request.added if not a.awaited}
    if request.preview_url is not None:
        unneeded |= {spec.name for spec in request.checks if spec.signal is not Signal.PROBE}
    return frozenset(unneeded)


def _versions(request: AnalysisRequest, windows: tuple[Window, Window]) -> Versions:
    return Versions(
        request.service, request.environment or "", request.canary_version, windows[0],
        request.baseline_version, windows[1],
    )  # fmt: skip


async def _snapshot(
    telemetry: TelemetryReader | None, request: AnalysisRequest, windows: tuple[Window, Window]
) -> TelemetrySnapshot | MonitorError | None:
    """The look's log and trace aggregates, the error reading them, or None without telemetry."""
    checks = request.checks
    if telemetry is None or all(s.signal in _NOT_TELEMETRY and s.from_spans is None for s in checks):
        return None
    try:
        with tracer().start_as_current_span("read telemetry aggregates"):
            return await telemetry.snapshot(_versions(request, windows))
    except MonitorError as exc:  # the store failed: those checks error, the metrics still count
        return exc


def _checks_of_look(
    request: AnalysisRequest, snapshot: TelemetrySnapshot | MonitorError | None
) -> list[CheckSpec]:
    """The request's checks for this look: log and trace checks only when both versions sent that
    signal (or, when reading that signal failed, to report the error)."""
    return [
        spec
        for spec in request.checks
        if spec.signal in _NOT_TELEMETRY
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
    probes: ProbeAttempts | None = None,
) -> Verdict:
    """Evaluate the deployment as of ``at`` (the ``look``-th of ``planned_looks``, 1-based).

    The look spends its share of the run's alpha (:func:`monitor.stats.per_look_alpha`) over the
    checks that have data to use it (:func:`monitor.stats.allocate`). Log and trace checks take
    part only when ``telemetry`` has data of both versions: a service that sends none is judged
    on its metrics alone, with the whole false-alarm budget. Probe checks read ``probes``, the
    attempts made so far (none: they error, naming the probe).
    """
    profile = request.profile
    windows = request.windows_at(at)
    snapshot = await _snapshot(telemetry, request, windows)
    checks = _checks_of_look(request, snapshot)
    # Metric checks first, then logs and traces, then probes: the order of the verdict's checks.
    metric_checks = [spec for spec in checks if spec.signal is Signal.METRICS]
    probe_checks = [spec for spec in checks if spec.signal is Signal.PROBE]
    failed, aggregate_checks = _signal_errors(
        snapshot, [spec for spec in checks if spec.signal not in _NOT_TELEMETRY]
    )
    current = _look(source, request, windows, snapshot, probes)
    read_specs = metric_checks + aggregate_checks + probe_checks
    reads = list(await asyncio.gather(*(_read(spec, current) for spec in read_specs)))
    look_alpha = per_look_alpha(profile.alpha, look, planned_looks, profile.decision.final_share)
    # An early fail must be clear in size as well as in sign: the run could still go on, and the
    # first minutes' estimates are noisy. The last look decides on the estimate itself.
    relevance = 0.5 if last_look else profile.decision.early_relevance
    canary_s, baseline_s = windows[0].duration_s, windows[1].duration_s
    window_ratio = None if request.baseline_window is None else canary_s / baseline_s
    # The statistics are CPU work: off the event loop, so the API keeps answering while a
    # replica evaluates hundreds of deployments.
    with tracer().start_as_current_span("judge checks"):
        results = await asyncio.to_thread(_judge_look, request, reads, look_alpha, window_ratio, relevance)
    results += failed
    missing = _missing_versions(request, reads, results)
    elapsed_s = windows[0].duration_s
    decision = decide(
        results,
        {c.name: c for c in request.checks},
        profile.decision,
        last_look=last_look,
        elapsed_s=elapsed_s,
        harm=request.harm,
        unneeded=_unneeded(request),
    )
    summary = decision.summary
    if request.preview_url is not None and decision.status is not VerdictStatus.RUNNING:
        summary += (
            "; judged before the switch, at the preview address: its probes awaited, "
            "the other checks counted where they had data"
        )
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
        baseline_choice=request.baseline_choice if request.baseline_window is not None else None,
    )
