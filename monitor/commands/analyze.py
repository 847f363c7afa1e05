"""``monitor analyze``: one-shot analysis against Prometheus, exit code from the verdict."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.cliargs import check_url
from monitor.config import Settings, load_settings
from monitor.engine import AnalysisRequest, analyze
from monitor.engine.request import RequestDefaults, baseline_window, build_request, resolve_baseline
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED
from monitor.models import BaselineChoice, Classification, Verdict, VerdictStatus, Window
from monitor.profiles import load_profile
from monitor.sources.connect import loki_source, prometheus_source, trace_source
from monitor.sources.prometheus import PrometheusSource
from monitor.timeparse import format_time, parse_duration_s, parse_time

if TYPE_CHECKING:
    from monitor.otlp.pulled import PulledTelemetry

MAX_WINDOW_S = 7 * 86400.0
MIN_INTERVAL_S = 10.0
MAX_LOOKS = 10_080  # one a minute for a week
_FUTURE_SLACK = timedelta(seconds=60)


def exit_code(verdict: Verdict, optional: Collection[str] = ()) -> int:
    """The exit code of the verdict as printed: 0 pass, 1 fail, 2 marginal or inconclusive (or still
    running), and 3 for an inconclusive verdict that a required check's error decided.

    Such a verdict says the monitor could not measure the deployment (a backend down, a query it
    rejected): an error to fix, not news about the deployment. Checks named in ``optional`` never
    decide a verdict, so their errors never change the code: a pass is 0 and a fail 1 whatever else
    failed beside them.
    """
    if verdict.status is VerdictStatus.PASS:
        return EXIT_PASS
    if verdict.status is VerdictStatus.FAIL:
        return EXIT_FAIL
    if verdict.status is VerdictStatus.INCONCLUSIVE and any(
        c.classification is Classification.ERROR and c.name not in optional for c in verdict.checks
    ):
        return EXIT_ERROR
    return EXIT_UNDECIDED


def error_lines(verdict: Verdict, optional: Collection[str] = ()) -> list[str]:
    """One stderr line per distinct error among the checks, naming the checks it hit.

    Checks reading one backend fail with the same message when it is down; said once, the line
    names the backend and its error instead of repeating it per check. Errors of optional checks
    only are warnings: they did not decide the verdict.
    """
    by_message: dict[str, list[str]] = {}
    for check in verdict.checks:
        if check.classification is Classification.ERROR:
            by_message.setdefault(check.message, []).append(check.name)
    lines: list[str] = []
    for message, names in by_message.items():
        level = "warning" if all(name in optional for name in names) else "error"
        lines.append(f"monitor: {level}: {', '.join(names)}: {message}")
    return lines


def _window(start_raw: str, end_raw: str, start_flag: str, end_flag: str, now: datetime) -> Window:
    start, end = parse_time(start_raw, start_flag, now), parse_time(end_raw, end_flag, now)
    if end <= start:
        raise InputError(f"{end_flag} {format_time(end)} is not after {start_flag} {format_time(start)}")
    if (end - start).total_seconds() > MAX_WINDOW_S:
        raise InputError(f"window {start_flag}..{end_flag} is longer than 7 days; analyse a shorter window")
    if end > now + _FUTURE_SLACK:
        raise InputError(f"{end_flag} {format_time(end)} is in the future; analyze looks at the past")
    return Window(start, end)


def _baseline(
    args: argparse.Namespace, canary_window: Window, now: datetime, calibrated: str | None
) -> tuple[Window | None, BaselineChoice | None]:
    """The baseline window of before/after mode (None: canary mode), and the choice that made it.

    ``--baseline`` chooses it relative to the canary window, whose start is taken as the switch;
    ``--baseline-start``/``--baseline-end`` give it by hand (no choice to name).
    """
    explicit = args.baseline_start is not None or args.baseline_end is not None
    if getattr(args, "baseline", None):
        if explicit:
            raise InputError(
                f"--baseline {args.baseline} chooses the baseline window itself; "
                "leave out --baseline-start and --baseline-end"
            )
        choice = resolve_baseline(BaselineChoice(args.baseline), calibrated)
        return baseline_window(choice, canary_window, canary_window.start), choice
    if (args.baseline_start is None) != (args.baseline_end is None):
        raise InputError("before/after mode needs both --baseline-start and --baseline-end")
    if args.baseline_start is None:
        return None, None
    window = _window(args.baseline_start, args.baseline_end, "--baseline-start", "--baseline-end", now)
    return window, None


def prometheus_url(flag: str | None, settings: Settings) -> str:
    """The ``--prometheus-url`` flag's URL, else the configured one (checked); an error saying where
    to set one when neither is."""
    url = flag or settings.prometheus_url
    if not url:
        raise InputError(
            "no Prometheus URL; pass --prometheus-url, set MONITOR_PROMETHEUS_URL "
            "or prometheus.url in --config"
        )
    if not flag:  # the flag was checked as it was parsed
        check_url(url, "MONITOR_PROMETHEUS_URL")
    return url


def request_from_args(args: argparse.Namespace) -> tuple[AnalysisRequest, PrometheusSource, Settings]:
    """Validate the arguments into a request, its metrics source and the settings; raise MonitorError."""
    settings = load_settings(Path(args.config) if args.config else None)
    url = prometheus_url(args.prometheus_url, settings)
    now = datetime.now(UTC)  # once: --start now-20m --end now is exactly 20 minutes
    canary_window = _window(args.start, args.end, "--start", "--end", now)
    profile = load_profile(args.profile or settings.profile)
    baseline, choice = _baseline(args, canary_window, now, profile.baseline)
    interval_s = parse_duration_s(args.interval, "--interval") if args.interval else None
    if interval_s is not None:
        if interval_s < MIN_INTERVAL_S:
            raise InputError(f"--interval {args.interval} is shorter than {MIN_INTERVAL_S:g}s; use e.g. 60s")
        looks = canary_window.duration_s / interval_s
        if looks > MAX_LOOKS:
            raise InputError(
                f"--interval {args.interval} makes {looks:.0f} looks over the window (at most {MAX_LOOKS}); "
                "raise --interval"
            )
    request = build_request(
        RequestDefaults.from_settings(settings),
        profile,
        service=args.service,
        canary_version=args.canary_version,
        baseline_version=args.baseline_version,
        canary_window=canary_window,
        baseline_window=baseline,
        interval_s=interval_s,
        environment=settings.environment,
        baseline_choice=choice,
    )
    return request, prometheus_source(settings, url), settings  # with the configured credentials


def pull_sources(args: argparse.Namespace, settings: Settings) -> PulledTelemetry | None:
    """Loki and Tempo (or Jaeger) to read logs and traces from: the flags' URLs, else the config's."""
    loki = loki_source(settings, getattr(args, "loki_url", None), args.loki_selector)
    traces = trace_source(settings, getattr(args, "tempo_url", None), getattr(args, "jaeger_url", None))
    if loki is None and traces is None:
        return None
    # Imported only when logs or traces are pulled: it brings the OTLP protobuf types and the log
    # template miner, which cost a metrics-only analysis a tenth of its time (bench/analyze_latency).
    from monitor.otlp.pulled import PulledTelemetry

    return PulledTelemetry(loki, traces)


async def _analyze(
    request: AnalysisRequest, source: PrometheusSource, telemetry: PulledTelemetry | None = None
) -> Verdict:
    try:
        return await analyze(request, source, telemetry=telemetry)
    finally:
        await source.close()


def run_analyze(args: argparse.Namespace) -> int:
    """Run the command; print the verdict to stdout and any error as one line on stderr."""
    from monitor.report import render_json, render_text

    try:
        request, source, settings = request_from_args(args)
        verdict = asyncio.run(_analyze(request, source, pull_sources(args, settings)))
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # last resort: a crash must not read as "fail" (exit 1) to a pipeline
        print(
            f"monitor: error: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr
        )
        return EXIT_ERROR
    optional = {spec.name for spec in request.profile.checks if spec.optional}
    # The code comes from the verdict about to be printed, and is returned even when nobody reads
    # it (stdout closed by `| head -1`): a closed pipe is not news about the deployment.
    code = exit_code(verdict, optional)
    print(render_json(verdict) if args.output == "json" else render_text(verdict))
    for line in error_lines(verdict, optional):
        print(line, file=sys.stderr)
    return code
