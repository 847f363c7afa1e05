"""``python -m bench.traces``: faults in one service of a small system, judged from its traces and logs.

Every run deploys ``cart`` as ``v2`` beside ``v1`` (half the traffic each) in a system of three
services that each export their own spans (:mod:`bench.traces.system`) to the monitor's real OTLP
receiver (the daemon's aiohttp app on a local port, a SQLite store). ``cart`` exports no HTTP
metrics: the monitor judges it on its server spans, its callers' view of it and its logs, with
``analyze``'s one-minute looks over ten minutes, as a production deployment (harm limits on).
Prometheus is real but holds no series of these services.

Cells: each fault kind and a fault-free control, at 20 requests/s (normal) and at 5 and 1 (low).
Targets: no false alarm; every fault kind failed in at least 90% of its normal-traffic runs; at low
traffic a fault ends ``fail`` or ``inconclusive``, never ``pass``. The markdown table goes to
stdout and ``bench/results/traces.md``, every verdict to ``bench/results/traces.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from bench.results import RESULTS_DIR, write_results
from bench.traces.system import Fault, Run, generate
from monitor.api.app import create_app
from monitor.api.otlp import RECEIVER
from monitor.engine import analyze
from monitor.engine.request import RequestDefaults, build_request
from monitor.models import Window
from monitor.otlp.stored import receiver_telemetry
from monitor.otlp.views import TelemetryReader
from monitor.profiles import load_profile
from monitor.simulate import Scenario, simulate_into_prometheus
from monitor.simulate.prometheus import free_port
from monitor.sources.prometheus import PrometheusSource
from monitor.store import Store

NORMAL_RPS, LOW_RPS = 20.0, (5.0, 1.0)
DETECTION_TARGET = 0.9


@dataclass(frozen=True)
class Outcome:
    """The monitor's verdict on one run."""

    run: Run
    status: str
    minutes: float
    summary: str


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _runs(faulty: int, low: int, controls: int, start: datetime, window_s: int) -> list[Run]:
    runs: list[Run] = []
    for rps in (NORMAL_RPS, *LOW_RPS):
        for fault in Fault:
            count = (controls if fault is Fault.NONE else faulty) if rps == NORMAL_RPS else low
            for i in range(count):
                name = f"{fault.value.replace('+', 'p')}-{rps:g}-{i}"
                seed = zlib.crc32(name.encode())
                runs.append(Run(name, fault, rps, start, window_s, seed))
    return runs


async def _send(runs: Sequence[Run], store: Store, source: PrometheusSource) -> None:
    """Every run's telemetry through the receiver over HTTP, flushed to the store."""
    app = create_app(store, source, None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        for index, run in enumerate(runs, 1):
            await asyncio.to_thread(generate, run, url)
            await app[RECEIVER].flush(store)
            if index % 10 == 0:
                _log(f"  ... sent {index}/{len(runs)} runs")
    finally:
        await runner.cleanup()


async def _judge(run: Run, source: PrometheusSource, telemetry: TelemetryReader) -> Outcome:
    window = Window(run.start, run.start + timedelta(seconds=run.duration_s))
    request = build_request(
        RequestDefaults(), load_profile("otel-http"), service=run.service("cart"), canary_version="v2",
        baseline_version="v1", canary_window=window, interval_s=60, environment="production",
    )  # fmt: skip
    verdict = await analyze(request, source, telemetry=telemetry)
    decided = verdict.decided_at or window.end
    return Outcome(run, verdict.status.value, (decided - window.start).total_seconds() / 60, verdict.summary)


def _row(label: str, outcomes: Sequence[Outcome]) -> str:
    n = len(outcomes)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("fail", "pass", "inconclusive", "marginal")}
    fails = [o.minutes for o in outcomes if o.status == "fail"]
    median = f"{statistics.median(fails):g}" if fails else "–"
    cells = [label, str(n), *(f"{counts[s] / n:.0%}" if n else "–" for s in counts), median]
    return "| " + " | ".join(cells) + " |"


def _misses(fault: Fault, rps: float, cell: Sequence[Outcome]) -> list[str]:
    """What in one cell misses a target."""
    fails = sum(o.status == "fail" for o in cell) / len(cell)
    passes = sum(o.status == "pass" for o in cell)
    if fault is Fault.NONE:
        return [f"false alarms in the controls at {rps:g} requests/s: {fails:.0%}"] if fails else []
    if rps == NORMAL_RPS:
        return (
            [f"{fault.value} at {rps:g} requests/s: {fails:.0%} failed"] if fails < DETECTION_TARGET else []
        )
    return [f"{fault.value} at {rps:g} requests/s: {passes} passed"] if passes else []


def _report(outcomes: Sequence[Outcome], seconds: float, minutes: int) -> tuple[str, bool]:
    lines = [
        "## Traces and logs benchmark",
        "",
        f"{len(outcomes)} runs of a three-service system, {minutes} minutes each, `cart` v2 "
        "against v1 at half the traffic each, every service exporting its own spans to the receiver; "
        "judged by `analyze` (one-minute looks, production) from spans and logs alone. "
        f"Wall time {seconds:.0f} s.",
        "",
        "| fault, traffic (requests/s) | runs | fail | pass | inconclusive | marginal | median min to fail |",
        "|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for rps in (NORMAL_RPS, *LOW_RPS):
        for fault in Fault:
            cell = [o for o in outcomes if o.run.fault is fault and o.run.requests_per_s == rps]
            if not cell:
                continue
            lines.append(_row(f"{fault.value}, {rps:g}", cell))
            notes += _misses(fault, rps, cell)
    met = not notes
    target = (
        f"no false alarm; every fault kind failed in ≥ {DETECTION_TARGET:.0%} at {NORMAL_RPS:g} requests/s; "
        "none passed at low traffic"
    )
    lines += ["", f"Targets: **{'PASS' if met else 'MISS'}** ({target})", *(f"- {note}" for note in notes)]
    return "\n".join(lines) + "\n", met


async def _main(args: argparse.Namespace, workdir: Path) -> int:
    started = time.monotonic()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    runs = _runs(args.runs, args.low_runs, args.controls, now - timedelta(minutes=40), args.minutes * 60)
    # A real Prometheus, holding one unrelated service: the bench's services have no series.
    process, _ = simulate_into_prometheus([Scenario("unrelated", duration_s=300, seed=1)], workdir)
    with process:
        source = PrometheusSource(process.url)
        store = await Store.open(f"sqlite:///{workdir / 'traces.db'}")
        try:
            _log(f"sending {len(runs)} runs through the OTLP receiver ...")
            await _send(runs, store, source)
            _log("judging ...")
            telemetry = receiver_telemetry(store)
            semaphore = asyncio.Semaphore(8)

            async def judged(run: Run) -> Outcome:
                async with semaphore:
                    return await _judge(run, source, telemetry)

            outcomes = list(await asyncio.gather(*(judged(run) for run in runs)))
        finally:
            await store.close()
            await source.close()
    report, met = _report(outcomes, time.monotonic() - started, args.minutes)
    print(report, end="")
    rows = (
        {"run": o.run.name, "fault": o.run.fault.value, "rps": o.run.requests_per_s, "status": o.status,
         "minutes": o.minutes, "summary": o.summary}
        for o in outcomes
    )  # fmt: skip
    write_results(args.results_dir, "traces", report, rows)
    return 0 if met or not args.strict else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; exit 1 with ``--strict`` when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench.traces", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per fault at normal traffic (10)")
    parser.add_argument("--controls", type=int, default=20, help="fault-free runs at normal traffic (20)")
    parser.add_argument(
        "--low-runs", type=int, default=5, help="runs per fault and control at low traffic (5)"
    )
    parser.add_argument("--minutes", type=int, default=15, help="each run's window (15)")
    parser.add_argument("--workdir", type=Path, help="keep Prometheus and the store here")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.workdir is not None:
        return asyncio.run(_main(args, args.workdir.resolve()))
    with tempfile.TemporaryDirectory(prefix="bench-traces-") as tmp:
        return asyncio.run(_main(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
