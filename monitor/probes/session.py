"""Probes run once, now, for one analysis (``monitor analyze --probe``): their series and attempts.

:func:`run_probes` runs every probe's series against each version's address at once (the series
of one probe against both versions side by side, so their answer times are compared under the same
conditions), and keeps the attempts in a :class:`RunAttempts`, the
:class:`~monitor.checks.kind.ProbeAttempts` the analysis's looks read.

The probes are live: they answer for the versions as they run *now*. A look over a past window
still sees every attempt (``until`` is not applied): the attempts were made after the window, but
they are the only ones there are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from monitor.models import ProbeSpec
from monitor.probes.result import ProbeResult
from monitor.probes.runner import ProbeRunner
from monitor.probes.targets import ProbeTargets

__all__ = ["Progress", "RunAttempts", "probe_session", "run_probes"]


def probe_session() -> aiohttp.ClientSession:
    """The HTTP session probe attempts share (the daemon's worker, ``analyze --probe``): it keeps no
    cookie, so what one deployment's (or version's) answer sets is never sent with the next
    attempt, which must be judged on its own. Each attempt brings its probe's own timeout."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


class RunAttempts:
    """The attempts of one run, by probe and role; every look sees all of them.

    This is the one :class:`~monitor.checks.kind.ProbeAttempts` that does not apply ``until``: the
    run is made now, once, for an analysis whose window may be past, so its live attempts are the
    only ones any look could see (the protocol states the exception; ``analyze`` warns when the
    window ended long ago).
    """

    def __init__(self) -> None:
        self._attempts: dict[tuple[str, str], list[ProbeResult]] = {}

    def add(self, result: ProbeResult) -> None:
        """Keep ``result`` (attempts of one probe and role are added oldest first)."""
        self._attempts.setdefault((result.probe, result.role), []).append(result)

    async def attempts(self, probe: str, role: str, until: datetime) -> Sequence[ProbeResult]:
        """Every attempt of ``probe`` against ``role``, oldest first, whatever ``until`` (see the
        class)."""
        return tuple(self._attempts.get((probe, role), ()))


@dataclass(frozen=True)
class Progress:
    """One attempt as it is made: the ``index``-th (1-based) of ``count``."""

    result: ProbeResult
    index: int
    count: int


async def run_probes(
    runner: ProbeRunner,
    plan: Sequence[tuple[ProbeSpec, ProbeTargets]],
    on_attempt: Callable[[Progress], None] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> RunAttempts:
    """Each probe's series against each of its targets, all concurrently (the runner caps the
    requests in flight); ``on_attempt`` hears of every attempt as it ends."""
    collected = RunAttempts()

    async def series(spec: ProbeSpec, role: str, url: str) -> None:
        index = 0
        async for result in runner.series(spec, url, sleep=sleep, role=role):
            index += 1
            collected.add(result)
            if on_attempt is not None:
                on_attempt(Progress(result, index, spec.count))

    async with asyncio.TaskGroup() as group:
        for spec, targets in plan:
            for role, url in targets.by_role().items():
                group.create_task(series(spec, role, url))
    return collected
