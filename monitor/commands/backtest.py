"""``monitor backtest``: replay a profile over a service's Prometheus history and report how it
would have judged past deploys, how often it alarms on the service's own noise, and settings that
would alarm less.

The output goes to stdout in the ``--output`` format, or with ``--out DIR`` into
``backtest.{txt,csv,json,html}`` and the suggested profile override; progress and errors go to
stderr. Exit codes: 0 done, 3 error (one line saying why).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from monitor.backtest.render_csv import render_csv
from monitor.backtest.render_json import render_json
from monitor.backtest.render_text import render_text
from monitor.backtest.result import Backtest
from monitor.backtest.run import backtest as run_backtest_of
from monitor.backtest.span import backtest_span
from monitor.backtest.suggest import override_text
from monitor.backtest.suggest import write_override as suggest_override
from monitor.commands.analyze import prometheus_url
from monitor.commands.progress import ProgressBar
from monitor.config import Settings, load_settings
from monitor.errors import InputError, MonitorError
from monitor.exitcodes import EXIT_ERROR, EXIT_PASS
from monitor.models import Window
from monitor.profiles import Profile, load_profile
from monitor.redact import redact_text
from monitor.sources.connect import prometheus_source

MAX_FALSE_ALARM_TARGET = 0.5
OVERRIDE_FILE = "profile-override.yaml"
ProgressCallback = Callable[[int, int, str], None]
BacktestRun = Callable[..., Awaitable[Backtest]]
""":func:`monitor.backtest.run.backtest`, or a test's stand-in with its signature."""


def _renderers(profile: Profile) -> dict[str, Callable[[Backtest], str]]:
    """Each ``--output``'s renderer; the page draws ``profile``'s checks' power curves."""
    from monitor.backtest.render_html import render_html  # Jinja2 only when a page is written

    def page(backtest: Backtest) -> str:
        return render_html(backtest, profile)

    return {"text": render_text, "json": render_json, "csv": render_csv, "html": page}


@dataclass(frozen=True)
class Plan:
    """What the arguments ask for, validated."""

    service: str
    environment: str | None
    span: Window
    profile: Profile
    settings: Settings
    prometheus_url: str
    false_alarm_target: float
    output: str
    out: Path | None


def false_alarm_target(text: str) -> float:
    """``--false-alarm-target``: a share of A/A runs, above 0 and at most 0.5."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--false-alarm-target {text!r} is not a number; use e.g. 0.01 for 1 %") from None
    if not 0 < value <= MAX_FALSE_ALARM_TARGET:  # NaN too
        raise InputError(
            f"--false-alarm-target {text} must be above 0 and at most {MAX_FALSE_ALARM_TARGET:g}; "
            "use e.g. 0.01"
        )
    return value


def plan_from_args(args: argparse.Namespace, now: datetime | None = None) -> Plan:
    """Validate the arguments; an :class:`InputError` names the flag at fault and the fix."""
    settings = load_settings(Path(args.config) if args.config else None)
    url = prometheus_url(args.prometheus_url, settings)
    span = backtest_span(args.since, args.until, now or datetime.now(UTC))
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; name a directory (it is created if missing)")
    return Plan(
        service=args.service,
        environment=args.environment or settings.environment,
        span=span,
        profile=load_profile(args.profile or settings.profile),
        settings=settings,
        prometheus_url=url,
        false_alarm_target=false_alarm_target(args.false_alarm_target),
        output=args.output,
        out=out,
    )


async def compute(plan: Plan, run: BacktestRun, progress: ProgressCallback | None) -> Backtest:
    """Run the backtest the plan describes over its own Prometheus connection."""
    source = prometheus_source(plan.settings, plan.prometheus_url)  # with the configured credentials
    try:
        return await run(
            source,
            plan.service,
            plan.environment,
            plan.span.start,
            plan.span.end,
            plan.profile,
            plan.settings,
            progress=progress,
            false_alarm_target=plan.false_alarm_target,
        )
    finally:
        await source.close()


def write_outputs(backtest: Backtest, directory: Path, profile: Profile) -> list[Path]:
    """``backtest.{txt,csv,json,html}`` and, when there are suggestions, the profile override."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    suffixes = {"text": "txt", "json": "json", "csv": "csv", "html": "html"}
    for output, render in _renderers(profile).items():
        path = directory / f"backtest.{suffixes[output]}"
        path.write_text(render(backtest) + ("" if output == "csv" else "\n"), encoding="utf-8")
        written.append(path)
    if backtest.suggestions:
        written.append(write_override(backtest, profile, directory / OVERRIDE_FILE))
    return written


def write_override(backtest: Backtest, profile: Profile, path: Path) -> Path:
    """The suggestions as a profile file the user reviews and passes as ``--profile``."""
    span = (backtest.span.start, backtest.span.end)
    text = override_text(profile, backtest.suggestions, service=backtest.service, span=span)
    return suggest_override(path, text)


def run_backtest(
    args: argparse.Namespace,
    *,
    run: BacktestRun | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command: the output on stdout (or into ``--out``), progress and errors on stderr."""
    err = stderr or sys.stderr
    bar = ProgressBar(err, label="backtest")
    try:
        plan = plan_from_args(args)
        backtest = asyncio.run(compute(plan, run or run_backtest_of, bar))
        bar.close()
        for warning in backtest.warnings:
            print(f"monitor: warning: {redact_text(warning)}", file=err)
        if plan.out is not None:
            for path in write_outputs(backtest, plan.out, plan.profile):
                print(f"monitor: wrote {path}", file=err)
        else:
            print(_renderers(plan.profile)[plan.output](backtest), end="" if plan.output == "csv" else "\n")
    except MonitorError as exc:
        bar.close()
        print(f"monitor: error: {exc}", file=err)
        return EXIT_ERROR
    except Exception as exc:  # last resort: one line, and the error exit code, never a traceback
        bar.close()
        print(f"monitor: error: internal error ({type(exc).__name__}: {exc}); please report it", file=err)
        return EXIT_ERROR
    return EXIT_PASS
