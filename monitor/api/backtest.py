"""``GET /api/v1/services/{service}/backtest``: the daemon's backtest of a service, as the JSON
document ``monitor backtest --output json`` prints (``monitor/schema/backtest.schema.json``).

A backtest reads days of Prometheus history and replays hundreds of analyses: the route is bounded,
and runs each in a worker thread with an event loop (and a Prometheus connection) of its own.
The range is at most 90 days (:class:`~monitor.api.queries.BacktestQuery`); one backtest runs at a
time per service, environment and profile, and a caller who asks while it runs waits for it and gets
its result; results are kept for :data:`CACHE_TTL_S`, so every dashboard opening the link within
that time reads the same one; and at most :data:`MAX_RUNNING` backtests run at once in a replica.
A backtest whose caller goes away, or running when the application shuts down, is asked to stop
and ends at its next look or query.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from monitor.api.keys import ENVIRONMENTS, NOTIFIER, SOURCE
from monitor.api.problems import Problem, invalid
from monitor.api.queries import MAX_NAME, BacktestQuery
from monitor.api.registration import offered_profile
from monitor.api.validation import validated
from monitor.backtest.render_json import backtest_document
from monitor.backtest.replay import BacktestStopped
from monitor.backtest.result import Backtest
from monitor.backtest.run import backtest as run_backtest
from monitor.errors import ConfigError, InputError, SourceError
from monitor.profiles import DEFAULT_PROFILE
from monitor.redact import redact_text
from monitor.sources.prometheus import PrometheusSource

ROUTE = "/api/v1/services/{service}/backtest"
CACHE_TTL_S = 300.0
CACHE_ENTRIES = 32
MAX_RUNNING = 2
Key = tuple[str, str | None, str, str, str]  # service, environment, profile, since, until (as asked)


@dataclass
class _Slot:
    """The lock of one (service, environment, profile) and how many callers hold or wait on it.

    ``lock.locked()`` cannot tell: it is False while a waiter is being woken, so the lock would go
    and a caller arriving then would run a second backtest beside the waiter's.
    """

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


@dataclass
class Backtests:
    """The replica's backtests: a lock per (service, environment, profile), recent documents, a bound.

    ``run`` is :func:`monitor.backtest.run.backtest` (a test passes its own); ``clock`` monotonic
    seconds. Each running backtest has a stop flag, set when its caller goes away and on
    :meth:`stop_all` (the application shutting down): its worker thread cannot be cancelled, but it
    asks the flag between looks and queries.
    """

    run: Callable[..., Any] = run_backtest
    clock: Callable[[], float] = time.monotonic
    _slots: dict[tuple[str, str | None, str], _Slot] = field(default_factory=dict)
    _done: OrderedDict[Key, tuple[float, dict[str, Any]]] = field(default_factory=OrderedDict)
    _running: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_RUNNING))
    _stops: set[threading.Event] = field(default_factory=set)
    _stopping: bool = False

    @property
    def locks(self) -> int:
        """How many (service, environment, profile) locks are kept: those in use."""
        return len(self._slots)

    @property
    def running(self) -> int:
        """How many backtests are computing (their stop flags)."""
        return len(self._stops)

    def cached(self, key: Key) -> dict[str, Any] | None:
        """The document of ``key`` computed less than :data:`CACHE_TTL_S` ago, or None."""
        entry = self._done.get(key)
        if entry is None or self.clock() - entry[0] > CACHE_TTL_S:
            return None
        return entry[1]

    def stop_all(self) -> None:
        """Ask every running backtest, and any started from now on, to stop (a shutdown)."""
        self._stopping = True
        for stop in self._stops:
            stop.set()

    async def document(
        self, key: Key, compute: Callable[[threading.Event], Awaitable[Backtest]]
    ) -> dict[str, Any]:
        """``key``'s document: from the cache, else computed by ``compute(stop)`` (awaited), once even
        when several callers ask at the same time. ``stop`` is set when the caller is cancelled or
        :meth:`stop_all` is called; ``compute`` passes it on to the backtest."""
        slot = self._slots.setdefault(key[:3], _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                found = self.cached(key)
                if found is not None:
                    return found
                async with self._running:
                    stop = threading.Event()
                    if self._stopping:
                        stop.set()
                    self._stops.add(stop)
                    try:
                        document = backtest_document(await compute(stop))
                    except asyncio.CancelledError:
                        stop.set()  # the caller went away: its thread ends at its next look or query
                        raise
                    finally:
                        self._stops.discard(stop)
                self._done[key] = (self.clock(), document)
                self._done.move_to_end(key)
                while len(self._done) > CACHE_ENTRIES:
                    self._done.popitem(last=False)
                return document
        finally:
            # The lock goes once nobody holds or waits on it, so a caller naming many services cannot
            # grow the table; one still waited on stays, and its waiter then finds the document.
            slot.users -= 1
            if slot.users == 0:
                self._slots.pop(key[:3], None)


BACKTESTS = web.AppKey("backtests", Backtests)


def _profile(request: web.Request, asked: str | None, environment: str | None) -> str:
    """The profile named, else the environment's, else the settings' or the default."""
    settings = request.app[NOTIFIER].settings
    defaults = request.app[ENVIRONMENTS].get(environment) if environment else None
    return asked or (defaults.profile if defaults else None) or settings.profile or DEFAULT_PROFILE


async def get_backtest(request: web.Request) -> web.Response:
    """``GET /api/v1/services/{service}/backtest?since=30d&until=now&environment=&profile=``."""
    query = validated(BacktestQuery, dict(request.query))
    service = request.match_info["service"]
    if not (len(service) <= MAX_NAME and service.isprintable()):
        raise invalid("service", f"at most {MAX_NAME} printable characters")
    settings = request.app[NOTIFIER].settings
    environment = query.environment or settings.environment
    name = _profile(request, query.profile, environment)
    source = request.app[SOURCE]
    if not isinstance(source, PrometheusSource):
        raise Problem(501, "Not implemented", "backtests read Prometheus; this monitor has another source")
    profile = offered_profile(request.app, name)
    span = query.span(datetime.now(UTC))

    run = request.app[BACKTESTS].run

    async def own_loop(stop: threading.Event) -> Backtest:
        twin = source.twin()
        try:
            result: Backtest = await run(
                twin, service, environment, span.start, span.end, profile, settings, should_stop=stop.is_set
            )
            return result
        finally:
            await twin.close()

    async def compute(stop: threading.Event) -> Backtest:
        # In a thread with its own event loop: replaying hundreds of looks is CPU work that would
        # otherwise hold this loop, and with it every long-poll and health check, for its duration.
        # The thread cannot be cancelled: ``stop`` ends it early.
        return await asyncio.to_thread(asyncio.run, own_loop(stop))

    key: Key = (service, environment, name, query.since, query.until)
    try:
        document = await request.app[BACKTESTS].document(key, compute)
    except (InputError, ConfigError) as exc:
        raise Problem(400, "Invalid request", redact_text(str(exc))) from None
    except BacktestStopped:
        raise Problem(503, "Service unavailable", "the monitor is shutting down; retry shortly") from None
    except SourceError as exc:
        raise Problem(502, "Prometheus unavailable", f"{redact_text(str(exc))}; retry shortly") from None
    return web.Response(text=json.dumps(document), content_type="application/json")


def add_backtest_route(app: web.Application) -> None:
    """The route and its state on ``app`` (before it starts; a test may replace ``app[BACKTESTS]``)."""
    app[BACKTESTS] = Backtests()
    app.router.add_get(ROUTE, get_backtest)
    app.on_shutdown.append(_stop_backtests)


async def _stop_backtests(app: web.Application) -> None:
    """Shutting down: running backtests stop at their next look instead of holding the exit."""
    app[BACKTESTS].stop_all()
