"""Daemon load: many deployments evaluated every minute, verdict reads, memory.

The deployments start at moments spread over a minute, as independent pipelines would register
them, so about ``deployments / 60`` looks come due every second.

Run: ``.venv/bin/python -m bench.daemon`` (``--deployments 500 --duration 240``). It starts a live
exporter for the simulated services (both versions, OTel HTTP histograms, advancing in real time),
a real Prometheus scraping it every 15 s, and one ``monitor serve`` on SQLite; registers the
deployments; lets the engine run; then reads verdicts at a fixed rate. Printed as a table:

* evaluation lag p99 (from ``monitor_evaluation_lag_seconds``; target under 10 s),
* verdict reads: achieved rate and p50/p99 latency at 200 requests/s while the engine works
  (target p99 under 50 ms),
* resident memory of the daemon and its engine process together, sampled throughout (target
  under 500 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from monitor.simulate.prometheus import PrometheusProcess, free_port
from monitor.simulate.scenario import OTEL_BUCKETS_S

LATENCY_MEDIAN_S, LATENCY_SIGMA = 0.08, 0.5


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(math.log(x / LATENCY_MEDIAN_S) / (LATENCY_SIGMA * math.sqrt(2.0))))


class LiveExporter:
    """Counters of ``services`` x two versions growing with wall time (10% canary, 0.5% errors)."""

    def __init__(self, services: int) -> None:
        self.services, self.started, self.port = services, time.time(), free_port("127.0.0.1")
        self._fractions = [_cdf(b) for b in OTEL_BUCKETS_S]

    def exposition(self) -> str:
        elapsed = time.time() - self.started + 600  # as if both had been running for ten minutes
        lines = ["# TYPE http_server_request_duration_seconds histogram"]
        for index in range(self.services):
            for version, rps in (("v1", 90.0), ("v2", 10.0)):
                for code, share in (("200", 0.995), ("500", 0.005)):
                    total = rps * share * elapsed
                    labels = (
                        f'service_name="svc-{index}",service_version="{version}",'
                        f'http_response_status_code="{code}"'
                    )
                    for bound, fraction in zip(OTEL_BUCKETS_S, self._fractions, strict=True):
                        count = f"{total * fraction:.1f}"
                        lines.append(
                            f'http_server_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}'
                        )
                    lines.append(
                        f'http_server_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total:.1f}'
                    )
                    lines.append(f"http_server_request_duration_seconds_count{{{labels}}} {total:.1f}")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        async def handle(_: web.Request) -> web.Response:
            return web.Response(text=self.exposition(), content_type="text/plain")

        def serve() -> None:
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/metrics", handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            loop.run_forever()

        # Its own process: building the exposition of hundreds of services holds a GIL, which must
        # not be the load generator's and so show up as read latency that the daemon did not cause.
        multiprocessing.Process(target=serve, daemon=True).start()


def _rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the daemon and its engine process)."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if int(entry.name) != pid and parent != pid:
                continue
            status = (entry / "status").read_text().splitlines()
        except (OSError, IndexError):
            continue
        total_kb += sum(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total_kb / 1024


def _lag_p99(metrics_text: str) -> tuple[float, int]:
    """Upper bucket bound holding 99% of looks, and the number of looks."""
    buckets: list[tuple[float, float]] = []
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "monitor_evaluation_lag_seconds":
            buckets = sorted(
                (float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")
            )
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= 0.99 * total:
            return bound, int(total)
    return math.inf, int(total)


async def _read_verdicts(
    url: str, ids: list[str], rate: float, seconds: float, csv_path: Path | None
) -> tuple[float, float, float]:
    latencies: list[float] = []
    samples: list[tuple[float, float]] = []
    async with aiohttp.ClientSession() as session:

        async def one(deployment_id: str) -> None:
            started, sent_unix_s = time.perf_counter(), time.time()
            async with session.get(f"{url}/api/v1/deployments/{deployment_id}/verdict") as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            samples.append((sent_unix_s, latencies[-1]))

        tasks = []
        begin = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(ids[n % len(ids)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    if csv_path is not None:
        csv_path.write_text(
            "sent_unix_s,latency_s\n" + "".join(f"{t:.4f},{v:.5f}\n" for t, v in sorted(samples))
        )
    latencies.sort()
    return len(latencies) / elapsed, statistics.median(latencies), latencies[int(0.99 * (len(latencies) - 1))]


async def _run(args: argparse.Namespace) -> int:
    exporter = LiveExporter(args.deployments)
    exporter.start()
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
        workdir = Path(tmp)
        scrape = (
            "global: {scrape_interval: 15s}\n"
            "scrape_configs:\n  - job_name: sim\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{exporter.port}']}}]\n"
        )
        with PrometheusProcess(workdir / "tsdb", workdir=workdir, config_yaml=scrape) as prometheus:
            port = free_port("127.0.0.1")
            url = f"http://127.0.0.1:{port}"
            daemon = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor.cli", "serve", "--listen", f"127.0.0.1:{port}",
                "--prometheus-url", prometheus.url, "--database", f"sqlite:///{workdir / 'monitor.db'}",
                "--insecure-no-auth", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                print(
                    f"waiting for two scrapes of {args.deployments} simulated services ...", file=sys.stderr
                )
                await asyncio.sleep(35)
                ids: list[str] = []
                async with aiohttp.ClientSession() as session:
                    for index in range(args.deployments):
                        # Deployments start at different moments: their looks spread over the minute,
                        # about deployments/60 per second, as independent pipelines would make them.
                        started = time.time() - 60.0 * index / args.deployments
                        body = {
                            "service": f"svc-{index}", "environment": "staging", "version": "v2",
                            "baseline_version": "v1", "warmup_s": 0, "interval_s": 60,
                            "min_duration_s": 3600, "max_duration_s": 7200, "started_at": f"{started:.3f}",
                        }  # fmt: skip
                        async with session.post(f"{url}/api/v1/deployments", json=body) as response:
                            ids.append((await response.json())["id"])
                print(
                    f"registered {len(ids)} deployments; running {args.duration:.0f} s ...", file=sys.stderr
                )
                rss_peak = 0.0
                registered = time.monotonic()
                # The reads run in the last 20 s of the period, while looks keep coming due.
                reads_at = registered + args.duration - 20
                reads: asyncio.Task[tuple[float, float, float]] | None = None
                while time.monotonic() < registered + args.duration or reads is None or not reads.done():
                    if reads is None and time.monotonic() >= reads_at:
                        reading = _read_verdicts(url, ids, args.read_rate, 20, args.latencies_csv)
                        reads = asyncio.create_task(reading)
                    rss_peak = max(rss_peak, _rss_mb(daemon.pid))
                    await asyncio.sleep(1)
                achieved, p50, p99 = await reads
                async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
                    lag_p99, looks = _lag_p99(await response.text())
                rss_peak = max(rss_peak, _rss_mb(daemon.pid))
            finally:
                daemon.terminate()
                await daemon.wait()
    checks = [
        ("evaluation lag p99", f"<= {lag_p99:g} s over {looks} looks", lag_p99 <= 10, "< 10 s"),
        ("verdict reads", f"{achieved:.0f}/s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms",
         p99 < 0.05 and achieved >= 0.95 * args.read_rate, f"{args.read_rate:.0f}/s, p99 < 50 ms"),
        ("resident memory (peak)", f"{rss_peak:.0f} MB", rss_peak < 500, "< 500 MB"),
    ]  # fmt: skip
    setup = f"{args.deployments} deployments, one look a minute each, one replica on SQLite"
    print(f"\n{setup}, {args.duration:.0f} s\n")
    print("| measure | result | target | |\n|---|---|---|---|")
    for name, result, ok, target in checks:
        print(f"| {name} | {result} | {target} | {'PASS' if ok else 'MISS'} |")
    return 0 if all(ok for _, _, ok, _ in checks) else 1


def main() -> int:
    """Parse the flags and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.daemon", description=__doc__)
    parser.add_argument("--deployments", type=int, default=500)
    parser.add_argument("--duration", type=float, default=240.0, help="seconds of steady evaluation (240)")
    parser.add_argument("--read-rate", type=float, default=200.0, help="verdict reads per second (200)")
    parser.add_argument("--latencies-csv", type=Path, help="write every read's send time and latency here")
    return asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
