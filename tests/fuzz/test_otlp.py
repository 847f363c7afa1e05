"""Fuzz: OTLP/HTTP bodies, protobuf and JSON, decoded and counted by the aggregator.

Inputs: random bytes; valid export requests built from generated fields (resource attributes,
timestamps near and far from now, severities, bodies of every ``AnyValue`` kind, span ids that
link parents, children, clients and servers), intact and with bytes flipped, inserted, deleted
or cut; their OTLP/JSON form, intact and mutated; and JSON documents shaped like OTLP with
wrong types in any place.

Property: ``decode`` gives a message or raises :class:`PayloadError` (a 400); the aggregator
accounts for every record (accepted + rejected), never raises, and drains rows the store can
key; over HTTP, ``/v1/logs`` and ``/v1/traces`` answer below 500, a 4xx with an OTLP ``Status``.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc.status_pb2 import Status
from hypothesis import event, example, given
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from fuzz.profiles import fuzz_profile
from fuzz.strategies import JSON_VALUES, NUMBERS, corrupted, dumps, mutated
from monitor.api.bodies import text_problem
from monitor.otlp.aggregate import Aggregator
from monitor.otlp.decode import JSON, PROTOBUF, PayloadError, decode

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000
Request = ExportLogsServiceRequest | ExportTraceServiceRequest

# Protobuf strings are UTF-8: no lone surrogates, but NUL and any other character.
PB_TEXT = st.text(max_size=30) | st.sampled_from(["", " ", "\x00", "a\x00b", "ERROR", "warn", "x" * 300])
_NS = st.one_of(
    st.integers(min_value=NOW_NS - 8 * 86_400 * 10**9, max_value=NOW_NS + 3600 * 10**9),
    st.integers(min_value=NOW_NS - 60 * 10**9, max_value=NOW_NS),
    st.sampled_from([0, 1, 2**63, 2**64 - 1]),
)
_IDS = st.sampled_from([bytes([i]) * 8 for i in range(1, 5)]) | st.binary(max_size=10)
_TRACES = st.sampled_from([b"\x01" * 16, b"\x02" * 16]) | st.binary(max_size=20)
_RESOURCE_KEYS = ["service.name", "service.version", "deployment.environment.name", "deployment.environment",
                  "host.name", "k8s.pod.ip", "k8s.pod.name"]  # fmt: skip
_SPAN_KEYS = ["server.address", "net.peer.name", "network.peer.address", "net.host.name", "http.route"]


@st.composite
def any_values(draw: st.DrawFn, depth: int = 0) -> AnyValue:
    """An ``AnyValue`` of any kind, arrays and key-value lists nested up to three levels."""
    value = AnyValue()
    kind = draw(st.sampled_from(["none", "string", "bool", "int", "double", "bytes", "array", "kvlist"]))
    if kind == "string":
        value.string_value = draw(PB_TEXT)
    elif kind == "bool":
        value.bool_value = draw(st.booleans())
    elif kind == "int":
        value.int_value = draw(st.integers(min_value=-(2**63), max_value=2**63 - 1))
    elif kind == "double":
        value.double_value = draw(st.floats())
    elif kind == "bytes":
        value.bytes_value = draw(st.binary(max_size=20))
    elif kind in ("array", "kvlist") and depth < 3:
        items = draw(st.lists(any_values(depth + 1), max_size=3))
        if kind == "array":
            value.array_value.values.extend(items)
        else:
            value.kvlist_value.values.extend(KeyValue(key=draw(PB_TEXT), value=item) for item in items)
    return value


@st.composite
def attributes(draw: st.DrawFn, keys: list[str]) -> list[KeyValue]:
    """Attributes with well-known keys (mostly string values) and random ones."""
    chosen = draw(st.lists(st.sampled_from(keys) | PB_TEXT, max_size=5))
    found = []
    for key in chosen:
        value = AnyValue(string_value=draw(PB_TEXT)) if draw(st.booleans()) else draw(any_values())
        found.append(KeyValue(key=key, value=value))
    return found


def _resource_attributes(draw: st.DrawFn) -> list[KeyValue]:
    named = [
        KeyValue(key="service.name", value=AnyValue(string_value=draw(st.sampled_from(["shop", "cart"]))))
    ]
    return (named if draw(st.booleans()) else []) + draw(attributes(_RESOURCE_KEYS))


@st.composite
def log_requests(draw: st.DrawFn) -> ExportLogsServiceRequest:
    """An export request of a few resources with a few records each."""
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        resource = request.resource_logs.add()
        resource.resource.attributes.extend(_resource_attributes(draw))
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            scope = resource.scope_logs.add()
            for _ in range(draw(st.integers(min_value=0, max_value=4))):
                record = scope.log_records.add()
                record.time_unix_nano = draw(_NS | st.just(0))
                record.observed_time_unix_nano = draw(_NS)
                record.severity_number = draw(st.integers(min_value=-2, max_value=30))  # type: ignore[assignment]
                record.severity_text = draw(PB_TEXT)
                record.body.CopyFrom(draw(any_values()))
                record.attributes.extend(draw(attributes(_SPAN_KEYS)))
    return request


@st.composite
def span_requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """An export request of a few resources with a few spans each; ids drawn from a small pool link them."""
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        resource = request.resource_spans.add()
        resource.resource.attributes.extend(_resource_attributes(draw))
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            scope = resource.scope_spans.add()
            for _ in range(draw(st.integers(min_value=0, max_value=4))):
                span = scope.spans.add()
                span.trace_id, span.span_id = draw(_TRACES), draw(_IDS)
                span.parent_span_id = draw(_IDS | st.just(b""))
                span.name = draw(PB_TEXT)
                span.kind = draw(st.integers(min_value=-1, max_value=7))  # type: ignore[assignment]
                span.start_time_unix_nano = start = draw(_NS)
                span.end_time_unix_nano = draw(
                    st.integers(min_value=start, max_value=min(start + 20 * 10**9, 2**64 - 1)) | _NS
                )
                span.status.code = draw(st.integers(min_value=0, max_value=3))  # type: ignore[assignment]
                span.attributes.extend(draw(attributes(_SPAN_KEYS)))
                for _ in range(draw(st.integers(min_value=0, max_value=2))):
                    span_event = span.events.add()
                    span_event.name = draw(st.just("exception") | PB_TEXT)
                    span_event.attributes.extend(draw(attributes(["exception.type", "exception.message"])))
    return request


def otlp_json(request: Request) -> dict[str, Any]:
    """The OTLP/JSON form of ``request``: ids in hex, as the specification writes them."""

    def hex_ids(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                key: base64.b64decode(item).hex() if key in _ID_FIELDS else hex_ids(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [hex_ids(item) for item in value]
        return value

    document: dict[str, Any] = hex_ids(json_format.MessageToDict(request))
    return document


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")
_ODD_VALUES = JSON_VALUES | NUMBERS.map(str) | st.sampled_from(["0" * 16, "0" * 32, "AQEBAQEBAQE=", "zz" * 8])
_OTLP_KEYS = st.sampled_from(["traceId", "spanId", "kind", "timeUnixNano", "attributes", "body", "value"])


def _records(request: Request) -> int:
    if isinstance(request, ExportLogsServiceRequest):
        return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    return sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)


def aggregate(*requests: Request) -> None:
    """The aggregator's property: every record accounted for, and rows the store can key and keep."""
    aggregator = Aggregator()
    for request in requests:
        if isinstance(request, ExportLogsServiceRequest):
            account = aggregator.add_logs(request, NOW)
        else:
            account = aggregator.add_spans(request, NOW)
        assert account.accepted + account.rejected == _records(request), account
        assert account.rejected == sum(account.reasons.values()), account
        event("all accepted" if not account.rejected else "some rejected")
    for kind, key, payload in aggregator.drain():
        assert kind in ("logs", "spans")
        json.dumps(payload)  # the receiver's flush serialises it
        for text, max_chars in ((key.service, 200), (key.environment, 100), (key.version, 200)):
            assert len(text) <= max_chars and text_problem(text) is None, key
        assert abs(key.minute - NOW) <= timedelta(days=8), key


def decode_and_aggregate(body: bytes, kind: str, new: type[Request]) -> None:
    """The decoder's property: a message the aggregator takes, or a 400 PayloadError."""
    try:
        message = decode(body, kind, new())
    except PayloadError as exc:
        assert exc.status == 400 and str(exc), exc
        event("PayloadError")
    else:
        aggregate(message)


@fuzz_profile
@given(st.lists(log_requests(), min_size=1, max_size=3))
def test_log_requests_are_accounted_for(requests: list[ExportLogsServiceRequest]) -> None:
    aggregate(*requests)


@fuzz_profile
@given(st.lists(span_requests(), min_size=1, max_size=3))
def test_span_requests_are_accounted_for(requests: list[ExportTraceServiceRequest]) -> None:
    aggregate(*requests)


REQUESTS = (ExportLogsServiceRequest, ExportTraceServiceRequest)


def protobuf_bodies(requests: st.SearchStrategy[Request]) -> st.SearchStrategy[bytes]:
    """Random bytes, and valid requests serialised, intact or mutated."""
    valid = requests.map(lambda request: request.SerializeToString())
    return st.binary(max_size=300) | valid | valid.flatmap(mutated)


def json_bodies(requests: st.SearchStrategy[Request]) -> st.SearchStrategy[bytes]:
    """Any JSON, and valid requests in OTLP/JSON, intact, with wrong values, or with bytes mutated."""
    documents = requests.map(otlp_json)
    return st.one_of(
        st.binary(max_size=100),
        JSON_VALUES.map(dumps),
        documents.map(dumps),
        documents.flatmap(lambda d: corrupted(d, _ODD_VALUES, _OTLP_KEYS)).map(dumps),
        documents.map(dumps).flatmap(mutated),
    )


# Either signal's bodies go to both decoders: a body of the other signal is input like any other.
PROTOBUF_BODIES = protobuf_bodies(log_requests()) | protobuf_bodies(span_requests())
JSON_BODIES = json_bodies(log_requests()) | json_bodies(span_requests())
# Found by these targets: a lone surrogate in a key, or in text where a message belongs, made upb
# raise SystemError (a 500).
SURROGATES = (
    b'{"\\ud800": null}',
    b'{"resourceSpans": [{"\xed\xa0\x80": 1}]}',
    b'{"resourceLogs": [{"": {}}, "\xed\xa0\x80"]}',
)


@fuzz_profile
@given(body=PROTOBUF_BODIES)
def test_protobuf_body_decodes_or_is_a_400(body: bytes) -> None:
    for new in REQUESTS:
        decode_and_aggregate(body, PROTOBUF, new)


@fuzz_profile
@given(body=JSON_BODIES)
@example(body=SURROGATES[0])
@example(body=SURROGATES[1])
@example(body=SURROGATES[2])
def test_json_body_decodes_or_is_a_400(body: bytes) -> None:
    for new in REQUESTS:
        decode_and_aggregate(body, JSON, new)


# Mostly what OTLP defines, so the bodies get decoded; the rest must be a 415.
TYPED_BODIES = st.one_of(
    st.tuples(st.just(PROTOBUF), PROTOBUF_BODIES),
    st.tuples(st.sampled_from([JSON, f"{JSON}; charset=utf-8"]), JSON_BODIES),
    st.tuples(st.sampled_from(["text/plain", "", PROTOBUF, JSON]), st.binary(max_size=50)),
)
_ENCODINGS = st.sampled_from(["", "", "", "identity", "gzip", "gzip", "deflate", "br", "gzip, gzip"])


@fuzz_profile
@pytest.mark.parametrize("signal", ["logs", "traces"])
@given(typed_body=TYPED_BODIES, encoding=_ENCODINGS, compress=st.booleans())
@example(typed_body=(JSON, SURROGATES[2]), encoding="", compress=False)
async def test_receiver_answers_below_500(
    client: TestClient[Any, Any], signal: str, typed_body: tuple[str, bytes], encoding: str, compress: bool
) -> None:
    content_type, body = typed_body
    if compress and encoding in ("gzip", "deflate"):
        body = gzip.compress(body) if encoding == "gzip" else zlib.compress(body)
    headers = {"Content-Type": content_type} | ({"Content-Encoding": encoding} if encoding else {})
    answer = await client.post(f"/v1/{signal}", data=body, headers=headers)
    raw = await answer.read()
    event(f"HTTP {answer.status}")
    assert answer.status < 500, raw[:500]
    # Answered in the request's media type (JSON when the type itself was refused).
    response: Message = Status()
    if answer.status == 200:
        response = ExportLogsServiceResponse() if signal == "logs" else ExportTraceServiceResponse()
    else:
        assert answer.status in (400, 413, 415), raw[:500]
    if answer.content_type == PROTOBUF:
        response.ParseFromString(raw)
    else:
        json_format.Parse(raw, response)
    if isinstance(response, Status):
        assert response.code == 3 and response.message, raw[:500]
