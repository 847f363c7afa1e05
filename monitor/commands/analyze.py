"""``monitor analyze``: one-shot analysis against Prometheus, exit code from the verdict.

With ``--probe``, smoke probes are run once, now, before the analysis (:mod:`monitor.probes.session`)
and judged with it: live answers of the versions as they run now, even when the window is past (a
warning on stderr says so when it ended over :data:`PROBES_STALE_AFTER` ago). Ctrl-C ends the run
with :data:`EXIT_INTERRUPTED` and one line, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.checks.probes import check_name_clash, probe_checks
from monitor.cliargs import check_url
from monitor.config import Settings, load_settings
from monitor.engine import AnalysisRequest, analyze
from monitor.engine.request import RequestDefaults, baseline_window, build_request, resolve_baseline
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_FAIL, EXIT_PASS, EXIT_UNDECIDED
from monitor.models import (
    BaselineChoice,
    Classification,
    ProbeSpec,
    Verdict,
    VerdictStatus,
    Window,
    template_fields,
)
from monitor.probes.hosts import INLINE_PREFIX, inline_problem
from monitor.probes.scope import applying_probes
from monitor.probes.targets import CANARY, ProbeTargets, probe_targets
from monitor.profiles import load_profile
from monitor.redact import redact_url
from monitor.sources.connect import loki_source, prometheus_source, trace_source
from monitor.sources.prometheus import PrometheusSource
from monitor.timeparse import format_time, parse_duration_s, parse_time

if TYPE_CHECKING:
    from monitor.otlp.pulled import PulledTelemetry
    from monitor.probes.session import Progress, RunAttempts

MAX_WINDOW_S = 7 * 86400.0
MIN_INTERVAL_S = 10.0
MAX_LOOKS = 10_080  # one a minute for a week
_FUTURE_SLACK = timedelta(seconds=60)
ALL_PROBES = "all"
# Probes answer for what runs when they are made: a window that ended longer ago than this may have
# been served by something else.
PROBES_STALE_AFTER = timedelta(minutes=10)
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C


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


def _inline_probe(url: str, name: str) -> ProbeSpec:
    """``--probe URL``: a probe with the defaults (5 attempts 10 s apart, failing at 3 in a row),
    which may request only the URL's own host. :class:`InputError` (the URL shown redacted) when
    the URL is unfit, before anything runs."""
    if (problem := inline_problem(url)) is not None:
        raise InputError(f"--probe {redact_url(url)}: {problem}")
    return ProbeSpec(name=name, url=url)


def _taken(name: str, probes: Sequence[ProbeSpec]) -> bool:
    """Whether a probe called ``name`` would share a name or a check's name with one of ``probes``."""
    return check_name_clash(ProbeSpec(name=name, url="http://localhost/"), probes) is not None


def probes_from_args(args: argparse.Namespace, settings: Settings) -> tuple[ProbeSpec, ...]:
    """The probes ``--probe`` names: configured ones by name, ``all`` those that apply to the
    service and environment, and inline ones by URL; each once, in the order given.

    ``all`` leaves out, with a warning on stderr, a probe whose URL names a host its ``hosts`` do
    not list for one of the versions (every attempt would be refused), as the daemon does."""
    chosen: dict[str, ProbeSpec] = {}
    configured = {p.name: p for p in settings.probes}
    inline = 0
    for given in getattr(args, "probe", None) or []:
        if given == ALL_PROBES:
            applying, skipped = applying_probes(
                settings.probes, service=args.service, environment=settings.environment or "",
                versions=(args.canary_version, args.baseline_version),
            )  # fmt: skip
            for reason in skipped:
                print(f"monitor: warning: --probe all: {reason}", file=sys.stderr, flush=True)
            if not applying:
                where = f" in {settings.environment}" if settings.environment else ""
                left_out = " (the ones in scope are left out, as warned)" if skipped else ""
                raise InputError(
                    f"--probe all: no configured probe applies to {args.service}{where}{left_out}; "
                    "add probes: to --config or name a URL"
                )
            chosen |= {p.name: p for p in applying}
        elif "://" in given:
            # smoke-1, smoke-2, ...: a number whose name (or check) no configured probe has, so an
            # inline probe never replaces one named with --probe beside it.
            inline = next(n for n in count(inline + 1) if not _taken(f"{INLINE_PREFIX}{n}", settings.probes))
            probe = _inline_probe(given, f"{INLINE_PREFIX}{inline}")
            chosen[probe.name] = probe
        elif given in configured:
            chosen[given] = configured[given]
        else:
            names = ", ".join(configured) or "none configured"
            raise InputError(
                f"--probe {given}: no such probe (configured: {names}); name one, 'all', or an http(s) URL"
            )
    return tuple(chosen.values())


def _probe_plan(
    probes: tuple[ProbeSpec, ...], request: AnalysisRequest
) -> tuple[tuple[ProbeSpec, ProbeTargets], ...]:
    """Each probe with the addresses of the analysed versions (the old one's when it has its own)."""

    def targets(probe: ProbeSpec) -> ProbeTargets:
        return probe_targets(
            probe, service=request.service, environment=request.environment,
            version=request.canary_version, baseline_version=request.baseline_version,
        )  # fmt: skip

    return tuple((probe, targets(probe)) for probe in probes)


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
    if probes := probes_from_args(args, settings):
        # The latency of a probe whose old version answers at its own address is compared too.
        compared = [probe.name for probe, targets in _probe_plan(probes, request) if targets.baseline]
        request = replace(request, added=probe_checks(probes, compared))
    return request, prometheus_source(settings, url), settings  # with the configured credentials


def probe_warnings(request: AnalysisRequest, now: datetime) -> list[str]:
    """Warning lines for probes run now over a window that ended more than
    :data:`PROBES_STALE_AFTER` before ``now``: they judge what answers now, and a URL without
    ``{version}`` may reach another version than the one analysed."""
    probes = [a.subject for a in request.added if isinstance(a.subject, ProbeSpec)]
    ago_s = (now - request.canary_window.end).total_seconds()
    if not probes or ago_s <= PROBES_STALE_AFTER.total_seconds():
        return []
    lines = [
        f"monitor: warning: --end is {ago_s / 60:.0f} minutes ago: the probes run now, against what "
        "answers now, not during the analysed window"
    ]
    lines += [
        f"monitor: warning: probe {probe.name}'s URL has no {{version}}: it may reach another version "
        f"than {request.canary_version}, the one analysed"
        for probe in probes
        if "version" not in template_fields(probe.url)
    ]
    return lines


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


def _say_attempt(progress: Progress) -> None:
    """``probe health: attempt 2 of 3: status 200 in 0.041 s`` on stderr, as each attempt ends."""
    from monitor.judges.probes import describe

    result = progress.result
    role = "" if result.role == CANARY else f" ({result.role})"
    line = f"probe {result.probe}{role}: attempt {progress.index} of {progress.count}: {describe(result)}"
    print(line, file=sys.stderr, flush=True)


async def run_request_probes(request: AnalysisRequest) -> RunAttempts:
    """Run the probes of ``request``'s added checks once, now, with progress on stderr."""
    from monitor.probes.runner import ProbeRunner
    from monitor.probes.session import probe_session, run_probes

    probes = {a.subject.name: a.subject for a in request.added if isinstance(a.subject, ProbeSpec)}
    async with probe_session() as session:
        plan = _probe_plan(tuple(probes.values()), request)
        return await run_probes(ProbeRunner(session), plan, on_attempt=_say_attempt)


async def _analyze(
    request: AnalysisRequest, source: PrometheusSource, telemetry: PulledTelemetry | None = None
) -> Verdict:
    try:
        # The probes run now, before the first look; every look sees every attempt (RunAttempts).
        probes = (
            await run_request_probes(request)
            if any(isinstance(a.subject, ProbeSpec) for a in request.added)
            else None
        )
        return await analyze(request, source, telemetry=telemetry, probes=probes)
    finally:
        await source.close()


def run_analyze(args: argparse.Namespace) -> int:
    """Run the command; print the verdict to stdout and any error as one line on stderr."""
    from monitor.report import render_json, render_text

    try:
        request, source, settings = request_from_args(args)
        for line in probe_warnings(request, datetime.now(UTC)):
            print(line, file=sys.stderr, flush=True)
        verdict = asyncio.run(_analyze(request, source, pull_sources(args, settings)))
    except KeyboardInterrupt:  # Ctrl-C (during the probes' run, say): asyncio.run has cleaned up
        print("monitor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MonitorError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # last resort: a crash must not read as "fail" (exit 1) to a pipeline
        print(
            f"monitor: error: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr
        )
        return EXIT_ERROR
    optional = {spec.name for spec in request.checks if spec.optional}
    # The code comes from the verdict about to be printed, and is returned even when nobody reads
    # it (stdout closed by `| head -1`): a closed pipe is not news about the deployment.
    code = exit_code(verdict, optional)
    print(render_json(verdict) if args.output == "json" else render_text(verdict))
    for line in error_lines(verdict, optional):
        print(line, file=sys.stderr)
    return code
