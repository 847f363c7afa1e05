"""OTLP ingest on one core: spans/s and log records/s, with the cost split into parse, aggregate, flush.

Run: ``.venv/bin/python -m bench.ingest [--batches 200]``. Batches like an SDK's (512 spans or
log records each) are built once for 10 services in two versions: request spans with 1-5 child
queries, 5% errors with an exception event; log lines from a dozen templates with numbers, ids and
addresses, 5% at ERROR. Then, in this one thread:

* **parse**: ``ExportTraceServiceRequest.ParseFromString`` (and the logs counterpart),
* **aggregate**: :class:`monitor.otlp.aggregate.Aggregator` (template mining for logs),
* **flush**: draining the aggregates to JSON rows and writing them to a SQLite store, once per
  ten batches (the receiver flushes every 10 s).

Then the same batches through the daemon's HTTP receiver (``POST /v1/traces``, ``/v1/logs``,
protobuf), with the client in the same thread, so the figure includes HTTP on both ends. Target:
at least 50,000 spans/s and 50,000 log records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import (
    SEVERITY_NUMBER_ERROR,
    SEVERITY_NUMBER_INFO,
    LogRecord,
    ResourceLogs,
    ScopeLogs,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from monitor.api.app import create_app
from monitor.otlp.aggregate import Aggregator
from monitor.simulate.prometheus import free_port
from monitor.store import Store, TelemetryRow

BATCH = 512
TARGET_PER_S = 50_000
TEMPLATES = (
    "GET /api/orders/{n} 200 in {ms} ms",
    "user {n} logged in from {ip}",
    "cache miss for key order:{n}",
    "payment {uuid} authorised for {n} cents",
    "slow query took {ms} ms: SELECT * FROM orders WHERE id = {n}",
    "retrying call to inventory ({n}/3)",
    "connection from {ip} closed",
    "published event {uuid} to topic orders",
    "worker {n} heartbeat",
    "config reloaded from /etc/shop/{n}.yaml",
    "session {hex} expired",
    "queue depth {n}",
)


def _resource(service: str, version: str) -> Resource:
    return Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value=service)),
            KeyValue(key="service.version", value=AnyValue(string_value=version)),
            KeyValue(key="deployment.environment.name", value=AnyValue(string_value="production")),
        ]
    )


def _span_batch(rng: random.Random, service: str, version: str, now_ns: int) -> bytes:
    spans: list[Span] = []
    while len(spans) < BATCH:
        trace_id, parent_id = rng.randbytes(16), rng.randbytes(8)
        start = now_ns - rng.randrange(50_000_000_000)
        failed = rng.random() < 0.05
        events = []
        if failed:
            events = [Span.Event(name="exception", attributes=[
                KeyValue(key="exception.type", value=AnyValue(string_value="TimeoutError"))])]  # fmt: skip
        spans.append(Span(
            trace_id=trace_id, span_id=parent_id, name=f"GET /api/orders/{{id}} {rng.randrange(4)}",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=start, end_time_unix_nano=start + rng.randrange(1_000_000, 400_000_000),
            status=Status(code=Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_UNSET),
            events=events,
        ))  # fmt: skip
        for _ in range(rng.randrange(1, 6)):
            spans.append(Span(
                trace_id=trace_id, span_id=rng.randbytes(8), parent_span_id=parent_id, name="SELECT orders",
                kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=start,
                end_time_unix_nano=start + rng.randrange(100_000, 5_000_000),
            ))  # fmt: skip
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=_resource(service, version), scope_spans=[ScopeSpans(spans=spans)])
        ]
    )
    return bytes(request.SerializeToString())


def _log_batch(rng: random.Random, service: str, version: str, now_ns: int) -> bytes:
    records = []
    for _ in range(BATCH):
        text = rng.choice(TEMPLATES).format(
            n=rng.randrange(100_000), ms=rng.randrange(1, 900),
            ip=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            uuid=f"{rng.getrandbits(128):032x}", hex=f"{rng.getrandbits(64):016x}",
        )  # fmt: skip
        error = rng.random() < 0.05
        records.append(LogRecord(
            time_unix_nano=now_ns - rng.randrange(50_000_000_000),
            severity_number=SEVERITY_NUMBER_ERROR if error else SEVERITY_NUMBER_INFO,
            body=AnyValue(string_value=text),
        ))  # fmt: skip
    request = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=_resource(service, version), scope_logs=[ScopeLogs(log_records=records)])
        ]
    )
    return bytes(request.SerializeToString())


async def _flush(aggregator: Aggregator, store: Store) -> None:
    rows = [
        TelemetryRow(kind, k.service, k.environment, k.version, k.minute, json.dumps(payload))
        for kind, k, payload in aggregator.drain()
    ]
    await store.add_telemetry(rows)


async def _measure(signal: str, bodies: list[bytes], store: Store) -> tuple[int, float, float, float]:
    aggregator = Aggregator()
    now = datetime.now(UTC)
    parse_s = aggregate_s = flush_s = 0.0
    records = 0
    for index, body in enumerate(bodies, 1):
        started = time.perf_counter()
        if signal == "spans":
            spans = ExportTraceServiceRequest.FromString(body)
            parsed = time.perf_counter()
            records += aggregator.add_spans(spans, now).accepted
        else:
            logs = ExportLogsServiceRequest.FromString(body)
            parsed = time.perf_counter()
            records += aggregator.add_logs(logs, now).accepted
        done = time.perf_counter()
        parse_s += parsed - started
        aggregate_s += done - parsed
        if index % 10 == 0 or index == len(bodies):
            await _flush(aggregator, store)
            flush_s += time.perf_counter() - done
    return records, parse_s, aggregate_s, flush_s


async def _over_http(signal: str, bodies: list[bytes], store: Store) -> tuple[int, float]:
    """Records/s through the daemon's HTTP receiver; client and server share this one thread."""
    app = create_app(store, None, None)  # type: ignore[arg-type]  # OTLP only: no Prometheus needed
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port("127.0.0.1")
    await web.TCPSite(runner, "127.0.0.1", port).start()
    path = "/v1/traces" if signal == "spans" else "/v1/logs"
    records = 0
    started = time.perf_counter()
    try:
        async with aiohttp.ClientSession() as session:
            for body in bodies:
                async with session.post(
                    f"http://127.0.0.1:{port}{path}",
                    data=body,
                    headers={"Content-Type": "application/x-protobuf"},
                ) as response:
                    if response.status != 200:
                        raise SystemExit(f"bench.ingest: {path} answered {response.status}")
                    await response.read()
                records += BATCH
    finally:
        await runner.cleanup()  # flushes the aggregates to the store
    return records, time.perf_counter() - started


async def _run(batches: int) -> int:
    rng = random.Random(42)
    now_ns = time.time_ns()
    services = [(f"svc-{i}", version) for i in range(10) for version in ("v1", "v2")]
    span_bodies = [_span_batch(rng, *services[i % len(services)], now_ns) for i in range(batches)]
    log_bodies = [_log_batch(rng, *services[i % len(services)], now_ns) for i in range(batches)]
    print("| signal | records | parse µs/rec | aggregate µs/rec | flush µs/rec | records/s | target |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        store = await Store.open(f"sqlite:///{Path(tmp) / 'monitor.db'}")
        try:
            for signal, bodies in (("spans", span_bodies), ("log records", log_bodies)):
                records, parse_s, aggregate_s, flush_s = await _measure(signal.split()[0], bodies, store)
                total_s = parse_s + aggregate_s + flush_s
                rate = records / total_s
                ok &= rate >= TARGET_PER_S
                per = 1e6 / records
                print(
                    f"| {signal} | {records:,} | {parse_s * per:.2f} | {aggregate_s * per:.2f} | "
                    f"{flush_s * per:.2f} | {rate:,.0f} | {'PASS' if rate >= TARGET_PER_S else 'MISS'} |"
                )
            for signal, bodies in (("spans", span_bodies), ("log records", log_bodies)):
                sent, elapsed_s = await _over_http(signal.split()[0], bodies, store)
                rate = sent / elapsed_s
                ok &= rate >= TARGET_PER_S
                print(
                    f"| {signal} over HTTP (aiohttp client in the same thread) | {sent:,} | | | | "
                    f"{rate:,.0f} | {'PASS' if rate >= TARGET_PER_S else 'MISS'} |"
                )
        finally:
            await store.close()
    return 0 if ok else 1


def main() -> int:
    """Parse the flags and run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--batches", type=int, default=200, help="batches of 512 per signal (200)")
    return asyncio.run(_run(parser.parse_args().batches))


if __name__ == "__main__":
    sys.exit(main())
