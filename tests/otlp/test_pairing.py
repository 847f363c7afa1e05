"""Client spans paired with their remote server spans across export requests and services."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from monitor.otlp.aggregate import Aggregator
from monitor.otlp.pairing import AddressBook, ClientSide, Pairing, ServerSide

NOW = datetime.now(UTC)
AT_NS = int(NOW.timestamp() * 1e9) - 120 * 10**9
KEY = ("frontend", "", "v1", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _export(service: str, version: str, spans: list[Span], **resource: str) -> ExportTraceServiceRequest:
    attributes = {"service.name": service, "service.version": version, **resource}
    kv = [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attributes.items()]
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=Resource(attributes=kv), scope_spans=[ScopeSpans(spans=spans)])
        ]
    )


def _span(name: str, kind: Any, trace: int, span: int, parent: int = 0, ms: int = 10, **attrs: str) -> Span:
    return Span(
        trace_id=trace.to_bytes(16, "big"), span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"", name=name, kind=kind,
        start_time_unix_nano=AT_NS, end_time_unix_nano=AT_NS + ms * 10**6,
        attributes=[KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in attrs.items()],
        status=Status(),
    )  # fmt: skip


CLIENT, SERVER = Span.SpanKind.SPAN_KIND_CLIENT, Span.SpanKind.SPAN_KIND_SERVER


def test_each_side_waits_for_the_other_within_its_time_to_live() -> None:
    clock = Clock()
    pairing = Pairing(ttl_s=30, max_items=3, clock=clock)
    client = ClientSide(KEY, "GET (client)", 0.25, False, "ab")
    assert pairing.client(b"t1", b"s1", client) is None
    server = ServerSide(("cart", "", "v2", 0), "GET /cart (server)")
    assert pairing.server(b"t1", b"s1", server) is client  # the client was waiting
    assert pairing.server(b"t2", b"s2", server) is None  # now the server waits
    assert pairing.client(b"t2", b"s2", client) is server
    assert pairing.counts.paired == 2 and pairing.waiting == 0
    pairing.client(b"t3", b"s3", client)
    pairing.server(b"t4", b"s4", server)
    clock.now = 31
    assert pairing.expire() == [client]
    assert (pairing.counts.expired_clients, pairing.counts.expired_servers) == (1, 1)
    for i in range(5):  # over the cap of 3 waiting sides: the oldest go, counted
        pairing.client(b"t", bytes([i]), client)
    assert pairing.waiting == 3 and pairing.counts.evicted == 2


def test_an_address_book_forgets_after_its_time_to_live() -> None:
    clock = Clock()
    book = AddressBook(ttl_s=60, max_addresses=2, clock=clock)
    book.learn("10.0.0.7", ("cart", "", "v2"))
    assert book.lookup("10.0.0.7") == ("cart", "", "v2")
    book.learn("10.0.0.8", ("cart", "", "v1"))
    book.learn("10.0.0.9", ("cart", "", "v1"))  # over the cap: the oldest address goes
    assert book.lookup("10.0.0.7") is None and book.lookup("10.0.0.9") == ("cart", "", "v1")
    clock.now = 61
    assert book.lookup("10.0.0.9") is None


def test_a_call_is_counted_under_the_callee_with_the_callers_duration() -> None:
    """The frontend's exporter sends its client span, the cart's exporter later sends the server
    span it caused (another request, another service): the call counts under cart v2, with the
    client's 250 ms (the server span took 10 ms: the rest was the network)."""
    aggregator = Aggregator()
    frontend = _export("frontend", "v1", [_span("GET", CLIENT, trace=1, span=11, ms=250)])
    cart = _export("cart", "v2", [_span("GET /cart", SERVER, trace=1, span=21, parent=11, ms=10)])
    aggregator.add_spans(frontend, NOW)
    aggregator.add_spans(cart, NOW)
    rows = {key.service: payload for _, key, payload in aggregator.drain()}
    [(label, call)] = rows["cart"]["callers"].items()
    assert label == "frontend: GET (client) -> GET /cart (server)"
    assert call["count"] == 1 and call["errors"] == 0
    assert call["buckets"][6] == 1  # 250 ms: the (0.1, 0.25] bucket of the OTel boundaries
    assert rows["cart"]["operations"]["GET /cart (server)"]["buckets"][1] == 1  # 10 ms on the server
    assert aggregator.pairing.counts.paired == 1


def test_an_unanswered_call_is_attributed_by_the_address_it_called(monkeypatch: Any) -> None:
    """A client span whose server span never came (the connection was refused) is attributed to the
    version that answers at the address it called, learned from that version's server spans."""
    clock = Clock()
    aggregator = Aggregator()
    aggregator.pairing = Pairing(ttl_s=30, clock=clock)
    aggregator.addresses = AddressBook(clock=clock)
    cart = _export(
        "cart", "v2", [_span("GET /cart", SERVER, trace=2, span=22, parent=12)], **{"k8s.pod.ip": "10.1.2.3"}
    )
    aggregator.add_spans(cart, NOW)
    failed = _span("GET", CLIENT, trace=3, span=13, ms=3000, **{"server.address": "10.1.2.3"})
    failed.status.code = Status.StatusCode.STATUS_CODE_ERROR
    aggregator.add_spans(_export("frontend", "v1", [failed]), NOW)
    clock.now = 31
    aggregator.add_spans(_export("frontend", "v1", []), NOW)  # any later request expires what waited
    rows = [p for _, key, p in aggregator.drain() if key.service == "cart" and key.version == "v2"]
    callers = {name: op for row in rows for name, op in row["callers"].items()}
    assert callers["frontend: GET (client) -> 10.1.2.3 (by address)"]["errors"] == 1
    assert aggregator.pairing.counts.by_address == 1


def test_the_receiver_reports_pairing_outcomes_as_counter_increments() -> None:
    from monitor.api.otlp import Receiver

    receiver = Receiver()
    receiver.aggregator.add_spans(_export("frontend", "v1", [_span("GET", CLIENT, trace=5, span=15)]), NOW)
    assert receiver.pair_increments() == {}
    receiver.aggregator.add_spans(
        _export("cart", "v2", [_span("GET /cart", SERVER, trace=5, span=25, parent=15)]), NOW
    )
    assert receiver.pair_increments() == {"paired": 1}
    assert receiver.pair_increments() == {}
