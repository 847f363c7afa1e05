"""Compact per-minute aggregates of received logs and spans, per service, environment and version.

Raw telemetry is not kept. What the judges need is counted as it arrives:

* logs: per template (mined per service and environment, so both versions share one template
  set), the count, the most severe level, a few redacted examples;
* spans: per operation (span name and kind), the count, errors, a latency histogram, exception
  types from span events, a few exemplar trace ids (errors first), and, for parents and children
  that arrive in one request (SDKs batch a trace's spans together), the calls each operation
  makes to each callee (fan-out) and so the set of downstream edges;
* calls as their callers saw them: a client span paired with the server span it caused, across
  export requests and services (:mod:`monitor.otlp.pairing`), counted under the callee's service
  and version with the client's duration and outcome ("callers").

Memory is bounded: aggregates leave with every :meth:`Aggregator.drain` (the receiver flushes
them to the store), and the number of keys, templates and operations is capped; what is over a
cap is rejected and reported as a partial success, never silently dropped.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from monitor.logs.counts import Level
from monitor.logs.mining import TemplateMiner
from monitor.logs.redact import redact
from monitor.models import SPAN_BUCKETS_S
from monitor.otlp.pairing import AddressBook, ClientSide, Pairing, ServerSide

MAX_KEYS = 5_000  # service x environment x version x minute, between two flushes
MAX_TEMPLATES = 2_000  # per key
MAX_OPERATIONS = 500  # per key
MAX_EXAMPLES = 3
MAX_EXEMPLARS = 5
MAX_MESSAGE_CHARS = 4_096
# The store's key columns: longer resource attributes are rejected, not cut.
MAX_SERVICE_CHARS, MAX_ENVIRONMENT_CHARS, MAX_VERSION_CHARS = 200, 100, 200
PAST_S, FUTURE_S = 7 * 86_400, 600  # timestamps outside [now - 7 d, now + 10 min] are absurd
_STATUS_ERROR = 2
_LEVEL_OF_NUMBER = (0, *(int(Level.parse(n)) for n in range(1, 25)))
_KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
_SERVER_KINDS, _CLIENT_KINDS = (2, 5), (3, 4)  # server, consumer; client, producer
# Where a client span says it called, and where a server (or its resource) says it answers.
_PEER_KEYS = ("server.address", "net.peer.name", "network.peer.address", "net.peer.ip")
_SERVED_KEYS = frozenset({"server.address", "net.host.name"})
_RESOURCE_ADDRESS_KEYS = ("host.name", "k8s.pod.ip", "k8s.pod.name")


@dataclass(frozen=True)
class Key:
    """Whose telemetry, and which minute."""

    service: str
    environment: str
    version: str
    minute: datetime


@dataclass
class Accounting:
    """What one request contributed: accepted and rejected records, and why some were rejected."""

    accepted: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, count: int, reason: str) -> None:
        """Count ``count`` records rejected for ``reason``."""
        if count:
            self.rejected += count
            self.reasons[reason] = self.reasons.get(reason, 0) + count

    @property
    def message(self) -> str:
        """The partial-success message: each reason with its count."""
        return "; ".join(f"{count} {reason}" for reason, count in self.reasons.items())


@dataclass
class _Template:
    count: int = 0
    level: int = 0  # a Level's value; plain ints keep the hot loop cheap
    examples: list[str] = field(default_factory=list)


@dataclass
class _Operation:
    count: int = 0
    errors: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(SPAN_BUCKETS_S) + 1))
    duration_sum_s: float = 0.0
    exceptions: dict[str, int] = field(default_factory=dict)
    error_traces: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def exemplars(self) -> list[str]:
        """Trace ids worth opening: failed ones first."""
        return (self.error_traces + self.traces)[:MAX_EXEMPLARS]


def _text(value: AnyValue) -> str:
    which = value.WhichOneof("value")
    if which == "string_value":
        return str(value.string_value)
    if which is None:
        return ""
    return str(getattr(value, which))


def _resource(attributes: Iterable[KeyValue]) -> dict[str, str]:
    wanted = {"service.name", "service.version", "deployment.environment.name", "deployment.environment"}
    return {kv.key: _text(kv.value) for kv in attributes if kv.key in wanted}


def _addresses(attributes: Iterable[KeyValue]) -> list[str]:
    """The addresses a resource answers at (host name, pod IP and name)."""
    found = {kv.key: _text(kv.value) for kv in attributes if kv.key in _RESOURCE_ADDRESS_KEYS}
    return [found[k] for k in _RESOURCE_ADDRESS_KEYS if found.get(k)]


def _unfit(value: str, max_chars: int) -> str | None:
    """Why ``value`` cannot be stored as a key column, or None."""
    if len(value) > max_chars:
        return f"is over {max_chars} characters"
    if "\x00" in value:
        return f"{value[:40]!a} contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{value[:40]!a} is not valid UTF-8 text"
    return None


def _who(attributes: Iterable[KeyValue]) -> tuple[str, str, str] | str:
    """A resource's service, environment and version; or why its records are rejected.

    These become key columns of the store: PostgreSQL refuses NUL in text and values over the
    column's length, and a refused row would be dropped after the client was told it was taken.
    So they are checked here, where the client still hears why, and rejected rather than cut or
    cleaned: a changed name would file the records under a service nobody deployed.
    """
    found = _resource(attributes)
    service = found.get("service.name", "").strip()
    if not service:
        return "without the resource attribute service.name"
    environment_key = "deployment.environment.name"
    if not found.get(environment_key):
        environment_key = "deployment.environment"
    environment, version = found.get(environment_key, ""), found.get("service.version") or "unknown"
    for key, value, max_chars in (
        ("service.name", service, MAX_SERVICE_CHARS),
        (environment_key, environment, MAX_ENVIRONMENT_CHARS),
        ("service.version", version, MAX_VERSION_CHARS),
    ):
        if (problem := _unfit(value, max_chars)) is not None:
            return f"whose resource attribute {key} {problem}"
    return service, environment, version


# (service, environment, version, unix minute): a plain tuple hashes far faster than a Key.
_RawKey = tuple[str, str, str, int]


def _public(raw: _RawKey) -> Key:
    return Key(raw[0], raw[1], raw[2], datetime.fromtimestamp(raw[3] * 60, UTC))


class Aggregator:
    """Thread-safe aggregates between two drains."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._miners: dict[tuple[str, str], TemplateMiner] = {}
        self._logs: dict[_RawKey, dict[int, _Template]] = {}
        self._spans: dict[_RawKey, dict[str, _Operation]] = {}
        self._callers: dict[_RawKey, dict[str, _Operation]] = {}
        self.pairing = Pairing()
        self.addresses = AddressBook()

    def _room(self) -> bool:
        return len(self._logs) + len(self._spans) + len(self._callers) < MAX_KEYS

    def add_logs(self, request: ExportLogsServiceRequest, now: datetime) -> Accounting:
        """Count every log record of ``request``."""
        account = Accounting()
        now_ns = int(now.timestamp() * 1e9)
        oldest_ns, newest_ns = now_ns - PAST_S * 1_000_000_000, now_ns + FUTURE_S * 1_000_000_000
        with self._lock:
            for resource_logs in request.resource_logs:
                records = [r for scope in resource_logs.scope_logs for r in scope.log_records]
                who = _who(resource_logs.resource.attributes)
                if isinstance(who, str):
                    account.reject(len(records), f"log records {who}")
                    continue
                miner = self._miners.setdefault(who[:2], TemplateMiner())
                service, environment, version = who
                for record in records:
                    at_ns = record.time_unix_nano or record.observed_time_unix_nano or now_ns
                    if not oldest_ns <= at_ns <= newest_ns:
                        account.reject(1, "log records with a timestamp over 7 days old or in the future")
                        continue
                    key = (service, environment, version, at_ns // 60_000_000_000)
                    templates = self._logs.get(key)
                    if templates is None:
                        if not self._room():
                            account.reject(1, "log records over the receiver's key limit; flush pending")
                            continue
                        templates = self._logs[key] = {}
                    body = record.body
                    message = (body.string_value if body.HasField("string_value") else _text(body))[
                        :MAX_MESSAGE_CHARS
                    ]
                    number = record.severity_number
                    level = _LEVEL_OF_NUMBER[number] if 0 < number < 25 else Level.parse(record.severity_text)
                    template_id = miner.add(message)
                    tally = templates.get(template_id)
                    if tally is None:
                        if len(templates) >= MAX_TEMPLATES:
                            account.reject(1, "log records over the template limit of their service")
                            continue
                        tally = templates[template_id] = _Template()
                    tally.count += 1
                    if level > tally.level:
                        tally.level = level
                    if len(tally.examples) < MAX_EXAMPLES:
                        tally.examples.append(redact(message)[:500])
                    account.accepted += 1
        return account

    def add_spans(self, request: ExportTraceServiceRequest, now: datetime) -> Accounting:
        """Count every span of ``request``; link parents and children that came together."""
        account = Accounting()
        now_ns = int(now.timestamp() * 1e9)
        oldest_ns, newest_ns = now_ns - PAST_S * 1_000_000_000, now_ns + FUTURE_S * 1_000_000_000
        with self._lock:
            # span id -> (key, operation) of the spans in this request, for fan-out and edges
            seen: dict[bytes, tuple[_RawKey, str]] = {}
            pending_parents: list[tuple[bytes, _RawKey, str]] = []
            clients: dict[tuple[bytes, bytes], ClientSide] = {}
            servers: list[tuple[bytes, bytes, ServerSide]] = []
            for resource_spans in request.resource_spans:
                spans = [s for scope in resource_spans.scope_spans for s in scope.spans]
                who = _who(resource_spans.resource.attributes)
                if isinstance(who, str):
                    account.reject(len(spans), f"spans {who}")
                    continue
                service, environment, version = who
                for address in _addresses(resource_spans.resource.attributes):
                    self.addresses.learn(address, who)
                for span in spans:
                    start_ns = span.start_time_unix_nano
                    duration_ns = span.end_time_unix_nano - start_ns
                    if duration_ns < 0 or not oldest_ns <= start_ns <= newest_ns:
                        account.reject(1, "spans with absurd timestamps")
                        continue
                    key = (service, environment, version, start_ns // 60_000_000_000)
                    operations = self._spans.get(key)
                    if operations is None:
                        if not self._room():
                            account.reject(1, "spans over the receiver's key limit; flush pending")
                            continue
                        operations = self._spans[key] = {}
                    kind = _KINDS[span.kind] if 0 <= span.kind < len(_KINDS) else "unspecified"
                    name = f"{span.name[:200]} ({kind})"
                    operation = operations.get(name)
                    if operation is None:
                        if len(operations) >= MAX_OPERATIONS:
                            account.reject(1, "spans over the operation limit of their service")
                            continue
                        operation = operations[name] = _Operation()
                    failed = self._count_span(operation, span, duration_ns)
                    if span.kind in _CLIENT_KINDS:
                        clients[(span.trace_id, span.span_id)] = ClientSide(
                            key, name, duration_ns / 1e9, failed, span.trace_id.hex(), _peer(span)
                        )
                    elif span.kind in _SERVER_KINDS and span.parent_span_id:
                        servers.append((span.trace_id, span.parent_span_id, ServerSide(key, name)))
                        for attribute in span.attributes:
                            if attribute.key in _SERVED_KEYS:
                                self.addresses.learn(_text(attribute.value), who)
                    seen[span.span_id] = (key, name)
                    if span.parent_span_id:
                        pending_parents.append((span.parent_span_id, key, name))
                    account.accepted += 1
            for parent_id, child_key, child in pending_parents:
                parent = seen.get(parent_id)
                if parent is not None:
                    callee = child if child_key[0] == parent[0][0] else f"{child_key[0]}: {child}"
                    calls = self._spans[parent[0]][parent[1]].calls
                    calls[callee] = calls.get(callee, 0) + 1
            self._pair(clients, servers)
        return account

    def _pair(
        self, clients: dict[tuple[bytes, bytes], ClientSide], servers: list[tuple[bytes, bytes, ServerSide]]
    ) -> None:
        """Pair this request's client and server spans with each other and with those waiting."""
        for trace_id, parent_id, server in servers:
            client = clients.pop((trace_id, parent_id), None)
            if client is None:
                client = self.pairing.server(trace_id, parent_id, server)
            if client is not None:
                self._record_call(client, server.key, server.operation)
        for (trace_id, span_id), client in clients.items():
            paired = self.pairing.client(trace_id, span_id, client)
            if paired is not None:
                self._record_call(client, paired.key, paired.operation)
        for client in self.pairing.expire():
            who = self.addresses.lookup(client.peer) if client.peer else None
            if who is not None:
                self.pairing.counts.by_address += 1
                callee = f"{client.peer} (by address)"
                self._record_call(client, (*who, client.key[3]), callee)

    def _record_call(self, client: ClientSide, callee_key: _RawKey, callee_operation: str) -> None:
        """One call as its caller saw it, counted under the callee's service, version and minute."""
        calls = self._callers.get(callee_key)
        if calls is None:
            if not self._room():
                return
            calls = self._callers[callee_key] = {}
        label = f"{client.key[0]}: {client.operation} -> {callee_operation}"
        operation = calls.get(label)
        if operation is None:
            if len(calls) >= MAX_OPERATIONS:
                return
            operation = calls[label] = _Operation()
        operation.count += 1
        operation.duration_sum_s += client.duration_s
        operation.buckets[bisect.bisect_left(SPAN_BUCKETS_S, client.duration_s)] += 1
        if client.failed:
            operation.errors += 1
        traces = operation.error_traces if client.failed else operation.traces
        if len(traces) < MAX_EXEMPLARS and client.trace_id not in traces:
            traces.append(client.trace_id)

    @staticmethod
    def _count_span(operation: _Operation, span: Any, duration_ns: int) -> bool:
        """Count one span into its operation; whether it failed."""
        duration_s = duration_ns / 1e9
        operation.count += 1
        operation.duration_sum_s += duration_s
        operation.buckets[bisect.bisect_left(SPAN_BUCKETS_S, duration_s)] += 1
        failed = span.status.code == _STATUS_ERROR
        for event in span.events:
            if event.name == "exception":
                for attribute in event.attributes:
                    if attribute.key == "exception.type":
                        kind = _text(attribute.value)[:200]
                        operation.exceptions[kind] = operation.exceptions.get(kind, 0) + 1
                        failed = True
        if failed:
            operation.errors += 1
        traces = operation.error_traces if failed else operation.traces
        if len(traces) < MAX_EXEMPLARS:
            trace_id = span.trace_id.hex()
            if trace_id not in traces:
                traces.append(trace_id)
        return bool(failed)

    def drain(self) -> list[tuple[str, Key, dict[str, Any]]]:
        """Take every aggregate as ``(kind, key, payload)`` rows; the aggregator starts empty."""
        with self._lock:
            logs, spans, self._logs, self._spans = self._logs, self._spans, {}, {}
            callers, self._callers = self._callers, {}
            rows: list[tuple[str, Key, dict[str, Any]]] = []
            for raw, templates in logs.items():
                miner = self._miners[(raw[0], raw[1])]
                payload = {
                    miner.template(tid).text: {
                        "count": t.count,
                        "level": Level(t.level).name,
                        "examples": t.examples,
                    }
                    for tid, t in templates.items()
                }
                rows.append(("logs", _public(raw), {"templates": payload}))
        for raw in spans.keys() | callers.keys():
            span_payload: dict[str, Any] = {
                "operations": {name: _payload(op) for name, op in spans.get(raw, {}).items()},
                "callers": {name: _payload(op) for name, op in callers.get(raw, {}).items()},
                "bucket_bounds_s": list(SPAN_BUCKETS_S),
            }
            rows.append(("spans", _public(raw), span_payload))
        return rows


def _payload(op: _Operation) -> dict[str, Any]:
    return {
        "count": op.count, "errors": op.errors, "buckets": op.buckets, "duration_sum_s": op.duration_sum_s,
        "exceptions": op.exceptions, "exemplars": op.exemplars, "calls": op.calls,
    }  # fmt: skip


def _peer(span: Any) -> str:
    """The address a client span called, by the first semantic-convention attribute it carries."""
    found = {kv.key: kv.value for kv in span.attributes if kv.key in _PEER_KEYS}
    return next((_text(found[k])[:200] for k in _PEER_KEYS if k in found), "")
