"""The OTLP/HTTP receiver: ``POST /v1/logs`` and ``POST /v1/traces``, for SDKs and Collectors.

Per the OTLP specification: protobuf or JSON (answered in kind), optional gzip, 200 with a
``partial_success`` naming what was rejected and why (records without ``service.name``, absurd
timestamps, over a limit), 400 for a body that does not decode, 413 over a size limit, 415 for
another media type or content coding, and 429 with ``Retry-After`` while the receiver is busy.

Work is bounded, so a burst gets backpressure instead of growing memory:

* ``MAX_PENDING_BYTES`` (64 MiB) of bodies in flight, reserved *before* a body is read (its
  ``Content-Length``, or ``MAX_BODY_BYTES`` until a body without one has been read): past it, 429
  at once, the body left unread (and the connection closed, see :mod:`monitor.api.compression`);
* ``MAX_BODY_BYTES`` (16 MiB) per body as sent, and again once inflated: a gzip or deflate body
  is inflated here, in the worker, and inflating stops at the limit;
* ``MAX_CONCURRENT`` (2) requests inflated, counted, decoded and aggregated at once, in worker
  threads; what a body holds is counted from its bytes before it is decoded, and a request over
  100,000 items (resources, scopes, records), 500,000 protobuf messages or 100,000 JSON objects
  and arrays is refused with 413 (:mod:`monitor.otlp.census`).

The aggregates are flushed to the store every ``FLUSH_S`` and when the daemon stops, so every
replica's judges see them and a crash loses at most one flush interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from types import TracebackType
from typing import TypeVar

from aiohttp import web
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from monitor.api.compression import IDENTITY, BodyError, content_coding, describe_size, inflate
from monitor.api.keys import METRICS, STORE
from monitor.errors import StoreError
from monitor.otlp.aggregate import Accounting, Aggregator
from monitor.otlp.decode import (
    JSON,
    MAX_BODY_BYTES,
    PROTOBUF,
    PayloadError,
    check_encoding,
    decode,
    encode,
    media_type,
)
from monitor.own_metrics import MonitorMetrics
from monitor.store import Store, TelemetryRow

log = logging.getLogger(__name__)
FLUSH_S = 10.0
MAX_CONCURRENT = 2
MAX_PENDING_BYTES = 64 * 1024 * 1024
RETRY_AFTER_S = 2
M = TypeVar("M", bound=Message)
MAX_UNFLUSHED = 50_000
MAX_REFUSALS_LOGGED = 10  # per flush: one line each, then a count


class Receiver:
    """The receiver's state: the aggregator and the budget of work in flight."""

    def __init__(self) -> None:
        self.aggregator = Aggregator()
        self._workers = asyncio.Semaphore(MAX_CONCURRENT)
        self._pending_bytes = 0
        self._unflushed: list[TelemetryRow] = []
        self._pairs_seen: dict[str, int] = {}
        self._pairs_lock = threading.Lock()  # work runs in worker threads

    def pair_increments(self) -> dict[str, int]:
        """How the pairing counts moved since the last call (for the metrics' counters)."""
        with self._pairs_lock:
            now = asdict(self.aggregator.pairing.counts)
            seen, self._pairs_seen = self._pairs_seen, now
        return {k: v - seen.get(k, 0) for k, v in now.items() if v != seen.get(k, 0)}

    def reserve(self, size_bytes: int) -> Reservation:
        """Hold ``size_bytes`` of the budget until the returned reservation is left; :class:`Busy` when
        the budget has no room."""
        if self._pending_bytes + size_bytes > MAX_PENDING_BYTES:
            raise Busy()
        self._pending_bytes += size_bytes
        return Reservation(self, size_bytes)

    def _release(self, size_bytes: int) -> None:
        self._pending_bytes -= size_bytes

    async def process(self, work: Callable[[], Message]) -> Message:
        """Run ``work`` in a worker thread, at most ``MAX_CONCURRENT`` at once."""
        async with self._workers:
            return await asyncio.to_thread(work)

    async def flush(self, store: Store, metrics: MonitorMetrics | None = None) -> int:
        """Write the aggregates to the store; return how many it stored.

        While the database is unavailable they are kept for the next flush, within a bound; rows
        it refuses as data (the store stores the others) are dropped, logged and counted in
        ``metrics``: sending them again could never succeed, and would hold the rest back.
        """
        rows = self.aggregator.drain()
        items = self._unflushed + [
            TelemetryRow(kind, k.service, k.environment, k.version, k.minute, json.dumps(payload))
            for kind, k, payload in rows
        ]
        try:
            refused = await store.add_telemetry(items)
        except Exception as exc:  # not only StoreError: the flusher's loop must outlive any failure
            # Kept for the next flush, within a bound: a long outage must not grow memory.
            self._unflushed = items[-MAX_UNFLUSHED:]
            lost = len(items) - len(self._unflushed)
            if metrics is not None and lost:
                metrics.otlp_dropped.labels("backlog").inc(lost)
            log.warning(
                "OTLP: %d aggregates wait for the store (%s); %d dropped",
                len(items),
                exc,
                lost,
                exc_info=not isinstance(exc, StoreError),
            )
            return 0
        self._unflushed = []
        if refused:
            if metrics is not None:
                metrics.otlp_dropped.labels("refused").inc(len(refused))
            for bad in refused[:MAX_REFUSALS_LOGGED]:
                row = bad.row
                log.error(
                    "OTLP: the database refused the %s aggregate of service %a, environment %a, version "
                    "%a at %s (%s); dropped",
                    row.kind,
                    row.service[:200],
                    row.environment[:100],
                    row.version[:200],
                    row.minute.isoformat(),
                    bad.reason,
                )
            if len(refused) > MAX_REFUSALS_LOGGED:
                log.error("OTLP: %d more refused aggregates dropped", len(refused) - MAX_REFUSALS_LOGGED)
        return len(items) - len(refused)


class Reservation:
    """Bytes of the receiver's budget one request holds, from before its body is read to its answer."""

    def __init__(self, receiver: Receiver, size_bytes: int) -> None:
        self._receiver, self.size_bytes = receiver, size_bytes

    def shrink(self, size_bytes: int) -> None:
        """Hold only ``size_bytes`` from now on (the body turned out smaller than reserved)."""
        if size_bytes < self.size_bytes:
            self._receiver._release(self.size_bytes - size_bytes)
            self.size_bytes = size_bytes

    def __enter__(self) -> Reservation:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.shrink(0)


class Busy(Exception):
    """The receiver's budget is spent: answer 429 and let the client back off."""


RECEIVER = web.AppKey("otlp_receiver", Receiver)


def _status(kind: str, code: int, message: str) -> bytes:
    if kind == PROTOBUF:
        serialized: bytes = Status(code=code, message=message).SerializeToString()
        return serialized
    return json.dumps({"code": code, "message": message}).encode()


def _failure(kind: str, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # google.rpc codes: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE
    code = {400: 3, 413: 3, 415: 3, 429: 8}.get(status, 14)
    return web.Response(status=status, body=_status(kind, code, message), content_type=kind, headers=headers)


async def _receive(
    request: web.Request,
    signal: str,
    new_request: Callable[[], M],
    respond: Callable[[Accounting], Message],
    add: Callable[[Aggregator, M, datetime], Accounting],
) -> web.Response:
    metrics = request.app[METRICS]
    kind = JSON
    try:
        kind = media_type(request.headers.get("Content-Type"))
        coding = content_coding(request)
        check_encoding(coding)
        too_big = PayloadError(f"body is over {describe_size(MAX_BODY_BYTES)}; send smaller batches", 413)
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise too_big
        receiver = request.app[RECEIVER]
        aggregator = receiver.aggregator
        # Reserved before the body is read: a burst is refused while its bodies are still unread.
        announced = request.content_length if request.content_length is not None else MAX_BODY_BYTES
        with receiver.reserve(announced) as held:
            raw = await _read_at_most(request, MAX_BODY_BYTES + 1)
            if len(raw) > MAX_BODY_BYTES:
                raise too_big
            held.shrink(len(raw))
            now = datetime.now(UTC)

            def work() -> Message:
                # Inflated here, within the limit: at most MAX_CONCURRENT inflated bodies at once.
                body = raw if coding == IDENTITY else inflate(raw, coding, MAX_BODY_BYTES)
                account = add(aggregator, decode(body, kind, new_request()), now)
                metrics.otlp_records.labels(signal, "accepted").inc(account.accepted)
                metrics.otlp_records.labels(signal, "rejected").inc(account.rejected)
                for outcome, moved in receiver.pair_increments().items():
                    metrics.otlp_span_pairs.labels(outcome).inc(moved)
                return respond(account)

            response = await receiver.process(work)
    except (PayloadError, BodyError) as exc:
        metrics.otlp_requests.labels(signal, str(exc.status)).inc()
        return _failure(kind, exc.status, str(exc))
    except Busy:
        metrics.otlp_requests.labels(signal, "429").inc()
        return _failure(
            kind, 429, "receiver busy; retry after the delay", {"Retry-After": str(RETRY_AFTER_S)}
        )
    metrics.otlp_requests.labels(signal, "200").inc()
    return web.Response(body=encode(response, kind), content_type=kind)


async def _read_at_most(request: web.Request, limit: int) -> bytearray:
    # One growing buffer: joining chunks would hold every body twice while it is put together.
    body = bytearray()
    while len(body) < limit and (chunk := await request.content.read(min(65536, limit - len(body)))):
        body += chunk
    return body


def _logs_response(account: Accounting) -> ExportLogsServiceResponse:
    response = ExportLogsServiceResponse()
    if account.rejected:
        response.partial_success.rejected_log_records = account.rejected
        response.partial_success.error_message = account.message
    return response


def _spans_response(account: Accounting) -> ExportTraceServiceResponse:
    response = ExportTraceServiceResponse()
    if account.rejected:
        response.partial_success.rejected_spans = account.rejected
        response.partial_success.error_message = account.message
    return response


async def receive_logs(request: web.Request) -> web.Response:
    """``POST /v1/logs``: an ``ExportLogsServiceRequest``."""
    return await _receive(request, "logs", ExportLogsServiceRequest, _logs_response, Aggregator.add_logs)


async def receive_traces(request: web.Request) -> web.Response:
    """``POST /v1/traces``: an ``ExportTraceServiceRequest``."""
    return await _receive(request, "traces", ExportTraceServiceRequest, _spans_response, Aggregator.add_spans)


async def flusher(app: web.Application) -> AsyncIterator[None]:
    """Flush the aggregates every ``FLUSH_S`` while the app runs, and once more at its end."""
    receiver, store = app[RECEIVER], app[STORE]
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_S)
            await receiver.flush(store, app[METRICS])

    task = asyncio.create_task(loop())
    yield
    stop.set()
    await task
