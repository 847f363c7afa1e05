"""Screenshots of the report page in a real browser: a fail, a pass, an inconclusive and a rollback.

Run: ``.venv/bin/python -m bench.report_screenshots`` (``--out docs/img``). It writes four
deployments into a fresh SQLite store, each with one verdict document per look made by the real
judges from simulated counts, histograms and log templates (:func:`populate`); serves the real API
on 127.0.0.1; and has headless Chromium (Debian's ``chromium``) save ``report-<name>.png`` of each.
The report's browser tests (``tests/api/test_report_browser.py``) use the same fixtures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from monitor.api.app import create_app
from monitor.channels.notify import Notifier
from monitor.config import Settings
from monitor.judges.checks import judge_counts, judge_distribution, judge_samples
from monitor.judges.logs import judge_log_templates
from monitor.judges.score import score_of
from monitor.logs.counts import Level, LogData, TemplateCounts
from monitor.models import (
    CheckResult,
    CountsData,
    DeploymentSpec,
    HistogramData,
    SamplesData,
    Strategy,
    Verdict,
    VerdictStatus,
    VersionWindow,
    Window,
)
from monitor.profiles import Profile, load_profile
from monitor.report import verdict_document
from monitor.settings.grafana import GrafanaSpec
from monitor.simulate.prometheus import free_port
from monitor.store import OutboxItem, Store, StoredVerdict

NAMES = ("fail", "pass", "inconclusive", "rollback")
STARTED_AT = datetime(2026, 11, 26, 9, 58, tzinfo=UTC)
WARMUP_S, INTERVAL_S = 120, 60
ALPHA = 0.01
GRAFANA_URL = "https://grafana.example.com"
PUBLIC_URL = "https://deploy-monitor.example.com"
TRACE_URL = "https://grafana.example.com/explore?traceId={trace_id}"
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, math.inf)
# Share of requests per latency bucket: the baseline's, and a canary slower by about one bucket.
FAST = (0.02, 0.08, 0.25, 0.3, 0.2, 0.1, 0.03, 0.015, 0.004, 0.0009, 0.0001)
SLOW = (0.005, 0.02, 0.08, 0.2, 0.3, 0.2, 0.12, 0.05, 0.02, 0.004, 0.001)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@dataclass(frozen=True)
class Scenario:
    """One simulated deployment: traffic per minute, each version's error ratio and latency."""

    service: str
    looks: int
    verdict: VerdictStatus
    baseline_rpm: float
    canary_rpm: float
    canary_errors: float
    slow_canary: bool
    new_error_template: bool
    summary: str


BASELINE_ERRORS = 0.01
SCENARIOS = {
    "fail": Scenario("checkout", 6, VerdictStatus.FAIL, 30_000, 3_300, 0.03, True, True,
                     "fail after 6 min: http_error_ratio regressed (3.0x baseline), http_latency regressed"),
    "pass": Scenario("cart", 10, VerdictStatus.PASS, 30_000, 3_300, 0.01, False, False,
                     "pass after 10 min: no check regressed and every critical check rules out harm"),
    "inconclusive": Scenario("search", 10, VerdictStatus.INCONCLUSIVE, 600, 30, 0.026, False, False,
                             "inconclusive after 10 min: too little canary traffic to rule out harm "
                             "(http_error_ratio not yet conclusive)"),
    "rollback": Scenario("payments", 5, VerdictStatus.FAIL, 30_000, 3_300, 0.04, False, True,
                         "fail after 5 min: http_error_ratio regressed (4.0x baseline); rolled back"),
}  # fmt: skip


def _counts(rng: random.Random, requests: float, ratio: float) -> tuple[float, float]:
    # Normal approximation of the binomial: enough for a picture, deterministic for a seed.
    events = max(0.0, round(rng.gauss(requests * ratio, math.sqrt(requests * ratio * (1 - ratio)))))
    return events, float(round(requests))


def _histogram(requests: float, shares: tuple[float, ...]) -> HistogramData:
    return HistogramData(BOUNDS, tuple(float(round(requests * s)) for s in shares))


def _logs(scenario: Scenario, canary_lines: int, baseline_lines: int) -> LogData:
    templates = [
        TemplateCounts("GET /api/<*> <*> 200 in <*> ms", Level.INFO, int(canary_lines * 0.97),
                       int(baseline_lines * 0.97), "GET /api/items 12 200 in 31 ms"),
        TemplateCounts("retrying upstream <*> after <*>", Level.WARN, int(canary_lines * 0.002),
                       int(baseline_lines * 0.002), "retrying upstream inventory after 50ms"),
    ]  # fmt: skip
    if scenario.new_error_template:
        templates.append(
            TemplateCounts(
                "payment gateway timeout after <*> ms (order <*>)", Level.ERROR,
                max(3, canary_lines // 150), 0,
                f"payment gateway timeout after 5000 ms (order 81723) trace_id={TRACE_ID}",
            )
        )  # fmt: skip
    lines = sum(t.canary for t in templates), sum(t.baseline for t in templates)
    return LogData(tuple(templates), float(lines[0]), float(lines[1]), "lines", lines[0], lines[1])


def look_results(scenario: Scenario, profile: Profile, look: int) -> tuple[CheckResult, ...]:
    """The judged checks of ``look`` (1-based): data accumulated since the end of the warm-up."""
    rng = random.Random(f"{scenario.service}-{look}")
    specs = {c.name: c for c in profile.checks}
    minutes = look * INTERVAL_S / 60
    baseline_n, canary_n = scenario.baseline_rpm * minutes, scenario.canary_rpm * minutes
    errors = judge_counts(
        specs["http_error_ratio"],
        CountsData(*_counts(rng, canary_n, scenario.canary_errors)),
        CountsData(*_counts(rng, baseline_n, BASELINE_ERRORS)),
        ALPHA,
    )
    latency = judge_distribution(
        specs["http_latency"],
        _histogram(canary_n, SLOW if scenario.slow_canary else FAST),
        _histogram(baseline_n, FAST),
        ALPHA,
    )
    cpu = judge_samples(
        specs["cpu_per_request"],
        SamplesData(tuple(0.0021 + rng.gauss(0, 0.0001) for _ in range(int(minutes * 4)))),
        SamplesData(tuple(0.0020 + rng.gauss(0, 0.0001) for _ in range(int(minutes * 4)))),
        ALPHA,
    )
    logs = judge_log_templates(specs["log_templates"], _logs(scenario, int(canary_n), int(baseline_n)), ALPHA)
    return (errors, latency, cpu, logs)


def _spec(scenario: Scenario) -> DeploymentSpec:
    return DeploymentSpec(
        service=scenario.service, environment="production", version="v2.4.0", baseline_version="v2.3.1",
        strategy=Strategy.CANARY, started_at=STARTED_AT, profile="otel-http", warmup_s=WARMUP_S,
        interval_s=INTERVAL_S, min_duration_s=300, max_duration_s=600, labels=(("cluster", "eu-west-1"),),
    )  # fmt: skip


def _verdict(scenario: Scenario, deployment_id: str, look: int, results: tuple[CheckResult, ...]) -> Verdict:
    start = STARTED_AT + timedelta(seconds=WARMUP_S)
    end = start + timedelta(seconds=look * INTERVAL_S)
    final = look == scenario.looks
    status = scenario.verdict if final else VerdictStatus.RUNNING
    summary = scenario.summary if final else f"running: look {look}, no decision yet"
    return Verdict(
        scenario.service, "production", VersionWindow("v2.4.0", Window(start, end)),
        VersionWindow("v2.3.1", Window(start, end)), status, score_of(results), summary, results,
        end if final else None, deployment_id,
    )  # fmt: skip


async def _rollback_story(store: Store, deployment_id: str) -> None:
    """What the rollback and pager channels leave after a fail: a rollback done, a page sent and resolved."""
    resolve_key = f"{deployment_id}:page:resolve:rollback-helm-payments:alertmanager"
    await store.enqueue(deployment_id, [OutboxItem("alertmanager", resolve_key, "[]")])
    await store.add_event(
        deployment_id, "rollback", "monitor", "helm-payments (helm): rolling back from revision 41",
        {"action": "helm-payments", "started_from": 41},
    )  # fmt: skip
    await store.add_event(
        deployment_id,
        "rollback",
        "monitor",
        "helm-payments (helm): rolled back release payments to revision 40",
    )
    for delivery in await store.claim_deliveries(claim_s=60, limit=20):
        await store.finish_delivery(delivery.id, delivered=True)


async def populate(store: Store, profile: Profile | None = None) -> dict[str, str]:
    """Write the four scenarios' deployments and looks into ``store``; their ids by scenario name.

    ``store`` must run on a clock after the last look (see :func:`fixture_clock`).
    """
    profile = profile or load_profile("otel-http")
    ids: dict[str, str] = {}
    for name in NAMES:
        scenario = SCENARIOS[name]
        deployment, _ = await store.register(_spec(scenario), actor="ci-pipeline")
        ids[name] = deployment.id
    await store.claim_due("fixture", lease_s=3600)
    for name in NAMES:
        scenario, deployment_id = SCENARIOS[name], ids[name]
        for look in range(1, scenario.looks + 1):
            verdict = _verdict(scenario, deployment_id, look, look_results(scenario, profile, look))
            final = look == scenario.looks
            notifications = []
            if final and name in ("fail", "rollback"):
                notifications.append(
                    OutboxItem("alertmanager", f"{deployment_id}:page:trigger:alertmanager", "[]")
                )
            if final and name == "rollback":
                notifications.append(
                    OutboxItem("rollback:helm-payments", f"{deployment_id}:rollback:helm-payments", "{}")
                )
            document = json.dumps(verdict_document(verdict))
            at = verdict.canary.window.end
            stored = StoredVerdict(look, at, verdict.status.value, verdict.score, final, document)
            next_look = verdict.canary.window.end + timedelta(seconds=INTERVAL_S)
            await store.record_verdict(
                deployment_id, owner="fixture", verdict=stored, next_look_at=None if final else next_look,
                notifications=notifications,
            )  # fmt: skip
        if name == "rollback":
            await _rollback_story(store, deployment_id)
    return ids


def fixture_clock() -> Callable[[], datetime]:
    """The store's clock for :func:`populate`: a minute after the longest scenario's last look."""
    longest = max(s.looks for s in SCENARIOS.values())
    moment = STARTED_AT + timedelta(seconds=WARMUP_S + (longest + 1) * INTERVAL_S)
    return lambda: moment


def notifier() -> Notifier:
    """A notifier whose settings name a public URL and a Grafana: the report links both."""
    grafana = GrafanaSpec(url=GRAFANA_URL, token="unused")
    return Notifier(Settings(public_url=PUBLIC_URL, grafana=grafana, trace_url=TRACE_URL))


@asynccontextmanager
async def serving(store: Store) -> AsyncIterator[str]:
    """The real API over ``store`` on 127.0.0.1 (no authentication), yielding its base URL."""
    app = create_app(store, None, None, trace_url=TRACE_URL, notifier=notifier())  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def chromium() -> str:
    """The Chromium binary (Debian's ``chromium``; ``make system-deps`` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise SystemExit("chromium is not installed: run make system-deps (apt-get install chromium)")
    return found


def _browser(profile_dir: Path, *arguments: str) -> list[str]:
    return [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile_dir}", "--hide-scrollbars", *arguments,
    ]  # fmt: skip


async def screenshot(url: str, png: Path, *, width: int = 1280, height: int = 2400) -> None:
    """Save a screenshot of ``url`` to ``png`` with headless Chromium."""
    with tempfile.TemporaryDirectory() as profile_dir:
        command = _browser(Path(profile_dir), f"--screenshot={png}", f"--window-size={width},{height}", url)
        await _run(command)


async def dump_dom(url: str) -> str:
    """The DOM of ``url`` as headless Chromium rendered it, serialised as HTML."""
    with tempfile.TemporaryDirectory() as profile_dir:
        return await _run(_browser(Path(profile_dir), "--dump-dom", url))


async def _run(command: list[str]) -> str:
    # The server runs in this event loop: the browser must not block it.
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    if process.returncode != 0:
        raise RuntimeError(f"chromium exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return stdout.decode()


async def take(out: Path) -> list[Path]:
    """Every scenario's report as ``out/report-<name>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as work:
        store = await Store.open(f"sqlite:///{Path(work) / 'monitor.db'}", clock=fixture_clock())
        try:
            ids = await populate(store)
            async with serving(store) as base:
                for name in NAMES:
                    png = out / f"report-{name}.png"
                    await screenshot(f"{base}/api/v1/deployments/{ids[name]}/report", png)
                    written.append(png)
        finally:
            await store.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; print where."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="directory (default: docs/img)")
    arguments = parser.parse_args(argv)
    for png in asyncio.run(take(arguments.out)):
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
