"""Pairing client spans with their remote server spans across export requests and services.

With one SDK exporter per service, as every real system has, a caller's client span and the
callee's server span it caused arrive in different export requests, seconds apart. As the
OpenTelemetry Collector's ``servicegraph`` connector does, each side waits in a bounded
time-to-live store keyed by the client span's id (the server span's parent) until the other
arrives; a completed pair is one call *as the caller saw it*: its duration and outcome on the
caller's side, attributed to the callee's service and version. That view is what shows a
network delay or a connection problem of the deployed version, which its own server spans do not.

Client spans that expire unpaired (the callee's server span never came: a refused connection, a
timeout before the request reached it) are attributed by address instead, when an
:class:`AddressBook` learned from the callee's server spans which version answers at the address
the client called (``server.address``, ``net.peer.name``, ``network.peer.address``).

Memory is bounded: ``max_items`` waiting sides and ``max_addresses`` addresses; what falls out
(expired unpaired, evicted over the cap) is counted, never silently lost.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

# (service, environment, version, unix minute), as the aggregator keys its counts.
RawKey = tuple[str, str, str, int]

TTL_S = 30.0  # SDK batch processors export every 5 s by default; a Collector adds its own batching
MAX_ITEMS = 100_000
ADDRESS_TTL_S = 600.0
MAX_ADDRESSES = 10_000
S = TypeVar("S")
_Id = tuple[bytes, bytes]  # (trace id, the client span's id)


@dataclass(slots=True)
class ClientSide:
    """A client (or producer) span waiting for the server span it caused."""

    key: RawKey
    operation: str
    duration_s: float
    failed: bool
    trace_id: str
    peer: str = ""  # the address it called, when the span says


@dataclass(slots=True)
class ServerSide:
    """A server (or consumer) span waiting for the client span that caused it."""

    key: RawKey
    operation: str


@dataclass
class PairingCounts:
    """What happened to the sides that waited: paired, expired unpaired, or evicted over the cap."""

    paired: int = 0
    expired_clients: int = 0
    expired_servers: int = 0
    evicted: int = 0
    by_address: int = 0


@dataclass
class Pairing:
    """The time-to-live store of waiting sides (not thread-safe: the aggregator holds its lock)."""

    ttl_s: float = TTL_S
    max_items: int = MAX_ITEMS
    clock: Callable[[], float] = time.monotonic
    counts: PairingCounts = field(default_factory=PairingCounts)
    _clients: OrderedDict[_Id, tuple[float, ClientSide]] = field(default_factory=OrderedDict)
    _servers: OrderedDict[_Id, tuple[float, ServerSide]] = field(default_factory=OrderedDict)

    def client(self, trace_id: bytes, span_id: bytes, side: ClientSide) -> ServerSide | None:
        """A client span arrived: its server side if that was waiting, else it waits."""
        waiting = self._servers.pop((trace_id, span_id), None)
        if waiting is not None:
            self.counts.paired += 1
            return waiting[1]
        self._wait(self._clients, (trace_id, span_id), side)
        return None

    def server(self, trace_id: bytes, parent_span_id: bytes, side: ServerSide) -> ClientSide | None:
        """A server span arrived: its client side if that was waiting, else it waits."""
        waiting = self._clients.pop((trace_id, parent_span_id), None)
        if waiting is not None:
            self.counts.paired += 1
            return waiting[1]
        self._wait(self._servers, (trace_id, parent_span_id), side)
        return None

    def _wait(self, store: OrderedDict[_Id, tuple[float, S]], key: _Id, side: S) -> None:
        if len(self._clients) + len(self._servers) >= self.max_items:
            self.counts.evicted += 1
            oldest = self._clients if self._clients else self._servers
            oldest.popitem(last=False)
        store[key] = (self.clock() + self.ttl_s, side)

    def expire(self) -> list[ClientSide]:
        """Drop the sides whose time is up; the client sides, for attribution by address."""
        now = self.clock()
        expired: list[ClientSide] = []
        while self._clients and next(iter(self._clients.values()))[0] <= now:
            expired.append(self._clients.popitem(last=False)[1][1])
        while self._servers and next(iter(self._servers.values()))[0] <= now:
            self._servers.popitem(last=False)
            self.counts.expired_servers += 1
        self.counts.expired_clients += len(expired)
        return expired

    @property
    def waiting(self) -> int:
        """Sides waiting now."""
        return len(self._clients) + len(self._servers)


@dataclass
class AddressBook:
    """Which service and version answers at an address, learned from server spans (bounded, TTL'd)."""

    ttl_s: float = ADDRESS_TTL_S
    max_addresses: int = MAX_ADDRESSES
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, tuple[float, tuple[str, str, str]]] = field(default_factory=OrderedDict)

    def learn(self, address: str, who: tuple[str, str, str]) -> None:
        """``who`` (service, environment, version) answered at ``address``."""
        if not address:
            return
        self._entries.pop(address, None)
        if len(self._entries) >= self.max_addresses:
            self._entries.popitem(last=False)
        self._entries[address] = (self.clock() + self.ttl_s, who)

    def lookup(self, address: str) -> tuple[str, str, str] | None:
        """Who answers at ``address`` now, if known."""
        entry = self._entries.get(address)
        if entry is None or entry[0] <= self.clock():
            return None
        return entry[1]
