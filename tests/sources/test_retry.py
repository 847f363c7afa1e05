"""The one retry policy (``monitor.retry``) and the HTTP clients that use it, against a local server
that fails on command: how many attempts each failure gets, and what the final error carries."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from grafana_client.client import GrafanaException

from monitor.commands import gate
from monitor.errors import BackendUnavailable, QueryError
from monitor.grafana.client import Grafana, GrafanaError
from monitor.models import Window
from monitor.retry import (
    WRITE_CONFLICTS,
    Retry,
    RetryPolicy,
    retry_after_s,
    retry_async,
    retry_sync,
    retryable_status,
)
from monitor.sources.credentials import Endpoint
from monitor.sources.httpjson import get_json, session_for
from monitor.sources.prometheus import PrometheusSource

SUCCESS = {"status": "success", "data": {"resultType": "vector", "result": []}}


@dataclass
class Script:
    """Answers the scripted failures in order, then ``success``; counts every request."""

    failures: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)  # status, body, headers
    success: Any = field(default_factory=lambda: SUCCESS)
    requests: int = 0

    def fail(self, status: int, times: int = 1, body: Any = None, **headers: str) -> Script:
        self.failures += [(status, body, headers)] * times
        return self

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.failures:
            status, body, headers = self.failures.pop(0)
            if body is None:
                return web.Response(status=status, text="<html>busy</html>", headers=headers)
            return web.json_response(body, status=status, headers=headers)
        return web.json_response(self.success)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    test_server = TestServer(app)
    await test_server.start_server()
    yield script, str(test_server.make_url("")).rstrip("/")
    await test_server.close()


class Waits(list[float]):
    """The waits a policy asked for, instead of sleeping them."""

    async def sleep(self, wait_s: float) -> None:
        self.append(wait_s)


def test_which_statuses_are_retried() -> None:
    assert all(retryable_status(s) for s in (408, 429, 499, 500, 502, 503, 504, 599))
    assert not any(retryable_status(s) for s in (200, 400, 401, 403, 404, 409, 412, 422))


def test_writers_add_their_transient_statuses_to_the_shared_ones() -> None:
    """Deliveries and rollbacks retry a conflict or a lock too; the shared statuses stay retried."""
    assert all(retryable_status(s, WRITE_CONFLICTS) for s in (409, 423, 425, 429, 503))
    assert not any(retryable_status(s, WRITE_CONFLICTS) for s in (400, 404, 412, 422))


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_s("7", now) == 7.0
    assert retry_after_s("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert retry_after_s(None, now) is None and retry_after_s("soon", now) is None


async def test_the_policy_counts_attempts_and_reraises_the_last_retry() -> None:
    calls: list[int] = []
    waits = Waits()

    async def attempt() -> str:
        calls.append(1)
        raise Retry(f"down {len(calls)}")

    policy = RetryPolicy(attempts=4, backoff_s=0.5, max_backoff_s=1.5)
    with pytest.raises(Retry, match="down 4"):
        await retry_async(policy, attempt, sleep=waits.sleep)
    assert len(calls) == 4 and len(waits) == 3
    # Exponential from 0.5 s with up to 0.5 s of jitter, capped at 1.5 s.
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 1.5 and waits[2] == 1.5


async def test_other_errors_are_not_retried_and_retry_after_is_honoured() -> None:
    calls: list[int] = []
    waits = Waits()

    async def attempt() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Retry("429", status=429, retry_after_s=4.0)
        if len(calls) == 2:
            raise Retry("429", status=429, retry_after_s=600.0)  # capped
        raise ValueError("a bug, not a flake")

    policy = RetryPolicy(attempts=5, backoff_s=0.1, max_retry_after_s=20.0)
    with pytest.raises(ValueError, match="a bug"):
        await retry_async(policy, attempt, sleep=waits.sleep)
    assert len(calls) == 3 and waits == [4.0, 20.0]


def test_a_time_budget_stops_before_the_wait_that_would_pass_it() -> None:
    calls: list[int] = []
    announced: list[float] = []

    def attempt() -> None:
        calls.append(1)
        raise Retry("down")

    policy = RetryPolicy(attempts=None, backoff_s=0.1, max_backoff_s=0.1, budget_s=0.35)
    started = time.monotonic()
    with pytest.raises(Retry):
        retry_sync(policy, attempt, on_retry=lambda _, wait_s: announced.append(wait_s))
    assert 3 <= len(calls) <= 4 and len(announced) == len(calls) - 1
    assert time.monotonic() - started < 0.35


async def test_prometheus_retries_5xx_up_to_max_attempts(server: tuple[Script, str]) -> None:
    script, url = server
    script.fail(503, times=2)
    source = PrometheusSource(url, max_attempts=3, backoff_s=0.01)
    try:
        assert await source.instant("up", datetime.now(UTC)) == []
        assert script.requests == 3
        script.requests = 0
        script.fail(502, times=3)
        with pytest.raises(BackendUnavailable, match="after 3 attempts") as caught:
            await source.instant("up", datetime.now(UTC))
        assert script.requests == 3
        assert caught.value.status == 502 and caught.value.url == url
    finally:
        await source.close()


async def test_prometheus_does_not_retry_a_rejected_query(server: tuple[Script, str]) -> None:
    script, url = server
    script.fail(400, body={"status": "error", "errorType": "bad_data", "error": "parse error at char 3"})
    source = PrometheusSource(url, max_attempts=3, backoff_s=0.01)
    try:
        with pytest.raises(QueryError) as caught:
            await source.instant("up{", datetime.now(UTC))
    finally:
        await source.close()
    assert script.requests == 1
    assert caught.value.status == 400 and caught.value.body == "parse error at char 3"


async def test_prometheus_waits_as_long_as_a_429_asks(server: tuple[Script, str]) -> None:
    script, url = server
    slow_down = {"status": "error", "errorType": "unavailable", "error": "slow down"}
    script.fail(429, body=slow_down, **{"Retry-After": "1"})
    source = PrometheusSource(url, max_attempts=2, backoff_s=0.01)
    started = time.monotonic()
    try:
        await source.instant("up", datetime.now(UTC))
    finally:
        await source.close()
    assert script.requests == 2 and time.monotonic() - started >= 1.0


async def test_label_values_follow_the_same_policy(server: tuple[Script, str]) -> None:
    script, url = server
    script.success = {"status": "success", "data": ["v1", "v2"]}
    script.fail(503, times=2)
    source = PrometheusSource(url, max_attempts=3, backoff_s=0.01)
    now = datetime.now(UTC)
    window = Window(now - timedelta(hours=1), now)
    try:
        assert await source.label_values("version", '{job="aa"}', window) == ["v1", "v2"]
        assert script.requests == 3
        script.requests = 0
        script.fail(500, times=3)
        with pytest.raises(BackendUnavailable, match="500"):
            await source.label_values("version", '{job="aa"}', window)
        assert script.requests == 3
    finally:
        await source.close()


async def test_pulled_sources_retry_once_and_carry_the_status(server: tuple[Script, str]) -> None:
    script, url = server
    endpoint = Endpoint.parse(url)
    fast = RetryPolicy(attempts=2, backoff_s=0.01)
    async with session_for(endpoint, aiohttp.ClientTimeout(total=5)) as session:
        script.fail(503)
        assert await get_json(session, endpoint, "/loki", {}, "Loki", fast) == SUCCESS
        assert script.requests == 2
        script.requests = 0
        script.fail(503, times=2)
        with pytest.raises(BackendUnavailable) as unavailable:
            await get_json(session, endpoint, "/loki", {}, "Loki", fast)
        assert script.requests == 2 and unavailable.value.status == 503
        script.requests = 0
        script.fail(404, body={"message": "no such route"})
        with pytest.raises(QueryError) as rejected:
            await get_json(session, endpoint, "/api/v3/traces", {}, "Jaeger", fast)
        assert script.requests == 1
        assert rejected.value.status == 404 and "no such route" in rejected.value.body
        assert rejected.value.url == f"{url}/api/v3/traces"


@dataclass(frozen=True)
class _GrafanaSpec:
    """What :class:`Grafana` reads of the ``grafana:`` settings."""

    url: str = "http://grafana:3000"
    token: str = "t"
    org_id: int | None = None


def test_grafana_retries_5xx_but_not_a_refusal() -> None:
    grafana = Grafana(_GrafanaSpec(), attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]
    answers: list[Exception] = [GrafanaException(503, "busy", "busy"), OSError("refused")]

    def method() -> str:
        if answers:
            raise answers.pop(0)
        return "ok"

    assert grafana.call("GET x", method) == "ok" and not answers
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise GrafanaException(403, {"message": "permission denied"}, "forbidden")

    with pytest.raises(GrafanaError) as caught:
        grafana.call("create folder", refused)
    assert len(calls) == 1
    assert (caught.value.status, caught.value.body, caught.value.url) == (
        403,
        "permission denied",
        grafana.url,
    )

    def down() -> None:
        calls.append(1)
        raise GrafanaException(502, "bad gateway", "bad gateway")

    calls.clear()
    with pytest.raises(GrafanaError, match="after 3 attempts") as exhausted:
        grafana.call("GET y", down)
    assert len(calls) == 3 and exhausted.value.status == 502


async def test_the_gate_rides_out_a_restart_and_stops_at_its_deadline(
    server: tuple[Script, str], capsys: pytest.CaptureFixture[str]
) -> None:
    script, url = server
    script.success = {"verdict": "pass"}
    script.fail(503)
    async with aiohttp.ClientSession() as session:
        answer = await gate._retrying(time.monotonic() + 30, lambda: gate._call(session, "GET", url))
        assert answer == {"verdict": "pass"} and script.requests == 2
        assert "monitor unreachable (HTTP 503); retrying in" in capsys.readouterr().out
        script.requests = 0
        script.fail(503, times=10)
        with pytest.raises(gate.MonitorError, match=r"before --timeout \(HTTP 503\)"):
            await gate._retrying(time.monotonic() + 0.5, lambda: gate._call(session, "GET", url))
        assert script.requests == 1  # the first wait (1 s or more) would pass the deadline
