"""Probes run once for one analysis: both versions' series side by side, every attempt kept for every look."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from probe_server import Target

from monitor.probes.result import ProbeResult
from monitor.probes.runner import ProbeRunner
from monitor.probes.session import Progress, RunAttempts, probe_session, run_probes
from monitor.probes.spec import ProbeSpec
from monitor.probes.targets import BASELINE, CANARY, ProbeTargets


@pytest.fixture
async def runner() -> AsyncIterator[ProbeRunner]:
    async with aiohttp.ClientSession() as session:
        yield ProbeRunner(session, concurrency=4)


async def _no_wait(_: float) -> None:
    return None


def _spec(name: str, **fields: object) -> ProbeSpec:
    return ProbeSpec(**{"name": name, "url": "http://127.0.0.1/", "timeout_s": 2.0, **fields})  # type: ignore[arg-type]


async def test_each_probe_runs_its_series_against_each_version(target: Target, runner: ProbeRunner) -> None:
    target.statuses = [500, 500]  # /flaky: the first two answers of the run fail
    health, flaky = _spec("health", count=3), _spec("flaky", count=2, fail_after=1)
    heard: list[Progress] = []
    attempts = await run_probes(
        runner,
        [
            (health, ProbeTargets(target.url("/ok"), target.url("/status/503"))),
            (flaky, ProbeTargets(target.url("/flaky"))),
        ],
        on_attempt=heard.append,
        sleep=_no_wait,
    )
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)  # a past window's look still sees them all
    canary = await attempts.attempts("health", CANARY, long_ago)
    baseline = await attempts.attempts("health", BASELINE, long_ago)
    assert [a.status for a in canary] == [200, 200, 200] and all(a.ok for a in canary)
    assert [a.status for a in baseline] == [503, 503, 503] and not any(a.ok for a in baseline)
    assert {a.role for a in baseline} == {BASELINE}
    flaky_attempts = await attempts.attempts("flaky", CANARY, long_ago)
    assert [a.status for a in flaky_attempts] == [500, 500]
    assert await attempts.attempts("flaky", BASELINE, long_ago) == ()
    # Oldest first, and the progress counts each series on its own.
    assert [a.at for a in canary] == sorted(a.at for a in canary if a.at is not None)
    by_series: dict[tuple[str, str], list[int]] = {}
    for progress in heard:
        by_series.setdefault((progress.result.probe, progress.result.role), []).append(progress.index)
        assert progress.count == (3 if progress.result.probe == "health" else 2)
    assert by_series == {
        ("health", CANARY): [1, 2, 3],
        ("health", BASELINE): [1, 2, 3],
        ("flaky", CANARY): [1, 2],
    }


async def test_the_series_wait_their_interval(target: Target, runner: ProbeRunner) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    await run_probes(
        runner, [(_spec("health", count=3, interval_s=7.5), ProbeTargets(target.url("/ok")))], sleep=sleep
    )
    assert waits == [7.5, 7.5]  # between attempts, not before the first


async def test_an_empty_run_has_no_attempts() -> None:
    assert await RunAttempts().attempts("health", CANARY, datetime.now(UTC)) == ()


async def test_the_probe_session_never_sends_a_cookie_an_earlier_answer_set(target: Target) -> None:
    # localhost, not an IP address: aiohttp's jar keeps no cookie of an IP host in any case.
    probe = _spec("cookie", url=target.url("/cookie", host="localhost"), hosts=("localhost",))
    async with probe_session() as session:
        runner = ProbeRunner(session)
        first = await runner.attempt(probe, probe.url)
        second = await runner.attempt(probe, probe.url)
    assert first.ok and second.ok
    assert (first.body_head, second.body_head) == ("cookie sent: none", "cookie sent: none")
    # The test can fail: a plain session replays the cookie.
    async with aiohttp.ClientSession() as plain:
        runner = ProbeRunner(plain)
        await runner.attempt(probe, probe.url)
        replayed = await runner.attempt(probe, probe.url)
    # (its value is masked in the body head like any session a server echoes)
    assert replayed.body_head == "cookie sent: session=***"


async def test_a_run_s_attempts_are_seen_whole_by_a_look_over_a_past_window() -> None:
    # The documented exception to "finished before until": the run is made after the window.
    attempts = RunAttempts()
    made = ProbeResult("health", "http://127.0.0.1/ok", True, status=200, at=datetime.now(UTC), role=CANARY)
    attempts.add(made)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await attempts.attempts("health", CANARY, an_hour_ago) == (made,)
