"""Counting what an OTLP request holds from its bytes, before it is decoded.

Decoding is where a body is amplified: a protobuf message costs about 64 to 100 bytes once decoded
however small it is on the wire (an empty one takes 2 bytes), a JSON object several hundred, and
the aggregator then visits each. 14 MB of 7 million empty ``ResourceSpans`` decoded to 450 MB and
took 16 s of CPU to count; an empty attribute repeated inside one span does the same. So a
request is refused (413) before decoding when it holds more than:

* :data:`MAX_ITEMS` (100,000) items: resource entries, scope entries and records (spans or log
  records), all counted together;
* :data:`MAX_MESSAGES` (500,000) protobuf messages at any depth (attributes, events, links and
  values too): about 50 MB decoded, some 27,000 spans of an ordinary SDK;
* :data:`MAX_JSON_VALUES` (100,000) objects and arrays in an OTLP/JSON body, which bounds its
  items too: JSON costs several times more to decode, and is what browsers send, in small batches.

Counting is cheap for ordinary bodies. Every length-delimited protobuf field starts with a byte
whose low three bits are 2, so the number of such bytes (counted at C speed) bounds the messages
from above: most bodies are under both caps by that bound alone. Otherwise the fields are walked
without decoding: only the first three levels (resources, scopes, records; records are skipped
over, not entered) while the bound is under :data:`MAX_MESSAGES`, every level when it is not
(about 30 ms per MiB). For JSON, ``{`` and ``[`` bound the objects and arrays; those outside
strings are counted when the bound is over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

MAX_ITEMS = 100_000
MAX_MESSAGES = 500_000
MAX_JSON_VALUES = 100_000
_ITEM_LEVELS = 3  # resources, scopes, records: the request's first three levels of repeated messages
# Every byte but those that can start a length-delimited field's tag (wire type 2).
_NOT_LEN_TAG = bytes(b for b in range(256) if b & 7 != 2)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# An edge to a message-typed field: a plain message, an item to enter (resource, scope) or a record.
_PLAIN, _CONTAINER, _RECORD = 0, 1, 2
_Node = dict[int, tuple["_Node", int]]


@dataclass(frozen=True)
class Overflow:
    """A request over one of the caps: what was counted, and the cap it passed."""

    what: str
    cap: int

    @property
    def message(self) -> str:
        """Why the request is refused, and what to do instead."""
        return f"the request holds more than {self.cap:,} {self.what}; send smaller batches"


@dataclass(frozen=True)
class _Shape:
    root: _Node
    items: str  # what the items are, for messages


class Malformed(ValueError):
    """A body that is not well-formed protobuf, found while counting (the walk stops there)."""


def _node(descriptor: Any, level: int, built: dict[str, _Node]) -> _Node:
    """The message-typed fields of ``descriptor``; the first levels of repeated ones are items."""
    if level > _ITEM_LEVELS and descriptor.full_name in built:
        return built[descriptor.full_name]  # recursive types (AnyValue, KeyValueList) close the loop
    node: _Node = {}
    if level > _ITEM_LEVELS:
        built[descriptor.full_name] = node
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        item = field.is_repeated and level <= _ITEM_LEVELS
        kind = (_CONTAINER if level < _ITEM_LEVELS else _RECORD) if item else _PLAIN
        node[field.number] = (_node(field.message_type, level + 1 if item else _ITEM_LEVELS + 1, built), kind)
    return node


_SHAPES: dict[str, _Shape] = {}


def _shape(message: Message) -> _Shape:
    # Any: the stubs type a descriptor as the union of the upb and the pure-Python classes.
    descriptor: Any = message.DESCRIPTOR
    shape = _SHAPES.get(descriptor.full_name)
    if shape is None:
        fields: list[Any] = []
        current = descriptor
        for _ in range(_ITEM_LEVELS):
            fields.append(
                next(f for f in current.fields if f.is_repeated and f.type == FieldDescriptor.TYPE_MESSAGE)
            )
            current = fields[-1].message_type
        records = fields[-1].name.replace("_", " ")  # spans, log records
        what = f"items (resource entries, scope entries and {records} together)"
        shape = _SHAPES[descriptor.full_name] = _Shape(_node(descriptor, 1, {}), what)
    return shape


def _varint(body: bytes | bytearray, i: int, value: int) -> tuple[int, int]:
    """The varint whose first byte (``value``, with its continuation bit) was read; and where it ends."""
    value &= 0x7F
    shift = 7
    while True:
        byte = body[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise Malformed(f"a varint longer than 10 bytes ends at byte {i}")


def _walk(body: bytes | bytearray, root: _Node, deep: bool) -> tuple[int, int]:
    """Items and messages of ``body``, in wire order; stops as soon as either is over its cap."""
    items = messages = 0
    i, end, node = 0, len(body), root
    stack: list[tuple[int, _Node]] = []
    while True:
        if i >= end:
            if i > end:
                raise Malformed(f"a field ends past its message, at byte {end}")
            if not stack:
                return items, messages
            end, node = stack.pop()
            continue
        tag = body[i]
        i += 1
        if tag & 0x80:
            tag, i = _varint(body, i, tag)
        wire = tag & 7
        if wire == 2:
            length = body[i]
            i += 1
            if length & 0x80:
                length, i = _varint(body, i, length)
            edge = node.get(tag >> 3)
            if edge is not None:
                messages += 1
                if edge[1] != _PLAIN:
                    items += 1
                    if items > MAX_ITEMS:
                        return items, messages
                if messages > MAX_MESSAGES:
                    return items, messages
                if deep or edge[1] == _CONTAINER:
                    if i + length > end:
                        raise Malformed(f"a message ends past its parent, at byte {end}")
                    stack.append((end, node))
                    end, node = i + length, edge[0]
                    continue
            i += length
        elif wire == 0:
            while body[i] & 0x80:
                i += 1
            i += 1
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise Malformed(f"wire type {wire} at byte {i}")  # groups (3, 4) have no place in OTLP


def protobuf_overflow(body: bytes | bytearray, message: Message) -> Overflow | None:
    """The cap a protobuf ``body`` for ``message`` (an empty request) is over, or None.

    :class:`Malformed` where the walk finds the body is not protobuf: the decoder would refuse it
    too, except groups (a protobuf 2 relic OTLP never sends), which it would skip unseen, and with
    them the counting.
    """
    bound = len(body.translate(None, _NOT_LEN_TAG))
    if bound <= MAX_ITEMS:
        return None
    shape = _shape(message)
    try:
        items, messages = _walk(body, shape.root, deep=bound > MAX_MESSAGES)
    except IndexError:
        raise Malformed("the body ends inside a field") from None
    if items > MAX_ITEMS:
        return Overflow(shape.items, MAX_ITEMS)
    if messages > MAX_MESSAGES:
        return Overflow("protobuf messages (attributes, events, links and values included)", MAX_MESSAGES)
    return None


def json_overflow(body: bytes | bytearray) -> Overflow | None:
    """The cap an OTLP/JSON ``body`` is over by its objects and arrays, or None; before parsing it."""
    containers = body.count(b"{") + body.count(b"[")
    if containers > MAX_JSON_VALUES:
        outside = _JSON_STRING.sub(b"", body)
        containers = outside.count(b"{") + outside.count(b"[")
    if containers > MAX_JSON_VALUES:
        return Overflow("JSON objects and arrays", MAX_JSON_VALUES)
    return None
