"""Current verdicts served from memory, kept current by one feed of changed deployments.

Pipelines read verdicts far more often than looks record them: hundreds of gates long-polling,
Argo Rollouts asking every interval. Sending each read to the database would tie the API's
latency to the database's (on SQLite, readers can wait on a checkpoint). So each API process
polls the store every ``poll_s`` for deployments updated since its last poll, drops what changed
from its cache and wakes the long-polls waiting on them; a read answers from memory while the
feed is current, and from the store otherwise. Changes this process commits itself invalidate
at once (read-your-writes for a cancel, and for an engine running inline).

* A cached verdict is at most one poll behind the store (plus the poll's own duration): the feed
  reads the changed documents itself, in one query per poll, so reads stay in memory.
* The feed looks back ``overlap_s`` each time: a commit that lands after a poll has read past its
  ``updated_at``, or a replica whose clock is a little behind, is still seen. Replicas' clocks
  must agree within that window, as their leases already require.
* While the store is unavailable, a read gets the last known verdict marked stale (``Age`` and
  ``Monitor-Stale`` headers) instead of a 503, so a database restart does not fail a waiting gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.api.documents import verdict_json
from monitor.errors import NotFoundError, StoreError
from monitor.models import Deployment
from monitor.store import Store, StoredVerdict

log = logging.getLogger(__name__)
DEFAULT_CAPACITY = 10_000
REFRESH_BATCH = 500  # deployments read again per poll, at most


@dataclass(frozen=True)
class CachedVerdict:
    """A verdict as last read from the store: its status, its JSON body, ``updated_at``, and when.

    Kept as bytes, not as a parsed document: a read sends them as they are, and thousands of
    cached documents as dicts would be objects for the garbage collector to walk on every pass.
    """

    verdict: str
    body: bytes
    updated_at: datetime
    read_at_s: float

    @property
    def final(self) -> bool:
        """Whether the verdict can no longer change."""
        return self.verdict != "running"

    def document(self) -> dict[str, Any]:
        """The verdict document, parsed."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def _cached(deployment: Deployment, stored: StoredVerdict | None, read_at_s: float) -> CachedVerdict:
    verdict, text = verdict_json(deployment, stored)
    return CachedVerdict(verdict, text.encode(), deployment.updated_at, read_at_s)


class VerdictCache:
    """An LRU map of deployment id to its current verdict document, with its change feed."""

    def __init__(
        self,
        store: Store,
        *,
        poll_s: float = 0.5,
        overlap_s: float = 30.0,
        max_age_s: float = 60.0,
        capacity: int = DEFAULT_CAPACITY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._poll_s, self._overlap = store, poll_s, timedelta(seconds=overlap_s)
        # Entries are re-read after max_age_s even without a change seen: the last line of
        # defence against a change the feed missed (a clock far behind).
        self._max_age_s, self._capacity, self._monotonic = max_age_s, capacity, monotonic
        self._entries: OrderedDict[str, CachedVerdict] = OrderedDict()
        self._waiters: dict[str, asyncio.Event] = {}
        self._since: datetime | None = None
        self._current_until_s = 0.0  # the feed vouches for the cache until then
        self.closing = False

    def invalidate(self, deployment_id: str) -> None:
        """Forget the cached verdict of ``deployment_id`` and wake whoever waits on it."""
        self._entries.pop(deployment_id, None)
        self._wake(deployment_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the store's changes until ``stop`` is set."""
        # This process's own writes (a cancel, an inline engine's look) are seen at once.
        self._store.on_change(self.invalidate)
        down = False
        while not stop.is_set():
            try:
                await self.poll()
            except StoreError as exc:
                if not down:
                    log.warning("verdict feed: %s; serving last known verdicts", exc)
                down = True
            else:
                if down:
                    log.info("verdict feed: the store is back")
                down = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_s)

    async def poll(self) -> None:
        """One look at the store's changes: drop and wake what changed."""
        started_s = self._monotonic()
        if self._since is None:
            # Nothing is cached yet: only changes from now on matter.
            self._since = datetime.now(UTC) - self._overlap
        changes = await self._store.changed_since(self._since)
        newest = self._since + self._overlap
        refresh: list[str] = []
        for deployment_id, updated_at in changes:
            entry = self._entries.get(deployment_id)
            if entry is not None and entry.updated_at != updated_at:
                refresh.append(deployment_id)
            elif entry is None:
                self._wake(deployment_id)
            newest = max(newest, updated_at)
        # Entries nearing their maximum age are read again here too, so that reads between
        # changes never wait on the database (on SQLite, a read can wait on a checkpoint).
        aging = [d for d, e in self._entries.items() if started_s - e.read_at_s > self._max_age_s / 2]
        refresh += aging[:REFRESH_BATCH]
        if refresh:
            await self._refresh(refresh, started_s)
        self._since = newest - self._overlap
        self._current_until_s = started_s + 3 * self._poll_s

    async def _refresh(self, deployment_ids: list[str], read_at_s: float) -> None:
        try:
            found = await self._store.current_many(deployment_ids)
        except StoreError:
            for deployment_id in deployment_ids:
                self.invalidate(deployment_id)
            raise
        fresh = {d.id: (d, stored) for d, stored in found}
        for deployment_id in deployment_ids:
            if deployment_id in fresh:
                self._entries[deployment_id] = _cached(*fresh[deployment_id], read_at_s)
                self._wake(deployment_id)
            else:
                self.invalidate(deployment_id)

    async def read(self, deployment_id: str) -> tuple[CachedVerdict, dict[str, str]]:
        """The verdict of ``deployment_id`` and extra response headers."""
        entry = self._entries.get(deployment_id)
        now_s = self._monotonic()
        if entry is not None and now_s < self._current_until_s and now_s - entry.read_at_s < self._max_age_s:
            self._entries.move_to_end(deployment_id)
            return entry, {}
        try:
            deployment, stored = await self._store.current(deployment_id)
        except NotFoundError:
            raise
        except StoreError as exc:
            if entry is None:
                raise
            reason = f"database unavailable ({exc}); last known verdict"
            return entry, {"Age": str(int(now_s - entry.read_at_s)), "Monitor-Stale": reason}
        entry = self._entries[deployment_id] = _cached(deployment, stored, now_s)
        self._entries.move_to_end(deployment_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return entry, {}

    def close(self) -> None:
        """The daemon is stopping: wake every long-poll so it answers now and the stop is quick."""
        self.closing = True
        for deployment_id in list(self._waiters):
            self._wake(deployment_id)

    async def changed(self, deployment_id: str, timeout_s: float) -> None:
        """Return when the feed sees ``deployment_id`` change, after ``timeout_s``, or at :meth:`close`."""
        if self.closing:
            return
        event = self._waiters.setdefault(deployment_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    def _wake(self, deployment_id: str) -> None:
        event = self._waiters.pop(deployment_id, None)
        if event is not None:
            event.set()
