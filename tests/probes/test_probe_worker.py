"""The daemon's probe worker against a real local HTTP server that fails on command, with a real
store (SQLite): attempts are made when due, stored, read back for a look, resumed after a restart
and retaken from a replica that died; header secrets come from the config, never the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from probe_server import Target
from worker_fixtures import Clock

from monitor.engine.probing import RETAKE_MARGIN_S, ProbeWorker, StoredProbeAttempts, at_address, runnable
from monitor.models import DeploymentSpec, ProbeSpec, Strategy
from monitor.own_metrics import EngineMetrics
from monitor.probes.result import ErrorKind
from monitor.probes.runner import ProbeRunner
from monitor.probes.spec import url_host
from monitor.store import Store

FAR = datetime(2100, 1, 1, tzinfo=UTC)  # "every attempt so far"


@pytest.fixture
async def runner() -> AsyncIterator[ProbeRunner]:
    async with aiohttp.ClientSession() as session:
        yield ProbeRunner(session, concurrency=4)


def _deployment(clock: Clock, *probes: ProbeSpec) -> DeploymentSpec:
    return DeploymentSpec(
        service="checkout", environment="production", version="v2", baseline_version="v1",
        strategy=Strategy.CANARY, started_at=clock.now, profile="otel-http", warmup_s=60, interval_s=60,
        min_duration_s=300, max_duration_s=1800, probes=probes,
    )  # fmt: skip


async def _rounds(worker: ProbeWorker, clock: Clock, rounds: int, step_s: float = 10.0) -> list[int]:
    """``rounds`` polls, each letting its attempts finish, the clock moved ``step_s`` after each."""
    started = []
    for _ in range(rounds):
        started.append(await worker.run_once())
        await worker.drain(10.0)
        clock.advance(step_s)
    return started


async def test_attempts_are_made_when_due_and_read_back_for_a_look(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    target.statuses = [500, 500, 200]  # /flaky: two failures, then answers
    probe = ProbeSpec("flaky", target.url("/flaky"), count=3, fail_after=3, interval_s=10.0, timeout_s=2.0)
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    metrics = EngineMetrics()
    worker = ProbeWorker(store, (), runner, clock, metrics=metrics)
    # One attempt per interval, then none: count is 3.
    assert await _rounds(worker, clock, 5) == [1, 1, 1, 0, 0]
    attempts = await StoredProbeAttempts(store, deployment.id).attempts("flaky", "canary", FAR)
    assert [a.status for a in attempts] == [500, 500, 200]
    assert [a.ok for a in attempts] == [False, False, True]
    assert attempts[0].failed == "status 500, expected 200" and attempts[0].body_head == "answer 500"
    start = deployment.spec.started_at
    assert [a.at for a in attempts] == [start + timedelta(seconds=s) for s in (0, 10, 20)]
    assert all(a.role == "canary" and a.url == target.url("/flaky") for a in attempts)
    # A look reads only the attempts begun before its time.
    before = deployment.spec.started_at + timedelta(seconds=15)
    assert len(await StoredProbeAttempts(store, deployment.id).attempts("flaky", "canary", before)) == 2
    assert metrics.probe_attempts.labels("failed")._value.get() == 2
    assert metrics.probe_attempts.labels("ok")._value.get() == 1


async def test_a_slow_answer_and_a_wrong_body_are_stored_with_their_reason(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    slow = ProbeSpec("slow", target.url("/slow"), count=1, fail_after=1, timeout_s=0.2)
    body = ProbeSpec("body", target.url("/ok"), count=1, fail_after=1, body_contains="maintenance")
    deployment, _ = await store.register(_deployment(clock, slow, body), actor="test")
    await _rounds(ProbeWorker(store, (), runner, clock), clock, 1)
    stored = StoredProbeAttempts(store, deployment.id)
    [timed_out] = await stored.attempts("slow", "canary", FAR)
    assert timed_out.error is ErrorKind.TIMEOUT and timed_out.detail == "no answer within 0.2 s"
    [wrong] = await stored.attempts("body", "canary", FAR)
    assert not wrong.ok and wrong.status == 200 and wrong.failed == "body does not contain 'maintenance'"


async def test_a_probe_whose_old_version_has_its_own_address_is_made_against_both(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    probe = ProbeSpec("ok", target.url("/ok?v={version}"), count=2, fail_after=2, interval_s=5.0)
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    assert await _rounds(ProbeWorker(store, (), runner, clock), clock, 3, step_s=5.0) == [2, 2, 0]
    stored = StoredProbeAttempts(store, deployment.id)
    canary = await stored.attempts("ok", "canary", FAR)
    baseline = await stored.attempts("ok", "baseline", FAR)
    assert [a.url for a in canary] == [target.url("/ok?v=v2")] * 2
    assert [a.url for a in baseline] == [target.url("/ok?v=v1")] * 2
    assert all(a.ok for a in [*canary, *baseline])


async def test_a_new_worker_resumes_at_the_next_attempt_and_retakes_an_abandoned_claim(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    probe = ProbeSpec("ok", target.url("/ok"), count=4, fail_after=2, interval_s=10.0, timeout_s=1.0)
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    assert await _rounds(ProbeWorker(store, (), runner, clock), clock, 1) == [1]
    # A replica claims attempt 2 (seq 1) and dies before finishing it.
    dead = await store.claim_probe_attempt(deployment.id, "ok", "canary", 1, target.url("/ok"))
    assert dead is not None
    restarted = ProbeWorker(store, (), runner, clock)
    # Still within its timeout: nobody repeats it, nothing moves on.
    assert await _rounds(restarted, clock, 1, step_s=probe.timeout_s + RETAKE_MARGIN_S + 1) == [0]
    # Stale now: retaken once, then the next ones as they fall due.
    assert await _rounds(restarted, clock, 4) == [1, 1, 1, 0]
    claims = await store.probe_claims(deployment.id)
    assert [(c.seq, c.finished) for c in claims] == [(0, True), (1, True), (2, True), (3, True)]
    attempts = await StoredProbeAttempts(store, deployment.id).attempts("ok", "canary", FAR)
    assert len(attempts) == 4 and all(a.ok for a in attempts)


async def test_two_workers_never_make_the_same_attempt(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    probe = ProbeSpec("ok", target.url("/ok"), count=3, fail_after=3, interval_s=10.0)
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    one, two = ProbeWorker(store, (), runner, clock), ProbeWorker(store, (), runner, clock)
    made = []
    for _ in range(4):
        made += [await one.run_once(), await two.run_once()]
        await one.drain(5.0)
        await two.drain(5.0)
        clock.advance(10)
    assert sum(made) == 3
    assert len(await StoredProbeAttempts(store, deployment.id).attempts("ok", "canary", FAR)) == 3


async def test_the_configs_header_is_sent_while_the_config_still_defines_the_probe(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    secret = "Bearer probe-secret-0123456789"
    configured = ProbeSpec(
        "auth", target.url("/echo"), headers=(("Authorization", secret),), count=1, fail_after=1,
        body_contains="you sent Bearer",
    )  # fmt: skip
    deployment, _ = await store.register(_deployment(clock, configured), actor="test")
    await _rounds(ProbeWorker(store, (configured,), runner, clock), clock, 1)
    [sent] = await StoredProbeAttempts(store, deployment.id).attempts("auth", "canary", FAR)
    # The server echoed the header: sent, and masked in what is kept.
    assert sent.ok and sent.body_head == "you sent ***"

    # The config's probe is gone (or now goes elsewhere): no secret is sent, and the attempt says why.
    again, _ = await store.register(replace(_deployment(clock, configured), version="v3"), actor="test")
    moved = replace(configured, url=target.url("/echo?elsewhere=1"))
    await _rounds(ProbeWorker(store, (moved,), runner, clock), clock, 1)
    [bare] = await StoredProbeAttempts(store, again.id).attempts("auth", "canary", FAR)
    assert not bare.ok and bare.body_head == "you sent "
    assert bare.failed == (
        "body does not contain 'you sent Bearer' (sent without its headers: the config's probe auth "
        "now requests another URL or host)"
    )


async def test_an_inline_probe_never_gets_the_configs_headers_of_the_same_name(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    secret = (("Authorization", "Bearer abcdefgh12345678"),)
    configured = ProbeSpec("auth", target.url("/echo"), headers=secret)
    inline = ProbeSpec("auth", target.url("/echo"), count=1, fail_after=1)  # registered without headers
    deployment, _ = await store.register(_deployment(clock, inline), actor="test")
    await _rounds(ProbeWorker(store, (configured,), runner, clock), clock, 1)
    [attempt] = await StoredProbeAttempts(store, deployment.id).attempts("auth", "canary", FAR)
    assert attempt.body_head == "you sent "


async def test_a_final_deployment_gets_no_more_attempts(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    probe = ProbeSpec("ok", target.url("/ok"), count=5, fail_after=2, interval_s=10.0)
    deployment, _ = await store.register(_deployment(clock, probe), actor="test")
    worker = ProbeWorker(store, (), runner, clock)
    assert await _rounds(worker, clock, 1) == [1]
    await store.cancel(deployment.id, actor="test", reason="rolled back")
    assert await _rounds(worker, clock, 2) == [0, 0]


async def test_a_preview_is_probed_for_the_new_version_and_gets_no_header_outside_the_probes_hosts(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    configured = ProbeSpec(
        "auth", target.url("/echo"), headers=(("Authorization", "Bearer preview-secret-42424242"),),
        count=1, fail_after=1, body_contains="you sent Bearer",
    )  # fmt: skip
    preview = f"http://localhost:{target.port}"  # green, before the switch
    spec = replace(_deployment(clock, configured), strategy=Strategy.BLUEGREEN, preview_url=preview)
    deployment, _ = await store.register(spec, actor="test")
    await _rounds(ProbeWorker(store, (configured,), runner, clock), clock, 1)
    stored = StoredProbeAttempts(store, deployment.id)
    [green] = await stored.attempts("auth", "canary", FAR)
    [blue] = await stored.attempts("auth", "baseline", FAR)
    assert green.url == f"{preview}/echo" and blue.url == target.url("/echo")
    assert blue.ok and blue.body_head == "you sent ***"  # the probe's own host: the header is sent
    assert not green.ok and green.body_head == "you sent "  # never to another host
    assert green.failed is not None and "the preview's host localhost is not one of the probe's hosts" in (
        green.failed
    )


async def test_a_deployment_whose_probe_cannot_be_run_does_not_stop_the_others(
    target: Target, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    broken = ProbeSpec("broken", target.url("/ok?team={team}"), count=1, fail_after=1)  # not renderable
    await store.register(_deployment(clock, broken), actor="test")
    fine = ProbeSpec("ok", target.url("/ok"), count=1, fail_after=1)
    other, _ = await store.register(replace(_deployment(clock, fine), service="cart"), actor="test")
    assert await _rounds(ProbeWorker(store, (), runner, clock), clock, 1) == [1]
    assert len(await StoredProbeAttempts(store, other.id).attempts("ok", "canary", FAR)) == 1


@pytest.fixture
async def other_port() -> AsyncIterator[int]:
    """A second echoing server on the same host, another port: another service, perhaps."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"you sent {request.headers.get('Authorization', '')}")

    app = web.Application()
    app.router.add_get("/echo", echo)
    server = web.AppRunner(app)
    await server.setup()
    await web.TCPSite(server, "127.0.0.1", 0).start()
    yield server.addresses[0][1]
    await server.cleanup()


async def test_a_preview_on_the_probes_host_but_another_port_gets_no_header(
    target: Target, other_port: int, store: Store, runner: ProbeRunner, clock: Clock
) -> None:
    configured = ProbeSpec(
        "auth", target.url("/echo"), headers=(("Authorization", "Bearer port-secret-31313131"),),
        count=1, fail_after=1, body_contains="you sent Bearer",
    )  # fmt: skip
    preview = f"http://127.0.0.1:{other_port}"  # the probe's host, not its origin
    spec = replace(_deployment(clock, configured), strategy=Strategy.BLUEGREEN, preview_url=preview)
    deployment, _ = await store.register(spec, actor="test")
    await _rounds(ProbeWorker(store, (configured,), runner, clock), clock, 1)
    [green] = await StoredProbeAttempts(store, deployment.id).attempts("auth", "canary", FAR)
    assert green.url == f"{preview}/echo" and not green.ok and green.body_head == "you sent "
    origin = f"http://127.0.0.1:{other_port} is not the probe's own (http, port {target.port})"
    assert f"sent without its headers: the preview's origin {origin}" in (green.failed or "")


@pytest.mark.parametrize(
    ("preview", "headers_sent"),
    [
        ("https://checkout.example.com", True),  # the probe's own origin
        ("https://checkout.example.com:443", True),
        ("http://checkout.example.com", False),  # a downgrade
        ("https://checkout.example.com:8443", False),
        ("https://green.example.com", False),  # not one of its hosts
    ],
)
def test_the_configs_headers_go_to_a_preview_only_on_the_probes_own_origin(
    preview: str, headers_sent: bool
) -> None:
    probe = ProbeSpec("auth", "https://checkout.example.com/health", headers=(("Authorization", "x-secret"),))
    url = f"{preview}/health"
    at = at_address(runnable(probe, False, {}), url, preview, probe.url)
    assert bool(at.probe.headers) is headers_sent
    assert url_host(url) in at.probe.allowed_hosts()  # the preview is requested either way
    assert (at.without_headers is None) is headers_sent
