"""Decoding OTLP/HTTP request bodies (protobuf or JSON) into protobuf messages.

Per the OTLP specification: ``application/x-protobuf`` or ``application/json``; OTLP/JSON writes
trace and span ids as hex (not protobuf JSON's base64), enums as integers and 64-bit integers as
strings, and unknown fields must be ignored.

Limits, each answered 413 (with a ``google.rpc.Status`` naming it):

* ``MAX_BODY_BYTES`` (16 MiB) per body, after inflating a gzip or deflate one (which the receiver
  does itself and stops at the limit, so a small gzip bomb cannot take the memory);
* what the body holds, counted before it is decoded (:mod:`monitor.otlp.census`): at most
  100,000 resource entries, scope entries and records together and 500,000 protobuf messages, or
  100,000 JSON objects and arrays, since decoding is what multiplies a body's size in memory.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from monitor.errors import InputError
from monitor.otlp.census import Malformed, json_overflow, protobuf_overflow

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MAX_BODY_BYTES = 16 * 1024 * 1024
_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{16}){1,2}")
_BASE64_ID = re.compile(r"[A-Za-z0-9+/]{11}=|[A-Za-z0-9+/]{22}==")  # 8 or 16 bytes
_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})

M = TypeVar("M", bound=Message)


class PayloadError(InputError):
    """An OTLP body that cannot be decoded: answered with 400 (or 413 / 415), never retried."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def media_type(content_type: str | None) -> str:
    """The request's media type, or :class:`PayloadError` (415) when OTLP does not define it."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise PayloadError(
            f"Content-Type {content_type or '(none)'!r} is not OTLP; send {PROTOBUF} or {JSON}", 415
        )
    return kind


def check_encoding(encoding: str | None) -> None:
    """Accept the ``Content-Encoding`` values the receiver inflates: gzip (OTLP's), deflate, none."""
    coding = (encoding or "identity").strip().lower()
    if coding not in ("identity", "gzip", "deflate"):
        raise PayloadError(f"Content-Encoding {encoding!r} is not supported; use gzip or none", 415)


def _unpaired_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _hex_ids_to_base64(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not key.isascii() and _unpaired_surrogate(key):
                raise PayloadError(f"a key {key[:40]!a} is not valid UTF-8 text (a lone surrogate)")
            if key in _ID_KEYS and isinstance(item, str) and item:
                if _HEX_ID.fullmatch(item):
                    item = base64.b64encode(bytes.fromhex(item)).decode()
                elif not _BASE64_ID.fullmatch(item):
                    raise PayloadError(
                        f"{key} {item[:40]!r} is neither hex (as OTLP/JSON writes ids) nor base64"
                    )
                # else: base64, as protobuf's JSON (and Tempo) writes bytes; passed through
            out[key] = _hex_ids_to_base64(item)
        return out
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    # json.loads lets lone surrogates through, and upb fails on one where it expects a message or
    # a field name with a SystemError instead of a ParseError.
    if isinstance(value, str) and not value.isascii() and _unpaired_surrogate(value):
        raise PayloadError(f"text {value[:40]!a} is not valid UTF-8 (a lone surrogate)")
    return value


def decode(body: bytes | bytearray, kind: str, message: M) -> M:
    """Parse ``body`` of media type ``kind`` into ``message`` (an empty request instance)."""
    if kind == PROTOBUF:
        try:
            overflow = protobuf_overflow(body, message)
            if overflow is not None:
                raise PayloadError(overflow.message, 413)
            message.ParseFromString(body)  # type: ignore[arg-type]  # upb takes any buffer: no copy
        except (Malformed, DecodeError) as exc:
            raise PayloadError(f"protobuf body does not parse as {message.DESCRIPTOR.name} ({exc})") from None
        return message
    if (overflow := json_overflow(body)) is not None:
        raise PayloadError(overflow.message, 413)
    try:
        document = json.loads(body or b"{}")
    except RecursionError:
        raise PayloadError("JSON body is nested too deeply to be OTLP") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"JSON body does not parse ({exc})") from None
    if not isinstance(document, dict):
        raise PayloadError(
            f'JSON body must be an object like {{"resourceSpans": [...]}}, got {type(document).__name__}'
        )
    return decode_document(document, message)


def decode_document(document: dict[str, Any], message: M) -> M:
    """Fill ``message`` from an already parsed OTLP/JSON document."""
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except RecursionError:
        raise PayloadError("JSON body is nested too deeply to be OTLP") from None
    except json_format.ParseError as exc:
        raise PayloadError(f"JSON body is not an OTLP {message.DESCRIPTOR.name} ({exc})") from None
    return message


def encode(message: Message, kind: str) -> bytes:
    """A response message in the request's media type."""
    if kind == PROTOBUF:
        serialized: bytes = message.SerializeToString()
        return serialized
    return json.dumps(json_format.MessageToDict(message)).encode()
