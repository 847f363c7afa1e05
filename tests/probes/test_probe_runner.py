"""The probe runner against a real local HTTP server: answers, assertions, bounds and error kinds."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from probe_server import Target

from monitor.probes.judge import judge_attempts
from monitor.probes.result import ErrorKind
from monitor.probes.runner import BODY_HEAD_BYTES, ProbeRunner
from monitor.probes.spec import ProbeSpec


@pytest.fixture
async def runner() -> AsyncIterator[ProbeRunner]:
    async with aiohttp.ClientSession() as session:
        yield ProbeRunner(session, concurrency=2)


def _spec(**fields: object) -> ProbeSpec:
    return ProbeSpec(**{"name": "smoke", "url": "http://127.0.0.1/", "timeout_s": 2.0, **fields})  # type: ignore[arg-type]


async def test_a_healthy_answer_passes_every_assertion(target: Target, runner: ProbeRunner) -> None:
    spec = _spec(
        body_contains='"ok"',
        json_equals=(("status", "ok"), ("items.0.id", 7), ("ready", True)),
        json_exists=("version",),
        max_latency_s=1.5,
    )
    result = await runner.attempt(spec, target.url("/ok"))
    assert result.ok, result
    assert result.status == 200 and result.latency_s is not None and 0 < result.latency_s < 1.5
    assert result.failed is None and result.error is None


async def test_the_url_template_renders_the_deployment() -> None:
    spec = _spec(url="https://{service}.{environment}.example/health?v={version}")
    assert spec.render("cart", "1.2", "staging") == "https://cart.staging.example/health?v=1.2"


async def test_a_wrong_status_fails_with_status_and_body_head(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(expected_status=(200, 204)), target.url("/status/503"))
    assert not result.ok and result.status == 503
    assert result.failed == "status 503, expected 200 or 204"
    assert result.body_head == "boom: database unavailable"


async def test_a_listed_status_passes(target: Target, runner: ProbeRunner) -> None:
    assert (await runner.attempt(_spec(expected_status=(404,)), target.url("/status/404"))).ok


@pytest.mark.parametrize(
    ("fields", "failed"),
    [
        ({"body_contains": "healthy"}, "body does not contain 'healthy'"),
        ({"json_equals": (("status", "degraded"),)}, "JSON path 'status' is 'ok', expected 'degraded'"),
        ({"json_equals": (("items.0.id", 8),)}, "JSON path 'items.0.id' is 7, expected 8"),
        ({"json_equals": (("ready", 1),)}, "JSON path 'ready' is True, expected 1"),
        ({"json_exists": ("items.1.id",)}, "JSON path 'items.1.id' does not exist"),
        ({"json_exists": ("status.code",)}, "JSON path 'status.code' does not exist"),
    ],
)
async def test_a_wrong_body_names_the_assertion(
    target: Target, runner: ProbeRunner, fields: dict[str, object], failed: str
) -> None:
    result = await runner.attempt(_spec(**fields), target.url("/ok"))
    assert not result.ok and result.status == 200
    assert result.failed == failed


async def test_a_body_that_is_not_json_fails_a_json_assertion(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(
        _spec(json_exists=("status",), expected_status=(500,)), target.url("/status/500")
    )
    assert result.failed == "body is not JSON"


async def test_a_latency_bound_fails_a_slow_enough_answer(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(max_latency_s=1e-9), target.url("/ok"))
    assert not result.ok and result.failed is not None and result.failed.startswith("latency ")


async def test_an_answer_beyond_the_timeout_is_a_timeout(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(timeout_s=0.2), target.url("/slow"))
    assert not result.ok and result.error is ErrorKind.TIMEOUT and result.status is None
    assert result.detail == "no answer within 0.2 s"
    assert result.latency_s is not None and 0.2 <= result.latency_s < 1.5


async def test_a_header_secret_is_sent_but_never_in_the_result(target: Target, runner: ProbeRunner) -> None:
    spec = _spec(headers=(("Authorization", "Bearer s3cr3t-token-value"),), body_contains="you sent Bearer ")
    result = await runner.attempt(spec, target.url("/echo"))
    assert result.ok  # the server saw the header
    assert "s3cr3t" not in repr(result) and "s3cr3t" not in repr(spec)
    assert result.body_head == "you sent ***"


async def test_a_token_the_answer_echoes_is_masked_in_its_body_head(
    target: Target, runner: ProbeRunner
) -> None:
    """The assertions read the whole answer; the evidence shows it with the token masked."""
    result = await runner.attempt(_spec(json_equals=(("status", "ok"),)), target.url("/session"))
    assert result.ok
    assert "live-abc123" not in result.body_head
    assert result.body_head == '{"status": "ok", "session_token": "***"}'


async def test_a_redirect_to_another_host_is_refused(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(), target.url("/away"))
    assert not result.ok and result.status == 302 and result.error is ErrorKind.REDIRECT_REFUSED
    assert "'localhost'" in result.detail


async def test_a_redirect_to_an_allowed_host_is_followed(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(redirect_hosts=("localhost",)), target.url("/away"))
    assert result.ok and result.status == 200


async def test_only_the_probes_hosts_are_requested(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(), target.url("/flaky", host="localhost"))
    assert result.error is ErrorKind.HOST_NOT_ALLOWED and result.status is None
    target.statuses.append(500)
    assert (
        await runner.attempt(_spec(hosts=("localhost",)), target.url("/flaky", host="localhost"))
    ).status == 500


async def test_a_closed_port_is_connection_refused(runner: ProbeRunner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens on it
    result = await runner.attempt(_spec(), f"http://127.0.0.1:{port}/health")
    assert result.error is ErrorKind.CONNECTION_REFUSED and not result.ok
    assert result.detail == f"connection refused (127.0.0.1:{port})"


async def test_an_unresolvable_host_is_a_dns_error(runner: ProbeRunner) -> None:
    result = await runner.attempt(
        _spec(url="http://no-such-service.invalid/"), "http://no-such-service.invalid/"
    )
    assert result.error is ErrorKind.DNS and not result.ok
    assert result.detail == "DNS: name not resolved (no-such-service.invalid)"


async def test_the_body_head_is_cut(target: Target, runner: ProbeRunner) -> None:
    result = await runner.attempt(_spec(), target.url("/ok"))
    assert len(result.body_head.encode()) <= BODY_HEAD_BYTES


async def test_concurrency_is_capped(target: Target) -> None:
    async with aiohttp.ClientSession() as session:
        capped = ProbeRunner(session, concurrency=1)
        slow = asyncio.create_task(capped.attempt(_spec(timeout_s=0.3), target.url("/slow")))
        await asyncio.sleep(0)  # let the slow attempt take the only slot
        quick = await capped.attempt(_spec(), target.url("/ok"))
        assert slow.done()  # the quick attempt waited for the slot: the slow one had ended first
        assert (await slow).error is ErrorKind.TIMEOUT and quick.ok


async def test_a_series_fails_after_n_in_a_row_with_evidence(target: Target, runner: ProbeRunner) -> None:
    target.statuses.extend([500, 200, 502, 503, 504, 200])
    spec = _spec(count=6, interval_s=5.0, fail_after=3)
    waited: list[float] = []

    async def no_wait(seconds: float) -> None:
        waited.append(seconds)

    attempts = [a async for a in runner.series(spec, target.url("/flaky"), sleep=no_wait)]
    assert [a.status for a in attempts] == [500, 200, 502, 503, 504, 200]
    assert waited == [5.0] * 5
    outcome = judge_attempts(attempts, spec.fail_after)
    assert outcome.failed and [e.status for e in outcome.evidence] == [502, 503, 504]
    assert [e.body_head for e in outcome.evidence] == ["answer 502", "answer 503", "answer 504"]
    assert not judge_attempts(attempts, 4).failed
